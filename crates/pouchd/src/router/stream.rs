//! Streaming answers. JSON progress streams (pull, push, load, import): Docker's
//! `JSONMessage` lines, each followed by `\r\n`, sent as they come. Archive streams (save):
//! a blocking writer bridged into the body through a pipe, never buffered whole. Request
//! bodies are bridged the same way into blocking readers (load, import).
//!
//! As Docker does, the status is decided by the first output: an operation that fails before
//! it wrote anything answers with a plain HTTP error; once the `200` is out, a failure
//! becomes an error line (JSON) or an aborted body (archives).

use std::collections::VecDeque;
use std::io::Write;

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt, TryStreamExt};
use pouch_api::progress::JsonMessage;
use pouch_api::ApiError;
use tokio::sync::mpsc::{error::TryRecvError, UnboundedReceiver};
use tokio::task::{JoinError, JoinHandle};
use tokio_util::io::{ReaderStream, StreamReader, SyncIoBridge};
use tokio_util::sync::DropGuard;

use super::error_response;

/// The result of a streamed operation: lines to send after its progress on success.
pub type StreamTask = JoinHandle<Result<Vec<JsonMessage>, ApiError>>;

/// Pipe size between a blocking writer and the response body.
const PIPE_SIZE: usize = 64 * 1024;

fn joined<T>(r: Result<Result<T, ApiError>, JoinError>) -> Result<T, ApiError> {
    r.unwrap_or_else(|e| {
        Err(ApiError::internal(format!(
            "internal error: task failed: {e}"
        )))
    })
}

fn line(m: &JsonMessage) -> Bytes {
    let mut v = serde_json::to_vec(m).unwrap_or_else(|_| b"{}".to_vec());
    v.extend_from_slice(b"\r\n");
    Bytes::from(v)
}

/// Answers with the JSON progress of `task`, which sends its lines to the channel read by
/// `rx` (and drops its sender when done). `guard` lives as long as the response body: a
/// client that goes away cancels the operation.
pub async fn progress_response(
    mut rx: UnboundedReceiver<JsonMessage>,
    mut task: StreamTask,
    guard: Option<DropGuard>,
    keep: fn(&JsonMessage) -> bool,
) -> Response {
    // wait for the first line or the end, whichever comes first
    let mut pending = VecDeque::new();
    let mut finished = None;
    loop {
        tokio::select! {
            biased;
            m = rx.recv() => match m {
                Some(m) if keep(&m) => { pending.push_back(m); break; }
                Some(_) => continue,
                None => { finished = Some(joined((&mut task).await)); break; }
            },
            r = &mut task => {
                // lines sent just before the end are still in the channel
                loop {
                    match rx.try_recv() {
                        Ok(m) if keep(&m) => pending.push_back(m),
                        Ok(_) => {}
                        Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                    }
                }
                finished = Some(joined(r));
                break;
            }
        }
    }
    let done = finished.is_some();
    match finished {
        Some(Err(e)) if pending.is_empty() => return error_response(&e),
        Some(Ok(tail)) => pending.extend(tail),
        Some(Err(e)) => pending.push_back(JsonMessage::error(e.message)),
        None => {}
    }
    let state = Progress {
        rx,
        task: if done { None } else { Some(task) },
        pending,
        keep,
        _guard: guard,
    };
    let body = futures_util::stream::unfold(state, |mut s| async move {
        let m = s.next().await?;
        Some((Ok::<_, std::convert::Infallible>(line(&m)), s))
    });
    streaming(body, "application/json")
}

struct Progress {
    rx: UnboundedReceiver<JsonMessage>,
    task: Option<StreamTask>,
    pending: VecDeque<JsonMessage>,
    keep: fn(&JsonMessage) -> bool,
    _guard: Option<DropGuard>,
}

impl Progress {
    async fn next(&mut self) -> Option<JsonMessage> {
        loop {
            if let Some(m) = self.pending.pop_front() {
                return Some(m);
            }
            let task = self.task.as_mut()?;
            match self.rx.recv().await {
                Some(m) if (self.keep)(&m) => return Some(m),
                Some(_) => continue,
                None => {
                    match joined(task.await) {
                        Ok(tail) => self.pending.extend(tail),
                        Err(e) => self.pending.push_back(JsonMessage::error(e.message)),
                    }
                    self.task = None;
                }
            }
        }
    }
}

/// Every line passes.
pub fn keep_all(_: &JsonMessage) -> bool {
    true
}

/// Answers with what `op` writes (blocking, on a blocking thread) as a streamed body.
pub async fn writer_response<F>(content_type: &'static str, op: F) -> Response
where
    F: FnOnce(&mut dyn Write) -> Result<(), ApiError> + Send + 'static,
{
    let (writer, reader) = tokio::io::duplex(PIPE_SIZE);
    let mut bridge = SyncIoBridge::new(writer);
    let mut task = tokio::task::spawn_blocking(move || {
        let r = op(&mut bridge);
        let _ = bridge.flush();
        let _ = bridge.shutdown();
        r
    });
    let mut chunks = ReaderStream::with_capacity(reader, PIPE_SIZE);
    let first = tokio::select! {
        biased;
        c = chunks.next() => c,
        r = &mut task => match joined(r) {
            // finished: everything it wrote is in the pipe
            Ok(()) => {
                let body = chunks.map_err(std::io::Error::other);
                return streaming(body, content_type);
            }
            Err(e) => return error_response(&e),
        },
    };
    let first = match first {
        Some(Ok(bytes)) => bytes,
        Some(Err(e)) => return error_response(&ApiError::internal(format!("stream: {e}"))),
        // the writer closed without writing: an empty archive, or the error
        None => {
            return match joined(task.await) {
                Ok(()) => streaming(
                    futures_util::stream::empty::<Result<Bytes, std::io::Error>>(),
                    content_type,
                ),
                Err(e) => error_response(&e),
            }
        }
    };
    // after the last chunk, a failure aborts the body so the client sees a broken transfer
    let tail = futures_util::stream::once(async move {
        match joined(task.await) {
            Ok(()) => None,
            Err(e) => {
                tracing::warn!("stream aborted: {}", e.message);
                Some(Err(std::io::Error::other(e.message)))
            }
        }
    })
    .filter_map(|x| async move { x });
    let body = futures_util::stream::once(async move { Ok(first) })
        .chain(chunks)
        .chain(tail);
    streaming(body, content_type)
}

/// A `200` whose body is `body`, sent chunk by chunk.
fn streaming<S, E>(body: S, content_type: &'static str) -> Response
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<axum::BoxError> + 'static,
{
    let mut resp = (StatusCode::OK, Body::from_stream(body)).into_response();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// The request body as a blocking reader (create in the handler; read on a blocking thread).
pub fn body_reader(body: Body) -> impl std::io::Read + Send + 'static {
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    SyncIoBridge::new(StreamReader::new(stream))
}
