//! `docker cp` and `docker export` on a container's root file system (the mounted rootfs, a
//! host directory): `stat_path` (HEAD and the `X-Docker-Container-Path-Stat` header),
//! `get_archive` (a tar of one path), `put_archive` (extract a tar into a directory) and
//! `export` (the whole rootfs as a tar, without volumes, as Docker's). The `*_mounted`
//! variants (`mounts`) do the same with the container's volumes and binds in place.
//!
//! Paths from the client are container paths and the container may be running and hostile,
//! so nothing here resolves a path on the host: every lookup is `openat2(RESOLVE_IN_ROOT)`
//! from a handle on the root (symlinks, `..` and absolute links resolve as they would inside
//! the container, never above its root), and every file is then created, read or changed
//! relative to a handle on its parent directory without following a final symlink. Path
//! semantics follow Docker's (`ResolvePath`, `StatPath`, `TarResourceRebase`,
//! `ContainerExtractToDir`).

mod extract;
mod mounts;
mod pack;
#[cfg(test)]
mod tests;

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use pouch_api::container::{go_file_mode, PathStat};
use pouch_api::ApiError;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;

pub use extract::{extract, ExtractOptions};
pub use mounts::{extract_mounted, get_archive_mounted, stat_path_mounted};
pub use pack::{export, get_archive};

/// Deepest directory nesting walked or removed (each level holds a file descriptor).
const MAX_DEPTH: usize = 1024;

/// Why a copy to or from a container failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("no such file or directory: {path}")]
    NotFound { path: String },
    #[error("extraction point is not a directory: {path} (copy into an existing directory)")]
    NotDirectory { path: String },
    #[error("cannot overwrite {existing} {path} with {new} (remove it first)")]
    Overwrite {
        path: String,
        existing: &'static str,
        new: &'static str,
    },
    #[error("mounted volume is marked read-only: cannot copy into {path} ({mount} is mounted read-only)")]
    ReadOnly { path: String, mount: String },
    #[error("refused archive entry {entry:?}: {reason}")]
    Refused { entry: String, reason: String },
    #[error("reading the archive: {0} (send a plain tar stream)")]
    Read(io::Error),
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
}

impl ArchiveError {
    fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> ArchiveError {
        let what = what.into();
        move |source| ArchiveError::Io { what, source }
    }
}

impl From<ArchiveError> for ApiError {
    fn from(e: ArchiveError) -> ApiError {
        match e {
            ArchiveError::NotFound { .. } => ApiError::not_found(e.to_string()),
            ArchiveError::NotDirectory { .. }
            | ArchiveError::Overwrite { .. }
            | ArchiveError::Refused { .. }
            | ArchiveError::ReadOnly { .. }
            | ArchiveError::Read(_) => ApiError::invalid(e.to_string()),
            ArchiveError::Io { .. } => ApiError::internal(e.to_string()),
        }
    }
}

/// Stats a container path as `HEAD /containers/{id}/archive` does: a final symlink is not
/// followed (its fully resolved target is in `link_target`) unless the path ends in `/` or
/// `/.`.
pub fn stat_path(root: &Path, path: &str) -> Result<PathStat, ArchiveError> {
    let r = Resolved::new(root, path)?;
    Ok(r.path_stat())
}

/// `put_archive` with Docker's default options but `noOverwriteDirNonDir`: extracts the tar
/// `input` into the existing directory `path` of the container.
pub fn put_archive(
    root: &Path,
    path: &str,
    no_overwrite_dir_non_dir: bool,
    input: &mut dyn io::Read,
) -> Result<(), ArchiveError> {
    extract(
        root,
        path,
        &ExtractOptions {
            no_overwrite_dir_non_dir,
            owner: None,
        },
        input,
    )
}

/// The `X-Docker-Container-Path-Stat` header value: base64 (standard) of the stat's JSON.
pub fn header_value(stat: &PathStat) -> String {
    let json = serde_json::to_vec(stat).unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(json)
}

/// A handle on the container root and its real host path (to turn resolved handles back
/// into container paths).
struct Root {
    fd: OwnedFd,
    real: PathBuf,
}

impl Root {
    fn open(root: &Path) -> Result<Root, ArchiveError> {
        let what = || format!("opening the container root {}", root.display());
        let fd = rustix::fs::open(
            root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| ArchiveError::io(what())(e.into()))?;
        let real = fd_path(&fd).map_err(ArchiveError::io(what()))?;
        Ok(Root { fd, real })
    }

