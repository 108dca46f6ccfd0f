//! The subcommands, one file each, and what they share: the error enum, loading a container's
//! state from `--root`, the guard against a recycled init pid, and rendering libcontainer's
//! errors with their causes.
//!
//! Error messages keep runc's key phrases (`does not exist`, `is not running`, `is not paused`,
//! `is stopped`): pouchd's driver classifies a runtime's failures by them.

pub mod create;
pub mod delete;
pub mod exec;
pub mod foreground;
pub mod kill;
pub mod pause;
pub mod ps;
pub mod resume;
pub mod run;
pub mod start;
pub mod state;
pub mod update;

use std::error::Error as _;
use std::path::{Path, PathBuf};

use libcontainer::container::{Container, ContainerStatus};
use libcontainer::error::LibcontainerError;

/// The file in a container's state directory where pouch-runc records its init's start time.
const INIT_FILE: &str = "pouch-runc-init.json";

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("container {id} does not exist (no state in {})", root.display())]
    NotFound { id: String, root: PathBuf },
    #[error("container {id} already exists in {}: delete it first", root.display())]
    Exists { id: String, root: PathBuf },
    #[error("invalid container id {id:?}: use letters, digits, '_', '+', '-' and '.'")]
    InvalidId { id: String },
    #[error("container {id} is not running (it is {status})")]
    NotRunning { id: String, status: String },
    #[error("container {id} is not paused (it is {status})")]
    NotPaused { id: String, status: String },
    #[error("container {id} is {status}: start needs a created container")]
    NotCreated { id: String, status: String },
    #[error("container {id} is {status}: stop it first or delete with --force")]
    StillRunning { id: String, status: String },
    #[error("invalid signal {0:?}: give a name (KILL, SIGTERM) or a number from 1 to 31")]
    Signal(String),
    #[error("{verb} {id}: {message}")]
    Runtime {
        verb: &'static str,
        id: String,
        message: String,
    },
    #[error("cannot create the state directory {}: {source}", path.display())]
    Root {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("update {id}: cannot read the resources from {path}: {source}")]
    ResourcesRead {
        id: String,
        path: String,
        source: std::io::Error,
    },
    #[error("update {id}: invalid resources JSON from {path}: {source} (give OCI LinuxResources)")]
    ResourcesJson {
        id: String,
        path: String,
        source: serde_json::Error,
    },
    #[error("update {id}: invalid resources: {message}")]
    Resources { id: String, message: String },
    #[error("ps {id}: invalid --format {format:?}: use table or json")]
    PsFormat { id: String, format: String },
    #[error("ps {id}: cannot run ps: {source}")]
    PsRun { id: String, source: std::io::Error },
    #[error("{verb} {id}: waiting for the process: {source}")]
    Wait {
        verb: &'static str,
        id: String,
        source: nix::Error,
    },
    #[error("cannot write to stdout: {0}")]
    Stdout(#[source] std::io::Error),
}

/// `libcontainer`'s error as one line: its message and its causes, joined by `: `.
pub fn describe(err: &LibcontainerError) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut push = |msg: String| {
        let msg = msg.trim().to_string();
        // `#[error(transparent)]` wrappers repeat their inner error's message
        if !msg.is_empty() && parts.last().is_none_or(|last| !last.contains(&msg)) {
            parts.push(msg);
        }
    };
    match err {
        LibcontainerError::InvalidInput(detail) => push(format!("invalid input: {detail}")),
        other => push(other.to_string()),
    }
    let mut source = err.source();
    while let Some(cause) = source {
        push(cause.to_string());
        source = cause.source();
    }
    parts.join(": ")
}

/// A `Runtime` error for `verb` of `id`.
pub fn runtime_error(verb: &'static str, id: &str, err: &LibcontainerError) -> CommandError {
    CommandError::Runtime {
        verb,
        id: id.to_string(),
        message: describe(err),
    }
}

/// runc's and libcontainer's rule for ids; it also keeps `root.join(id)` inside the root.
pub fn validate_id(id: &str) -> Result<(), CommandError> {
    let valid = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if valid {
        Ok(())
    } else {
        Err(CommandError::InvalidId { id: id.to_string() })
    }
}

