//! Tests of `driver`: stderr parsing on fixtures of runc and crun, runtime lookup, the timeout,
//! and (as root, with runc installed) the whole lifecycle of a busybox container.

use super::*;
use crate::cgroups::{self, CgroupMode};
use std::time::Instant;

#[test]
fn takes_the_message_of_runc_log_lines() {
    let text = "time=\"2026-11-27T22:29:57Z\" level=error msg=\"container does not exist\"\n";
    assert_eq!(error_message(text), "container does not exist");
    let text = "time=\"2026-11-27T22:30:11Z\" level=warning msg=\"deprecated\"\n\
                time=\"2026-11-27T22:30:11Z\" level=error msg=\"cannot delete container t1 that is not stopped: running\"\n";
    assert_eq!(
        error_message(text),
        "cannot delete container t1 that is not stopped: running"
    );
    let text = "{\"level\":\"error\",\"msg\":\"container not running\",\"time\":\"2026-11-27T22:30:02Z\"}\n";
    assert_eq!(error_message(text), "container not running");
    let text = "time=\"x\" level=error msg=\"exec failed: \\\"quoted\\\"\\nnext\"\n";
    assert_eq!(error_message(text), "exec failed: \"quoted\"\nnext");
}

#[test]
fn takes_plain_lines_as_they_are() {
    let text = "error opening file `/run/x/t1/status`: No such file or directory\n";
    assert_eq!(
        error_message(text),
        "error opening file `/run/x/t1/status`: No such file or directory"
    );
    assert_eq!(error_message("  first \n\nsecond\n"), "first: second");
    assert_eq!(error_message(""), "");
}

#[test]
fn classifies_failures() {
    let driver = RuntimeDriver::new("runc", "/usr/sbin/runc", "/run/x");
    let kind = |message: &str, exists: bool| {
        driver
            .classify("kill", "abc", message.to_string(), exists)
            .kind()
    };
    assert_eq!(
        kind("container does not exist", true),
        FailureKind::NotFound
    );
    assert_eq!(kind("something odd", false), FailureKind::NotFound);
    assert_eq!(kind("container not running", true), FailureKind::NotRunning);
    assert_eq!(
        kind("cannot start a container that has stopped", true),
        FailureKind::NotRunning
    );
    assert_eq!(kind("container not paused", true), FailureKind::NotPaused);
    assert_eq!(
        kind(
            "cannot delete container abc that is not stopped: running",
            true
        ),
        FailureKind::Other
    );
    let err = driver.classify("kill", "3c4f", "container not running".to_string(), true);
    assert_eq!(
        err.to_string(),
        "runtime runc: kill 3c4f: container not running"
    );
}

