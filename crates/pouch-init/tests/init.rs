//! Runs the built `pouch-init` binary: exit codes, signal mask of the child, forwarding,
//! zombie reaping, and (as root) PID 1 of a pid namespace and a static link in an empty chroot.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const INIT: &str = env!("CARGO_BIN_EXE_pouch-init");

fn run(args: &[&str]) -> Output {
    Command::new(INIT)
        .args(args)
        .output()
        .expect("run pouch-init")
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Starts `pouch-init -- sh -c script` and waits for the script to print `ready`.
fn start_ready(script: &str) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(INIT)
        .args(["--", "sh", "-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn pouch-init");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    (child, out)
}

fn send(child: &Child, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_child(child);
    rustix::process::kill_process(pid, signal).unwrap();
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("pouch-init did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn exits_with_the_child_code() {
    assert_eq!(run(&["--", "sh", "-c", "exit 7"]).status.code(), Some(7));
    assert_eq!(run(&["--", "true"]).status.code(), Some(0));
}

#[test]
fn exits_128_plus_the_signal_that_killed_the_child() {
    assert_eq!(
        run(&["--", "sh", "-c", "kill -KILL $$"]).status.code(),
        Some(137)
    );
}

#[test]
fn the_child_starts_with_no_blocked_or_ignored_signals() {
    let out = run(&["--", "cat", "/proc/self/status"]);
    assert!(out.status.success());
    let status = String::from_utf8(out.stdout).unwrap();
    let mask = |name: &str| {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {status}"));
        u64::from_str_radix(line[name.len()..].trim(), 16).unwrap()
    };
    assert_eq!(mask("SigBlk:"), 0, "blocked signals in the child");
    // glibc's posix_spawn ignores its two internal signals (32, 33); no standard signal and
    // no signal from SIGRTMIN (34) on may be ignored
    assert_eq!(
        mask("SigIgn:") & !0x1_8000_0000,
        0,
        "ignored signals in the child"
    );
}

#[test]
fn a_command_that_cannot_run_exits_127_or_126() {
    let out = run(&["--", "/nonexistent/cmd"]);
    assert_eq!(out.status.code(), Some(127));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("pouch-init: cannot run /nonexistent/cmd: "),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("script");
    std::fs::write(&file, "#!/bin/sh\necho hi\n").unwrap();
    let out = run(&["--", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(126), "{out:?}");
}

#[test]
fn usage_errors_exit_2() {
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no command given"));
    let out = run(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("pouch-init "));
}

#[test]
fn sigterm_to_pouch_init_reaches_the_child() {
    let (mut child, _out) =
        start_ready("trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done");
    send(&child, rustix::process::Signal::TERM);
    let status = wait_with_timeout(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(42));
}

#[test]
fn real_time_signals_are_forwarded() {
    // 37 is SIGRTMIN+3 with glibc (systemd's stop signal)
    let (mut child, _out) =
        start_ready("trap 'exit 43' 37; echo ready; while :; do sleep 0.05; done");
    let pid = rustix::process::Pid::from_child(&child);
    let status = Command::new("kill")
        .args(["-s", "37", &pid.as_raw_nonzero().to_string()])
        .status()
        .or_else(|_| {
            Command::new("sh")
                .args(["-c", &format!("kill -37 {}", pid.as_raw_nonzero())])
                .status()
        })
        .unwrap();
    assert!(status.success());
    assert_eq!(
        wait_with_timeout(&mut child, Duration::from_secs(10)).code(),
        Some(43)
    );
}

/// Pids of the children of `pid` whose state is `Z` (zombie) or any state, from /proc.
fn children_of(pid: u32) -> Vec<(u32, char)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            found.push((child, fields[0].chars().next().unwrap_or('?')));
        }
    }
    found
}

#[test]
fn orphans_are_adopted_and_reaped() {
    // the subshell exits at once, its `sleep 0.3` is orphaned: pouch-init (a subreaper) adopts
    // it and must reap it when it exits; the main child outlives it
    let (mut child, _out) = start_ready("(sleep 0.3 &); echo ready; sleep 3");
    let init = child.id();
    let adopted = children_of(init);
    assert!(
        adopted.len() >= 2,
        "the orphan was not reparented to pouch-init: {adopted:?}"
    );
    std::thread::sleep(Duration::from_millis(1200));
    let left = children_of(init);
    assert_eq!(
        left.len(),
        1,
        "children of pouch-init after 1.2 s: {left:?}"
    );
    assert_ne!(left[0].1, 'Z');
    send(&child, rustix::process::Signal::KILL);
    let _ = child.wait();
}

#[test]
fn as_pid_1_of_a_pid_namespace_it_forwards_and_reaps() {
    if !is_root() {
        println!("skipped: needs root for a pid namespace");
        return;
    }
    // `kill -TERM 1` from inside the namespace: PID 1 gets signals only when it handles them
    // (here: blocked and read from a signalfd); the orphan `sleep` must be reaped by PID 1
    let script = "trap 'exit 42' TERM; (sleep 0.1 &); sleep 0.5; \
                  for s in /proc/[0-9]*/stat; do read -r line < $s; \
                  case \"$line\" in *') Z '*) echo zombie: $line; exit 3;; esac; done; \
                  kill -TERM 1; while :; do sleep 0.05; done";
    let out = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            INIT,
            "--",
            "sh",
            "-c",
            script,
        ])
        .output()
        .expect("run unshare");
    assert_eq!(
        out.status.code(),
        Some(42),
        "stdout: {} stderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn it_is_static_and_runs_in_an_empty_chroot() {
    if !is_root() {
        println!("skipped: needs root for chroot");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("pouch-init");
    std::fs::copy(INIT, &target).unwrap();
    assert!(Path::new(&target).exists());
    let out = Command::new("chroot")
        .arg(dir.path())
        .args(["/pouch-init", "--", "/pouch-init", "--version"])
        .output()
        .expect("run chroot");
    assert!(
        out.status.success(),
        "pouch-init does not run without a libc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("pouch-init "));
}
