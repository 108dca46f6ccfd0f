//! ssh into containers from the host: a throwaway ed25519 key pair, an `authorized_keys`
//! directory to bind-mount at /root/.ssh, `ssh` as root with options for throwaway hosts,
//! and waits for port 22 and for a login.

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cmd::{self, CmdOutput};

/// The options every [`ssh`] call passes: no host key checks (every container has the same
/// throwaway keys, at a reused address), no prompts, a short connect timeout.
pub const SSH_OPTIONS: &[&str] = &[
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "ConnectTimeout=5",
    "-o",
    "LogLevel=ERROR",
];

/// An ed25519 key pair (no passphrase) made by `ssh-keygen` in a private temporary
/// directory, removed on drop.
pub struct SshKey {
    _dir: tempfile::TempDir,
    /// The private key file (mode 0600), for `ssh -i`.
    pub private: PathBuf,
    /// The public key file.
    pub public: PathBuf,
}

impl SshKey {
    /// Generates the pair.
    pub fn generate() -> Result<SshKey> {
        let dir = tempfile::Builder::new()
            .prefix("pouch-e2e-sshkey-")
            .tempdir()
            .context("ssh key temp dir")?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700))?;
        let private = dir.path().join("id_ed25519");
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "pouch-e2e", "-f"])
            .arg(&private)
            .stdin(Stdio::null())
            .output()
            .context("cannot run ssh-keygen (install openssh-client)")?;
        if !out.status.success() {
            bail!(
                "ssh-keygen -t ed25519 failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(SshKey {
            public: dir.path().join("id_ed25519.pub"),
            private,
            _dir: dir,
        })
    }

    /// The public key line (`ssh-ed25519 AAAA... pouch-e2e`).
    pub fn public_key(&self) -> Result<String> {
        Ok(fs::read_to_string(&self.public)
            .with_context(|| format!("cannot read {}", self.public.display()))?
            .trim()
            .to_string())
    }

    /// A directory to bind-mount at `/root/.ssh`: see [`authorized_keys_dir`].
    pub fn authorized_keys_dir(&self) -> Result<tempfile::TempDir> {
        authorized_keys_dir(&[&self.public_key()?])
    }
}

/// A temporary directory (root-owned, mode 0700) holding `authorized_keys` (root-owned, mode
/// 0600) with `public_keys`, one per line, as sshd's StrictModes wants it: bind-mount it at
/// `/root/.ssh` (`-v <dir>:/root/.ssh`). Removed on drop.
pub fn authorized_keys_dir(public_keys: &[&str]) -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("pouch-e2e-root-ssh-")
        .tempdir()
        .context("authorized_keys temp dir")?;
    let file = dir.path().join("authorized_keys");
    let mut text = String::new();
    for k in public_keys {
        text.push_str(k.trim());
        text.push('\n');
    }
    fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
    for (p, mode) in [(dir.path(), 0o700), (file.as_path(), 0o600)] {
        std::os::unix::fs::chown(p, Some(0), Some(0))
            .with_context(|| format!("cannot chown {} to root", p.display()))?;
        fs::set_permissions(p, fs::Permissions::from_mode(mode))?;
    }
    Ok(dir)
}

/// How long one [`ssh`] may take.
pub const SSH_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `command` as root on `ip` over ssh with `key` (the private key file) and
/// [`SSH_OPTIONS`]; killed after [`SSH_TIMEOUT`]. Exit code 255 is ssh's own failure.
pub fn ssh(ip: &str, key: &Path, command: &str) -> CmdOutput {
    let mut c = Command::new("ssh");
    c.args(SSH_OPTIONS)
        .arg("-i")
        .arg(key)
        .arg(format!("root@{ip}"))
        .arg(command);
    cmd::run(c, None, SSH_TIMEOUT)
}

/// Waits until `ip:port` accepts TCP connections, at most `timeout`.
pub fn wait_for_port(ip: &str, port: u16, timeout: Duration) -> Result<()> {
    let addr: SocketAddr = format!("{ip}:{port}")
        .parse()
        .with_context(|| format!("{ip}:{port} is not an IP address and port"))?;
    let deadline = Instant::now() + timeout;
    let mut last = None;
    while Instant::now() < deadline {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "nothing accepted connections on {addr} within {timeout:?} (last error: {})",
        last.map(|e| e.to_string()).unwrap_or_else(|| "none".into())
    )
}

/// Waits until port 22 of `ip` accepts connections and `ssh ... true` logs in with `key`,
/// at most `timeout` in all: sshd can listen a moment before logins work.
pub fn wait_for_ssh(ip: &str, key: &Path, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    wait_for_port(ip, 22, timeout)?;
    loop {
        let out = ssh(ip, key, "true");
        if out.success() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("ssh root@{ip} did not log in within {timeout:?}: {out}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
