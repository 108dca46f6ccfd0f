//! Starting a `pouch-shim` so that it outlives the daemon: its command line, its stdio (stdin
//! /dev/null, the report pipe on stdout, `shim.log` as stderr) and the one-line report read back.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::protocol::{SpawnReport, SHIM_LOG_FILE};
use super::ShimError;

/// How long past its own create timeout a shim may take to report before it is killed.
const REPORT_GRACE: Duration = Duration::from_secs(15);

/// The json-file log options of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    pub path: PathBuf,
    /// Rotate when the file would grow past this size.
    pub max_size: Option<u64>,
    /// How many files to keep, the current one included (at least 1).
    pub max_file: u32,
}

/// Everything a shim is started with (see the contract's invocation).
#[derive(Debug, Clone)]
pub struct ShimSpawn {
    pub id: String,
    pub runtime: PathBuf,
    pub runtime_name: String,
    pub runtime_root: PathBuf,
    pub bundle: PathBuf,
    pub state_dir: PathBuf,
    pub tty: bool,
    pub stdin: bool,
    pub stdin_once: bool,
    pub log: Option<LogOptions>,
    /// The container's cgroup path under the controllers, for OOM detection.
    pub cgroup_path: Option<String>,
    /// Exec mode: the exec id and its process.json.
    pub exec: Option<(String, PathBuf)>,
    pub create_timeout: Duration,
}

/// A shim that reported success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpawnedShim {
    /// The container's (or exec's) process.
    pub pid: u32,
    /// The shim itself.
    pub shim_pid: u32,
}

impl ShimSpawn {
    /// What the shim's messages call this process.
    pub fn subject(&self) -> String {
        match &self.exec {
            Some((exec_id, _)) => format!("exec {exec_id} of container {}", self.id),
            None => format!("container {}", self.id),
        }
    }

    /// The shim's command line, without the program.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::with_capacity(32);
        let mut push = |flag: &str, value: OsString| {
            args.push(flag.into());
            args.push(value);
        };
        push("--id", self.id.clone().into());
        push("--runtime", self.runtime.clone().into());
        push("--runtime-name", self.runtime_name.clone().into());
        push("--runtime-root", self.runtime_root.clone().into());
        push("--bundle", self.bundle.clone().into());
        push("--state-dir", self.state_dir.clone().into());
        if let Some(log) = &self.log {
            push("--log-path", log.path.clone().into());
            if let Some(size) = log.max_size {
                push("--log-max-size", size.to_string().into());
            }
            push("--log-max-file", log.max_file.max(1).to_string().into());
        }
        if let Some(cgroup) = &self.cgroup_path {
            push("--cgroup-path", cgroup.clone().into());
        }
        if let Some((exec_id, process)) = &self.exec {
            push("--exec-id", exec_id.clone().into());
            push("--process", process.clone().into());
        }
        let secs = self.create_timeout.as_secs().max(1);
        push("--create-timeout", secs.to_string().into());
        for (on, flag) in [
            (self.tty, "--tty"),
            (self.stdin, "--stdin"),
            (self.stdin_once, "--stdin-once"),
        ] {
            if on {
                args.push(flag.into());
            }
        }
        args
    }
}

