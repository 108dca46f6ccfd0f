//! Disk quota: one small trait (`Quota`) with two back ends chosen by the filesystem under the
//! home dir: btrfs (`btrfs`: each quota directory is a subvolume whose qgroup carries the
//! limit) and project quota on ext4 and xfs (`project`: each quota directory has a project id
//! inherited by everything in it, and the project's block limit is the limit). `detect` picks
//! the back end, or none where no limit could be enforced; callers then refuse quota requests
//! instead of ignoring them. `parse_size` reads Pouch's size forms. Every kernel call is in
//! `pouch_sys::quota`; no quota tools are run. See docs/volumes-contract.md.

mod btrfs;
pub mod project;

use std::path::Path;
use std::sync::Arc;

pub use btrfs::BtrfsQuota;
pub use project::ProjectQuota;

/// Errors of the quota back ends, naming the path.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    #[error("invalid size {0:?}: use a number with an optional unit b, k, m, g, t or p (like 10g or 512m)")]
    InvalidSize(String),
    #[error("{path} is not a quota directory (it was not made by the disk quota back end): recreate it to give it a limit")]
    NotQuotaDir { path: String },
    #[error("cannot make quota directory {path}: it already exists")]
    Exists { path: String },
    #[error("cannot make quota directory {path} with quota id {id}: btrfs gives every directory its own qgroup, so a quota id can only be chosen with project quota")]
    IdNotSupported { path: String, id: u32 },
    #[error("cannot make quota directory {path}: no free project id is left")]
    NoFreeId { path: String },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Sys(#[from] pouch_sys::SysError),
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> QuotaError {
    let path = path.display().to_string();
    move |source| QuotaError::Io { op, path, source }
}

/// A disk quota back end: directories that can carry a byte limit.
pub trait Quota: Send + Sync + std::fmt::Debug {
    /// "btrfs" or "project" (reported in `info`).
    fn backend(&self) -> &'static str;
    /// Makes `path` (which must not exist; its parent must) a directory that can carry a
    /// limit: btrfs a subvolume (its qgroup 0/<subvol id> exists), project quota a directory
    /// with project id `id` (or a new one) and the inherit flag. Returns the quota id.
    fn create_dir(&self, path: &Path, id: Option<u32>) -> Result<u32, QuotaError>;
    /// Sets the byte limit of a directory made by `create_dir` (0 removes the limit). Works
    /// while it is in use (that is `update --disk-quota`).
    fn set_limit(&self, path: &Path, bytes: u64) -> Result<(), QuotaError>;
    /// The limit in bytes (0 = none).
    fn limit(&self, path: &Path) -> Result<u64, QuotaError>;
    /// Removes a directory made by `create_dir` with everything in it (btrfs: deletes the
    /// subvolume and its qgroup). Ok when it does not exist.
    fn remove_dir(&self, path: &Path) -> Result<(), QuotaError>;
    /// `true` when `path` was made by `create_dir` (a subvolume; a dir with a project id).
    fn is_quota_dir(&self, path: &Path) -> bool;
}

/// The back end for the filesystem under `home`: btrfs (enables quota on the filesystem if
/// it is off) or project quota where the kernel enforces it (ext4 with the project feature
/// mounted with prjquota, xfs with pquota); `None` when neither can be enforced.
pub fn detect(home: &Path) -> Option<Arc<dyn Quota>> {
    use pouch_sys::quota::{BTRFS_SUPER_MAGIC, EXT4_SUPER_MAGIC, XFS_SUPER_MAGIC};
    let magic = match pouch_sys::quota::fs_magic(home) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!("disk quota disabled: {e}");
            return None;
        }
    };
    match magic {
        BTRFS_SUPER_MAGIC => match BtrfsQuota::open(home) {
            Ok(q) => Some(Arc::new(q)),
            Err(e) => {
                tracing::warn!("disk quota disabled: cannot enable btrfs quota: {e}");
                None
            }
        },
        EXT4_SUPER_MAGIC | XFS_SUPER_MAGIC => {
            match ProjectQuota::open(home, project::KernelProject) {
                Ok(Some(q)) => Some(Arc::new(q)),
                Ok(None) => {
                    tracing::info!(home = %home.display(), "disk quota disabled: project quota is not enforced on the home dir's filesystem (mount it with prjquota/pquota)");
                    None
                }
                Err(e) => {
                    tracing::info!(home = %home.display(), "disk quota disabled: {e}");
                    None
                }
            }
        }
        _ => None,
    }
}

/// Pouch's size forms: `10g`, `512m`, `1024k`, `100` (bytes), case-insensitive, `b` suffix ok;
/// units are binary (k = 1024) and a fraction is allowed (`1.5g`).
pub fn parse_size(s: &str) -> Result<u64, QuotaError> {
    let bad = || QuotaError::InvalidSize(s.to_string());
    let t = s.trim().to_ascii_lowercase();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(num_end);
    let shift = match unit.trim_start() {
        "" | "b" => 0,
        "k" | "kb" => 10,
        "m" | "mb" => 20,
        "g" | "gb" => 30,
        "t" | "tb" => 40,
        "p" | "pb" => 50,
        _ => return Err(bad()),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty() || frac.contains('.') {
        return Err(bad());
    }
    let whole: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let mut bytes = whole.checked_mul(1u64 << shift).ok_or_else(bad)?;
    if !frac.is_empty() {
        // The fraction in units of 10^-len, scaled by the unit, rounded down to a byte.
        let digits = &frac[..frac.len().min(9)];
        let f: u64 = digits.parse().map_err(|_| bad())?;
        let scaled = (u128::from(f) << shift) / 10u128.pow(digits.len() as u32);
        bytes = bytes
            .checked_add(u64::try_from(scaled).map_err(|_| bad())?)
            .ok_or_else(bad)?;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_pouch_forms() {
        for (s, n) in [
            ("100", 100),
            ("100b", 100),
            ("1024k", 1 << 20),
            ("1024KB", 1 << 20),
            ("512m", 512 << 20),
            ("10g", 10 << 30),
            ("10G", 10 << 30),
            ("10Gb", 10 << 30),
            ("2t", 2 << 40),
            ("1p", 1 << 50),
            (" 5g ", 5 << 30),
            ("1.5g", 3 << 29),
            ("0.5k", 512),
            ("0", 0),
        ] {
            assert_eq!(parse_size(s).unwrap(), n, "{s}");
        }
    }

    #[test]
    fn bad_sizes_name_the_value() {
        for s in [
            "",
            "g",
            "-1g",
            "10x",
            "1.2.3g",
            "10 gigs",
            "99999999999999999999",
            "16777216t",
            ".",
        ] {
            let e = parse_size(s).unwrap_err();
            assert!(e.to_string().contains(&format!("{s:?}")), "{s:?}: {e}");
        }
    }

    #[test]
    fn detect_finds_nothing_on_proc() {
        assert!(detect(Path::new("/proc")).is_none());
    }
}
