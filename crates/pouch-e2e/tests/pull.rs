//! End-to-end pulls with the `pouch` CLI against a real pouchd and a real registry:
//! through a mirror, with a dead first mirror, by digest, multi-layer images with whiteouts
//! and an opaque directory (OCI with gzip/zstd/plain layers, and Docker schema2), and a
//! two-platform OCI index.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use pouch_e2e::daemon::list_files;
use pouch_e2e::image::{host_arch, Format};
use pouch_e2e::{fixtures, setup, Daemon, DaemonOptions, Must, Registry, RegistryOptions};

#[test]
fn pull_through_a_mirror() {
    let Some(bins) = setup::e2e("pull_through_a_mirror") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    let img = fixtures::busybox();

    d.pouch(&["pull", "busybox"]).ok();
    let images = d.pouch(&["images"]);
    images.ok();
    assert!(
        images
            .stdout
            .lines()
            .any(|l| l.starts_with("busybox ") && l.contains("latest")),
        "pouch images does not list busybox:latest: {images}"
    );
    assert_eq!(
        d.pouch(&["inspect", "-f", "{{.Id}}", "busybox"]).ok().out(),
        img.id()
    );
    let q = d.pouch(&["images", "-q", "--no-trunc"]);
    assert_eq!(q.ok().out(), img.id());
    let short = d.pouch(&["images", "-q"]);
    assert_eq!(short.ok().out(), &pouch_e2e::digest_hex(img.id())[..12]);

    // The layer is stored verified and unpacked, symlinks intact.
    assert!(d.has_blob(&img.layers[0].digest));
    let fs = d.snapshot_fs(&img.chain_ids()[0]);
    assert!(
        fs.join("bin/busybox").is_file(),
        "{} has no bin/busybox",
        fs.display()
    );
    assert_eq!(
        std::fs::read_link(fs.join("bin/sh")).expect("bin/sh is a symlink"),
        Path::new("busybox")
    );
    assert!(d.ingest_files().is_empty());

    // A second pull finds it up to date.
    d.pouch(&["pull", "busybox"]).ok().says("up to date");
}

#[test]
fn pull_falls_back_to_the_next_mirror() {
    let Some(bins) = setup::e2e("pull_falls_back_to_the_next_mirror") else {
        return;
    };
    let reg = setup::busybox_registry(RegistryOptions::default());
    let opts = DaemonOptions {
        mirrors: vec![
            format!("http://127.0.0.1:{}", pouch_e2e::dead_port()),
            reg.url(),
        ],
        ..DaemonOptions::default()
    };
    let d = Daemon::start(&bins, opts).must("start pouchd");
    d.pouch(&["pull", "busybox"]).ok();
    assert_eq!(
        d.pouch(&["image", "inspect", "-f", "{{.Id}}", "busybox"])
            .ok()
            .out(),
        fixtures::busybox().id()
    );
}

#[test]
fn pull_by_digest() {
    let Some(bins) = setup::e2e("pull_by_digest") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    let img = fixtures::busybox();
    let by_digest = format!("busybox@{}", img.manifest_digest);
    d.pouch(&["pull", &by_digest]).ok();
    let v = d.inspect(&by_digest);
    assert_eq!(v["Id"], img.id());
    let digests: Vec<String> = serde_json::from_value(v["RepoDigests"].clone()).unwrap_or_default();
    assert!(
        digests.contains(&by_digest),
        "RepoDigests {digests:?} lacks {by_digest}"
    );
    let listed = d.pouch(&["images", "--digests"]);
    assert!(
        listed.ok().stdout.contains(&img.manifest_digest),
        "pouch images --digests does not show the digest: {listed}"
    );
    // A wrong digest is not found.
    let wrong = format!("busybox@{}", pouch_e2e::sha256_digest(b"nothing"));
    d.pouch(&["pull", &wrong]).fails();
}