/// Spawns the shim, waits for its one-line report and returns the pid of the container's
/// process, or the shim's error message. The shim runs on after the daemon exits; while the
/// daemon lives, a background task reaps it.
pub async fn spawn_shim(shim_bin: &Path, args: &ShimSpawn) -> Result<SpawnedShim, ShimError> {
    let subject = args.subject();
    let state_err = |path: &Path, source| ShimError::StateDir {
        subject: subject.clone(),
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(&args.state_dir).map_err(|e| state_err(&args.state_dir, e))?;
    let log_path = args.state_dir.join(SHIM_LOG_FILE);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| state_err(&log_path, e))?;

    let mut child = Command::new(shim_bin)
        .args(args.args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(false)
        .spawn()
        .map_err(|source| ShimError::Spawn {
            subject: subject.clone(),
            bin: shim_bin.display().to_string(),
            source,
        })?;
    let shim_pid = child.id().unwrap_or(0);
    let Some(stdout) = child.stdout.take() else {
        // Stdio::piped() always yields a pipe; treat its absence as a shim without a report.
        let _ = child.start_kill();
        return Err(no_report(&subject, "no report pipe".into(), &log_path));
    };

    let mut line = String::new();
    let limit = args.create_timeout + REPORT_GRACE;
    let read = tokio::time::timeout(limit, BufReader::new(stdout).read_line(&mut line)).await;
    let outcome = match read {
        Ok(Ok(n)) if n > 0 => Ok(line.trim_end().to_owned()),
        Ok(Ok(_)) => Err(String::new()),
        Ok(Err(e)) => Err(format!("reading its report: {e}")),
        Err(_) => {
            let _ = child.start_kill();
            Err(format!("no report within {} s, killed", limit.as_secs()))
        }
    };
    let report = match outcome {
        Ok(report) => report,
        Err(detail) => {
            let status = match child.wait().await {
                Ok(status) => status.to_string(),
                Err(e) => format!("unknown status: {e}"),
            };
            let detail = if detail.is_empty() {
                last_line(&log_path)
                    .map(|l| format!(": {l}"))
                    .unwrap_or_default()
            } else {
                format!(": {detail}")
            };
            return Err(ShimError::NoReport {
                subject,
                status,
                detail,
                log: log_path.display().to_string(),
            });
        }
    };
    // Reap the shim whenever it exits while the daemon still runs.
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    match serde_json::from_str::<SpawnReport>(&report) {
        Ok(SpawnReport::Pid { pid }) => Ok(SpawnedShim { pid, shim_pid }),
        Ok(SpawnReport::Error { error }) => Err(ShimError::Create {
            subject,
            message: error,
        }),
        Err(e) => Err(ShimError::Protocol {
            subject,
            line: report,
            detail: e.to_string(),
        }),
    }
}

fn no_report(subject: &str, status: String, log: &Path) -> ShimError {
    ShimError::NoReport {
        subject: subject.to_owned(),
        status,
        detail: String::new(),
        log: log.display().to_string(),
    }
}

/// The last non-empty line of a (small) log file.
fn last_line(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spawn_args() -> ShimSpawn {
        ShimSpawn {
            id: "c1".into(),
            runtime: "/usr/sbin/runc".into(),
            runtime_name: "runc".into(),
            runtime_root: "/run/pouch/runtime/runc".into(),
            bundle: "/var/lib/pouch/containers/c1".into(),
            state_dir: "/run/pouch/containers/c1".into(),
            tty: true,
            stdin: true,
            stdin_once: false,
            log: Some(LogOptions {
                path: "/var/lib/pouch/containers/c1/c1-json.log".into(),
                max_size: Some(1024),
                max_file: 3,
            }),
            cgroup_path: Some("pouch/c1".into()),
            exec: None,
            create_timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn args_follow_the_contract() {
        let args: Vec<String> = spawn_args()
            .args()
            .into_iter()
            .map(|a| a.into_string().expect("utf-8"))
            .collect();
        let joined = args.join(" ");
        assert!(joined.starts_with("--id c1 --runtime /usr/sbin/runc --runtime-name runc"));
        assert!(joined.contains("--log-max-size 1024 --log-max-file 3"));
        assert!(joined.contains("--cgroup-path pouch/c1"));
        assert!(joined.contains("--create-timeout 60"));
        assert!(joined.ends_with("--tty --stdin"));
        assert!(!joined.contains("--exec-id"));
    }

    #[tokio::test]
    async fn a_missing_shim_binary_names_the_container_and_the_flag() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args = spawn_args();
        args.state_dir = dir.path().join("c1");
        let err = spawn_shim(Path::new("/nonexistent/pouch-shim"), &args)
            .await
            .expect_err("no binary");
        let msg = err.to_string();
        assert!(
            msg.contains("container c1") && msg.contains("--shim-path"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn a_shim_that_dies_without_a_report_points_at_its_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args = spawn_args();
        args.state_dir = dir.path().join("c1");
        // /bin/false stands in for a shim that crashes before reporting.
        let err = spawn_shim(Path::new("/bin/false"), &args)
            .await
            .expect_err("no report");
        let msg = err.to_string();
        assert!(
            msg.contains("without a report") && msg.contains("shim.log"),
            "{msg}"
        );
    }
}
