//! Root tests: the real shim binary supervising real runc containers, driven through the
//! engine's client (`pouch_runtime::shim`). Skipped with a printed reason unless root with
//! runc and busybox-static installed.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{
    alive, demux, process_json, read_to_end, rollup_field, status_field, wait_for_file, wait_gone,
    Fixture, SHIM,
};
use pouch_runtime::shim::{read_exit_file, spawn_shim, ExitStatus, ShimClient, ShimError};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(30);

type Waiter = JoinHandle<Result<ExitStatus, ShimError>>;

/// Sends a wait request now, as the engine does before it starts the container.
async fn waiter(client: &ShimClient) -> Waiter {
    let client = client.clone();
    let waiter = tokio::spawn(async move { client.wait().await });
    // Let the request reach the shim before the test goes on.
    tokio::time::sleep(Duration::from_millis(200)).await;
    waiter
}

async fn wait_exit(waiter: Waiter) -> ExitStatus {
    tokio::time::timeout(WAIT, waiter)
        .await
        .expect("the container exits in time")
        .expect("wait task")
        .expect("wait answers")
}

#[tokio::test]
async fn echo_hello_is_logged_and_waited() {
    let Some(fx) = Fixture::new("echo", &["echo", "hello"], false) else {
        return;
    };
    let shim = spawn_shim(SHIM.as_ref(), &fx.spawn_args())
        .await
        .expect("shim reports the pid");
    assert!(shim.pid > 0 && shim.shim_pid > 0);
    let client = ShimClient::new(&fx.state);
    let state = client.state().await.expect("state");
    assert_eq!(state.pid, shim.pid);
    assert!(state.running);
    let waiting = waiter(&client).await;
    fx.start();
    let exit = wait_exit(waiting).await;
    assert_eq!(exit.exit_code, 0);
    assert!(!exit.oom_killed);
    assert!(exit.exited_at.ends_with('Z'), "{}", exit.exited_at);

    let log = std::fs::read_to_string(fx.log_path()).expect("log file");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert_eq!(lines[0]["log"], "hello\n");
    assert_eq!(lines[0]["stream"], "stdout");
    assert!(lines[0]["time"].as_str().is_some_and(|t| t.ends_with('Z')));

    assert_eq!(read_exit_file(&fx.state).expect("exit file"), Some(exit));
    assert!(
        wait_gone(shim.shim_pid, 10),
        "the shim exits after its container"
    );
    assert!(!fx.state.join("shim.sock").exists(), "shim.sock is removed");
}

