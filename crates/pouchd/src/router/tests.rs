//! Router tests in-process: requests go through the whole router (version middleware
//! included) into a real engine opened on a temp home dir.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode};

use super::test_engine::{api, Answer, LISTEN_ADDRESS};

/// A plain rootfs tar with a few files.
fn rootfs_tar(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    h.set_mtime(1_700_000_000);
    b.append_data(&mut h, "etc", std::io::empty()).unwrap();
    for (path, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(content.len() as u64);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, path, content.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

fn assert_api_headers(a: &Answer) {
    assert_eq!(a.header("api-version"), "1.44");
    assert_eq!(a.header("ostype"), "linux");
    assert_eq!(a.header("docker-experimental"), "false");
    assert!(
        a.header("server").starts_with("Pouch/"),
        "{}",
        a.header("server")
    );
}

#[tokio::test]
async fn ping_has_dockers_headers() {
    let t = api();
    for method in [Method::GET, Method::HEAD] {
        for path in ["/_ping", "/v1.44/_ping", "/v1.24/_ping"] {
            let a = t.call(method.clone(), path, Body::empty()).await;
            assert_eq!(a.status, StatusCode::OK, "{method} {path}");
            assert_api_headers(&a);
            assert_eq!(a.header("swarm"), "inactive");
            assert_eq!(
                a.header("cache-control"),
                "no-cache, no-store, must-revalidate"
            );
            assert_eq!(a.header("pragma"), "no-cache");
            assert_eq!(a.header("content-type"), "text/plain; charset=utf-8");
            if method == Method::GET {
                assert_eq!(&a.body[..], b"OK");
            } else {
                assert!(a.body.is_empty());
                assert_eq!(a.header("content-length"), "0");
            }
        }
    }
}

#[tokio::test]
async fn version_prefix_rules() {
    let t = api();
    for path in [
        "/version",
        "/v1.24/version",
        "/v1.40/version",
        "/v1.44/version",
    ] {
        let a = t.get(path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        let v = a.json();
        assert_eq!(v["ApiVersion"], "1.44");
        assert_eq!(v["MinAPIVersion"], "1.24");
        assert_eq!(v["Os"], "linux");
        assert_eq!(v["Platform"]["Name"], "Pouch Engine");
        assert_eq!(v["Components"][0]["Name"], "Engine");
        assert_eq!(v["Components"][0]["Details"]["ApiVersion"], "1.44");
        assert!(!v["KernelVersion"].as_str().unwrap().is_empty());
    }
    let a = t.get("/v1.45/version").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_api_headers(&a);
    assert_eq!(
        a.json()["message"],
        "client version 1.45 is too new. Maximum supported API version is 1.44"
    );
    let a = t.get("/v1.23/images/json").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.json()["message"],
        "client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"
    );
    // queries survive the prefix strip
    let a = t.get("/v1.41/images/json?all=1&filters=%7B%7D").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), serde_json::json!([]));
}

#[tokio::test]
async fn info_reports_the_host() {
    let t = api();
    let a = t.get("/v1.44/info").await;
    assert_eq!(a.status, StatusCode::OK);
    let i = a.json();
    assert!(i["NCPU"].as_i64().unwrap() >= 1);
    assert!(i["MemTotal"].as_i64().unwrap() > 0);
    assert_eq!(i["OSType"], "linux");
    assert_eq!(i["Driver"], "overlay2");
    assert_eq!(i["CgroupDriver"], "cgroupfs");
    assert!(matches!(i["CgroupVersion"].as_str(), Some("1" | "2")));
    assert_eq!(i["DockerRootDir"], t.home.display().to_string());
    assert_eq!(i["PouchRootDir"], t.home.display().to_string());
    assert_eq!(i["Swarm"]["LocalNodeState"], "inactive");
    assert_eq!(i["IndexServerAddress"], "https://index.docker.io/v1/");
    assert_eq!(i["ListenAddresses"][0], LISTEN_ADDRESS);
    assert_eq!(i["Images"], 0);
    assert_eq!(i["ID"], t.engine.id());
    assert!(!i["KernelVersion"].as_str().unwrap().is_empty());
    assert!(!i["Name"].as_str().unwrap().is_empty());
    assert!(i["RegistryConfig"]["IndexConfigs"]["docker.io"]["Secure"]
        .as_bool()
        .unwrap());
    assert!(i["Warnings"].as_array().unwrap().is_empty());
    // the id is persisted and stays
    let id = std::fs::read_to_string(t.home.join("engine-id")).unwrap();
    assert_eq!(id.trim(), t.engine.id());
}

