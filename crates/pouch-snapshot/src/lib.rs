//! The overlayfs snapshotter: committed, read-only layer directories under
//! `<home>/snapshots/<chain-id-hex>/fs`, shared by every image whose layer chain matches.
//! A layer is unpacked into a private `tmp-*` directory and renamed into place on commit,
//! so a crash never leaves a half-written committed layer; `open` removes leftovers.
//! Containers get read-write snapshots `<home>/snapshots/rw-<container-id>/{fs,work}` (the
//! overlay upper and work dirs); the `rw-` prefix keeps them apart from layers. (Disk quota
//! comes with the volumes issue.)

use std::fs;
use std::path::{Path, PathBuf};

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
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SnapshotError {
    let what = what.into();
    move |source| SnapshotError::Io { what, source }
}

/// Layer snapshots on one filesystem.
pub struct Snapshotter {
    root: PathBuf,
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
        })
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

    /// Creates the read-write snapshot of container `id` (empty upper and work dirs).
    pub fn create_rw(&self, id: &str) -> Result<RwSnapshot, SnapshotError> {
        let rw = self.rw(id)?;
        for d in [&rw.upper, &rw.work] {
            fs::create_dir_all(d).map_err(io_err(format!("rw {id}")))?;
        }
        Ok(rw)
    }

    /// Removes the read-write snapshot of container `id` (absent is fine).
    pub fn remove_rw(&self, id: &str) -> Result<(), SnapshotError> {
        let rw = self.rw(id)?;
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
    fn bad_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = Snapshotter::open(dir.path()).unwrap();
        assert!(s.layer_dir("../etc").is_err());
        assert!(s.remove("sha256:..").is_err());
    }
}
