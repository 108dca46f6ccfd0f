//! Containers end to end with the `pouch` CLI: run, the lifecycle commands, exec, logs,
//! inspect, and the errors Docker gives (404, 409, 400).

use std::time::Duration;

use pouch_e2e::{setup, wait_for};

#[test]
fn run_lifecycle_exec_logs() {
    let Some(bins) = setup::e2e("run_lifecycle_exec_logs") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);

    // The image is pulled on first use; the output and exit code are the container's.
    d.pouch(&["run", "--rm", "busybox", "echo", "hello"])
        .ok()
        .says("hello");
    let r = d.pouch(&[
        "run",
        "--name",
        "three",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(r.code, Some(3), "{r}");
    assert!(r.stdout.contains("out") && r.stderr.contains("err"), "{r}");
    let ps = d.pouch(&["ps", "-a"]);
    ps.ok().says("three").says("Exited (3)");
    assert_eq!(
        d.pouch(&[
            "inspect",
            "-f",
            "{{.State.ExitCode}} {{.State.Status}}",
            "three"
        ])
        .ok()
        .out(),
        "3 exited"
    );
    d.pouch(&["logs", "three"]).ok().says("out").says("err");

    // A detached container: ps, inspect, exec, logs, top, stop, wait, rm.
    let id = d
        .pouch(&[
            "run",
            "-d",
            "--name",
            "web",
            "busybox",
            "sh",
            "-c",
            "echo started; exec sleep 1000",
        ])
        .ok()
        .out()
        .to_string();
    assert_eq!(id.len(), 64, "run -d prints the id: {id}");
    d.pouch(&["ps"]).ok().says("web").says("Up ");
    let v = d.container("web");
    assert_eq!(v["State"]["Running"], true, "{v}");
    assert!(v["State"]["Pid"].as_i64().unwrap_or(0) > 0, "{v}");
    assert_eq!(v["Name"], "/web");
    d.pouch(&["exec", "web", "echo", "from-exec"])
        .ok()
        .says("from-exec");
    let e = d.pouch(&["exec", "web", "sh", "-c", "exit 4"]);
    assert_eq!(e.code, Some(4), "{e}");
    wait_for(Duration::from_secs(5), || {
        d.pouch(&["logs", "web"])
            .stdout
            .contains("started")
            .then_some(())
    })
    .expect("logs of web");
    d.pouch(&["top", "web"]).ok().says("sleep 1000");
    // 409: running, without force.
    d.pouch(&["rm", "web"])
        .fails()
        .says("stop the container before removing or force remove");
    d.pouch(&["stop", "-t", "1", "web"]).ok().says("web");
    assert_eq!(d.pouch(&["wait", "web"]).ok().out(), "137");
    // exec in a stopped container: 409 with the reason.
    d.pouch(&["exec", "web", "true"])
        .fails()
        .says("is not running");
    d.pouch(&["start", "web"]).ok();
    d.pouch(&["restart", "-t", "1", "web"]).ok();
    assert_eq!(d.container("web")["State"]["Running"], true);
    d.pouch(&["pause", "web"]).ok();
    assert_eq!(d.container("web")["State"]["Status"], "paused");
    d.pouch(&["unpause", "web"]).ok();
    d.pouch(&["kill", "web"]).ok();
    wait_for(Duration::from_secs(5), || {
        (d.container("web")["State"]["Running"] == false).then_some(())
    })
    .expect("killed");
    d.pouch(&["rename", "web", "web2"]).ok();
    d.pouch(&["rm", "web2"]).ok();
    d.pouch(&["inspect", "web2"]).fails();
    assert!(
        !d.home().join("containers").join(&id).exists(),
        "bundle of a removed container left behind"
    );
}

#[test]
fn errors_name_the_object() {
    let Some(bins) = setup::e2e("errors_name_the_object") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["pull", "busybox"]).ok();
    d.pouch(&["create", "--name", "dup", "busybox"]).ok();
    d.pouch(&["create", "--name", "dup", "busybox"])
        .fails()
        .says("is already in use");
    d.pouch(&["start", "nosuchcontainer"])
        .fails()
        .says("No such container: nosuchcontainer");
    d.pouch(&["create", "--cpuset-cpus", "0-99", "busybox"])
        .fails()
        .says("--cpuset-cpus");
    d.pouch(&["create", "--cap-add", "NOPE", "busybox"])
        .fails()
        .says("NOPE");
    d.pouch(&["create", "-m", "abc", "busybox"])
        .fails()
        .says("abc");
    d.pouch(&["create", "--restart", "sometimes", "busybox"])
        .fails()
        .says("sometimes");
    // Only `dup` exists: no half-made container is left by the failures.
    let all = d.pouch(&["ps", "-aq"]);
    assert_eq!(all.ok().stdout.lines().count(), 1, "{all}");
    // A command that does not exist: 127, and the container records the error.
    let r = d.pouch(&["run", "--name", "nocmd", "busybox", "/no/such/cmd"]);
    assert_eq!(r.code, Some(127), "{r}");
    // The image of a container cannot be removed.
    d.pouch(&["rmi", "busybox"]).fails().says("container");
}
