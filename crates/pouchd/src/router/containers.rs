//! Container routes: create, list, prune, inspect, the lifecycle verbs (start, stop, restart,
//! kill, pause, unpause, remove), rename, update, upgrade, top, resize, changes, wait and
//! attach. Logs and stats are in `logs`, the filesystem routes (archive, export) in `archive`.

use std::convert::Infallible;
use std::future::Future;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pouch_api::container::{ContainerCreateBody, ContainerUpdate, ContainerUpgradeConfig};
use pouch_api::error::ErrorBody;
use pouch_api::ApiError;
use pouch_engine::containers::{AttachOptions, ListOptions};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::events::json_line;
use super::hijack::Hijack;
use super::query::{number, required_number};
use super::{blocking, created, json, no_content, AppState, HttpError, Params, Reply};

/// Largest JSON request body (create, update, exec).
pub const JSON_BODY_LIMIT: usize = 8 << 20;

/// Decodes a JSON request body; an empty body is `what` missing.
pub fn json_body<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, HttpError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(format!(
            "the request body is empty: send the {what} as JSON"
        ))
        .into());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("invalid {what} in the request body: {e}")).into())
}

/// `POST /containers/create?name=`: `201 {"Id","Warnings"}`.
pub async fn create(State(engine): State<AppState>, params: Params, body: Bytes) -> Reply {
    let body: ContainerCreateBody = json_body(&body, "container config")?;
    let name = params
        .get("name")
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    Ok(created(&engine.create_container(name, body).await?))
}

/// `GET /containers/json?all=&limit=&size=&filters=`.
pub async fn list(State(engine): State<AppState>, params: Params) -> Reply {
    let opts = ListOptions {
        all: params.bool("all"),
        limit: number(&params, "limit")?,
        size: params.bool("size"),
        filters: params.filters()?,
    };
    let list = blocking(&engine, move |e| e.list_containers(&opts)).await?;
    Ok(json(&list))
}

/// `POST /containers/prune?filters=`.
pub async fn prune(State(engine): State<AppState>, params: Params) -> Reply {
    let filters = params.filters()?;
    let report = engine.prune_containers(&filters).await?;
    Ok(json(&report))
}

/// `GET /containers/{id}/json?size=`.
pub async fn inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Reply {
    let size = params.bool("size");
    let inspect = blocking(&engine, move |e| e.inspect_container(&id, size)).await?;
    Ok(json(&inspect))
}

/// `POST /containers/{id}/start`: `204`, `304` when it already runs.
pub async fn start(State(engine): State<AppState>, Path(id): Path<String>) -> Reply {
    engine.start_container(&id).await?;
    Ok(no_content())
}

/// The `signal` and `t` (seconds; `-1` waits for ever) of stop and restart.
fn stop_params(params: &Params) -> Result<(Option<String>, Option<i64>), HttpError> {
    let signal = params
        .get("signal")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok((signal, number(params, "t")?))
}

/// `POST /containers/{id}/stop?t=&signal=`: `204`, `304` when it is not running.
pub async fn stop(State(engine): State<AppState>, Path(id): Path<String>, params: Params) -> Reply {
    let (signal, timeout) = stop_params(&params)?;
    engine.stop_container(&id, signal, timeout).await?;
    Ok(no_content())
}

