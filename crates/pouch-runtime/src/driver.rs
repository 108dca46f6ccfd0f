//! The OCI runtime's command line (runc, crun, youki) as pouchd runs it itself: `start`,
//! `kill`, `delete`, `state`, `pause`, `resume`, `update` and `ps`, each with a timeout after
//! which the runtime is killed. `create` and `exec` belong to the shim (see
//! docs/containers-contract.md). Errors carry the runtime's name and its stderr, and say when
//! the container does not exist or is not running, so the engine can map them.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::AsyncWriteExt;

/// How long one runtime command may take unless [`RuntimeDriver::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Directories searched after `PATH`: a daemon started by an init system may have a short PATH,
/// and runtimes live in sbin.
const EXTRA_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("runtime {runtime}: {command} {id}: {message}")]
    NotFound {
        runtime: String,
        command: String,
        id: String,
        message: String,
    },
    #[error("runtime {runtime}: {command} {id}: {message}")]
    NotRunning {
        runtime: String,
        command: String,
        id: String,
        message: String,
    },
    #[error("runtime {runtime}: {command} {id}: {message}")]
    NotPaused {
        runtime: String,
        command: String,
        id: String,
        message: String,
    },
    #[error("runtime {runtime}: {command} {id}: {message}")]
    Failed {
        runtime: String,
        command: String,
        id: String,
        message: String,
    },
    #[error("runtime {runtime}: {command} {id}: no answer within {}s, killed it", timeout.as_secs_f64())]
    TimedOut {
        runtime: String,
        command: String,
        id: String,
        timeout: Duration,
    },
    #[error("runtime {runtime}: {command} {id}: cannot run {}: {source}", path.display())]
    Spawn {
        runtime: String,
        command: String,
        id: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("runtime {runtime}: {command} {id}: unexpected output {output:?}: {source}")]
    Output {
        runtime: String,
        command: String,
        id: String,
        output: String,
        source: serde_json::Error,
    },
    #[error("runtime {runtime}: cannot create its root directory {}: {source}", root.display())]
    Root {
        runtime: String,
        root: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot use runtime {name:?}: {reason}")]
    Resolve { name: String, reason: String },
}

/// How a runtime command failed, for errors the engine maps to its own answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// the container does not exist in the runtime's state
    NotFound,
    /// the container is stopped (or not started) and the command needs it running
    NotRunning,
    /// `resume` of a container that is not paused
    NotPaused,
    Other,
}

impl DriverError {
    pub fn kind(&self) -> FailureKind {
        match self {
            DriverError::NotFound { .. } => FailureKind::NotFound,
            DriverError::NotRunning { .. } => FailureKind::NotRunning,
            DriverError::NotPaused { .. } => FailureKind::NotPaused,
            _ => FailureKind::Other,
        }
    }
}

/// The state of a container as `<runtime> state` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RuntimeState {
    /// `creating`, `created`, `running`, `paused` or `stopped`
    pub status: String,
    /// the container's init process on the host; 0 once it has stopped
    #[serde(default)]
    pub pid: i32,
}

/// One OCI runtime binary with its state directory (`--root`).
#[derive(Debug, Clone)]
pub struct RuntimeDriver {
    name: String,
    path: PathBuf,
    root: PathBuf,
    timeout: Duration,
}

