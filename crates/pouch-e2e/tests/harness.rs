//! Checks of the harness itself, needing only docker-registry (no pouchd): the registry
//! starts and serves what the image builder pushed, basic auth is enforced, the tampering
//! proxy corrupts exactly the chosen blob and throttles, the token-auth proxy implements
//! the bearer flow, and the hostile fixtures really hold their hostile entries.

use std::io::Read;
use std::time::Instant;

use pouch_e2e::distribution::RegistryApi;
use pouch_e2e::fixtures;
use pouch_e2e::image::{Format, DOCKER_MANIFEST, OCI_INDEX};
use pouch_e2e::proxy::{Corrupt, Proxy, TamperOptions};
use pouch_e2e::{block_on, setup, sha256_digest, Must, Registry, RegistryOptions};

fn tar_entries(tar: &[u8]) -> Vec<(String, tar::EntryType, Option<String>)> {
    let mut ar = tar::Archive::new(tar);
    ar.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let link = e
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned());
            (name, e.header().entry_type(), link)
        })
        .collect()
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn registry_serves_the_pushed_busybox() {
    if !pouch_e2e::require_registry("registry_serves_the_pushed_busybox") {
        return;
    }
    let reg = Registry::start(RegistryOptions::default()).must("start docker-registry");
    let img = fixtures::busybox();
    reg.push("library/busybox", "latest", img)
        .must("push to the registry");
    let api = reg.api();
    let (ct, bytes) = api
        .manifest_blocking("library/busybox", "latest")
        .unwrap()
        .expect("manifest present");
    assert_eq!(ct, DOCKER_MANIFEST);
    assert_eq!(bytes, img.manifest);
    let blob = block_on(api.get(
        &format!("/v2/library/busybox/blobs/{}", img.layers[0].digest),
        &[],
    ))
    .unwrap();
    assert_eq!(blob.status, 200);
    assert_eq!(sha256_digest(&blob.body), img.layers[0].digest);
    let tar = gunzip(&blob.body);
    assert_eq!(sha256_digest(&tar), img.layers[0].diff_id);
    let entries = tar_entries(&tar);
    assert!(entries
        .iter()
        .any(|(n, t, _)| n == "bin/busybox" && *t == tar::EntryType::Regular));
    assert!(entries.iter().any(|(n, t, l)| n == "bin/sh"
        && *t == tar::EntryType::Symlink
        && l.as_deref() == Some("busybox")));
    let cfg: serde_json::Value = serde_json::from_slice(&img.config).unwrap();
    assert_eq!(cfg["config"]["Cmd"], serde_json::json!(["sh"]));
}

#[test]
fn registry_stores_multilayer_images_and_an_index() {
    if !pouch_e2e::require_registry("registry_stores_multilayer_images_and_an_index") {
        return;
    }
    let reg = Registry::start(RegistryOptions::default()).must("start docker-registry");
    let oci = fixtures::multilayer(Format::Oci);
    let docker = fixtures::multilayer(Format::Docker);
    reg.push("test/multi", "oci", &oci.image)
        .must("push to the registry");
    reg.push("test/multi", "docker", &docker.image)
        .must("push to the registry");
    let idx = fixtures::two_arch_index();
    reg.push_index("test/arch", "latest", &idx)
        .must("push to the registry");
    let api = reg.api();
    for (tag, img) in [("oci", &oci.image), ("docker", &docker.image)] {
        let (ct, b) = api.manifest_blocking("test/multi", tag).unwrap().unwrap();
        assert_eq!(ct, img.manifest_media_type);
        assert_eq!(sha256_digest(&b), img.manifest_digest);
    }
    let (ct, b) = api
        .manifest_blocking("test/arch", "latest")
        .unwrap()
        .unwrap();
    assert_eq!(ct, OCI_INDEX);
    assert_eq!(sha256_digest(&b), idx.digest);
    for (_, _, img) in &idx.images {
        assert!(api
            .manifest_blocking("test/arch", &img.manifest_digest)
            .unwrap()
            .is_some());
    }
    // The zstd layer really is zstd and holds the whiteout and the opaque marker.
    let zl = &oci.image.layers[1];
    let tar = zstd::stream::decode_all(&zl.blob[..]).unwrap();
    let names: Vec<String> = tar_entries(&tar).into_iter().map(|e| e.0).collect();
    assert!(names.contains(&"a/.wh.gone".to_string()));
    assert!(names.contains(&"d/.wh..wh..opq".to_string()));
}

