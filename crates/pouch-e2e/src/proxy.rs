//! HTTP/1.1 proxies on loopback in front of a test registry (hyper server, reqwest
//! upstream, on the harness runtime):
//! - the tampering proxy flips one byte in the middle of chosen blob responses and can
//!   throttle every response body, so a pull takes seconds and can be interrupted;
//! - the token-auth proxy plays a registry with Docker's bearer-token flow: it answers 401
//!   with `WWW-Authenticate: Bearer realm=...,service="pouch-test",scope=...` unless the
//!   request carries a token it issued, and issues tokens at `/token` only for the right
//!   basic credentials.
//!
//! Both stop (and drop every open connection) when dropped.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

type Body = UnsyncBoxBody<Bytes, io::Error>;

/// Which blob responses the tampering proxy corrupts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Corrupt {
    #[default]
    Nothing,
    /// Only the blob with this digest.
    Blob(String),
    /// Every blob.
    AllBlobs,
}

/// What the tampering proxy does.
#[derive(Debug, Clone, Default)]
pub struct TamperOptions {
    pub corrupt: Corrupt,
    /// Bytes per second for each response body; `None` = as fast as possible.
    pub throttle: Option<u64>,
}

/// Counters a test can read to check the proxy was really in the path.
#[derive(Debug, Default)]
pub struct ProxyStats {
    pub requests: AtomicU64,
    pub tampered: AtomicU64,
    pub tokens_issued: AtomicU64,
    pub tokens_refused: AtomicU64,
    pub challenges: AtomicU64,
}

enum Mode {
    Tamper(TamperOptions),
    TokenAuth {
        user: String,
        password: String,
        /// token -> granted scopes (`repository:<name>:<actions>`)
        tokens: Mutex<HashMap<String, Vec<String>>>,
    },
}

struct State {
    mode: Mode,
    upstream: String,
    me: String,
    client: reqwest::Client,
    stats: Arc<ProxyStats>,
}

/// A running proxy.
pub struct Proxy {
    port: u16,
    task: JoinHandle<()>,
    stats: Arc<ProxyStats>,
}

/// The `service` the token-auth proxy names in its challenges.
pub const TOKEN_SERVICE: &str = "pouch-test";

impl Proxy {
    /// A tampering/throttling proxy in front of `upstream` (e.g. `http://127.0.0.1:5000`).
    pub fn tamper(upstream: &str, opts: TamperOptions) -> Result<Proxy> {
        Proxy::start(upstream, Mode::Tamper(opts))
    }

    /// A token-auth proxy in front of the open registry `upstream`.
    pub fn token_auth(upstream: &str, user: &str, password: &str) -> Result<Proxy> {
        Proxy::start(
            upstream,
            Mode::TokenAuth {
                user: user.to_string(),
                password: password.to_string(),
                tokens: Mutex::new(HashMap::new()),
            },
        )
    }

    fn start(upstream: &str, mode: Mode) -> Result<Proxy> {
        let listener = crate::block_on(TcpListener::bind("127.0.0.1:0")).context("bind proxy")?;
        let port = listener.local_addr()?.port();
        let stats = Arc::new(ProxyStats::default());
        let state = Arc::new(State {
            mode,
            upstream: upstream.trim_end_matches('/').to_string(),
            me: format!("127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            stats: stats.clone(),
        });
        let task = crate::runtime().spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
                while conns.try_join_next().is_some() {}
            }
        });
        Ok(Proxy { port, task, stats })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stats(&self) -> &ProxyStats {
        &self.stats
    }

    /// How many blob responses were corrupted so far.
    pub fn tampered(&self) -> u64 {
        self.stats.tampered.load(Ordering::SeqCst)
    }

    /// How many tokens the token-auth proxy issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.stats.tokens_issued.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn full(status: StatusCode, headers: &[(&str, String)], body: impl Into<Bytes>) -> Response<Body> {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, v.as_str());
    }
    b.body(
        Full::new(body.into())
            .map_err(|never: Infallible| match never {})
            .boxed_unsync(),
    )
    .expect("valid response")
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    state.stats.requests.fetch_add(1, Ordering::SeqCst);
    match &state.mode {
        Mode::Tamper(opts) => forward(&state, req, Some(opts)).await,
        Mode::TokenAuth {
            user,
            password,
            tokens,
        } => {
            if req.uri().path() == "/token" {
                return issue_token(&state, req, user, password, tokens).await;
            }
            let repo = repository_of(req.uri().path());
            let push = !matches!(req.method().as_str(), "GET" | "HEAD");
            let granted = bearer(&req)
                .and_then(|t| tokens.lock().ok()?.get(&t).cloned())
                .is_some_and(|scopes| match &repo {
                    None => true,
                    Some(r) => scopes.iter().any(|s| scope_allows(s, r, push)),
                });
            if granted {
                return forward(&state, req, None).await;
            }
            state.stats.challenges.fetch_add(1, Ordering::SeqCst);
            let mut challenge = format!(
                "Bearer realm=\"http://{}/token\",service=\"{TOKEN_SERVICE}\"",
                state.me
            );
            if let Some(r) = &repo {
                let actions = if push { "pull,push" } else { "pull" };
                challenge.push_str(&format!(",scope=\"repository:{r}:{actions}\""));
            }
            full(
                StatusCode::UNAUTHORIZED,
                &[
                    ("WWW-Authenticate", challenge),
                    ("Content-Type", "application/json".into()),
                    ("Docker-Distribution-Api-Version", "registry/2.0".into()),
                ],
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#,
            )
        }
    }
}

