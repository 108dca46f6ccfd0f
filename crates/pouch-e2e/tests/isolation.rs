//! Isolation and resources, checked from inside the container: PID 1, hostname, the
//! capability set, seccomp, a read-only root, cgroup limits in force (OOM kill, pids limit),
//! `pouch update` on a running container, and `--init`.

use std::time::Duration;

use pouch_e2e::{setup, wait_for};

/// Docker's default capability set as a CapEff mask.
const DOCKER_CAPS: &str = "00000000a80425fb";

/// Reads a cgroup v1 file of the container, or its v2 twin.
fn cgroup_file(v1: &str, v2: &str) -> String {
    format!("cat /sys/fs/cgroup/{v1} 2>/dev/null || cat /sys/fs/cgroup/{v2}")
}

#[test]
fn namespaces_caps_seccomp_readonly() {
    let Some(bins) = setup::e2e("namespaces_caps_seccomp_readonly") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    let run = |args: &[&str]| {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        d.pouch(&a)
    };
    // PID 1 is the command; the hostname is ours.
    assert_eq!(run(&["busybox", "sh", "-c", "echo $$"]).ok().out(), "1");
    assert_eq!(
        run(&["-h", "box1", "busybox", "hostname"]).ok().out(),
        "box1"
    );
    // Docker's capabilities, and what --cap-add / --cap-drop / --privileged change.
    let caps = |extra: &[&str]| {
        let mut a = extra.to_vec();
        a.extend(["busybox", "sh", "-c", "grep CapEff /proc/self/status"]);
        run(&a)
            .ok()
            .out()
            .split_whitespace()
            .last()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(caps(&[]), DOCKER_CAPS);
    assert_eq!(caps(&["--cap-drop", "ALL"]), "0000000000000000");
    assert_eq!(
        caps(&["--cap-drop", "ALL", "--cap-add", "NET_ADMIN"]),
        "0000000000001000"
    );
    assert_ne!(caps(&["--privileged"]), DOCKER_CAPS);
    // seccomp: Docker's profile is loaded, and it blocks creating a user namespace,
    // which the kernel itself allows without capabilities.
    run(&["busybox", "grep", "-E", "Seccomp:.*2", "/proc/self/status"]).ok();
    run(&[
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "grep",
        "-E",
        "Seccomp:.*0",
        "/proc/self/status",
    ])
    .ok();
    run(&["busybox", "unshare", "-U", "true"]).fails();
    run(&[
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "unshare",
        "-U",
        "true",
    ])
    .ok();
    // no-new-privileges.
    run(&[
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "grep",
        "-E",
        "NoNewPrivs:.*1",
        "/proc/self/status",
    ])
    .ok();
    // A read-only root rejects writes; --tmpfs gives a writable dir.
    run(&["--read-only", "busybox", "touch", "/x"])
        .fails()
        .says("Read-only file system");
    run(&[
        "--read-only",
        "--tmpfs",
        "/scratch",
        "busybox",
        "touch",
        "/scratch/x",
    ])
    .ok();
    // Masked /proc paths and the network namespace.
    // /proc/timer_list is masked (an empty /dev/null); /sys/firmware is an empty tmpfs.
    assert_eq!(run(&["busybox", "cat", "/proc/timer_list"]).ok().out(), "");
    assert_eq!(run(&["busybox", "ls", "/sys/firmware"]).ok().out(), "");
    let links = run(&["--network", "none", "busybox", "ls", "/sys/class/net"]);
    assert_eq!(links.ok().out(), "lo");
    let host_links = run(&["--network", "host", "busybox", "ls", "/sys/class/net"]);
    assert!(host_links.ok().out().lines().count() > 1, "{host_links}");
    // Users from the image's /etc/passwd, --group-add, env, workdir, ulimit, sysctl.
    assert_eq!(
        run(&["-u", "nobody", "busybox", "id", "-u"]).ok().out(),
        "65534"
    );
    run(&["--group-add", "1234", "busybox", "id", "-G"])
        .ok()
        .says("1234");
    assert_eq!(
        run(&["-e", "A=b c", "busybox", "sh", "-c", "echo $A"])
            .ok()
            .out(),
        "b c"
    );
    assert_eq!(run(&["-w", "/tmp", "busybox", "pwd"]).ok().out(), "/tmp");
    assert_eq!(
        run(&[
            "--ulimit",
            "nofile=123:456",
            "busybox",
            "sh",
            "-c",
            "ulimit -n"
        ])
        .ok()
        .out(),
        "123"
    );
    assert_eq!(
        run(&[
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "busybox",
            "cat",
            "/proc/sys/net/ipv4/ip_forward"
        ])
        .ok()
        .out(),
        "1"
    );
    // --init: our init is PID 1 and runs the command.
    let init = run(&[
        "--init",
        "busybox",
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$",
    ]);
    let out = init.ok().out().to_string();
    assert!(out.contains("pouch-init"), "{out}");
    assert!(
        !out.ends_with("\n1"),
        "the command is not PID 1 under --init: {out}"
    );
    // The shm size.
    run(&["--shm-size", "8m", "busybox", "df", "/dev/shm"])
        .ok()
        .says("8192");
}

#[test]
fn cgroup_limits_in_force() {
    let Some(bins) = setup::e2e("cgroup_limits_in_force") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    let mem = cgroup_file("memory/memory.limit_in_bytes", "memory.max");
    d.pouch(&["run", "--rm", "-m", "32m", "busybox", "sh", "-c", &mem])
        .ok()
        .says(&(32u64 << 20).to_string());
    let cpu = cgroup_file("cpu/cpu.cfs_quota_us", "cpu.max");
    d.pouch(&["run", "--rm", "--cpus", "0.5", "busybox", "sh", "-c", &cpu])
        .ok()
        .says("50000");
    let shares = cgroup_file("cpu/cpu.shares", "cpu.weight");
    d.pouch(&[
        "run",
        "--rm",
        "--cpu-shares",
        "512",
        "busybox",
        "sh",
        "-c",
        &shares,
    ])
    .ok();
    let cpuset = cgroup_file("cpuset/cpuset.cpus", "cpuset.cpus");
    assert_eq!(
        d.pouch(&[
            "run",
            "--rm",
            "--cpuset-cpus",
            "0",
            "busybox",
            "sh",
            "-c",
            &cpuset
        ])
        .ok()
        .out(),
        "0"
    );

    // A process over -m is OOM-killed, and inspect says so.
    let r = d.pouch(&[
        "run",
        "--name",
        "oom",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        "busybox",
        "tail",
        "/dev/zero",
    ]);
    assert_eq!(r.code, Some(137), "{r}");
    assert_eq!(d.container("oom")["State"]["OOMKilled"], true);

    // A fork bomb stops at --pids-limit: the shell cannot fork past it.
    let bomb = d.pouch(&[
        "run",
        "--rm",
        "--pids-limit",
        "10",
        "busybox",
        "sh",
        "-c",
        "for i in $(seq 1 30); do sleep 30 & done",
    ]);
    let out = bomb.combined();
    assert!(out.contains("can't fork"), "pids limit not in force: {out}");
    let pids_max = cgroup_file("pids/pids.max", "pids.max");
    assert_eq!(
        d.pouch(&[
            "run",
            "--rm",
            "--pids-limit",
            "10",
            "busybox",
            "sh",
            "-c",
            &pids_max
        ])
        .ok()
        .out(),
        "10"
    );

    // pouch update changes the limits of a running container.
    d.pouch(&[
        "run", "-d", "--name", "upd", "-m", "32m", "busybox", "sleep", "1000",
    ])
    .ok();
    d.pouch(&[
        "update",
        "-m",
        "64m",
        "--memory-swap",
        "128m",
        "--pids-limit",
        "50",
        "upd",
    ])
    .ok();
    d.pouch(&["exec", "upd", "sh", "-c", &mem])
        .ok()
        .says(&(64u64 << 20).to_string());
    let pids = cgroup_file("pids/pids.max", "pids.max");
    assert_eq!(
        d.pouch(&["exec", "upd", "sh", "-c", &pids]).ok().out(),
        "50"
    );
    assert_eq!(d.container("upd")["HostConfig"]["Memory"], 64i64 << 20);
    // Stats see the limit.
    let stats = d.pouch(&["stats", "--no-stream", "upd"]);
    stats.ok().says("64MiB");
    let id = d.container("upd")["Id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    d.pouch(&["rm", "-f", "upd"]).ok();
    let gone = wait_for(Duration::from_secs(5), || {
        (!std::path::Path::new("/sys/fs/cgroup/pids/pouch")
            .join(&id)
            .exists())
        .then_some(())
    });
    assert!(
        gone.is_some(),
        "the cgroup of a removed container is left behind"
    );
}
