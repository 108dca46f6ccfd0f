//! Push and pull against a real registry (`/usr/bin/docker-registry`, Debian's build of
//! the CNCF distribution registry) on a free loopback port: a multi-layer image (gzip,
//! zstd and plain layers, a whiteout) is loaded, pushed, removed and pulled back; then an
//! index, a digest pull, a cancelled pull and a corrupted blob. The registry is the pouch-e2e
//! harness's. Skips with a message when the registry binary is missing.

use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::sync::Arc;

use pouch_api::progress::JsonMessage;
use pouch_api::Filters;
use pouch_e2e::{sha256_digest as digest, Must, Registry, RegistryOptions};
use pouch_image::manager::{ImageManager, ImageManagerConfig};
use pouch_image::registry::RegistryConfig;
use pouch_image::ImageError;
use pouch_store::Store;
use tokio_util::sync::CancellationToken;

/// A registry started by the harness (`docker-registry` with a store in a temp dir).
fn start_registry() -> Registry {
    Registry::start(RegistryOptions::default()).must("start docker-registry")
}

fn open(home: &Path, downloads: usize) -> Arc<ImageManager> {
    std::fs::create_dir_all(home).unwrap();
    let store = Arc::new(Store::open(&home.join("pouch.redb")).unwrap());
    ImageManager::open(
        ImageManagerConfig {
            home: home.to_path_buf(),
            registry: RegistryConfig::default(),
            max_concurrent_downloads: downloads,
        },
        store,
    )
    .unwrap()
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        if path.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
        } else {
            h.set_mode(0o644);
        }
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A docker-archive with three layers (gzip, zstd, plain; the last whiteouts `bin/a`),
/// tagged `tag`.
fn archive(tag: &str) -> Vec<u8> {
    // Incompressible, so the gzip blob stays large enough for several progress lines.
    let big = noise(3_000_000);
    let l1 = tar_of(&[("bin/", b""), ("bin/a", b"first"), ("bin/big", &big)]);
    let l2 = tar_of(&[("etc/", b""), ("etc/b", b"second")]);
    let l3 = tar_of(&[
        ("bin/", b""),
        ("bin/.wh.a", b""),
        ("etc/", b""),
        ("etc/c", b"third"),
    ]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &l1).unwrap();
    let l1z = gz.finish().unwrap();
    let l2z = zstd::encode_all(l2.as_slice(), 3).unwrap();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-05-06T07:08:09Z",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [digest(&l1), digest(&l2), digest(&l3)]},
        "history": [{"created_by": "one"}, {"created_by": "two"}, {"created_by": "three"}],
    });
    let config = serde_json::to_vec(&config).unwrap();
    let manifest = serde_json::json!([{
        "Config": "config.json",
        "RepoTags": [tag],
        "Layers": ["l1/layer.tar", "l2/layer.tar", "l3/layer.tar"],
    }]);
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in [
        ("l1/layer.tar", l1z),
        ("l2/layer.tar", l2z),
        ("l3/layer.tar", l3),
        ("config.json", config),
        ("manifest.json", serde_json::to_vec(&manifest).unwrap()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

/// `n` pseudo-random (incompressible) bytes.
fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<JsonMessage>) -> Vec<JsonMessage> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

fn statuses(msgs: &[JsonMessage]) -> Vec<String> {
    msgs.iter().filter_map(|m| m.status.clone()).collect()
}

/// Files left in the ingest directory and unfinished snapshot directories.
fn leftovers(home: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(home.join("content/ingest")).unwrap() {
        out.push(entry.unwrap().path().display().to_string());
    }
    for entry in std::fs::read_dir(home.join("snapshots")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if name.starts_with("tmp-") {
            out.push(name);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_remove_pull_against_a_real_registry() {
    if !pouch_e2e::require_registry("push_remove_pull_against_a_real_registry") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = start_registry();
    let home = dir.path().join("home");
    let mgr = open(&home, 1);
    let name = format!("{}/test/app:v1", reg.host());
    let repo = format!("{}/test/app", reg.host());

    // Load a three-layer image and push it.
    let loaded = mgr.load(&mut archive(&name).as_slice(), &|_| {}).unwrap();
    assert_eq!(loaded, vec![name.clone()]);
    let id = mgr.inspect(&name).unwrap().id;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    mgr.push(&name, None, tx, CancellationToken::new())
        .await
        .unwrap();
    let msgs = drain(&mut rx);
    let st = statuses(&msgs);
    assert_eq!(st[0], format!("The push refers to repository [{repo}]"));
    assert_eq!(st.iter().filter(|s| *s == "Preparing").count(), 3);
    assert_eq!(st.iter().filter(|s| *s == "Pushed").count(), 3);
    assert!(st.iter().any(|s| s == "Waiting"), "{st:?}");
    let aux = msgs.last().unwrap().aux.clone().unwrap();
    assert_eq!(aux["Tag"], "v1");
    let manifest_digest = aux["Digest"].as_str().unwrap().to_string();
    assert!(st.contains(&format!(
        "v1: digest: {manifest_digest} size: {}",
        aux["Size"]
    )));
    let inspect = mgr.inspect(&name).unwrap();
    assert_eq!(inspect.repo_digests, [format!("{repo}@{manifest_digest}")]);

    // Pushing again finds every layer there.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    mgr.push(&name, None, tx, CancellationToken::new())
        .await
        .unwrap();
    let st = statuses(&drain(&mut rx));
    assert_eq!(
        st.iter().filter(|s| *s == "Layer already exists").count(),
        3
    );

    // Remove it: everything goes.
    let items = mgr.remove(&name, false, false).unwrap();
    assert_eq!(items.last().unwrap().deleted.as_deref(), Some(id.as_str()));
    assert_eq!(mgr.count(), 0);
    assert_eq!(
        std::fs::read_dir(home.join("content/blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(home.join("snapshots")).unwrap().count(),
        0
    );

    // Pull it back, in a manager allowing parallel downloads.
    drop(mgr);
    let mgr = open(&home, 3);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let pulled = mgr
        .pull(&name, None, tx, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(pulled, id);
    let msgs = drain(&mut rx);
    let st = statuses(&msgs);
    assert_eq!(msgs[0].status.as_deref(), Some("Pulling from test/app"));
    assert_eq!(msgs[0].id.as_deref(), Some("v1"));
    for s in [
        "Pulling fs layer",
        "Download complete",
        "Pull complete",
        "Verifying Checksum",
    ] {
        assert_eq!(st.iter().filter(|x| *x == s).count(), 3, "{s}: {st:?}");
    }
    let downloading: Vec<&JsonMessage> = msgs
        .iter()
        .filter(|m| m.status.as_deref() == Some("Downloading"))
        .collect();
    assert!(downloading
        .iter()
        .any(|m| m.progress_detail.as_ref().unwrap().total.unwrap() > 1_000_000));
    assert_eq!(st[st.len() - 2], format!("Digest: {manifest_digest}"));
    assert_eq!(
        st[st.len() - 1],
        format!("Status: Downloaded newer image for {name}")
    );
    let layer_ids: Vec<&str> = msgs
        .iter()
        .filter(|m| m.status.as_deref() == Some("Pull complete"))
        .map(|m| m.id.as_deref().unwrap())
        .collect();
    assert!(layer_ids.iter().all(|i| i.len() == 12));

    let dirs = mgr.rootfs_layers(&name).unwrap();
    assert_eq!(dirs.len(), 3);
    assert_eq!(std::fs::read(dirs[0].join("bin/a")).unwrap(), b"first");
    assert_eq!(std::fs::read(dirs[1].join("etc/b")).unwrap(), b"second");
    let whiteout = std::fs::symlink_metadata(dirs[2].join("bin/a")).unwrap();
    assert!(whiteout.file_type().is_char_device());
    let inspect = mgr.inspect(&name).unwrap();
    assert_eq!(inspect.repo_digests, [format!("{repo}@{manifest_digest}")]);
    assert_eq!(inspect.repo_tags, vec![name.clone()]);
    assert_eq!(inspect.config.unwrap().cmd.unwrap(), ["/bin/sh"]);
    assert_eq!(mgr.history(&name).unwrap().len(), 3);
    assert!(leftovers(&home).is_empty());

    // Again: nothing to download.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    mgr.pull(&name, None, tx, CancellationToken::new())
        .await
        .unwrap();
    let st = statuses(&drain(&mut rx));
    assert_eq!(st.iter().filter(|s| *s == "Already exists").count(), 3);
    assert_eq!(
        st.last().unwrap(),
        &format!("Status: Image is up to date for {name}")
    );

    // By digest.
    let by_digest = format!("{repo}@{manifest_digest}");
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    assert_eq!(
        mgr.pull(&by_digest, None, tx, CancellationToken::new())
            .await
            .unwrap(),
        id
    );
    assert_eq!(mgr.inspect(&by_digest).unwrap().id, id);

    // An index with an arm64 and an amd64 entry (the same manifest): the amd64 one is
    // taken and the index digest becomes the repo digest.
    let manifest_size = aux["Size"].as_u64().unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
             "digest": manifest_digest, "size": manifest_size,
             "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
             "digest": manifest_digest, "size": manifest_size,
             "platform": {"architecture": "amd64", "os": "linux"}},
        ]
    });
    let index_bytes = serde_json::to_vec(&index).unwrap();
    let index_digest = digest(&index_bytes);
    let resp = reqwest::Client::new()
        .put(format!("{}/v2/test/app/manifests/multi", reg.url()))
        .header(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        )
        .body(index_bytes)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let multi = format!("{repo}:multi");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    assert_eq!(
        mgr.pull(&multi, None, tx, CancellationToken::new())
            .await
            .unwrap(),
        id
    );
    let st = statuses(&drain(&mut rx));
    assert!(st.contains(&format!("Digest: {index_digest}")), "{st:?}");
    assert!(mgr
        .inspect(&multi)
        .unwrap()
        .repo_digests
        .contains(&format!("{repo}@{index_digest}")));

    // An OCI manifest: save (which writes OCI manifests), load elsewhere, push as :oci,
    // pull it here.
    let mut saved = Vec::new();
    mgr.save(std::slice::from_ref(&name), &mut saved).unwrap();
    let other = open(&dir.path().join("other"), 2);
    other.load(&mut saved.as_slice(), &|_| {}).unwrap();
    let oci = format!("{repo}:oci");
    other.tag(&name, &repo, Some("oci")).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    other
        .push(&oci, None, tx, CancellationToken::new())
        .await
        .unwrap();
    let oci_digest = drain(&mut rx).last().unwrap().aux.clone().unwrap()["Digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(oci_digest, manifest_digest);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    assert_eq!(
        mgr.pull(&oci, None, tx, CancellationToken::new())
            .await
            .unwrap(),
        id
    );
    let st = statuses(&drain(&mut rx));
    assert_eq!(st.iter().filter(|s| *s == "Already exists").count(), 3);
    assert!(mgr
        .inspect(&oci)
        .unwrap()
        .repo_digests
        .contains(&format!("{repo}@{oci_digest}")));

    // A cancelled pull fails at once and leaves nothing.
    mgr.remove(&id, true, false).unwrap();
    let token = CancellationToken::new();
    token.cancel();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let err = mgr.pull(&name, None, tx, token).await.unwrap_err();
    assert!(matches!(err, ImageError::Cancelled(_)), "{err}");
    assert!(leftovers(&home).is_empty());
    assert_eq!(mgr.list(&Filters::default(), false).unwrap().len(), 0);

    // A corrupted blob in the registry's storage: refused, nothing of it kept.
    let m: serde_json::Value = serde_json::from_slice(
        &reqwest::Client::new()
            .get(format!(
                "{}/v2/test/app/manifests/{manifest_digest}",
                reg.url()
            ))
            .header(
                "Accept",
                "application/vnd.docker.distribution.manifest.v2+json",
            )
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let big_layer = m["layers"][0]["digest"].as_str().unwrap().to_string();
    let hex = &big_layer[7..];
    let data_path = reg.storage().join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ));
    let mut data = Vec::new();
    std::fs::File::open(&data_path)
        .unwrap()
        .read_to_end(&mut data)
        .unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    std::fs::write(&data_path, &data).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let err = mgr
        .pull(&name, None, tx, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ImageError::DigestMismatch { digest, .. } if *digest == big_layer),
        "{err}"
    );
    assert!(leftovers(&home).is_empty());
    let blobs: Vec<String> = std::fs::read_dir(home.join("content/blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(!blobs.contains(&hex.to_string()));
    assert_eq!(mgr.count(), 0);
}

/// Cancelling a pull while its layer streams stops it and leaves nothing of the layer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_pull_leaves_nothing() {
    if !pouch_e2e::require_registry("cancelled_pull_leaves_nothing") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = start_registry();
    let home = dir.path().join("home");
    let mgr = open(&home, 3);
    let name = format!("{}/big:1", reg.host());
    let big = noise(24 << 20);
    let tar = tar_of(&[("big", &big)]);
    let id = mgr
        .import(&mut tar.as_slice(), Some(&name), "", &[])
        .unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    mgr.push(&name, None, tx, CancellationToken::new())
        .await
        .unwrap();
    mgr.remove(&name, false, false).unwrap();
    assert_eq!(mgr.count(), 0);

    let token = CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let pull = {
        let (mgr, name, token) = (mgr.clone(), name.clone(), token.clone());
        tokio::spawn(async move { mgr.pull(&name, None, tx, token).await })
    };
    while let Some(m) = rx.recv().await {
        let started = m.status.as_deref() == Some("Downloading")
            && m.progress_detail
                .as_ref()
                .and_then(|d| d.current)
                .is_some_and(|c| c > 0);
        if started {
            token.cancel();
            break;
        }
    }
    let err = pull.await.unwrap().unwrap_err();
    assert!(matches!(err, ImageError::Cancelled(_)), "{err}");
    assert!(leftovers(&home).is_empty(), "{:?}", leftovers(&home));
    assert_eq!(
        std::fs::read_dir(home.join("content/blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(home.join("snapshots")).unwrap().count(),
        0
    );
    assert!(mgr.inspect(&id).is_err());

    // The next pull starts from nothing and succeeds.
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    assert_eq!(
        mgr.pull(&name, None, tx, CancellationToken::new())
            .await
            .unwrap(),
        id
    );
    let dirs = mgr.rootfs_layers(&name).unwrap();
    assert_eq!(
        std::fs::metadata(dirs[0].join("big")).unwrap().len(),
        big.len() as u64
    );
}