/// The repository named by a `/v2/<name>/{manifests,blobs,tags}/...` path.
fn repository_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v2/")?;
    ["/manifests/", "/blobs/", "/tags/"]
        .iter()
        .filter_map(|m| rest.find(m))
        .min()
        .map(|i| rest[..i].to_string())
}

fn scope_allows(scope: &str, repo: &str, push: bool) -> bool {
    let Some(rest) = scope.strip_prefix("repository:") else {
        return false;
    };
    let Some((name, actions)) = rest.rsplit_once(':') else {
        return false;
    };
    name == repo
        && actions
            .split(',')
            .any(|a| a == "*" || a == if push { "push" } else { "pull" })
}

fn bearer(req: &Request<Incoming>) -> Option<String> {
    let v = req.headers().get("Authorization")?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

fn basic(req: &Request<Incoming>) -> Option<(String, String)> {
    let v = req.headers().get("Authorization")?.to_str().ok()?;
    let enc = v.strip_prefix("Basic ")?;
    let dec = base64::engine::general_purpose::STANDARD
        .decode(enc.trim())
        .ok()?;
    let s = String::from_utf8(dec).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn issue_token(
    state: &State,
    req: Request<Incoming>,
    user: &str,
    password: &str,
    tokens: &Mutex<HashMap<String, Vec<String>>>,
) -> Response<Body> {
    let mut params = query_pairs(req.uri().query().unwrap_or(""));
    let mut creds = basic(&req);
    if req.method() == "POST" {
        // OAuth2 password grant (what Docker sends when it has no basic header to reuse).
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let form = query_pairs(&String::from_utf8_lossy(&body));
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if let (Some(u), Some(p)) = (get("username"), get("password")) {
            creds = Some((u, p));
        }
        params.extend(form);
    }
    let ok = creds
        .as_ref()
        .is_some_and(|(u, p)| u == user && p == password);
    if !ok {
        state.stats.tokens_refused.fetch_add(1, Ordering::SeqCst);
        return full(
            StatusCode::UNAUTHORIZED,
            &[("Content-Type", "application/json".into())],
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"invalid username or password"}]}"#,
        );
    }
    let scopes: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>())
        .collect();
    let token = {
        use rand::RngCore;
        let mut b = [0u8; 24];
        rand::rng().fill_bytes(&mut b);
        hex::encode(b)
    };
    if let Ok(mut t) = tokens.lock() {
        t.insert(token.clone(), scopes);
    }
    state.stats.tokens_issued.fetch_add(1, Ordering::SeqCst);
    let body = serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": 300,
        "issued_at": crate::image::CREATED,
    });
    full(
        StatusCode::OK,
        &[("Content-Type", "application/json".into())],
        body.to_string(),
    )
}

fn blob_digest(path: &str) -> Option<&str> {
    let (_, rest) = path.split_once("/blobs/")?;
    rest.starts_with("sha256:").then_some(rest)
}

