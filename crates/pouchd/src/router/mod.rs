//! The HTTP API: one routing table (here) over one file per resource (`system`, `images`),
//! the version middleware (`version`), and the streaming helpers (`stream`). Handlers reach
//! the engine only; errors leave as Docker's `{"message": ...}` with the status of their kind.

mod archive;
mod containers;
mod daemon;
mod events;
mod exec;
mod hijack;
mod images;
mod logs;
mod lxcfs;
mod networks;
mod query;
mod stream;
mod system;
mod version;
mod volumes;

#[cfg(test)]
mod container_tests;
#[cfg(test)]
mod test_engine;
#[cfg(test)]
mod tests;

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pouch_api::{ApiError, ErrorKind, Filters};
use pouch_engine::Engine;

/// The state every handler gets.
pub type AppState = Arc<Engine>;

/// Builds the API: the routing table wrapped in the version middleware, which strips
/// `/vX.Y` before the table routes.
pub fn router(engine: Arc<Engine>) -> Router {
    let api = Router::new()
        // system.rs
        .route("/_ping", get(system::ping).head(system::ping_head))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/auth", post(system::auth))
        .route("/system/df", get(system::df))
        .route("/swarm/leave", post(system::swarm_leave))
        .route("/plugins", get(system::plugins))
        .route("/daemon/update", post(daemon::update))
        // images.rs
        .route("/images/json", get(images::list))
        .route("/images/create", post(images::create))
        .route("/images/get", get(images::save))
        .route("/images/save", get(images::save_pouch))
        .route("/images/load", post(images::load))
        .route("/images/prune", post(images::prune))
        .route(
            "/images/{*rest}",
            get(images::get_by_name)
                .post(images::post_by_name)
                .delete(images::remove),
        )
        // containers.rs, logs.rs, archive.rs
        .route("/containers/create", post(containers::create))
        .route("/containers/json", get(containers::list))
        .route("/containers/prune", post(containers::prune))
        .route(
            "/containers/{id}",
            axum::routing::delete(containers::remove),
        )
        .route("/containers/{id}/json", get(containers::inspect))
        .route("/containers/{id}/start", post(containers::start))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/restart", post(containers::restart))
        .route("/containers/{id}/kill", post(containers::kill))
        .route("/containers/{id}/pause", post(containers::pause))
        .route("/containers/{id}/unpause", post(containers::unpause))
        .route("/containers/{id}/rename", post(containers::rename))
        .route("/containers/{id}/update", post(containers::update))
        .route("/containers/{id}/upgrade", post(containers::upgrade))
        .route("/containers/{id}/top", get(containers::top))
        .route("/containers/{id}/resize", post(containers::resize))
        .route("/containers/{id}/changes", get(containers::changes))
        .route("/containers/{id}/wait", post(containers::wait))
        .route("/containers/{id}/attach", post(containers::attach))
        .route("/containers/{id}/logs", get(logs::logs))
        .route("/containers/{id}/stats", get(logs::stats))
        .route(
            "/containers/{id}/archive",
            axum::routing::head(archive::head)
                .get(archive::get)
                .put(archive::put),
        )
        .route("/containers/{id}/export", get(archive::export))
        .route("/containers/{id}/remount-lxcfs", post(lxcfs::remount))
        // exec.rs
        .route("/containers/{id}/exec", post(exec::create))
        .route("/exec/{id}/start", post(exec::start))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/exec/{id}/json", get(exec::inspect))
        // events.rs
        .route("/events", get(events::events))
        .merge(networks::routes())
        .merge(volumes::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(engine);
    Router::new()
        .fallback_service(api)
        .layer(axum::middleware::from_fn(version::middleware))
}

async fn not_found() -> HttpError {
    HttpError(ApiError::not_found("page not found"))
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(ApiError::new(ErrorKind::InvalidArgument, "method not allowed").body()),
    )
        .into_response()
}

/// An `ApiError` on its way out: the status of its kind and `{"message": ...}`.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        HttpError(e)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        error_response(&self.0)
    }
}

/// Docker's error answer (`304` has no body).
pub fn error_response(e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if e.kind == ErrorKind::NotModified {
        return status.into_response();
    }
    if e.kind == ErrorKind::Internal {
        tracing::warn!(status = status.as_u16(), "{}", e.message);
    } else {
        tracing::debug!(status = status.as_u16(), "{}", e.message);
    }
    (status, Json(e.body())).into_response()
}

/// What a handler returns.
pub type Reply = Result<Response, HttpError>;

/// Runs a blocking engine call (metadata reads and writes, file removal) off the runtime.
pub async fn blocking<T, F>(engine: &AppState, f: F) -> Result<T, HttpError>
where
    T: Send + 'static,
    F: FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
{
    let engine = engine.clone();
    match tokio::task::spawn_blocking(move || f(&engine)).await {
        Ok(r) => r.map_err(HttpError),
        Err(e) => Err(HttpError(ApiError::internal(format!(
            "internal error: engine task failed: {e}"
        )))),
    }
}

/// The query string, decoded, keeping repeated keys (`names=a&names=b`) in order.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: &str) -> Params {
        let decode = |s: &str| {
            let s = s.replace('+', " ");
            urlencoding::decode(&s).map(|c| c.into_owned()).unwrap_or(s)
        };
        Params(
            query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(p), String::new()),
                })
                .collect(),
        )
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key`, or "" when absent.
    pub fn str(&self, key: &str) -> &str {
        self.get(key).unwrap_or("")
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Docker's boolean parameter: absent, "", "0", "no", "false", "none" are false.
    pub fn bool(&self, key: &str) -> bool {
        self.bool_or(key, false)
    }

    /// As `bool`, with a default when the parameter is absent.
    pub fn bool_or(&self, key: &str, default: bool) -> bool {
        match self.get(key) {
            None => default,
            Some(v) => {
                let v = v.trim().to_ascii_lowercase();
                !matches!(v.as_str(), "" | "0" | "no" | "false" | "none")
            }
        }
    }

    /// The `filters` parameter (either encoding).
    pub fn filters(&self) -> Result<Filters, HttpError> {
        Ok(Filters::parse(self.str("filters"))?)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Params::parse(parts.uri.query().unwrap_or("")))
    }
}

/// `200` with a JSON body.
pub fn json<T: serde::Serialize>(value: &T) -> Response {
    Json(value).into_response()
}

/// `201 Created` with a JSON body.
pub fn created<T: serde::Serialize>(value: &T) -> Response {
    (StatusCode::CREATED, Json(value)).into_response()
}

/// `204 No Content`.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
