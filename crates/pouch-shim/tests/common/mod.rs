//! Fixtures for the shim's root tests: a busybox bundle with a config.json of our own, a runc
//! root and a state dir in a temp dir, and helpers to read Docker's multiplexed stream.
//! Tests skip (with the reason printed) unless run as root with runc and busybox installed.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use pouch_runtime::shim::{LogOptions, ShimSpawn};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::io::AsyncReadExt;

pub const RUNC: &str = "/usr/sbin/runc";
pub const BUSYBOX: &str = "/bin/busybox";
pub const SHIM: &str = env!("CARGO_BIN_EXE_pouch-shim");

/// Why the root tests cannot run here, if they cannot.
pub fn skip_reason() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("not root".into());
    }
    for bin in [RUNC, BUSYBOX] {
        if !Path::new(bin).exists() {
            return Some(format!("{bin} is missing"));
        }
    }
    None
}

/// A container bundle, runc root and shim state dir in one temp dir; the container is
/// force-deleted when dropped.
pub struct Fixture {
    pub dir: TempDir,
    pub id: String,
    pub root: PathBuf,
    pub bundle: PathBuf,
    pub state: PathBuf,
}

impl Fixture {
    /// A bundle running `args` (with a terminal when `tty`), or None (printed) when skipped.
    pub fn new(name: &str, args: &[&str], tty: bool) -> Option<Fixture> {
        Fixture::with_memory(name, args, tty, None)
    }

    pub fn with_memory(
        name: &str,
        args: &[&str],
        tty: bool,
        memory: Option<u64>,
    ) -> Option<Fixture> {
        if let Some(reason) = skip_reason() {
            eprintln!("skipping {name}: {reason}");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let id = format!("shimtest-{name}-{}", std::process::id());
        let bundle = dir.path().join("bundle");
        let bin = bundle.join("rootfs/bin");
        std::fs::create_dir_all(&bin).expect("mkdir rootfs/bin");
        std::fs::copy(BUSYBOX, bin.join("busybox")).expect("copy busybox");
        for tool in ["sh", "echo", "cat", "sleep", "head", "tr", "true"] {
            std::os::unix::fs::symlink("busybox", bin.join(tool)).expect("symlink");
        }
        let config = config(&id, args, tty, memory);
        std::fs::write(
            bundle.join("config.json"),
            serde_json::to_vec_pretty(&config).expect("json"),
        )
        .expect("write config.json");
        let root = dir.path().join("runc-root");
        let state = dir.path().join("state").join(&id);
        Some(Fixture {
            id,
            root,
            bundle,
            state,
            dir,
        })
    }

    /// Spawn arguments for this container: no tty, no stdin, a json-file log.
    pub fn spawn_args(&self) -> ShimSpawn {
        ShimSpawn {
            id: self.id.clone(),
            runtime: RUNC.into(),
            runtime_name: "runc".into(),
            runtime_root: self.root.clone(),
            bundle: self.bundle.clone(),
            state_dir: self.state.clone(),
            tty: false,
            stdin: false,
            stdin_once: false,
            log: Some(LogOptions {
                path: self.log_path(),
                max_size: None,
                max_file: 1,
            }),
            cgroup_path: Some(cgroup_path(&self.id)),
            exec: None,
            create_timeout: Duration::from_secs(30),
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.state.join(format!("{}-json.log", self.id))
    }

    /// Runs runc with this fixture's root.
    pub fn runc(&self, args: &[&str]) -> Output {
        Command::new(RUNC)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .output()
            .expect("run runc")
    }

    /// `runc start`, asserting success.
    pub fn start(&self) {
        let out = self.runc(&["start", &self.id]);
        assert!(
            out.status.success(),
            "runc start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.runc(&["delete", "--force", &self.id]);
        // The parent cgroup, once no test uses it any more.
        if let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") {
            for controller in controllers.flatten() {
                let _ = std::fs::remove_dir(controller.path().join("pouch-shim-test"));
            }
        }
    }
}

fn cgroup_path(id: &str) -> String {
    format!("/pouch-shim-test/{id}")
}

/// A minimal OCI config in the shape `runc spec` writes.
fn config(id: &str, args: &[&str], tty: bool, memory: Option<u64>) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut resources = json!({"devices": [{"allow": false, "access": "rwm"}]});
    if let Some(limit) = memory {
        resources["memory"] = json!({"limit": limit, "swap": limit});
    }
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": tty,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "shimtest",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "cgroupsPath": cgroup_path(id),
            "resources": resources,
            "namespaces": [
                {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
            ]
        }
    })
}

/// A process.json for `runc exec`.
pub fn process_json(args: &[&str]) -> Value {
    json!({
        "terminal": false,
        "user": {"uid": 0, "gid": 0},
        "args": args,
        "env": ["PATH=/bin"],
        "cwd": "/"
    })
}

/// Reads a stream to its end, failing the test after `secs`.
pub async fn read_to_end<R: AsyncReadExt + Unpin>(mut stream: R, secs: u64) -> Vec<u8> {
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(secs), stream.read_to_end(&mut all))
        .await
        .expect("stream ends in time")
        .expect("read stream");
    all
}

/// Splits Docker's multiplexed stream into stdout and stderr.
pub fn demux(mut data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while !data.is_empty() {
        assert!(data.len() >= 8, "truncated frame header: {data:?}");
        let len = u32::from_be_bytes([data[4], data[5], data[6], data[7]]) as usize;
        assert_eq!(&data[1..4], &[0, 0, 0], "frame header");
        let payload = &data[8..8 + len];
        match data[0] {
            1 => out.extend_from_slice(payload),
            2 => err.extend_from_slice(payload),
            s => panic!("unexpected stream {s}"),
        }
        data = &data[8 + len..];
    }
    (out, err)
}

/// Waits until `path` exists (a shim's exit file, a report), up to `secs`.
pub fn wait_for_file(path: &Path, secs: u64) -> bool {
    for _ in 0..secs * 20 {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Whether process `pid` is still there (and not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}

/// Waits until process `pid` is gone, up to `secs`.
pub fn wait_gone(pid: u32, secs: u64) -> bool {
    for _ in 0..secs * 20 {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A field of /proc/<pid>/status (e.g. `VmRSS:  1234 kB`).
pub fn status_field(pid: u32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .map(|l| l[field.len() + 1..].trim().to_owned())
}

/// A field of /proc/<pid>/smaps_rollup (e.g. `Pss:  123 kB`).
pub fn rollup_field(pid: u32, field: &str) -> Option<String> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    rollup
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .map(|l| l[field.len() + 1..].trim().to_owned())
}
