//! Container output routes: `GET /containers/{id}/logs` (the json-file log, framed as Docker
//! frames it, followed when asked) and `GET /containers/{id}/stats` (one object, or one per
//! second as JSON lines).

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse;
use futures_util::StreamExt;
use pouch_api::ApiError;
use pouch_engine::containers::logs::parse_tail;
use pouch_engine::containers::LogsOptions;
use tokio_stream::wrappers::ReceiverStream;

use super::events::json_lines;
use super::hijack::stream_content_type;
use super::query::timestamp;
use super::{AppState, HttpError, Params, Reply};

/// The options of a logs request; `400` when neither stream is asked for.
pub fn logs_options(params: &Params) -> Result<LogsOptions, HttpError> {
    let opts = LogsOptions {
        follow: params.bool("follow"),
        stdout: params.bool("stdout"),
        stderr: params.bool("stderr"),
        since: timestamp(params, "since")?,
        until: timestamp(params, "until")?,
        timestamps: params.bool("timestamps"),
        // as Docker: `all`, empty, negative or garbage is every line
        tail: parse_tail(params.str("tail")),
    };
    // before the engine looks the container up, as Docker does
    opts.check().map_err(ApiError::from)?;
    Ok(opts)
}

/// `GET /containers/{id}/logs?follow=&stdout=&stderr=&since=&until=&timestamps=&tail=`.
pub async fn logs(State(engine): State<AppState>, Path(id): Path<String>, params: Params) -> Reply {
    let opts = logs_options(&params)?;
    let stream = engine.container_logs(&id, opts).await?;
    let body = ReceiverStream::new(stream.rx).map(Ok::<_, Infallible>);
    let mut resp = (StatusCode::OK, Body::from_stream(body)).into_response();
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(stream_content_type(stream.tty)),
    );
    Ok(resp)
}

/// `GET /containers/{id}/stats?stream=&one-shot=`: with `stream` (the default) one object
/// per line as they come, else one object.
pub async fn stats(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Reply {
    let stream = params.bool_or("stream", true);
    let one_shot = params.bool("one-shot");
    if one_shot && stream {
        return Err(ApiError::invalid(
            "cannot have stream=true and one-shot=true: give stream=false with one-shot",
        )
        .into());
    }
    let rx = engine.container_stats(&id, stream, one_shot).await?;
    Ok(json_lines(rx))
}
