//! Engine tests of volumes: the `/volumes` API on a temp home, and (as root) containers
//! created from an imported image with `--volume`, `--mount`, `--volumes-from` and image
//! `VOLUME`s: the resolved mounts, copy-up, in-use refusal, rollback, `rm -v`, and `cp`
//! through the mounts.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

use pouch_api::container::{ContainerConfig, ContainerCreateBody, HostConfig, Mount};
use pouch_api::volume::VolumeCreateRequest;
use pouch_api::{ErrorKind, Filters};

use crate::{Engine, EngineConfig, EventsOptions, RuntimeConfig};

struct TestEngine {
    dir: tempfile::TempDir,
    engine: Arc<Engine>,
}

/// Unmounts what a failed test left mounted under its temp dir (deepest first), so the
/// dir can go.
impl Drop for TestEngine {
    fn drop(&mut self) {
        let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
            return;
        };
        let mut left: Vec<&str> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| std::path::Path::new(m).starts_with(self.dir.path()))
            .collect();
        left.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in left {
            let _ = pouch_sys::mount::unmount(std::path::Path::new(m));
        }
    }
}

fn engine() -> TestEngine {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineConfig {
        home_dir: dir.path().join("home"),
        exec_root: dir.path().join("exec"),
        registry: Default::default(),
        max_concurrent_downloads: 1,
        debug: false,
        listen_addresses: vec![],
        runtime: RuntimeConfig {
            runtimes: BTreeMap::from([("runc".to_string(), "/usr/bin/runc".into())]),
            default_runtime: "runc".into(),
            ..Default::default()
        },
        network: Default::default(),
        labels: Vec::new(),
        lxcfs: Default::default(),
    })
    .unwrap();
    TestEngine { dir, engine }
}

