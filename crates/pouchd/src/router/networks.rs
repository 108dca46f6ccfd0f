//! The `/networks` endpoints: list, inspect, create, remove, connect, disconnect and prune.
//! Each handler parses the query or body and calls one engine method.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use pouch_api::network::{NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest};
use pouch_api::ApiError;

use super::containers::json_body;
use super::{json, AppState, HttpError, Params, Reply};

/// The routes of this file, merged into the table in `mod.rs`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/networks", get(list))
        .route("/networks/", get(list))
        .route("/networks/create", post(create))
        .route("/networks/prune", post(prune))
        .route("/networks/{id}", get(inspect).delete(remove))
        .route("/networks/{id}/connect", post(connect))
        .route("/networks/{id}/disconnect", post(disconnect))
}

/// `GET /networks?filters=` (filters: driver, id, label, name, scope, type, dangling).
pub async fn list(State(engine): State<AppState>, params: Params) -> Reply {
    let filters = params.filters()?;
    let networks = engine.list_networks(&filters).await?;
    Ok(json(&networks))
}

/// The `scope` of an inspect: every network is `local`, so another scope finds nothing.
fn check_scope(params: &Params, id: &str) -> Result<(), HttpError> {
    match params.str("scope") {
        "" | "local" => Ok(()),
        _ => Err(ApiError::not_found(format!("network {id} not found")).into()),
    }
}

/// `GET /networks/{id}?verbose=&scope=`: `verbose` adds nothing for local networks.
pub async fn inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Reply {
    check_scope(&params, &id)?;
    let network = engine.inspect_network(&id).await?;
    Ok(json(&network))
}

/// `POST /networks/create`: `201 {"Id","Warning"}`.
pub async fn create(State(engine): State<AppState>, body: Bytes) -> Reply {
    let req: NetworkCreateRequest = json_body(&body, "network config")?;
    let created = engine.create_network(req).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `DELETE /networks/{id}`: `204`; `403` for the built-in networks, `409` while containers
/// are attached.
pub async fn remove(State(engine): State<AppState>, Path(id): Path<String>) -> Reply {
    engine.remove_network(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /networks/{id}/connect` `{"Container","EndpointConfig"}`: `200`.
pub async fn connect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let req: NetworkConnectRequest = json_body(&body, "network connect config")?;
    check_container(&req.container)?;
    engine.connect_network(&id, req).await?;
    Ok(StatusCode::OK.into_response())
}

/// `POST /networks/{id}/disconnect` `{"Container","Force"}`: `200`.
pub async fn disconnect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let req: NetworkDisconnectRequest = json_body(&body, "network disconnect config")?;
    check_container(&req.container)?;
    engine.disconnect_network(&id, req).await?;
    Ok(StatusCode::OK.into_response())
}

/// A connect or disconnect body names the container.
fn check_container(container: &str) -> Result<(), HttpError> {
    if container.is_empty() {
        return Err(ApiError::invalid(
            "the request body names no container: send {\"Container\": \"NAME_OR_ID\"}",
        )
        .into());
    }
    Ok(())
}

/// `POST /networks/prune?filters=` (filters: until, label, label!): `200
/// {"NetworksDeleted"}`.
pub async fn prune(State(engine): State<AppState>, params: Params) -> Reply {
    let filters = params.filters()?;
    let report = engine.prune_networks(&filters).await?;
    Ok(json(&report))
}
