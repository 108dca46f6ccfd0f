//! Mounts the engine makes itself: a container's overlay root filesystem, and its unmount.
//! Also volume mounts (`mount_fs`: tmpfs, devices, binds) and a thread's private mount
//! namespace (`unshare_mounts`, for `cp` with a container's volumes in place).

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

/// Mounts `source` on `target` as a filesystem of type `fstype` with mount(8)-style options:
/// the flag words (`ro`, `nosuid`, `nodev`, `noexec`, `bind`, `rbind`, `noatime`, ...) become
/// mount flags and the rest (`size=64m`, `addr=...`) is the filesystem's data, as Docker's
/// local volume driver mounts its `type`/`device`/`o`. A read-only bind is remounted
/// read-only (the kernel ignores `ro` on the bind itself).
pub fn mount_fs(source: &str, target: &Path, fstype: &str, options: &str) -> Result<(), SysError> {
    let mut flags = MountFlags::empty();
    let mut data: Vec<&str> = Vec::new();
    for o in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let (set, clear) = match o {
            "ro" => (MountFlags::RDONLY, MountFlags::empty()),
            "rw" => (MountFlags::empty(), MountFlags::RDONLY),
            "nosuid" => (MountFlags::NOSUID, MountFlags::empty()),
            "suid" => (MountFlags::empty(), MountFlags::NOSUID),
            "nodev" => (MountFlags::NODEV, MountFlags::empty()),
            "dev" => (MountFlags::empty(), MountFlags::NODEV),
            "noexec" => (MountFlags::NOEXEC, MountFlags::empty()),
            "exec" => (MountFlags::empty(), MountFlags::NOEXEC),
            "sync" => (MountFlags::SYNCHRONOUS, MountFlags::empty()),
            "async" => (MountFlags::empty(), MountFlags::SYNCHRONOUS),
            "dirsync" => (MountFlags::DIRSYNC, MountFlags::empty()),
            "noatime" => (MountFlags::NOATIME, MountFlags::empty()),
            "atime" => (MountFlags::empty(), MountFlags::NOATIME),
            "nodiratime" => (MountFlags::NODIRATIME, MountFlags::empty()),
            "diratime" => (MountFlags::empty(), MountFlags::NODIRATIME),
            "relatime" => (MountFlags::RELATIME, MountFlags::empty()),
            "norelatime" => (MountFlags::empty(), MountFlags::RELATIME),
            "strictatime" => (MountFlags::STRICTATIME, MountFlags::empty()),
            "bind" => (MountFlags::BIND, MountFlags::empty()),
            "rbind" => (MountFlags::BIND | MountFlags::REC, MountFlags::empty()),
            "defaults" => (MountFlags::empty(), MountFlags::empty()),
            other => {
                data.push(other);
                continue;
            }
        };
        flags = (flags - clear) | set;
    }
    let data = std::ffi::CString::new(data.join(",")).map_err(|e| call_err("mount", target, e))?;
    rustix::mount::mount(source, target, fstype, flags, Some(data.as_c_str()))
        .map_err(|e| call_err("mount", target, e))?;
    if flags.contains(MountFlags::BIND | MountFlags::RDONLY) {
        if let Err(e) = remount_bind(target, flags & !MountFlags::REC) {
            let _ = unmount(target);
            return Err(e);
        }
    }
    Ok(())
}

/// Makes the bind mount at `target` read-only (`mount -o remount,bind,ro`).
pub fn remount_read_only(target: &Path) -> Result<(), SysError> {
    remount_bind(target, MountFlags::RDONLY)
}

fn remount_bind(target: &Path, flags: MountFlags) -> Result<(), SysError> {
    rustix::mount::mount_remount(target, flags | MountFlags::BIND, "")
        .map_err(|e| call_err("remount", target, e))
}

/// Moves the calling thread (only it) into a private copy of the mount namespace: mounts it
/// makes from then on are seen by no other process and vanish when the thread ends. The
/// thread must never run anything else afterwards (use a thread of its own).
#[allow(unsafe_code)]
pub fn unshare_mounts() -> Result<(), SysError> {
    // SAFETY: rustix marks `unshare` unsafe because of `CLONE_FILES`, which would split the
    // thread's file-descriptor table from the other threads'. Only `CLONE_NEWNS` is passed
    // (the kernel adds `CLONE_FS`: this thread's cwd and umask become its own); no memory
    // or descriptors are touched.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS) }
        .map_err(|e| call_err("unshare(CLONE_NEWNS)", Path::new("/"), e))?;
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::PRIVATE | rustix::mount::MountPropagationFlags::REC,
    )
    .map_err(|e| call_err("make private", Path::new("/"), e))
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

/// Whether `path` is a mount point: its mount id differs from its parent's (statx
/// `STATX_MNT_ID`), or, on kernels without it, /proc/self/mountinfo lists it. Not the
/// device number: a btrfs subvolume has a device of its own without being a mount.
pub fn is_mount_point(path: &Path) -> bool {
    use rustix::fs::{statx, AtFlags, StatxFlags, CWD};
    let mnt_id = |p: &Path| {
        statx(CWD, p, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::MNT_ID)
            .ok()
            .filter(|s| s.stx_mask & StatxFlags::MNT_ID.bits() != 0)
            .map(|s| s.stx_mnt_id)
    };
    if let (Some(m), Some(Some(p))) = (mnt_id(path), path.parent().map(mnt_id)) {
        return m != p;
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
