//! Unit tests of save and load: round trips, legacy docker-archives, OCI layouts with
//! nested indexes, and refused archives.

use super::save::has_tag_or_digest;
use super::{clean_path, link_target, tar_header};
use crate::content::sha256_digest;
use crate::error::ImageError;
use crate::manager::manifest::{DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use crate::manager::testutil;

fn entries(tar_bytes: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(tar_bytes);
    a.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().to_string())
        .collect()
}

#[test]
fn paths() {
    assert_eq!(clean_path("./a/b/"), "a/b");
    assert_eq!(
        link_target("abc/layer.tar", "../def/layer.tar"),
        "def/layer.tar"
    );
    assert_eq!(link_target("x", "/blobs/sha256/aa"), "blobs/sha256/aa");
    assert!(has_tag_or_digest("busybox:1"));
    assert!(has_tag_or_digest("127.0.0.1:5000/x:v1"));
    assert!(!has_tag_or_digest("127.0.0.1:5000/x"));
    assert!(has_tag_or_digest("x@sha256:00"));
}

#[test]
fn save_then_load_into_a_fresh_home() {
    let a = testutil::manager();
    let gz = testutil::gzip(&testutil::rootfs_tar(&[
        ("bin/tool", "#!/bin/sh\n"),
        ("etc/x", "1"),
    ]));
    let id1 = a
        .mgr
        .import(
            &mut gz.as_slice(),
            Some("app:v1"),
            "",
            &["CMD [\"/bin/tool\"]".to_string()],
        )
        .unwrap();
    a.mgr.tag(&id1, "app", Some("v2")).unwrap();
    let id2 = testutil::import(&a.mgr, "second", Some("other:1"));
    let untagged = testutil::import(&a.mgr, "third", None);

    let mut out = Vec::new();
    a.mgr
        .save(
            &["app".to_string(), "other:1".to_string(), untagged.clone()],
            &mut out,
        )
        .unwrap();
    let names = entries(&out);
    for f in ["index.json", "manifest.json", "oci-layout"] {
        assert!(names.iter().any(|n| n == f), "{f} missing: {names:?}");
    }
    let rec1 = a.mgr.resolve(&id1).unwrap();
    assert!(names.contains(&format!("blobs/sha256/{}", &rec1.layers[0].digest[7..])));

    let b = testutil::manager();
    let lines = std::cell::RefCell::new(Vec::new());
    let loaded = b
        .mgr
        .load(&mut out.as_slice(), &|m| lines.borrow_mut().push(m))
        .unwrap();
    assert_eq!(
        loaded,
        vec![
            "app:v1".to_string(),
            "app:v2".to_string(),
            "other:1".to_string(),
            untagged.clone()
        ]
    );
    let streams: Vec<String> = lines
        .borrow()
        .iter()
        .filter_map(|m| m.stream.clone())
        .collect();
    assert!(
        streams.contains(&"Loaded image: app:v1\n".to_string()),
        "{streams:?}"
    );
    assert!(streams.contains(&format!("Loaded image ID: {untagged}\n")));

    assert_eq!(b.mgr.resolve("app:v2").unwrap().id, id1);
    assert_eq!(b.mgr.resolve("other:1").unwrap().id, id2);
    assert_eq!(b.mgr.count(), 3);
    let rec = b.mgr.resolve("app:v1").unwrap();
    // The archive's OCI manifest (converted from the imported image's Docker one) came
    // along; config and layers are the same blobs.
    assert_eq!(rec.manifest_media_type, OCI_MANIFEST);
    assert!(b.mgr.content.exists(&rec.manifest_digest));
    assert_eq!(rec.config_digest, rec1.config_digest);
    assert_eq!(
        rec.layers.iter().map(|l| &l.digest).collect::<Vec<_>>(),
        rec1.layers.iter().map(|l| &l.digest).collect::<Vec<_>>()
    );
    assert_eq!(
        rec.layers[0].media_type,
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let dirs = b.mgr.rootfs_layers("app:v1").unwrap();
    assert_eq!(std::fs::read_to_string(dirs[0].join("etc/x")).unwrap(), "1");
    assert_eq!(
        b.mgr.inspect("app:v1").unwrap().config.unwrap().cmd,
        Some(vec!["/bin/tool".to_string()])
    );

    // Loading again changes nothing and reports the same.
    let again = b.mgr.load(&mut out.as_slice(), &|_| {}).unwrap();
    assert_eq!(again.len(), 4);
    assert_eq!(b.mgr.count(), 3);
}

/// A docker-archive in the legacy layout (`<id>/layer.tar`, `<hex>.json`, no
/// manifests), with a symlinked duplicate layer, as Docker before 25 wrote it.
#[test]
fn load_legacy_docker_archive() {
    let layer = testutil::rootfs_tar(&[("etc/legacy", "yes")]);
    let diff = sha256_digest(&layer);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "created": "2024-01-02T03:04:05Z",
        "config": {"Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff, diff]},
    });
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_hex = &sha256_digest(&config_bytes)[7..];
    let manifest = serde_json::json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": ["legacy:1"],
        "Layers": ["aaaa/layer.tar", "bbbb/layer.tar"],
    }]);
    let mut b = tar::Builder::new(Vec::new());
    let add = |b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]| {
        let mut h = tar_header(data.len() as u64, 0o644, tar::EntryType::Regular);
        b.append_data(&mut h, path, data).unwrap();
    };
    add(&mut b, "aaaa/layer.tar", &layer);
    let mut h = tar_header(0, 0o777, tar::EntryType::Symlink);
    b.append_link(&mut h, "bbbb/layer.tar", "../aaaa/layer.tar")
        .unwrap();
    add(&mut b, &format!("{config_hex}.json"), &config_bytes);
    add(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    let archive = testutil::gzip(&b.into_inner().unwrap());

    let t = testutil::manager();
    let loaded = t.mgr.load(&mut archive.as_slice(), &|_| {}).unwrap();
    assert_eq!(loaded, vec!["legacy:1".to_string()]);
    let rec = t.mgr.resolve("legacy:1").unwrap();
    assert_eq!(rec.layers.len(), 2);
    assert_eq!(rec.manifest_media_type, DOCKER_MANIFEST);
    assert!(t.mgr.content.exists(&rec.manifest_digest));
    let m: serde_json::Value =
        serde_json::from_slice(&t.mgr.content.read(&rec.manifest_digest).unwrap()).unwrap();
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.docker.image.rootfs.diff.tar"
    );
    let dirs = t.mgr.rootfs_layers("legacy:1").unwrap();
    assert!(dirs[1].join("etc/legacy").is_file());
    assert_eq!(
        t.mgr.inspect("legacy:1").unwrap().created,
        "2024-01-02T03:04:05Z"
    );
}

