//! One HTTP/1.1 exchange with pouchd: connect (unix or TCP), send, check the status and turn
//! error answers into [`ClientError::Api`].

use std::io;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

use crate::{BodyStream, ByteStream, Client, ClientError, Filters, Host};

type ReqBody = UnsyncBoxBody<Bytes, io::Error>;

/// What a request carries.
pub(crate) enum Body {
    Empty,
    Json(Vec<u8>),
    Stream {
        body: BodyStream,
        content_type: &'static str,
    },
}

impl Body {
    pub(crate) fn json<T: serde::Serialize>(value: &T) -> Body {
        // Serializing our own plain data types cannot fail.
        Body::Json(serde_json::to_vec(value).unwrap_or_default())
    }
}

/// Percent-encodes a name for use in a URL path, keeping `/`, `:` and `@` as the docker client
/// does (image names such as `127.0.0.1:5000/busybox` go into paths unchanged).
pub(crate) fn path_escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'/'
            | b':'
            | b'@'
            | b'+' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Builds `?k=v&...` from pairs (empty string when there are none).
pub(crate) fn query(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencoding::encode(k), urlencoding::encode(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

/// `?filters=<json>`, or an empty string when there are no filters.
pub(crate) fn filters_query(filters: &Filters) -> String {
    if filters.is_empty() {
        String::new()
    } else {
        query(&[("filters", filters.to_query())])
    }
}

/// Decodes a JSON answer; `what` names the call in the error.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ClientError> {
    serde_json::from_slice(bytes).map_err(|source| ClientError::Decode {
        what: what.to_string(),
        source,
    })
}

impl Client {
    async fn connect(&self) -> Result<SendRequest<ReqBody>, ClientError> {
        let connect_err = |source: io::Error| ClientError::Connect {
            host: self.host_text.clone(),
            source,
        };
        match &self.host {
            Host::Unix(path) => {
                let stream = UnixStream::connect(path).await.map_err(connect_err)?;
                handshake(stream).await
            }
            Host::Tcp(addr) => {
                let stream = TcpStream::connect(addr).await.map_err(connect_err)?;
                let _ = stream.set_nodelay(true);
                handshake(stream).await
            }
        }
    }

    /// Sends one request; `path` is the API path with its query, without the version prefix
    /// unless `versioned` is false. Answers with status >= 300 become [`ClientError::Api`].
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        versioned: bool,
        headers: Vec<(&'static str, String)>,
        body: Body,
    ) -> Result<Response<Incoming>, ClientError> {
        let uri = if versioned {
            format!("/v{}{}", pouch_api::API_VERSION, path)
        } else {
            path.to_string()
        };
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(uri.as_str())
            .header(HOST, self.host.authority())
            .header(
                USER_AGENT,
                concat!("pouch-client/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in headers {
            let value = HeaderValue::from_str(&value).map_err(|e| {
                ClientError::io(format!("header {name}"), io::Error::other(e.to_string()))
            })?;
            builder = builder.header(name, value);
        }
        let body: ReqBody = match body {
            Body::Empty => Empty::new().map_err(|never| match never {}).boxed_unsync(),
            Body::Json(bytes) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(bytes))
                    .map_err(|never| match never {})
                    .boxed_unsync()
            }
            Body::Stream { body, content_type } => {
                builder = builder.header(CONTENT_TYPE, content_type);
                StreamBody::new(body.map_ok(Frame::data)).boxed_unsync()
            }
        };
        let request = builder.body(body).map_err(|e| {
            ClientError::io(
                format!("{method} {uri}"),
                io::Error::new(io::ErrorKind::InvalidInput, e.to_string()),
            )
        })?;
        tracing::debug!("--> {method} {uri}");
        let mut sender = self.connect().await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| ClientError::hyper(format!("{method} {uri}"), e))?;
        let status = response.status();
        tracing::debug!("<-- {} {method} {uri}", status.as_u16());
        if status.as_u16() >= 300 {
            return Err(api_error(response).await);
        }
        Ok(response)
    }

    /// Sends a request and decodes a JSON answer.
    pub(crate) async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        headers: Vec<(&'static str, String)>,
        body: Body,
        what: &str,
    ) -> Result<T, ClientError> {
        let bytes = self.send_bytes(method, path, headers, body, what).await?;
        decode(&bytes, what)
    }

    /// Sends a bodiless request to `path?filters=` (no query without filters) and decodes
    /// the JSON answer: the list and prune calls.
    pub(crate) async fn send_filtered<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        filters: &Filters,
        what: &str,
    ) -> Result<T, ClientError> {
        let path = format!("{path}{}", filters_query(filters));
        self.send_json(method, &path, vec![], Body::Empty, what)
            .await
    }

    /// Sends a request whose answer has no body of interest (204, 304 and the like).
    pub(crate) async fn send_empty(
        &self,
        method: Method,
        path: &str,
        body: Body,
        what: &str,
    ) -> Result<(), ClientError> {
        self.send_bytes(method, path, vec![], body, what)
            .await
            .map(|_| ())
    }

    /// Sends a request and reads the whole answer.
    pub(crate) async fn send_bytes(
        &self,
        method: Method,
        path: &str,
        headers: Vec<(&'static str, String)>,
        body: Body,
        what: &str,
    ) -> Result<Bytes, ClientError> {
        let response = self.send(method, path, true, headers, body).await?;
        read_all(response.into_body(), what).await
    }
}