#[test]
fn resolves_runtimes_on_path_and_by_path() {
    let sh = resolve_runtime("sh").unwrap();
    assert!(sh.is_absolute() && sh.ends_with("sh"), "{}", sh.display());
    assert_eq!(
        resolve_runtime("/bin/sh").unwrap(),
        PathBuf::from("/bin/sh")
    );

    let err = resolve_runtime("no-such-runtime-pouch")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot use runtime \"no-such-runtime-pouch\": not found in PATH"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    let err = resolve_runtime(plain.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not executable"), "{err}");
    let err = resolve_runtime(dir.path().to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not a file"), "{err}");
    assert!(resolve_runtime("").is_err());
}

#[tokio::test]
async fn a_runtime_that_cannot_be_run_is_named() {
    let root = tempfile::tempdir().unwrap();
    let driver = RuntimeDriver::new("ghost", "/nonexistent/ghost", root.path());
    let err = driver.start("abc").await.unwrap_err().to_string();
    assert!(
        err.starts_with("runtime ghost: start abc: cannot run /nonexistent/ghost: "),
        "{err}"
    );
}

#[tokio::test]
async fn a_runtime_that_hangs_is_killed_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let script = dir.path().join("slow-runtime");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho $$ > {}\nexec sleep 30\n",
            pid_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let driver = RuntimeDriver::new("slow", &script, dir.path().join("root"))
        .with_timeout(Duration::from_millis(500));
    let started = Instant::now();
    let err = driver.kill("abc", 15, false).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(matches!(err, DriverError::TimedOut { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "runtime slow: kill abc: no answer within 0.5s, killed it"
    );
    assert!(dir.path().join("root").is_dir(), "the root was not created");

    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // gone, or a zombie until tokio's reaper runs
        if state.is_empty() || state.contains(") Z ") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the runtime {pid} still runs: {state}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A runc container made for the test, deleted (with its cgroup) at the end.
struct TestContainer {
    runc: PathBuf,
    root: PathBuf,
    id: String,
    cgroups_path: String,
}

impl Drop for TestContainer {
    fn drop(&mut self) {
        let _ = std::process::Command::new(&self.runc)
            .arg("--root")
            .arg(&self.root)
            .args(["delete", "--force", &self.id])
            .stderr(Stdio::null())
            .status();
        let _ = cgroups::remove(&self.cgroups_path);
        let _ = cgroups::remove("/pouch-test");
    }
}

fn busybox_bundle(dir: &Path, cgroups_path: &str) {
    let bin = dir.join("rootfs/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    for applet in ["sleep", "sh"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    let config = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sleep", "1000"],
            "env": ["PATH=/bin"],
            "cwd": "/"
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "driver-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}],
            "cgroupsPath": cgroups_path
        }
    });
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
}

async fn wait_for_status(driver: &RuntimeDriver, id: &str, status: &str) -> RuntimeState {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = driver.state(id).await.unwrap();
        if state.status == status {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "{id} stays {state:?}, not {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn drives_a_runc_container_through_its_lifecycle() {
    if !rustix::process::geteuid().is_root() {
        println!("skipped: needs root to run containers");
        return;
    }
    let Ok(runc) = resolve_runtime("runc") else {
        println!("skipped: runc is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let root = dir.path().join("runtime-root");
    let id = format!("pouch-driver-test-{}", std::process::id());
    let cgroups_path = format!("/pouch-test/{id}");
    busybox_bundle(&bundle, &cgroups_path);
    let _guard = TestContainer {
        runc: runc.clone(),
        root: root.clone(),
        id: id.clone(),
        cgroups_path: cgroups_path.clone(),
    };
    let driver = RuntimeDriver::new("runc", &runc, &root);

    // nothing there yet
    let err = driver.state(&id).await.unwrap_err();
    assert_eq!(err.kind(), FailureKind::NotFound, "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("runtime runc: state {id}: ")),
        "{err}"
    );

    // the container's init inherits runc's stdio: no pipe, or reading it would never end
    let log = dir.path().join("create.log");
    let created = std::process::Command::new(&runc)
        .arg("--root")
        .arg(&root)
        .arg("--log")
        .arg(&log)
        .args(["create", "--bundle"])
        .arg(&bundle)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(
        created.success(),
        "runc create: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(driver.state(&id).await.unwrap().status, "created");

    driver.start(&id).await.unwrap();
    let state = wait_for_status(&driver, &id, "running").await;
    assert!(state.pid > 0);
    assert_eq!(driver.ps(&id).await.unwrap(), vec![state.pid]);
    assert_eq!(cgroups::pids(&cgroups_path), vec![state.pid]);

    let err = driver.resume(&id).await.unwrap_err();
    assert_eq!(err.kind(), FailureKind::NotPaused, "{err}");
    driver.pause(&id).await.unwrap();
    assert_eq!(driver.state(&id).await.unwrap().status, "paused");
    driver.resume(&id).await.unwrap();
    assert_eq!(driver.state(&id).await.unwrap().status, "running");

    let limit: u64 = 48 * 1024 * 1024;
    driver
        .update(&id, &serde_json::json!({"memory": {"limit": limit}}))
        .await
        .unwrap();
    let memory = cgroups::layout()
        .controller_dir("memory", &cgroups_path)
        .unwrap();
    let file = match cgroups::layout().mode {
        CgroupMode::Unified => "memory.max",
        CgroupMode::Legacy | CgroupMode::Hybrid => "memory.limit_in_bytes",
    };
    let written = std::fs::read_to_string(memory.join(file)).unwrap();
    assert_eq!(written.trim(), limit.to_string());
    assert_eq!(
        cgroups::read_stats(&cgroups_path).unwrap().memory_limit,
        limit
    );
    let err = driver
        .update(&id, &serde_json::json!({"memory": {"limit": "lots"}}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Other, "{err}");

    let err = driver.delete(&id, false).await.unwrap_err();
    assert_eq!(err.kind(), FailureKind::Other, "{err}");
    assert!(err.to_string().contains("not stopped"), "{err}");

    // SIGTERM does not stop `sleep` as PID 1 (no handler); SIGKILL to all does
    driver.kill(&id, 15, false).await.unwrap();
    driver.kill(&id, 9, true).await.unwrap();
    wait_for_status(&driver, &id, "stopped").await;
    assert_eq!(driver.ps(&id).await.unwrap(), Vec::<i32>::new());
    let err = driver.kill(&id, 9, false).await.unwrap_err();
    assert_eq!(err.kind(), FailureKind::NotRunning, "{err}");
    assert_eq!(
        err.to_string(),
        format!("runtime runc: kill {id}: container not running")
    );
    let err = driver.pause(&id).await.unwrap_err();
    assert_eq!(err.kind(), FailureKind::NotRunning, "{err}");

    driver.delete(&id, false).await.unwrap();
    let err = driver.state(&id).await.unwrap_err();
    assert_eq!(err.kind(), FailureKind::NotFound, "{err}");
    let err = driver.kill(&id, 9, false).await.unwrap_err();
    assert_eq!(err.kind(), FailureKind::NotFound, "{err}");
    driver.delete(&id, true).await.unwrap();
    assert!(!cgroups::exists(&cgroups_path));
}
