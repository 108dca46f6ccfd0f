//! Thin safe wrappers over the system calls Pouch needs (overlay whiteouts, xattrs, locks).
//! Mounts live in `mount`. This is the only crate allowed `unsafe`; today every call goes through rustix's safe API.

pub mod mntns;
pub mod mount;
pub mod netns;
pub mod quota;

use std::fs::File;
use std::path::Path;

use rustix::fs::{FileType, FlockOperation, Mode};

/// Errors from a system call, naming the path it acted on.
#[derive(Debug, thiserror::Error)]
pub enum SysError {
    #[error("{op} {path}: {source}")]
    Call {
        op: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is locked by another process")]
    Locked { path: String },
}

fn call_err(op: &'static str, path: &Path, e: impl Into<std::io::Error>) -> SysError {
    SysError::Call {
        op,
        path: path.display().to_string(),
        source: e.into(),
    }
}

/// Creates an overlayfs whiteout (a character device 0:0) at `path`.
pub fn make_whiteout(path: &Path) -> Result<(), SysError> {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        FileType::CharacterDevice,
        Mode::empty(),
        rustix::fs::makedev(0, 0),
    )
    .map_err(|e| call_err("mknod", path, e))
}

/// Creates a device node (char or block) at `path`.
pub fn make_device(
    path: &Path,
    block: bool,
    mode: u32,
    major: u32,
    minor: u32,
) -> Result<(), SysError> {
    let kind = if block {
        FileType::BlockDevice
    } else {
        FileType::CharacterDevice
    };
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        kind,
        Mode::from_raw_mode(mode & 0o7777),
        rustix::fs::makedev(major, minor),
    )
    .map_err(|e| call_err("mknod", path, e))
}

/// Creates a fifo at `path`.
pub fn make_fifo(path: &Path, mode: u32) -> Result<(), SysError> {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        FileType::Fifo,
        Mode::from_raw_mode(mode & 0o7777),
        0,
    )
    .map_err(|e| call_err("mkfifo", path, e))
}

/// Marks a directory opaque for overlayfs (`trusted.overlay.opaque=y`).
pub fn set_opaque(dir: &Path) -> Result<(), SysError> {
    set_xattr(dir, "trusted.overlay.opaque", b"y")
}

/// Whether a directory carries the overlayfs opaque mark.
pub fn is_opaque(dir: &Path) -> bool {
    let mut buf = [0u8; 4];
    matches!(rustix::fs::lgetxattr(dir, "trusted.overlay.opaque", &mut buf), Ok(1) if buf[0] == b'y')
}

/// Sets an extended attribute on `path` without following a final symlink.
pub fn set_xattr(path: &Path, name: &str, value: &[u8]) -> Result<(), SysError> {
    rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty())
        .map_err(|e| call_err("setxattr", path, e))
}

/// Changes owner of `path` without following a final symlink.
pub fn lchown(path: &Path, uid: u32, gid: u32) -> Result<(), SysError> {
    rustix::fs::chownat(
        rustix::fs::CWD,
        path,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| call_err("lchown", path, e))
}

/// Takes an exclusive, non-blocking lock on `file` (held until the file is closed).
pub fn try_lock_exclusive(file: &File, path: &Path) -> Result<(), SysError> {
    rustix::fs::flock(file, FlockOperation::NonBlockingLockExclusive).map_err(|e| {
        if e == rustix::io::Errno::WOULDBLOCK {
            SysError::Locked {
                path: path.display().to_string(),
            }
        } else {
            call_err("flock", path, e)
        }
    })
}

/// Host facts for `/info` and `/version`.
pub struct Uname {
    pub sysname: String,
    pub nodename: String,
    pub release: String,
    pub machine: String,
}

pub fn uname() -> Uname {
    let u = rustix::system::uname();
    Uname {
        sysname: u.sysname().to_string_lossy().into_owned(),
        nodename: u.nodename().to_string_lossy().into_owned(),
        release: u.release().to_string_lossy().into_owned(),
        machine: u.machine().to_string_lossy().into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_exclusive() {
        let dir = std::env::temp_dir().join(format!("pouch-sys-lock-{}", std::process::id()));
        let a = File::create(&dir).unwrap();
        try_lock_exclusive(&a, &dir).unwrap();
        let b = File::open(&dir).unwrap();
        assert!(matches!(
            try_lock_exclusive(&b, &dir),
            Err(SysError::Locked { .. })
        ));
        drop(a);
        try_lock_exclusive(&b, &dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn uname_has_release() {
        assert!(!uname().release.is_empty());
    }
}
