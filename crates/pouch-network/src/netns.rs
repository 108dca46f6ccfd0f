//! Network namespaces as files: creating one pinned by a bind mount at a path (with `lo` up),
//! removing it, and running blocking work on a fresh OS thread that has joined one. Every
//! namespace change happens on a thread of its own that exits afterwards, so no thread of the
//! daemon or of the tokio pools ever ends up in a container's namespace.
//! See docs/networking-contract.md.

use std::io;
use std::path::{Path, PathBuf};

use rtnetlink::LinkUnspec;

/// Errors from creating, removing or entering a network namespace; each names its file.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("create network namespace {path}: {source}; pouchd needs root (CAP_SYS_ADMIN) and a writable exec-root")]
    Create { path: PathBuf, source: io::Error },
    #[error(
        "network namespace {path} already exists: remove it (or the container using it) first"
    )]
    Exists { path: PathBuf },
    #[error("bring up lo in network namespace {path}: {reason}")]
    Loopback { path: PathBuf, reason: String },
    #[error("remove network namespace {path}: {source}; check that nothing holds the mount")]
    Remove { path: PathBuf, source: io::Error },
    #[error("enter network namespace {path}: {source}; the namespace may be gone (is its container running?)")]
    Enter { path: PathBuf, source: io::Error },
    #[error("thread for network namespace {path}: {source}")]
    Thread { path: PathBuf, source: io::Error },
    #[error("work inside network namespace {path} panicked; see the daemon log")]
    Panicked { path: PathBuf },
}

impl NetnsError {
    /// `true` when the namespace file does not exist (nothing to enter).
    pub fn is_not_found(&self) -> bool {
        matches!(self, NetnsError::Enter { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

fn sys_io(e: pouch_sys::SysError) -> io::Error {
    match e {
        pouch_sys::SysError::Call { source, .. } => source,
        other => io::Error::other(other.to_string()),
    }
}

/// Creates a new network namespace bind-mounted at `path` (parent dirs created), with `lo` up.
pub fn create(path: &Path) -> Result<(), NetnsError> {
    let err = |source: io::Error| NetnsError::Create {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    if path.exists() && pouch_sys::mount::is_mount_point(path) {
        return Err(NetnsError::Exists {
            path: path.to_path_buf(),
        });
    }
    // An empty file to mount onto; a leftover unmounted one from a crash is reused.
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(err)?;
    let target = path.to_path_buf();
    let made = std::thread::Builder::new()
        .name("pouch-netns-new".into())
        .spawn(move || -> Result<(), NetnsError> {
            let err = |source: io::Error| NetnsError::Create {
                path: target.clone(),
                source,
            };
            // This thread alone moves to the new namespace; it exits when done.
            pouch_sys::netns::unshare_net().map_err(|e| err(sys_io(e)))?;
            pouch_sys::netns::bind_thread_net_ns(&target).map_err(|e| err(sys_io(e)))?;
            loopback_up().map_err(|reason| NetnsError::Loopback {
                path: target.clone(),
                reason,
            })
        })
        .map_err(err)?
        .join()
        .unwrap_or_else(|_| {
            Err(NetnsError::Panicked {
                path: path.to_path_buf(),
            })
        });
    if made.is_err() {
        let _ = pouch_sys::mount::unmount(path);
        let _ = std::fs::remove_file(path);
    }
    made
}

/// Sets `lo` up in the calling thread's network namespace (a netlink request on a
/// current-thread runtime).
fn loopback_up() -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        handle
            .link()
            .set(LinkUnspec::new_with_name("lo").up().build())
            .execute()
            .await
            .map_err(|e| e.to_string())
    })
}

/// Unmounts (MNT_DETACH) and removes `path`; Ok when it does not exist.
pub fn remove(path: &Path) -> Result<(), NetnsError> {
    let err = |source: io::Error| NetnsError::Remove {
        path: path.to_path_buf(),
        source,
    };
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    pouch_sys::mount::unmount(path).map_err(|e| err(sys_io(e)))?;
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(err(e)),
    }
}

/// Runs `f` on a new OS thread that has joined the namespace at `path` (setns) and returns
/// its result. For blocking work only (a netlink connection on a current-thread runtime,
/// binding sockets that then live in that namespace).
pub fn run_in<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, NetnsError> {
    let p = path.to_path_buf();
    spawn(path, move || enter_and_run(&p, f))?
        .join()
        .unwrap_or_else(|_| {
            Err(NetnsError::Panicked {
                path: path.to_path_buf(),
            })
        })
}

/// [`run_in`] for async callers: the caller's task waits without blocking a runtime thread.
pub async fn run_in_async<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, NetnsError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let p = path.to_path_buf();
    spawn(path, move || {
        let _ = tx.send(enter_and_run(&p, f));
    })?;
    rx.await.unwrap_or_else(|_| {
        Err(NetnsError::Panicked {
            path: path.to_path_buf(),
        })
    })
}

