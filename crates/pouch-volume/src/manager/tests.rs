//! Tests of the volume manager over a real store in a temp dir; the mount tests need root
//! and say so when skipped.

use super::*;

struct Fixture {
    dir: tempfile::TempDir,
    vm: VolumeManager,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("pouch.redb")).unwrap());
    let vm = VolumeManager::new(
        store,
        dir.path().join("volumes"),
        None,
        dir.path().join("exec"),
    )
    .unwrap();
    Fixture { dir, vm }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[test]
fn create_get_list_remove() {
    let f = fixture();
    let rec =
        f.vm.create(Some("data"), "", BTreeMap::new(), map(&[("a", "b")]), false)
            .unwrap();
    assert_eq!(rec.name, "data");
    assert_eq!(rec.driver, "local");
    assert!(!rec.anonymous);
    assert!(chrono::DateTime::parse_from_rfc3339(&rec.created_at).is_ok());
    let mp = f.vm.mountpoint(&rec);
    assert_eq!(mp, f.dir.path().join("volumes/data/_data"));
    assert!(mp.is_dir());
    assert_eq!(f.vm.get("data").unwrap(), rec);

    // The same name again: the existing volume, whatever the options (Docker).
    let again =
        f.vm.create(
            Some("data"),
            "local",
            map(&[("foo", "x")]),
            BTreeMap::new(),
            false,
        )
        .unwrap();
    assert_eq!(again, rec);
    let e =
        f.vm.create(
            Some("data"),
            "tmpfs",
            BTreeMap::new(),
            BTreeMap::new(),
            false,
        )
        .unwrap_err();
    assert!(matches!(e, VolumeError::Conflict { .. }), "{e}");
    assert_eq!(e.kind(), pouch_api::ErrorKind::Conflict);

    let anon =
        f.vm.create(None, "local", BTreeMap::new(), BTreeMap::new(), true)
            .unwrap();
    assert_eq!(anon.name.len(), 64);
    assert!(anon.name.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(anon.anonymous);
    assert!(anon.labels.contains_key(ANONYMOUS_LABEL));
    let names: Vec<String> = f.vm.list().unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"data".to_string()) && names.contains(&anon.name));

    std::fs::write(mp.join("f"), "12345").unwrap();
    assert_eq!(f.vm.usage("data"), 5);
    assert!(!f.vm.is_empty("data"));
    assert!(f.vm.is_empty(&anon.name));
    assert_eq!(f.vm.usage("nope"), -1);

    f.vm.remove("data").unwrap();
    assert!(!f.dir.path().join("volumes/data").exists());
    let e = f.vm.get("data").unwrap_err();
    assert_eq!(e.to_string(), "no such volume: data");
    assert_eq!(e.kind(), pouch_api::ErrorKind::NotFound);
    assert!(matches!(f.vm.remove("data"), Err(VolumeError::NotFound(_))));
    assert_eq!(f.vm.list().unwrap().len(), 1);
}

#[test]
fn records_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pouch.redb");
    {
        let store = Arc::new(Store::open(&path).unwrap());
        let vm =
            VolumeManager::new(store, dir.path().join("v"), None, dir.path().join("e")).unwrap();
        vm.create(
            Some("keep"),
            "tmpfs",
            map(&[("size", "1m")]),
            BTreeMap::new(),
            false,
        )
        .unwrap();
    }
    let store = Arc::new(Store::open(&path).unwrap());
    let vm = VolumeManager::new(store, dir.path().join("v"), None, dir.path().join("e")).unwrap();
    let rec = vm.get("keep").unwrap();
    assert_eq!(rec.driver, "tmpfs");
    assert_eq!(rec.options["size"], "1m");
    assert_eq!(vm.mountpoint(&rec), dir.path().join("e/volumes/keep"));
}

