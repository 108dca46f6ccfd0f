//! The docker CLI (a real client, API 1.44) against pouchd: run, run -d, exec, logs -f,
//! stats --no-stream, events, cp both ways, export, wait, ps, inspect, rm.

use std::time::Duration;

use pouch_e2e::{require_docker_cli, setup, wait_for};

#[test]
fn docker_cli_runs_containers() {
    let Some(bins) = setup::e2e("docker_cli_runs_containers") else {
        return;
    };
    if !require_docker_cli("docker_cli_runs_containers") {
        return;
    }
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.docker(&["pull", "busybox"]).ok();
    let since = chrono_now();
    d.docker(&["run", "--rm", "busybox", "echo", "hi"])
        .ok()
        .says("hi");
    let r = d.docker(&["run", "--rm", "busybox", "sh", "-c", "exit 42"]);
    assert_eq!(r.code, Some(42), "{r}");
    d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "busybox",
        "sh",
        "-c",
        "echo one; sleep 1000",
    ])
    .ok();
    d.docker(&["ps"]).ok().says("web").says("Up");
    d.docker(&["exec", "web", "echo", "from-exec"])
        .ok()
        .says("from-exec");
    let e = d.docker(&["exec", "web", "sh", "-c", "exit 5"]);
    assert_eq!(e.code, Some(5), "{e}");
    d.docker(&["exec", "-d", "web", "sh", "-c", "echo detached > /tmp/d"])
        .ok();
    wait_for(Duration::from_secs(5), || {
        d.docker(&["exec", "web", "cat", "/tmp/d"])
            .stdout
            .contains("detached")
            .then_some(())
    })
    .expect("exec -d ran");
    assert_eq!(
        d.docker(&["inspect", "-f", "{{.State.Running}} {{.Name}}", "web"])
            .ok()
            .out(),
        "true /web"
    );

    // stats --no-stream: one table with the container.
    d.docker(&["stats", "--no-stream", "web"]).ok().says("web");

    // cp both ways, and export.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("in.txt");
    std::fs::write(&local, "copied in\n").unwrap();
    d.docker(&["cp", local.to_str().unwrap(), "web:/tmp/"]).ok();
    d.docker(&["exec", "web", "cat", "/tmp/in.txt"])
        .ok()
        .says("copied in");
    let out = dir.path().join("hosts");
    d.docker(&["cp", "web:/etc/hostname", out.to_str().unwrap()])
        .ok();
    assert!(!std::fs::read_to_string(&out).unwrap().is_empty());
    let exported = dir.path().join("web.tar");
    d.docker(&["export", "-o", exported.to_str().unwrap(), "web"])
        .ok();
    assert!(
        std::fs::metadata(&exported).unwrap().len() > 500_000,
        "export is the whole rootfs"
    );

    // logs -f ends when the container stops.
    let follow = d.docker_bg(&["logs", "-f", "web"]).expect("docker logs -f");
    std::thread::sleep(Duration::from_millis(500));
    d.docker(&["stop", "-t", "1", "web"]).ok();
    let logs = follow.wait(Duration::from_secs(10));
    assert!(logs.success() && logs.stdout.contains("one"), "{logs}");
    assert_eq!(d.docker(&["wait", "web"]).ok().out(), "137");

    // events since the start of the test, up to now.
    let until = chrono_now();
    let ev = d.docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=web",
    ]);
    ev.ok()
        .says("container create")
        .says("container start")
        .says("container die");

    d.docker(&["rm", "web"]).ok();
    d.docker(&["inspect", "web"]).fails();
}

fn chrono_now() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}
