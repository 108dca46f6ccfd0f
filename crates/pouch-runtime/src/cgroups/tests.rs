//! Tests of `cgroups`: parsers on fixtures, v1 and v2 stats over a fake cgroupfs, and (as root)
//! stats, pids and removal of a real cgroup holding a child process.

use super::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const HYBRID: &str = "\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

const UNIFIED: &str = "\
24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
28 24 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

const LEGACY: &str = "\
25 24 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/my\\040cgroups rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory
";

#[test]
fn detects_a_hybrid_host() {
    let layout = CgroupLayout::from_mountinfo(HYBRID);
    assert_eq!(layout.mode, CgroupMode::Hybrid);
    assert_eq!(
        layout.unified,
        Some(PathBuf::from("/sys/fs/cgroup/unified"))
    );
    assert_eq!(
        layout.controller_dir("memory", "/pouch/abc"),
        Some(PathBuf::from("/sys/fs/cgroup/memory/pouch/abc"))
    );
    assert_eq!(
        layout.controllers.get("name=systemd"),
        Some(&PathBuf::from("/sys/fs/cgroup/systemd"))
    );
    assert_eq!(layout.controller_dir("blkio", "/pouch/abc"), None);
}

#[test]
fn detects_a_unified_host() {
    let layout = CgroupLayout::from_mountinfo(UNIFIED);
    assert_eq!(layout.mode, CgroupMode::Unified);
    assert!(layout.controllers.is_empty());
    assert_eq!(
        layout.controller_dir("memory", "/pouch/abc"),
        Some(PathBuf::from("/sys/fs/cgroup/pouch/abc"))
    );
}

#[test]
fn detects_a_legacy_host_with_co_mounted_controllers() {
    let layout = CgroupLayout::from_mountinfo(LEGACY);
    assert_eq!(layout.mode, CgroupMode::Legacy);
    assert_eq!(layout.unified, None);
    let cpu = PathBuf::from("/sys/fs/cgroup/cpu,cpuacct");
    assert_eq!(layout.controllers.get("cpu"), Some(&cpu));
    assert_eq!(layout.controllers.get("cpuacct"), Some(&cpu));
    assert_eq!(
        layout.controllers.get("memory"),
        Some(&PathBuf::from("/sys/fs/cgroup/my cgroups"))
    );
    assert!(!layout.controllers.contains_key("xattr"));
    assert!(!layout
        .controllers
        .keys()
        .any(|k| k.contains("release_agent")));
    // one directory per hierarchy, the co-mounted one once
    assert_eq!(layout.all_dirs("/p/x").len(), 3);
}

#[test]
fn paths_cannot_leave_the_hierarchy() {
    let layout = CgroupLayout::from_mountinfo(UNIFIED);
    assert_eq!(
        layout.controller_dir("", "../../etc/x"),
        Some(PathBuf::from("/sys/fs/cgroup/etc/x"))
    );
}

#[test]
fn parses_cpusets() {
    assert_eq!(parse_cpuset("0-1,3").unwrap(), vec![0, 1, 3]);
    assert_eq!(parse_cpuset("0-3\n").unwrap(), vec![0, 1, 2, 3]);
    assert_eq!(parse_cpuset("3,1,1-2").unwrap(), vec![1, 2, 3]);
    assert_eq!(parse_cpuset("").unwrap(), Vec::<u32>::new());
    assert_eq!(parse_cpuset("7").unwrap(), vec![7]);
    for bad in ["a", "1-", "-1", "3-1", "1,,2", "0-4294967295", "1.5"] {
        assert!(parse_cpuset(bad).is_err(), "{bad:?} was accepted");
    }
    assert_eq!(
        parse_cpuset("3-1").unwrap_err().to_string(),
        "invalid cpuset \"3-1\": range 3-1 goes backwards (use a list like 0-1,3)"
    );
}

