//! A create or start that fails part-way leaves nothing behind: each step is made to fail
//! (pouchd's debug-build fault points, `POUCH_FAULT=<step>`), then the test looks for
//! snapshots, bundles, mounts, cgroups, shim state and processes of the container.

use std::path::Path;
use std::time::Duration;

use pouch_e2e::{setup, wait_for};

/// Read-write snapshots, bundles and shim state dirs left under the daemon's dirs.
fn leftovers(d: &pouch_e2e::Daemon) -> Vec<String> {
    let mut out = Vec::new();
    for (dir, keep) in [
        (d.home().join("snapshots"), "rw-"),
        (d.home().join("containers"), ""),
        (d.exec_root().join("containers"), ""),
    ] {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(keep) {
                out.push(e.path().display().to_string());
            }
        }
    }
    let root = d.root().display().to_string();
    for m in std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
    {
        if let Some(mp) = m.split(' ').nth(4) {
            if mp.starts_with(&root) {
                out.push(format!("mount {mp}"));
            }
        }
    }
    out
}

fn cgroup_of(id: &str) -> Vec<String> {
    ["memory", "pids", "cpu,cpuacct", "freezer", "devices"]
        .iter()
        .map(|c| format!("/sys/fs/cgroup/{c}/pouch/{id}"))
        .filter(|p| Path::new(p).exists())
        .collect()
}

#[test]
fn failed_create_and_start_leave_nothing() {
    let Some(bins) = setup::e2e("failed_create_and_start_leave_nothing") else {
        return;
    };
    let (_reg, mut d) = setup::busybox_mirror(&bins);
    d.pouch(&["pull", "busybox"]).ok();
    for step in [
        "create.snapshot",
        "create.bundle",
        "create.mount",
        "create.record",
    ] {
        d.restart_with_env(&[("POUCH_FAULT", step)])
            .expect("restart pouchd");
        d.pouch(&["create", "--name", "failing", "busybox", "true"])
            .fails()
            .says(step);
        assert_eq!(
            leftovers(&d),
            Vec::<String>::new(),
            "after a failure at {step}"
        );
        assert_eq!(
            d.pouch(&["ps", "-aq"]).ok().out(),
            "",
            "a record left at {step}"
        );
    }
    for step in ["start.shim", "start.runtime"] {
        d.restart_with_env(&[("POUCH_FAULT", step)])
            .expect("restart pouchd");
        let id = d
            .pouch(&["create", "busybox", "sleep", "100"])
            .ok()
            .out()
            .to_string();
        d.pouch(&["start", &id]).fails().says(step);
        let clean = wait_for(Duration::from_secs(5), || {
            let state = d.exec_root().join("containers").join(&id);
            (!state.exists() && cgroup_of(&id).is_empty()).then_some(())
        });
        assert!(
            clean.is_some(),
            "after a failure at {step}: state {:?}, cgroups {:?}",
            d.exec_root().join("containers").join(&id),
            cgroup_of(&id)
        );
        let v = d.container(&id);
        assert_eq!(v["State"]["Running"], false, "{v}");
        assert!(
            v["State"]["Error"].as_str().unwrap_or("").contains(step),
            "{v}"
        );
        d.pouch(&["rm", &id]).ok();
        assert_eq!(
            leftovers(&d),
            Vec::<String>::new(),
            "after removing, {step}"
        );
    }
    // No shim or container process of this daemon is left (pouchd itself names the dir).
    let exec = d.exec_root().display().to_string();
    let procs: Vec<String> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&exec) && !c.contains("--exec-root"))
        .collect();
    assert!(procs.is_empty(), "processes left: {procs:?}");
}
