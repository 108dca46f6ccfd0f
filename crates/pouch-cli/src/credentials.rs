//! Registry credentials in Docker's `config.json` format, kept at `~/.pouch/config.json`:
//! `{"auths":{"<server>":{"auth":"base64(user:pass)"}}}`. Docker Hub is stored under
//! `https://index.docker.io/v1/`, other registries under their `host[:port]`. Keys other than
//! the entries we write are preserved.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use pouch_api::reference::DEFAULT_REGISTRY;
use pouch_api::system::AuthConfig;
use serde_json::{Map, Value};

/// The key Docker Hub credentials are stored under.
pub const INDEX_SERVER: &str = "https://index.docker.io/v1/";

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot locate the credentials file: $HOME is not set")]
    NoHome,
    #[error("cannot read credentials file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("credentials file {path} is not valid JSON ({source}); fix or remove it")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("credentials file {path} is not a JSON object; fix or remove it")]
    NotObject { path: PathBuf },
    #[error("cannot write credentials file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid stored credentials for {server} in {path}: {reason}; log in again")]
    BadAuth {
        server: String,
        path: PathBuf,
        reason: String,
    },
}

/// `$HOME/.pouch/config.json`.
pub fn default_path() -> Result<PathBuf, CredentialsError> {
    match std::env::var_os("HOME") {
        Some(home) if !home.is_empty() => {
            Ok(PathBuf::from(home).join(".pouch").join("config.json"))
        }
        _ => Err(CredentialsError::NoHome),
    }
}

/// docker's `ConvertToHostname`: strips a scheme and any path.
pub fn convert_to_hostname(server: &str) -> String {
    let s = server
        .strip_prefix("http://")
        .or_else(|| server.strip_prefix("https://"))
        .unwrap_or(server);
    s.split('/').next().unwrap_or(s).to_string()
}

/// The key credentials for `server` (as typed to `login`/`logout`, or a reference's registry)
/// are stored under.
pub fn server_key(server: &str) -> String {
    let host = convert_to_hostname(server.trim());
    match host.as_str() {
        ""
        | DEFAULT_REGISTRY
        | "index.docker.io"
        | "registry-1.docker.io"
        | "registry.hub.docker.com" => INDEX_SERVER.to_string(),
        _ => host,
    }
}

/// A credentials file, loaded in full so that unknown keys survive a rewrite.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    path: PathBuf,
    root: Map<String, Value>,
}

