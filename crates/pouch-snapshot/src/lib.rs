//! The overlayfs snapshotter: committed, read-only layer directories under
//! `<home>/snapshots/<chain-id-hex>/fs`, shared by every image whose layer chain matches.
//! A layer is unpacked into a private `tmp-*` directory and renamed into place on commit,
//! so a crash never leaves a half-written committed layer; `open` removes leftovers.
//! Containers get read-write snapshots `<home>/snapshots/rw-<container-id>/{fs,work}` (the
//! overlay upper and work dirs); the `rw-` prefix keeps them apart from layers.
//!
//! Disk quota: opened with a quota back end (`open_with_quota`), `rw-<id>` itself is made as
//! a quota directory (a btrfs subvolume, or a directory with a project id), so a rootfs limit
//! can be set on it at create or later (`update`). The quota directory holds both `fs` and
//! `work` because overlayfs copies up by renaming from the work dir into the upper dir, and
//! both btrfs (across subvolumes) and project quota (across project ids) refuse such renames
//! with EXDEV. The caller unmounts the overlay before `remove_rw`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pouch_quota::{Quota, QuotaError};

/// Errors of the snapshotter, naming the snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("invalid snapshot key {0:?} (expected sha256:<64 hex>)")]
    InvalidKey(String),
    #[error("snapshot {what}: {source}")]
    Quota { what: String, source: QuotaError },
    #[error("snapshot rw {id}: quota id {quota_id} given but disk quota is not available on this filesystem")]
    NoQuota { id: String, quota_id: u32 },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SnapshotError {
    let what = what.into();
    move |source| SnapshotError::Io { what, source }
}

/// Layer snapshots on one filesystem.
pub struct Snapshotter {
    root: PathBuf,
    quota: Option<Arc<dyn Quota>>,
}

/// A layer being unpacked; removed on drop unless committed.
pub struct PreparedLayer {
    dir: PathBuf,
    committed: bool,
}

impl PreparedLayer {
    /// The directory to unpack the layer into.
    pub fn fs_dir(&self) -> PathBuf {
        self.dir.join("fs")
    }
}

impl Drop for PreparedLayer {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Directory-name prefix of container read-write snapshots.
const RW_PREFIX: &str = "rw-";

/// A container's read-write layer: the overlay upper (`fs`) and work dirs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RwSnapshot {
    pub dir: PathBuf,
    pub upper: PathBuf,
    pub work: PathBuf,
}

fn key_hex(chain_id: &str) -> Result<&str, SnapshotError> {
    let hex = chain_id
        .strip_prefix("sha256:")
        .ok_or_else(|| SnapshotError::InvalidKey(chain_id.to_string()))?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SnapshotError::InvalidKey(chain_id.to_string()));
    }
    Ok(hex)
}

impl Snapshotter {
    /// Opens the snapshot root, creating it and removing unfinished layers of an earlier run.
    pub fn open(root: &Path) -> Result<Snapshotter, SnapshotError> {
        Snapshotter::open_with_quota(root, None)
    }