/// `POST /containers/{id}/restart?t=&signal=`.
pub async fn restart(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Reply {
    let (signal, timeout) = stop_params(&params)?;
    engine.restart_container(&id, signal, timeout).await?;
    Ok(no_content())
}

/// `POST /containers/{id}/kill?signal=`: `409` when it is not running.
pub async fn kill(State(engine): State<AppState>, Path(id): Path<String>, params: Params) -> Reply {
    let signal = params
        .get("signal")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    engine.kill_container(&id, signal).await?;
    Ok(no_content())
}

/// `POST /containers/{id}/pause`.
pub async fn pause(State(engine): State<AppState>, Path(id): Path<String>) -> Reply {
    engine.pause_container(&id).await?;
    Ok(no_content())
}

/// `POST /containers/{id}/unpause`.
pub async fn unpause(State(engine): State<AppState>, Path(id): Path<String>) -> Reply {
    engine.unpause_container(&id).await?;
    Ok(no_content())
}

/// `DELETE /containers/{id}?force=&v=&link=`.
pub async fn remove(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Reply {
    if params.bool("link") {
        return Err(ApiError::invalid(
            "container links are not supported: remove the container without link=1",
        )
        .into());
    }
    engine
        .remove_container(&id, params.bool("force"), params.bool("v"))
        .await?;
    Ok(no_content())
}

/// `POST /containers/{id}/rename?name=`.
pub async fn rename(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Reply {
    let name = params.str("name").to_string();
    if name.is_empty() {
        return Err(ApiError::invalid("give the new name: rename?name=NEW_NAME").into());
    }
    blocking(&engine, move |e| e.rename_container(&id, &name)).await?;
    Ok(no_content())
}

/// `POST /containers/{id}/update`: `200 {"Warnings"}`.
pub async fn update(State(engine): State<AppState>, Path(id): Path<String>, body: Bytes) -> Reply {
    let update: ContainerUpdate = json_body(&body, "container update")?;
    let resp = engine.update_container(&id, update).await?;
    Ok(json(&resp))
}

/// `POST /containers/{id}/upgrade` (Pouch): `200` once the container runs on the new image
/// (or, stopped, has it); `404` naming a missing image.
pub async fn upgrade(State(engine): State<AppState>, Path(id): Path<String>, body: Bytes) -> Reply {
    let config: ContainerUpgradeConfig = json_body(&body, "container upgrade config")?;
    engine.upgrade_container(&id, config).await?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /containers/{id}/top?ps_args=`.
pub async fn top(State(engine): State<AppState>, Path(id): Path<String>, params: Params) -> Reply {
    let ps_args = params.get("ps_args").filter(|a| !a.trim().is_empty());
    let top = engine.top_container(&id, ps_args).await?;
    Ok(json(&top))
}

/// The `h` and `w` of a resize.
pub fn resize_params(params: &Params) -> Result<(u16, u16), HttpError> {
    Ok((required_number(params, "h")?, required_number(params, "w")?))
}

/// `POST /containers/{id}/resize?h=&w=`: `200`.
pub async fn resize(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Reply {
    let (height, width) = resize_params(&params)?;
    engine.resize_container(&id, height, width).await?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /containers/{id}/changes`: not implemented (`501`).
pub async fn changes(Path(_id): Path<String>) -> Response {
    (
        StatusCode::NOT_IMPLEMENTED,
        Json(ErrorBody {
            message: "changes is not supported yet".to_string(),
        }),
    )
        .into_response()
}

/// `POST /containers/{id}/wait?condition=`: an invalid condition or an unknown container is
/// an ordinary error; otherwise `200` and the headers go out at once (`docker run` waits for
/// them before it starts the container) and `{"StatusCode","Error"}` follows at the exit.
pub async fn wait(State(engine): State<AppState>, Path(id): Path<String>, params: Params) -> Reply {
    let handle = engine.wait_container(&id, params.str("condition")).await?;
    Ok(deferred_json(handle.wait()))
}

/// `200` with its headers now and `fut`'s value as the JSON body when it resolves. A client
/// that goes away drops `fut`.
pub fn deferred_json<F, T>(fut: F) -> Response
where
    F: Future<Output = T> + Send + 'static,
    T: Serialize,
{
    let body =
        futures_util::stream::once(async move { Ok::<_, Infallible>(json_line(&fut.await)) });
    let mut resp = (StatusCode::OK, Body::from_stream(body)).into_response();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// `POST /containers/{id}/attach?stream=&stdin=&stdout=&stderr=&logs=&detachKeys=`: hijacks
/// the connection (see `hijack`).
pub async fn attach(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    params: Params,
    mut req: Request,
) -> Reply {
    let hijack = Hijack::take(&mut req);
    let opts = AttachOptions {
        stream: params.bool("stream"),
        // without an upgrade the client cannot send anything
        stdin: params.bool("stdin") && hijack.upgrades(),
        stdout: params.bool("stdout"),
        stderr: params.bool("stderr"),
        logs: params.bool("logs"),
        detach_keys: params
            .get("detachKeys")
            .filter(|k| !k.is_empty())
            .map(str::to_string),
    };
    let session = engine.attach_container(&id, opts).await?;
    Ok(hijack.respond(session))
}
