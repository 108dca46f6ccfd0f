//! Exec routes: `POST /containers/{id}/exec` (create), `POST /exec/{id}/start` (detached: an
//! empty `200`; attached: a hijacked stream), `POST /exec/{id}/resize` and
//! `GET /exec/{id}/json`.

use axum::body::{to_bytes, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use pouch_api::container::{ExecConfig, ExecStartConfig, IdResponse};
use pouch_api::ApiError;

use super::containers::{json_body, resize_params, JSON_BODY_LIMIT};
use super::hijack::Hijack;
use super::{blocking, created, json, AppState, HttpError, Params, Reply};

/// `POST /containers/{id}/exec`: `201 {"Id"}`.
pub async fn create(State(engine): State<AppState>, Path(id): Path<String>, body: Bytes) -> Reply {
    let config: ExecConfig = json_body(&body, "exec config")?;
    let exec_id = engine.create_exec(&id, config).await?;
    Ok(created(&IdResponse { id: exec_id }))
}

/// The start body; an empty body starts attached with the exec's own settings.
pub fn start_config(body: &Bytes) -> Result<ExecStartConfig, HttpError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ExecStartConfig::default());
    }
    json_body(body, "exec start config")
}

/// `POST /exec/{id}/start`: with `Detach` an ordinary `200` once the process runs; else the
/// connection is hijacked (errors such as a stopped container come back before the switch).
pub async fn start(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    mut req: Request,
) -> Reply {
    // the upgrade is taken before the body is read; the body is small and read whole
    let hijack = Hijack::take(&mut req);
    let body = to_bytes(std::mem::take(req.body_mut()), JSON_BODY_LIMIT)
        .await
        .map_err(|e| ApiError::invalid(format!("reading the request body: {e}")))?;
    let config = start_config(&body)?;
    match engine.start_exec(&id, config).await? {
        None => Ok(StatusCode::OK.into_response()),
        Some(session) => Ok(hijack.respond(session)),
    }
}

/// `POST /exec/{id}/resize?h=&w=`: `200`.
pub async fn resize(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Reply {
    let (height, width) = resize_params(&params)?;
    engine.resize_exec(&id, height, width).await?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /exec/{id}/json`.
pub async fn inspect(State(engine): State<AppState>, Path(id): Path<String>) -> Reply {
    let inspect = blocking(&engine, move |e| e.inspect_exec(&id)).await?;
    Ok(json(&inspect))
}