    /// `open`, with read-write snapshots made as quota directories of `quota`.
    pub fn open_with_quota(
        root: &Path,
        quota: Option<Arc<dyn Quota>>,
    ) -> Result<Snapshotter, SnapshotError> {
        fs::create_dir_all(root).map_err(io_err(format!("root {}", root.display())))?;
        for entry in fs::read_dir(root).map_err(io_err(format!("root {}", root.display())))? {
            let entry = entry.map_err(io_err("root entry"))?;
            if entry.file_name().to_string_lossy().starts_with("tmp-") {
                tracing::info!(dir = %entry.path().display(), "removing unfinished layer");
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        Ok(Snapshotter {
            root: root.to_path_buf(),
            quota,
        })
    }

    /// The quota back end read-write snapshots are made with, if any.
    pub fn quota(&self) -> Option<&Arc<dyn Quota>> {
        self.quota.as_ref()
    }

    /// Whether a committed layer exists for this chain id.
    pub fn exists(&self, chain_id: &str) -> bool {
        key_hex(chain_id)
            .map(|h| self.root.join(h).join("fs").is_dir())
            .unwrap_or(false)
    }

    /// A fresh private directory to unpack one layer into.
    pub fn prepare(&self) -> Result<PreparedLayer, SnapshotError> {
        let name = format!("tmp-{:016x}", rand::random::<u64>());
        let dir = self.root.join(name);
        fs::create_dir_all(dir.join("fs")).map_err(io_err(format!("prepare {}", dir.display())))?;
        Ok(PreparedLayer {
            dir,
            committed: false,
        })
    }

    /// Commits a prepared layer under its chain id. If another pull committed the same chain
    /// meanwhile, the prepared copy is discarded and the existing one kept.
    pub fn commit(&self, mut prepared: PreparedLayer, chain_id: &str) -> Result<(), SnapshotError> {
        let target = self.root.join(key_hex(chain_id)?);
        if target.join("fs").is_dir() {
            return Ok(());
        }
        fs::rename(&prepared.dir, &target).map_err(io_err(format!("commit {chain_id}")))?;
        prepared.committed = true;
        Ok(())
    }

    /// Removes a committed layer (no error when it does not exist).
    pub fn remove(&self, chain_id: &str) -> Result<(), SnapshotError> {
        let dir = self.root.join(key_hex(chain_id)?);
        // Rename first so a crash mid-removal leaves a tmp- dir that open() cleans up.
        let doomed = self
            .root
            .join(format!("tmp-rm-{:016x}", rand::random::<u64>()));
        match fs::rename(&dir, &doomed) {
            Ok(()) => fs::remove_dir_all(&doomed).map_err(io_err(format!("remove {chain_id}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(format!("remove {chain_id}"))(e)),
        }
    }

    /// The unpacked directory of a committed layer (an overlay lowerdir).
    pub fn layer_dir(&self, chain_id: &str) -> Result<PathBuf, SnapshotError> {
        Ok(self.root.join(key_hex(chain_id)?).join("fs"))
    }

    /// The read-write snapshot of container `id` (paths only; see `create_rw`).
    pub fn rw(&self, id: &str) -> Result<RwSnapshot, SnapshotError> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(SnapshotError::InvalidKey(id.to_string()));
        }
        let dir = self.root.join(format!("{RW_PREFIX}{id}"));
        Ok(RwSnapshot {
            upper: dir.join("fs"),
            work: dir.join("work"),
            dir,
        })
    }

    /// The overlay upper dir of container `id`'s read-write snapshot.
    pub fn rw_upper(&self, id: &str) -> PathBuf {
        self.root.join(format!("{RW_PREFIX}{id}")).join("fs")
    }

    /// The directory that carries container `id`'s rootfs quota (`rw-<id>`, holding the
    /// upper and work dirs): pass it to `Quota::set_limit`.
    pub fn rw_quota_dir(&self, id: &str) -> PathBuf {
        self.root.join(format!("{RW_PREFIX}{id}"))
    }

    /// Creates the read-write snapshot of container `id` (empty upper and work dirs); an
    /// existing one is kept (a remount after reboot).
    pub fn create_rw(&self, id: &str) -> Result<RwSnapshot, SnapshotError> {
        self.create_rw_with_quota_id(id, None)
    }

    /// `create_rw`, with a quota back end making `rw-<id>` a quota directory with project id
    /// `quota_id` (or a new one). A quota id without a back end is an error.
    pub fn create_rw_with_quota_id(
        &self,
        id: &str,
        quota_id: Option<u32>,
    ) -> Result<RwSnapshot, SnapshotError> {
        let rw = self.rw(id)?;
        match (&self.quota, quota_id) {
            (Some(q), _) if !rw.dir.exists() => {
                q.create_dir(&rw.dir, quota_id)
                    .map_err(|source| SnapshotError::Quota {
                        what: format!("rw {id}"),
                        source,
                    })?;
            }
            (None, Some(quota_id)) => {
                return Err(SnapshotError::NoQuota {
                    id: id.to_string(),
                    quota_id,
                })
            }
            _ => {}
        }
        for d in [&rw.upper, &rw.work] {
            fs::create_dir_all(d).map_err(io_err(format!("rw {id}")))?;
        }
        Ok(rw)
    }

    /// Removes the read-write snapshot of container `id` (absent is fine). Its overlay must
    /// be unmounted first.
    pub fn remove_rw(&self, id: &str) -> Result<(), SnapshotError> {
        let rw = self.rw(id)?;
        if let Some(q) = &self.quota {
            return q
                .remove_dir(&rw.dir)
                .map_err(|source| SnapshotError::Quota {
                    what: format!("remove rw {id}"),
                    source,
                });
        }
        match fs::remove_dir_all(&rw.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(io_err(format!("remove rw {id}"))(e))
            }
            _ => Ok(()),
        }
    }

    /// Bytes written by container `id` (its upper dir).
    pub fn rw_usage(&self, id: &str) -> u64 {
        let Ok(rw) = self.rw(id) else { return 0 };
        let mut seen = std::collections::HashSet::new();
        dir_size(&rw.upper, &mut seen).unwrap_or(0)
    }

    /// Committed chain ids on disk.
    pub fn list(&self) -> Result<Vec<String>, SnapshotError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(io_err("list"))? {
            let name = entry.map_err(io_err("list"))?.file_name();
            let name = name.to_string_lossy();
            if !name.starts_with("tmp-") && !name.starts_with(RW_PREFIX) {
                out.push(format!("sha256:{name}"));
            }
        }
        Ok(out)
    }

    /// Bytes a committed layer uses (apparent file sizes, each hard-linked inode once).
    pub fn usage(&self, chain_id: &str) -> Result<u64, SnapshotError> {
        let mut seen = std::collections::HashSet::new();
        dir_size(&self.layer_dir(chain_id)?, &mut seen).map_err(io_err(format!("usage {chain_id}")))
    }
}

fn dir_size(dir: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            total += dir_size(&entry.path(), seen)?;
        } else if meta.is_file() && (meta.nlink() == 1 || seen.insert((meta.dev(), meta.ino()))) {
            total += meta.len();
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rw_snapshots_are_not_layers() {
        let dir = tempfile::tempdir().unwrap();
        let s = Snapshotter::open(dir.path()).unwrap();
        let id = "a".repeat(64);
        let rw = s.create_rw(&id).unwrap();
        assert!(rw.upper.is_dir() && rw.work.is_dir());
        std::fs::write(rw.upper.join("f"), "12345").unwrap();
        assert_eq!(s.rw_usage(&id), 5);
        assert!(
            s.list().unwrap().is_empty(),
            "a container layer listed as an image layer"
        );
        assert!(s.rw("../x").is_err());
        s.remove_rw(&id).unwrap();
        assert!(!rw.dir.exists());
        s.remove_rw(&id).unwrap();
    }

    const K: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn prepare_commit_remove() {
        let dir = tempfile::tempdir().unwrap();
        let s = Snapshotter::open(dir.path()).unwrap();
        let p = s.prepare().unwrap();
        fs::write(p.fs_dir().join("f"), b"hello").unwrap();
        assert!(!s.exists(K));
        s.commit(p, K).unwrap();
        assert!(s.exists(K));
        assert_eq!(s.usage(K).unwrap(), 5);
        assert_eq!(s.list().unwrap(), vec![K.to_string()]);
        s.remove(K).unwrap();
        assert!(!s.exists(K));
        s.remove(K).unwrap();
    }

    #[test]
    fn dropped_prepare_and_leftovers_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let s = Snapshotter::open(dir.path()).unwrap();
        let p = s.prepare().unwrap();
        let path = p.fs_dir();
        drop(p);
        assert!(!path.exists());
        fs::create_dir_all(dir.path().join("tmp-left/fs")).unwrap();
        Snapshotter::open(dir.path()).unwrap();
        assert!(!dir.path().join("tmp-left").exists());
    }

    #[test]
    fn quota_id_without_a_back_end_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = Snapshotter::open(dir.path()).unwrap();
        let id = "b".repeat(64);
        assert!(s.quota().is_none());
        let e = s.create_rw_with_quota_id(&id, Some(7)).unwrap_err();
        assert!(e.to_string().contains("quota id 7"), "{e}");
        assert!(!s.rw(&id).unwrap().dir.exists());
        let rw = s.create_rw_with_quota_id(&id, None).unwrap();
        assert_eq!(rw.upper, s.rw_upper(&id));
        assert_eq!(rw.dir, s.rw_quota_dir(&id));
    }

    #[test]
    fn bad_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = Snapshotter::open(dir.path()).unwrap();
        assert!(s.layer_dir("../etc").is_err());
        assert!(s.remove("sha256:..").is_err());
    }
}