#[test]
fn basic_auth_registry_requires_credentials() {
    if !pouch_e2e::require_registry("basic_auth_registry_requires_credentials") {
        return;
    }
    let reg = Registry::start(RegistryOptions::with_basic_auth("alice", "s3cret"))
        .must("start docker-registry");
    let anon = RegistryApi::new(&reg.url());
    let a = block_on(anon.get("/v2/", &[])).unwrap();
    assert_eq!(a.status, 401);
    assert!(a
        .header("WWW-Authenticate")
        .unwrap_or_default()
        .starts_with("Basic"));
    let wrong = RegistryApi::new(&reg.url()).with_basic("alice", "nope");
    assert_eq!(block_on(wrong.get("/v2/", &[])).unwrap().status, 401);
    assert_eq!(block_on(reg.api().get("/v2/", &[])).unwrap().status, 200);
    let img = fixtures::busybox();
    assert!(block_on(anon.push_image("library/busybox", "latest", img)).is_err());
    reg.push("library/busybox", "latest", img)
        .must("push to the registry");
    assert!(reg
        .api()
        .manifest_blocking("library/busybox", "latest")
        .unwrap()
        .is_some());
}

#[test]
fn tamper_proxy_corrupts_only_the_chosen_blob() {
    if !pouch_e2e::require_registry("tamper_proxy_corrupts_only_the_chosen_blob") {
        return;
    }
    let (_reg, proxy, img, target) = setup::corrupting_proxy();
    let api = RegistryApi::new(&proxy.url());
    let (_, m) = api
        .manifest_blocking("test/corrupt", "latest")
        .unwrap()
        .unwrap();
    assert_eq!(m, img.manifest);
    let bad = block_on(api.get(&format!("/v2/test/corrupt/blobs/{target}"), &[])).unwrap();
    let good = &img.layers[1].blob;
    assert_eq!(bad.body.len(), good.len());
    assert_ne!(sha256_digest(&bad.body), target);
    let diffs = bad.body.iter().zip(good).filter(|(a, b)| a != b).count();
    assert_eq!(diffs, 1, "exactly one byte flipped");
    // Still a valid tar: only a digest check can notice.
    assert_eq!(tar_entries(&bad.body).len(), 1);
    let other = &img.layers[0];
    let ok = block_on(api.get(&format!("/v2/test/corrupt/blobs/{}", other.digest), &[])).unwrap();
    assert_eq!(ok.body, other.blob);
    assert_eq!(proxy.tampered(), 1);
}

#[test]
fn tamper_proxy_throttles_bodies() {
    if !pouch_e2e::require_registry("tamper_proxy_throttles_bodies") {
        return;
    }
    let reg = Registry::start(RegistryOptions::default()).must("start docker-registry");
    let img = fixtures::random_image(1, 1_000_000, 1);
    reg.push("test/slow", "latest", &img)
        .must("push to the registry");
    let proxy = Proxy::tamper(
        &reg.url(),
        TamperOptions {
            corrupt: Corrupt::Nothing,
            throttle: Some(1_000_000),
        },
    )
    .must("start the proxy");
    let api = RegistryApi::new(&proxy.url());
    let start = Instant::now();
    let l = &img.layers[0];
    let a = block_on(api.get(&format!("/v2/test/slow/blobs/{}", l.digest), &[])).unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(a.body, l.blob);
    assert!(secs >= 0.8, "1 MB at 1 MB/s took only {secs:.2}s");
    assert_eq!(proxy.tampered(), 0);
}

