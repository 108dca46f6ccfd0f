//! `ImageManager`: the image subsystem's one entry point. It owns the image records
//! (`IMAGES`, keyed by image id = config digest, and `REFS`, full reference -> image id),
//! the content store under `<home>/content` and the layer snapshots under
//! `<home>/snapshots`, and implements pull, push, list/inspect/history, tag, remove with
//! garbage collection, prune, save/load, import and disk usage on top of them.
//!
//! Concurrency: every change to the records, and every garbage collection, happens under
//! one mutex (`state`). An operation that writes blobs or snapshots before its record exists
//! (pull, load, import) first registers their digests and chain ids as in flight under that
//! mutex, so a concurrent collection never removes them; the registration is dropped once
//! the record is written (or the operation failed). The changes of one operation are one
//! `Batch`, so one commit.
//!
//! Files: `record.rs` (record types and reference keys), `resolve.rs` (name lookup),
//! `pull.rs`, `push.rs`, `list.rs` (list, inspect, history, disk usage), `filter.rs`
//! (Docker's filter semantics), `remove.rs` (remove, prune, GC), `archive.rs` (save, load),
//! `import.rs`, `layers.rs` (unpacking stored blobs into snapshots), `manifest.rs`
//! (manifests, indexes, configs), `progress.rs` (JSON progress lines).

mod archive;
mod filter;
mod import;
mod layers;
mod list;
mod manifest;
mod progress;
mod pull;
mod push;
mod record;
mod remove;
mod resolve;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use pouch_api::system::{AuthConfig, AuthResponse};
use pouch_snapshot::Snapshotter;
use pouch_store::Store;

use crate::content::ContentStore;
use crate::error::ImageError;
use crate::registry::{Credentials, RegistryClient, RegistryConfig};

/// What the image manager needs to start.
pub struct ImageManagerConfig {
    /// The daemon's home directory; the manager uses `content/` and `snapshots/` below it.
    pub home: PathBuf,
    /// Mirrors and insecure registries.
    pub registry: RegistryConfig,
    /// Layers downloaded (and pushed) at the same time by one pull (push); at least 1.
    pub max_concurrent_downloads: usize,
}

/// The image subsystem; see the module header.
pub struct ImageManager {
    store: Arc<Store>,
    content: ContentStore,
    snapshots: Snapshotter,
    registry: RegistryClient,
    max_concurrent_downloads: usize,
    state: Mutex<State>,
}

/// What the manager's mutex protects besides the record updates themselves.
#[derive(Default)]
struct State {
    /// Blob digests and chain ids written by running operations whose records do not exist
    /// yet, with how many operations hold each.
    inflight: HashMap<String, usize>,
}

/// Digests and chain ids an operation holds in flight; released on drop.
struct Inflight<'a> {
    state: &'a Mutex<State>,
    keys: Vec<String>,
}

impl Inflight<'_> {
    /// Adds `key`; the caller holds the state lock (`st`).
    fn add(&mut self, st: &mut State, key: &str) {
        *st.inflight.entry(key.to_string()).or_default() += 1;
        self.keys.push(key.to_string());
    }
}

impl Drop for Inflight<'_> {
    fn drop(&mut self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for key in self.keys.drain(..) {
            if let Some(n) = st.inflight.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    st.inflight.remove(&key);
                }
            }
        }
    }
}

impl ImageManager {
    /// Opens the content store (emptying its ingest directory) and the snapshotter
    /// (removing unfinished layers), and checks that every record's blobs and snapshots
    /// are present, logging a warning for those that are not.
    pub fn open(
        cfg: ImageManagerConfig,
        store: Arc<Store>,
    ) -> Result<Arc<ImageManager>, ImageError> {
        // A bad mirror or insecure entry is refused here rather than skipped later.
        cfg.registry.validate()?;
        let content = ContentStore::open(&cfg.home.join("content"))?;
        let snapshots = Snapshotter::open(&cfg.home.join("snapshots"))?;
        let manager = ImageManager {
            store,
            content,
            snapshots,
            registry: RegistryClient::new(cfg.registry),
            max_concurrent_downloads: cfg.max_concurrent_downloads.max(1),
            state: Mutex::new(State::default()),
        };
        manager.check_records()?;
        Ok(Arc::new(manager))
    }

