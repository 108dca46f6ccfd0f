//! Disk quota end to end. This machine's kernel has no ext4/xfs quota, so the tests that
//! prove enforcement run pouchd with its home dir on a btrfs made on a loop device for the
//! test (`pouch_e2e::loopfs`): `info` names the back end; a container writing past its
//! `--disk-quota` gets "Disk quota exceeded" while its neighbour does not, and `update
//! --disk-quota` raises the limit live; sized volumes, `/data=SIZE` and `.*=SIZE` cap the
//! volumes mounted there; `--quota-id` on btrfs and bad sizes are refused naming the value;
//! removing containers and volumes leaves no subvolume or qgroup, and a device volume is
//! still mounted though its dir is a subvolume. On a home dir without a back end every quota
//! request is an error and leaves nothing behind.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use pouch_e2e::loopfs::{self, LoopBtrfs};
use pouch_e2e::{setup, Daemon, DaemonOptions, Must, Registry};

const MIB: u64 = 1 << 20;

/// A pouchd whose home dir is on a loop btrfs, with busybox pulled. Fields drop in order:
/// the daemon (its containers removed, its mounts undone) before the filesystem under it.
struct BtrfsDaemon {
    d: Daemon,
    _reg: Registry,
    fs: LoopBtrfs,
}

impl BtrfsDaemon {
    /// `None` (with the reason printed) when the test cannot run here.
    fn start(test: &str) -> Option<BtrfsDaemon> {
        let bins = setup::e2e(test)?;
        if !loopfs::require_btrfs(test) {
            return None;
        }
        let fs = LoopBtrfs::new(512).must("make a loop btrfs");
        let home = fs.path().join("home");
        std::fs::create_dir(&home).expect("home dir on the loop btrfs");
        let reg = setup::busybox_registry(Default::default());
        let d = Daemon::start(
            &bins,
            DaemonOptions {
                mirrors: vec![reg.url()],
                home: Some(home),
                ..DaemonOptions::default()
            },
        )
        .must("start pouchd on the loop btrfs");
        d.pouch(&["pull", "busybox"]).ok();
        Some(BtrfsDaemon { d, _reg: reg, fs })
    }

    /// The quota limit of the subvolume `rel` below the home dir, in bytes.
    fn limit(&self, rel: &str) -> u64 {
        self.fs
            .limit_of(&format!("home/{rel}"))
            .must("read a qgroup limit")
    }

    /// Subvolumes below the home's `snapshots/` and `volumes/`.
    fn quota_subvolumes(&self) -> Vec<(u64, String)> {
        self.fs
            .subvolumes()
            .must("btrfs subvolume list")
            .into_iter()
            .filter(|(_, p)| p.starts_with("home/snapshots/") || p.starts_with("home/volumes/"))
            .collect()
    }
}

/// A shell command writing `mib` MiB of zeros to `path` and syncing it.
fn write_mib(path: &str, mib: u64) -> String {
    format!("dd if=/dev/zero of={path} bs=1M count={mib} && sync")
}

/// The full id of container `name`.
fn id_of(d: &Daemon, name: &str) -> String {
    d.container(name)["Id"]
        .as_str()
        .expect("container Id")
        .to_string()
}

/// `POST path` with a JSON body on the daemon's socket: (status, body).
fn post(d: &Daemon, path: &str, body: &str) -> (u16, String) {
    let mut s = UnixStream::connect(d.socket()).expect("connect to pouchd");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: pouchd\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send the request");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read the answer");
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {resp:?}"));
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Names of every container (`ps -a`).
fn all_containers(d: &Daemon) -> Vec<String> {
    d.pouch(&["ps", "-a", "--format", "{{.Names}}"])
        .ok()
        .stdout
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// `rw-*` entries of the home's snapshots dir (container layers).
fn rw_snapshots(d: &Daemon) -> Vec<String> {
    d.snapshot_entries()
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| n.starts_with("rw-"))
        .collect()
}