/// Creates the state root (0700, like runc's) when missing.
pub fn ensure_root(root: &Path) -> Result<(), CommandError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(|source| CommandError::Root {
            path: root.to_path_buf(),
            source,
        })
}

/// Loads the state of container `id`, with its status refreshed from /proc. When the init's pid
/// now belongs to another process (recycled after the container exited), the pid is dropped from
/// the state, which makes the container stopped for libcontainer too.
pub fn load(root: &Path, id: &str) -> Result<Container, CommandError> {
    validate_id(id)?;
    let dir = root.join(id);
    if !dir.join("state.json").exists() {
        return Err(CommandError::NotFound {
            id: id.to_string(),
            root: root.to_path_buf(),
        });
    }
    let mut container = Container::load(dir).map_err(|e| runtime_error("load", id, &e))?;
    if let Some(pid) = container.pid() {
        if init_recycled(&container.root, pid.as_raw()) {
            container.state.pid = None;
            container.set_status(ContainerStatus::Stopped);
            container
                .save()
                .map_err(|e| runtime_error("load", id, &e))?;
        }
    }
    Ok(container)
}

/// The status as runc prints it (`created`, `running`, ...).
pub fn status_name(status: ContainerStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| status.to_string().to_lowercase())
}

/// Records the init's start time (field 22 of /proc/<pid>/stat) next to libcontainer's state.
pub fn record_init(container_dir: &Path, pid: i32) {
    if let Some(start) = start_time(pid) {
        let record = serde_json::json!({ "pid": pid, "startTime": start });
        let _ = std::fs::write(container_dir.join(INIT_FILE), record.to_string());
    }
}

/// True when `pid` is alive but is not the process recorded at create.
fn init_recycled(container_dir: &Path, pid: i32) -> bool {
    let Ok(text) = std::fs::read_to_string(container_dir.join(INIT_FILE)) else {
        return false;
    };
    let Ok(record) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    if record["pid"].as_i64() != Some(i64::from(pid)) {
        return false;
    }
    match (record["startTime"].as_u64(), start_time(pid)) {
        (Some(recorded), Some(now)) => recorded != now,
        _ => false,
    }
}

/// The start time of a process in clock ticks after boot, from /proc/<pid>/stat.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

fn parse_start_time(stat: &str) -> Option<u64> {
    // the command (field 2) may hold spaces and parentheses; fields after it start at 3
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        for good in ["abc", "a-b_c.d+e", "0123456789abcdef"] {
            assert!(validate_id(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "a b"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_start_time_is_field_22() {
        let stat =
            "42 (a (weird) cmd) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1234 56";
        assert_eq!(parse_start_time(stat), Some(987654));
        let own = start_time(std::process::id() as i32);
        assert!(own.is_some_and(|t| t > 0));
    }

    #[test]
    fn a_recycled_pid_is_seen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pid = std::process::id() as i32;
        record_init(dir.path(), pid);
        assert!(!init_recycled(dir.path(), pid));
        let record = serde_json::json!({ "pid": pid, "startTime": 1 });
        std::fs::write(dir.path().join(INIT_FILE), record.to_string()).expect("write");
        assert!(init_recycled(dir.path(), pid));
        // no record: nothing to compare with
        assert!(!init_recycled(&dir.path().join("none"), pid));
    }

    #[test]
    fn status_names_are_runcs() {
        assert_eq!(status_name(ContainerStatus::Created), "created");
        assert_eq!(status_name(ContainerStatus::Paused), "paused");
    }

    #[test]
    fn libcontainer_errors_keep_their_detail() {
        let err = LibcontainerError::InvalidInput("invalid root path \"/x\"".into());
        assert_eq!(describe(&err), "invalid input: invalid root path \"/x\"");
        let err = LibcontainerError::OtherIO(std::io::Error::other("disk on fire"));
        assert_eq!(describe(&err), "io error: disk on fire");
    }
}