#[tokio::test]
async fn unknown_routes_and_fixed_answers() {
    let t = api();
    let a = t.get("/nodes/web").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["message"], "page not found");
    assert_api_headers(&a);
    let a = t
        .call(Method::POST, "/v1.44/swarm/leave?force=1", Body::empty())
        .await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.json()["message"], "This node is not part of a swarm");
    let a = t.get("/plugins").await;
    assert_eq!(a.json(), serde_json::json!([]));
    let a = t.call(Method::PUT, "/images/json", Body::empty()).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(a.json()["message"].is_string());
    let a = t.get("/system/df").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["Images"], serde_json::json!([]));
}

#[tokio::test]
async fn missing_image_is_a_404_with_a_message() {
    let t = api();
    for path in [
        "/images/nope:1/json",
        "/v1.44/images/127.0.0.1:5000/a/nope:v1/json",
        "/images/nope/history",
    ] {
        let a = t.get(path).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        let m = a.json()["message"].as_str().unwrap().to_string();
        assert!(m.contains("nope"), "{path}: {m}");
    }
    let a = t.call(Method::DELETE, "/images/nope", Body::empty()).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = t
        .call(Method::POST, "/images/nope/tag?repo=x&tag=y", Body::empty())
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // save of a missing image: an error status, not a 200 with a broken archive
    let a = t.get("/images/get?names=nope").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.json()["message"].is_string());
}