#[test]
fn bad_names_and_options_create_nothing() {
    let f = fixture();
    for (name, driver, opts, want) in [
        ("a", "local", map(&[]), "invalid characters"),
        ("x/y", "local", map(&[]), "invalid characters"),
        ("ok", "nfs", map(&[]), "unknown volume driver"),
        ("ok", "local", map(&[("bogus", "1")]), "\"bogus\""),
        (
            "ok",
            "local",
            map(&[("size", "10m")]),
            "disk quota is not available",
        ),
        (
            "ok",
            "local",
            map(&[("type", "tmpfs")]),
            "missing required option",
        ),
        ("ok", "tmpfs", map(&[("mode", "9")]), "mode=9"),
    ] {
        let e =
            f.vm.create(Some(name), driver, opts, BTreeMap::new(), false)
                .unwrap_err();
        assert_eq!(e.kind(), pouch_api::ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains(want), "{name} {driver}: {e}");
    }
    assert!(f.vm.list().unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(f.dir.path().join("volumes"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn tmpfs_volume_mounts_once_for_all_users() {
    if !is_root() {
        eprintln!("SKIP tmpfs_volume_mounts_once_for_all_users: needs root");
        return;
    }
    let f = fixture();
    let rec =
        f.vm.create(
            Some("scratch"),
            "tmpfs",
            map(&[("size", "1m"), ("mode", "1777")]),
            BTreeMap::new(),
            false,
        )
        .unwrap();
    let mp = f.vm.mountpoint(&rec);
    assert!(!pouch_sys::mount::is_mount_point(&mp));
    assert_eq!(f.vm.mount("scratch").unwrap(), mp);
    assert!(pouch_sys::mount::is_mount_point(&mp));
    assert_eq!(mp.metadata().unwrap().mode() & 0o7777, 0o1777);
    std::fs::write(mp.join("f"), "x").unwrap();
    // A second user shares the mount and its content.
    assert_eq!(f.vm.mount("scratch").unwrap(), mp);
    assert!(mp.join("f").exists());
    assert!(matches!(f.vm.remove("scratch"), Err(VolumeError::Busy(_))));
    f.vm.unmount("scratch").unwrap();
    assert!(pouch_sys::mount::is_mount_point(&mp));
    assert_eq!(f.vm.usage("scratch"), 1);
    f.vm.unmount("scratch").unwrap();
    assert!(!pouch_sys::mount::is_mount_point(&mp));
    // Not mounted any more: a further unmount is nothing.
    f.vm.unmount("scratch").unwrap();
    // The size option is the tmpfs limit.
    f.vm.mount("scratch").unwrap();
    assert!(!mp.join("f").exists(), "a new tmpfs starts empty");
    let big = vec![0u8; 2 << 20];
    assert!(
        std::fs::write(mp.join("big"), &big).is_err(),
        "size=1m is enforced"
    );
    f.vm.unmount("scratch").unwrap();
    f.vm.remove("scratch").unwrap();
    assert!(!mp.exists());
}

#[test]
fn local_volume_with_a_device_is_mounted_at_first_use() {
    if !is_root() {
        eprintln!("SKIP local_volume_with_a_device_is_mounted_at_first_use: needs root");
        return;
    }
    let f = fixture();
    let rec =
        f.vm.create(
            Some("dev"),
            "local",
            map(&[
                ("type", "tmpfs"),
                ("device", "tmpfs"),
                ("o", "size=1m,noexec"),
            ]),
            BTreeMap::new(),
            false,
        )
        .unwrap();
    let mp = f.vm.mountpoint(&rec);
    assert!(mp.is_dir() && !pouch_sys::mount::is_mount_point(&mp));
    f.vm.mount("dev").unwrap();
    assert!(pouch_sys::mount::is_mount_point(&mp));
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = info
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(mp.to_str().unwrap()))
        .unwrap();
    assert!(line.contains("noexec"), "{line}");
    assert!(line.contains("tmpfs"), "{line}");

    // A bind of a host dir (type=none, o=bind).
    let host = f.dir.path().join("host");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("seen"), "x").unwrap();
    let b =
        f.vm.create(
            Some("bound"),
            "local",
            map(&[
                ("type", "none"),
                ("device", host.to_str().unwrap()),
                ("o", "bind,ro"),
            ]),
            BTreeMap::new(),
            false,
        )
        .unwrap();
    let bmp = f.vm.mount("bound").unwrap();
    assert_eq!(bmp, f.vm.mountpoint(&b));
    assert!(bmp.join("seen").exists());
    assert!(
        std::fs::write(bmp.join("new"), "x").is_err(),
        "o=ro is honoured"
    );
    f.vm.unmount("bound").unwrap();
    // Removing never deletes through a mount: the host dir keeps its file.
    f.vm.remove("bound").unwrap();
    assert!(host.join("seen").exists());

    f.vm.unmount("dev").unwrap();
    assert!(!pouch_sys::mount::is_mount_point(&mp));
    f.vm.remove("dev").unwrap();
}

#[test]
fn a_mount_left_by_an_earlier_daemon_is_taken_over() {
    if !is_root() {
        eprintln!("SKIP a_mount_left_by_an_earlier_daemon_is_taken_over: needs root");
        return;
    }
    let f = fixture();
    let rec =
        f.vm.create(
            Some("kept"),
            "tmpfs",
            BTreeMap::new(),
            BTreeMap::new(),
            false,
        )
        .unwrap();
    let mp = f.vm.mount("kept").unwrap();
    std::fs::write(mp.join("state"), "x").unwrap();
    // A new manager (daemon restart) over the same store finds the mount in place.
    let store = Arc::new(Store::open(&f.dir.path().join("pouch2.redb")).unwrap());
    store.put(VOLUMES, "kept", &rec).unwrap();
    let vm2 = VolumeManager::new(
        store,
        f.dir.path().join("volumes"),
        None,
        f.dir.path().join("exec"),
    )
    .unwrap();
    assert_eq!(vm2.mount("kept").unwrap(), mp);
    assert!(
        mp.join("state").exists(),
        "the content of the live tmpfs is kept"
    );
    vm2.unmount("kept").unwrap();
    assert!(!pouch_sys::mount::is_mount_point(&mp));
    f.vm.unmount("kept").unwrap();
    f.vm.remove("kept").unwrap();
}
