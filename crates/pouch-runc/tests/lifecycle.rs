//! The runtime against the real kernel, as pouch-shim and pouchd drive it: a busybox bundle
//! goes through create → start → exec → ps → pause/resume → update → kill → delete, and a
//! seccomp profile must really block a syscall. Needs root (namespaces, cgroups); skipped with
//! a message otherwise.

use std::fs::File;
use std::io::{IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use serde_json::{json, Value};

const RUNTIME: &str = env!("CARGO_BIN_EXE_pouch-runc");

/// Why this host cannot run the tests, if it cannot.
fn skip_reason() -> Option<String> {
    let euid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if euid != 0 {
        return Some(format!("needs root (euid {euid})"));
    }
    if !Path::new("/bin/busybox").is_file() {
        return Some("needs a static /bin/busybox (busybox-static)".to_string());
    }
    None
}

macro_rules! require_root {
    () => {
        if let Some(reason) = skip_reason() {
            eprintln!("skipping: {reason}");
            return;
        }
    };
}

/// A temp dir with the runtime's root, the bundle and the log; deletes the container at drop.
struct Fixture {
    dir: tempfile::TempDir,
    id: String,
    calls: AtomicUsize,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = format!("prt-{}-{name}", std::process::id());
        Fixture {
            dir,
            id,
            calls: AtomicUsize::new(0),
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("runtime.log")
    }

    fn cgroups_path(&self) -> String {
        format!("/pouch-runc-test/{}", self.id)
    }

    /// Writes rootfs/ (busybox and its applets) and config.json running `args`.
    fn write_bundle(&self, args: &[&str], edit: impl FnOnce(&mut Value)) {
        let bin = self.bundle().join("rootfs/bin");
        std::fs::create_dir_all(&bin).expect("mkdir rootfs/bin");
        std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copy busybox");
        for applet in ["sh", "echo", "sleep", "cat", "mkdir"] {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("symlink");
        }
        let mut spec = spec(args, &self.cgroups_path());
        edit(&mut spec);
        std::fs::write(
            self.bundle().join("config.json"),
            serde_json::to_vec_pretty(&spec).expect("json"),
        )
        .expect("write config.json");
    }

    /// `pouch-runc --root R --log L --log-format json <args>` with stdin empty; stdout and
    /// stderr go to fresh files (not pipes: a created container keeps the runtime's stdio open,
    /// so a pipe would never see EOF) and are read back when the runtime exits.
    fn runtime(&self, args: &[&str]) -> Output {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let out = self.dir.path().join(format!("call{n}.out"));
        let err = self.dir.path().join(format!("call{n}.err"));
        let status = Command::new(RUNTIME)
            .arg("--root")
            .arg(self.root())
            .arg("--log")
            .arg(self.log())
            .args(["--log-format", "json"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&out).expect("stdout file"))
            .stderr(File::create(&err).expect("stderr file"))
            .status()
            .expect("run pouch-runc");
        Output {
            status,
            stdout: std::fs::read(&out).expect("stdout"),
            stderr: std::fs::read(&err).expect("stderr"),
        }
    }

    /// The same with the given stdio (a container's or an exec's output files).
    fn runtime_with(
        &self,
        args: &[&str],
        stdout: &Path,
        stderr: &Path,
    ) -> std::process::ExitStatus {
        Command::new(RUNTIME)
            .arg("--root")
            .arg(self.root())
            .arg("--log")
            .arg(self.log())
            .args(["--log-format", "json"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(stdout).expect("stdout file"))
            .stderr(File::create(stderr).expect("stderr file"))
            .status()
            .expect("run pouch-runc")
    }

    /// Runs a command that must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.runtime(args);
        assert!(
            out.status.success(),
            "pouch-runc {args:?} failed with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn state(&self) -> Value {
        serde_json::from_str(&self.ok(&["state", &self.id])).expect("state is JSON")
    }

    fn wait_status(&self, want: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = self.state();
            if state["status"] == want {
                return state;
            }
            assert!(
                Instant::now() < deadline,
                "status never became {want}: {state}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if self.root().join(&self.id).exists() {
            let _ = self.runtime(&["delete", "--force", &self.id]);
        }
    }
}

/// A config.json like `runc spec`'s, with `terminal` false and our cgroups path.
fn spec(args: &[&str], cgroups_path: &str) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "pouch-runc",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "nodev", "mode=1777"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] }
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }
            ],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// Polls a file until it holds `text`.