#[test]
fn parses_proc_stat_as_docker() {
    let text = "cpu  233355 0 57341 1402145 4531 0 830 115 0 0\n\
                cpu0 109859 0 26456 711085 1323 0 244 51 0 0\n\
                cpu1 123495 0 30884 691060 3208 0 585 64 0 0\n\
                intr 3277342 0 0\nctxt 1\n";
    let ticks: u64 = 233355 + 57341 + 1402145 + 4531 + 830;
    assert_eq!(parse_proc_stat(text), Some((ticks * 10_000_000, 2)));
    assert_eq!(parse_proc_stat("intr 1\n"), None);
}

#[test]
fn host_facts_are_consistent() {
    let cpus = host_cpus();
    assert!(!cpus.is_empty());
    assert_eq!(cpus.len() as u32, online_cpus());
    assert!(host_mems().contains(&0));
    assert!(host_memory_bytes() > 0);
    assert!(system_cpu_usage_ns() > 0);
}

#[test]
fn compares_kernel_releases() {
    assert!(kernel_before("5.15.0-91-generic", (5, 16)));
    assert!(kernel_before("4.19.0", (5, 16)));
    assert!(!kernel_before("5.16.1", (5, 16)));
    assert!(!kernel_before("6.18.44-fc-v669", (5, 16)));
    assert!(!kernel_before("garbage", (5, 16)));
}

fn write(dir: &Path, file: &str, content: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(file), content).unwrap();
}

