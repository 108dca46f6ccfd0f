//! What must never happen, end to end: a corrupted blob accepted, a hostile layer writing
//! outside its snapshot, leftovers after SIGKILL or SIGTERM in the middle of a pull, two
//! daemons on one home.

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use pouch_e2e::daemon::find_named;
use pouch_e2e::image::Image;
use pouch_e2e::proxy::{Corrupt, Proxy, TamperOptions};
use pouch_e2e::setup::{self, Cleanup};
use pouch_e2e::{fixtures, wait_for, Daemon, Must, Registry, RegistryOptions};
use rustix::process::Signal;

#[track_caller]
fn assert_nothing_left(d: &Daemon) {
    let ingest = d.ingest_files();
    assert!(ingest.is_empty(), "ingest files left behind: {ingest:?}");
    let tmp = d.tmp_snapshots();
    assert!(
        tmp.is_empty(),
        "unfinished snapshot dirs left behind: {tmp:?}"
    );
}

#[track_caller]
fn assert_not_listed(d: &Daemon, image: &Image) {
    let q = d.pouch(&["images", "-q", "--no-trunc"]);
    assert!(
        !q.ok().stdout.contains(image.id()),
        "the failed image is listed: {q}"
    );
}

#[test]
fn corrupted_blob_is_refused_and_not_stored() {
    let Some(bins) = setup::e2e("corrupted_blob_is_refused_and_not_stored") else {
        return;
    };
    let (reg, proxy, img, target) = setup::corrupting_proxy();
    let d = setup::daemon(&bins);

    let o = d.pouch(&["pull", &format!("{}/test/corrupt:latest", proxy.host())]);
    o.fails();
    assert!(
        proxy.tampered() >= 1,
        "the proxy never served the corrupted blob"
    );
    let hex = pouch_e2e::digest_hex(&target);
    assert!(
        o.stderr.contains(&hex[..12]),
        "the error should name the corrupted blob {target}: {o}"
    );
    assert_nothing_left(&d);
    assert!(!d.has_blob(&target), "the corrupted blob was stored");
    let chain = img.chain_ids();
    assert!(
        !d.snapshot_fs(&chain[1]).exists(),
        "a snapshot was committed for the corrupted layer"
    );
    assert_not_listed(&d, &img);

    // The same image straight from the registry is fine.
    let direct = format!("{}/test/corrupt:latest", reg.host());
    d.pouch(&["pull", &direct]).ok();
    assert_eq!(d.inspect(&direct)["Id"], img.id());
}

#[test]
fn hostile_layers_are_refused_and_nothing_escapes() {
    let Some(bins) = setup::e2e("hostile_layers_are_refused_and_nothing_escapes") else {
        return;
    };
    let tag = setup::unique_tag();
    let hostile = fixtures::hostile_images(&tag);
    let mut cleanup = Cleanup::default();
    let reg = Registry::start(RegistryOptions::default()).must("start docker-registry");
    for h in &hostile {
        reg.push(&format!("hostile/{}", h.name), "latest", &h.image)
            .must("push to the registry");
        for p in &h.must_not_exist {
            cleanup.add(p.clone());
        }
        if let Some(dir) = &h.must_stay_empty {
            std::fs::create_dir_all(dir).unwrap();
            cleanup.add(dir.clone());
        }
    }
    let passwd_links = std::fs::metadata("/etc/passwd").unwrap().nlink();
    let d = setup::daemon(&bins);

    let mut failures = Vec::new();
    for h in &hostile {
        let o = d.pouch(&["pull", &format!("{}/hostile/{}:latest", reg.host(), h.name)]);
        if o.success() || !o.combined().to_lowercase().contains("refused") {
            failures.push(format!(
                "{}: pull should fail saying \"refused\": {o}",
                h.name
            ));
        }
        for p in &h.must_not_exist {
            if p.exists() {
                failures.push(format!("{}: {} was written", h.name, p.display()));
            }
        }
        if let Some(dir) = &h.must_stay_empty {
            let n = std::fs::read_dir(dir).map(|r| r.count()).unwrap_or(0);
            if n != 0 {
                failures.push(format!("{}: {} was written into", h.name, dir.display()));
            }
        }
        if let Some(f) = &h.nlink_unchanged {
            let now = std::fs::metadata(f).unwrap().nlink();
            if now != passwd_links {
                failures.push(format!(
                    "{}: {} gained a hard link ({passwd_links} -> {now})",
                    h.name,
                    f.display()
                ));
            }
        }
        let q = d.pouch(&["images", "-q", "--no-trunc"]);
        if q.stdout.contains(h.image.id()) {
            failures.push(format!("{}: the refused image is listed", h.name));
        }
        if !d.tmp_snapshots().is_empty() || !d.ingest_files().is_empty() {
            failures.push(format!(
                "{}: left {:?} {:?}",
                h.name,
                d.tmp_snapshots(),
                d.ingest_files()
            ));
        }
    }
    let escaped = find_named(d.root(), &format!("escape-{tag}"));
    if !escaped.is_empty() {
        failures.push(format!("../escape landed outside its layer: {escaped:?}"));
    }
    assert!(
        failures.is_empty(),
        "hostile layers:\n{}",
        failures.join("\n")
    );
}