async fn handshake<S>(stream: S) -> Result<SendRequest<ReqBody>, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ClientError::hyper("http handshake", e))?;
    // `with_upgrades` lets attach and exec take the socket over after a `101`; other
    // requests are unaffected.
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!("pouchd connection ended with an error: {e}");
        }
    });
    Ok(sender)
}

/// Reads a whole body.
pub(crate) async fn read_all(body: Incoming, what: &str) -> Result<Bytes, ClientError> {
    body.collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| ClientError::hyper(format!("reading the answer to {what}"), e))
}

/// The answer body as a stream of chunks.
pub(crate) fn byte_stream(body: Incoming, what: &str) -> ByteStream {
    let what = what.to_string();
    Box::pin(
        http_body_util::BodyDataStream::new(body)
            .map_err(move |e| ClientError::hyper(format!("reading the answer to {what}"), e)),
    )
}

/// Turns an error answer into [`ClientError::Api`], taking the message from `{"message"}`.
async fn api_error(response: Response<Incoming>) -> ClientError {
    let status = response.status();
    let text = match response.into_body().collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let message = match serde_json::from_slice::<pouch_api::error::ErrorBody>(&text) {
        Ok(body) => body.message,
        Err(_) => {
            let raw = String::from_utf8_lossy(&text).trim().to_string();
            if raw.is_empty() {
                format!(
                    "{} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("error")
                )
            } else {
                raw
            }
        }
    };
    ClientError::Api {
        status: status.as_u16(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_paths_like_docker() {
        assert_eq!(
            path_escape("127.0.0.1:5000/busybox"),
            "127.0.0.1:5000/busybox"
        );
        assert_eq!(path_escape("sha256:abc"), "sha256:abc");
        assert_eq!(path_escape("a b?#%"), "a%20b%3F%23%25");
    }

    #[test]
    fn builds_filter_queries() {
        assert_eq!(filters_query(&Filters::default()), "");
        let mut f = Filters::default();
        f.add("driver", "bridge");
        assert_eq!(
            filters_query(&f),
            "?filters=%7B%22driver%22%3A%7B%22bridge%22%3Atrue%7D%7D"
        );
    }

    #[test]
    fn builds_queries() {
        assert_eq!(query(&[]), "");
        assert_eq!(
            query(&[
                ("fromImage", "docker.io/library/busybox".into()),
                ("tag", "1.0".into())
            ]),
            "?fromImage=docker.io%2Flibrary%2Fbusybox&tag=1.0"
        );
    }
}
