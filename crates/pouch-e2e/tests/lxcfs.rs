//! lxcfs (`--enableLxcfs`), end to end with a real lxcfs on a temporary directory: a
//! container sees its own memory limit (`free`, /proc/meminfo), its cpuset (/proc/cpuinfo,
//! /sys/devices/system/cpu/online) and its own uptime; pouchd refuses `--enable-lxcfs`
//! without lxcfs mounted, and a create asking for lxcfs from a daemon without it; after
//! lxcfs restarts, the binds of running containers are replaced by pouchd by itself (and
//! at daemon start for a restart it missed), and on demand with `pouch remount-lxcfs` /
//! `POST /containers/{id}/remount-lxcfs`.

use std::path::Path;
use std::time::Duration;

use pouch_e2e::daemon::Daemon;
use pouch_e2e::fixtures;
use pouch_e2e::http;
use pouch_e2e::image::{Compression, Format, Image, ImageSpec, Layer, LayerBuilder};
use pouch_e2e::lxcfs::{answers, require_lxcfs, Lxcfs};
use pouch_e2e::{setup, wait_for, DaemonOptions, Must, Registry};
use rustix::process::Signal;

/// 256 MiB in kB, as /proc/meminfo says it.
const MEM_256M_KB: &str = "262144";

/// procps's `free` (which reads /proc/meminfo; busybox's takes its totals from sysinfo(2),
/// which lxcfs cannot change).
const FREE: &str = "/usr/bin/free";

/// busybox plus the host's procps `free` and the shared libraries `ldd` lists for it, as
/// `library/procps`; `None` when the host has no procps.
fn procps_image() -> Option<Image> {
    if !Path::new(FREE).is_file() {
        return None;
    }
    let ldd = std::process::Command::new("ldd").arg(FREE).output().ok()?;
    let mut files = vec![FREE.to_string()];
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let path = match line.split_once("=>") {
            Some((_, right)) => right.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            files.push(p.to_string());
        }
    }
    let mut l = LayerBuilder::new();
    let mut dirs = std::collections::BTreeSet::new();
    for f in &files {
        let rel = f.trim_start_matches('/');
        let mut parent = Path::new(rel).parent();
        while let Some(d) = parent.filter(|d| !d.as_os_str().is_empty()) {
            dirs.insert(d.display().to_string());
            parent = d.parent();
        }
    }
    for d in &dirs {
        l.dir(d);
    }
    for f in &files {
        let data = std::fs::read(f).ok()?;
        l.file_mode(f.trim_start_matches('/'), &data, 0o755);
    }
    let base = Layer::new(
        fixtures::busybox_rootfs_tar(),
        Compression::Gzip,
        fixtures::BUSYBOX_CREATED_BY,
    );
    let procps = Layer::new(&l.into_tar(), Compression::Gzip, "ADD procps free");
    Some(ImageSpec::new(Format::Docker).build(vec![base, procps]))
}

/// A busybox registry, a running lxcfs and a pouchd using both. Dropped in reverse order:
/// the daemon (and its containers) before lxcfs.
fn lxcfs_daemon(test: &str) -> Option<(Lxcfs, Registry, Daemon)> {
    let bins = setup::e2e(test)?;
    if !require_lxcfs(test) {
        return None;
    }
    let lx = Lxcfs::start().must("start lxcfs");
    let reg = setup::busybox_registry(Default::default());
    if let Some(img) = procps_image() {
        reg.push("library/procps", "latest", &img)
            .must("push procps");
    }
    let mut opts = DaemonOptions::with_mirror(&reg.url());
    opts.extra_args = lx.daemon_args();
    let d = Daemon::start(&bins, opts).must("start pouchd with --enable-lxcfs");
    Some((lx, reg, d))
}

/// The number in `MemTotal:   N kB` of a meminfo text.
fn mem_total(meminfo: &str) -> String {
    meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_default()
        .to_string()
}

/// The container's init pid.
fn pid_of(d: &Daemon, name: &str) -> u32 {
    let pid = d.container(name)["State"]["Pid"].as_u64().unwrap_or(0) as u32;
    assert!(pid > 0, "container {name} has no pid");
    pid
}

