//! Live restore and restart policies: containers outlive `kill -9` of pouchd; after the
//! restart ps, logs -f, exec, stop and wait work on them, and a container that exited while
//! the daemon was down shows its real exit code. Restart policies restart with back-off and
//! count; `always` containers come back when pouchd starts.

use std::time::Duration;

use pouch_e2e::{setup, wait_for};

#[test]
fn containers_survive_daemon_kill() {
    let Some(bins) = setup::e2e("containers_survive_daemon_kill") else {
        return;
    };
    let (_reg, mut d) = setup::busybox_mirror(&bins);
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "long",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done",
    ])
    .ok();
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "short",
        "busybox",
        "sh",
        "-c",
        "sleep 2; exit 7",
    ])
    .ok();
    let pid_before = d.container("long")["State"]["Pid"].as_i64().unwrap();
    d.kill9().expect("kill -9 pouchd");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        std::path::Path::new(&format!("/proc/{pid_before}")).exists(),
        "the container died with the daemon"
    );
    d.restart().expect("restart pouchd");

    let v = d.container("long");
    assert_eq!(v["State"]["Running"], true, "{v}");
    assert_eq!(v["State"]["Pid"].as_i64().unwrap(), pid_before);
    let short = wait_for(Duration::from_secs(5), || {
        let v = d.container("short");
        (v["State"]["Status"] == "exited").then_some(v)
    })
    .expect("short exited");
    assert_eq!(short["State"]["ExitCode"], 7, "{short}");
    d.pouch(&["ps"]).ok().says("long");
    d.pouch(&["exec", "long", "echo", "still-here"])
        .ok()
        .says("still-here");
    // attach and logs -f follow the running container and end when it stops.
    let attach = d.pouch_bg(&["attach", "long"]).expect("attach");
    let follow = d
        .pouch_bg(&["logs", "-f", "--tail", "1", "long"])
        .expect("logs -f");
    std::thread::sleep(Duration::from_millis(800));
    d.pouch(&["stop", "-t", "1", "long"]).ok();
    let out = follow.wait(Duration::from_secs(10));
    assert!(out.stdout.matches("tick").count() >= 2, "{out}");
    let attached = attach.wait(Duration::from_secs(10));
    assert!(
        attached.stdout.contains("tick"),
        "attach after restore: {attached}"
    );
    assert_eq!(d.pouch(&["wait", "long"]).ok().out(), "137");
}

#[test]
fn restart_policies() {
    let Some(bins) = setup::e2e("restart_policies") else {
        return;
    };
    let (_reg, mut d) = setup::busybox_mirror(&bins);
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "fail",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ])
    .ok();
    let v = wait_for(Duration::from_secs(15), || {
        let v = d.container("fail");
        (v["RestartCount"] == 2 && v["State"]["Status"] == "exited").then_some(v)
    })
    .unwrap_or_else(|| d.container("fail"));
    assert_eq!(v["RestartCount"], 2, "{v}");
    assert_eq!(v["State"]["ExitCode"], 1, "{v}");

    d.pouch(&[
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    d.pouch(&["run", "-d", "--name", "never", "busybox", "sleep", "1000"])
        .ok();
    // A host reboot kills every container; so does this.
    let ids: Vec<String> = ["always", "never"]
        .iter()
        .map(|n| d.container(n)["State"]["Pid"].as_i64().unwrap().to_string())
        .collect();
    d.kill9().expect("kill -9 pouchd");
    for pid in &ids {
        let _ = std::process::Command::new("kill")
            .args(["-9", pid])
            .status();
    }
    std::thread::sleep(Duration::from_secs(1));
    d.restart().expect("restart pouchd");
    let back = wait_for(Duration::from_secs(10), || {
        (d.container("always")["State"]["Running"] == true).then_some(())
    });
    assert!(
        back.is_some(),
        "always container did not come back: {}",
        d.container("always")
    );
    let never = d.container("never");
    assert_eq!(never["State"]["Running"], false, "{never}");
    assert_eq!(never["State"]["ExitCode"], 137, "{never}");
    // A stopped `always` container stays down until started.
    d.pouch(&["stop", "-t", "1", "always"]).ok();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(d.container("always")["State"]["Running"], false);
}