    /// The mirrors and insecure registries pulls and pushes use now.
    pub fn registry_config(&self) -> RegistryConfig {
        self.registry.config()
    }

    /// Replaces the mirrors and insecure registries for the pulls, pushes and logins that
    /// start from now on (running ones keep theirs). A bad entry is refused, naming it, and
    /// nothing changes.
    pub fn set_registry_config(&self, cfg: RegistryConfig) -> Result<(), ImageError> {
        self.registry.reconfigure(cfg)
    }

    /// `POST /auth`: checks the credentials against the registry `serveraddress` names
    /// (Docker Hub when empty).
    pub async fn login(&self, auth: &AuthConfig) -> Result<AuthResponse, ImageError> {
        self.registry
            .login(&auth.serveraddress, Credentials::from(auth))
            .await?;
        Ok(AuthResponse {
            status: "Login Succeeded".to_string(),
            identity_token: String::new(),
        })
    }

    /// The state lock; record updates and garbage collection hold it.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An empty in-flight registration to add to under the lock.
    fn inflight(&self) -> Inflight<'_> {
        Inflight {
            state: &self.state,
            keys: Vec::new(),
        }
    }

    /// Registers `keys` as in flight at once.
    fn hold<'k>(&self, keys: impl IntoIterator<Item = &'k String>) -> Inflight<'_> {
        let mut held = self.inflight();
        let mut st = self.lock();
        for key in keys {
            held.add(&mut st, key);
        }
        held
    }

    fn check_records(&self) -> Result<(), ImageError> {
        for rec in self.records()? {
            let blobs = [&rec.manifest_digest, &rec.config_digest]
                .into_iter()
                .chain(rec.layers.iter().map(|l| &l.digest));
            for digest in blobs {
                if !self.content.exists(digest) {
                    tracing::warn!(image = %rec.id, blob = %digest, "image blob is missing from the content store; pull or load the image again");
                }
            }
            for chain in &rec.chain_ids {
                if !self.snapshots.exists(chain) {
                    tracing::warn!(image = %rec.id, snapshot = %chain, "image layer snapshot is missing; pull or load the image again");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Helpers for the manager's unit tests: a manager in a temp dir and rootfs tarballs.

    use super::*;
    use std::io::Write;

    pub(crate) struct TestManager {
        pub dir: tempfile::TempDir,
        pub mgr: Arc<ImageManager>,
    }

    pub(crate) fn manager() -> TestManager {
        let dir = tempfile::tempdir().unwrap();
        let mgr = open_in(dir.path());
        TestManager { dir, mgr }
    }

    pub(crate) fn open_in(home: &std::path::Path) -> Arc<ImageManager> {
        let store = Arc::new(Store::open(&home.join("pouch.redb")).unwrap());
        ImageManager::open(
            ImageManagerConfig {
                home: home.to_path_buf(),
                registry: RegistryConfig::default(),
                max_concurrent_downloads: 3,
            },
            store,
        )
        .unwrap()
    }

    /// A plain tar with the given (path, content) files and their parent directories.
    pub(crate) fn rootfs_tar(files: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut dirs = std::collections::BTreeSet::new();
        for (path, _) in files {
            let mut p = std::path::Path::new(path).parent();
            while let Some(d) = p {
                if !d.as_os_str().is_empty() {
                    dirs.insert(d.to_path_buf());
                }
                p = d.parent();
            }
        }
        for d in dirs {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            h.set_mtime(1_700_000_000);
            b.append_data(&mut h, &d, std::io::empty()).unwrap();
        }
        for (path, content) in files {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_size(content.len() as u64);
            h.set_mtime(1_700_000_000);
            b.append_data(&mut h, path, content.as_bytes()).unwrap();
        }
        b.into_inner().unwrap()
    }

    pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Imports a one-file image and returns its id.
    pub(crate) fn import(mgr: &ImageManager, content: &str, reference: Option<&str>) -> String {
        let tar = rootfs_tar(&[("etc/hello", content)]);
        mgr.import(&mut tar.as_slice(), reference, "", &[]).unwrap()
    }
}
