//! Hijacked streams (`POST /containers/{id}/attach`, `POST /exec/{id}/start`). With an
//! `Upgrade` header the answer is `101` (`Connection: Upgrade`, `Upgrade: tcp`) and the raw
//! connection goes to the engine's session: the client's bytes are stdin, the session's
//! (already Docker-framed) output comes back, a half-close is stdin EOF. Without one (old
//! clients), the answer is a `200` whose body is the same output, and stdin is closed at once.
//!
//! The engine call that validates the request (and returns the session) runs first, so its
//! errors leave as ordinary JSON errors before anything is switched.

use std::future::Future;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONNECTION, CONTENT_TYPE, UPGRADE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use pouch_engine::containers::AttachSession;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::io::ReaderStream;

/// Content-Type of a tty stream (raw bytes).
pub const RAW_STREAM: &str = "application/vnd.docker.raw-stream";
/// Content-Type of a stream without a tty (8-byte frame headers).
pub const MULTIPLEXED_STREAM: &str = "application/vnd.docker.multiplexed-stream";

/// Pipe size between a session and a plain (not upgraded) response body.
const PIPE_SIZE: usize = 64 * 1024;

/// The Content-Type of a container or exec output stream.
pub fn stream_content_type(tty: bool) -> &'static str {
    if tty {
        RAW_STREAM
    } else {
        MULTIPLEXED_STREAM
    }
}

/// Whether the client asked to switch protocols (Docker looks only for the header).
pub fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(UPGRADE)
}

/// What a hijacked connection is handed to: the engine's `AttachSession` (and, in tests, a
/// session of the test's own).
pub trait Session: Send + 'static {
    /// Whether the output is raw tty bytes (else Docker frames).
    fn tty(&self) -> bool;
    /// Pipes `io` to the process until either side ends.
    fn serve<S>(self, io: S) -> impl Future<Output = ()> + Send
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static;
}

impl Session for AttachSession {
    fn tty(&self) -> bool {
        AttachSession::tty(self)
    }

    fn serve<S>(self, io: S) -> impl Future<Output = ()> + Send
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        AttachSession::serve(self, io)
    }
}

/// The connection of one request, taken before its body is read.
pub struct Hijack {
    upgrade: Option<OnUpgrade>,
}

impl Hijack {
    /// Takes the pending upgrade out of `req` when the client asked for one.
    pub fn take(req: &mut Request) -> Hijack {
        let upgrade = wants_upgrade(req.headers()).then(|| hyper::upgrade::on(req));
        Hijack { upgrade }
    }

    /// Whether the answer will switch protocols (else the output goes in a `200` body and
    /// the client cannot send stdin).
    pub fn upgrades(&self) -> bool {
        self.upgrade.is_some()
    }

    /// Answers the request with `session`: `101` and the session on the upgraded
    /// connection, or `200` with the session's output as the body.
    pub fn respond<T: Session>(self, session: T) -> Response {
        let tty = session.tty();
        let Some(upgrade) = self.upgrade else {
            return plain_response(session);
        };
        tokio::spawn(async move {
            match upgrade.await {
                Ok(upgraded) => session.serve(TokioIo::new(upgraded)).await,
                Err(e) => tracing::warn!("hijack: the connection was not upgraded: {e}"),
            }
        });
        upgrade_response(tty)
    }
}

/// `101` with Docker's hijack headers.
pub fn upgrade_response(tty: bool) -> Response {
    let mut resp = (StatusCode::SWITCHING_PROTOCOLS, Body::empty()).into_response();
    let h = resp.headers_mut();
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("tcp"));
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(stream_content_type(tty)),
    );
    resp
}

/// `200` whose body is what the session writes; the session reads EOF at once.
fn plain_response<T: Session>(session: T) -> Response {
    let tty = session.tty();
    let (ours, theirs) = tokio::io::duplex(PIPE_SIZE);
    let (output, mut input) = tokio::io::split(ours);
    tokio::spawn(async move {
        // nothing comes from the client: stdin ends before the session starts
        let _ = input.shutdown().await;
        drop(input);
        session.serve(theirs).await;
    });
    let mut resp = (
        StatusCode::OK,
        Body::from_stream(ReaderStream::with_capacity(output, PIPE_SIZE)),
    )
        .into_response();
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(stream_content_type(tty)),
    );
    resp
}
