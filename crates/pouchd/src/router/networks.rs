//! The `/networks` endpoints: list, inspect, create, remove, connect, disconnect and prune.
//! Each handler parses the query or body and calls one engine method.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use pouch_api::network::{NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest};
use pouch_api::ApiError;

use super::containers::json_body;
use super::{created, json, no_content, AppState, HttpError, Params, Reply};

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
    Ok(created(&engine.create_network(req).await?))
}

/// `DELETE /networks/{id}`: `204`; `403` for the built-in networks, `409` while containers
/// are attached.
pub async fn remove(State(engine): State<AppState>, Path(id): Path<String>) -> Reply {
    engine.remove_network(&id).await?;
    Ok(no_content())
}

/// `POST /networks/{id}/connect` `{"Container","EndpointConfig"}`: `200`.
pub async fn connect(State(engine): State<AppState>, Path(id): Path<String>, body: Bytes) -> Reply {
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

#[cfg(test)]
mod tests {
    //! The whole router over a real engine on a temp home. The engine is not initialised
    //! (no bridge device or firewall is touched): the built-in networks exist as records,
    //! and nothing here creates a network.

    use axum::http::StatusCode;
    use serde_json::Value;

    use crate::router::test_engine::api;

    fn message(v: &Value) -> &str {
        v["message"].as_str().unwrap_or_default()
    }

    #[tokio::test]
    async fn builtins_list_and_inspect() {
        let t = api();
        for uri in ["/networks", "/v1.44/networks", "/networks/"] {
            let (status, v) = t.call_json("GET", uri, "").await;
            assert_eq!(status, StatusCode::OK, "{uri}: {v}");
            let names: Vec<&str> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["Name"].as_str().unwrap())
                .collect();
            for want in ["bridge", "host", "none"] {
                assert!(names.contains(&want), "{uri}: {names:?}");
            }
        }
        let (status, v) = t
            .call_json(
                "GET",
                "/networks?filters=%7B%22driver%22%3A%7B%22host%22%3Atrue%7D%7D",
                "",
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
        assert_eq!(v[0]["Name"], "host");

        let (status, v) = t
            .call_json(
                "GET",
                "/v1.44/networks/bridge?verbose=false&scope=local",
                "",
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["Name"], "bridge");
        assert_eq!(v["Driver"], "bridge");
        assert_eq!(v["Scope"], "local");
        assert_eq!(v["IPAM"]["Driver"], "default");
        assert!(v["Containers"].is_object());
    }

    #[tokio::test]
    async fn errors_have_dockers_statuses() {
        let t = api();
        for (method, uri, body) in [
            ("GET", "/networks/nope", ""),
            ("GET", "/networks/bridge?scope=swarm", ""),
            ("DELETE", "/networks/nope", ""),
            ("POST", "/networks/nope/connect", r#"{"Container":"web"}"#),
            (
                "POST",
                "/networks/nope/disconnect",
                r#"{"Container":"web"}"#,
            ),
            (
                "POST",
                "/networks/bridge/connect",
                r#"{"Container":"nope","EndpointConfig":null}"#,
            ),
        ] {
            let (status, v) = t.call_json(method, uri, body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri}: {v}");
            assert!(message(&v).contains("nope") || uri.contains("swarm"), "{v}");
        }
        let (status, v) = t.call_json("DELETE", "/networks/bridge", "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
        for (method, uri, body, want) in [
            ("POST", "/networks/create", "", "body is empty"),
            (
                "POST",
                "/networks/create",
                "{not json",
                "invalid network config",
            ),
            (
                "POST",
                "/networks/bridge/connect",
                "{}",
                "names no container",
            ),
            ("POST", "/networks/bridge/disconnect", "", "body is empty"),
            ("GET", "/networks?filters=%5B1%5D", "", "invalid filters"),
            (
                "POST",
                "/networks/prune?filters=nope",
                "",
                "invalid filters",
            ),
        ] {
            let (status, v) = t.call_json(method, uri, body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {uri}: {v}");
            assert!(message(&v).contains(want), "{method} {uri}: {v}");
        }
    }

    #[tokio::test]
    async fn prune_keeps_the_builtins() {
        let t = api();
        let (status, v) = t.call_json("POST", "/networks/prune", "").await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let deleted = v["NetworksDeleted"].as_array().cloned().unwrap_or_default();
        assert!(deleted.is_empty(), "{v}");
        let (_, v) = t.call_json("GET", "/networks", "").await;
        assert_eq!(v.as_array().unwrap().len(), 3, "{v}");
    }
}
