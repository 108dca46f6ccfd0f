//! `state`: the container's state as runc prints it (ociVersion, id, pid, status, bundle,
//! rootfs, created, owner, annotations); the pid is 0 once the container has stopped.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::SecondsFormat;
use libcontainer::container::{Container, ContainerStatus};

use super::{load, status_name, CommandError};
use crate::cli::Globals;

pub fn state(args: liboci_cli::State, globals: &Globals) -> Result<(), CommandError> {
    let container = load(&globals.root, &args.container_id)?;
    let text = serde_json::to_string_pretty(&state_json(&container)).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(CommandError::Stdout)
}

fn state_json(container: &Container) -> serde_json::Value {
    let status = container.status();
    let pid = match (status, container.pid()) {
        (ContainerStatus::Stopped, _) | (_, None) => 0,
        (_, Some(pid)) => pid.as_raw(),
    };
    let mut state = serde_json::json!({
        "ociVersion": container.state.oci_version,
        "id": container.id(),
        "pid": pid,
        "status": status_name(status),
        "bundle": container.bundle(),
        "rootfs": rootfs(container.bundle()),
        "created": container
            .created()
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Nanos, true))
            .unwrap_or_default(),
        "owner": container
            .creator()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
    });
    if let Some(annotations) = &container.state.annotations {
        state["annotations"] = serde_json::json!(annotations);
    }
    state
}

/// `root.path` of the bundle's config.json, made absolute against the bundle.
fn rootfs(bundle: &Path) -> PathBuf {
    let path = std::fs::read_to_string(bundle.join("config.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|spec| spec["root"]["path"].as_str().map(PathBuf::from))
        .unwrap_or_default();
    if path.as_os_str().is_empty() || path.is_absolute() {
        path
    } else {
        bundle.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rootfs_is_resolved_against_the_bundle() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"root":{"path":"rootfs"}}"#,
        )
        .expect("write");
        assert_eq!(rootfs(dir.path()), dir.path().join("rootfs"));
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"root":{"path":"/abs"}}"#,
        )
        .expect("write");
        assert_eq!(rootfs(dir.path()), PathBuf::from("/abs"));
        assert_eq!(rootfs(&dir.path().join("none")), PathBuf::new());
    }
}
