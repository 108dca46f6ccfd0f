//! The rest of the container surface with the `pouch` CLI: logs options and the json-file
//! driver's rotation (and `none`), ps filters and formats, attach, prune, the cgroup parent,
//! blkio throttles, devices, the stop signal and timeout, and the OOM score.

use std::time::{Duration, Instant};

use pouch_e2e::{setup, wait_for};

#[test]
fn logs_ps_attach_prune() {
    let Some(bins) = setup::e2e("logs_ps_attach_prune") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["pull", "busybox"]).ok();

    // logs: --tail, -t, --since/--until.
    d.pouch(&[
        "run",
        "--name",
        "lines",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line$i; done",
    ])
    .ok();
    assert_eq!(
        d.pouch(&["logs", "--tail", "2", "lines"]).ok().out(),
        "line4\nline5"
    );
    let t = d.pouch(&["logs", "-t", "--tail", "1", "lines"]);
    let stamped = t.ok().out().to_string();
    assert!(
        stamped.ends_with(" line5") && stamped.contains('T') && stamped.contains('Z'),
        "{stamped}"
    );
    assert_eq!(
        d.pouch(&["logs", "--since", "1h", "lines"])
            .ok()
            .out()
            .lines()
            .count(),
        5
    );
    assert_eq!(d.pouch(&["logs", "--until", "1h", "lines"]).ok().out(), "");

    // json-file rotation: max-size / max-file keep the log bounded.
    d.pouch(&[
        "run",
        "--name",
        "rot",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=2",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 300 ]; do echo line-$i-padding-padding; i=$((i+1)); done",
    ])
    .ok();
    let id = d.container("rot")["Id"].as_str().unwrap().to_string();
    let dir = d.home().join("containers").join(&id);
    let logs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("-json.log"))
        .map(|e| e.metadata().unwrap().len())
        .collect();
    assert_eq!(logs.len(), 2, "max-file=2 keeps two files: {logs:?}");
    assert!(logs.iter().all(|l| *l <= 1200), "max-size=1k: {logs:?}");
    d.pouch(&["logs", "--tail", "1", "rot"])
        .ok()
        .says("line-299");
    // The none driver keeps no log, and says so when asked.
    d.pouch(&[
        "run",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "x",
    ])
    .ok();
    d.pouch(&["logs", "quiet"])
        .fails()
        .says("does not support reading");
    d.pouch(&["run", "--log-driver", "syslog", "busybox", "true"])
        .fails()
        .says("syslog");

    // ps: -q, --no-trunc, filters, --format.
    d.pouch(&[
        "run", "-d", "--name", "up1", "-l", "tier=web", "busybox", "sleep", "1000",
    ])
    .ok();
    assert_eq!(d.pouch(&["ps", "-q"]).ok().out().len(), 12);
    assert_eq!(d.pouch(&["ps", "-q", "--no-trunc"]).ok().out().len(), 64);
    assert_eq!(
        d.pouch(&[
            "ps",
            "-a",
            "--filter",
            "label=tier=web",
            "--format",
            "{{.Names}} {{.State}}"
        ])
        .ok()
        .out(),
        "up1 running"
    );
    let exited = d.pouch(&[
        "ps",
        "-a",
        "--filter",
        "status=exited",
        "--format",
        "{{.Names}}",
    ]);
    let names: Vec<&str> = exited.ok().out().lines().collect();
    assert!(
        names.contains(&"lines") && !names.contains(&"up1"),
        "{names:?}"
    );
    d.pouch(&["ps", "--filter", "bogus=1"])
        .fails()
        .says("bogus");

    // attach to a running container sees its new output; ctrl-c-free detach by closing.
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "talk",
        "busybox",
        "sh",
        "-c",
        "sleep 1; echo later; sleep 1",
    ])
    .ok();
    let out = d.pouch(&["attach", "talk"]);
    out.ok().says("later");

    // prune removes the stopped containers only.
    let before = d.pouch(&["ps", "-aq"]).ok().out().lines().count();
    d.pouch(&["container", "prune", "-f"])
        .ok()
        .says("Deleted Containers");
    let after = d.pouch(&["ps", "-aq"]).ok().out().lines().count();
    assert!(after < before, "{before} -> {after}");
    assert_eq!(
        d.pouch(&["ps", "-a", "--format", "{{.Names}}"]).ok().out(),
        "up1"
    );
    d.pouch(&["rm", "-f", "up1"]).ok();
}