/// The mount id of the mount at `dest` in the mount namespace of process `pid` (the
/// topmost one), if any.
fn mount_id_in(pid: u32, dest: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some(dest))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .next_back()
}

/// `/proc/meminfo` of a running container, read through its root (so through its mounts)
/// without the daemon. lxcfs answers with the values of the reader's cgroup, here the
/// test's: only whether it answers says something (a stale bind fails with ENOTCONN).
fn meminfo_through_root(pid: u32) -> std::io::Result<String> {
    std::fs::read_to_string(format!("/proc/{pid}/root/proc/meminfo"))
}

#[test]
fn lxcfs_shows_the_containers_limits() {
    let Some((lx, _reg, d)) = lxcfs_daemon("lxcfs_shows_the_containers_limits") else {
        return;
    };
    let run = |args: &[&str]| {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        d.pouch(&a)
    };

    // Memory: /proc/meminfo and free see the limit, without lxcfs the host's memory.
    let meminfo = run(&[
        "--enableLxcfs",
        "-m",
        "256m",
        "busybox",
        "cat",
        "/proc/meminfo",
    ]);
    assert_eq!(mem_total(meminfo.ok().out()), MEM_256M_KB, "{meminfo}");
    if Path::new(FREE).is_file() {
        let free = run(&["--enableLxcfs", "-m", "256m", "procps", "free"]);
        let mem_line = free
            .ok()
            .out()
            .lines()
            .find(|l| l.starts_with("Mem:"))
            .unwrap_or_default()
            .to_string();
        assert_eq!(
            mem_line.split_whitespace().nth(1),
            Some(MEM_256M_KB),
            "free: {free}"
        );
    } else {
        eprintln!("no {FREE} on the host (procps): free not checked, /proc/meminfo is");
    }
    let plain = run(&["-m", "256m", "busybox", "cat", "/proc/meminfo"]);
    assert_ne!(mem_total(plain.ok().out()), MEM_256M_KB, "{plain}");

    // CPUs: one processor in /proc/cpuinfo and /sys/devices/system/cpu/online.
    let host_cpus = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let procs = run(&[
        "--enableLxcfs",
        "--cpuset-cpus",
        "0",
        "busybox",
        "grep",
        "-c",
        "^processor",
        "/proc/cpuinfo",
    ]);
    assert_eq!(procs.ok().out(), "1", "{procs}");
    let online = run(&[
        "--enableLxcfs",
        "--cpuset-cpus",
        "0",
        "busybox",
        "cat",
        "/sys/devices/system/cpu/online",
    ]);
    assert_eq!(online.ok().out(), "0", "{online}");
    let nproc = run(&["--enableLxcfs", "--cpuset-cpus", "0", "busybox", "nproc"]);
    assert_eq!(nproc.ok().out(), "1", "{nproc}");
    if host_cpus > 1 {
        let plain = run(&[
            "--cpuset-cpus",
            "0",
            "busybox",
            "cat",
            "/sys/devices/system/cpu/online",
        ]);
        assert_ne!(
            plain.ok().out(),
            "0",
            "without lxcfs the host's cpus: {plain}"
        );
    }

    // Uptime: the container's, not the host's.
    let host_uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap();
    let up = run(&["--enableLxcfs", "busybox", "cat", "/proc/uptime"]);
    let up: f64 = up
        .ok()
        .out()
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("uptime: {up}"));
    assert!(up < 30.0, "a fresh container's uptime is {up} s");
    if host_uptime > 120.0 {
        assert!(
            up < host_uptime - 60.0,
            "uptime {up} is the host's {host_uptime}"
        );
    }

    // Every bound file answers; each is a read-only mount of lxcfs in the container.
    let mounts = run(&[
        "--enableLxcfs",
        "busybox",
        "sh",
        "-c",
        "cat /proc/stat /proc/swaps /proc/diskstats /proc/loadavg >/dev/null && cat /proc/self/mountinfo",
    ]);
    let mounts = mounts.ok().out().to_string();
    for f in [
        "/proc/cpuinfo",
        "/proc/diskstats",
        "/proc/loadavg",
        "/proc/meminfo",
        "/proc/stat",
        "/proc/swaps",
        "/proc/uptime",
        "/sys/devices/system/cpu/online",
    ] {
        let line = mounts
            .lines()
            .find(|l| l.split(' ').nth(4) == Some(f) && l.contains(" - fuse.lxcfs "))
            .unwrap_or_else(|| panic!("{f} is not an lxcfs mount:\n{mounts}"));
        let opts = line.split(' ').nth(5).unwrap_or_default();
        assert!(
            opts.split(',').any(|o| o == "ro"),
            "{f} not read-only: {line}"
        );
    }

    // A user's own mount at one of the paths wins over lxcfs.
    let own = lx.home().parent().unwrap().join("own-uptime");
    std::fs::write(&own, "42.00 1.00\n").unwrap();
    let mine = run(&[
        "--enableLxcfs",
        "-v",
        &format!("{}:/proc/uptime:ro", own.display()),
        "busybox",
        "cat",
        "/proc/uptime",
    ]);
    assert_eq!(mine.ok().out(), "42.00 1.00", "{mine}");

    // Inspect shows the setting; the raw API field works.
    d.pouch(&[
        "create",
        "--name",
        "made",
        "--enableLxcfs",
        "busybox",
        "true",
    ])
    .ok();
    assert_eq!(d.container("made")["HostConfig"]["EnableLxcfs"], true);
    let (status, body) = http::call(
        &d.socket(),
        "POST",
        "/containers/create?name=raw",
        r#"{"Image":"busybox","Cmd":["grep","MemTotal","/proc/meminfo"],"HostConfig":{"EnableLxcfs":true,"Memory":268435456}}"#,
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(d.container("raw")["HostConfig"]["EnableLxcfs"], true);
    d.pouch(&["start", "-a", "raw"])
        .ok()
        .says(&format!("{MEM_256M_KB} kB"));

    // Remount errors: 409 not running, 400 without lxcfs, 404 unknown.
    let (status, body) = http::call(&d.socket(), "POST", "/containers/made/remount-lxcfs", "");
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("made") && body.contains("not running"),
        "{body}"
    );
    d.pouch(&["run", "-d", "--name", "plain", "busybox", "sleep", "600"])
        .ok();
    let (status, body) = http::call(&d.socket(), "POST", "/containers/plain/remount-lxcfs", "");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("--enableLxcfs"), "{body}");
    let (status, _) = http::call(&d.socket(), "POST", "/containers/nope/remount-lxcfs", "");
    assert_eq!(status, 404);
    d.pouch(&["remount-lxcfs", "made"])
        .fails()
        .says("is not running");
}

