//! `cp` with the container's mounts in place, as Docker mounts a container's volumes for
//! an archive request: a path under a mount's destination reads and writes the mount's
//! source (a volume's data or a bound host path), a read-only mount stays read-only, and
//! a tar of a parent directory includes what is mounted below it.
//!
//! The binds are made on a thread of its own moved into a private copy of the mount
//! namespace (`pouch_sys::mount::unshare_mounts`): nothing is mounted where the host or
//! the running container could see it, and everything goes away with the thread. Each
//! destination is resolved inside the root (`RESOLVE_IN_ROOT`, missing directories made
//! one by one relative to their parent) and mounted through its descriptor, so a hostile
//! container's symlinks cannot send a bind outside its root. The archive bytes cross
//! between that thread and the caller's reader or writer through a bounded channel.
//! tmpfs mounts live only in the container's namespace and are not seen (as in Docker).

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use pouch_api::container::{MountPoint, PathStat};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::{clean, container_abs, extract, get_archive, stat_path, ArchiveError, ExtractOptions};

/// Chunks of archive bytes in flight between the two threads.
const CHUNKS: usize = 8;
const CHUNK: usize = 64 * 1024;

/// The mounts a copy can see: binds of host paths and volumes, parents first.
fn visible(mounts: &[MountPoint]) -> Vec<&MountPoint> {
    let mut v: Vec<&MountPoint> = mounts
        .iter()
        .filter(|m| matches!(m.kind.as_str(), "bind" | "volume") && !m.source.is_empty())
        .collect();
    v.sort_by_key(|m| m.destination.split('/').filter(|c| !c.is_empty()).count());
    v
}

/// `stat_path` with the container's mounts in place.
pub fn stat_path_mounted(
    root: &Path,
    mounts: &[MountPoint],
    path: &str,
) -> Result<PathStat, ArchiveError> {
    let mounts = visible(mounts);
    if mounts.is_empty() {
        return stat_path(root, path);
    }
    on_mount_thread(root, &mounts, || stat_path(root, path))
}

/// `get_archive` with the container's mounts in place.
pub fn get_archive_mounted(
    root: &Path,
    mounts: &[MountPoint],
    path: &str,
    out: &mut dyn Write,
) -> Result<PathStat, ArchiveError> {
    let mounts = visible(mounts);
    if mounts.is_empty() {
        return get_archive(root, path, out);
    }
    let (tx, rx) = sync_channel::<Vec<u8>>(CHUNKS);
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            on_this_thread(root, &mounts, || {
                let mut w = ChannelWriter {
                    tx,
                    buf: Vec::with_capacity(CHUNK),
                };
                let stat = get_archive(root, path, &mut w)?;
                w.flush().map_err(ArchiveError::io("writing the archive"))?;
                Ok(stat)
            })
        });
        let mut failed = None;
        for chunk in rx {
            if let Err(e) = out.write_all(&chunk) {
                // Dropping the receiver (leaving the loop) stops the worker.
                failed = Some(e);
                break;
            }
        }
        let result = join(worker);
        match failed {
            Some(e) => Err(ArchiveError::io("writing the archive")(e)),
            None => result,
        }
    })
}

/// `extract` with the container's mounts in place. A target under a read-only mount is
/// refused ("mounted volume is marked read-only").
pub fn extract_mounted(
    root: &Path,
    mounts: &[MountPoint],
    path: &str,
    opts: &ExtractOptions,
    input: &mut dyn Read,
) -> Result<(), ArchiveError> {
    let abs = clean(&container_abs(path));
    if let Some(m) = mounts
        .iter()
        .filter(|m| !m.rw && m.kind != "tmpfs")
        .find(|m| Path::new(&abs).starts_with(&m.destination))
    {
        return Err(ArchiveError::ReadOnly {
            path: abs.clone(),
            mount: m.destination.clone(),
        });
    }
    let mounts = visible(mounts);
    if mounts.is_empty() {
        return extract(root, path, opts, input);
    }
    let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(CHUNKS);
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            on_this_thread(root, &mounts, || {
                let mut r = ChannelReader {
                    rx,
                    chunk: Vec::new(),
                    pos: 0,
                };
                extract(root, path, opts, &mut r)
            })
        });
        let mut read_failed = None;
        loop {
            let mut buf = vec![0u8; CHUNK];
            let sent = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    tx.send(Ok(buf))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let copy = io::Error::new(e.kind(), e.to_string());
                    read_failed = Some(e);
                    tx.send(Err(copy))
                }
            };
            // The worker stopped (an error it will report) or the input failed.
            if sent.is_err() || read_failed.is_some() {
                break;
            }
        }
        drop(tx);
        let result = join(worker);
        match read_failed {
            Some(e) => Err(ArchiveError::Read(e)),
            None => result,
        }
    })
}