/// An OCI layout whose index only gives a bare tag (`ref.name: latest`): the image
/// loads untagged. Also a nested index with two platforms.
#[test]
fn load_oci_layout_bare_ref_name_and_nested_index() {
    let src = testutil::manager();
    let id = testutil::import(&src.mgr, "oci", Some("src:1"));
    let rec = src.mgr.resolve(&id).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let add = |b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]| {
        let mut h = tar_header(data.len() as u64, 0o644, tar::EntryType::Regular);
        b.append_data(&mut h, path, data).unwrap();
    };
    for d in [
        &rec.manifest_digest,
        &rec.config_digest,
        &rec.layers[0].digest,
    ] {
        add(
            &mut b,
            &format!("blobs/sha256/{}", &d[7..]),
            &src.mgr.content.read(d).unwrap(),
        );
    }
    let other = format!("sha256:{}", "e".repeat(64));
    let nested = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": DOCKER_MANIFEST, "digest": other, "size": 1,
         "platform": {"architecture": "arm64", "os": "linux"}},
        {"mediaType": DOCKER_MANIFEST, "digest": rec.manifest_digest,
         "size": src.mgr.content.size(&rec.manifest_digest).unwrap(),
         "platform": {"architecture": "amd64", "os": "linux"}},
    ]});
    let nested_bytes = serde_json::to_vec(&nested).unwrap();
    let nested_digest = sha256_digest(&nested_bytes);
    add(
        &mut b,
        &format!("blobs/sha256/{}", &nested_digest[7..]),
        &nested_bytes,
    );
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [
        {"mediaType": OCI_INDEX, "digest": nested_digest, "size": nested_bytes.len(),
         "annotations": {"org.opencontainers.image.ref.name": "latest"}},
    ]});
    add(&mut b, "index.json", &serde_json::to_vec(&index).unwrap());
    add(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    let archive = b.into_inner().unwrap();

    let t = testutil::manager();
    let lines = std::cell::RefCell::new(Vec::new());
    let loaded = t
        .mgr
        .load(&mut archive.as_slice(), &|m| lines.borrow_mut().push(m))
        .unwrap();
    assert_eq!(loaded, vec![id.clone()]);
    assert!(lines
        .borrow()
        .iter()
        .any(|m| m.stream.as_deref() == Some(&format!("Loaded image ID: {id}\n"))));
    let summary = &t.mgr.list(&pouch_api::Filters::default(), false).unwrap()[0];
    assert!(summary.repo_tags.is_empty());

    // With a whole reference in the annotation it is tagged.
    let mut b = tar::Builder::new(Vec::new());
    for d in [
        &rec.manifest_digest,
        &rec.config_digest,
        &rec.layers[0].digest,
    ] {
        let data = src.mgr.content.read(d).unwrap();
        let mut h = tar_header(data.len() as u64, 0o644, tar::EntryType::Regular);
        b.append_data(&mut h, format!("blobs/sha256/{}", &d[7..]), data.as_slice())
            .unwrap();
    }
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [
        {"mediaType": DOCKER_MANIFEST, "digest": rec.manifest_digest,
         "size": src.mgr.content.size(&rec.manifest_digest).unwrap(),
         "annotations": {"io.containerd.image.name": "docker.io/library/named:3"}}]});
    let data = serde_json::to_vec(&index).unwrap();
    let mut h = tar_header(data.len() as u64, 0o644, tar::EntryType::Regular);
    b.append_data(&mut h, "index.json", data.as_slice())
        .unwrap();
    let archive = b.into_inner().unwrap();
    assert_eq!(
        t.mgr.load(&mut archive.as_slice(), &|_| {}).unwrap(),
        vec!["named:3".to_string()]
    );
}

