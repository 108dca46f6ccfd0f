//! Mounts the engine makes itself: a container's overlay root filesystem, and its unmount.

use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags};

use crate::{call_err, SysError};

/// Mounts an overlay at `target` with `lower` (top-most first, as overlayfs wants them),
/// `upper` and `work`.
pub fn mount_overlay(
    lower: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), SysError> {
    let lowers: Vec<String> = lower.iter().map(|p| p.display().to_string()).collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={},index=off",
        lowers.join(":"),
        upper.display(),
        work.display()
    );
    if data.len() >= 4096 {
        return Err(SysError::Call {
            op: "mount overlay",
            path: target.display().to_string(),
            source: std::io::Error::other(format!(
                "{} layers make the mount options {} bytes, over the kernel's 4096",
                lower.len(),
                data.len()
            )),
        });
    }
    let data = std::ffi::CString::new(data).map_err(|e| call_err("mount overlay", target, e))?;
    rustix::mount::mount(
        "overlay",
        target,
        "overlay",
        MountFlags::empty(),
        Some(data.as_c_str()),
    )
    .map_err(|e| call_err("mount overlay", target, e))
}

/// Detaches the mount at `target` (lazily, so a process still inside does not block it).
/// A path that is not a mount point is not an error.
pub fn unmount(target: &Path) -> Result<(), SysError> {
    match rustix::mount::unmount(target, UnmountFlags::DETACH) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(call_err("unmount", target, e)),
    }
}

/// Whether `path` is a mount point (its device differs from its parent's, or
/// /proc/self/mountinfo lists it).
pub fn is_mount_point(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // The cheap answer first (an overlay has a device of its own); mountinfo only for a
    // mount of the same filesystem (a bind mount).
    if let (Ok(m), Some(Ok(p))) = (
        std::fs::symlink_metadata(path),
        path.parent().map(std::fs::symlink_metadata),
    ) {
        if m.dev() != p.dev() {
            return true;
        }
    }
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.display().to_string();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| unescape(mp) == want)
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_mount_and_unmount() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("SKIP overlay_mount_and_unmount: needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = |n: &str| {
            let p = dir.path().join(n);
            std::fs::create_dir_all(&p).unwrap();
            p
        };
        let (l1, l2, up, wk, mnt) = (d("l1"), d("l2"), d("up"), d("wk"), d("mnt"));
        std::fs::write(l1.join("a"), "bottom").unwrap();
        std::fs::write(l2.join("a"), "top").unwrap();
        mount_overlay(&[l2, l1], &up, &wk, &mnt).unwrap();
        assert!(is_mount_point(&mnt));
        assert_eq!(std::fs::read_to_string(mnt.join("a")).unwrap(), "top");
        std::fs::write(mnt.join("b"), "new").unwrap();
        unmount(&mnt).unwrap();
        assert!(!is_mount_point(&mnt));
        assert!(up.join("b").exists());
        unmount(&mnt).unwrap();
    }
}