fn req(
    name: &str,
    driver: &str,
    opts: &[(&str, &str)],
    labels: &[(&str, &str)],
) -> VolumeCreateRequest {
    let map = |p: &[(&str, &str)]| {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    VolumeCreateRequest {
        name: name.into(),
        driver: driver.into(),
        driver_opts: map(opts),
        labels: map(labels),
    }
}

fn filters(pairs: &[(&str, &str)]) -> Filters {
    let mut f = Filters::default();
    for (k, v) in pairs {
        f.add(k, v);
    }
    f
}

fn names(e: &Engine, f: &[(&str, &str)]) -> Vec<String> {
    let mut n: Vec<String> = e
        .list_volumes(&filters(f))
        .unwrap()
        .volumes
        .into_iter()
        .map(|v| v.name)
        .collect();
    n.sort();
    n
}

/// The events received until none comes for a moment.
async fn drain(
    rx: &mut tokio::sync::mpsc::Receiver<pouch_api::container::EventMessage>,
) -> Vec<pouch_api::container::EventMessage> {
    let mut out = Vec::new();
    while let Ok(Some(ev)) =
        tokio::time::timeout(std::time::Duration::from_millis(300), rx.recv()).await
    {
        out.push(ev);
    }
    out
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[tokio::test]
async fn volume_api_create_list_inspect_remove_prune() {
    let t = engine();
    let e = &t.engine;
    let mut events = e
        .events(EventsOptions {
            filters: filters(&[("type", "volume")]),
            ..Default::default()
        })
        .unwrap();

    let v = e
        .create_volume(req("data", "", &[], &[("tier", "db")]))
        .await
        .unwrap();
    assert_eq!(v.name, "data");
    assert_eq!(v.driver, "local");
    assert_eq!(v.scope, "local");
    assert_eq!(
        v.mountpoint,
        t.dir
            .path()
            .join("home/volumes/data/_data")
            .display()
            .to_string()
    );
    assert!(v.usage_data.is_none());
    // Again: the same volume (Docker), even with another (empty) driver.
    assert_eq!(e.create_volume(req("data", "", &[], &[])).await.unwrap(), v);
    let err = e
        .create_volume(req("data", "tmpfs", &[], &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict, "{}", err.message);
    let err = e
        .create_volume(req("bad/name", "", &[], &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    let err = e
        .create_volume(req("x1", "local", &[("bogus", "1")], &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    assert!(err.message.contains("bogus"), "{}", err.message);

    e.create_volume(req("scratch", "tmpfs", &[("size", "1m")], &[]))
        .await
        .unwrap();
    let anon = e.create_volume(req("", "", &[], &[])).await.unwrap();
    assert_eq!(anon.name.len(), 64);

    assert_eq!(names(e, &[]).len(), 3);
    assert_eq!(names(e, &[("driver", "tmpfs")]), ["scratch"]);
    assert_eq!(names(e, &[("label", "tier=db")]), ["data"]);
    assert_eq!(names(e, &[("label", "tier")]), ["data"]);
    assert_eq!(names(e, &[("name", "crat")]), ["scratch"]);
    assert_eq!(names(e, &[("dangling", "true")]).len(), 3);
    assert!(names(e, &[("dangling", "false")]).is_empty());
    let err = e
        .list_volumes(&filters(&[("dangling", "maybe")]))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    let err = e.list_volumes(&filters(&[("color", "red")])).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);

    assert_eq!(e.inspect_volume("scratch").unwrap().options["size"], "1m");
    let err = e.inspect_volume("nope").unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(err.message, "no such volume: nope");

    let df = e.disk_usage().unwrap();
    let data = df.volumes.iter().find(|v| v.name == "data").unwrap();
    let usage = data.usage_data.clone().unwrap();
    assert_eq!((usage.size, usage.ref_count), (0, 0));

    // Prune takes anonymous volumes only, unless all=true; labels narrow it.
    let p = e.prune_volumes(&Filters::default()).await.unwrap();
    assert_eq!(p.volumes_deleted, std::slice::from_ref(&anon.name));
    let p = e
        .prune_volumes(&filters(&[("all", "true"), ("label", "tier=db")]))
        .await
        .unwrap();
    assert_eq!(p.volumes_deleted, ["data"]);
    assert!(e.prune_volumes(&filters(&[("until", "1h")])).await.is_err());

    e.remove_volume("scratch", false).await.unwrap();
    let err = e.remove_volume("scratch", false).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    e.remove_volume("scratch", true).await.unwrap();
    assert!(names(e, &[]).is_empty());

    let seen: Vec<String> = drain(&mut events)
        .await
        .into_iter()
        .map(|ev| format!("{} {}", ev.action, ev.actor.id))
        .collect();
    for want in [
        "create data".to_string(),
        "create scratch".to_string(),
        format!("destroy {}", anon.name),
        "destroy data".to_string(),
        "destroy scratch".to_string(),
        "prune ".to_string(),
    ] {
        assert!(seen.contains(&want), "{want} not in {seen:?}");
    }
}

/// A one-layer image: `/data` (owned by 1000, with a file and a symlink), `/etc/passwd`,
/// `VOLUME ["/data", "/cache"]`.
fn import_image(e: &Engine) -> String {
    let mut b = tar::Builder::new(Vec::new());
    let mut add =
        |path: &str, kind: tar::EntryType, mode: u32, uid: u64, data: &[u8], link: Option<&str>| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_uid(uid);
            h.set_gid(uid);
            h.set_size(data.len() as u64);
            h.set_mtime(1_600_000_000);
            if let Some(l) = link {
                h.set_link_name(l).unwrap();
            }
            h.set_path(path).unwrap();
            h.set_cksum();
            b.append(&h, data).unwrap();
        };
    add("data/", tar::EntryType::Directory, 0o750, 1000, b"", None);
    add(
        "data/file",
        tar::EntryType::Regular,
        0o640,
        1000,
        b"from the image",
        None,
    );
    add(
        "data/link",
        tar::EntryType::Symlink,
        0o777,
        1000,
        b"",
        Some("file"),
    );
    add("etc/", tar::EntryType::Directory, 0o755, 0, b"", None);
    add(
        "etc/passwd",
        tar::EntryType::Regular,
        0o644,
        0,
        b"root:x:0:0::/:/bin/sh\n",
        None,
    );
    let bytes = b.into_inner().unwrap();
    e.import_image(
        &mut bytes.as_slice(),
        Some("voltest:latest"),
        "",
        &[
            "CMD [\"true\"]".to_string(),
            "VOLUME [\"/data\", \"/cache\"]".to_string(),
        ],
    )
    .unwrap()
}

fn body(host: HostConfig) -> ContainerCreateBody {
    ContainerCreateBody {
        config: ContainerConfig {
            image: "voltest:latest".into(),
            ..Default::default()
        },
        host_config: Some(HostConfig {
            network_mode: "none".into(),
            ..host
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn containers_get_their_volumes() {
    if !is_root() {
        eprintln!("SKIP containers_get_their_volumes: needs root (overlay and tmpfs mounts)");
        return;
    }
    let t = engine();
    let e = &t.engine;
    import_image(e);
    let host_dir = t.dir.path().join("host-dir");
    let mut events = e
        .events(EventsOptions {
            filters: filters(&[("type", "volume")]),
            ..Default::default()
        })
        .unwrap();

    // -v named:/data covers the image's /data (no anonymous volume there) and gets its
    // content; /cache gets an anonymous volume; a missing -v host dir is created.
    let created = e
        .create_container(
            Some("one".into()),
            body(HostConfig {
                binds: Some(vec![
                    "named:/data".into(),
                    format!("{}:/host:ro", host_dir.display()),
                ]),
                mounts: Some(vec![Mount {
                    kind: "volume".into(),
                    source: "fast".into(),
                    target: "/fast".into(),
                    volume_options: Some(pouch_api::container::VolumeOptions {
                        driver_config: Some(pouch_api::container::MountDriver {
                            name: "tmpfs".into(),
                            options: [("size".to_string(), "1m".to_string())].into(),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                tmpfs: [("/run".to_string(), "size=1m".to_string())].into(),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    let one = created.id;
    assert!(
        host_dir.is_dir(),
        "-v creates a missing host dir, as Docker"
    );
    let mounts = e.inspect_container(&one, false).unwrap().mounts;
    let by_dest = |d: &str| mounts.iter().find(|m| m.destination == d).cloned().unwrap();
    assert_eq!(mounts.len(), 4, "{mounts:?}");
    let data = by_dest("/data");
    assert_eq!(
        (data.kind.as_str(), data.name.as_str(), data.driver.as_str()),
        ("volume", "named", "local")
    );
    assert_eq!(
        (data.mode.as_str(), data.rw, data.propagation.as_str()),
        ("z", true, "")
    );
    let data_dir = t.dir.path().join("home/volumes/named/_data");
    assert_eq!(data.source, data_dir.display().to_string());
    assert_eq!(
        std::fs::read_to_string(data_dir.join("file")).unwrap(),
        "from the image"
    );
    assert_eq!(
        std::fs::read_link(data_dir.join("link")).unwrap().to_str(),
        Some("file")
    );
    let meta = data_dir.metadata().unwrap();
    assert_eq!(
        (meta.uid(), meta.mode() & 0o7777),
        (1000, 0o750),
        "copy-up keeps the root's owner and mode"
    );
    let host = by_dest("/host");
    assert_eq!(
        (
            host.kind.as_str(),
            host.rw,
            host.mode.as_str(),
            host.propagation.as_str()
        ),
        ("bind", false, "ro", "rprivate")
    );
    let cache = by_dest("/cache");
    assert_eq!(cache.kind, "volume");
    assert_eq!(cache.mode, "", "Docker gives image volumes no mode");
    assert_eq!(cache.name.len(), 64);
    let fast = by_dest("/fast");
    assert_eq!(fast.driver, "tmpfs");
    assert!(pouch_sys::mount::is_mount_point(std::path::Path::new(
        &fast.source
    )));
    assert!(e
        .inspect_volume(&cache.name)
        .unwrap()
        .labels
        .contains_key(pouch_volume::ANONYMOUS_LABEL));

    // In use: refused, naming the container.
    let err = e.remove_volume("named", false).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert_eq!(
        err.message,
        format!("remove named: volume is in use - [{one}]")
    );
    assert!(names(e, &[("dangling", "true")]).is_empty());

    // --volumes-from copies the mounts (read-only with :ro) and shares the tmpfs volume.
    std::fs::write(std::path::Path::new(&fast.source).join("shared"), "x").unwrap();
    let two = e
        .create_container(
            Some("two".into()),
            body(HostConfig {
                volumes_from: Some(vec!["one:ro".into()]),
                binds: Some(vec!["other:/cache".into()]),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .id;
    let m2 = e.inspect_container(&two, false).unwrap().mounts;
    assert_eq!(m2.len(), 4, "{m2:?}");
    assert!(m2
        .iter()
        .filter(|m| m.destination != "/cache")
        .all(|m| !m.rw && m.mode.is_empty()));
    let c2 = m2.iter().find(|m| m.destination == "/cache").unwrap();
    assert_eq!(
        c2.name, "other",
        "a --volume replaces a --volumes-from mount"
    );
    let users = e.disk_usage().unwrap();
    let named = users.volumes.iter().find(|v| v.name == "named").unwrap();
    assert_eq!(named.usage_data.as_ref().unwrap().ref_count, 2);

    // cp through the mounts: read the volume, write into it, refuse the read-only one.
    let rootfs = t
        .dir
        .path()
        .join("home/containers")
        .join(&one)
        .join("rootfs");
    let rec_mounts = mounts.clone();
    let mut tar_out = Vec::new();
    crate::containers::archive::get_archive_mounted(
        &rootfs,
        &rec_mounts,
        "/fast/shared",
        &mut tar_out,
    )
    .unwrap();
    let mut a = tar::Archive::new(tar_out.as_slice());
    let names_in: Vec<String> = a
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names_in, ["shared"]);
    let mut tar_in = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h.set_path("copied").unwrap();
    h.set_cksum();
    tar_in.append(&h, &b"abc"[..]).unwrap();
    let tar_in = tar_in.into_inner().unwrap();
    crate::containers::archive::extract_mounted(
        &rootfs,
        &rec_mounts,
        "/data",
        &Default::default(),
        &mut tar_in.as_slice(),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(data_dir.join("copied")).unwrap(),
        "abc"
    );
    assert!(
        !pouch_sys::mount::is_mount_point(&rootfs.join("data")),
        "the binds of a copy are not seen outside it"
    );
    let err = crate::containers::archive::extract_mounted(
        &rootfs,
        &rec_mounts,
        "/host",
        &Default::default(),
        &mut tar_in.as_slice(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    // A tar of / holds what is mounted below it.
    let mut all = Vec::new();
    crate::containers::archive::get_archive_mounted(&rootfs, &rec_mounts, "/", &mut all).unwrap();
    let mut a = tar::Archive::new(all.as_slice());
    assert!(a
        .entries()
        .unwrap()
        .any(|e| e.unwrap().path().unwrap().to_str() == Some("/data/copied")));

    // Bad mounts are 400s naming the flag, and leave nothing behind.
    let before = names(e, &[]);
    for (host, want) in [
        (
            HostConfig {
                binds: Some(vec!["a1:/x".into(), "a2:/x".into()]),
                ..Default::default()
            },
            "duplicate mount point: /x",
        ),
        (
            HostConfig {
                binds: Some(vec!["a1:/run".into()]),
                tmpfs: [("/run".to_string(), String::new())].into(),
                ..Default::default()
            },
            "duplicate mount point: /run",
        ),
        (
            HostConfig {
                mounts: Some(vec![Mount {
                    kind: "bind".into(),
                    source: "/nonexistent-pouch".into(),
                    target: "/x".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            },
            "bind source path does not exist: /nonexistent-pouch",
        ),
        (
            HostConfig {
                binds: Some(vec!["a1:/x:bogus".into()]),
                ..Default::default()
            },
            "invalid --volume a1:/x:bogus",
        ),
        (
            HostConfig {
                binds: Some(vec!["a1:/etc/passwd".into()]),
                ..Default::default()
            },
            "cannot mount volume over existing file",
        ),
    ] {
        let err = e.create_container(None, body(host)).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument, "{}", err.message);
        assert!(err.message.contains(want), "{}", err.message);
    }
    let err = e
        .create_container(
            None,
            body(HostConfig {
                volumes_from: Some(vec!["nope".into()]),
                ..Default::default()
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(
        names(e, &[]),
        before,
        "a failed create removes the volumes it made"
    );

    // rm -v: anonymous volumes go, named ones stay; a shared tmpfs stays mounted for two.
    e.remove_container(&one, false, true).await.unwrap();
    assert!(
        e.inspect_volume(&cache.name).is_err(),
        "the anonymous volume is removed"
    );
    assert!(e.inspect_volume("named").is_ok());
    assert!(pouch_sys::mount::is_mount_point(std::path::Path::new(
        &fast.source
    )));
    e.remove_container(&two, false, false).await.unwrap();
    assert!(!pouch_sys::mount::is_mount_point(std::path::Path::new(
        &fast.source
    )));
    e.remove_volume("named", false).await.unwrap();

    let seen: Vec<_> = drain(&mut events)
        .await
        .into_iter()
        .map(|ev| (ev.action, ev.actor.id, ev.actor.attributes))
        .collect();
    let has = |action: &str, id: &str| seen.iter().any(|(a, i, _)| a == action && i == id);
    assert!(has("create", "named") && has("create", "fast") && has("create", &cache.name));
    assert!(has("mount", "named") && has("unmount", "named") && has("destroy", &cache.name));
    let mount = seen
        .iter()
        .find(|(a, i, _)| a == "mount" && i == "named")
        .map(|(_, _, attrs)| attrs.clone())
        .unwrap();
    assert_eq!(mount["container"], one);
    assert_eq!(mount["destination"], "/data");
    assert_eq!(mount["read/write"], "true");
    assert_eq!(mount["driver"], "local");
}
