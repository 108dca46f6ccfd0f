//! A real CNCF distribution registry (`/usr/bin/docker-registry`, Debian's build) started
//! for a test on a free loopback port with a filesystem store in a temporary directory,
//! optionally behind htpasswd basic auth or bearer-token auth. Killed and removed on drop.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::distribution::RegistryApi;
use crate::image::{Image, Index};

/// The registry binary the harness runs.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// How to start a registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Basic auth (htpasswd, bcrypt) with this user and password.
    pub htpasswd: Option<(String, String)>,
    /// Bearer-token auth (the registry's own `auth.token`); exclusive with `htpasswd`.
    pub token: Option<TokenAuth>,
}

/// The registry's `auth.token` settings: clients fetch tokens from `realm`, and the registry
/// accepts JWTs for `service` from `issuer` signed by a key of `root_cert_bundle`.
#[derive(Debug, Clone)]
pub struct TokenAuth {
    pub realm: String,
    pub service: String,
    pub issuer: String,
    /// PEM certificates whose keys sign the tokens.
    pub root_cert_bundle: PathBuf,
}

impl RegistryOptions {
    pub fn with_basic_auth(user: &str, password: &str) -> RegistryOptions {
        RegistryOptions {
            htpasswd: Some((user.to_string(), password.to_string())),
            ..RegistryOptions::default()
        }
    }

    pub fn with_token_auth(token: TokenAuth) -> RegistryOptions {
        RegistryOptions {
            token: Some(token),
            ..RegistryOptions::default()
        }
    }
}

/// A running registry.
pub struct Registry {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
    auth: Option<(String, String)>,
}

impl Registry {
    /// Starts a registry and waits until `/v2/` answers (200, or 401 with auth).
    pub fn start(opts: RegistryOptions) -> Result<Registry> {
        if opts.htpasswd.is_some() && opts.token.is_some() {
            bail!("registry options ask for both htpasswd and token auth: choose one");
        }
        let mut last_err = None;
        // A free port can be taken between probing and binding: try a few.
        for _ in 0..5 {
            match Registry::start_once(&opts) {
                Ok(r) => return Ok(r),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("registry did not start")))
    }

    fn start_once(opts: &RegistryOptions) -> Result<Registry> {
        let dir = tempfile::Builder::new()
            .prefix("pouch-e2e-registry-")
            .tempdir()
            .context("registry temp dir")?;
        let port = crate::free_port();
        let storage = dir.path().join("storage");
        fs::create_dir_all(&storage)?;
        let auth_yaml = match (&opts.htpasswd, &opts.token) {
            (Some((user, password)), _) => {
                let htpasswd = dir.path().join("htpasswd");
                write_htpasswd(&htpasswd, user, password)?;
                format!(
                    "auth:\n  htpasswd:\n    realm: pouch-test\n    path: {}\n",
                    htpasswd.display()
                )
            }
            (None, Some(t)) => format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    \
                 rootcertbundle: {}\n",
                t.realm,
                t.service,
                t.issuer,
                t.root_cert_bundle.display()
            ),
            (None, None) => String::new(),
        };
        let config = format!(
            "version: 0.1\n\
             log:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  \
             maintenance:\n    uploadpurging:\n      enabled: false\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: pouch-e2e-secret\n{auth_yaml}",
            storage.display()
        );
        let config_path = dir.path().join("config.yml");
        fs::write(&config_path, config)?;
        let log = fs::File::create(dir.path().join("registry.log"))?;
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot run {REGISTRY_BIN}"))?;
        let mut reg = Registry {
            child: Some(child),
            dir,
            port,
            auth: opts.htpasswd.clone(),
        };
        reg.wait_ready()?;
        Ok(reg)
    }

    fn wait_ready(&mut self) -> Result<()> {
        for _ in 0..200 {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    bail!(
                        "docker-registry exited with {status} on port {}: {}",
                        self.port,
                        self.log()
                    );
                }
            }
            if matches!(probe_v2(self.port), Some(200 | 401)) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "docker-registry on port {} did not answer /v2/ within 10s: {}",
            self.port,
            self.log()
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>` (the registry part of image names).
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port>` (for `--registry-mirror`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The basic-auth user and password, if any.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// A client for this registry, with its credentials when it has any.
    pub fn api(&self) -> RegistryApi {
        let api = RegistryApi::new(&self.url());
        match &self.auth {
            Some((u, p)) => api.with_basic(u, p),
            None => api,
        }
    }

    /// Pushes `image` as `repo:tag` (blocking: not from inside an async runtime).
    pub fn push(&self, repo: &str, tag: &str, image: &Image) -> Result<()> {
        crate::block_on(self.api().push_image(repo, tag, image))
    }

    /// Pushes a multi-platform `index` and its images as `repo:tag` (blocking: not from
    /// inside an async runtime).
    pub fn push_index(&self, repo: &str, tag: &str, index: &Index) -> Result<()> {
        crate::block_on(self.api().push_index(repo, tag, index))
    }

    /// The storage directory (for checks of what a push wrote).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The registry's log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The status `GET /v2/` gets from 127.0.0.1:`port`, or `None` while nothing answers. Plain
/// blocking HTTP rather than the harness runtime, so that a registry can be started from
/// synchronous tests and from async ones (`#[tokio::test]`) alike.
fn probe_v2(port: u16) -> Option<u16> {
    let timeout = Duration::from_secs(2);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut conn = TcpStream::connect_timeout(&addr, timeout).ok()?;
    conn.set_read_timeout(Some(timeout)).ok()?;
    conn.set_write_timeout(Some(timeout)).ok()?;
    write!(
        conn,
        "GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut status_line = String::new();
    BufReader::new(conn).read_line(&mut status_line).ok()?;
    status_line.split_whitespace().nth(1)?.parse().ok()
}

/// Writes an htpasswd file with one bcrypt entry (`htpasswd -Bbn`).
pub fn write_htpasswd(path: &Path, user: &str, password: &str) -> Result<()> {
    let out = Command::new("htpasswd")
        .args(["-Bbn", user, password])
        .output()
        .context("cannot run htpasswd (install apache2-utils)")?;
    if !out.status.success() {
        bail!(
            "htpasswd -Bbn failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    fs::write(path, &out.stdout)?;
    Ok(())
}