impl CredentialStore {
    /// Loads `path`; a missing file is an empty store.
    pub fn load(path: &Path) -> Result<CredentialStore, CredentialsError> {
        let root = match fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => map,
                Ok(_) => {
                    return Err(CredentialsError::NotObject {
                        path: path.to_path_buf(),
                    })
                }
                Err(source) => {
                    return Err(CredentialsError::Parse {
                        path: path.to_path_buf(),
                        source,
                    })
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(source) => {
                return Err(CredentialsError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        Ok(CredentialStore {
            path: path.to_path_buf(),
            root,
        })
    }

    fn auths(&self) -> Option<&Map<String, Value>> {
        self.root.get("auths").and_then(Value::as_object)
    }

    /// The stored key matching `key`, exactly or by hostname (as docker's file store does).
    fn find_key(&self, key: &str) -> Option<String> {
        let auths = self.auths()?;
        if auths.contains_key(key) {
            return Some(key.to_string());
        }
        let wanted = server_key(key);
        auths.keys().find(|k| server_key(k) == wanted).cloned()
    }

    /// The credentials for a server key (see [`server_key`]), if any.
    pub fn get(&self, key: &str) -> Result<Option<AuthConfig>, CredentialsError> {
        let Some(found) = self.find_key(key) else {
            return Ok(None);
        };
        let entry = &self.auths().expect("found in auths")[&found];
        let field = |name: &str| {
            entry
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let bad = |reason: &str| CredentialsError::BadAuth {
            server: found.clone(),
            path: self.path.clone(),
            reason: reason.to_string(),
        };
        let mut config = AuthConfig {
            serveraddress: found.clone(),
            identitytoken: field("identitytoken"),
            ..Default::default()
        };
        let auth = field("auth");
        if !auth.is_empty() {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| bad("auth is not base64"))?;
            let text = String::from_utf8(decoded).map_err(|_| bad("auth is not UTF-8"))?;
            let (user, pass) = text
                .split_once(':')
                .ok_or_else(|| bad("auth is not user:password"))?;
            config.username = user.to_string();
            config.password = pass.to_string();
        } else {
            config.username = field("username");
            config.password = field("password");
        }
        Ok(Some(config))
    }

    /// Records credentials under `key`; with an identity token the password is not kept.
    pub fn store(&mut self, key: &str, username: &str, password: &str, identity_token: &str) {
        let password = if identity_token.is_empty() {
            password
        } else {
            ""
        };
        let auth =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        let mut entry = Map::new();
        entry.insert("auth".into(), Value::String(auth));
        if !identity_token.is_empty() {
            entry.insert(
                "identitytoken".into(),
                Value::String(identity_token.to_string()),
            );
        }
        if let Some(old) = self.find_key(key) {
            if old != key {
                self.auths_mut().remove(&old);
            }
        }
        self.auths_mut()
            .insert(key.to_string(), Value::Object(entry));
    }

    /// Removes the credentials for `key`; false when there were none.
    pub fn erase(&mut self, key: &str) -> bool {
        match self.find_key(key) {
            Some(found) => {
                self.auths_mut().remove(&found);
                true
            }
            None => false,
        }
    }

    fn auths_mut(&mut self) -> &mut Map<String, Value> {
        let entry = self
            .root
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        entry.as_object_mut().expect("just made an object")
    }

    /// Writes the file (mode 0600, directory 0700) through a temporary file and a rename.
    pub fn save(&self) -> Result<(), CredentialsError> {
        let write_err = |source| CredentialsError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        if !dir.as_os_str().is_empty() && !dir.exists() {
            fs::create_dir_all(dir).map_err(write_err)?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(write_err)?;
        }
        let mut text = serde_json::to_string_pretty(&Value::Object(self.root.clone()))
            .map_err(|e| write_err(std::io::Error::other(e)))?;
        text.push('\n');
        let file_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "config.json".into());
        let tmp = dir.join(format!(".{file_name}.tmp{}", std::process::id()));
        let result = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(write_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(server_key(""), INDEX_SERVER);
        assert_eq!(server_key("docker.io"), INDEX_SERVER);
        assert_eq!(server_key("https://index.docker.io/v1/"), INDEX_SERVER);
        assert_eq!(server_key("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(server_key("https://reg.example.com/v2/"), "reg.example.com");
    }

    #[test]
    fn write_read_erase_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("config.json");
        let mut store = CredentialStore::load(&path).unwrap();
        assert!(store.get("127.0.0.1:5000").unwrap().is_none());
        store.store("127.0.0.1:5000", "alice", "s3:cret", "");
        store.store(INDEX_SERVER, "bob", "pw", "");
        store.save().unwrap();

        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let raw: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            raw["auths"]["127.0.0.1:5000"]["auth"],
            base64::engine::general_purpose::STANDARD.encode("alice:s3:cret")
        );
        assert!(raw["auths"][INDEX_SERVER]["auth"].is_string());

        let store = CredentialStore::load(&path).unwrap();
        let a = store.get("127.0.0.1:5000").unwrap().unwrap();
        assert_eq!(a.username, "alice");
        assert_eq!(a.password, "s3:cret");
        assert_eq!(a.serveraddress, "127.0.0.1:5000");
        let b = store.get(&server_key("docker.io")).unwrap().unwrap();
        assert_eq!(b.username, "bob");

        let mut store = store;
        assert!(store.erase("127.0.0.1:5000"));
        assert!(!store.erase("127.0.0.1:5000"));
        store.save().unwrap();
        let store = CredentialStore::load(&path).unwrap();
        assert!(store.get("127.0.0.1:5000").unwrap().is_none());
        assert!(store.get(INDEX_SERVER).unwrap().is_some());
    }

    #[test]
    fn keeps_unknown_keys_and_matches_by_hostname() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        fs::write(
            &path,
            r#"{"auths":{"https://reg.example.com/v2/":{"auth":"dTpw"}},"credsStore":"x"}"#,
        )
        .unwrap();
        let mut store = CredentialStore::load(&path).unwrap();
        let a = store.get("reg.example.com").unwrap().unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str()), ("u", "p"));
        store.store("reg.example.com", "u2", "p2", "tok");
        store.save().unwrap();
        let raw: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(raw["credsStore"], "x");
        assert!(raw["auths"].get("https://reg.example.com/v2/").is_none());
        assert_eq!(raw["auths"]["reg.example.com"]["identitytoken"], "tok");
        let a = CredentialStore::load(&path)
            .unwrap()
            .get("reg.example.com")
            .unwrap()
            .unwrap();
        assert_eq!(a.username, "u2");
        assert_eq!(a.password, "");
        assert_eq!(a.identitytoken, "tok");
    }

    #[test]
    fn reports_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            CredentialStore::load(&path),
            Err(CredentialsError::Parse { .. })
        ));
        fs::write(&path, r#"{"auths":{"h":{"auth":"!!!"}}}"#).unwrap();
        let store = CredentialStore::load(&path).unwrap();
        assert!(matches!(
            store.get("h"),
            Err(CredentialsError::BadAuth { .. })
        ));
    }
}
