//! The end-to-end test harness of Pouch. It owns everything a test needs around a real
//! `pouchd`, and none of it reuses Pouch's own code, so a bug there cannot hide itself:
//! - [`registry`]: a real `docker-registry` (CNCF distribution) on a free loopback port;
//! - [`distribution`]: a small registry client that pushes images over plain HTTP;
//! - [`image`] and [`fixtures`]: test images built offline (busybox from busybox-static,
//!   whiteouts, zstd, multi-arch, large random, hostile layers);
//! - [`proxy`]: a tampering/throttling proxy and a token-auth proxy in front of a registry;
//! - [`daemon`]: a `pouchd` on temporary directories with `pouch` and `docker` runners;
//! - [`cmd`]: running commands with a timeout, capturing their output;
//! - [`lxcfs`]: an lxcfs of one test, restartable, always unmounted;
//! - [`debian`] and [`ssh`]: the Debian image with systemd and sshd (debootstrap, cached),
//!   and logging in to containers over ssh;
//! - [`http`]: raw HTTP requests to pouchd's socket;
//! - [`setup`]: the set-ups the end-to-end tests share.
//!
//! Tests skip (print why and return) when they cannot run: not root, or a binary missing.

pub mod bench;
pub mod cmd;
pub mod daemon;
pub mod debian;
pub mod distribution;
pub mod fixtures;
pub mod http;
pub mod image;
pub mod loopfs;
pub mod lxcfs;
pub mod netenv;
pub mod procs;
pub mod proxy;
pub mod pty;
pub mod registry;
pub mod setup;
pub mod ssh;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use cmd::CmdOutput;
pub use daemon::{Daemon, DaemonOptions};
pub use registry::{Registry, RegistryOptions, TokenAuth};

/// The tokio runtime the harness's async parts (proxies, registry client) run on.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pouch-e2e")
            .enable_all()
            .build()
            .expect("cannot build the harness tokio runtime")
    })
}

/// `expect` for harness results that prints the error chain without a backtrace.
pub trait Must<T> {
    fn must(self, what: &str) -> T;
}

impl<T> Must<T> for anyhow::Result<T> {
    #[track_caller]
    fn must(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{what}: {e:#}"),
        }
    }
}

/// Runs a future on the harness runtime from synchronous test code.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    runtime().block_on(f)
}

/// A free TCP port on 127.0.0.1 (bound then released; the caller binds it next).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port");
    l.local_addr().expect("loopback port address").port()
}

/// A loopback port nobody listens on (for "dead mirror" tests).
pub fn dead_port() -> u16 {
    free_port()
}

/// Polls `f` every 50 ms until it returns `Some`, or `None` after `timeout`.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Prints why a test is skipped, straight to stderr so that the test harness's output
/// capture does not hide it (scripts/test.sh lists these lines).
pub fn skip(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {why}");
}

/// Whether the test process runs as root; prints why a test is skipped when not.
pub fn require_root(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    skip(
        test,
        "needs root (pouchd creates whiteout devices and trusted.* xattrs)",
    );
    false
}

/// Where the `pouchd` and `pouch` binaries are: `$POUCH_BIN_DIR`, else the cargo profile
/// directory of the running test binary (`target/debug/deps/x` -> `target/debug`).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("POUCH_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("current_exe of the test binary");
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    dir
}

/// Paths of the Pouch binaries under test.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub pouchd: PathBuf,
    pub pouch: PathBuf,
}

/// Finds `pouchd` and `pouch`; prints why the test is skipped when one is missing.
pub fn require_binaries(test: &str) -> Option<Binaries> {
    let dir = bin_dir();
    let b = Binaries {
        pouchd: dir.join("pouchd"),
        pouch: dir.join("pouch"),
    };
    for p in [&b.pouchd, &b.pouch] {
        if !p.is_file() {
            skip(
                test,
                &format!(
                    "{} not found (run `cargo build -p pouchd -p pouch-cli` first, \
                     or set POUCH_BIN_DIR)",
                    p.display()
                ),
            );
            return None;
        }
    }
    Some(b)
}

/// Whether `/usr/bin/docker-registry` is installed; prints why a test is skipped when not.
pub fn require_registry(test: &str) -> bool {
    if Path::new(registry::REGISTRY_BIN).is_file() {
        return true;
    }
    skip(
        test,
        &format!(
            "{} not installed (run scripts/install-deps.sh)",
            registry::REGISTRY_BIN
        ),
    );
    false
}

/// Whether the docker CLI is installed; prints why a test is skipped when not.
pub fn require_docker_cli(test: &str) -> bool {
    if daemon::docker_cli().is_some() {
        return true;
    }
    skip(test, "the docker CLI is not installed");
    false
}

/// Everything a pouchd end-to-end test needs: root, the binaries and docker-registry.
pub fn require_e2e(test: &str) -> bool {
    require_root(test) && require_registry(test) && require_binaries(test).is_some()
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// The hex part of a `sha256:<hex>` digest.
pub fn digest_hex(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// Chain ids of a list of diff ids (OCI image spec): the snapshot keys of an image's layers.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => sha256_digest(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_oci_rule() {
        let a = sha256_digest(b"a");
        let b = sha256_digest(b"b");
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        assert_eq!(ids[1], sha256_digest(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn bin_dir_strips_deps() {
        if std::env::var_os("POUCH_BIN_DIR").is_none() {
            assert_ne!(bin_dir().file_name().unwrap(), "deps");
        }
    }
}
