//! `POST /daemon/update` (Pouch's route): changes the labels, registry mirrors, insecure
//! registries and debug logging of the running daemon. The engine checks and applies the
//! update; its hooks (`crate::live`) write it into the config file first.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use pouch_api::system::DaemonUpdateConfig;
use pouch_api::ApiError;

use super::{blocking, AppState, Reply};

/// The fields of the body.
const FIELDS: &[&str] = &["Labels", "RegistryMirrors", "InsecureRegistries", "Debug"];

/// `POST /daemon/update`: `200` with no body once the change is applied and persisted.
pub async fn update(State(engine): State<AppState>, body: Bytes) -> Reply {
    let update = parse(&body)?;
    blocking(&engine, move |e| e.update_daemon(&update)).await?;
    Ok(StatusCode::OK.into_response())
}

/// The body: an empty one is an empty update; an unknown field is refused rather than
/// ignored, so a misspelt setting does not pass for a change.
fn parse(body: &[u8]) -> Result<DaemonUpdateConfig, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(DaemonUpdateConfig::default());
    }
    let bad = |e: serde_json::Error| {
        ApiError::invalid(format!("invalid daemon update in the request body: {e}"))
    };
    let value: serde_json::Value = serde_json::from_slice(body).map_err(bad)?;
    if let serde_json::Value::Object(map) = &value {
        if let Some(key) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(ApiError::invalid(format!(
                "unknown field {key:?} in the daemon update: the fields are {}",
                FIELDS.join(", ")
            )));
        }
    }
    serde_json::from_value(value).map_err(bad)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::StatusCode;
    use serde_json::json;

    use super::super::test_engine::api;
    use crate::config::DaemonConfig;
    use crate::config_file::ConfigFile;
    use crate::live::{tests::detached_log, LiveUpdates};

    /// The router over an engine whose updates go to a config file made from `args`
    /// (pouchd's flags after `--config-file <file>`), which holds `file_text`.
    fn with_config(
        file_text: &str,
        args: &[&str],
    ) -> (
        super::super::test_engine::TestApi,
        tempfile::TempDir,
        std::path::PathBuf,
        impl tracing::Subscriber,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        std::fs::write(&file, file_text).unwrap();
        let file_arg = file.display().to_string();
        let argv = ["pouchd", "--config-file", file_arg.as_str()]
            .into_iter()
            .chain(args.iter().copied());
        let cfg = DaemonConfig::from_args(argv).unwrap();
        let t = api();
        let (subscriber, log) = detached_log(false);
        t.engine
            .set_daemon_hooks(Arc::new(LiveUpdates::new(ConfigFile::of(&cfg), log)))
            .unwrap();
        (t, dir, file, subscriber)
    }

    fn read(file: &std::path::Path) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn an_update_shows_in_info_and_is_written_to_the_config_file() {
        let (t, _dir, file, _sub) = with_config(r#"{"mtu": 1400}"#, &[]);
        let body = json!({
            "Labels": ["zone=a", "rack=1"],
            "RegistryMirrors": ["http://127.0.0.1:5999"],
            "InsecureRegistries": ["reg.local:5000"],
            "Debug": true
        });
        let (status, answer) = t
            .call_json("POST", "/v1.44/daemon/update", &body.to_string())
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer, serde_json::Value::Null, "no body");
        let info = t.get("/info").await.json();
        assert_eq!(info["Labels"], json!(["zone=a", "rack=1"]));
        assert_eq!(info["Debug"], true);
        assert_eq!(
            info["RegistryConfig"]["Mirrors"],
            json!(["http://127.0.0.1:5999/"])
        );
        assert_eq!(
            info["RegistryConfig"]["IndexConfigs"]["reg.local:5000"]["Secure"],
            false
        );
        assert_eq!(
            read(&file),
            json!({
                "mtu": 1400, "label": ["zone=a", "rack=1"],
                "registry-mirror": ["http://127.0.0.1:5999"],
                "insecure-registry": ["reg.local:5000"], "debug": true
            })
        );

        // unversioned path; `k` removes a label, an empty list clears the mirrors
        let (status, _) = t
            .call_json(
                "POST",
                "/daemon/update",
                r#"{"Labels": ["zone"], "RegistryMirrors": []}"#,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let info = t.get("/info").await.json();
        assert_eq!(info["Labels"], json!(["rack=1"]));
        assert_eq!(info["RegistryConfig"]["Mirrors"], json!([]));
        let written = read(&file);
        assert_eq!(written["label"], json!(["rack=1"]));
        assert_eq!(written["registry-mirror"], json!([]));
        assert_eq!(written["debug"], true, "left as it was");
    }

    #[tokio::test]
    async fn refused_updates_name_the_problem_and_change_nothing() {
        let (t, _dir, file, _sub) = with_config("{}", &["--label", "fixed=1"]);
        let before = t.get("/info").await.json();
        for (body, says) in [
            (
                r#"{"RegistryMirrors": ["ftp://bad.mirror"]}"#,
                "ftp://bad.mirror",
            ),
            (r#"{"InsecureRegistries": ["10.0.0.0/77"]}"#, "10.0.0.0/77"),
            (r#"{"Labels": ["=v"]}"#, "\"=v\""),
            (r#"{"Lables": ["a=b"]}"#, "unknown field \"Lables\""),
            (r#"{"Debug": "yes"}"#, "invalid daemon update"),
            ("[1", "invalid daemon update"),
            (
                r#"{"Debug": true, "Labels": ["a=b"]}"#,
                "--label was given on pouchd's command line",
            ),
        ] {
            let (status, answer) = t.call_json("POST", "/daemon/update", body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
            let message = answer["message"].as_str().unwrap();
            assert!(message.contains(says), "{body}: {message}");
        }
        let after = t.get("/info").await.json();
        for key in ["Labels", "Debug", "RegistryConfig"] {
            assert_eq!(after[key], before[key], "{key}");
        }
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "{}");

        // what the command line does not fix can still change
        let (status, _) = t
            .call_json("POST", "/v1.24/daemon/update", r#"{"Debug": true}"#)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(read(&file), json!({"debug": true}));
        // GET is not a route of it
        let a = t.get("/daemon/update").await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn an_empty_update_does_nothing() {
        let (t, _dir, file, _sub) = with_config("{}", &[]);
        for body in ["", "{}"] {
            let (status, _) = t.call_json("POST", "/daemon/update", body).await;
            assert_eq!(status, StatusCode::OK, "{body:?}");
        }
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "{}");
    }
}
