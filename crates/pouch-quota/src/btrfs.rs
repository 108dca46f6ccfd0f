//! The btrfs back end: a quota directory is a subvolume, and its limit is the referenced-bytes
//! limit of the subvolume's own qgroup (`0/<subvolume id>`), which the kernel enforces with
//! `EDQUOT` and which can change at any time. Deleting the subvolume also drops its qgroup
//! (kernels from 6.x remove it themselves once the subvolume is cleaned; older ones at once).

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use pouch_sys::quota as sys;

use crate::{io_err, Quota, QuotaError};

/// The inode number of every subvolume's root directory.
const SUBVOL_ROOT_INO: u64 = 256;
/// The id of the filesystem's top-level subvolume (never a quota directory).
const TOP_LEVEL_ID: u64 = 5;

/// btrfs subvolumes with qgroup limits.
#[derive(Debug)]
pub struct BtrfsQuota {
    home: PathBuf,
}

fn split(path: &Path) -> Result<(&Path, &OsStr), QuotaError> {
    match (path.parent(), path.file_name()) {
        (Some(p), Some(n)) if !p.as_os_str().is_empty() => Ok((p, n)),
        _ => Err(QuotaError::Io {
            op: "split path",
            path: path.display().to_string(),
            source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
        }),
    }
}

impl BtrfsQuota {
    /// The back end for the btrfs filesystem holding `home`, with quota turned on.
    pub fn open(home: &Path) -> Result<BtrfsQuota, QuotaError> {
        sys::btrfs_quota_enable(home)?;
        Ok(BtrfsQuota {
            home: home.to_path_buf(),
        })
    }

    /// The subvolume id of a quota directory (an error naming it when it is none).
    fn subvol_id(&self, path: &Path) -> Result<u64, QuotaError> {
        if !self.is_quota_dir(path) {
            return Err(QuotaError::NotQuotaDir {
                path: path.display().to_string(),
            });
        }
        Ok(sys::btrfs_subvol_id(path)?)
    }
}

impl Quota for BtrfsQuota {
    fn backend(&self) -> &'static str {
        "btrfs"
    }

    fn create_dir(&self, path: &Path, id: Option<u32>) -> Result<u32, QuotaError> {
        if let Some(id) = id {
            return Err(QuotaError::IdNotSupported {
                path: path.display().to_string(),
                id,
            });
        }
        if path.symlink_metadata().is_ok() {
            return Err(QuotaError::Exists {
                path: path.display().to_string(),
            });
        }
        let (parent, name) = split(path)?;
        sys::btrfs_subvol_create(parent, name)?;
        let made = (|| {
            let id = sys::btrfs_subvol_id(path)?;
            // Quota is on, so the kernel made the qgroup with the subvolume (newer kernels
            // refuse to make a subvolume's qgroup by hand); older ones may need it made.
            if !sys::btrfs_qgroup_exists(path, id)? {
                sys::btrfs_qgroup_create(path, id)?;
            }
            u32::try_from(id).map_err(|_| QuotaError::Io {
                op: "subvolume id",
                path: path.display().to_string(),
                source: std::io::Error::other(format!("subvolume id {id} does not fit 32 bits")),
            })
        })();
        if made.is_err() {
            let _ = sys::btrfs_subvol_delete(parent, name);
        }
        made
    }

    fn set_limit(&self, path: &Path, bytes: u64) -> Result<(), QuotaError> {
        self.subvol_id(path)?;
        sys::btrfs_qgroup_limit(path, (bytes > 0).then_some(bytes))?;
        Ok(())
    }

    fn limit(&self, path: &Path) -> Result<u64, QuotaError> {
        let id = self.subvol_id(path)?;
        Ok(sys::btrfs_qgroup_max_referenced(path, id)?.unwrap_or(0))
    }

    fn remove_dir(&self, path: &Path) -> Result<(), QuotaError> {
        match path.symlink_metadata() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("remove quota dir", path)(e)),
            Ok(_) => {}
        }
        if !self.is_quota_dir(path) {
            // A plain directory (made before quota was available): remove it as such.
            return std::fs::remove_dir_all(path).map_err(io_err("remove quota dir", path));
        }
        let id = sys::btrfs_subvol_id(path)?;
        let (parent, name) = split(path)?;
        sys::btrfs_subvol_delete(parent, name)?;
        // Busy: the kernel still cleans the subvolume and drops the qgroup itself afterwards;
        // gone: it already did.
        match sys::btrfs_qgroup_destroy(parent, id) {
            Ok(()) => {}
            Err(pouch_sys::SysError::Call { source, .. })
                if matches!(
                    source.raw_os_error(),
                    Some(libc::EBUSY) | Some(libc::ENOENT)
                ) => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), home = %self.home.display(), "qgroup 0/{id} left behind: {e}");
            }
        }
        Ok(())
    }

    fn is_quota_dir(&self, path: &Path) -> bool {
        let Ok(meta) = path.symlink_metadata() else {
            return false;
        };
        meta.is_dir()
            && meta.ino() == SUBVOL_ROOT_INO
            && sys::fs_magic(path).is_ok_and(|m| m == sys::BTRFS_SUPER_MAGIC)
            && sys::btrfs_subvol_id(path).is_ok_and(|id| id != TOP_LEVEL_ID)
    }
}
