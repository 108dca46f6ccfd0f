//! Copy-up: the image's content at a volume's destination copied into the new, empty
//! volume (Docker's `copyExistingContents`). Owners, modes (setuid bits included), times,
//! extended attributes, symlinks, hard links, device nodes and fifos are kept; sockets are
//! skipped. The volume's root takes the owner and mode of the source directory, so a
//! `VOLUME /var/lib/app` owned by `app` stays writable by `app`.

use std::collections::HashMap;
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Timespec, Timestamps};

use crate::VolumeError;

/// Deepest directory nesting copied.
const MAX_DEPTH: usize = 1024;

/// Copies the directory tree at `src` (in the container's rootfs) into the existing
/// directory `dst`, keeping owners, modes, symlinks, hard links and xattrs where the
/// filesystem allows; `dst` itself gets `src`'s owner, mode and times.
pub fn copy_up(src: &Path, dst: &Path) -> Result<(), VolumeError> {
    let meta = src
        .symlink_metadata()
        .map_err(VolumeError::io(format!("copy-up source {}", src.display())))?;
    if !meta.is_dir() {
        return Err(VolumeError::Invalid(format!(
            "copy-up source {} is not a directory",
            src.display()
        )));
    }
    let mut c = Copier {
        links: HashMap::new(),
        root: rustix::process::geteuid().is_root(),
    };
    c.dir(src, dst, 0)?;
    c.apply(src, dst, &meta)
}

struct Copier {
    /// Files with more than one link copied so far: (dev, ino) → their copy.
    links: HashMap<(u64, u64), PathBuf>,
    /// Owners can be set (root); otherwise a failing chown is not an error.
    root: bool,
}

impl Copier {
    fn dir(&mut self, src: &Path, dst: &Path, depth: usize) -> Result<(), VolumeError> {
        if depth >= MAX_DEPTH {
            return Err(VolumeError::Io {
                what: format!("copying {}", src.display()),
                source: io::Error::other(format!(
                    "directories nest deeper than {MAX_DEPTH} levels"
                )),
            });
        }
        let entries = std::fs::read_dir(src)
            .map_err(VolumeError::io(format!("reading {}", src.display())))?;
        for entry in entries {
            let entry = entry.map_err(VolumeError::io(format!("reading {}", src.display())))?;
            let s = entry.path();
            let d = dst.join(entry.file_name());
            let m = match s.symlink_metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(VolumeError::io(format!("stat {}", s.display()))(e)),
            };
            let ft = m.file_type();
            let what = || format!("copying {} to {}", s.display(), d.display());
            if ft.is_dir() {
                match std::fs::create_dir(&d) {
                    Err(e) if !(e.kind() == io::ErrorKind::AlreadyExists && d.is_dir()) => {
                        return Err(VolumeError::io(what())(e))
                    }
                    _ => {}
                }
                self.dir(&s, &d, depth + 1)?;
            } else if ft.is_file() {
                let key = (m.dev(), m.ino());
                if m.nlink() > 1 {
                    if let Some(first) = self.links.get(&key) {
                        std::fs::hard_link(first, &d).map_err(VolumeError::io(what()))?;
                        continue;
                    }
                }
                copy_file(&s, &d).map_err(VolumeError::io(what()))?;
                if m.nlink() > 1 {
                    self.links.insert(key, d.clone());
                }
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&s).map_err(VolumeError::io(what()))?;
                std::os::unix::fs::symlink(&target, &d).map_err(VolumeError::io(what()))?;
            } else if ft.is_char_device() || ft.is_block_device() {
                let rdev = m.rdev();
                pouch_sys::make_device(
                    &d,
                    ft.is_block_device(),
                    m.mode(),
                    rustix::fs::major(rdev),
                    rustix::fs::minor(rdev),
                )
                .map_err(|e| VolumeError::io(what())(io::Error::other(e)))?;
            } else if ft.is_fifo() {
                pouch_sys::make_fifo(&d, m.mode())
                    .map_err(|e| VolumeError::io(what())(io::Error::other(e)))?;
            } else {
                // A socket means nothing without its listener.
                continue;
            }
            self.apply(&s, &d, &m)?;
        }
        Ok(())
    }

    /// Owner, mode, xattrs and times of `src` onto `dst` (after its content, so a
    /// directory's times stick). A symlink keeps its own mode.
    fn apply(&self, src: &Path, dst: &Path, m: &Metadata) -> Result<(), VolumeError> {
        let what = || {
            format!(
                "copying the attributes of {} to {}",
                src.display(),
                dst.display()
            )
        };
        if let Err(e) = pouch_sys::lchown(dst, m.uid(), m.gid()) {
            if self.root {
                return Err(VolumeError::io(what())(io::Error::other(e)));
            }
        }
        let symlink = m.file_type().is_symlink();
        if !symlink {
            // After the chown, which clears setuid and setgid bits.
            std::fs::set_permissions(dst, std::fs::Permissions::from_mode(m.mode() & 0o7777))
                .map_err(VolumeError::io(what()))?;
        }
        copy_xattrs(src, dst);
        let times = Timestamps {
            last_access: Timespec {
                tv_sec: m.atime(),
                tv_nsec: m.atime_nsec() as _,
            },
            last_modification: Timespec {
                tv_sec: m.mtime(),
                tv_nsec: m.mtime_nsec() as _,
            },
        };
        rustix::fs::utimensat(rustix::fs::CWD, dst, &times, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| VolumeError::io(what())(e.into()))
    }
}

