//! Writing pouchd's config file back: the settings `pouch updatedaemon` changes are set in
//! the file pouchd started with (`--config-file`), keeping every other key, atomically
//! (temporary file and rename). Keys given on the command line are refused (the next start
//! would find them both ways). Reading and merging the file is `config`'s.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::config::{read_file, ConfigError, DaemonConfig};

/// The config file as daemon updates write it: the settings they change, by key.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    /// Keys given on the command line: not to be written.
    command_line_keys: Vec<String>,
}

impl ConfigFile {
    /// The file `cfg` was started with (`--config-file`, or the default).
    pub fn of(cfg: &DaemonConfig) -> ConfigFile {
        ConfigFile {
            path: cfg.config_path.clone(),
            command_line_keys: cfg.command_line_keys.clone(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets `values` (config key, value), keeping every other key as it is: the file is
    /// read again (a missing one is created, with its directory), changed, written to a
    /// temporary file beside it and renamed over it, so a reader sees the old file or the
    /// new one. A key given on the command line refuses the whole change.
    pub fn set(&self, values: &[(&str, serde_json::Value)]) -> Result<(), ConfigError> {
        let shown = self.path.display().to_string();
        for (key, _) in values {
            if self.command_line_keys.iter().any(|k| k == key) {
                return Err(ConfigError::FixedByFlag {
                    key: key.to_string(),
                    path: shown,
                });
            }
        }
        let old_mode = std::fs::metadata(&self.path)
            .ok()
            .map(|m| m.permissions().mode());
        let mut map = read_file(&self.path, false)?.unwrap_or_default();
        for (key, value) in values {
            map.insert(key.to_string(), value.clone());
        }
        let mut text =
            serde_json::to_string_pretty(&serde_json::Value::Object(map)).map_err(|e| {
                ConfigError::Write {
                    path: shown.clone(),
                    source: std::io::Error::other(e),
                }
            })?;
        text.push('\n');
        // a symlinked config file stays a symlink: its target is replaced
        let target = std::fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        write_atomic(&target, text.as_bytes(), old_mode.unwrap_or(0o644)).map_err(|source| {
            ConfigError::Write {
                path: shown,
                source,
            }
        })
    }
}

/// Writes `data` to `path` through a temporary file in the same directory and a rename
/// (file and directory synced), with permission bits `mode`.
fn write_atomic(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return written;
    }
    // the rename is durable once the directory is
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{parse, with_file};

    #[test]
    fn updates_are_written_keeping_the_other_keys() {
        let (dir, file) = with_file(
            r#"{"home-dir": "/srv/pouch", "registry-mirror": ["http://old:5000"], "mtu": 1400}"#,
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let cfg = parse(&["--config-file", &file, "--exec-root", "/tmp/e"]).unwrap();
        let cf = ConfigFile::of(&cfg);
        assert_eq!(cf.path(), Path::new(&file));
        cf.set(&[
            ("label", serde_json::json!(["a=1", "b=2"])),
            ("registry-mirror", serde_json::json!([])),
            ("insecure-registry", serde_json::json!(["10.0.0.0/8"])),
            ("debug", serde_json::json!(true)),
        ])
        .unwrap();
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(
            written,
            serde_json::json!({
                "home-dir": "/srv/pouch", "mtu": 1400,
                "label": ["a=1", "b=2"], "registry-mirror": [],
                "insecure-registry": ["10.0.0.0/8"], "debug": true,
            })
        );
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the file keeps its permissions");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["config.json"], "no temporary file is left");

        // the next start reads the values back (with the same command line)
        let again = parse(&["--config-file", &file, "--exec-root", "/tmp/e"]).unwrap();
        assert_eq!(again.labels, ["a=1", "b=2"]);
        assert!(again.registry_mirrors.is_empty());
        assert_eq!(again.insecure_registries, ["10.0.0.0/8"]);
        assert!(again.debug);
        assert_eq!(again.home_dir, PathBuf::from("/srv/pouch"));
        assert_eq!(again.network.mtu, 1400);

        // a second update changes only what it names
        cf.set(&[("debug", serde_json::json!(false))]).unwrap();
        let again = parse(&["--config-file", &file, "--exec-root", "/tmp/e"]).unwrap();
        assert!(!again.debug);
        assert_eq!(again.labels, ["a=1", "b=2"]);
    }

    #[test]
    fn a_missing_file_is_created_with_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("etc/pouch/config.json");
        let cf = ConfigFile {
            path: file.clone(),
            command_line_keys: Vec::new(),
        };
        cf.set(&[("label", serde_json::json!(["zone=a"]))]).unwrap();
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(written, serde_json::json!({"label": ["zone=a"]}));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        let cfg = parse(&["--config-file", &file.display().to_string()]).unwrap();
        assert_eq!(cfg.labels, ["zone=a"]);
    }

    #[test]
    fn a_symlinked_file_stays_a_symlink() {
        let (dir, real) = with_file(r#"{"mtu": 1400}"#);
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let cf = ConfigFile {
            path: link.clone(),
            command_line_keys: Vec::new(),
        };
        cf.set(&[("debug", serde_json::json!(true))]).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&real).unwrap()).unwrap();
        assert_eq!(written, serde_json::json!({"mtu": 1400, "debug": true}));
    }

    #[test]
    fn keys_from_the_command_line_are_refused_and_nothing_is_written() {
        let (_d, file) = with_file(r#"{"mtu": 1400}"#);
        let cfg = parse(&["--config-file", &file, "--label", "a=b"]).unwrap();
        let cf = ConfigFile::of(&cfg);
        let err = cf
            .set(&[
                ("debug", serde_json::json!(true)),
                ("label", serde_json::json!(["x=y"])),
            ])
            .unwrap_err();
        assert!(
            matches!(err, ConfigError::FixedByFlag { ref key, .. } if key == "label"),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with("--label was given on pouchd's command line")
                && text.contains(&format!("into the config file {file}")),
            "{text}"
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            r#"{"mtu": 1400}"#,
            "untouched"
        );
        // -D counts as --debug
        let cfg = parse(&["--config-file", &file, "-D"]).unwrap();
        let err = ConfigFile::of(&cfg)
            .set(&[("debug", serde_json::json!(false))])
            .unwrap_err();
        assert!(err.to_string().starts_with("--debug was given"), "{err}");
    }

    #[test]
    fn a_broken_file_is_not_overwritten() {
        let (_d, file) = with_file("{broken");
        let cf = ConfigFile {
            path: PathBuf::from(&file),
            command_line_keys: Vec::new(),
        };
        let err = cf.set(&[("debug", serde_json::json!(true))]).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "{broken");
    }
}