#[test]
fn token_proxy_implements_the_bearer_flow() {
    if !pouch_e2e::require_registry("token_proxy_implements_the_bearer_flow") {
        return;
    }
    let reg = Registry::start(RegistryOptions::default()).must("start docker-registry");
    let img = fixtures::busybox();
    reg.push("library/busybox", "latest", img)
        .must("push to the registry");
    let proxy = Proxy::token_auth(&reg.url(), "bob", "hunter2").must("start the proxy");
    let anon = RegistryApi::new(&proxy.url());

    let root = block_on(anon.get("/v2/", &[])).unwrap();
    assert_eq!(root.status, 401);
    assert_eq!(
        root.header("WWW-Authenticate").unwrap(),
        format!(
            "Bearer realm=\"http://{}/token\",service=\"pouch-test\"",
            proxy.host()
        )
    );
    let m = block_on(anon.get("/v2/library/busybox/manifests/latest", &[DOCKER_MANIFEST])).unwrap();
    assert_eq!(m.status, 401);
    assert!(m
        .header("WWW-Authenticate")
        .unwrap()
        .ends_with(",scope=\"repository:library/busybox:pull\""));

    let token_path = "/token?service=pouch-test&scope=repository%3Alibrary%2Fbusybox%3Apull";
    assert_eq!(block_on(anon.get(token_path, &[])).unwrap().status, 401);
    let wrong = RegistryApi::new(&proxy.url()).with_basic("bob", "wrong");
    assert_eq!(block_on(wrong.get(token_path, &[])).unwrap().status, 401);
    let right = RegistryApi::new(&proxy.url()).with_basic("bob", "hunter2");
    let t = block_on(right.get(token_path, &[])).unwrap();
    assert_eq!(t.status, 200);
    let token: serde_json::Value = serde_json::from_slice(&t.body).unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    assert_eq!(proxy.tokens_issued(), 1);

    let authed = RegistryApi::new(&proxy.url()).with_bearer(&token);
    let (_, bytes) = authed
        .manifest_blocking("library/busybox", "latest")
        .unwrap()
        .expect("manifest through the proxy");
    assert_eq!(bytes, img.manifest);
    // Basic credentials alone do not pass; a token for another repository does not either.
    assert_eq!(
        block_on(right.get("/v2/library/busybox/manifests/latest", &[]))
            .unwrap()
            .status,
        401
    );
    let t2 = block_on(right.get(
        "/token?service=pouch-test&scope=repository:other/repo:pull",
        &[],
    ))
    .unwrap();
    let other: serde_json::Value = serde_json::from_slice(&t2.body).unwrap();
    let other = RegistryApi::new(&proxy.url()).with_bearer(other["token"].as_str().unwrap());
    assert_eq!(
        block_on(other.get("/v2/library/busybox/manifests/latest", &[]))
            .unwrap()
            .status,
        401
    );
}

#[test]
fn hostile_fixtures_hold_their_hostile_entries() {
    let all = fixtures::hostile_images("selftest");
    let entries = |h: &fixtures::Hostile| tar_entries(&gunzip(&h.image.layers[1].blob));
    let find = |name: &str| all.iter().find(|h| h.name == name).unwrap();
    assert!(entries(find("dotdot"))
        .iter()
        .any(|(n, _, _)| n.starts_with("../") && n.ends_with("tmp/pouch-e2e-escape-selftest")));
    let sym = entries(find("symlink-abs"));
    assert_eq!(sym[0].1, tar::EntryType::Symlink);
    assert_eq!(sym[1].0, "evil/pwned");
    let rel = entries(find("symlink-rel"));
    assert!(rel[1].2.as_deref().unwrap().starts_with("../../"));
    let hl = entries(find("hardlink"));
    assert_eq!(hl[0].1, tar::EntryType::Link);
    assert_eq!(hl[0].2.as_deref(), Some("/etc/passwd"));
    let dev = entries(find("device"));
    assert!(dev.iter().any(|e| e.1 == tar::EntryType::Block));
}