#[test]
fn cgroup_parent_devices_signals() {
    let Some(bins) = setup::e2e("cgroup_parent_devices_signals") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["pull", "busybox"]).ok();

    // --cgroup-parent puts the container's cgroup under it.
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "par",
        "--cgroup-parent",
        "/pouch-e2e-parent",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    let id = d.container("par")["Id"].as_str().unwrap().to_string();
    let v1 = std::path::Path::new("/sys/fs/cgroup/memory/pouch-e2e-parent").join(&id);
    let v2 = std::path::Path::new("/sys/fs/cgroup/pouch-e2e-parent").join(&id);
    assert!(v1.exists() || v2.exists(), "no cgroup under the parent");
    d.pouch(&["rm", "-f", "par"]).ok();
    let _ = std::fs::remove_dir("/sys/fs/cgroup/memory/pouch-e2e-parent");
    for c in [
        "cpu,cpuacct",
        "pids",
        "blkio",
        "cpuset",
        "devices",
        "freezer",
        "hugetlb",
        "net_cls,net_prio",
        "perf_event",
    ] {
        let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/{c}/pouch-e2e-parent"));
    }

    // blkio: weight and a read throttle on the host's first disk.
    let disk = ["/dev/vda", "/dev/sda", "/dev/nvme0n1"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    if let Some(disk) = disk {
        let out = d.pouch(&[
            "run", "--rm", "--device-read-bps", &format!("{disk}:1mb"), "busybox", "sh", "-c",
            "cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device 2>/dev/null || cat /sys/fs/cgroup/io.max",
        ]);
        out.ok().says("1048576");
    }

    // --device: the node exists in the container and can be used.
    d.pouch(&[
        "run",
        "--rm",
        "--device",
        "/dev/fuse:/dev/myfuse",
        "busybox",
        "ls",
        "-l",
        "/dev/myfuse",
    ])
    .ok()
    .says("10,");
    d.pouch(&[
        "run",
        "--rm",
        "--device",
        "/dev/nonexistent",
        "busybox",
        "true",
    ])
    .fails()
    .says("/dev/nonexistent");

    // --oom-score-adj.
    assert_eq!(
        d.pouch(&[
            "run",
            "--rm",
            "--oom-score-adj",
            "300",
            "busybox",
            "cat",
            "/proc/self/oom_score_adj"
        ])
        .ok()
        .out(),
        "300"
    );

    // --stop-signal: the container traps it and exits cleanly; --stop-timeout bounds a stop.
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "sig",
        "--stop-signal",
        "SIGUSR1",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-usr1; exit 0' USR1; while true; do sleep 0.1; done",
    ])
    .ok();
    std::thread::sleep(Duration::from_millis(300));
    d.pouch(&["stop", "sig"]).ok();
    assert_eq!(d.pouch(&["wait", "sig"]).ok().out(), "0");
    d.pouch(&["logs", "sig"]).ok().says("got-usr1");
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "stubborn",
        "--stop-timeout",
        "1",
        "busybox",
        "sh",
        "-c",
        "trap '' TERM; while true; do sleep 0.1; done",
    ])
    .ok();
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    d.pouch(&["stop", "stubborn"]).ok();
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "stop-timeout 1 took {:?}",
        t.elapsed()
    );
    assert_eq!(d.pouch(&["wait", "stubborn"]).ok().out(), "137");
    // kill -s delivers the signal.
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "hup",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 42' HUP; while true; do sleep 0.1; done",
    ])
    .ok();
    std::thread::sleep(Duration::from_millis(300));
    d.pouch(&["kill", "-s", "HUP", "hup"]).ok();
    let code = wait_for(Duration::from_secs(5), || {
        let v = d.container("hup");
        (v["State"]["Running"] == false).then(|| v["State"]["ExitCode"].clone())
    });
    assert_eq!(code, Some(serde_json::json!(42)));
}
