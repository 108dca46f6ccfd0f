//! Streaming behaviour over real sockets: the router pieces are served by `axum::serve` (as
//! pouchd serves them) on a unix socket and driven by hyper's client. Hijacks (upgrade and
//! plain), headers flushed before a deferred body (`/wait`), line streams sent item by item.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONNECTION, CONTENT_TYPE, UPGRADE};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use crate::router::containers::deferred_json;
use crate::router::events::json_lines;
use crate::router::hijack::{upgrade_response, Hijack, Session, MULTIPLEXED_STREAM, RAW_STREAM};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A Docker frame: `[stream, 0, 0, 0, len BE]` + payload.
fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![stream, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A session that greets, then echoes the client's whole input (read to EOF) on stdout and
/// ends with `bye` on stderr: it shows both directions and the half-close.
struct Echo {
    tty: bool,
}

impl Session for Echo {
    fn tty(&self) -> bool {
        self.tty
    }

    async fn serve<S>(self, mut io: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        io.write_all(&frame(1, b"hello")).await.unwrap();
        io.flush().await.unwrap();
        let mut input = Vec::new();
        io.read_to_end(&mut input).await.unwrap();
        io.write_all(&frame(1, &input)).await.unwrap();
        io.write_all(&frame(2, b"bye")).await.unwrap();
        io.shutdown().await.unwrap();
    }
}

async fn attach_echo(mut req: Request) -> Response {
    let tty = req.uri().query() == Some("tty=1");
    Hijack::take(&mut req).respond(Echo { tty })
}

type Waiter = Arc<Mutex<Option<oneshot::Receiver<i64>>>>;

async fn wait_for_code(State(rx): State<Waiter>) -> Response {
    let rx = rx.lock().unwrap().take().unwrap();
    deferred_json(
        async move { serde_json::json!({"StatusCode": rx.await.unwrap(), "Error": null}) },
    )
}

type Lines = Arc<Mutex<Option<mpsc::Receiver<serde_json::Value>>>>;

async fn lines(State(rx): State<Lines>) -> Response {
    json_lines(rx.lock().unwrap().take().unwrap())
}

/// Serves `app` on a unix socket in `dir`; returns the socket path.
async fn serve(dir: &tempfile::TempDir, app: Router) -> std::path::PathBuf {
    let path = dir.path().join("api.sock");
    let listener = UnixListener::bind(&path).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    path
}

/// A client connection (with upgrades) to `path`.
async fn connect(path: &std::path::Path) -> SendRequest<Body> {
    let stream = UnixStream::connect(path).await.unwrap();
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    sender
}

fn header<'a>(resp: &'a hyper::Response<hyper::body::Incoming>, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

#[tokio::test]
async fn hijack_upgrades_and_half_close_ends_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let path = serve(&dir, Router::new().route("/attach", post(attach_echo))).await;
    for (query, content_type) in [("", MULTIPLEXED_STREAM), ("?tty=1", RAW_STREAM)] {
        let mut client = connect(&path).await;
        let req = hyper::Request::post(format!("/attach{query}"))
            .header("Host", "pouch")
            .header(CONNECTION, "Upgrade")
            .header(UPGRADE, "tcp")
            .body(Body::empty())
            .unwrap();
        let resp = tokio::time::timeout(TIMEOUT, client.send_request(req))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(header(&resp, "connection"), "Upgrade");
        assert_eq!(header(&resp, "upgrade"), "tcp");
        assert_eq!(header(&resp, "content-type"), content_type);
        let upgraded = hyper::upgrade::on(resp).await.unwrap();
        let mut io = TokioIo::new(upgraded);
        // output comes before the client sends anything
        let mut hello = vec![0; 13];
        tokio::time::timeout(TIMEOUT, io.read_exact(&mut hello))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(hello, frame(1, b"hello"));
        io.write_all(b"some stdin").await.unwrap();
        // half-close: the session sees EOF and still answers
        io.shutdown().await.unwrap();
        let mut rest = Vec::new();
        tokio::time::timeout(TIMEOUT, io.read_to_end(&mut rest))
            .await
            .unwrap()
            .unwrap();
        let mut want = frame(1, b"some stdin");
        want.extend(frame(2, b"bye"));
        assert_eq!(rest, want);
    }
}

