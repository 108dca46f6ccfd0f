//! The OCI runtimes, shim and init the daemon's containers use, from `--default-runtime`,
//! `--add-runtime NAME=PATH`, `--shim-path` and `--init-path`. Bad entries stop the daemon
//! at start with a message that names them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pouch_engine::RuntimeConfig;

use crate::config::DaemonConfig;

#[derive(Debug, thiserror::Error)]
pub enum RuntimesError {
    #[error("invalid --add-runtime {0:?}: expected NAME=PATH")]
    Syntax(String),
    #[error("invalid --add-runtime {name}={path}: {reason}")]
    Path {
        name: String,
        path: String,
        reason: String,
    },
    #[error("--default-runtime {0} is not registered (use --add-runtime {0}=PATH)")]
    UnknownDefault(String),
}

/// Builds the runtime configuration. `runc` is always registered (found on PATH, or named
/// as is so a start reports it missing).
pub fn runtime_config(cfg: &DaemonConfig) -> Result<RuntimeConfig, RuntimesError> {
    let mut runtimes = BTreeMap::new();
    runtimes.insert(
        "runc".to_string(),
        find_on_path("runc").unwrap_or_else(|| PathBuf::from("runc")),
    );
    for entry in &cfg.add_runtimes {
        let (name, path) = entry
            .split_once('=')
            .filter(|(n, p)| !n.trim().is_empty() && !p.trim().is_empty())
            .ok_or_else(|| RuntimesError::Syntax(entry.clone()))?;
        let bad = |reason: &str| RuntimesError::Path {
            name: name.to_string(),
            path: path.to_string(),
            reason: reason.to_string(),
        };
        let resolved = if path.contains('/') {
            PathBuf::from(path)
        } else {
            find_on_path(path).ok_or_else(|| bad("not found on PATH"))?
        };
        if !is_executable(&resolved) {
            return Err(bad("not an executable file"));
        }
        runtimes.insert(name.trim().to_string(), resolved);
    }
    if !runtimes.contains_key(&cfg.default_runtime) {
        return Err(RuntimesError::UnknownDefault(cfg.default_runtime.clone()));
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    Ok(RuntimeConfig {
        runtimes,
        default_runtime: cfg.default_runtime.clone(),
        shim_path: cfg
            .shim_path
            .clone()
            .unwrap_or_else(|| exe_dir.join("pouch-shim")),
        init_path: cfg
            .init_path
            .clone()
            .unwrap_or_else(|| exe_dir.join("pouch-init")),
    })
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(default: &str, add: &[&str]) -> DaemonConfig {
        let mut c = DaemonConfig::from_args(["pouchd", "--config-file", "/nonexistent-default"])
            .unwrap_or_else(|_| DaemonConfig::from_args(["pouchd"]).unwrap());
        c.default_runtime = default.into();
        c.add_runtimes = add.iter().map(|s| s.to_string()).collect();
        c
    }

    #[test]
    fn registers_and_checks_runtimes() {
        let rc = runtime_config(&cfg("runc", &["sh=/bin/sh"])).unwrap();
        assert_eq!(rc.runtimes["sh"], PathBuf::from("/bin/sh"));
        assert!(rc.runtimes.contains_key("runc"));
        assert!(matches!(
            runtime_config(&cfg("runc", &["nope"])),
            Err(RuntimesError::Syntax(_))
        ));
        assert!(matches!(
            runtime_config(&cfg("runc", &["x=/does/not/exist"])),
            Err(RuntimesError::Path { .. })
        ));
        assert!(matches!(
            runtime_config(&cfg("crun2", &[])),
            Err(RuntimesError::UnknownDefault(_))
        ));
    }
}