fn check_multilayer(test: &str, format: Format, tag: &str) {
    let Some(bins) = setup::e2e(test) else {
        return;
    };
    let reg = Registry::start(RegistryOptions::default()).must("start docker-registry");
    let m = fixtures::multilayer(format);
    reg.push("test/multi", tag, &m.image)
        .must("push to the registry");
    let d = Daemon::start(&bins, DaemonOptions::default()).must("start pouchd");
    let name = format!("{}/test/multi:{tag}", reg.host());

    d.pouch(&["pull", &name]).ok();
    let v = d.inspect(&name);
    assert_eq!(v["Id"], m.image.id());
    let layers: Vec<String> = serde_json::from_value(v["RootFS"]["Layers"].clone()).unwrap();
    assert_eq!(layers.len(), 4, "RootFS.Layers: {layers:?}");
    assert_eq!(layers, m.image.diff_ids());

    let chain = m.image.chain_ids();
    let snap = |layer: usize, path: &str| d.snapshot_fs(&chain[layer]).join(path);
    for lp in &m.whiteouts {
        let p = snap(lp.layer, lp.path);
        let md = std::fs::symlink_metadata(&p)
            .unwrap_or_else(|e| panic!("whiteout {} missing: {e}", p.display()));
        assert!(
            md.file_type().is_char_device() && md.rdev() == 0,
            "{} is not a 0:0 char device (overlay whiteout)",
            p.display()
        );
    }
    for lp in &m.opaque_dirs {
        let p = snap(lp.layer, lp.path);
        assert!(p.is_dir(), "{} missing", p.display());
        assert!(
            pouch_sys::is_opaque(&p),
            "{} lacks trusted.overlay.opaque=y",
            p.display()
        );
    }
    for (lp, content) in &m.files {
        let p = snap(lp.layer, lp.path);
        assert_eq!(
            std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
            *content,
            "{}",
            p.display()
        );
    }
    // Docker whiteout files are converted, never stored.
    let leftovers: Vec<_> = list_files(&d.home().join("snapshots"))
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".wh."))
        })
        .collect();
    assert!(leftovers.is_empty(), "unconverted whiteouts: {leftovers:?}");
    for l in &m.image.layers {
        assert!(d.has_blob(&l.digest), "blob {} not stored", l.digest);
    }
}

#[test]
fn pull_multilayer_oci_with_gzip_zstd_and_plain_layers() {
    check_multilayer(
        "pull_multilayer_oci_with_gzip_zstd_and_plain_layers",
        Format::Oci,
        "oci",
    );
}

#[test]
fn pull_multilayer_docker_schema2() {
    check_multilayer("pull_multilayer_docker_schema2", Format::Docker, "docker");
}

#[test]
fn pull_two_arch_index_picks_the_host_platform() {
    let Some(bins) = setup::e2e("pull_two_arch_index_picks_the_host_platform") else {
        return;
    };
    let reg = Registry::start(RegistryOptions::default()).must("start docker-registry");
    let idx = fixtures::two_arch_index();
    reg.push_index("test/arch", "latest", &idx)
        .must("push to the registry");
    let Some(want) = idx.image(host_arch()) else {
        pouch_e2e::skip(
            "pull_two_arch_index_picks_the_host_platform",
            &format!("no image for host arch {}", host_arch()),
        );
        return;
    };
    let d = Daemon::start(&bins, DaemonOptions::default()).must("start pouchd");
    let name = format!("{}/test/arch:latest", reg.host());
    d.pouch(&["pull", &name]).ok();
    let v = d.inspect(&name);
    assert_eq!(v["Id"], want.id(), "picked the wrong platform");
    assert_eq!(v["Architecture"], host_arch());
    let env = d.pouch(&["inspect", "-f", "{{.Config.Env}}", &name]);
    assert!(
        env.ok().stdout.contains(&format!("ARCH={}", host_arch())),
        "{env}"
    );
    let digests: Vec<String> = serde_json::from_value(v["RepoDigests"].clone()).unwrap_or_default();
    assert!(
        digests.iter().any(|r| r.ends_with(&idx.digest)),
        "RepoDigests {digests:?} should name the index digest {} (as Docker does)",
        idx.digest
    );
    // Only the chosen platform's layer was fetched.
    let other = idx
        .images
        .iter()
        .find(|(a, _, _)| a != host_arch())
        .map(|(_, _, i)| i)
        .unwrap();
    assert!(!d.has_blob(&other.layers[0].digest));
}