#[tokio::test]
async fn exit_code_3_is_recorded_in_the_exit_file() {
    let Some(fx) = Fixture::new("exit3", &["sh", "-c", "echo bye >&2; exit 3"], false) else {
        return;
    };
    let shim = spawn_shim(SHIM.as_ref(), &fx.spawn_args())
        .await
        .expect("shim reports the pid");
    fx.start();
    assert!(wait_gone(shim.shim_pid, 30), "the shim exits");
    let exit = read_exit_file(&fx.state)
        .expect("exit file reads")
        .expect("exit file written");
    assert_eq!(exit.exit_code, 3);
    let log = std::fs::read_to_string(fx.log_path()).expect("log file");
    assert!(log.contains(r#""log":"bye\n","stream":"stderr""#), "{log}");
    // With the shim gone, the client says so and the exit file is the answer.
    let err = ShimClient::new(&fx.state)
        .wait()
        .await
        .expect_err("no shim");
    assert!(matches!(err, ShimError::Connect { .. }), "{err}");
}

#[tokio::test]
async fn attach_without_tty_gets_framed_output() {
    let Some(fx) = Fixture::new("attach", &["sh", "-c", "echo out; echo err >&2"], false) else {
        return;
    };
    spawn_shim(SHIM.as_ref(), &fx.spawn_args())
        .await
        .expect("shim reports the pid");
    let client = ShimClient::new(&fx.state);
    let stream = client.attach(false, true, true).await.expect("attach");
    let only_err = client.attach(false, false, true).await.expect("attach");
    let waiting = waiter(&client).await;
    fx.start();
    let (out, err) = demux(&read_to_end(stream, 30).await);
    assert_eq!(out, b"out\n");
    assert_eq!(err, b"err\n");
    let (out, err) = demux(&read_to_end(only_err, 30).await);
    assert!(out.is_empty());
    assert_eq!(err, b"err\n");
    assert_eq!(wait_exit(waiting).await.exit_code, 0);
}

#[tokio::test]
async fn tty_output_is_raw() {
    let Some(fx) = Fixture::new("tty", &["echo", "hi"], true) else {
        return;
    };
    let mut args = fx.spawn_args();
    args.tty = true;
    spawn_shim(SHIM.as_ref(), &args)
        .await
        .expect("shim reports the pid");
    assert!(
        !fx.state.join("console.sock").exists(),
        "console.sock is gone after create"
    );
    let client = ShimClient::new(&fx.state);
    client.resize(30, 100).await.expect("resize a tty");
    let stream = client.attach(false, true, true).await.expect("attach");
    let waiting = waiter(&client).await;
    fx.start();
    let out = read_to_end(stream, 30).await;
    assert_eq!(out, b"hi\r\n");
    assert_eq!(wait_exit(waiting).await.exit_code, 0);
    let log = std::fs::read_to_string(fx.log_path()).expect("log file");
    assert!(log.contains(r#""log":"hi\r\n","stream":"stdout""#), "{log}");
}

#[tokio::test]
async fn tty_sees_the_size_set_by_resize() {
    let Some(fx) = Fixture::new("ttysize", &["sh", "-c", "sleep 1; stty size"], true) else {
        return;
    };
    // busybox stty is not among the fixture's links: run it through busybox itself.
    std::os::unix::fs::symlink("busybox", fx.bundle.join("rootfs/bin/stty")).expect("link");
    let mut args = fx.spawn_args();
    args.tty = true;
    spawn_shim(SHIM.as_ref(), &args)
        .await
        .expect("shim reports the pid");
    let client = ShimClient::new(&fx.state);
    let stream = client.attach(false, true, false).await.expect("attach");
    fx.start();
    client.resize(33, 111).await.expect("resize");
    let out = read_to_end(stream, 30).await;
    assert_eq!(String::from_utf8_lossy(&out), "33 111\r\n");
}

#[tokio::test]
async fn stdin_through_attach_reaches_cat_and_half_close_ends_it() {
    let Some(fx) = Fixture::new("stdin", &["cat"], false) else {
        return;
    };
    let mut args = fx.spawn_args();
    args.stdin = true;
    args.stdin_once = true;
    spawn_shim(SHIM.as_ref(), &args)
        .await
        .expect("shim reports the pid");
    let client = ShimClient::new(&fx.state);
    let mut stream = client.attach(true, true, true).await.expect("attach");
    let waiting = waiter(&client).await;
    fx.start();
    stream.write_all(b"hello\n").await.expect("write stdin");
    stream.write_all(b"world\n").await.expect("write stdin");
    stream.shutdown().await.expect("half-close");
    let (out, err) = demux(&read_to_end(stream, 30).await);
    assert_eq!(out, b"hello\nworld\n");
    assert!(err.is_empty());
    assert_eq!(wait_exit(waiting).await.exit_code, 0);
}

#[tokio::test]
async fn close_stdin_ends_cat_without_stdin_once() {
    let Some(fx) = Fixture::new("closestdin", &["cat"], false) else {
        return;
    };
    let mut args = fx.spawn_args();
    args.stdin = true;
    spawn_shim(SHIM.as_ref(), &args)
        .await
        .expect("shim reports the pid");
    let client = ShimClient::new(&fx.state);
    let mut stream = client.attach(true, true, false).await.expect("attach");
    let waiting = waiter(&client).await;
    fx.start();
    stream.write_all(b"abc\n").await.expect("write stdin");
    // Without --stdin-once a half-close only detaches this client's input.
    stream.shutdown().await.expect("half-close");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        client.state().await.expect("state").running,
        "cat still runs"
    );
    client.close_stdin().await.expect("close stdin");
    let (out, _) = demux(&read_to_end(stream, 30).await);
    assert_eq!(out, b"abc\n");
    assert_eq!(wait_exit(waiting).await.exit_code, 0);
}

#[tokio::test]
async fn a_bad_runtime_path_is_reported() {
    let Some(fx) = Fixture::new("badruntime", &["true"], false) else {
        return;
    };
    let mut args = fx.spawn_args();
    args.runtime = "/nonexistent/runc".into();
    let err = spawn_shim(SHIM.as_ref(), &args)
        .await
        .expect_err("no runtime");
    let msg = err.to_string();
    assert!(matches!(err, ShimError::Create { .. }), "{msg}");
    assert!(
        msg.contains("runtime runc: cannot run /nonexistent/runc")
            && msg.contains(&format!("container {}", fx.id)),
        "{msg}"
    );
    assert!(!fx.state.join("shim.sock").exists());
}

#[tokio::test]
async fn a_failed_create_reports_the_runtimes_error() {
    let Some(fx) = Fixture::new("badcmd", &["/bin/no-such-program"], false) else {
        return;
    };
    let err = spawn_shim(SHIM.as_ref(), &fx.spawn_args())
        .await
        .expect_err("create fails");
    let msg = err.to_string();
    assert!(msg.contains("runtime runc: create failed:"), "{msg}");
    assert!(msg.contains("no-such-program"), "{msg}");
}

#[tokio::test]
async fn exec_output_waits_for_the_first_attacher() {
    let Some(fx) = Fixture::new("exec", &["sleep", "30"], false) else {
        return;
    };
    spawn_shim(SHIM.as_ref(), &fx.spawn_args())
        .await
        .expect("shim reports the pid");
    fx.start();
    let process = fx.dir.path().join("process.json");
    let spec = process_json(&["sh", "-c", "echo from-exec; echo oops >&2; exit 5"]);
    std::fs::write(&process, spec.to_string()).expect("write process.json");
    let mut args = fx.spawn_args();
    let exec_state = fx.state.join("exec").join("e1");
    args.state_dir = exec_state.clone();
    args.log = None;
    args.exec = Some(("e1".into(), process));
    let exec = spawn_shim(SHIM.as_ref(), &args)
        .await
        .expect("exec shim reports the pid");
    assert!(exec.pid > 0);
    // The exec has finished before anyone attached; its output is kept for the attacher.
    assert!(wait_for_file(&exec_state.join("exit"), 10));
    let client = ShimClient::new(&exec_state);
    let stream = client.attach(false, true, true).await.expect("attach");
    let (out, err) = demux(&read_to_end(stream, 30).await);
    assert_eq!(out, b"from-exec\n");
    assert_eq!(err, b"oops\n");
    let exit = read_exit_file(&exec_state)
        .expect("read")
        .expect("exit file");
    assert_eq!(exit.exit_code, 5);
    assert!(wait_gone(exec.shim_pid, 10), "the exec's shim exits");
    assert!(
        ShimClient::new(&fx.state)
            .state()
            .await
            .expect("state")
            .running,
        "the container still runs"
    );
}

#[tokio::test]
async fn a_killed_container_is_128_plus_the_signal() {
    let Some(fx) = Fixture::new("kill", &["sleep", "30"], false) else {
        return;
    };
    spawn_shim(SHIM.as_ref(), &fx.spawn_args())
        .await
        .expect("shim reports the pid");
    fx.start();
    let waiting = waiter(&ShimClient::new(&fx.state)).await;
    let out = fx.runc(&["kill", &fx.id, "KILL"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exit = wait_exit(waiting).await;
    assert_eq!(exit.exit_code, 137);
}

#[tokio::test]
async fn the_shim_outlives_the_process_that_spawned_it() {
    let Some(fx) = Fixture::new("detach", &["sleep", "30"], false) else {
        return;
    };
    std::fs::create_dir_all(&fx.state).expect("state dir");
    let report = fx.state.join("report");
    // A shell spawns the shim in the background and exits at once, as pouchd may.
    let args = fx.spawn_args().args();
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"shim="$1"; shift; "$shim" "$@" > "$REPORT" 2>> "$LOG" < /dev/null & echo $!"#)
        .arg("sh")
        .arg(SHIM)
        .args(&args)
        .env("REPORT", &report)
        .env("LOG", fx.state.join("shim.log"))
        .output()
        .expect("spawner runs");
    assert!(out.status.success());
    let shim_pid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("shim pid");
    let mut line = String::new();
    for _ in 0..600 {
        line = std::fs::read_to_string(&report).unwrap_or_default();
        if line.ends_with('\n') {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(line.starts_with("{\"pid\":"), "report: {line:?}");
    fx.start();
    assert!(alive(shim_pid), "the shim runs on without its spawner");
    let session = std::fs::read_to_string(format!("/proc/{shim_pid}/stat")).expect("stat");
    let fields: Vec<&str> = session
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        fields[3],
        shim_pid.to_string(),
        "the shim leads its own session"
    );
    let client = ShimClient::new(&fx.state);
    assert!(client.state().await.expect("state").running);

    // Memory of an idle shim with one running container (a debug build here).
    let field = |f| status_field(shim_pid, f).unwrap_or_else(|| "?".into());
    let rollup = |f| rollup_field(shim_pid, f).unwrap_or_else(|| "?".into());
    println!(
        "pouch-shim resident memory: VmRSS {} (RssAnon {}, RssFile {}); Pss {}, Private {} + {}",
        field("VmRSS"),
        field("RssAnon"),
        field("RssFile"),
        rollup("Pss"),
        rollup("Private_Clean"),
        rollup("Private_Dirty"),
    );

    let waiting = waiter(&client).await;
    let out = fx.runc(&["kill", &fx.id, "KILL"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(wait_exit(waiting).await.exit_code, 137);
    assert!(wait_gone(shim_pid, 10));
}

#[tokio::test]
async fn an_oom_kill_is_reported() {
    // 16 MiB of memory; the shell tries to hold 64 MB in a variable.
    let script = "a=$(head -c 64000000 /dev/zero | tr '\\0' a); echo ${#a}";
    let Some(fx) = Fixture::with_memory("oom", &["sh", "-c", script], false, Some(16 << 20)) else {
        return;
    };
    spawn_shim(SHIM.as_ref(), &fx.spawn_args())
        .await
        .expect("shim reports the pid");
    let waiting = waiter(&ShimClient::new(&fx.state)).await;
    fx.start();
    let exit = wait_exit(waiting).await;
    assert!(exit.oom_killed, "{exit:?}");
    assert_eq!(exit.exit_code, 137, "{exit:?}");
}

#[tokio::test]
async fn a_client_that_does_not_read_cannot_stall_the_container() {
    // 8 MB of output, more than the 4 MiB a client may fall behind.
    let script = "head -c 8000000 /dev/zero | tr '\\0' x";
    let Some(fx) = Fixture::new("slow", &["sh", "-c", script], false) else {
        return;
    };
    spawn_shim(SHIM.as_ref(), &fx.spawn_args())
        .await
        .expect("shim reports the pid");
    let client = ShimClient::new(&fx.state);
    let stalled = client.attach(false, true, true).await.expect("attach");
    let waiting = waiter(&client).await;
    fx.start();
    assert_eq!(wait_exit(waiting).await.exit_code, 0);
    drop(stalled);
    let log = std::fs::read_to_string(fx.log_path()).expect("log file");
    let logged: usize = log
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            v["log"].as_str().map_or(0, str::len)
        })
        .sum();
    assert_eq!(logged, 8_000_000, "every byte is logged");
}

#[tokio::test]
async fn tty_stdin_is_echoed_and_close_stdin_ends_input() {
    let Some(fx) = Fixture::new("ttystdin", &["cat"], true) else {
        return;
    };
    let mut args = fx.spawn_args();
    args.tty = true;
    args.stdin = true;
    spawn_shim(SHIM.as_ref(), &args)
        .await
        .expect("shim reports the pid");
    let client = ShimClient::new(&fx.state);
    let mut stream = client.attach(true, true, false).await.expect("attach");
    let waiting = waiter(&client).await;
    fx.start();
    stream.write_all(b"abc\n").await.expect("write stdin");
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.close_stdin().await.expect("close stdin");
    let out = read_to_end(stream, 30).await;
    // The terminal echoes the line, then cat prints it.
    assert_eq!(String::from_utf8_lossy(&out), "abc\r\nabc\r\n");
    assert_eq!(wait_exit(waiting).await.exit_code, 0);
}

#[tokio::test]
async fn a_tty_exec_with_a_long_state_dir_path_works() {
    let Some(fx) = Fixture::new("longexec", &["sleep", "30"], false) else {
        return;
    };
    spawn_shim(SHIM.as_ref(), &fx.spawn_args())
        .await
        .expect("shim reports the pid");
    fx.start();
    let mut spec = process_json(&["sh", "-c", "sleep 0.5; echo tty-exec"]);
    spec["terminal"] = true.into();
    let process = fx.dir.path().join("process.json");
    std::fs::write(&process, spec.to_string()).expect("write process.json");
    // Docker-style 64-character exec id: the socket paths pass the 107 bytes of sun_path.
    let exec_id = "0123456789abcdef".repeat(4);
    let exec_state = fx.state.join("exec").join(&exec_id);
    assert!(exec_state.join("console.sock").as_os_str().len() > 107);
    let mut args = fx.spawn_args();
    args.state_dir = exec_state.clone();
    args.log = None;
    args.tty = true;
    args.exec = Some((exec_id, process));
    spawn_shim(SHIM.as_ref(), &args)
        .await
        .expect("exec shim reports the pid");
    let client = ShimClient::new(&exec_state);
    let stream = client.attach(false, true, false).await.expect("attach");
    let waiting = waiter(&client).await;
    let out = read_to_end(stream, 30).await;
    assert_eq!(String::from_utf8_lossy(&out), "tty-exec\r\n");
    assert_eq!(wait_exit(waiting).await.exit_code, 0);
}

#[tokio::test]
async fn a_runtime_that_hangs_is_killed_at_the_timeout() {
    let Some(fx) = Fixture::new("hang", &["true"], false) else {
        return;
    };
    // A runtime that never finishes create, with a child in its process group.
    let runtime = fx.dir.path().join("hanging-runtime");
    let child_pid = fx.dir.path().join("child.pid");
    let script = format!(
        "#!/bin/sh\nsleep 100 &\necho $! > {}\nwait\n",
        child_pid.display()
    );
    std::fs::write(&runtime, script).expect("write script");
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let mut args = fx.spawn_args();
    args.runtime = runtime;
    args.create_timeout = Duration::from_secs(1);
    let started = std::time::Instant::now();
    let err = spawn_shim(SHIM.as_ref(), &args)
        .await
        .expect_err("times out");
    let msg = err.to_string();
    assert!(
        msg.contains("runtime runc did not finish create within 1 s"),
        "{msg}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let pid: u32 = std::fs::read_to_string(&child_pid)
        .expect("child pid")
        .trim()
        .parse()
        .expect("pid");
    assert!(wait_gone(pid, 5), "the runtime's process group is killed");
}
