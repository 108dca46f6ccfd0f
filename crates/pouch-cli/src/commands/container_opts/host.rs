//! Host-config values of `create`/`run` that need more than one parser: `-v` (binds and
//! anonymous volumes), `--security-opt` (seccomp profiles sent inline) and the namespace
//! modes (`--pid`, `--ipc`, `--uts`).

use std::collections::BTreeMap;
use std::path::Path;

use super::OptsError;

pub(super) fn container_mode(mode: &str) -> bool {
    mode.strip_prefix("container:")
        .is_some_and(|name| !name.is_empty())
}

pub(super) fn checked_mode(
    value: &Option<String>,
    error: &str,
    valid: impl Fn(&str) -> bool,
) -> Result<String, OptsError> {
    let mode = value.clone().unwrap_or_default();
    if valid(&mode) {
        Ok(mode)
    } else {
        Err(OptsError::Invalid(error.to_string()))
    }
}

/// Splits `-v` values into binds (`SRC:DST[:MODE]`, a relative `./src` made absolute) and
/// anonymous volumes (`DST`).
pub(super) fn split_volumes(
    specs: &[String],
) -> Result<(Vec<String>, BTreeMap<String, serde_json::Value>), OptsError> {
    let mut binds = Vec::new();
    let mut volumes = BTreeMap::new();
    for spec in specs {
        let invalid = || OptsError::Invalid(format!("invalid volume specification: '{spec}'"));
        let parts: Vec<&str> = spec.split(':').collect();
        match parts.as_slice() {
            [target] => {
                if !target.starts_with('/') {
                    return Err(OptsError::Invalid(format!(
                        "invalid volume specification: '{spec}': invalid mount config for type \
                         \"volume\": invalid mount path: '{target}' mount path must be absolute"
                    )));
                }
                volumes.insert(target.to_string(), serde_json::json!({}));
            }
            [source, target, rest @ ..] if rest.len() <= 1 => {
                if source.is_empty() || !target.starts_with('/') {
                    return Err(invalid());
                }
                let mut host = source.to_string();
                if host.starts_with('.') {
                    if let Ok(abs) = std::path::absolute(Path::new(&host)) {
                        host = clean_path(&abs);
                    }
                }
                let mut bind = format!("{host}:{target}");
                if let [mode] = rest {
                    bind = format!("{bind}:{mode}");
                }
                binds.push(bind);
            }
            _ => return Err(invalid()),
        }
    }
    Ok((binds, volumes))
}

/// `a/./b/../c` -> `a/c` (Go's `filepath.Abs` cleans its result).
pub(super) fn clean_path(path: &Path) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in path.to_str().unwrap_or_default().split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    format!("/{}", out.join("/"))
}

/// `--security-opt`: `key=value` or `key:value` (`no-new-privileges` alone); a seccomp
/// profile file is sent inline as compact JSON, as docker does.
pub(super) fn security_opts(opts: &[String]) -> Result<Vec<String>, OptsError> {
    let mut out = Vec::new();
    for opt in opts {
        let split = opt.split_once('=').or_else(|| {
            (opt != "no-new-privileges")
                .then(|| opt.split_once(':'))
                .flatten()
        });
        let (key, value) = match split {
            Some((k, v)) if !v.is_empty() => (k, v),
            _ if opt == "no-new-privileges" => {
                out.push(opt.clone());
                continue;
            }
            _ => {
                return Err(OptsError::Invalid(format!(
                    "Invalid --security-opt: {opt:?}"
                )))
            }
        };
        if key == "seccomp" && value != "unconfined" && value != "builtin" {
            let raw = std::fs::read(value).map_err(|e| {
                OptsError::Invalid(format!("opening seccomp profile ({value}) failed: {e}"))
            })?;
            let json: serde_json::Value = serde_json::from_slice(&raw).map_err(|e| {
                OptsError::Invalid(format!(
                    "compacting json for seccomp profile ({value}) failed: {e}"
                ))
            })?;
            out.push(format!("seccomp={json}"));
        } else {
            out.push(opt.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_bind_sources_become_absolute() {
        let (binds, _) = split_volumes(&["./x/../y:/in".to_string()]).unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(binds, [format!("{}/y:/in", cwd.display())]);
    }

    #[test]
    fn security_options() {
        assert_eq!(
            security_opts(&["no-new-privileges".into(), "label:disable".into()]).unwrap(),
            ["no-new-privileges", "label:disable"]
        );
        assert!(security_opts(&["bogus".into()]).is_err());
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("p.json");
        std::fs::write(&profile, "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n").unwrap();
        let opt = format!("seccomp={}", profile.display());
        assert_eq!(
            security_opts(&[opt]).unwrap(),
            ["seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}"]
        );
        assert_eq!(
            security_opts(&["seccomp=unconfined".into()]).unwrap(),
            ["seccomp=unconfined"]
        );
    }
}
