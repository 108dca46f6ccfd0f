//! The docker CLI (v28, client only) against pouchd: version, info, pull, images, tag,
//! inspect, history, save, load, rmi, push and login must all work as against Docker.
//! Assertions are on content (ids, names), not on table layout.

use std::time::Duration;

use pouch_e2e::distribution::RegistryApi;
use pouch_e2e::fixtures::{self, BUSYBOX_CREATED_BY};
use pouch_e2e::{setup, Binaries, RegistryOptions};

fn docker_e2e(test: &str) -> Option<Binaries> {
    let bins = setup::e2e(test)?;
    pouch_e2e::require_docker_cli(test).then_some(bins)
}

#[test]
fn docker_version_and_info() {
    let Some(bins) = docker_e2e("docker_version_and_info") else {
        return;
    };
    let d = setup::daemon(&bins);
    d.docker(&["version"]).ok().says("Server").says("1.44");
    assert_eq!(
        d.docker(&["version", "--format", "{{.Server.APIVersion}}"])
            .ok()
            .out(),
        "1.44"
    );
    d.docker(&["info"])
        .ok()
        .says("Server Version")
        .says("Images");
    assert_eq!(
        d.docker(&["info", "--format", "{{.Images}}"]).ok().out(),
        "0"
    );
}

#[test]
fn docker_pull_images_tag_inspect_history_rmi() {
    let Some(bins) = docker_e2e("docker_pull_images_tag_inspect_history_rmi") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    let img = fixtures::busybox();
    let id = img.id();

    d.docker(&["pull", "busybox"]).ok().says("busybox");
    let images = d.docker(&["images"]);
    assert!(
        images
            .ok()
            .stdout
            .lines()
            .any(|l| l.starts_with("busybox ") && l.contains("latest")),
        "{images}"
    );
    assert_eq!(d.docker(&["images", "-q", "--no-trunc"]).ok().out(), id);
    d.docker(&["pull", "busybox"]).ok().says("up to date");

    d.docker(&["tag", "busybox", "mybox:v2"]).ok();
    assert_eq!(
        d.docker(&["inspect", "--format", "{{.Id}}", "mybox:v2"])
            .ok()
            .out(),
        id
    );
    let o = d.docker(&["image", "inspect", "busybox"]);
    let v: serde_json::Value = serde_json::from_str(o.ok().out()).expect("inspect prints JSON");
    assert_eq!(v[0]["Id"], id);
    let layers: Vec<String> = serde_json::from_value(v[0]["RootFS"]["Layers"].clone()).unwrap();
    assert_eq!(layers, img.diff_ids());
    d.docker(&["history", "busybox"])
        .ok()
        .says(BUSYBOX_CREATED_BY);
    assert_eq!(
        d.pouch(&["inspect", "-f", "{{.Id}}", "mybox:v2"])
            .ok()
            .out(),
        id,
        "pouch and docker see the same store"
    );

    d.docker(&["rmi", "mybox:v2"])
        .ok()
        .says("Untagged: mybox:v2");
    d.docker(&["rmi", "busybox"])
        .ok()
        .says("Untagged: busybox:latest")
        .says(&format!("Deleted: {id}"));
    assert_eq!(d.docker(&["images", "-q"]).ok().out(), "");
}

#[test]
fn docker_save_and_load() {
    let Some(bins) = docker_e2e("docker_save_and_load") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    let img = fixtures::busybox();
    d.docker(&["pull", "busybox"]).ok();
    let file = d.root().join("docker-save.tar");
    let file_s = file.to_string_lossy().into_owned();
    d.docker(&["save", "-o", &file_s, "busybox"]).ok();
    assert!(
        std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0) > 512,
        "docker save wrote nothing"
    );
    d.docker(&["rmi", "busybox"]).ok();
    d.docker(&["load", "-i", &file_s])
        .ok()
        .says("Loaded image: busybox:latest");
    assert_eq!(
        d.docker(&["inspect", "--format", "{{.Id}}", "busybox"])
            .ok()
            .out(),
        img.id()
    );
}

#[test]
fn docker_push() {
    let Some(bins) = docker_e2e("docker_push") else {
        return;
    };
    let (reg, d) = setup::busybox_mirror(&bins);
    let img = fixtures::busybox();
    d.docker(&["pull", "busybox"]).ok();
    let name = format!("{}/dpush/box:v1", reg.host());
    d.docker(&["tag", "busybox", &name]).ok();
    d.docker(&["push", &name]).ok().says("v1");
    let (_, bytes) = RegistryApi::new(&reg.url())
        .manifest_blocking("dpush/box", "v1")
        .unwrap()
        .expect("the registry has the pushed manifest");
    let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(m["config"]["digest"], img.id());
}

#[test]
fn docker_login_to_a_basic_auth_registry() {
    let Some(bins) = docker_e2e("docker_login_to_a_basic_auth_registry") else {
        return;
    };
    let reg = setup::busybox_registry(RegistryOptions::with_basic_auth("alice", "s3cret"));
    let d = setup::daemon(&bins);
    let host = reg.host();
    let name = format!("{host}/library/busybox:latest");

    // Docker answers such a pull with 500 (moby's translatePullError: registry
    // UNAUTHORIZED -> errdefs.Unknown), never 401: on a 401 the CLI prompts for a
    // username on stdin instead of failing.
    let o = d.docker_timeout(&["pull", &name], Duration::from_secs(30));
    assert!(
        !o.timed_out,
        "docker pull waited for input (pouchd answered 401?): {o}"
    );
    o.fails_unauthorized();
    d.docker_stdin(
        &["login", "-u", "alice", "--password-stdin", &host],
        b"wrong".to_vec(),
    )
    .fails();
    d.docker_stdin(
        &["login", "-u", "alice", "--password-stdin", &host],
        b"s3cret".to_vec(),
    )
    .ok()
    .says("Login Succeeded");
    let cfg = std::fs::read_to_string(d.docker_config().join("config.json")).unwrap_or_default();
    assert!(
        cfg.contains(&host),
        "docker login did not store credentials: {cfg}"
    );

    d.docker(&["pull", &name]).ok();
    assert_eq!(
        d.docker(&["inspect", "--format", "{{.Id}}", &name])
            .ok()
            .out(),
        fixtures::busybox().id()
    );
    d.docker(&["logout", &host]).ok();
}