fn spawn<R: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<std::thread::JoinHandle<R>, NetnsError> {
    std::thread::Builder::new()
        .name("pouch-netns".into())
        .spawn(f)
        .map_err(|source| NetnsError::Thread {
            path: path.to_path_buf(),
            source,
        })
}

fn enter_and_run<T>(path: &Path, f: impl FnOnce() -> T) -> Result<T, NetnsError> {
    pouch_sys::netns::enter_net(path).map_err(|e| NetnsError::Enter {
        path: path.to_path_buf(),
        source: sys_io(e),
    })?;
    Ok(f())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns_inode(path: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).unwrap().ino()
    }

    /// Removes the namespace even when an assertion fails.
    struct NsGuard(PathBuf);
    impl Drop for NsGuard {
        fn drop(&mut self) {
            let _ = remove(&self.0);
        }
    }

    fn mounted(path: &Path) -> bool {
        pouch_sys::mount::is_mount_point(path)
    }

    #[test]
    fn create_run_in_remove() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/ns1");
        create(&path).unwrap();
        let _g = NsGuard(path.clone());
        assert!(mounted(&path), "{} is not mounted", path.display());
        // The namespace is a new one: not the test's own.
        let own = ns_inode(Path::new("/proc/self/ns/net"));
        assert_ne!(ns_inode(&path), own);
        assert!(matches!(create(&path), Err(NetnsError::Exists { .. })));

        // Inside: only lo, and it is up; the thread's namespace is the file's.
        let (links, lo_flags, inner) = run_in(&path, || {
            let dev = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap();
            let names: Vec<String> = dev
                .lines()
                .skip(2)
                .map(|l| l.split(':').next().unwrap().trim().to_string())
                .collect();
            (
                names,
                lo_is_up(),
                ns_inode(Path::new("/proc/thread-self/ns/net")),
            )
        })
        .unwrap();
        assert_eq!(links, vec!["lo".to_string()]);
        assert!(lo_flags, "lo is not up in the new namespace");
        assert_eq!(inner, ns_inode(&path));
        // The caller's thread stayed where it was.
        assert_eq!(ns_inode(Path::new("/proc/thread-self/ns/net")), own);

        remove(&path).unwrap();
        assert!(!path.exists());
        assert!(!mounted(&path));
        remove(&path).unwrap();
        assert!(run_in(&path, || ()).unwrap_err().is_not_found());
    }

    /// `lo` up, from the thread's view: ioctl-free, via a UDP socket to 127.0.0.1 that only
    /// delivers when lo is up.
    fn lo_is_up() -> bool {
        let a = std::net::UdpSocket::bind("127.0.0.1:0");
        let Ok(a) = a else { return false };
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        b.send_to(b"x", a.local_addr().unwrap()).is_ok() && {
            a.set_read_timeout(Some(std::time::Duration::from_secs(1)))
                .unwrap();
            let mut buf = [0u8; 1];
            a.recv(&mut buf).is_ok()
        }
    }

    #[tokio::test]
    async fn run_in_async_returns_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ns2");
        create(&path).unwrap();
        let _g = NsGuard(path.clone());
        let inode = run_in_async(&path, || ns_inode(Path::new("/proc/thread-self/ns/net")))
            .await
            .unwrap();
        assert_eq!(inode, ns_inode(&path));
        let p = run_in_async(&path, || -> u8 { panic!("boom") }).await;
        assert!(matches!(p, Err(NetnsError::Panicked { .. })));
    }
}
