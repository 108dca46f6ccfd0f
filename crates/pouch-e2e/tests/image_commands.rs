//! The image commands of the `pouch` CLI end to end: tag, rmi (untag, delete, GC, force),
//! history, inspect with templates, save/load, import, and push then pull back.

use std::io::Read;

use pouch_e2e::distribution::RegistryApi;
use pouch_e2e::fixtures::{self, BUSYBOX_CREATED_BY};
use pouch_e2e::{block_on, digest_hex, setup};

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[test]
fn tag_rmi_history_and_inspect() {
    let Some(bins) = setup::e2e("tag_rmi_history_and_inspect") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    let img = fixtures::busybox();
    let id = img.id();
    let short = &digest_hex(id)[..12];
    d.pouch(&["pull", "busybox"]).ok();

    d.pouch(&["tag", "busybox", "mybox:v1"]).ok();
    let images = d.pouch(&["images"]);
    assert!(
        images
            .ok()
            .stdout
            .lines()
            .any(|l| l.starts_with("mybox ") && l.contains("v1")),
        "{images}"
    );
    assert_eq!(
        d.pouch(&["inspect", "-f", "{{.Id}}", "mybox:v1"])
            .ok()
            .out(),
        id
    );
    assert_eq!(
        d.pouch(&["image", "inspect", "-f", "{{.Config.Env}}", "busybox"])
            .ok()
            .out(),
        format!("[{PATH_ENV}]")
    );
    let v = d.inspect("mybox:v1");
    let tags: Vec<String> = serde_json::from_value(v["RepoTags"].clone()).unwrap();
    assert!(
        tags.contains(&"busybox:latest".to_string()) && tags.contains(&"mybox:v1".to_string()),
        "RepoTags {tags:?}"
    );
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["sh"]));

    let h = d.pouch(&["history", "busybox"]);
    h.ok().says(BUSYBOX_CREATED_BY).says("CMD");

    // Two names: deleting by id needs force.
    d.pouch(&["rmi", short]).fails();
    d.pouch(&["rmi", "mybox:v1"])
        .ok()
        .says("Untagged: mybox:v1");
    assert_eq!(
        d.pouch(&["inspect", "-f", "{{.Id}}", "busybox"]).ok().out(),
        id
    );
    d.pouch(&["inspect", "mybox:v1"]).fails();

    let o = d.pouch(&["rmi", "busybox"]);
    o.ok()
        .says("Untagged: busybox:latest")
        .says(&format!("Deleted: {id}"));
    assert_eq!(d.pouch(&["images", "-q"]).ok().out(), "");
    d.pouch(&["image", "inspect", "busybox"]).fails();
    // Layers and blobs of a deleted image are collected.
    assert!(
        !d.has_blob(&img.layers[0].digest),
        "layer blob kept after rmi"
    );
    assert!(
        !d.snapshot_fs(&img.chain_ids()[0]).exists(),
        "layer snapshot kept after rmi"
    );

    // rmi -f by id removes every name.
    d.pouch(&["pull", "busybox"]).ok();
    d.pouch(&["tag", "busybox", "mybox:v2"]).ok();
    d.pouch(&["rmi", "-f", short]).ok();
    assert_eq!(d.pouch(&["images", "-q"]).ok().out(), "");
}