#[test]
fn lxcfs_restart_is_remounted() {
    let Some((mut lx, _reg, mut d)) = lxcfs_daemon("lxcfs_restart_is_remounted") else {
        return;
    };
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "lx1",
        "--enableLxcfs",
        "-m",
        "256m",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    let meminfo = |d: &Daemon| d.pouch(&["exec", "lx1", "cat", "/proc/meminfo"]);
    assert_eq!(mem_total(meminfo(&d).ok().out()), MEM_256M_KB);
    let pid = pid_of(&d, "lx1");
    let before = mount_id_in(pid, "/proc/meminfo").expect("an lxcfs mount at /proc/meminfo");

    // lxcfs restarts: pouchd sees the new mount and replaces the binds, without a command.
    let old_lxcfs = lx.mount_id();
    lx.restart().must("restart lxcfs");
    assert_ne!(lx.pid(), None);
    let healed = wait_for(Duration::from_secs(10), || meminfo_through_root(pid).ok());
    assert!(
        healed.is_some(),
        "the container's /proc/meminfo still fails 10 s after lxcfs restarted (lxcfs mount {old_lxcfs:?} -> {:?}): {:?}\n{}",
        lx.mount_id(),
        meminfo_through_root(pid),
        d.log()
    );
    assert_eq!(mem_total(meminfo(&d).ok().out()), MEM_256M_KB);
    assert!(d.log().contains("lxcfs remounted"), "{}", d.log());
    let after_restart = mount_id_in(pid, "/proc/meminfo").unwrap();
    assert_ne!(after_restart, before, "the bind was not replaced");
    // Replaced, not stacked: one mount at each path.
    let info = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let at_meminfo = info
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some("/proc/meminfo"))
        .count();
    assert_eq!(at_meminfo, 1, "{info}");
    // The CPU file is back too.
    d.pouch(&["exec", "lx1", "cat", "/sys/devices/system/cpu/online"])
        .ok();

    // On demand: a bind the container lost comes back with `pouch remount-lxcfs`.
    let umount = std::process::Command::new("nsenter")
        .args([
            "-t",
            &pid.to_string(),
            "-m",
            "--",
            "/bin/busybox",
            "umount",
            "/proc/meminfo",
        ])
        .status()
        .expect("run nsenter");
    assert!(umount.success());
    assert_ne!(
        mem_total(meminfo(&d).ok().out()),
        MEM_256M_KB,
        "the bind should be gone"
    );
    assert_eq!(d.pouch(&["remount-lxcfs", "lx1"]).ok().out(), "lx1");
    assert_eq!(mem_total(meminfo(&d).ok().out()), MEM_256M_KB);
    let (status, body) = http::call(&d.socket(), "POST", "/containers/lx1/remount-lxcfs", "");
    assert_eq!(status, 204, "{body}");
    assert_eq!(mem_total(meminfo(&d).ok().out()), MEM_256M_KB);

    // lxcfs restarts while pouchd is down: the binds are stale; pouchd heals them at start.
    d.signal(Signal::TERM).must("stop pouchd");
    assert!(
        d.wait_exit(Duration::from_secs(30)).is_some(),
        "pouchd did not stop"
    );
    lx.restart().must("restart lxcfs");
    let stale = meminfo_through_root(pid);
    assert!(
        stale.is_err(),
        "the binds of a running container should be stale after lxcfs restarted: {stale:?}"
    );
    d.restart().must("start pouchd again");
    let healed = wait_for(Duration::from_secs(10), || meminfo_through_root(pid).ok());
    assert!(healed.is_some(), "not healed at daemon start:\n{}", d.log());
    assert!(answers(Path::new(&format!("/proc/{pid}/root/proc/uptime"))));
    assert_eq!(mem_total(meminfo(&d).ok().out()), MEM_256M_KB);
}