fn copy_file(src: &Path, dst: &Path) -> io::Result<()> {
    let mut from = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(src)?;
    let mut to = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dst)?;
    io::copy(&mut from, &mut to)?;
    Ok(())
}

/// Copies the extended attributes that can be copied (overlayfs' own are not; a target
/// filesystem without xattrs, or a namespace we may not write, skips them).
fn copy_xattrs(src: &Path, dst: &Path) {
    let mut names = vec![0u8; 4096];
    let n = match rustix::fs::llistxattr(src, &mut names) {
        Ok(n) => n,
        Err(rustix::io::Errno::RANGE) => {
            let Ok(size) = rustix::fs::llistxattr(src, &mut [0u8; 0]) else {
                return;
            };
            names = vec![0u8; size];
            match rustix::fs::llistxattr(src, &mut names) {
                Ok(n) => n,
                Err(_) => return,
            }
        }
        Err(_) => return,
    };
    let mut value = vec![0u8; 64 * 1024];
    for name in names[..n.min(names.len())]
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
    {
        let Ok(s) = std::str::from_utf8(name) else {
            continue;
        };
        if s.starts_with("trusted.overlay.") {
            continue;
        }
        let Ok(len) = rustix::fs::lgetxattr(src, s, &mut value) else {
            continue;
        };
        if let Err(e) =
            rustix::fs::lsetxattr(dst, s, &value[..len], rustix::fs::XattrFlags::empty())
        {
            tracing::debug!(path = %dst.display(), xattr = s, "xattr not copied: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn copy_up_keeps_modes_owners_links_and_times() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        let s = src.path();
        std::fs::create_dir_all(s.join("sub/deep")).unwrap();
        std::fs::write(s.join("sub/deep/file"), "hello").unwrap();
        std::fs::set_permissions(
            s.join("sub/deep/file"),
            std::fs::Permissions::from_mode(0o4750),
        )
        .unwrap();
        std::fs::set_permissions(s.join("sub"), std::fs::Permissions::from_mode(0o711)).unwrap();
        std::fs::hard_link(s.join("sub/deep/file"), s.join("hardlink")).unwrap();
        symlink("sub/deep/file", s.join("rel-link")).unwrap();
        symlink("/etc/nowhere", s.join("abs-dangling")).unwrap();
        pouch_sys::make_fifo(&s.join("fifo"), 0o640).unwrap();
        std::fs::set_permissions(s, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let root = rustix::process::geteuid().is_root();
        if root {
            pouch_sys::lchown(&s.join("sub/deep/file"), 1000, 1001).unwrap();
            pouch_sys::lchown(&s.join("rel-link"), 7, 8).unwrap();
            pouch_sys::lchown(s, 33, 33).unwrap();
            std::fs::set_permissions(
                s.join("sub/deep/file"),
                std::fs::Permissions::from_mode(0o4750),
            )
            .unwrap();
            pouch_sys::set_xattr(&s.join("sub/deep/file"), "user.pouch", b"v").ok();
        }
        let old = Timestamps {
            last_access: Timespec {
                tv_sec: 1_000_000,
                tv_nsec: 0,
            },
            last_modification: Timespec {
                tv_sec: 1_000_000,
                tv_nsec: 5,
            },
        };
        rustix::fs::utimensat(rustix::fs::CWD, s.join("sub"), &old, AtFlags::empty()).unwrap();

        copy_up(s, dst.path()).unwrap();
        let d = dst.path();
        assert_eq!(
            std::fs::read_to_string(d.join("sub/deep/file")).unwrap(),
            "hello"
        );
        let fm = d.join("sub/deep/file").symlink_metadata().unwrap();
        assert_eq!(fm.mode() & 0o7777, 0o4750);
        assert_eq!(
            d.join("sub").symlink_metadata().unwrap().mode() & 0o7777,
            0o711
        );
        assert_eq!(d.join("sub").symlink_metadata().unwrap().mtime(), 1_000_000);
        let hm = d.join("hardlink").symlink_metadata().unwrap();
        assert_eq!(hm.ino(), fm.ino(), "hard links stay linked");
        assert_eq!(
            std::fs::read_link(d.join("rel-link")).unwrap(),
            Path::new("sub/deep/file")
        );
        assert_eq!(
            std::fs::read_link(d.join("abs-dangling")).unwrap(),
            Path::new("/etc/nowhere")
        );
        assert!(d
            .join("fifo")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_fifo());
        assert_eq!(d.symlink_metadata().unwrap().mode() & 0o7777, 0o1777);
        if root {
            assert_eq!((fm.uid(), fm.gid()), (1000, 1001));
            let lm = d.join("rel-link").symlink_metadata().unwrap();
            assert_eq!((lm.uid(), lm.gid()), (7, 8));
            assert_eq!(d.symlink_metadata().unwrap().uid(), 33);
            let mut v = [0u8; 8];
            if let Ok(n) = rustix::fs::lgetxattr(s.join("sub/deep/file"), "user.pouch", &mut v) {
                let got = rustix::fs::lgetxattr(d.join("sub/deep/file"), "user.pouch", &mut v);
                assert_eq!(got.ok(), Some(n), "xattr copied");
            }
        } else {
            eprintln!("owners not checked: needs root");
        }
    }

    #[test]
    fn copy_up_needs_a_directory() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("f"), "x").unwrap();
        let err = copy_up(&src.path().join("f"), src.path()).unwrap_err();
        assert!(err.to_string().contains("is not a directory"), "{err}");
        assert!(copy_up(&src.path().join("missing"), src.path()).is_err());
    }
}
