//! The event stream (`GET /events`) and the decoding of newline-delimited JSON answers into
//! typed values (events, stats).

use std::collections::VecDeque;

use futures_util::StreamExt;
use hyper::body::Incoming;
use hyper::Method;
use pouch_api::container::EventMessage;
use pouch_api::Filters;
use serde::de::DeserializeOwned;

use crate::json_stream::JsonDecoder;
use crate::transport::{self, query, Body};
use crate::{ByteStream, Client, ClientError, TypedStream};

struct State<T> {
    body: ByteStream,
    decoder: JsonDecoder<T>,
    pending: VecDeque<Result<T, ClientError>>,
    done: bool,
    what: String,
}

/// Wraps a response body of concatenated JSON values as a stream of `T`.
pub(crate) fn typed_json_stream<T>(body: Incoming, what: &str) -> TypedStream<T>
where
    T: DeserializeOwned + Send + 'static,
{
    values(transport::byte_stream(body, what), what)
}

fn values<T>(body: ByteStream, what: &str) -> TypedStream<T>
where
    T: DeserializeOwned + Send + 'static,
{
    let state = State {
        body,
        decoder: JsonDecoder::new(),
        pending: VecDeque::new(),
        done: false,
        what: what.to_string(),
    };
    Box::pin(futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(v) = st.decoder.pop() {
                return Some((Ok(v), st));
            }
            if let Some(e) = st.pending.pop_front() {
                return Some((e, st));
            }
            if st.done {
                return None;
            }
            match st.body.next().await {
                Some(Ok(chunk)) => {
                    if let Err(source) = st.decoder.push(&chunk) {
                        st.done = true;
                        let what = st.what.clone();
                        st.pending
                            .push_back(Err(ClientError::Decode { what, source }));
                    }
                }
                Some(Err(e)) => {
                    st.done = true;
                    st.pending.push_back(Err(e));
                }
                None => {
                    st.done = true;
                    if !st.decoder.is_clean() {
                        st.pending.push_back(Err(ClientError::io(
                            st.what.clone(),
                            std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "the answer ended inside a JSON value",
                            ),
                        )));
                    }
                }
            }
        }
    }))
}

impl Client {
    /// `GET /events?since=&until=&filters=`: events as they happen (and past ones from
    /// `since`); the stream ends at `until`, or never without it.
    pub async fn events(
        &self,
        since: Option<String>,
        until: Option<String>,
        filters: &Filters,
    ) -> Result<TypedStream<EventMessage>, ClientError> {
        let mut q = Vec::new();
        if let Some(s) = since {
            q.push(("since", s));
        }
        if let Some(u) = until {
            q.push(("until", u));
        }
        if !filters.is_empty() {
            q.push(("filters", filters.to_query()));
        }
        let path = format!("/events{}", query(&q));
        let response = self
            .send(Method::GET, &path, true, vec![], Body::Empty)
            .await?;
        Ok(typed_json_stream(response.into_body(), "events"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn body(chunks: &[&str]) -> ByteStream {
        let items: Vec<Result<Bytes, ClientError>> = chunks
            .iter()
            .map(|c| Ok(Bytes::copy_from_slice(c.as_bytes())))
            .collect();
        Box::pin(futures_util::stream::iter(items))
    }

    #[tokio::test]
    async fn decodes_values_split_across_chunks() {
        let s: TypedStream<serde_json::Value> =
            values(body(&["{\"a\":1}\n{\"a\"", ":2}\n", "\n{\"a\":3}"]), "x");
        let got: Vec<i64> = s.map(|v| v.unwrap()["a"].as_i64().unwrap()).collect().await;
        assert_eq!(got, [1, 2, 3]);
    }

    #[tokio::test]
    async fn reports_garbage_and_truncation_after_good_values() {
        let s: TypedStream<serde_json::Value> = values(body(&["{\"a\":1}\n{\"a\":"]), "x");
        let got: Vec<_> = s.collect().await;
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        assert!(matches!(got[1], Err(ClientError::Io { .. })));

        let s: TypedStream<serde_json::Value> = values(body(&["{\"a\":1} nope"]), "x");
        let got: Vec<_> = s.collect().await;
        assert_eq!(got.len(), 2);
        assert!(matches!(got[1], Err(ClientError::Decode { .. })));
    }

    #[tokio::test]
    async fn decodes_docker_events() {
        let line = r#"{"status":"start","id":"abc","from":"busybox","Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{"image":"busybox","name":"web"}},"scope":"local","time":1700000000,"timeNano":1700000000123456789}"#;
        let s: TypedStream<EventMessage> = values(body(&[line, "\n"]), "events");
        let got: Vec<_> = s.collect().await;
        assert_eq!(got.len(), 1);
        let v = serde_json::to_value(got[0].as_ref().unwrap()).unwrap();
        assert_eq!(v["Action"], "start");
        assert_eq!(v["Actor"]["Attributes"]["name"], "web");
        assert_eq!(v["timeNano"], 1700000000123456789i64);
    }
}