#[tokio::test]
async fn hijack_without_upgrade_streams_the_output_as_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let path = serve(&dir, Router::new().route("/attach", post(attach_echo))).await;
    let mut client = connect(&path).await;
    let req = hyper::Request::post("/attach")
        .header("Host", "pouch")
        .body(Body::from("ignored"))
        .unwrap();
    let resp = tokio::time::timeout(TIMEOUT, client.send_request(req))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), MULTIPLEXED_STREAM);
    let body = tokio::time::timeout(TIMEOUT, resp.into_body().collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    // stdin is closed at once: the echo is empty
    let mut want = frame(1, b"hello");
    want.extend(frame(1, b""));
    want.extend(frame(2, b"bye"));
    assert_eq!(&body[..], &want[..]);
}

#[test]
fn upgrade_headers() {
    for (tty, content_type) in [(false, MULTIPLEXED_STREAM), (true, RAW_STREAM)] {
        let resp = upgrade_response(tty);
        assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
        let h = resp.headers();
        assert_eq!(h[CONNECTION], "Upgrade");
        assert_eq!(h[UPGRADE], "tcp");
        assert_eq!(h[CONTENT_TYPE], content_type);
    }
    assert_eq!(
        MULTIPLEXED_STREAM,
        "application/vnd.docker.multiplexed-stream"
    );
    assert_eq!(RAW_STREAM, "application/vnd.docker.raw-stream");
}

#[tokio::test]
async fn wait_headers_come_before_the_exit() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = oneshot::channel();
    let state: Waiter = Arc::new(Mutex::new(Some(rx)));
    let app = Router::new()
        .route("/wait", post(wait_for_code))
        .with_state(state);
    let path = serve(&dir, app).await;
    let mut client = connect(&path).await;
    let req = hyper::Request::post("/wait")
        .header("Host", "pouch")
        .body(Body::empty())
        .unwrap();
    // the status and headers arrive while the wait is still pending
    let resp = tokio::time::timeout(TIMEOUT, client.send_request(req))
        .await
        .expect("the wait headers were held back")
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), "application/json");
    let mut body = resp.into_body();
    let early = tokio::time::timeout(Duration::from_millis(200), body.frame()).await;
    assert!(early.is_err(), "the body came before the exit");
    tx.send(3).unwrap();
    let rest = tokio::time::timeout(TIMEOUT, body.collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    assert!(rest.ends_with(b"\n"), "{rest:?}");
    let v: serde_json::Value = serde_json::from_slice(&rest).unwrap();
    assert_eq!(v, serde_json::json!({"StatusCode": 3, "Error": null}));
}

#[tokio::test]
async fn json_lines_are_sent_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = mpsc::channel(4);
    let state: Lines = Arc::new(Mutex::new(Some(rx)));
    let app = Router::new().route("/events", get(lines)).with_state(state);
    let path = serve(&dir, app).await;
    let mut client = connect(&path).await;
    let req = hyper::Request::get("/events")
        .header("Host", "pouch")
        .body(Body::empty())
        .unwrap();
    let resp = tokio::time::timeout(TIMEOUT, client.send_request(req))
        .await
        .expect("the headers were held back")
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), "application/json");
    let mut body = resp.into_body();
    for n in 0..3 {
        tx.send(serde_json::json!({ "n": n })).await.unwrap();
        let frame = tokio::time::timeout(TIMEOUT, body.frame())
            .await
            .expect("a line was held back")
            .unwrap()
            .unwrap();
        let data = frame.into_data().unwrap();
        assert_eq!(&data[..], format!("{{\"n\":{n}}}\n").as_bytes());
    }
    drop(tx);
    let end = tokio::time::timeout(TIMEOUT, body.collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    assert!(end.is_empty());
}