impl RuntimeDriver {
    /// `name` is how errors call it (`runc`), `path` the binary (see [`resolve_runtime`]),
    /// `root` the runtime's state directory, created on first use.
    pub fn new(
        name: impl Into<String>,
        path: impl Into<PathBuf>,
        root: impl Into<PathBuf>,
    ) -> Self {
        RuntimeDriver {
            name: name.into(),
            path: path.into(),
            root: root.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same runtime with another time limit per command.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `start <id>`: runs the process of a created container.
    pub async fn start(&self, id: &str) -> Result<(), DriverError> {
        self.run("start", &[], id, &[], None).await.map(drop)
    }

    /// `kill [--all] <id> <signal>`.
    pub async fn kill(&self, id: &str, signal: i32, all: bool) -> Result<(), DriverError> {
        let options: &[&str] = if all { &["--all"] } else { &[] };
        let signal = signal.to_string();
        self.run("kill", options, id, &[signal.as_str()], None)
            .await
            .map(drop)
    }

    /// `delete [--force] <id>`: removes the container's runtime state and cgroups.
    pub async fn delete(&self, id: &str, force: bool) -> Result<(), DriverError> {
        let options: &[&str] = if force { &["--force"] } else { &[] };
        self.run("delete", options, id, &[], None).await.map(drop)
    }

    /// `state <id>`.
    pub async fn state(&self, id: &str) -> Result<RuntimeState, DriverError> {
        let out = self.run("state", &[], id, &[], None).await?;
        serde_json::from_slice(&out).map_err(|source| self.output_error("state", id, &out, source))
    }

    /// `pause <id>`: freezes every process of the container.
    pub async fn pause(&self, id: &str) -> Result<(), DriverError> {
        self.run("pause", &[], id, &[], None).await.map(drop)
    }

    /// `resume <id>`.
    pub async fn resume(&self, id: &str) -> Result<(), DriverError> {
        self.run("resume", &[], id, &[], None).await.map(drop)
    }

    /// `update --resources - <id>` with OCI `LinuxResources` JSON on the runtime's stdin.
    pub async fn update(&self, id: &str, resources: &serde_json::Value) -> Result<(), DriverError> {
        let input = serde_json::to_vec(resources).unwrap_or_default();
        self.run("update", &["--resources", "-"], id, &[], Some(input))
            .await
            .map(drop)
    }

    /// `ps --format json <id>`: the host pids of the container's processes.
    pub async fn ps(&self, id: &str) -> Result<Vec<i32>, DriverError> {
        let out = self.run("ps", &["--format", "json"], id, &[], None).await?;
        let pids: Option<Vec<i32>> = serde_json::from_slice(&out)
            .map_err(|source| self.output_error("ps", id, &out, source))?;
        Ok(pids.unwrap_or_default())
    }

    /// `exec --cwd / --env K=V... <id> <argv>`: runs a process in a created or running
    /// container (runc allows both) and waits for it, at most `timeout`. Returns its exit code
    /// and its output, stdout then stderr (a runtime that cannot run it says why there).
    pub async fn exec_wait(
        &self,
        id: &str,
        env: &[String],
        argv: &[String],
        timeout: Duration,
    ) -> Result<(i32, Vec<u8>), DriverError> {
        let mut args: Vec<OsString> = vec![
            "--root".into(),
            self.root.clone().into(),
            "exec".into(),
            "--cwd".into(),
            "/".into(),
        ];
        for e in env {
            args.push("--env".into());
            args.push(e.into());
        }
        args.push(id.into());
        args.extend(argv.iter().map(OsString::from));
        let spawn_error = |source| DriverError::Spawn {
            runtime: self.name.clone(),
            command: "exec".to_string(),
            id: id.to_string(),
            path: self.path.clone(),
            source,
        };
        let child = tokio::process::Command::new(&self.path)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_error)?;
        let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(result) => result.map_err(spawn_error)?,
            Err(_) => {
                return Err(DriverError::TimedOut {
                    runtime: self.name.clone(),
                    command: "exec".to_string(),
                    id: id.to_string(),
                    timeout,
                })
            }
        };
        let mut out = output.stdout;
        out.extend_from_slice(&output.stderr);
        let code = output
            .status
            .code()
            .or_else(|| {
                std::os::unix::process::ExitStatusExt::signal(&output.status).map(|s| 128 + s)
            })
            .unwrap_or(255);
        Ok((code, out))
    }