#[test]
fn reads_v1_stats_from_a_cgroupfs() {
    let root = tempfile::tempdir().unwrap();
    let mount = |c: &str| root.path().join(c);
    let layout = CgroupLayout {
        mode: CgroupMode::Hybrid,
        controllers: ["cpu", "cpuacct", "memory", "pids", "blkio"]
            .iter()
            .map(|c| (c.to_string(), mount(c)))
            .collect(),
        unified: Some(mount("unified")),
    };
    let path = "/pouch/abc";
    assert!(!layout.exists(path));
    assert!(matches!(
        layout.read_stats(path),
        Err(CgroupError::NotFound { .. })
    ));

    let dir = |c: &str| layout.controller_dir(c, path).unwrap();
    write(&dir("cpuacct"), "cpuacct.usage", "3000000000\n");
    write(
        &dir("cpuacct"),
        "cpuacct.usage_percpu",
        "1000000000 2000000000 \n",
    );
    write(&dir("cpuacct"), "cpuacct.stat", "user 150\nsystem 50\n");
    write(
        &dir("cpu"),
        "cpu.stat",
        "nr_periods 10\nnr_throttled 2\nthrottled_time 5000\nnr_bursts 0\n",
    );
    write(&dir("memory"), "memory.usage_in_bytes", "1048576\n");
    write(&dir("memory"), "memory.max_usage_in_bytes", "2097152\n");
    write(
        &dir("memory"),
        "memory.limit_in_bytes",
        "9223372036854771712\n",
    );
    write(&dir("memory"), "memory.failcnt", "3\n");
    write(
        &dir("memory"),
        "memory.stat",
        "cache 4096\nrss 8192\ntotal_rss 8192\n",
    );
    write(
        &dir("memory"),
        "memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    );
    write(&dir("pids"), "pids.current", "4\n");
    write(&dir("pids"), "pids.max", "max\n");
    write(&dir("pids"), "cgroup.procs", "12\n10\n");
    write(&dir("pids").join("sub"), "cgroup.procs", "11\n");
    write(
        &dir("blkio"),
        "blkio.bfq.io_service_bytes_recursive",
        "Total 0\n",
    );
    write(
        &dir("blkio"),
        "blkio.throttle.io_service_bytes_recursive",
        "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 12288\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 12288\nTotal 12288\n",
    );
    write(
        &dir("blkio"),
        "blkio.throttle.io_serviced_recursive",
        "8:0 Read 1\n8:0 Write 2\nTotal 3\n",
    );

    assert!(layout.exists(path));
    let stats = layout.read_stats(path).unwrap();
    assert_eq!(stats.cpu_total_ns, 3_000_000_000);
    assert_eq!(stats.percpu, vec![1_000_000_000, 2_000_000_000]);
    assert_eq!(stats.cpu_user_ns, 1_500_000_000);
    assert_eq!(stats.cpu_system_ns, 500_000_000);
    assert_eq!(
        stats.throttling,
        Throttling {
            periods: 10,
            throttled_periods: 2,
            throttled_time: 5000
        }
    );
    assert_eq!(stats.memory_usage, 1_048_576);
    assert_eq!(stats.memory_max_usage, Some(2_097_152));
    assert_eq!(stats.memory_limit, host_memory_bytes());
    assert_eq!(stats.memory_failcnt, Some(3));
    assert_eq!(stats.memory_stats.get("rss"), Some(&8192));
    assert_eq!(stats.pids_current, 4);
    assert_eq!(stats.pids_limit, None);
    assert_eq!(stats.blkio_service_bytes.len(), 7);
    assert_eq!(
        stats.blkio_service_bytes[1],
        BlkioEntry {
            major: 8,
            minor: 0,
            op: "Write".into(),
            value: 8192
        }
    );
    assert_eq!(stats.blkio_serviced.len(), 3);
    assert_eq!(layout.oom_kill_count(path), 2);
    assert_eq!(layout.pids(path), vec![10, 11, 12]);

    write(&dir("memory"), "memory.limit_in_bytes", "67108864\n");
    write(&dir("pids"), "pids.max", "100\n");
    let stats = layout.read_stats(path).unwrap();
    assert_eq!(stats.memory_limit, 67_108_864);
    assert_eq!(stats.pids_limit, Some(100));

    write(&dir("memory"), "memory.usage_in_bytes", "lots\n");
    let err = layout.read_stats(path).unwrap_err().to_string();
    assert!(err.contains("memory.usage_in_bytes"), "{err}");
    assert!(err.contains("\"lots\" is not a number"), "{err}");
}

#[test]
fn reads_v2_stats_from_a_cgroupfs() {
    let root = tempfile::tempdir().unwrap();
    let layout = CgroupLayout {
        mode: CgroupMode::Unified,
        controllers: BTreeMap::new(),
        unified: Some(root.path().to_path_buf()),
    };
    let path = "pouch/abc";
    let dir = layout.controller_dir("memory", path).unwrap();
    assert_eq!(dir, root.path().join("pouch/abc"));
    write(
        &dir,
        "cpu.stat",
        "usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\nnr_periods 5\nnr_throttled 1\nthrottled_usec 7\n",
    );
    write(&dir, "memory.current", "4096\n");
    write(&dir, "memory.max", "max\n");
    write(&dir, "memory.stat", "anon 4096\nfile 0\n");
    write(
        &dir,
        "memory.events",
        "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
    );
    write(&dir, "pids.current", "2\n");
    write(&dir, "pids.max", "64\n");
    write(
        &dir,
        "io.stat",
        "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
    );
    write(&dir, "cgroup.procs", "7\n");

    let stats = layout.read_stats(path).unwrap();
    assert_eq!(stats.cpu_total_ns, 3_000_000);
    assert_eq!(stats.cpu_user_ns, 2_000_000);
    assert_eq!(stats.cpu_system_ns, 1_000_000);
    assert!(stats.percpu.is_empty());
    assert_eq!(stats.throttling.throttled_time, 7000);
    assert_eq!(stats.memory_usage, 4096);
    assert_eq!(stats.memory_max_usage, None);
    assert_eq!(stats.memory_failcnt, None);
    assert_eq!(stats.memory_limit, host_memory_bytes());
    assert_eq!(stats.pids_limit, Some(64));
    assert_eq!(
        stats.blkio_service_bytes,
        vec![
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "read".into(),
                value: 100
            },
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "write".into(),
                value: 200
            },
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "discard".into(),
                value: 0
            },
        ]
    );
    assert_eq!(stats.blkio_serviced[1].value, 2);
    assert_eq!(layout.oom_kill_count(path), 1);
    assert_eq!(layout.pids(path), vec![7]);
}

/// A cgroup made for this test in every hierarchy it needs, removed at the end.
struct TestCgroup {
    path: String,
    child: Option<std::process::Child>,
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = layout().remove(&self.path);
    }
}