#[test]
fn save_and_load_round_trip() {
    let Some(bins) = setup::e2e("save_and_load_round_trip") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    let img = fixtures::busybox();
    d.pouch(&["pull", "busybox"]).ok();
    let out = d.root().join("busybox.tar");
    let out_s = out.to_string_lossy().into_owned();
    d.pouch(&["save", "-o", &out_s, "busybox"]).ok();

    // A docker-archive: manifest.json naming the tag, the config and the layers.
    let mut ar = tar::Archive::new(std::fs::File::open(&out).expect("save wrote the file"));
    let mut manifest = None;
    let mut names = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        if name == "manifest.json" {
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            manifest = Some(s);
        }
        names.push(name);
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&manifest.expect("manifest.json in the archive")).unwrap();
    assert_eq!(
        manifest[0]["RepoTags"],
        serde_json::json!(["busybox:latest"])
    );
    let config = manifest[0]["Config"].as_str().unwrap();
    assert!(config.contains(digest_hex(img.id())), "Config {config}");
    assert!(
        names.iter().any(|n| n == config),
        "{config} not in {names:?}"
    );
    assert_eq!(manifest[0]["Layers"].as_array().map(Vec::len), Some(1));

    d.pouch(&["rmi", "busybox"]).ok();
    assert_eq!(d.pouch(&["images", "-q"]).ok().out(), "");
    d.pouch(&["load", "-i", &out_s])
        .ok()
        .says("Loaded image: busybox:latest");
    assert_eq!(d.inspect("busybox")["Id"], img.id());
    assert!(d
        .snapshot_fs(&img.chain_ids()[0])
        .join("bin/busybox")
        .is_file());
}

#[test]
fn import_a_rootfs_tarball() {
    let Some(bins) = setup::e2e("import_a_rootfs_tarball") else {
        return;
    };
    let d = setup::daemon(&bins);
    let tar = fixtures::busybox_rootfs_tar();
    let file = d.root().join("rootfs.tar");
    std::fs::write(&file, tar).unwrap();

    let o = d.pouch(&["import", &file.to_string_lossy(), "myimport:v1"]);
    let id = o.ok().out().lines().last().unwrap_or_default().to_string();
    assert!(
        id.starts_with("sha256:"),
        "import should print the image id: {o}"
    );
    let images = d.pouch(&["images"]);
    assert!(images.ok().stdout.contains("myimport"), "{images}");
    let v = d.inspect("myimport:v1");
    assert_eq!(v["Id"], id.as_str());
    let layers: Vec<String> = serde_json::from_value(v["RootFS"]["Layers"].clone()).unwrap();
    assert_eq!(layers.len(), 1, "RootFS.Layers {layers:?}");
    let fs = d.snapshot_fs(&layers[0]);
    assert!(
        fs.join("bin/busybox").is_file(),
        "{} lacks bin/busybox",
        fs.display()
    );
    assert!(fs.join("bin/sh").is_symlink());

    // From stdin.
    d.pouch_stdin(&["import", "-", "myimport:stdin"], tar.to_vec())
        .ok();
    assert!(d.pouch(&["images"]).ok().stdout.contains("stdin"));
    d.inspect("myimport:stdin");
}

#[test]
fn push_then_pull_back_under_a_new_name() {
    let Some(bins) = setup::e2e("push_then_pull_back_under_a_new_name") else {
        return;
    };
    let (reg, d) = setup::busybox_mirror(&bins);
    let img = fixtures::busybox();
    d.pouch(&["pull", "busybox"]).ok();
    let name = format!("{}/pushed/box:v1", reg.host());
    d.pouch(&["tag", "busybox", &name]).ok();
    d.pouch(&["push", &name]).ok();

    let api = RegistryApi::new(&reg.url());
    let (_, bytes) = api
        .manifest_blocking("pushed/box", "v1")
        .unwrap()
        .expect("the registry has the pushed manifest");
    let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(m["config"]["digest"], img.id());
    for l in m["layers"].as_array().unwrap() {
        let digest = l["digest"].as_str().unwrap();
        assert!(
            block_on(api.blob_exists("pushed/box", digest)).unwrap(),
            "layer {digest} not pushed"
        );
    }

    d.pouch(&["rmi", &name]).ok();
    d.pouch(&["rmi", "busybox"]).ok();
    assert_eq!(d.pouch(&["images", "-q"]).ok().out(), "");
    d.pouch(&["pull", &name]).ok();
    assert_eq!(d.inspect(&name)["Id"], img.id());
}