#[test]
fn rootfs_quota_is_enforced_and_raised_live_on_btrfs() {
    let Some(env) = BtrfsDaemon::start("rootfs_quota_is_enforced_and_raised_live_on_btrfs") else {
        return;
    };
    let d = &env.d;
    d.pouch(&["info"])
        .ok()
        .says("Backing Filesystem: btrfs")
        .says("Disk quota: btrfs");
    if pouch_e2e::require_docker_cli(
        "rootfs_quota_is_enforced_and_raised_live_on_btrfs (docker info)",
    ) {
        d.docker(&["info"]).ok().says("Disk quota: btrfs");
        let o = d.docker(&["info", "--format", "{{json .DriverStatus}}"]);
        o.ok().says(r#"["Disk quota","btrfs"]"#);
    }

    d.pouch(&[
        "run",
        "-d",
        "--disk-quota",
        "10m",
        "--name",
        "qa",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    d.pouch(&["run", "-d", "--name", "qb", "busybox", "sleep", "300"])
        .ok();
    let (a, b) = (id_of(d, "qa"), id_of(d, "qb"));
    assert_eq!(
        d.container("qa")["Config"]["DiskQuota"],
        serde_json::json!({"/": "10m"})
    );
    assert_eq!(env.limit(&format!("snapshots/rw-{a}")), 10 * MIB);
    assert_eq!(env.limit(&format!("snapshots/rw-{b}")), 0, "b has no limit");

    let over = d.pouch(&["exec", "qa", "sh", "-c", &write_mib("/big", 20)]);
    over.fails().says("Disk quota exceeded");
    println!("20 MiB into a (10m): {}", over.stderr.trim());
    d.pouch(&["exec", "qb", "sh", "-c", &write_mib("/big", 20)])
        .ok();
    d.pouch(&["exec", "qb", "stat", "-c", "%s", "/big"])
        .ok()
        .says(&(20 * MIB).to_string());

    // Raised live, while `a` keeps running.
    d.pouch(&["update", "--disk-quota", "50m", "qa"]).ok();
    assert_eq!(env.limit(&format!("snapshots/rw-{a}")), 50 * MIB);
    assert_eq!(d.container("qa")["State"]["Running"], true);
    assert_eq!(
        d.container("qa")["Config"]["DiskQuota"],
        serde_json::json!({"/": "50m"})
    );
    d.pouch(&["exec", "qa", "sh", "-c", "rm -f /big && sync"])
        .ok();
    d.pouch(&["exec", "qa", "sh", "-c", &write_mib("/big", 20)])
        .ok();
    d.pouch(&["exec", "qa", "stat", "-c", "%s", "/big"])
        .ok()
        .says(&(20 * MIB).to_string());
    // And lowered again below what is written: the next write fails.
    d.pouch(&["update", "--disk-quota", "15m", "qa"]).ok();
    d.pouch(&["exec", "qa", "sh", "-c", &write_mib("/more", 5)])
        .fails()
        .says("Disk quota exceeded");
    // A quota given to a container made without one, live.
    d.pouch(&["update", "--disk-quota", "8m", "qb"]).ok();
    assert_eq!(env.limit(&format!("snapshots/rw-{b}")), 8 * MIB);
    d.pouch(&["exec", "qb", "sh", "-c", &write_mib("/more", 5)])
        .fails()
        .says("Disk quota exceeded");
}

#[test]
fn sized_volumes_and_mount_point_quotas_on_btrfs() {
    let Some(env) = BtrfsDaemon::start("sized_volumes_and_mount_point_quotas_on_btrfs") else {
        return;
    };
    let d = &env.d;

    // volume create -o size=
    d.pouch(&["volume", "create", "-o", "size=10m", "capped"])
        .ok();
    assert_eq!(env.limit("volumes/capped/_data"), 10 * MIB);
    let v = d.pouch(&["volume", "inspect", "capped"]);
    v.ok().says(r#""size": "10m""#);
    let over = d.pouch(&[
        "run",
        "--rm",
        "-v",
        "capped:/data",
        "busybox",
        "sh",
        "-c",
        &write_mib("/data/big", 20),
    ]);
    over.fails().says("Disk quota exceeded");
    println!(
        "20 MiB into volume capped (size=10m): {}",
        over.stderr.trim()
    );
    // The same volume under the limit works.
    d.pouch(&[
        "run",
        "--rm",
        "-v",
        "capped:/data",
        "busybox",
        "sh",
        "-c",
        &format!("rm -f /data/big && sync && {}", write_mib("/data/small", 4)),
    ])
    .ok();

    // /data=5m on a volume made without a size; the rootfs stays unlimited.
    d.pouch(&["volume", "create", "plain"]).ok();
    assert_eq!(env.limit("volumes/plain/_data"), 0);
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "c5",
        "-v",
        "plain:/data",
        "--disk-quota",
        "/data=5m",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    let c5 = id_of(d, "c5");
    assert_eq!(env.limit("volumes/plain/_data"), 5 * MIB);
    assert_eq!(env.limit(&format!("snapshots/rw-{c5}")), 0);
    d.pouch(&["exec", "c5", "sh", "-c", &write_mib("/data/big", 8)])
        .fails()
        .says("Disk quota exceeded");
    d.pouch(&["exec", "c5", "sh", "-c", &write_mib("/big", 8)])
        .ok();

    // .*=8m: the root filesystem and every volume mount point.
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "call",
        "-v",
        "v2:/d2",
        "-v",
        "v3:/d3",
        "--disk-quota",
        ".*=8m",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    let call = id_of(d, "call");
    assert_eq!(env.limit(&format!("snapshots/rw-{call}")), 8 * MIB);
    assert_eq!(env.limit("volumes/v2/_data"), 8 * MIB);
    assert_eq!(env.limit("volumes/v3/_data"), 8 * MIB);
    for dir in ["", "/d2", "/d3"] {
        d.pouch(&[
            "exec",
            "call",
            "sh",
            "-c",
            &write_mib(&format!("{dir}/big"), 12),
        ])
        .fails()
        .says("Disk quota exceeded");
    }
    // An exact path beats the pattern.
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "mixed",
        "-v",
        "v4:/d4",
        "-v",
        "v5:/d5",
        "--disk-quota",
        ".*=8m",
        "--disk-quota",
        "/d4=3m",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    assert_eq!(env.limit("volumes/v4/_data"), 3 * MIB);
    assert_eq!(env.limit("volumes/v5/_data"), 8 * MIB);
    assert_eq!(
        env.limit(&format!("snapshots/rw-{}", id_of(d, "mixed"))),
        8 * MIB
    );
}

#[test]
fn bad_quota_requests_are_refused_on_btrfs() {
    let Some(env) = BtrfsDaemon::start("bad_quota_requests_are_refused_on_btrfs") else {
        return;
    };
    let d = &env.d;
    let subvols_before = env.quota_subvolumes();

    // --quota-id: every container has its own qgroup on btrfs.
    let o = d.pouch(&[
        "run",
        "--quota-id",
        "1000",
        "--disk-quota",
        "10m",
        "--name",
        "qid",
        "busybox",
        "true",
    ]);
    o.fails().says("quota id 1000").says("btrfs");
    d.pouch(&[
        "create",
        "--quota-id",
        "1000",
        "--name",
        "qid2",
        "busybox",
        "true",
    ])
    .fails()
    .says("quota id 1000");

    // Bad sizes, named: the CLI checks them, and so does pouchd for other clients.
    d.pouch(&[
        "run",
        "--disk-quota",
        "10x",
        "--name",
        "bad",
        "busybox",
        "true",
    ])
    .fails()
    .says("10x");
    d.pouch(&["create", "--disk-quota", "/data=lots", "busybox", "true"])
        .fails()
        .says("lots");
    let (status, body) = post(
        d,
        "/v1.44/containers/create?name=bad2",
        r#"{"Image":"busybox","Cmd":["true"],"DiskQuota":{"/":"10x"}}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("10x"), "{body}");
    d.pouch(&["volume", "create", "-o", "size=10x", "badvol"])
        .fails()
        .says("10x");

    // A limit on a path that is not a mount, or cannot carry one: refused, rolled back.
    d.pouch(&[
        "run",
        "--disk-quota",
        "/nope=5m",
        "--name",
        "nope",
        "busybox",
        "true",
    ])
    .fails()
    .says("/nope");
    let host_dir = tempfile::tempdir().unwrap();
    let bind = format!("{}:/h", host_dir.path().display());
    d.pouch(&[
        "run",
        "-v",
        &bind,
        "--disk-quota",
        "/h=5m",
        "--name",
        "bindq",
        "busybox",
        "true",
    ])
    .fails()
    .says("cannot limit /h");

    assert_eq!(all_containers(d), Vec::<String>::new(), "no container left");
    assert_eq!(rw_snapshots(d), Vec::<String>::new(), "no rw layer left");
    assert_eq!(
        env.quota_subvolumes(),
        subvols_before,
        "no subvolume left by refused creates"
    );
    d.pouch(&["volume", "ls", "-q"]).ok();
    assert!(!d.home().join("volumes/badvol").exists());

    // update: bad sizes named, through the CLI and the API.
    d.pouch(&["run", "-d", "--name", "qu", "busybox", "sleep", "300"])
        .ok();
    d.pouch(&["update", "--disk-quota", "10x", "qu"])
        .fails()
        .says("10x");
    let (status, body) = post(
        d,
        "/v1.44/containers/qu/update",
        r#"{"DiskQuota":{"/":"10x"}}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("10x"), "{body}");
    d.pouch(&["update", "--disk-quota", "/nope=5m", "qu"])
        .fails()
        .says("/nope");
    let u = d.container("qu");
    assert!(
        u["Config"]["DiskQuota"]
            .as_object()
            .is_none_or(|m| m.is_empty()),
        "a refused update is not recorded: {}",
        u["Config"]
    );
}

#[test]
fn quota_without_a_back_end_is_an_error() {
    let Some(bins) = setup::e2e("quota_without_a_back_end_is_an_error") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["info"]).ok().says("Disk quota: none");
    if pouch_e2e::require_docker_cli("quota_without_a_back_end_is_an_error (docker info)") {
        d.docker(&["info"]).ok().says("Disk quota: none");
    }
    d.pouch(&["pull", "busybox"]).ok();

    for verb in ["run", "create"] {
        d.pouch(&[
            verb,
            "--disk-quota",
            "10m",
            "--name",
            "qq",
            "busybox",
            "true",
        ])
        .fails()
        .says("disk quota is not supported")
        .says(&d.home().display().to_string());
    }
    d.pouch(&[
        "run",
        "-v",
        "vq:/data",
        "--disk-quota",
        "/data=5m",
        "busybox",
        "true",
    ])
    .fails()
    .says("disk quota is not supported");
    d.pouch(&["run", "--quota-id", "1000", "busybox", "true"])
        .fails()
        .says("disk quota is not supported");
    assert_eq!(
        all_containers(&d),
        Vec::<String>::new(),
        "no container left"
    );
    assert_eq!(rw_snapshots(&d), Vec::<String>::new(), "no rw layer left");

    let o = d.pouch(&["volume", "create", "-o", "size=10m", "sizedvol"]);
    o.fails().says("size=10m").says("disk quota");
    assert_eq!(d.pouch(&["volume", "ls", "-q"]).ok().out(), "");
    assert!(!d.home().join("volumes/sizedvol").exists());
    assert!(!d.home().join("volumes/vq").exists());

    d.pouch(&["run", "-d", "--name", "plain", "busybox", "sleep", "300"])
        .ok();
    d.pouch(&["update", "--disk-quota", "10m", "plain"])
        .fails()
        .says("disk quota is not supported");
    let c = d.container("plain");
    assert!(
        c["Config"]["DiskQuota"]
            .as_object()
            .is_none_or(|m| m.is_empty()),
        "{}",
        c["Config"]
    );
    assert_eq!(c["State"]["Running"], true);
}

#[test]
fn removing_containers_and_volumes_leaves_no_subvolume() {
    let Some(env) = BtrfsDaemon::start("removing_containers_and_volumes_leaves_no_subvolume")
    else {
        return;
    };
    let d = &env.d;
    assert_eq!(env.quota_subvolumes(), Vec::new(), "a fresh home");
    d.pouch(&["volume", "create", "-o", "size=10m", "sized"])
        .ok();
    d.pouch(&["volume", "create", "unsized"]).ok();
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "qq",
        "--disk-quota",
        "10m",
        "--disk-quota",
        "/s=10m",
        "-v",
        "sized:/s",
        "-v",
        "unsized:/u",
        "-v",
        "/anon",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    d.pouch(&["run", "-d", "--name", "nn", "busybox", "sleep", "300"])
        .ok();
    d.pouch(&[
        "create",
        "--name",
        "cc",
        "--disk-quota",
        "5m",
        "busybox",
        "true",
    ])
    .ok();
    d.pouch(&[
        "run",
        "--rm",
        "--disk-quota",
        "5m",
        "busybox",
        "sh",
        "-c",
        &write_mib("/x", 1),
    ])
    .ok();
    let q = id_of(d, "qq");
    let anon = d.container("qq")["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/anon")
        .and_then(|m| m["Name"].as_str())
        .expect("anonymous volume of /anon")
        .to_string();
    let during = env.quota_subvolumes();
    let paths: Vec<&str> = during.iter().map(|(_, p)| p.as_str()).collect();
    for want in [
        format!("home/snapshots/rw-{q}"),
        format!("home/snapshots/rw-{}", id_of(d, "nn")),
        format!("home/snapshots/rw-{}", id_of(d, "cc")),
        "home/volumes/sized/_data".to_string(),
        "home/volumes/unsized/_data".to_string(),
        format!("home/volumes/{anon}/_data"),
    ] {
        assert!(paths.contains(&want.as_str()), "{want} in {paths:?}");
    }
    assert_eq!(
        during.len(),
        6,
        "the --rm container's layer is gone: {paths:?}"
    );

    // Containers: their layers' subvolumes and qgroups go with them.
    d.pouch(&["rm", "-f", "-v", "qq", "nn", "cc"]).ok();
    let left = env.quota_subvolumes();
    let snapshots: Vec<_> = left
        .iter()
        .filter(|(_, p)| p.starts_with("home/snapshots/"))
        .collect();
    assert_eq!(
        snapshots,
        Vec::<&(u64, String)>::new(),
        "layers left after rm"
    );
    assert_no_qgroups(&env, &during, "home/snapshots/");
    // rm -v took the anonymous volume; the named ones stay until `volume rm`.
    let vols = d.pouch(&["volume", "ls", "-q"]);
    let mut vols: Vec<&str> = vols.ok().stdout.split_whitespace().collect();
    vols.sort();
    assert_eq!(
        vols,
        ["sized", "unsized"],
        "rm -v removes the anonymous volume {anon}"
    );
    d.pouch(&["volume", "rm", "sized", "unsized"]).ok();
    assert_eq!(d.pouch(&["volume", "ls", "-q"]).ok().out(), "");
    assert_eq!(
        env.quota_subvolumes(),
        Vec::new(),
        "subvolumes left after rm"
    );
    assert_no_qgroups(&env, &during, "home/volumes/");
    assert!(!d.home().join("volumes").join(&anon).exists());
}

/// Panics if a qgroup of a subvolume in `gone` below `prefix` still exists.
fn assert_no_qgroups(env: &BtrfsDaemon, gone: &[(u64, String)], prefix: &str) {
    let qgroups = env.fs.qgroup_limits().must("btrfs qgroup show");
    for (id, path) in gone.iter().filter(|(_, p)| p.starts_with(prefix)) {
        assert!(
            !qgroups.iter().any(|(q, _)| q == id),
            "qgroup 0/{id} of {path} left after rm:\n{}",
            env.fs.qgroups().unwrap_or_default()
        );
    }
}

/// A local volume with `type`/`device`/`o` is mounted at first use also where volumes are
/// subvolumes (a subvolume has a device number of its own, but is no mount point).
#[test]
fn device_volumes_are_mounted_on_a_btrfs_home() {
    let Some(env) = BtrfsDaemon::start("device_volumes_are_mounted_on_a_btrfs_home") else {
        return;
    };
    let d = &env.d;
    d.pouch(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=2m",
        "tv",
    ])
    .ok();
    let o = d.pouch(&[
        "run",
        "--rm",
        "-v",
        "tv:/t",
        "busybox",
        "sh",
        "-c",
        "grep ' /t ' /proc/mounts",
    ]);
    assert!(
        o.ok().out().starts_with("tmpfs /t tmpfs "),
        "volume tv (type=tmpfs) is a tmpfs at /t: {o}"
    );
    d.pouch(&["volume", "rm", "tv"]).ok();
}