/// Runs `op` on a thread of its own with `mounts` in place.
fn on_mount_thread<T: Send>(
    root: &Path,
    mounts: &[&MountPoint],
    op: impl FnOnce() -> Result<T, ArchiveError> + Send,
) -> Result<T, ArchiveError> {
    std::thread::scope(|s| join(s.spawn(|| on_this_thread(root, mounts, op))))
}

fn join<T>(
    h: std::thread::ScopedJoinHandle<'_, Result<T, ArchiveError>>,
) -> Result<T, ArchiveError> {
    h.join().unwrap_or_else(|_| {
        Err(ArchiveError::io("copying with the container's mounts")(
            io::Error::other("the copy thread panicked"),
        ))
    })
}

/// Moves the calling thread, which must run nothing else afterwards, into a private mount
/// namespace, binds `mounts` into `root` there, and runs `op`.
fn on_this_thread<T>(
    root: &Path,
    mounts: &[&MountPoint],
    op: impl FnOnce() -> Result<T, ArchiveError>,
) -> Result<T, ArchiveError> {
    pouch_sys::mount::unshare_mounts().map_err(|e| {
        ArchiveError::io("making a private mount namespace for the copy")(io::Error::other(e))
    })?;
    let root_fd = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        ArchiveError::io(format!("opening the container root {}", root.display()))(e.into())
    })?;
    for m in mounts {
        bind(&root_fd, m)?;
    }
    op()
}

fn proc_fd(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn resolve(root: &OwnedFd, path: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
    rustix::fs::openat2(
        root,
        if path.is_empty() { "/" } else { path },
        flags | OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
}

/// Binds one mount's source at its destination inside the root.
fn bind(root: &OwnedFd, m: &MountPoint) -> Result<(), ArchiveError> {
    let what = || format!("mounting {} at {} for the copy", m.source, m.destination);
    let is_dir = match std::fs::metadata(&m.source) {
        Ok(meta) => meta.is_dir(),
        Err(e) => {
            // A bound host path removed since: the copy sees what is below, as the
            // container would fail to start.
            tracing::warn!(source = %m.source, "mount not shown to the copy: {e}");
            return Ok(());
        }
    };
    let target =
        mount_point(root, &m.destination, is_dir).map_err(|e| ArchiveError::io(what())(e))?;
    pouch_sys::mount::mount_fs(&m.source, &proc_fd(&target), "", "rbind")
        .map_err(|e| ArchiveError::io(what())(io::Error::other(e)))?;
    if !m.rw {
        // Through a new handle: the old one is below the new mount.
        let top = resolve(root, &m.destination, OFlags::empty())
            .map_err(|e| ArchiveError::io(what())(e.into()))?;
        pouch_sys::mount::remount_read_only(&proc_fd(&top))
            .map_err(|e| ArchiveError::io(what())(io::Error::other(e)))?;
    }
    Ok(())
}

/// A handle on container path `dest` inside the root, made (directories, or an empty file
/// for a file mount) where missing, each part relative to its resolved parent.
fn mount_point(root: &OwnedFd, dest: &str, dir: bool) -> io::Result<OwnedFd> {
    let parts: Vec<&str> = dest.split('/').filter(|c| !c.is_empty()).collect();
    let mut fd = resolve(root, "/", OFlags::DIRECTORY)?;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let prefix = format!("/{}", parts[..=i].join("/"));
        let mut made = false;
        fd = loop {
            match resolve(root, &prefix, OFlags::empty()) {
                Ok(next) => break next,
                Err(Errno::NOENT) if !made => {
                    let parent = resolve(
                        root,
                        &format!("/{}", parts[..i].join("/")),
                        OFlags::DIRECTORY,
                    )?;
                    let made_it = if last && !dir {
                        rustix::fs::openat(
                            &parent,
                            *part,
                            OFlags::CREATE
                                | OFlags::EXCL
                                | OFlags::WRONLY
                                | OFlags::NOFOLLOW
                                | OFlags::CLOEXEC,
                            Mode::from_raw_mode(0o644),
                        )
                        .map(drop)
                    } else {
                        rustix::fs::mkdirat(&parent, *part, Mode::from_raw_mode(0o755))
                    };
                    match made_it {
                        Ok(()) | Err(Errno::EXIST) => made = true,
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        };
    }
    Ok(fd)
}

/// The worker's end of the output: chunks to the caller.
struct ChannelWriter {
    tx: SyncSender<Vec<u8>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

/// The worker's end of the input: chunks from the caller.
struct ChannelReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
