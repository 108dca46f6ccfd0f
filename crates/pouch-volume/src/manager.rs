//! The volume manager: volume records (table `volumes`, one JSON value per name), their data
//! (`<root>/<name>/_data` for `local`, a quota dir when a quota back end exists; a tmpfs at
//! `<exec-root>/volumes/<name>` for `tmpfs`), and counted mounts: a tmpfs volume or a local
//! volume with a `device` is mounted by its first user and unmounted after its last.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use pouch_quota::Quota;
use pouch_store::Store;
use serde::{Deserialize, Serialize};

use crate::options::{check_options, size, tmpfs_data, validate_name};
use crate::{VolumeError, ANONYMOUS_LABEL, VOLUMES};

/// A volume record (table `volumes`, keyed by name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub name: String,
    pub driver: String,
    /// RFC 3339, seconds (Docker's `CreatedAt`).
    pub created_at: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// true for volumes made for a container without a name (`-v /data`, image VOLUMEs).
    #[serde(default)]
    pub anonymous: bool,
}

/// The volumes of one engine.
pub struct VolumeManager {
    store: Arc<Store>,
    root: PathBuf,
    quota: Option<Arc<dyn Quota>>,
    exec_root: PathBuf,
    /// Users of each mounted volume. The lock also serialises create and remove.
    active: Mutex<HashMap<String, usize>>,
}

impl std::fmt::Debug for VolumeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeManager")
            .field("root", &self.root)
            .field("quota", &self.quota)
            .field("exec_root", &self.exec_root)
            .finish_non_exhaustive()
    }
}

