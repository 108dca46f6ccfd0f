//! Replacing bind mounts inside another process's mount namespace, for lxcfs's files in a
//! running container after lxcfs restarted (its old binds answer `ENOTCONN` for ever).
//!
//! [`Process::rebind`] clones each source with `open_tree(OPEN_TREE_CLONE)` in the caller's
//! namespace (a detached mount, made read-only, nosuid, nodev, noexec and private with
//! `mount_setattr` before anyone can see it), then, on a throw-away OS thread that leaves
//! the shared filesystem context (`unshare(CLONE_FS)`) and joins the target's mount
//! namespace through a pidfd (`setns(pidfd, CLONE_NEWNS)`), detaches the old mount at each
//! target (`umount2(MNT_DETACH)`) and attaches the clone there (`move_mount`). The thread
//! ends right after, so no other code ever runs in the container's namespace; a thread
//! rather than a forked child because the thread may allocate and report errors as values,
//! which a child of a multi-threaded process may not. Targets resolve against the target
//! process's root (the container's root after its `pivot_root`).
#![allow(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::mount::{MoveMountFlags, OpenTreeFlags, UnmountFlags};
use rustix::process::{Pid, PidfdFlags};
use rustix::thread::{ThreadNameSpaceType, UnshareFlags};

/// Why a bind could not be replaced; each names the path or process it acted on.
#[derive(Debug, thiserror::Error)]
pub enum MntnsError {
    #[error("{op} {path}: {source}")]
    Call {
        op: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("process {pid}: {op}: {source}")]
    Process {
        pid: u32,
        op: &'static str,
        source: std::io::Error,
    },
    #[error("the thread that entered the mount namespace of process {pid} panicked")]
    Thread { pid: u32 },
}

fn call(op: &'static str, path: &Path, e: rustix::io::Errno) -> MntnsError {
    MntnsError::Call {
        op,
        path: path.display().to_string(),
        source: e.into(),
    }
}

/// One bind to put in place: `source` (a path in the caller's namespace) at `target` (a
/// path in the target process's namespace, relative to its root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebind {
    pub source: PathBuf,
    pub target: PathBuf,
}

