//! The set-ups end-to-end tests share: the skip checks in one call, a registry serving
//! busybox as `library/busybox:latest` (so a pouchd with it as `--registry-mirror` resolves
//! `busybox` the way a connected machine resolves `docker.io/library/busybox`), a registry
//! behind a proxy that corrupts one blob, and a guard that removes host paths a test created,
//! even when the test fails.

use std::path::PathBuf;

use crate::image::Image;
use crate::proxy::{Corrupt, Proxy, TamperOptions};
use crate::{fixtures, Binaries, Daemon, DaemonOptions, Must, Registry, RegistryOptions};

/// Root, docker-registry and the Pouch binaries, or `None` (with the reason printed).
pub fn e2e(test: &str) -> Option<Binaries> {
    if !crate::require_root(test) || !crate::require_registry(test) {
        return None;
    }
    crate::require_binaries(test)
}

/// A registry (options as given) with busybox pushed as `library/busybox:latest`.
pub fn busybox_registry(opts: RegistryOptions) -> Registry {
    let reg = Registry::start(opts).must("start docker-registry");
    reg.push("library/busybox", "latest", fixtures::busybox())
        .must("push busybox");
    reg
}

/// A busybox registry and a pouchd that uses it as its only mirror.
pub fn busybox_mirror(bins: &Binaries) -> (Registry, Daemon) {
    let reg = busybox_registry(RegistryOptions::default());
    let d = Daemon::start(bins, DaemonOptions::with_mirror(&reg.url())).must("start pouchd");
    (reg, d)
}

/// A registry with [`fixtures::corruptible`] pushed as `test/corrupt:latest`, behind a
/// tampering proxy that flips one byte of its target blob: (registry, proxy, image, digest of
/// the corrupted blob).
pub fn corrupting_proxy() -> (Registry, Proxy, Image, String) {
    let reg = Registry::start(RegistryOptions::default()).must("start docker-registry");
    let (img, target) = fixtures::corruptible();
    reg.push("test/corrupt", "latest", &img)
        .must("push to the registry");
    let proxy = Proxy::tamper(
        &reg.url(),
        TamperOptions {
            corrupt: Corrupt::Blob(target.clone()),
            throttle: None,
        },
    )
    .must("start the proxy");
    (reg, proxy, img, target)
}

/// A pouchd with default options.
pub fn daemon(bins: &Binaries) -> Daemon {
    Daemon::start(bins, DaemonOptions::default()).must("start pouchd")
}

/// A short random hex tag for host paths unique to one run.
pub fn unique_tag() -> String {
    use rand::RngCore;
    let mut b = [0u8; 6];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Removes the listed host paths (files or directories) when dropped.
#[derive(Default)]
pub struct Cleanup(pub Vec<PathBuf>);

impl Cleanup {
    pub fn add(&mut self, p: impl Into<PathBuf>) {
        self.0.push(p.into());
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            if p.is_dir() && !p.is_symlink() {
                let _ = std::fs::remove_dir_all(p);
            } else {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}
