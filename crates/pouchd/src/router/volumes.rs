//! The `/volumes` endpoints: list, create, inspect, remove and prune. Each handler parses the
//! query or body and calls one engine method.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use pouch_api::volume::VolumeCreateRequest;

use super::containers::json_body;
use super::{blocking, created, json, no_content, AppState, HttpError, Params, Reply};

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
    Ok(created(&engine.create_volume(req).await?))
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
    Ok(no_content())
}

/// `POST /volumes/prune?filters=` (filters: label, label!, all): `200
/// {"VolumesDeleted","SpaceReclaimed"}`; only anonymous volumes unless `all=true`.
/// `POST /volumes/prune`. Before API 1.42 Docker pruned every unused volume, named ones
/// too; from 1.42 only anonymous ones unless `all=true`.
pub async fn prune(
    State(engine): State<AppState>,
    version: Option<axum::Extension<super::version::RequestedVersion>>,
    params: Params,
) -> Reply {
    let mut filters = params.filters()?;
    if version.is_some_and(|v| v.older_than("1.42")) && filters.get("all").is_empty() {
        filters.add("all", "true");
    }
    let report = engine.prune_volumes(&filters).await?;
    Ok(json(&report))
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::{json, Value};

    use crate::router::test_engine::api;

    /// The names in a list answer, sorted.
    fn names(list: &Value) -> Vec<String> {
        let mut names: Vec<String> = list["Volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["Name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn create_inspect_list_remove() {
        let api = api();
        let (status, v) = api
            .call_json(
                "POST",
                "/v1.44/volumes/create",
                r#"{"Name":"vx","Driver":"local","DriverOpts":{},"Labels":{"a":"b"}}"#,
            )
            .await;
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["Name"], "vx");
        assert_eq!(v["Driver"], "local");
        assert_eq!(v["Scope"], "local");
        assert_eq!(v["Labels"], json!({"a": "b"}));
        assert!(v.get("UsageData").is_none(), "{v}");
        let mountpoint = v["Mountpoint"].as_str().unwrap().to_string();
        assert!(
            mountpoint.starts_with(api.home.to_str().unwrap()),
            "{mountpoint}"
        );
        assert!(std::path::Path::new(&mountpoint).is_dir());

        // The same name again answers with the existing volume.
        let (status, again) = api
            .call_json("POST", "/volumes/create", r#"{"Name":"vx"}"#)
            .await;
        assert_eq!(status, 201, "{again}");
        assert_eq!(again["CreatedAt"], v["CreatedAt"]);

        // An empty body makes a volume with a generated name.
        let (status, gen) = api.call_json("POST", "/volumes/create", "").await;
        assert_eq!(status, 201, "{gen}");
        let gen_name = gen["Name"].as_str().unwrap().to_string();
        assert_eq!(gen_name.len(), 64, "{gen_name}");

        let (status, inspected) = api.call_json("GET", "/volumes/vx", "").await;
        assert_eq!(status, 200);
        assert_eq!(inspected, v);

        let (status, list) = api.call_json("GET", "/volumes", "").await;
        assert_eq!(status, 200);
        assert_eq!(list["Warnings"], json!([]));
        let mut expected = vec!["vx".to_string(), gen_name.clone()];
        expected.sort();
        assert_eq!(names(&list), expected);
        let (status, list) = api
            .call_json(
                "GET",
                "/volumes?filters=%7B%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%7D",
                "",
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(names(&list), ["vx"]);
        let (status, e) = api
            .call_json(
                "GET",
                "/volumes?filters=%7B%22nope%22%3A%5B%22x%22%5D%7D",
                "",
            )
            .await;
        assert_eq!(status, 400, "{e}");

        let (status, _) = api.call_json("DELETE", "/volumes/vx", "").await;
        assert_eq!(status, 204);
        assert!(!std::path::Path::new(&mountpoint).exists());
        let (status, e) = api.call_json("GET", "/volumes/vx", "").await;
        assert_eq!(status, 404, "{e}");
        assert!(e["message"].as_str().unwrap().contains("vx"), "{e}");
        let (status, _) = api.call_json("DELETE", "/volumes/vx", "").await;
        assert_eq!(status, 404);
        let (status, _) = api.call_json("DELETE", "/volumes/vx?force=1", "").await;
        assert_eq!(status, 204);
    }

    #[tokio::test]
    async fn bad_bodies_are_400() {
        let api = api();
        let (status, e) = api.call_json("POST", "/volumes/create", "{nope").await;
        assert_eq!(status, 400, "{e}");
        let (status, e) = api
            .call_json("POST", "/volumes/create", r#"{"Name":"/bad"}"#)
            .await;
        assert_eq!(status, 400, "{e}");
        let (status, e) = api
            .call_json(
                "POST",
                "/volumes/create",
                r#"{"Name":"vy","DriverOpts":{"nonsense":"1"}}"#,
            )
            .await;
        assert_eq!(status, 400, "{e}");
        assert!(e["message"].as_str().unwrap().contains("nonsense"), "{e}");
    }

    #[tokio::test]
    async fn prune_named_only_with_all() {
        let api = api();
        for name in ["keep", "gone"] {
            let body = format!(r#"{{"Name":"{name}","Labels":{{"t":"{name}"}}}}"#);
            let (status, v) = api.call_json("POST", "/volumes/create", &body).await;
            assert_eq!(status, 201, "{v}");
        }
        // Named volumes are not anonymous: a plain prune keeps them.
        let (status, report) = api.call_json("POST", "/volumes/prune", "").await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report, json!({"VolumesDeleted": [], "SpaceReclaimed": 0}));
        // all=true with a label filter removes the matching one only.
        let filters = urlencoding::encode(r#"{"all":{"true":true},"label":{"t=gone":true}}"#);
        let (status, report) = api
            .call_json("POST", &format!("/volumes/prune?filters={filters}"), "")
            .await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["VolumesDeleted"], json!(["gone"]));
        let (_, list) = api.call_json("GET", "/volumes", "").await;
        assert_eq!(names(&list), ["keep"]);
        // /v1.44 keeps named volumes; before 1.42 every unused volume goes.
        let (_, report) = api.call_json("POST", "/v1.44/volumes/prune", "").await;
        assert_eq!(report["VolumesDeleted"], json!([]));
        let (status, report) = api.call_json("POST", "/v1.41/volumes/prune", "").await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["VolumesDeleted"], json!(["keep"]));
    }

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