#[test]
fn enable_lxcfs_needs_lxcfs_and_the_flag() {
    let Some(bins) = setup::e2e("enable_lxcfs_needs_lxcfs_and_the_flag") else {
        return;
    };
    // --enable-lxcfs with nothing mounted at the home: pouchd does not start, and says why.
    let empty = tempfile::tempdir().unwrap();
    let opts = DaemonOptions {
        extra_args: vec![
            "--enable-lxcfs".into(),
            "--lxcfs-home".into(),
            empty.path().display().to_string(),
        ],
        ..Default::default()
    };
    let err = match Daemon::start(&bins, opts) {
        Ok(_) => panic!("pouchd started with --enable-lxcfs and no lxcfs"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains(&format!(
            "lxcfs is not mounted at {}",
            empty.path().display()
        )) && err.contains("--enable-lxcfs"),
        "{err}"
    );

    // A daemon without --enable-lxcfs refuses containers asking for it (400 naming the flag).
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["create", "--enableLxcfs", "busybox", "true"])
        .fails()
        .says("--enable-lxcfs");
    d.pouch(&["run", "--rm", "--enableLxcfs", "busybox", "true"])
        .fails()
        .says("--enable-lxcfs");
    let (status, body) = http::call(
        &d.socket(),
        "POST",
        "/containers/create",
        r#"{"Image":"busybox","HostConfig":{"EnableLxcfs":true}}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("--enable-lxcfs"), "{body}");
    assert!(d.pouch(&["ps", "-aq"]).ok().out().is_empty());
}
