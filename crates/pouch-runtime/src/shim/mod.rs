//! The engine's side of `pouch-shim`, the per-container supervisor: the wire protocol
//! (`protocol`, free of tokio so the shim links it), the async client for a running shim
//! (`client`), starting a shim (`spawn`) and reading the `exit` file a shim leaves behind.
//! See docs/containers-contract.md, section "The shim".

pub mod client;
pub mod protocol;
pub mod spawn;

use std::io;
use std::path::Path;

pub use client::ShimClient;
pub use protocol::{ExitStatus, ShimState};
pub use spawn::{spawn_shim, LogOptions, ShimSpawn, SpawnedShim};

/// Errors from talking to, starting or reading after a shim. `subject` names the container
/// (or the exec and its container).
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("cannot reach the shim of {subject} at {socket}: {source} (the process has exited or its shim died; see {log})")]
    Connect {
        subject: String,
        socket: String,
        log: String,
        source: io::Error,
    },
    #[error("talking to the shim of {subject}: {source}")]
    Io { subject: String, source: io::Error },
    #[error("the shim of {subject} did not answer within {secs} s (see {log})")]
    Timeout {
        subject: String,
        secs: u64,
        log: String,
    },
    #[error("the shim of {subject} closed the connection before answering (see {log})")]
    Closed { subject: String, log: String },
    #[error("the shim of {subject} sent an unexpected answer {line:?}: {detail}")]
    Protocol {
        subject: String,
        line: String,
        detail: String,
    },
    #[error("the shim of {subject} refused the {request} request: {message}")]
    Refused {
        subject: String,
        request: &'static str,
        message: String,
    },
    #[error("cannot prepare the shim state dir {path} of {subject}: {source}")]
    StateDir {
        subject: String,
        path: String,
        source: io::Error,
    },
    #[error("cannot start the shim {bin} for {subject}: {source} (check --shim-path)")]
    Spawn {
        subject: String,
        bin: String,
        source: io::Error,
    },
    #[error("cannot create {subject}: {message}")]
    Create { subject: String, message: String },
    #[error("the shim of {subject} exited without a report ({status}){detail} (see {log})")]
    NoReport {
        subject: String,
        status: String,
        detail: String,
        log: String,
    },
    #[error("cannot read the exit file {path}: {source}")]
    ExitFile { path: String, source: io::Error },
    #[error(
        "the exit file {path} is corrupt: {source} (remove it; the exit code is then unknown)"
    )]
    ExitFileCorrupt {
        path: String,
        source: serde_json::Error,
    },
}

/// Reads `<state_dir>/exit`, the status a shim wrote when its process ended.
/// `Ok(None)` when there is none (the process has not ended, or its shim died first).
pub fn read_exit_file(state_dir: &Path) -> Result<Option<ExitStatus>, ShimError> {
    let path = state_dir.join(protocol::EXIT_FILE);
    let data = match std::fs::read(&path) {
        Ok(data) => data,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ShimError::ExitFile {
                path: path.display().to_string(),
                source,
            })
        }
    };
    serde_json::from_slice(&data)
        .map(Some)
        .map_err(|source| ShimError::ExitFileCorrupt {
            path: path.display().to_string(),
            source,
        })
}

/// What a state dir belongs to, for messages: `container <id>` for
/// `.../containers/<id>`, `exec <exec-id> of container <id>` for `.../<id>/exec/<exec-id>`.
pub(crate) fn subject_of(state_dir: &Path) -> String {
    let name = |p: Option<&Path>| {
        p.and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let own = name(Some(state_dir));
    let parent = state_dir.parent();
    if name(parent) == "exec" {
        let container = name(parent.and_then(Path::parent));
        format!("exec {own} of container {container}")
    } else {
        format!("container {own}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_name_containers_and_execs() {
        assert_eq!(
            subject_of(Path::new("/run/pouch/containers/abc")),
            "container abc"
        );
        assert_eq!(
            subject_of(Path::new("/run/pouch/containers/abc/exec/e1")),
            "exec e1 of container abc"
        );
    }

    #[test]
    fn exit_file_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(read_exit_file(dir.path())
            .expect("no file is fine")
            .is_none());
        std::fs::write(
            dir.path().join("exit"),
            br#"{"exit_code":137,"oom_killed":true,"exited_at":"2026-01-02T03:04:05.5Z"}"#,
        )
        .expect("write");
        let status = read_exit_file(dir.path()).expect("reads").expect("present");
        assert_eq!(status.exit_code, 137);
        assert!(status.oom_killed);
        std::fs::write(dir.path().join("exit"), b"{").expect("write");
        let err = read_exit_file(dir.path()).expect_err("corrupt");
        assert!(err.to_string().contains("is corrupt"), "{err}");
    }
}