fn wait_for_text(path: &Path, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = std::fs::read_to_string(path).unwrap_or_default();
        if got.contains(text) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{} never held {text:?}: {got:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A file of the container's cgroup for `controller` (v1) or in the unified tree (v2).
fn cgroup_file(controller: &str, cgroups_path: &str, v1: &str, v2: &str) -> PathBuf {
    let rel = cgroups_path.trim_start_matches('/');
    let v1_dir = Path::new("/sys/fs/cgroup").join(controller);
    if v1_dir.is_dir() {
        v1_dir.join(rel).join(v1)
    } else {
        Path::new("/sys/fs/cgroup").join(rel).join(v2)
    }
}

#[test]
fn a_container_runs_with_its_stdio_and_exits() {
    require_root!();
    let fx = Fixture::new("hi");
    fx.write_bundle(&["sh", "-c", "echo hi; echo oops >&2"], |_| {});
    let (out_path, err_path) = (fx.dir.path().join("out"), fx.dir.path().join("err"));
    let pid_file = fx.dir.path().join("pid");
    let bundle = fx.bundle().display().to_string();
    let created = fx.runtime_with(
        &[
            "create",
            "--bundle",
            &bundle,
            "--pid-file",
            &pid_file.display().to_string(),
            &fx.id,
        ],
        &out_path,
        &err_path,
    );
    assert!(
        created.success(),
        "create: {}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );

    let state = fx.state();
    assert_eq!(state["status"], "created", "{state}");
    assert_eq!(state["id"], fx.id.as_str());
    let pid: i64 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert_eq!(state["pid"], pid);
    assert_eq!(state["bundle"], bundle.as_str());
    assert_eq!(state["rootfs"], format!("{bundle}/rootfs").as_str());
    assert!(
        state["created"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{state}"
    );
    assert!(state["ociVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("1.")));
    assert!(state.get("owner").is_some());
    // nothing runs before start
    assert_eq!(std::fs::read_to_string(&out_path).expect("out"), "");

    fx.ok(&["start", &fx.id]);
    wait_for_text(&out_path, "hi\n");
    wait_for_text(&err_path, "oops\n");
    let state = fx.wait_status("stopped");
    assert_eq!(state["pid"], 0, "{state}");

    // start again: the container is stopped, which pouchd's driver reads as not running
    let again = fx.runtime(&["start", &fx.id]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("is stopped"));

    fx.ok(&["delete", &fx.id]);
    assert!(!fx.root().join(&fx.id).exists());
    assert!(
        !cgroup_file("pids", &fx.cgroups_path(), "", "").exists(),
        "cgroup left behind"
    );
}

#[test]
fn a_running_container_is_exec_ps_paused_updated_killed_and_deleted() {
    require_root!();
    let fx = Fixture::new("sleep");
    fx.write_bundle(&["sleep", "100"], |_| {});
    let bundle = fx.bundle().display().to_string();
    fx.ok(&[
        "create",
        "--bundle",
        &bundle,
        "--pid-file",
        &fx.dir.path().join("pid").display().to_string(),
        &fx.id,
    ]);
    fx.ok(&["start", &fx.id]);
    let state = fx.wait_status("running");
    let init = state["pid"].as_i64().expect("pid");
    assert!(init > 0);

    // exec as pouch-shim does it: process.json, --detach, a pid file; stdio passed through
    let process = json!({
        "terminal": false,
        "user": { "uid": 0, "gid": 0 },
        "args": ["sh", "-c", "echo x; exec sleep 100"],
        "env": ["PATH=/bin"],
        "cwd": "/"
    });
    let process_path = fx.dir.path().join("process.json");
    std::fs::write(&process_path, process.to_string()).expect("process.json");
    let exec_pid_path = fx.dir.path().join("exec.pid");
    let exec_out = fx.dir.path().join("exec.out");
    let exec_err = fx.dir.path().join("exec.err");
    let exec = fx.runtime_with(
        &[
            "exec",
            "--process",
            &process_path.display().to_string(),
            "--detach",
            "--pid-file",
            &exec_pid_path.display().to_string(),
            &fx.id,
        ],
        &exec_out,
        &exec_err,
    );
    assert!(
        exec.success(),
        "exec: {}",
        std::fs::read_to_string(&exec_err).unwrap_or_default()
    );
    wait_for_text(&exec_out, "x\n");
    let exec_pid: i64 = std::fs::read_to_string(&exec_pid_path)
        .expect("exec pid file")
        .trim()
        .parse()
        .expect("exec pid");

    // ps --format json: a JSON array with both processes
    let pids: Vec<i64> =
        serde_json::from_str(&fx.ok(&["ps", "--format", "json", &fx.id])).expect("ps json");
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(
        pids.contains(&init) && pids.contains(&exec_pid),
        "{pids:?} vs {init} {exec_pid}"
    );

    // pause / resume, seen in the state and in the freezer
    fx.ok(&["pause", &fx.id]);
    assert_eq!(fx.state()["status"], "paused");
    let freezer = cgroup_file(
        "freezer",
        &fx.cgroups_path(),
        "freezer.state",
        "cgroup.freeze",
    );
    let frozen = std::fs::read_to_string(&freezer)
        .expect("freezer")
        .trim()
        .to_string();
    assert!(frozen == "FROZEN" || frozen == "1", "{frozen}");
    let again = fx.runtime(&["pause", &fx.id]);
    assert!(!again.status.success());
    fx.ok(&["resume", &fx.id]);
    assert_eq!(fx.state()["status"], "running");
    let again = fx.runtime(&["resume", &fx.id]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not paused"));

    // update --resources - with OCI LinuxResources on stdin
    let limit = 64u64 << 20;
    let mut update = Command::new(RUNTIME)
        .arg("--root")
        .arg(fx.root())
        .args(["update", "--resources", "-", &fx.id])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn update");
    {
        use std::io::Write;
        let mut stdin = update.stdin.take().expect("stdin");
        stdin
            .write_all(
                json!({ "memory": { "limit": limit } })
                    .to_string()
                    .as_bytes(),
            )
            .expect("write resources");
    }
    let updated = update.wait_with_output().expect("update");
    assert!(
        updated.status.success(),
        "update: {}",
        String::from_utf8_lossy(&updated.stderr)
    );
    let memory = cgroup_file(
        "memory",
        &fx.cgroups_path(),
        "memory.limit_in_bytes",
        "memory.max",
    );
    let got = std::fs::read_to_string(&memory).expect("memory limit");
    assert_eq!(got.trim(), limit.to_string(), "{}", memory.display());
    // the short form, -r, from a file
    let resources = fx.dir.path().join("resources.json");
    std::fs::write(
        &resources,
        json!({ "memory": { "limit": limit * 2 } }).to_string(),
    )
    .expect("write");
    fx.ok(&["update", "-r", &resources.display().to_string(), &fx.id]);
    let got = std::fs::read_to_string(&memory).expect("memory limit");
    assert_eq!(got.trim(), (limit * 2).to_string());

    // a running container is not deleted without --force
    let refused = fx.runtime(&["delete", &fx.id]);
    assert!(!refused.status.success());

    fx.ok(&["kill", &fx.id, "SIGKILL"]);
    let state = fx.wait_status("stopped");
    assert_eq!(state["pid"], 0);
    let killed = fx.runtime(&["kill", &fx.id, "KILL"]);
    assert!(String::from_utf8_lossy(&killed.stderr).contains("is not running"));
    fx.ok(&["delete", &fx.id]);
    assert!(!fx.root().join(&fx.id).exists());
    assert!(!memory.exists(), "memory cgroup left behind");
    // the exec'd sleep was in the container's pid namespace, so it died with the init
    assert!(
        !Path::new(&format!("/proc/{exec_pid}/cmdline")).exists() || {
            let stat =
                std::fs::read_to_string(format!("/proc/{exec_pid}/stat")).unwrap_or_default();
            stat.contains(") Z ")
        }
    );
}

/// Receives the fd a runtime sent on a console socket (what pouch-shim does with `--tty`).
fn receive_fd(listener: &UnixListener) -> OwnedFd {
    let (conn, _) = listener.accept().expect("accept the runtime's connection");
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut name = [0u8; 1024];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [IoSliceMut::new(&mut name)];
    rustix::net::recvmsg(&conn, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC).expect("recvmsg");
    let mut fds = control.drain().filter_map(|message| match message {
        RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
        _ => None,
    });
    fds.next().expect("an fd in SCM_RIGHTS")
}

#[test]
fn a_terminal_container_sends_its_pty_master_to_the_console_socket() {
    require_root!();
    let fx = Fixture::new("tty");
    fx.write_bundle(&["sh", "-c", "tty; echo tty-ok"], |spec| {
        spec["process"]["terminal"] = json!(true);
    });
    let socket = fx.dir.path().join("console.sock");
    let listener = UnixListener::bind(&socket).expect("bind the console socket");
    // the runtime connects, sends the master and exits; the connection waits in the backlog
    fx.ok(&[
        "create",
        "--bundle",
        &fx.bundle().display().to_string(),
        "--console-socket",
        &socket.display().to_string(),
        &fx.id,
    ]);
    let mut master = File::from(receive_fd(&listener));
    fx.ok(&["start", &fx.id]);
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    // reading the master fails with EIO once the container closed the terminal
    while let Ok(n @ 1..) = master.read(&mut buf) {
        seen.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&seen).contains("tty-ok") {
            break;
        }
    }
    let seen = String::from_utf8_lossy(&seen);
    assert!(
        seen.contains("/dev/pts/0\r\n") && seen.contains("tty-ok\r\n"),
        "{seen:?}"
    );
    fx.wait_status("stopped");
    fx.ok(&["delete", &fx.id]);
}

#[test]
fn seccomp_blocks_what_the_profile_denies() {
    require_root!();
    let script = "mkdir /tmp/x && echo made || echo blocked";
    let run = |name: &str, seccomp: Option<Value>| -> String {
        let fx = Fixture::new(name);
        fx.write_bundle(&["sh", "-c", script], |spec| {
            if let Some(seccomp) = seccomp {
                spec["linux"]["seccomp"] = seccomp;
            }
        });
        let out = fx.runtime(&[
            "run",
            "--bundle",
            &fx.bundle().display().to_string(),
            &fx.id,
        ]);
        assert!(
            out.status.success(),
            "run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !fx.root().join(&fx.id).exists(),
            "run left its state behind"
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(run("open", None), "made\n");
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }]
    });
    assert_eq!(run("seccomp", Some(profile)), "blocked\n");
}

#[test]
fn errors_go_to_stderr_and_to_the_json_log() {
    require_root!();
    let fx = Fixture::new("missing");
    let out = fx.runtime(&["kill", &fx.id, "TERM"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not exist"), "{stderr}");
    let log = std::fs::read_to_string(fx.log()).expect("log");
    let last: Value =
        serde_json::from_str(log.lines().last().expect("a log line")).expect("json line");
    assert_eq!(last["level"], "error");
    assert!(
        last["msg"]
            .as_str()
            .is_some_and(|m| m.contains(&fx.id) && m.contains("does not exist")),
        "{last}"
    );
    assert!(last["time"].is_string());

    // a bundle whose command does not exist: the create fails and names the command
    fx.write_bundle(&["no-such-command"], |_| {});
    let out = fx.runtime(&[
        "create",
        "--bundle",
        &fx.bundle().display().to_string(),
        &fx.id,
    ]);
    assert!(!out.status.success());
    let log = std::fs::read_to_string(fx.log()).expect("log");
    let last: Value =
        serde_json::from_str(log.lines().last().expect("a log line")).expect("json line");
    assert!(
        last["msg"]
            .as_str()
            .is_some_and(|m| m.contains("no-such-command")),
        "{last}"
    );
    assert!(
        !fx.root().join(&fx.id).exists(),
        "a failed create left state behind"
    );

    // delete --force of a container that does not exist succeeds, as with runc
    fx.ok(&["delete", "--force", &fx.id]);
    let version = Command::new(RUNTIME)
        .arg("--version")
        .output()
        .expect("version");
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("pouch-runc version"));
}