#[test]
fn reads_a_real_cgroup() {
    if !rustix::process::geteuid().is_root() {
        println!("skipped: needs root to create cgroups");
        return;
    }
    let layout = layout();
    let path = format!("/pouch-test/cgroups-{}", std::process::id());
    let controllers: &[&str] = match layout.mode {
        CgroupMode::Unified => {
            let root = layout.unified.as_ref().unwrap();
            let enabled =
                std::fs::read_to_string(root.join("cgroup.subtree_control")).unwrap_or_default();
            if !["memory", "pids", "cpu"]
                .iter()
                .all(|c| enabled.split_whitespace().any(|e| e == *c))
            {
                println!(
                    "skipped: memory, pids and cpu are not enabled in {}",
                    root.display()
                );
                return;
            }
            &[""]
        }
        CgroupMode::Legacy | CgroupMode::Hybrid => &["memory", "pids", "cpu", "cpuacct"],
    };
    let mut cgroup = TestCgroup {
        path: path.clone(),
        child: None,
    };
    if layout.mode == CgroupMode::Unified {
        // controllers must be enabled on the intermediate cgroup for the leaf
        let parent = layout.controller_dir("", "/pouch-test").unwrap();
        std::fs::create_dir_all(&parent).unwrap();
        let _ = std::fs::write(parent.join("cgroup.subtree_control"), "+memory +pids +cpu");
    }
    for c in controllers {
        std::fs::create_dir_all(layout.controller_dir(c, &path).unwrap()).unwrap();
    }
    assert!(layout.exists(&path));

    let mut child = Command::new("sh")
        .args([
            "-c",
            "read go; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; \
             cat /proc/self/status > /dev/null; echo done; exec sleep 30",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    for c in controllers {
        let dir = layout.controller_dir(c, &path).unwrap();
        std::fs::write(dir.join("cgroup.procs"), pid.to_string()).unwrap();
    }
    let limit_file = match layout.mode {
        CgroupMode::Unified => "memory.max",
        _ => "memory.limit_in_bytes",
    };
    let memory = layout.controller_dir("memory", &path).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    cgroup.child = Some(child);
    writeln!(stdin, "go").unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "done\n");
    std::thread::sleep(std::time::Duration::from_millis(100));

    assert_eq!(layout.pids(&path), vec![pid]);
    let stats = layout.read_stats(&path).unwrap();
    assert!(stats.cpu_total_ns > 0, "{stats:?}");
    if layout.mode != CgroupMode::Unified {
        assert_eq!(stats.percpu.len(), online_cpus() as usize);
        let sum: u64 = stats.percpu.iter().sum();
        // cpuacct.usage is the sum of the per-cpu counters, read a moment apart
        assert!(sum.abs_diff(stats.cpu_total_ns) < 50_000_000, "{stats:?}");
    }
    assert!(stats.memory_usage > 0, "{stats:?}");
    assert!(!stats.memory_stats.is_empty());
    assert_eq!(stats.memory_limit, host_memory_bytes());
    assert_eq!(stats.pids_current, 1);
    assert_eq!(stats.pids_limit, None);
    assert_eq!(layout.oom_kill_count(&path), 0);

    std::fs::write(memory.join(limit_file), "67108864").unwrap();
    let pids_dir = layout.controller_dir("pids", &path).unwrap();
    std::fs::write(pids_dir.join("pids.max"), "20").unwrap();
    let stats = layout.read_stats(&path).unwrap();
    assert_eq!(stats.memory_limit, 67_108_864);
    assert_eq!(stats.pids_limit, Some(20));

    // a cgroup with a process cannot be removed; an empty one can, with its children
    let err = layout.remove(&path).unwrap_err();
    assert!(matches!(err, CgroupError::Remove { .. }), "{err}");
    if let Some(mut child) = cgroup.child.take() {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    std::fs::create_dir_all(layout.controller_dir("memory", &path).unwrap().join("sub")).unwrap();
    layout.remove(&path).unwrap();
    assert!(!layout.exists(&path));
    assert!(layout.read_stats(&path).is_err());
    let _ = layout.remove("/pouch-test");
}