/// A registry with a ~16 MB two-layer random image behind a proxy serving 2 MB/s per blob,
/// so a pull lasts several seconds.
fn slow_image() -> (Registry, Proxy, Image, String) {
    let reg = Registry::start(RegistryOptions::default()).must("start docker-registry");
    let img = fixtures::random_image(2, 8_000_000, 99);
    reg.push("test/big", "latest", &img)
        .must("push to the registry");
    let proxy = Proxy::tamper(
        &reg.url(),
        TamperOptions {
            corrupt: Corrupt::Nothing,
            throttle: Some(2_000_000),
        },
    )
    .must("start the proxy");
    let name = format!("{}/test/big:latest", proxy.host());
    (reg, proxy, img, name)
}

/// Waits until a download is under way (a non-empty ingest file).
#[track_caller]
fn wait_for_download(d: &Daemon) {
    let found = wait_for(Duration::from_secs(60), || {
        d.ingest_files()
            .into_iter()
            .find(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
    });
    assert!(
        found.is_some(),
        "no download appeared in {}/content/ingest within 60s:\n{}",
        d.home().display(),
        d.log()
    );
}

#[test]
fn sigkill_mid_pull_leaves_nothing_and_recovers() {
    let Some(bins) = setup::e2e("sigkill_mid_pull_leaves_nothing_and_recovers") else {
        return;
    };
    let (_reg, _proxy, img, name) = slow_image();
    let mut d = setup::daemon(&bins);
    let pull = d.pouch_bg(&["pull", &name]).must("start pouch");
    wait_for_download(&d);
    d.kill9().must("kill pouchd");
    let o = pull.wait(Duration::from_secs(60));
    assert!(!o.success(), "the pull cannot have succeeded: {o}");

    d.restart().must("restart pouchd");
    assert_nothing_left(&d);
    assert_not_listed(&d, &img);

    d.pouch(&["pull", &name]).ok();
    assert_eq!(d.inspect(&name)["Id"], img.id());
    let images = d.pouch(&["images"]);
    assert!(images.ok().stdout.contains("test/big"), "{images}");
    assert_nothing_left(&d);
}

#[test]
fn sigterm_during_pull_exits_cleanly() {
    let Some(bins) = setup::e2e("sigterm_during_pull_exits_cleanly") else {
        return;
    };
    let (_reg, _proxy, img, name) = slow_image();
    let mut d = setup::daemon(&bins);
    let pull = d.pouch_bg(&["pull", &name]).must("start pouch");
    wait_for_download(&d);
    d.signal(Signal::TERM).unwrap();
    let status = d.wait_exit(Duration::from_secs(30));
    assert!(
        status.is_some(),
        "pouchd did not exit within 30s of SIGTERM:\n{}",
        d.log()
    );
    let status = status.unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "pouchd exited with {status}:\n{}",
        d.log()
    );
    let o = pull.wait(Duration::from_secs(60));
    assert!(
        !o.success(),
        "the interrupted pull cannot have succeeded: {o}"
    );
    assert_nothing_left(&d);
    assert!(
        !d.log().contains("panicked"),
        "pouchd panicked:\n{}",
        d.log()
    );

    d.restart().must("restart pouchd");
    assert_not_listed(&d, &img);
}

#[test]
fn second_daemon_on_the_same_home_refuses_to_start() {
    let Some(bins) = setup::e2e("second_daemon_on_the_same_home_refuses_to_start") else {
        return;
    };
    let d = setup::daemon(&bins);
    let o = d.start_second_on_same_home(Duration::from_secs(20));
    assert!(
        !o.timed_out,
        "a second pouchd on the same home kept running: {o}"
    );
    assert_ne!(
        o.code,
        Some(0),
        "a second pouchd on the same home exited 0: {o}"
    );
    assert!(
        !o.stderr.trim().is_empty(),
        "the refusal should say why: {o}"
    );
    assert!(
        pouch_e2e::daemon::ping(&d.socket()),
        "the first daemon stopped answering"
    );
    d.pouch(&["version"]).ok();
}
