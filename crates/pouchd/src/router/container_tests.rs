//! Tests of the container, exec and events routes: query parsing, and the whole router over
//! a real engine (errors before any stream, fixed answers). Socket-level streaming tests are
//! in `sockets`.

mod sockets;

use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONNECTION, UPGRADE};
use axum::http::StatusCode;
use http_body_util::BodyExt;

use super::exec::start_config;
use super::logs::logs_options;
use super::test_engine::{self, TestApi};
use super::Params;

const TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn logs_parameters() {
    let e = logs_options(&Params::parse("follow=1")).unwrap_err().0;
    assert_eq!(e.kind.status(), 400);
    assert!(e.message.contains("you must choose at least one stream"));
    assert!(logs_options(&Params::parse("stdout=0&stderr=false")).is_err());
    let o = logs_options(&Params::parse(
        "follow=1&stdout=1&stderr=0&since=1700000000.5&timestamps=true&tail=10",
    ))
    .unwrap();
    assert!(o.follow && o.stdout && !o.stderr && o.timestamps);
    assert_eq!(o.tail, Some(10));
    assert_eq!(o.since, Some((1_700_000_000, 500_000_000)));
    assert!(o.until.is_none());
    assert!(logs_options(&Params::parse("stdout=1&until=soon")).is_err());

    for (q, want) in [
        ("tail=all", None),
        ("", None),
        ("tail=", None),
        ("tail=-1", None),
        ("tail=lots", None),
        ("tail=0", Some(0)),
        ("tail=5", Some(5)),
    ] {
        let o = logs_options(&Params::parse(&format!("stdout=1&{q}"))).unwrap();
        assert_eq!(o.tail, want, "{q}");
    }
}

#[test]
fn exec_start_bodies() {
    let c = start_config(&"".into()).unwrap();
    assert!(!c.detach && !c.tty);
    let c = start_config(&r#"{"Detach":true,"Tty":false}"#.into()).unwrap();
    assert!(c.detach);
    let c = start_config(&r#"{"Detach":false,"Tty":true,"ConsoleSize":[30,100]}"#.into()).unwrap();
    assert!(c.tty);
    assert_eq!(c.console_size, Some([30, 100]));
    assert_eq!(start_config(&"{".into()).unwrap_err().0.kind.status(), 400);
}

/// The whole router over a real engine on a temp home (no container exists in it).
struct EngineApi(TestApi);

fn engine_api() -> EngineApi {
    EngineApi(test_engine::api())
}

impl EngineApi {
    async fn call(&self, req: axum::http::request::Builder, body: &str) -> (StatusCode, String) {
        use tower::ServiceExt;
        let req = req.body(Body::from(body.to_string())).unwrap();
        let resp = tokio::time::timeout(TIMEOUT, self.0.app.clone().oneshot(req))
            .await
            .unwrap()
            .unwrap();
        let status = resp.status();
        let body = tokio::time::timeout(TIMEOUT, resp.into_body().collect())
            .await
            .unwrap()
            .unwrap()
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    async fn send(&self, method: &str, uri: &str) -> (StatusCode, String) {
        self.call(axum::http::Request::builder().method(method).uri(uri), "")
            .await
    }
}

fn message(body: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not json ({e}): {body:?}"));
    v["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn unknown_containers_are_404_before_any_stream() {
    let t = engine_api();
    for (method, uri) in [
        ("GET", "/v1.44/containers/nope/json"),
        ("POST", "/v1.44/containers/nope/start"),
        ("POST", "/v1.44/containers/nope/stop?t=1"),
        ("POST", "/v1.44/containers/nope/restart"),
        ("POST", "/v1.44/containers/nope/kill?signal=HUP"),
        ("POST", "/v1.44/containers/nope/pause"),
        ("POST", "/v1.44/containers/nope/unpause"),
        ("DELETE", "/v1.44/containers/nope?force=1&v=1"),
        ("POST", "/v1.44/containers/nope/rename?name=other"),
        ("GET", "/v1.44/containers/nope/top"),
        ("POST", "/v1.44/containers/nope/resize?h=24&w=80"),
        ("POST", "/v1.44/containers/nope/wait?condition=next-exit"),
        (
            "POST",
            "/v1.44/containers/nope/attach?stream=1&stdout=1&stderr=1",
        ),
        ("GET", "/v1.44/containers/nope/logs?stdout=1&follow=1"),
        ("GET", "/v1.44/containers/nope/stats?stream=0"),
        ("GET", "/v1.44/containers/nope/export"),
        ("GET", "/v1.44/containers/nope/archive?path=%2Fetc"),
        ("GET", "/v1.44/exec/nope/json"),
        ("POST", "/v1.44/exec/nope/resize?h=24&w=80"),
    ] {
        let (status, body) = t.send(method, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri}: {body}");
        assert!(message(&body).contains("nope"), "{method} {uri}: {body}");
    }
    // HEAD has no body, only the status
    let (status, _) = t.send("HEAD", "/containers/nope/archive?path=%2F").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // hijacks answer errors as JSON before switching
    for (uri, body) in [
        ("/containers/nope/attach?stream=1&stdin=1&stdout=1", ""),
        ("/exec/nope/start", r#"{"Detach":false,"Tty":false}"#),
    ] {
        let req = axum::http::Request::post(uri)
            .header(CONNECTION, "Upgrade")
            .header(UPGRADE, "tcp");
        let (status, answer) = t.call(req, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {answer}");
        assert!(message(&answer).contains("nope"), "{uri}: {answer}");
    }
    let (status, body) = t
        .call(
            axum::http::Request::post("/containers/nope/exec"),
            r#"{"Cmd":["true"],"AttachStdout":true}"#,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn bad_requests_are_400() {
    let t = engine_api();
    for (method, uri, want) in [
        (
            "GET",
            "/containers/nope/logs?follow=1",
            "at least one stream",
        ),
        ("GET", "/containers/nope/logs?stdout=1&since=soon", "since"),
        ("POST", "/containers/nope/resize?w=80", "parameter h"),
        ("POST", "/exec/nope/resize?h=x&w=80", "value for h"),
        ("POST", "/containers/nope/stop?t=soon", "value for t"),
        ("GET", "/containers/json?limit=many", "limit"),
        (
            "GET",
            "/containers/nope/stats?stream=1&one-shot=1",
            "one-shot",
        ),
        ("GET", "/containers/nope/archive", "path"),
        ("PUT", "/containers/nope/archive", "path"),
        ("POST", "/containers/nope/rename", "name"),
        ("POST", "/containers/create", "body"),
        ("GET", "/events?since=yesterday", "since"),
    ] {
        let (status, body) = t.send(method, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {uri}: {body}");
        assert!(message(&body).contains(want), "{method} {uri}: {body}");
    }
    let (status, body) = t
        .call(axum::http::Request::post("/containers/create"), "{not json")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn list_prune_changes_and_past_events() {
    let t = engine_api();
    for uri in [
        "/containers/json",
        "/v1.44/containers/json?all=1&limit=-1&size=0&trunc_cmd=0",
        "/containers/json?filters=%7B%22status%22%3A%7B%22running%22%3Atrue%7D%7D",
    ] {
        let (status, body) = t.send("GET", uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        assert_eq!(body, "[]", "{uri}");
    }
    let (status, body) = t.send("POST", "/containers/prune").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["SpaceReclaimed"], 0);
    let (status, body) = t.send("GET", "/containers/any/changes").await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(message(&body), "changes is not supported yet");
    // an `until` in the past ends the stream at once
    let (status, body) = t.send("GET", "/events?since=1&until=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "");
}
