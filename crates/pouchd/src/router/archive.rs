//! Container filesystem routes: `HEAD|GET|PUT /containers/{id}/archive?path=` (`docker cp`)
//! and `GET /containers/{id}/export`. Stat and copy-out answer with
//! `X-Docker-Container-Path-Stat` (base64 JSON of the path's stat); archives stream both
//! ways through blocking engine calls, never held whole.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use pouch_api::container::PathStat;
use pouch_api::ApiError;

use super::stream::{body_reader, writer_response};
use super::{blocking, AppState, HttpError, Params, Reply};

/// The header that carries a path's stat.
pub const PATH_STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// The `path` parameter (required).
fn path_param(params: &Params) -> Result<String, HttpError> {
    let path = params.str("path");
    if path.is_empty() {
        return Err(ApiError::invalid("give the path in the container: archive?path=PATH").into());
    }
    Ok(path.to_string())
}

/// The header value for `stat`: standard base64 of its JSON (as Docker's client decodes it).
pub fn path_stat_header(stat: &PathStat) -> Result<HeaderValue, HttpError> {
    let json = serde_json::to_vec(stat)
        .map_err(|e| ApiError::internal(format!("cannot encode the path stat: {e}")))?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(json);
    HeaderValue::from_str(&encoded)
        .map_err(|e| ApiError::internal(format!("cannot encode the path stat header: {e}")).into())
}

async fn stat(engine: &AppState, id: String, path: String) -> Result<HeaderValue, HttpError> {
    let stat = blocking(engine, move |e| e.stat_container_path(&id, &path)).await?;
    path_stat_header(&stat)
}

/// `HEAD /containers/{id}/archive?path=`: `200` with the stat header, `404` when the path is
/// absent.
pub async fn head(State(engine): State<AppState>, Path(id): Path<String>, params: Params) -> Reply {
    let path = path_param(&params)?;
    let header = stat(&engine, id, path).await?;
    let mut resp = StatusCode::OK.into_response();
    resp.headers_mut().insert(PATH_STAT_HEADER, header);
    Ok(resp)
}

/// `GET /containers/{id}/archive?path=`: the path as a tar stream, with the stat header.
pub async fn get(State(engine): State<AppState>, Path(id): Path<String>, params: Params) -> Reply {
    let path = path_param(&params)?;
    let header = stat(&engine, id.clone(), path.clone()).await?;
    // the header goes before the tar, so the stat is taken first (as Docker does)
    let mut resp = writer_response("application/x-tar", move |out| {
        engine.get_container_archive(&id, &path, out).map(|_| ())
    })
    .await;
    if resp.status() == StatusCode::OK {
        resp.headers_mut().insert(PATH_STAT_HEADER, header);
    }
    Ok(resp)
}

/// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`: extracts the tar
/// body into the directory `path`; `200`.
pub async fn put(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    params: Params,
    body: Body,
) -> Reply {
    let path = path_param(&params)?;
    let no_overwrite = params.bool("noOverwriteDirNonDir");
    let copy_uid_gid = params.bool("copyUIDGID");
    let mut input = body_reader(body);
    blocking(&engine, move |e| {
        e.put_container_archive(&id, &path, no_overwrite, copy_uid_gid, &mut input)
    })
    .await?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /containers/{id}/export`: the container's filesystem as a tar stream.
pub async fn export(State(engine): State<AppState>, Path(id): Path<String>) -> Response {
    writer_response("application/x-tar", move |out| {
        engine.export_container(&id, out)
    })
    .await
}