impl VolumeManager {
    /// Opens the volumes under `root` (`<home>/volumes`, created when missing); tmpfs
    /// volumes are mounted under `<exec_root>/volumes`.
    pub fn new(
        store: Arc<Store>,
        root: PathBuf,
        quota: Option<Arc<dyn Quota>>,
        exec_root: PathBuf,
    ) -> Result<Self, VolumeError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o701)
            .create(&root)
            .map_err(VolumeError::io(format!(
                "cannot create the volumes directory {}",
                root.display()
            )))?;
        Ok(VolumeManager {
            store,
            root,
            quota,
            exec_root,
            active: Mutex::new(HashMap::new()),
        })
    }

    /// Whether volumes can get a disk quota (the `size` option, `--disk-quota /dir=...`).
    pub fn has_quota(&self) -> bool {
        self.quota.is_some()
    }

    /// Checks a driver and its options as `create` would, without creating anything.
    pub fn check_options(
        &self,
        driver: &str,
        options: &BTreeMap<String, String>,
    ) -> Result<(), VolumeError> {
        check_options(
            if driver.is_empty() { "local" } else { driver },
            options,
            self.quota.is_some(),
        )
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a volume. As Docker: a name that exists already returns the existing
    /// volume when `driver` is the same or empty (an error naming both drivers otherwise);
    /// no name gives 64 hex digits. An empty `driver` means `local`. Anonymous volumes
    /// carry Docker's `com.docker.volume.anonymous` label.
    pub fn create(
        &self,
        name: Option<&str>,
        driver: &str,
        options: BTreeMap<String, String>,
        mut labels: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<VolumeRecord, VolumeError> {
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                validate_name(n)?;
                n.to_string()
            }
            None => hex::encode(rand::random::<[u8; 32]>()),
        };
        let _guard = self.lock();
        if let Some(existing) = self.store.get::<VolumeRecord>(VOLUMES, &name)? {
            if driver.is_empty() || existing.driver == driver {
                return Ok(existing);
            }
            return Err(VolumeError::Conflict {
                name,
                existing: existing.driver,
            });
        }
        let driver = if driver.is_empty() { "local" } else { driver };
        check_options(driver, &options, self.quota.is_some())?;
        if anonymous {
            labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
        }
        let rec = VolumeRecord {
            name: name.clone(),
            driver: driver.to_string(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            labels,
            options,
            anonymous,
        };
        self.make_data(&rec)?;
        if let Err(e) = self.store.put(VOLUMES, &name, &rec) {
            if let Err(undo) = self.remove_data(&rec) {
                tracing::warn!(volume = %name, "cannot remove the data of a volume not recorded: {undo}");
            }
            return Err(e.into());
        }
        tracing::debug!(volume = %name, driver, "volume created");
        Ok(rec)
    }

    /// One volume's record.
    pub fn get(&self, name: &str) -> Result<VolumeRecord, VolumeError> {
        self.store
            .get::<VolumeRecord>(VOLUMES, name)?
            .ok_or_else(|| VolumeError::NotFound(name.to_string()))
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<VolumeRecord>, VolumeError> {
        Ok(self
            .store
            .list::<VolumeRecord>(VOLUMES)?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    /// Where the volume's data is seen (Docker's `Mountpoint`): `<root>/<name>/_data` for
    /// local volumes, `<exec_root>/volumes/<name>` for tmpfs ones.
    pub fn mountpoint(&self, rec: &VolumeRecord) -> PathBuf {
        match rec.driver.as_str() {
            "tmpfs" => self.exec_root.join("volumes").join(&rec.name),
            _ => self.root.join(&rec.name).join("_data"),
        }
    }

    /// Makes the volume's data available at its mountpoint and returns it: a tmpfs volume
    /// or a local one with a `device` is mounted by its first user (a mount found in place,
    /// left by an earlier daemon, is taken over); later users share it.
    pub fn mount(&self, name: &str) -> Result<PathBuf, VolumeError> {
        let mut active = self.lock();
        let rec = self.get(name)?;
        let mp = self.mountpoint(&rec);
        let count = active.get(name).copied().unwrap_or(0);
        if count == 0 && needs_mount(&rec) && !pouch_sys::mount::is_mount_point(&mp) {
            self.mount_data(&rec, &mp)?;
        }
        active.insert(name.to_string(), count + 1);
        Ok(mp)
    }

    /// Ends one use of the volume; the last one unmounts a tmpfs or device volume (a tmpfs
    /// volume's content goes with it). Unknown or unmounted volumes are not an error.
    pub fn unmount(&self, name: &str) -> Result<(), VolumeError> {
        let mut active = self.lock();
        let count = active.get(name).copied().unwrap_or(0);
        if count > 1 {
            active.insert(name.to_string(), count - 1);
            return Ok(());
        }
        active.remove(name);
        if count == 0 {
            return Ok(());
        }
        let rec = match self.get(name) {
            Ok(rec) => rec,
            Err(VolumeError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        if needs_mount(&rec) {
            let mp = self.mountpoint(&rec);
            pouch_sys::mount::unmount(&mp).map_err(|source| VolumeError::Mount {
                name: name.to_string(),
                source,
            })?;
        }
        Ok(())
    }

    /// Removes the record and the data. The caller has checked that no container uses the
    /// volume; one still mounted through this manager is refused.
    pub fn remove(&self, name: &str) -> Result<(), VolumeError> {
        let active = self.lock();
        let rec = self.get(name)?;
        if active.get(name).copied().unwrap_or(0) > 0 {
            return Err(VolumeError::Busy(name.to_string()));
        }
        self.remove_data(&rec)?;
        self.store.delete(VOLUMES, name)?;
        tracing::debug!(volume = %name, "volume removed");
        Ok(())
    }

    /// Bytes used by the volume's files (a walk; hard links counted once), -1 when unknown.
    pub fn usage(&self, name: &str) -> i64 {
        let Ok(rec) = self.get(name) else {
            return -1;
        };
        let mp = self.mountpoint(&rec);
        if !mp.is_dir() {
            return if rec.driver == "tmpfs" { 0 } else { -1 };
        }
        let mut seen = HashSet::new();
        match dir_size(&mp, &mut seen, 0) {
            Ok(n) => i64::try_from(n).unwrap_or(i64::MAX),
            Err(e) => {
                tracing::debug!(volume = %name, "cannot measure the volume: {e}");
                -1
            }
        }
    }

    /// `true` when the volume's data dir is empty (copy-up only fills empty volumes).
    pub fn is_empty(&self, name: &str) -> bool {
        let Ok(rec) = self.get(name) else {
            return true;
        };
        match std::fs::read_dir(self.mountpoint(&rec)) {
            Ok(mut d) => d.next().is_none(),
            Err(_) => true,
        }
    }

    /// Makes the data dir of a new volume (a quota dir with its limit when a back end exists).
    fn make_data(&self, rec: &VolumeRecord) -> Result<(), VolumeError> {
        if rec.driver == "tmpfs" {
            return Ok(());
        }
        let dir = self.root.join(&rec.name);
        let data = dir.join("_data");
        if dir.exists() {
            // Left by a create that did not reach the record (a daemon killed mid-way).
            self.remove_data(rec)?;
        }
        std::fs::DirBuilder::new()
            .mode(0o755)
            .create(&dir)
            .map_err(VolumeError::io(format!(
                "cannot create the directory of volume {}",
                rec.name
            )))?;
        let made = match &self.quota {
            Some(q) => q
                .create_dir(&data, None)
                .map(|_| ())
                .and_then(|()| match rec.options.get("size") {
                    Some(v) => q.set_limit(&data, size(v).unwrap_or(0)),
                    None => Ok(()),
                })
                .map_err(|source| VolumeError::Quota {
                    name: rec.name.clone(),
                    source,
                }),
            None => std::fs::DirBuilder::new()
                .mode(0o755)
                .create(&data)
                .map_err(VolumeError::io(format!(
                    "cannot create the data directory of volume {}",
                    rec.name
                ))),
        };
        if let Err(e) = made {
            if let Some(q) = &self.quota {
                let _ = q.remove_dir(&data);
            }
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        Ok(())
    }

    fn mount_data(&self, rec: &VolumeRecord, mp: &Path) -> Result<(), VolumeError> {
        std::fs::create_dir_all(mp).map_err(VolumeError::io(format!(
            "cannot create the mount point of volume {}",
            rec.name
        )))?;
        let result = if rec.driver == "tmpfs" {
            pouch_sys::mount::mount_fs("tmpfs", mp, "tmpfs", &tmpfs_data(&rec.options)?)
        } else {
            let opt = |k: &str| rec.options.get(k).map(String::as_str).unwrap_or("");
            pouch_sys::mount::mount_fs(opt("device"), mp, opt("type"), opt("o"))
        };
        result.map_err(|source| VolumeError::Mount {
            name: rec.name.clone(),
            source,
        })
    }

    /// Removes a volume's data, after unmounting what is mounted on it (never deleting
    /// through a mount: the data of a device volume lives on the device).
    fn remove_data(&self, rec: &VolumeRecord) -> Result<(), VolumeError> {
        let mp = self.mountpoint(rec);
        if pouch_sys::mount::is_mount_point(&mp) {
            pouch_sys::mount::unmount(&mp).map_err(|source| VolumeError::Mount {
                name: rec.name.clone(),
                source,
            })?;
            if pouch_sys::mount::is_mount_point(&mp) {
                return Err(VolumeError::Busy(rec.name.clone()));
            }
        }
        if rec.driver == "tmpfs" {
            return match std::fs::remove_dir(&mp) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(VolumeError::Io {
                    what: format!("cannot remove the mount point of volume {}", rec.name),
                    source: e,
                }),
                _ => Ok(()),
            };
        }
        if let Some(q) = &self.quota {
            if q.is_quota_dir(&mp) {
                q.remove_dir(&mp).map_err(|source| VolumeError::Quota {
                    name: rec.name.clone(),
                    source,
                })?;
            }
        }
        match std::fs::remove_dir_all(self.root.join(&rec.name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(VolumeError::Io {
                what: format!("cannot remove the data of volume {}", rec.name),
                source: e,
            }),
            _ => Ok(()),
        }
    }
}

/// Whether the volume's data must be mounted before use.
fn needs_mount(rec: &VolumeRecord) -> bool {
    rec.driver == "tmpfs" || rec.options.contains_key("device")
}

/// Deepest directory nesting `dir_size` walks.
const MAX_DEPTH: usize = 512;

/// Sum of the sizes of the regular files under `dir`, each inode once.
fn dir_size(dir: &Path, seen: &mut HashSet<(u64, u64)>, depth: usize) -> std::io::Result<u64> {
    if depth > MAX_DEPTH {
        return Ok(0);
    }
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if meta.is_dir() {
            total += dir_size(&entry.path(), seen, depth + 1).unwrap_or(0);
        } else if meta.is_file() && seen.insert((meta.dev(), meta.ino())) {
            total += meta.len();
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests;
