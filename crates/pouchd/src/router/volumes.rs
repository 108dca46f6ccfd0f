//! The `/volumes` endpoints: list, create, inspect, remove and prune. Each handler parses the
//! query or body and calls one engine method.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use pouch_api::volume::VolumeCreateRequest;

use super::containers::json_body;
use super::{blocking, json, AppState, HttpError, Params, Reply};

/// The routes of this file, merged into the table in `mod.rs`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/volumes", get(list))
        .route("/volumes/", get(list))
        .route("/volumes/create", post(create))
        .route("/volumes/prune", post(prune))
        .route("/volumes/{name}", get(inspect).delete(remove))
}

/// `GET /volumes?filters=` (filters: dangling, driver, label, name): `200
/// {"Volumes":[...],"Warnings":[]}`.
pub async fn list(State(engine): State<AppState>, params: Params) -> Reply {
    let filters = params.filters()?;
    let volumes = blocking(&engine, move |e| e.list_volumes(&filters)).await?;
    Ok(json(&volumes))
}

/// The create body; an empty body asks for a `local` volume with a generated name, as
/// Docker's `ReadJSON` allows.
fn create_body(body: &Bytes) -> Result<VolumeCreateRequest, HttpError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(VolumeCreateRequest::default());
    }
    json_body(body, "volume config")
}

/// `POST /volumes/create` `{"Name","Driver","DriverOpts","Labels"}`: `201` and the volume.
pub async fn create(State(engine): State<AppState>, body: Bytes) -> Reply {
    let req = create_body(&body)?;
    let volume = engine.create_volume(req).await?;
    Ok((StatusCode::CREATED, Json(volume)).into_response())
}

/// `GET /volumes/{name}`: `200` and the volume, `404` when there is none by that name.
pub async fn inspect(State(engine): State<AppState>, Path(name): Path<String>) -> Reply {
    let volume = blocking(&engine, move |e| e.inspect_volume(&name)).await?;
    Ok(json(&volume))
}

/// `DELETE /volumes/{name}?force=`: `204`; `404` when missing, `409` while containers use
/// it (`force` goes to the engine as it is).
pub async fn remove(
    State(engine): State<AppState>,
    Path(name): Path<String>,
    params: Params,
) -> Reply {
    engine.remove_volume(&name, params.bool("force")).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /volumes/prune?filters=` (filters: label, label!, all): `200
/// {"VolumesDeleted","SpaceReclaimed"}`; only anonymous volumes unless `all=true`.
pub async fn prune(State(engine): State<AppState>, params: Params) -> Reply {
    let filters = params.filters()?;
    let report = engine.prune_volumes(&filters).await?;
    Ok(json(&report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_empty_or_json() {
        assert_eq!(
            create_body(&Bytes::from_static(b"")).unwrap(),
            VolumeCreateRequest::default()
        );
        assert_eq!(
            create_body(&Bytes::from_static(b" \n")).unwrap(),
            VolumeCreateRequest::default()
        );
        let req = create_body(&Bytes::from_static(
            br#"{"Name":"x","Driver":"local","DriverOpts":{},"Labels":{}}"#,
        ))
        .unwrap();
        assert_eq!(req.name, "x");
        assert_eq!(req.driver, "local");
        let err = create_body(&Bytes::from_static(b"{nope")).unwrap_err().0;
        assert_eq!(err.kind.status(), 400);
        assert!(err.message.contains("volume config"), "{}", err.message);
    }
}
