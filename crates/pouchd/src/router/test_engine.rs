//! Test support shared by the router tests: a real engine opened on a temp home dir with the
//! whole router (version middleware included) over it, and one request sent through it.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use pouch_engine::{Engine, EngineConfig, RegistryConfig};
use serde_json::Value;
use tower::ServiceExt;

/// The address the engine is told it listens on (`info` reports it).
pub const LISTEN_ADDRESS: &str = "unix:///tmp/test.sock";

/// An engine on a temp home (not initialised: no bridge device or firewall is touched) and
/// the router over it.
pub struct TestApi {
    _dir: tempfile::TempDir,
    pub home: std::path::PathBuf,
    pub engine: Arc<Engine>,
    pub app: Router,
}

/// Opens a fresh engine and router.
pub fn api() -> TestApi {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let engine = Engine::open(EngineConfig {
        network: Default::default(),
        labels: Vec::new(),
        lxcfs: Default::default(),
        home_dir: home.clone(),
        exec_root: dir.path().join("exec"),
        registry: RegistryConfig::default(),
        max_concurrent_downloads: 3,
        debug: false,
        listen_addresses: vec![LISTEN_ADDRESS.to_string()],
        runtime: Default::default(),
    })
    .unwrap();
    let app = super::router(engine.clone());
    TestApi {
        _dir: dir,
        home,
        engine,
        app,
    }
}

/// A whole answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not json ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as JSON, `null` when empty.
    pub fn json_or_null(&self) -> Value {
        if self.body.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// The lines of a JSON progress stream.
    pub fn lines(&self) -> Vec<Value> {
        let text = String::from_utf8(self.body.to_vec()).unwrap();
        assert!(text.is_empty() || text.ends_with("\r\n"), "{text:?}");
        text.split_terminator("\r\n")
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// A header's value, empty when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

impl TestApi {
    /// `method uri` with `body`.
    pub async fn call(&self, method: Method, uri: &str, body: impl Into<Body>) -> Answer {
        self.call_with(Request::builder().method(method).uri(uri), body)
            .await
    }

    /// The request `req` with `body`.
    pub async fn call_with(
        &self,
        req: axum::http::request::Builder,
        body: impl Into<Body>,
    ) -> Answer {
        let resp = self
            .app
            .clone()
            .oneshot(req.body(body.into()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// `method uri` with a text body: the status and the body as JSON (`null` when empty).
    pub async fn call_json(&self, method: &str, uri: &str, body: &str) -> (StatusCode, Value) {
        let answer = self
            .call_with(Request::builder().method(method).uri(uri), body.to_string())
            .await;
        (answer.status, answer.json_or_null())
    }

    /// `GET uri`.
    pub async fn get(&self, uri: &str) -> Answer {
        self.call(Method::GET, uri, Body::empty()).await
    }
}