    /// Runs `<path> --root <root> <command> <options> <id> <trailing>`; returns its stdout.
    async fn run(
        &self,
        command: &str,
        options: &[&str],
        id: &str,
        trailing: &[&str],
        stdin: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, DriverError> {
        tokio::fs::create_dir_all(&self.root)
            .await
            .map_err(|source| DriverError::Root {
                runtime: self.name.clone(),
                root: self.root.clone(),
                source,
            })?;
        let mut args: Vec<OsString> =
            vec!["--root".into(), self.root.clone().into(), command.into()];
        args.extend(options.iter().map(OsString::from));
        args.push(id.into());
        args.extend(trailing.iter().map(OsString::from));

        let mut child = tokio::process::Command::new(&self.path)
            .args(&args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| DriverError::Spawn {
                runtime: self.name.clone(),
                command: command.to_string(),
                id: id.to_string(),
                path: self.path.clone(),
                source,
            })?;
        let input = child.stdin.take();
        let finish = async move {
            if let (Some(mut pipe), Some(data)) = (input, stdin) {
                // a runtime that exits without reading says why on stderr
                let _ = pipe.write_all(&data).await;
                drop(pipe);
            }
            child.wait_with_output().await
        };
        // on timeout the child is dropped, and kill_on_drop kills it (tokio reaps it)
        let output = match tokio::time::timeout(self.timeout, finish).await {
            Ok(result) => result.map_err(|source| DriverError::Spawn {
                runtime: self.name.clone(),
                command: command.to_string(),
                id: id.to_string(),
                path: self.path.clone(),
                source,
            })?,
            Err(_) => {
                return Err(DriverError::TimedOut {
                    runtime: self.name.clone(),
                    command: command.to_string(),
                    id: id.to_string(),
                    timeout: self.timeout,
                })
            }
        };
        if output.status.success() {
            return Ok(output.stdout);
        }
        let mut message = error_message(&String::from_utf8_lossy(&output.stderr));
        if message.is_empty() {
            message = format!("failed with {}", output.status);
        }
        let state_exists = self.root.join(id).exists();
        Err(self.classify(command, id, message, state_exists))
    }

    fn classify(
        &self,
        command: &str,
        id: &str,
        message: String,
        state_exists: bool,
    ) -> DriverError {
        let (runtime, command, id) = (self.name.clone(), command.to_string(), id.to_string());
        let lower = message.to_lowercase();
        if lower.contains("does not exist") || lower.contains("not found") || !state_exists {
            DriverError::NotFound {
                runtime,
                command,
                id,
                message,
            }
        } else if lower.contains("not paused") {
            DriverError::NotPaused {
                runtime,
                command,
                id,
                message,
            }
        } else if lower.contains("not running")
            || lower.contains("has stopped")
            || lower.contains("is stopped")
        {
            DriverError::NotRunning {
                runtime,
                command,
                id,
                message,
            }
        } else {
            DriverError::Failed {
                runtime,
                command,
                id,
                message,
            }
        }
    }

    fn output_error(
        &self,
        command: &str,
        id: &str,
        out: &[u8],
        source: serde_json::Error,
    ) -> DriverError {
        let mut output = String::from_utf8_lossy(out).trim().to_string();
        if output.len() > 200 {
            let cut = (0..=200)
                .rev()
                .find(|&i| output.is_char_boundary(i))
                .unwrap_or(0);
            output.truncate(cut);
            output.push_str("...");
        }
        DriverError::Output {
            runtime: self.name.clone(),
            command: command.to_string(),
            id: id.to_string(),
            output,
            source,
        }
    }
}

/// The message of a runtime's stderr: the `msg` of logrus lines (runc's text
/// `time=.. level=error msg=".."` or JSON `{"msg":..}`), errors first, else the lines as they
/// are; several are joined with `: `.
fn error_message(stderr: &str) -> String {
    let mut errors = Vec::new();
    let mut others = Vec::new();
    for line in stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match parse_log_line(line) {
            Some((level, msg)) if matches!(level.as_str(), "error" | "fatal" | "panic") => {
                errors.push(msg)
            }
            Some((_, msg)) => others.push(msg),
            None => others.push(line.to_string()),
        }
    }
    let mut lines = if errors.is_empty() { others } else { errors };
    lines.dedup();
    lines.join(": ")
}

/// `(level, msg)` of a logrus line in text or JSON format.
fn parse_log_line(line: &str) -> Option<(String, String)> {
    if line.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        let msg = value.get("msg")?.as_str()?.trim().to_string();
        let level = value
            .get("level")
            .and_then(|l| l.as_str())
            .unwrap_or("error");
        return Some((level.to_string(), msg));
    }
    if !line.starts_with("time=") && !line.starts_with("level=") {
        return None;
    }
    let fields = logfmt(line);
    let msg = fields
        .iter()
        .find(|(k, _)| k == "msg")?
        .1
        .trim()
        .to_string();
    let level = fields
        .iter()
        .find(|(k, _)| k == "level")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "error".to_string());
    Some((level, msg))
}

/// The `key=value` / `key="quoted \"value\""` pairs of a logfmt line.
fn logfmt(line: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let key: String =
            std::iter::from_fn(|| chars.next_if(|&c| c != '=' && !c.is_whitespace())).collect();
        if key.is_empty() {
            break;
        }
        if chars.next_if_eq(&'=').is_none() {
            pairs.push((key, String::new()));
            continue;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some('n') => value.push('\n'),
                        Some('t') => value.push('\t'),
                        Some(other) => value.push(other),
                        None => break,
                    },
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())).collect();
        }
        pairs.push((key, value));
    }
    pairs
}

/// Finds a runtime binary: a path (with a `/`) is taken as it is, a bare name is looked up on
/// `PATH` and then in the usual bin and sbin directories. The file must be executable.
pub fn resolve_runtime(path_or_name: &str) -> Result<PathBuf, DriverError> {
    let fail = |reason: String| DriverError::Resolve {
        name: path_or_name.to_string(),
        reason,
    };
    if path_or_name.is_empty() {
        return Err(fail("the name is empty".to_string()));
    }
    if path_or_name.contains('/') {
        let path = Path::new(path_or_name);
        return match check_executable(path) {
            Ok(()) => Ok(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())),
            Err(reason) => Err(fail(reason)),
        };
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path_var)
        .filter(|d| d.is_absolute())
        .chain(EXTRA_DIRS.iter().map(PathBuf::from));
    let mut not_executable = None;
    for dir in dirs {
        let candidate = dir.join(path_or_name);
        match check_executable(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(reason) if candidate.exists() => {
                not_executable.get_or_insert(reason);
            }
            Err(_) => {}
        }
    }
    Err(fail(not_executable.unwrap_or_else(|| {
        format!(
            "not found in PATH ({}) nor in {}: give a path or install it",
            path_var.to_string_lossy(),
            EXTRA_DIRS.join(":")
        )
    })))
}

fn check_executable(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a file", path.display()));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(format!("{} is not executable", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