#[tokio::test]
async fn import_list_tag_save_remove_load() {
    let t = api();
    let tar = rootfs_tar(&[("etc/hello", "hello from the test\n")]);

    // import streams {"status":"sha256:<id>"}
    let a = t
        .call(
            Method::POST,
            "/v1.44/images/create?fromSrc=-&repo=example%2Fimported&tag=v1&message=from+a+test",
            tar,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.header("content-type"), "application/json");
    let lines = a.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let id = lines[0]["status"].as_str().unwrap().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");

    // list, inspect, history
    let list = t.get("/images/json").await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["Id"], id.as_str());
    assert_eq!(
        list[0]["RepoTags"],
        serde_json::json!(["example/imported:v1"])
    );
    let inspect = t.get("/images/example/imported:v1/json").await;
    assert_eq!(inspect.status, StatusCode::OK);
    assert_eq!(inspect.json()["Id"], id.as_str());
    assert_eq!(inspect.json()["Comment"], "from a test");
    let by_id = t.get(&format!("/images/{id}/json")).await;
    assert_eq!(by_id.json()["Id"], id.as_str());
    let history = t.get("/images/example/imported:v1/history").await;
    assert_eq!(history.status, StatusCode::OK);
    assert!(!history.json().as_array().unwrap().is_empty());

    // tag: 201, then both names list
    let a = t
        .call(
            Method::POST,
            "/images/example/imported:v1/tag?repo=127.0.0.1%3A5000%2Fcopy&tag=v2",
            Body::empty(),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let list = t.get("/images/json").await.json();
    let mut tags: Vec<String> = list[0]["RepoTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    tags.sort();
    assert_eq!(tags, ["127.0.0.1:5000/copy:v2", "example/imported:v1"]);
    let filtered = t
        .get("/images/json?filters=%7B%22reference%22%3A%7B%22example%2F*%22%3Atrue%7D%7D")
        .await;
    assert_eq!(filtered.status, StatusCode::OK);
    assert_eq!(filtered.json().as_array().unwrap().len(), 1);
    assert_eq!(t.get("/info").await.json()["Images"], 1);

    // save: a streamed docker-save tar naming the image
    let saved = t.get("/images/get?names=127.0.0.1:5000/copy:v2").await;
    assert_eq!(saved.status, StatusCode::OK);
    assert_eq!(saved.header("content-type"), "application/x-tar");
    let mut archive = tar::Archive::new(&saved.body[..]);
    let mut manifest = String::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_str() == Some("manifest.json") {
            entry.read_to_string(&mut manifest).unwrap();
        }
    }
    assert!(manifest.contains("127.0.0.1:5000/copy:v2"), "{manifest}");
    let single = t.get("/images/example/imported:v1/get").await;
    assert_eq!(single.status, StatusCode::OK);
    let pouch = t.get("/images/save?name=example/imported:v1").await;
    assert_eq!(pouch.status, StatusCode::OK);

    // remove both names: untagged twice, then deleted
    let a = t
        .call(Method::DELETE, "/images/example/imported:v1", Body::empty())
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()[0]["Untagged"], "example/imported:v1");
    let a = t
        .call(
            Method::DELETE,
            "/v1.44/images/127.0.0.1:5000/copy:v2?force=0&noprune=0",
            Body::empty(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let items = a.json();
    assert!(
        items
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["Deleted"] == id.as_str()),
        "{items}"
    );
    assert_eq!(t.get("/images/json").await.json(), serde_json::json!([]));
    assert_eq!(
        t.get("/images/example/imported:v1/json").await.status,
        StatusCode::NOT_FOUND
    );

    // load the saved archive back
    let a = t
        .call_with(
            Request::builder()
                .method(Method::POST)
                .uri("/images/load?quiet=1")
                .header("content-type", "application/x-tar"),
            saved.body.clone(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let lines = a.lines();
    assert!(
        lines.iter().any(|l| l["stream"]
            .as_str()
            .is_some_and(|s| s.contains("Loaded image: 127.0.0.1:5000/copy:v2"))),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| l.get("error").is_none()), "{lines:?}");
    let inspect = t.get("/images/127.0.0.1:5000/copy:v2/json").await;
    assert_eq!(inspect.status, StatusCode::OK);
    assert_eq!(inspect.json()["Id"], id.as_str());

    // prune with nothing dangling keeps it
    let a = t.call(Method::POST, "/images/prune", Body::empty()).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        t.get("/images/json").await.json().as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn load_of_garbage_fails_cleanly() {
    let t = api();
    let a = t
        .call(
            Method::POST,
            "/images/load",
            Bytes::from_static(b"this is not a tar archive"),
        )
        .await;
    // either an error status or a 200 with an error line: never a success
    if a.status == StatusCode::OK {
        assert!(a
            .lines()
            .iter()
            .any(|l| l["errorDetail"]["message"].is_string()));
    } else {
        assert!(a.json()["message"].is_string());
    }
}

#[tokio::test]
async fn pull_errors_before_output_are_http_errors() {
    let t = api();
    // nothing listens on port 1: the registry cannot be reached
    let a = t
        .call_with(
            Request::builder()
                .method(Method::POST)
                .uri("/v1.44/images/create?fromImage=127.0.0.1%3A1%2Fnothing&tag=v1")
                .header("X-Registry-Auth", "e30="),
            Body::empty(),
        )
        .await;
    assert_ne!(a.status, StatusCode::OK, "{:?}", a.body);
    assert!(a.json()["message"]
        .as_str()
        .unwrap()
        .contains("127.0.0.1:1"));
    let a = t.call(Method::POST, "/images/create", Body::empty()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = t
        .call(
            Method::POST,
            "/images/create?fromSrc=http%3A%2F%2Fx%2Fy.tar",
            Body::empty(),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}