/// A process held by a pidfd, so a recycled pid can never lead into another namespace.
#[derive(Debug)]
pub struct Process {
    pid: u32,
    fd: OwnedFd,
}

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// A detached copy (`open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)`) of the mount tree at
/// `source`, made read-only, nosuid, nodev, noexec and private.
pub fn clone_read_only(source: &Path) -> Result<OwnedFd, MntnsError> {
    let tree = rustix::mount::open_tree(
        rustix::fs::CWD,
        source,
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_RECURSIVE,
    )
    .map_err(|e| call("open_tree", source, e))?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
        attr_clr: 0,
        propagation: libc::MS_PRIVATE,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr(2) reads `size_of::<MountAttr>()` bytes from `&attr`, a live
    // `#[repr(C)]` struct with the kernel's layout (four u64s, MOUNT_ATTR_SIZE_VER0); the path
    // is a NUL-terminated empty string and `tree` is an open descriptor we own.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        return Err(MntnsError::Call {
            op: "mount_setattr",
            path: source.display().to_string(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(tree)
}

impl Process {
    /// Holds process `pid` (`pidfd_open`); fails when it does not exist.
    pub fn open(pid: u32) -> Result<Process, MntnsError> {
        let err = |source: std::io::Error| MntnsError::Process {
            pid,
            op: "pidfd_open",
            source,
        };
        let p = i32::try_from(pid)
            .ok()
            .and_then(Pid::from_raw)
            .ok_or_else(|| err(std::io::Error::from(std::io::ErrorKind::InvalidInput)))?;
        let fd = rustix::process::pidfd_open(p, PidfdFlags::empty()).map_err(|e| err(e.into()))?;
        Ok(Process { pid, fd })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Puts a read-only copy of each `source` at its `target` in this process's mount
    /// namespace, in place of what is mounted there (see the module doc). Every source is
    /// cloned before the namespace is entered, so a missing source changes nothing; in the
    /// namespace every bind is tried and the first failure is returned.
    pub fn rebind(&self, binds: &[Rebind]) -> Result<(), MntnsError> {
        let trees = binds
            .iter()
            .map(|b| clone_read_only(&b.source))
            .collect::<Result<Vec<OwnedFd>, MntnsError>>()?;
        let pid = self.pid;
        std::thread::scope(|s| {
            s.spawn(|| self.attach_in_namespace(binds, &trees))
                .join()
                .unwrap_or(Err(MntnsError::Thread { pid }))
        })
    }

    /// Runs on its own thread, which ends right after: enters the namespace and swaps the
    /// mounts.
    fn attach_in_namespace(&self, binds: &[Rebind], trees: &[OwnedFd]) -> Result<(), MntnsError> {
        // SAFETY: rustix marks `unshare` unsafe because of `CLONE_FILES`, which would split
        // the thread's descriptor table from the other threads'. Only `CLONE_FS` is passed:
        // this thread's root, cwd and umask become its own (setns into a mount namespace
        // requires it); no memory or descriptors are touched.
        unsafe { rustix::thread::unshare_unsafe(UnshareFlags::FS) }.map_err(|e| {
            MntnsError::Process {
                pid: self.pid,
                op: "unshare(CLONE_FS)",
                source: e.into(),
            }
        })?;
        rustix::thread::move_into_thread_name_spaces(self.fd.as_fd(), ThreadNameSpaceType::MOUNT)
            .map_err(|e| MntnsError::Process {
            pid: self.pid,
            op: "setns(CLONE_NEWNS)",
            source: e.into(),
        })?;
        let mut first = None;
        for (b, tree) in binds.iter().zip(trees) {
            if let Err(e) = swap(&b.target, tree) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// Detaches what is mounted at `target` (nothing there is fine) and attaches `tree`.
fn swap(target: &Path, tree: &OwnedFd) -> Result<(), MntnsError> {
    match rustix::mount::unmount(target, UnmountFlags::DETACH) {
        Ok(()) | Err(rustix::io::Errno::INVAL) => {}
        Err(e) => return Err(call("umount2", target, e)),
    }
    rustix::mount::move_mount(
        tree.as_fd(),
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| call("move_mount", target, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command};
    use std::time::{Duration, Instant};

    fn is_root() -> bool {
        rustix::process::geteuid().is_root()
    }

    /// A `sleep` in a private mount namespace of its own; killed on drop.
    struct Isolated(Child);

    impl Isolated {
        fn start() -> Isolated {
            let child = Command::new("unshare")
                .args(["--mount", "--propagation", "private", "sleep", "60"])
                .spawn()
                .expect("run unshare (util-linux)");
            let me = std::fs::read_link("/proc/self/ns/mnt").unwrap();
            let ns = format!("/proc/{}/ns/mnt", child.id());
            let deadline = Instant::now() + Duration::from_secs(10);
            // `unshare` execs `sleep` once it is in its new namespace.
            while std::fs::read_link(&ns).ok().as_ref() == Some(&me)
                || std::fs::read_to_string(format!("/proc/{}/comm", child.id()))
                    .is_ok_and(|c| c.trim() != "sleep")
            {
                assert!(
                    Instant::now() < deadline,
                    "unshare never left our namespace"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            Isolated(child)
        }

        fn pid(&self) -> u32 {
            self.0.id()
        }

        /// Reads `path` as the isolated process sees it.
        fn read(&self, path: &Path) -> String {
            let p = format!("/proc/{}/root{}", self.pid(), path.display());
            std::fs::read_to_string(p).unwrap()
        }

        /// Its mountinfo lines whose mount point is `path`.
        fn mounts_at(&self, path: &Path) -> Vec<String> {
            let info = std::fs::read_to_string(format!("/proc/{}/mountinfo", self.pid())).unwrap();
            let want = path.display().to_string();
            info.lines()
                .filter(|l| l.split(' ').nth(4) == Some(want.as_str()))
                .map(str::to_string)
                .collect()
        }
    }

    impl Drop for Isolated {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn rebind_replaces_a_mount_in_another_namespace_only() {
        if !is_root() {
            eprintln!("SKIP rebind_replaces_a_mount_in_another_namespace_only: needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (first, second, target) = (
            dir.path().join("first"),
            dir.path().join("second"),
            dir.path().join("target"),
        );
        std::fs::write(&first, "first\n").unwrap();
        std::fs::write(&second, "second\n").unwrap();
        std::fs::write(&target, "original\n").unwrap();
        let iso = Isolated::start();
        let p = Process::open(iso.pid()).unwrap();
        let bind = |source: &Path| Rebind {
            source: source.to_path_buf(),
            target: target.clone(),
        };

        // Nothing mounted at the target yet: the bind is simply added.
        p.rebind(&[bind(&first)]).unwrap();
        assert_eq!(iso.read(&target), "first\n");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "original\n");
        let mounts = iso.mounts_at(&target);
        assert_eq!(mounts.len(), 1, "{mounts:?}");
        let opts = mounts[0].split(' ').nth(5).unwrap_or_default();
        for o in ["ro", "nosuid", "nodev", "noexec"] {
            assert!(opts.split(',').any(|x| x == o), "{o} missing: {mounts:?}");
        }
        // Writes through it are refused.
        let w = std::fs::write(format!("/proc/{}/root{}", iso.pid(), target.display()), "x");
        assert_eq!(
            w.unwrap_err().raw_os_error(),
            Some(libc::EROFS),
            "the bind must be read-only"
        );

        // Again: the old bind is replaced, not stacked.
        p.rebind(&[bind(&second)]).unwrap();
        assert_eq!(iso.read(&target), "second\n");
        assert_eq!(iso.mounts_at(&target).len(), 1);
        // Our own namespace never saw any of it.
        assert!(!crate::mount::is_mount_point(&target));
    }

    #[test]
    fn errors_name_the_source_and_the_process() {
        if !is_root() {
            eprintln!("SKIP errors_name_the_source_and_the_process: needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let e = clone_read_only(&missing).unwrap_err().to_string();
        assert!(
            e.contains("open_tree") && e.contains(&missing.display().to_string()),
            "{e}"
        );

        let iso = Isolated::start();
        let p = Process::open(iso.pid()).unwrap();
        // A missing source changes nothing in the namespace.
        let e = p
            .rebind(&[Rebind {
                source: missing.clone(),
                target: dir.path().to_path_buf(),
            }])
            .unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        // A missing target is named.
        let src = dir.path().join("src");
        std::fs::write(&src, "x").unwrap();
        let nowhere = dir.path().join("nowhere");
        let e = p
            .rebind(&[Rebind {
                source: src,
                target: nowhere.clone(),
            }])
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("{}: ", nowhere.display())), "{e}");

        // A process that is gone.
        let pid = iso.pid();
        drop(iso);
        let e = Process::open(pid).unwrap_err().to_string();
        assert!(e.contains(&format!("process {pid}")), "{e}");
    }
}