async fn forward(
    state: &State,
    req: Request<Incoming>,
    tamper: Option<&TamperOptions>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return full(StatusCode::BAD_REQUEST, &[], format!("read body: {e}")),
    };
    let pq = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut rb = state
        .client
        .request(parts.method.clone(), format!("{}{pq}", state.upstream));
    for (k, v) in &parts.headers {
        let name = k.as_str();
        let hop = matches!(
            name,
            "host" | "connection" | "content-length" | "transfer-encoding" | "keep-alive"
        );
        let auth = name == "authorization" && matches!(state.mode, Mode::TokenAuth { .. });
        if !hop && !auth {
            rb = rb.header(k, v);
        }
    }
    let resp = match rb.body(body).send().await {
        Ok(r) => r,
        Err(e) => return full(StatusCode::BAD_GATEWAY, &[], format!("upstream: {e}")),
    };
    let status = resp.status();
    let mut b = Response::builder().status(status);
    let upstream_host = state
        .upstream
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_string();
    for (k, v) in resp.headers() {
        let name = k.as_str();
        if matches!(name, "connection" | "transfer-encoding" | "keep-alive") {
            continue;
        }
        if name == "location" {
            let loc = v
                .to_str()
                .unwrap_or_default()
                .replace(&upstream_host, &state.me);
            b = b.header(k, loc);
        } else {
            b = b.header(k, v);
        }
    }
    let corrupt = tamper.is_some_and(|t| {
        parts.method == "GET"
            && status == StatusCode::OK
            && match (&t.corrupt, blob_digest(parts.uri.path())) {
                (Corrupt::AllBlobs, Some(_)) => true,
                (Corrupt::Blob(d), Some(got)) => d == got,
                _ => false,
            }
    });
    let throttle = tamper.and_then(|t| t.throttle);
    if corrupt {
        state.stats.tampered.fetch_add(1, Ordering::SeqCst);
    }
    let flip_at = corrupt.then(|| resp.content_length().unwrap_or(1024) / 2);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, io::Error>>(4);
    tokio::spawn(pump(resp, tx, flip_at, throttle));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item.map(Frame::data), rx))
    });
    b.body(StreamBody::new(stream).boxed_unsync())
        .unwrap_or_else(|e| full(StatusCode::BAD_GATEWAY, &[], format!("response: {e}")))
}

/// Copies the upstream body to the client, flipping the byte at `flip_at` and sleeping to
/// keep to `throttle` bytes per second.
async fn pump(
    resp: reqwest::Response,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, io::Error>>,
    flip_at: Option<u64>,
    throttle: Option<u64>,
) {
    let start = tokio::time::Instant::now();
    let mut offset: u64 = 0;
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(Err(io::Error::other(e))).await;
                return;
            }
        };
        let piece_len = if throttle.is_some() {
            16 * 1024
        } else {
            chunk.len().max(1)
        };
        for piece in chunk.chunks(piece_len) {
            let mut piece = piece.to_vec();
            if let Some(at) = flip_at {
                if at >= offset && at < offset + piece.len() as u64 {
                    piece[(at - offset) as usize] ^= 0x5a;
                }
            }
            offset += piece.len() as u64;
            if let Some(rate) = throttle {
                let due = start + Duration::from_secs_f64(offset as f64 / rate.max(1) as f64);
                tokio::time::sleep_until(due).await;
            }
            if tx.send(Ok(Bytes::from(piece))).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_and_scopes() {
        assert_eq!(
            repository_of("/v2/library/busybox/manifests/latest").as_deref(),
            Some("library/busybox")
        );
        assert_eq!(
            repository_of("/v2/a/b/c/blobs/sha256:00").as_deref(),
            Some("a/b/c")
        );
        assert_eq!(repository_of("/v2/"), None);
        assert!(scope_allows("repository:a/b:pull", "a/b", false));
        assert!(!scope_allows("repository:a/b:pull", "a/b", true));
        assert!(!scope_allows("repository:a/c:pull", "a/b", false));
        assert!(scope_allows("repository:a/b:pull,push", "a/b", true));
    }

    #[test]
    fn decodes_queries() {
        let q = query_pairs("scope=repository%3Aa%2Fb%3Apull&service=pouch-test&x");
        assert_eq!(q[0], ("scope".into(), "repository:a/b:pull".into()));
        assert_eq!(q[1].1, "pouch-test");
        assert_eq!(q[2], ("x".into(), String::new()));
    }
}
