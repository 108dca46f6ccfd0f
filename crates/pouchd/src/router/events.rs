//! `GET /events?since=&until=&filters=`: the engine's event feed, one JSON object per line,
//! each sent as it comes; the answer ends at `until` (or when the client goes away). Also the
//! line-delimited JSON answer shared with `stats`.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use pouch_engine::containers::EventsOptions;
use serde::Serialize;
use tokio::sync::mpsc::Receiver;
use tokio_stream::wrappers::ReceiverStream;

use super::query::timestamp;
use super::{AppState, Params, Reply};

/// `GET /events`.
pub async fn events(State(engine): State<AppState>, params: Params) -> Reply {
    let opts = EventsOptions {
        since: timestamp(&params, "since")?,
        until: timestamp(&params, "until")?,
        filters: params.filters()?,
    };
    let rx = engine.events(opts)?;
    Ok(json_lines(rx))
}

/// `200` (headers sent at once) whose body is each item of `rx` as one JSON line, sent as it
/// comes; the body ends when the sender is dropped.
pub fn json_lines<T>(rx: Receiver<T>) -> Response
where
    T: Serialize + Send + 'static,
{
    let body = ReceiverStream::new(rx).map(|item| Ok::<_, Infallible>(json_line(&item)));
    let mut resp = (StatusCode::OK, Body::from_stream(body)).into_response();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// `item` as JSON followed by `\n` (Go's `json.Encoder`).
pub fn json_line<T: Serialize>(item: &T) -> Bytes {
    let mut v = serde_json::to_vec(item).unwrap_or_else(|e| {
        tracing::warn!("cannot encode a stream item: {e}");
        b"{}".to_vec()
    });
    v.push(b'\n');
    Bytes::from(v)
}