    /// Opens a container path inside the root, following symlinks within it.
    fn resolve(&self, path: &Path, flags: OFlags) -> Result<OwnedFd, Errno> {
        let p = if path.as_os_str().is_empty() {
            Path::new("/")
        } else {
            path
        };
        rustix::fs::openat2(
            &self.fd,
            p,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
    }

    /// The container path of a handle opened inside this root.
    fn container_path(&self, fd: BorrowedFd<'_>) -> io::Result<PathBuf> {
        let host = fd_path(&fd)?;
        let rel = host.strip_prefix(&self.real).map_err(|_| {
            io::Error::other(format!(
                "{} resolved outside the container root {}",
                host.display(),
                self.real.display()
            ))
        })?;
        Ok(Path::new("/").join(rel))
    }
}

/// The host path a descriptor refers to.
fn fd_path(fd: &impl AsRawFd) -> io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// A container path resolved like Docker's `ResolvePath`: the directory part followed
/// (inside the root), the last element not.
struct Resolved {
    root: Root,
    /// Docker's `absPath`: cleaned, absolute, trailing `/` or `/.` kept.
    abs: String,
    /// The directory holding the object (an `O_PATH` handle).
    dir: OwnedFd,
    /// The object's name in `dir`; `None` when the object is `dir` itself (the path ended
    /// in `/`, `/.` or was `/`).
    name: Option<Vec<u8>>,
    stat: Stat,
}

impl Resolved {
    fn new(root: &Path, path: &str) -> Result<Resolved, ArchiveError> {
        let root = Root::open(root)?;
        let abs = container_abs(path);
        let not_found = || ArchiveError::NotFound { path: abs.clone() };
        let (dir_part, base) = split(&abs);
        let dir = root
            .resolve(Path::new(dir_part), OFlags::PATH | OFlags::DIRECTORY)
            .map_err(|e| match e {
                Errno::NOENT | Errno::NOTDIR | Errno::LOOP => not_found(),
                e => ArchiveError::io(format!("resolving {abs}"))(e.into()),
            })?;
        let (name, stat) = if base.is_empty() || base == "." {
            let st = rustix::fs::fstat(&dir)
                .map_err(|e| ArchiveError::io(format!("stat {abs}"))(e.into()))?;
            (None, st)
        } else {
            let st =
                rustix::fs::statat(&dir, base, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| match e {
                    Errno::NOENT | Errno::NOTDIR => not_found(),
                    e => ArchiveError::io(format!("stat {abs}"))(e.into()),
                })?;
            (Some(base.as_bytes().to_vec()), st)
        };
        Ok(Resolved {
            root,
            abs,
            dir,
            name,
            stat,
        })
    }

    fn path_stat(&self) -> PathStat {
        let link_target = if FileType::from_raw_mode(self.stat.st_mode) == FileType::Symlink {
            self.link_target()
        } else {
            String::new()
        };
        PathStat {
            name: go_base(&self.abs).to_string(),
            size: self.stat.st_size,
            mode: go_file_mode(self.stat.st_mode),
            mtime: format_mtime(self.stat.st_mtime, self.stat.st_mtime_nsec as u32),
            link_target,
        }
    }

    /// Where a final symlink leads, fully resolved inside the container (as Docker's
    /// `StatPath`); for a dangling link, its target made absolute.
    fn link_target(&self) -> String {
        if let Ok(fd) = self.root.resolve(Path::new(&self.abs), OFlags::PATH) {
            if let Ok(p) = self.root.container_path(fd.as_fd()) {
                return p.to_string_lossy().into_owned();
            }
        }
        let Some(name) = &self.name else {
            return String::new();
        };
        let target = rustix::fs::readlinkat(&self.dir, OsStr::from_bytes(name), Vec::new())
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default();
        if target.starts_with('/') {
            clean(&target)
        } else {
            clean(&format!("{}/{target}", split(&self.abs).0))
        }
    }
}

/// Lexically cleans an absolute container path (Go's `filepath.Clean` of `"/" + p`).
fn clean(p: &str) -> String {
    let mut comps: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                comps.pop();
            }
            c => comps.push(c),
        }
    }
    format!("/{}", comps.join("/"))
}

/// Docker's `absPath`: `p` made absolute and cleaned, keeping a trailing `/.` or `/`
/// (`PreserveTrailingDotOrSeparator`), which ask for a directory's content.
fn container_abs(p: &str) -> String {
    let mut abs = clean(p);
    if go_base(p) == "." && !abs.ends_with("/.") {
        if !abs.ends_with('/') {
            abs.push('/');
        }
        abs.push('.');
    }
    if !abs.ends_with('/') && p.ends_with('/') {
        abs.push('/');
    }
    abs
}

/// Go's `filepath.Split`: the part up to and including the last `/`, and the rest.
fn split(p: &str) -> (&str, &str) {
    match p.rfind('/') {
        Some(i) => (&p[..=i], &p[i + 1..]),
        None => ("", p),
    }
}

/// Go's `filepath.Base`.
fn go_base(p: &str) -> &str {
    if p.is_empty() {
        return ".";
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    match trimmed.rfind('/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    }
}

/// A modification time as Go's `time.Time` marshals it (RFC 3339, trailing zeros of the
/// fraction dropped).
fn format_mtime(secs: i64, nanos: u32) -> String {
    match chrono::DateTime::from_timestamp(secs, nanos) {
        Some(t) => {
            let s = t.format("%Y-%m-%dT%H:%M:%S%.9f").to_string();
            let s = s.trim_end_matches('0').trim_end_matches('.');
            format!("{s}Z")
        }
        None => pouch_api::container::ZERO_TIME.to_string(),
    }
}