#[test]
fn load_refuses_bad_archives_and_keeps_nothing_unreferenced() {
    let t = testutil::manager();
    let e = t
        .mgr
        .load(&mut &b"not a tar at all"[..], &|_| {})
        .unwrap_err();
    assert!(matches!(e, ImageError::InvalidArgument(_)), "{e}");

    // A layer whose content does not match the config's diff id.
    let layer = testutil::rootfs_tar(&[("etc/a", "a")]);
    let config = serde_json::json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", "0".repeat(64))]}});
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let manifest =
        serde_json::json!([{"Config": "c.json", "RepoTags": ["bad:1"], "Layers": ["l/layer.tar"]}]);
    let mut b = tar::Builder::new(Vec::new());
    for (p, d) in [
        ("l/layer.tar", layer),
        ("c.json", config_bytes),
        ("manifest.json", serde_json::to_vec(&manifest).unwrap()),
    ] {
        let mut h = tar_header(d.len() as u64, 0o644, tar::EntryType::Regular);
        b.append_data(&mut h, p, d.as_slice()).unwrap();
    }
    let archive = b.into_inner().unwrap();
    let e = t.mgr.load(&mut archive.as_slice(), &|_| {}).unwrap_err();
    assert!(
        e.to_string().contains("does not match the image config"),
        "{e}"
    );
    assert_eq!(t.mgr.count(), 0);
    assert!(t.mgr.snapshots.list().unwrap().is_empty());
    // The stored blobs are unreferenced: the next collection removes them.
    let st = t.mgr.lock();
    t.mgr.collect_garbage(&st, false);
    assert!(t.mgr.content.list().unwrap().is_empty());
}
