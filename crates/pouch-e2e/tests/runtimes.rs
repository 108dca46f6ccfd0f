//! OCI runtimes: a second registered runtime (our own `pouch-runc`, on youki's libcontainer)
//! passes the core (run, exec, logs, stop), per container with `--runtime`, and as the
//! daemon's `--default-runtime`; a runtime that refuses this host (Debian's crun 1.8 on a
//! hybrid cgroup layout) gives a clear error naming it, quickly, never a hang.

use std::path::Path;
use std::time::{Duration, Instant};

use pouch_e2e::{bin_dir, fixtures, setup, Daemon, DaemonOptions, Must, Registry, RegistryOptions};

fn pouch_runc() -> Option<String> {
    let p = bin_dir().join("pouch-runc");
    p.is_file().then(|| p.display().to_string())
}

fn core(d: &Daemon, runtime: &[&str]) {
    fn with<'a>(runtime: &[&'a str], args: &[&'a str]) -> Vec<&'a str> {
        let mut a: Vec<&str> = args[..1].to_vec();
        a.extend_from_slice(runtime);
        a.extend_from_slice(&args[1..]);
        a
    }
    d.pouch(&with(runtime, &["run", "--rm", "busybox", "echo", "hello"]))
        .ok()
        .says("hello");
    let r = d.pouch(&with(runtime, &["run", "busybox", "sh", "-c", "exit 3"]));
    assert_eq!(r.code, Some(3), "{r}");
    d.pouch(&with(
        runtime,
        &[
            "run",
            "-d",
            "--name",
            "core",
            "busybox",
            "sh",
            "-c",
            "echo up; exec sleep 1000",
        ],
    ))
    .ok();
    d.pouch(&["exec", "core", "echo", "in-exec"])
        .ok()
        .says("in-exec");
    let e = d.pouch(&["exec", "core", "sh", "-c", "exit 4"]);
    assert_eq!(e.code, Some(4), "{e}");
    d.pouch(&["logs", "core"]).ok().says("up");
    d.pouch(&["stop", "-t", "1", "core"]).ok();
    assert_eq!(d.pouch(&["wait", "core"]).ok().out(), "137");
    d.pouch(&["rm", "core"]).ok();
}

#[test]
fn second_runtime_passes_the_core() {
    let Some(bins) = setup::e2e("second_runtime_passes_the_core") else {
        return;
    };
    let Some(runc2) = pouch_runc() else {
        pouch_e2e::skip("second_runtime_passes_the_core", "pouch-runc not built");
        return;
    };
    let reg = Registry::start(RegistryOptions::default()).must("registry");
    reg.push("library/busybox", "latest", fixtures::busybox())
        .must("push");
    let mut opts = DaemonOptions::with_mirror(&reg.url());
    opts.extra_args = vec!["--add-runtime".into(), format!("pouch-runc={runc2}")];
    let d = Daemon::start(&bins, opts.clone()).must("pouchd");
    d.pouch(&["pull", "busybox"]).ok();
    core(&d, &["--runtime", "pouch-runc"]);
    let v = d.pouch(&[
        "run",
        "--runtime",
        "pouch-runc",
        "--name",
        "rt",
        "busybox",
        "true",
    ]);
    v.ok();
    assert_eq!(d.container("rt")["HostConfig"]["Runtime"], "pouch-runc");
    // Unknown runtimes are refused at create, naming the flag.
    d.pouch(&["create", "--runtime", "nope", "busybox"])
        .fails()
        .says("--runtime nope");
    drop(d);

    // As the default runtime of the daemon.
    opts.extra_args
        .extend(["--default-runtime".into(), "pouch-runc".into()]);
    let d = Daemon::start(&bins, opts).must("pouchd with pouch-runc as default");
    d.pouch(&["pull", "busybox"]).ok();
    core(&d, &[]);
}

#[test]
fn refusing_runtime_is_a_clear_error() {
    let Some(bins) = setup::e2e("refusing_runtime_is_a_clear_error") else {
        return;
    };
    if !Path::new("/usr/bin/crun").exists() {
        pouch_e2e::skip("refusing_runtime_is_a_clear_error", "crun not installed");
        return;
    }
    let reg = Registry::start(RegistryOptions::default()).must("registry");
    reg.push("library/busybox", "latest", fixtures::busybox())
        .must("push");
    let mut opts = DaemonOptions::with_mirror(&reg.url());
    opts.extra_args = vec!["--add-runtime".into(), "crun=/usr/bin/crun".into()];
    let d = Daemon::start(&bins, opts).must("pouchd");
    d.pouch(&["pull", "busybox"]).ok();
    let t = Instant::now();
    let r = d.pouch(&["run", "--rm", "--runtime", "crun", "busybox", "echo", "hi"]);
    let took = t.elapsed();
    if r.success() {
        // A host crun accepts: then it must simply work.
        r.says("hi");
        return;
    }
    r.says("runtime crun");
    assert!(took < Duration::from_secs(30), "took {took:?}: {r}");
    // Nothing is left: --rm removed the container that could not start.
    let left = pouch_e2e::wait_for(Duration::from_secs(5), || {
        d.pouch(&["ps", "-aq"]).out().is_empty().then_some(())
    });
    assert!(left.is_some(), "{}", d.pouch(&["ps", "-a"]));
}
