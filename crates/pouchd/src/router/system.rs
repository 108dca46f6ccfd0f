//! System routes: `/_ping` (HEAD and GET, with Docker's headers), `/version`, `/info`,
//! `/auth`, `/system/df`, and the swarm and plugin answers Docker clients expect from a
//! daemon without either.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, PRAGMA};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pouch_api::system::AuthConfig;
use pouch_api::{ApiError, ErrorKind};

use super::{blocking, json, AppState, HttpError, Reply};

fn ping_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("Swarm", HeaderValue::from_static("inactive"));
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    // Api-Version, Ostype, Docker-Experimental and Server come from the version middleware
    h
}

/// `GET /_ping`: `OK`.
pub async fn ping() -> Response {
    (StatusCode::OK, ping_headers(), "OK").into_response()
}

/// `HEAD /_ping`: the same headers, no body.
pub async fn ping_head() -> Response {
    let mut h = ping_headers();
    h.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    (StatusCode::OK, h).into_response()
}

/// `GET /version`.
pub async fn version(State(engine): State<AppState>) -> Response {
    json(&engine.version())
}

/// `GET /info`.
pub async fn info(State(engine): State<AppState>) -> Reply {
    let info = blocking(&engine, |e| Ok(e.info())).await?;
    Ok(json(&info))
}

/// `POST /auth`: checks credentials against the registry (`{"Status":"Login Succeeded"}`).
pub async fn auth(State(engine): State<AppState>, body: Bytes) -> Reply {
    let auth: AuthConfig = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("invalid auth config in the request body: {e}")))?;
    let resp = engine.login(&auth).await?;
    Ok(json(&resp))
}

/// `GET /system/df`.
pub async fn df(State(engine): State<AppState>) -> Reply {
    let df = blocking(&engine, |e| e.disk_usage()).await?;
    Ok(json(&df))
}

/// `POST /swarm/leave`: this daemon has no swarm (docker-py treats 503 as success).
pub async fn swarm_leave() -> HttpError {
    HttpError(ApiError::new(
        ErrorKind::Unavailable,
        "This node is not part of a swarm",
    ))
}

/// `GET /plugins`: no plugins.
pub async fn plugins() -> Response {
    json(&Vec::<serde_json::Value>::new())
}
