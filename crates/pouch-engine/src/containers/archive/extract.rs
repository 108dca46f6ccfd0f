//! Extraction of a client's tar into a container directory (`PUT /containers/{id}/archive`).
//!
//! The tar is untrusted and so is the container, which may change its files while we
//! write. Entry names are sanitised (no `..`, no NUL, sane lengths); each entry's parent is
//! resolved with `RESOLVE_IN_ROOT` from the container root (symlinks in the parents are
//! followed as inside the container, as Docker's chrooted untar does, never out of it);
//! the entry itself is then created relative to that parent handle without following a
//! final symlink (`O_CREAT|O_EXCL|O_NOFOLLOW`, `*at` calls with `AT_SYMLINK_NOFOLLOW`, and
//! chmod through an `O_PATH|O_NOFOLLOW` handle). Device nodes are refused, hard links must
//! point inside the extraction directory, relative symlinks may not climb above the
//! container root.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid};
use rustix::io::Errno;
use tar::EntryType;

use super::{container_abs, ArchiveError, Root, MAX_DEPTH};

/// Longest entry path accepted (PATH_MAX).
const MAX_PATH_LEN: usize = 4096;
const COPY_BUF: usize = 128 * 1024;

/// How `extract` treats conflicts and ownership.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Refuse to replace a directory with a non-directory and the reverse
    /// (`noOverwriteDirNonDir`, set by `docker cp`).
    pub no_overwrite_dir_non_dir: bool,
    /// Owner given to every entry (`copyUIDGID`: the container user's uid and gid);
    /// `None` keeps the owners recorded in the tar.
    pub owner: Option<(u32, u32)>,
}

/// Extracts the tar `input` into the existing directory `path` of the container rooted at
/// `root` (a final symlink in `path` is followed, inside the container, as Docker does).
/// Owners, modes and modification times of the entries are kept.
pub fn extract(
    root: &Path,
    path: &str,
    opts: &ExtractOptions,
    input: &mut dyn Read,
) -> Result<(), ArchiveError> {
    let root = Root::open(root)?;
    let abs = container_abs(path);
    let target = root
        .resolve(Path::new(&abs), OFlags::PATH)
        .map_err(|e| match e {
            Errno::NOENT | Errno::NOTDIR | Errno::LOOP => {
                ArchiveError::NotFound { path: abs.clone() }
            }
            e => ArchiveError::io(format!("resolving {abs}"))(e.into()),
        })?;
    let st = rustix::fs::fstat(&target)
        .map_err(|e| ArchiveError::io(format!("stat {abs}"))(e.into()))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return Err(ArchiveError::NotDirectory { path: abs });
    }
    let target_path = root
        .container_path(target.as_fd())
        .map_err(ArchiveError::io(format!("resolving {abs}")))?;
    let mut x = Extractor {
        root,
        target_path,
        opts,
        is_root: rustix::process::geteuid().is_root(),
        dir_times: Vec::new(),
        buf: vec![0; COPY_BUF],
    };
    let mut archive = tar::Archive::new(input);
    for entry in archive.entries().map_err(ArchiveError::Read)? {
        let mut entry = entry.map_err(ArchiveError::Read)?;
        x.entry(&mut entry)?;
    }
    x.finish()
}

/// Owner, mode and mtime of an entry.
struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: Timespec,
}

struct Extractor<'a> {
    root: Root,
    /// Container path of the extraction directory (symlinks resolved).
    target_path: PathBuf,
    opts: &'a ExtractOptions,
    is_root: bool,
    /// Directory mtimes, set at the end since later entries change them.
    dir_times: Vec<(PathBuf, Timespec)>,
    buf: Vec<u8>,
}

impl Extractor<'_> {
    fn refused(shown: &str, reason: impl Into<String>) -> ArchiveError {
        ArchiveError::Refused {
            entry: shown.to_string(),
            reason: reason.into(),
        }
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ArchiveError> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            return Ok(());
        }
        let comps = sanitize(&raw).map_err(|reason| Self::refused(&shown, reason))?;
        let Some((name, parents)) = comps.split_last() else {
            // The extraction directory itself (`./`): left as it is, as Docker does.
            return Ok(());
        };
        let meta = self.meta(entry, &shown)?;
        let container: PathBuf = comps.iter().fold(self.target_path.clone(), |p, c| {
            p.join(OsStr::from_bytes(c))
        });
        let shown_path = container.display().to_string();
        let is_dir = kind == EntryType::Directory
            || (matches!(kind, EntryType::Regular | EntryType::Continuous) && raw.ends_with(b"/"));

        // Checks that need nothing on disk come first.
        let link_target = match kind {
            _ if is_dir => None,
            EntryType::Symlink => Some(self.symlink_target(entry, parents, &shown)?),
            EntryType::Link => Some(self.hard_link_target(entry, &container, &shown)?),
            EntryType::Char | EntryType::Block => {
                return Err(Self::refused(
                    &shown,
                    "device nodes cannot be copied into a container",
                ))
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse | EntryType::Fifo => {
                None
            }
            other => {
                return Err(Self::refused(
                    &shown,
                    format!("unsupported tar entry type {:?}", other.as_byte() as char),
                ))
            }
        };

        let parent = self.parent(parents, &shown)?;
        let os_name = OsStr::from_bytes(name);
        let io_err = || ArchiveError::io(format!("extracting {shown_path}"));
        let existing = match rustix::fs::statat(&parent, os_name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Some(FileType::from_raw_mode(st.st_mode)),
            Err(Errno::NOENT) => None,
            Err(e) => return Err(io_err()(e.into())),
        };
        if let Some(ft) = existing {
            let existing_dir = ft == FileType::Directory;
            if self.opts.no_overwrite_dir_non_dir && existing_dir != is_dir {
                let (existing, new) = if existing_dir {
                    ("directory", "non-directory")
                } else {
                    ("non-directory", "directory")
                };
                return Err(ArchiveError::Overwrite {
                    path: shown_path,
                    existing,
                    new,
                });
            }
            if !(existing_dir && is_dir) {
                remove_all(parent.as_fd(), os_name, 0).map_err(io_err())?;
            }
        }

        if is_dir {
            if existing != Some(FileType::Directory) {
                match rustix::fs::mkdirat(&parent, os_name, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(io_err()(e.into())),
                }
            }
            self.finish_entry(parent.as_fd(), os_name, &meta, false, &shown_path)?;
            self.dir_times.push((container, meta.mtime));
            return Ok(());
        }
        match kind {
            EntryType::Symlink => {
                let target = link_target.unwrap_or_default();
                rustix::fs::symlinkat(OsStr::from_bytes(&target), &parent, os_name)
                    .map_err(|e| io_err()(e.into()))?;
                self.finish_entry(parent.as_fd(), os_name, &meta, true, &shown_path)
            }
            EntryType::Link => {
                let target = link_target.unwrap_or_default();
                self.hard_link(&target, parent.as_fd(), os_name, &shown)?;
                self.finish_entry(parent.as_fd(), os_name, &meta, false, &shown_path)
            }
            EntryType::Fifo => {
                rustix::fs::mknodat(
                    &parent,
                    os_name,
                    FileType::Fifo,
                    Mode::from_raw_mode(0o600),
                    0,
                )
                .map_err(|e| io_err()(e.into()))?;
                self.finish_entry(parent.as_fd(), os_name, &meta, false, &shown_path)
            }
            _ => self.regular_file(entry, parent.as_fd(), os_name, &meta, &shown_path),
        }
    }

    fn meta<R: Read>(&self, entry: &tar::Entry<'_, R>, shown: &str) -> Result<Meta, ArchiveError> {
        let h = entry.header();
        let malformed =
            |field: &str| Self::refused(shown, format!("the {field} field is malformed"));
        let (uid, gid) = match self.opts.owner {
            Some(owner) => owner,
            None => {
                let uid = h.uid().map_err(|_| malformed("uid"))?;
                let gid = h.gid().map_err(|_| malformed("gid"))?;
                (
                    u32::try_from(uid).map_err(|_| malformed("uid"))?,
                    u32::try_from(gid).map_err(|_| malformed("gid"))?,
                )
            }
        };
        let mode = h.mode().map_err(|_| malformed("mode"))? & 0o7777;
        let mtime = h.mtime().unwrap_or(0);
        Ok(Meta {
            uid,
            gid,
            mode,
            mtime: Timespec {
                tv_sec: i64::try_from(mtime).unwrap_or(i64::MAX),
                tv_nsec: 0,
            },
        })
    }

    /// The target of a symlink entry; relative targets may not climb above the container
    /// root.
    fn symlink_target<R: Read>(
        &self,
        entry: &tar::Entry<'_, R>,
        parents: &[&[u8]],
        shown: &str,
    ) -> Result<Vec<u8>, ArchiveError> {
        let target = entry
            .link_name_bytes()
            .map(|t| t.into_owned())
            .unwrap_or_default();
        if target.is_empty() {
            return Err(Self::refused(shown, "symlink has no target"));
        }
        if target.contains(&0) || target.len() > MAX_PATH_LEN {
            return Err(Self::refused(shown, "symlink target is not a valid path"));
        }
        if !target.starts_with(b"/") {
            let mut depth = self.target_path.components().count().saturating_sub(1) + parents.len();
            for c in target.split(|b| *b == b'/') {
                match c {
                    b"" | b"." => {}
                    b".." if depth == 0 => {
                        return Err(Self::refused(
                            shown,
                            format!(
                                "symlink target {:?} climbs above the container root",
                                String::from_utf8_lossy(&target)
                            ),
                        ))
                    }
                    b".." => depth -= 1,
                    _ => depth += 1,
                }
            }
        }
        Ok(target)
    }

    /// The container path of a hard link's target: inside the extraction directory (names
    /// in the tar are relative to it), not the entry itself.
    fn hard_link_target<R: Read>(
        &self,
        entry: &tar::Entry<'_, R>,
        container: &Path,
        shown: &str,
    ) -> Result<Vec<u8>, ArchiveError> {
        let target = entry
            .link_name_bytes()
            .map(|t| t.into_owned())
            .unwrap_or_default();
        let shown_target = String::from_utf8_lossy(&target).into_owned();
        let comps = sanitize(&target).map_err(|_| {
            Self::refused(
                shown,
                format!("hard link target {shown_target:?} is outside the extraction directory"),
            )
        })?;
        if comps.is_empty() {
            return Err(Self::refused(shown, "hard link has no target"));
        }
        let path = comps.iter().fold(self.target_path.clone(), |p, c| {
            p.join(OsStr::from_bytes(c))
        });
        if path == container {
            return Err(Self::refused(shown, "hard link points to itself"));
        }
        Ok(path.into_os_string().into_vec())
    }

    fn hard_link(
        &self,
        target: &[u8],
        parent: BorrowedFd<'_>,
        name: &OsStr,
        shown: &str,
    ) -> Result<(), ArchiveError> {
        let target = Path::new(OsStr::from_bytes(target));
        let missing = || {
            Self::refused(
                shown,
                format!(
                    "hard link target {} does not exist or is a directory",
                    target.display()
                ),
            )
        };
        let (Some(tdir), Some(tname)) = (target.parent(), target.file_name()) else {
            return Err(missing());
        };
        let tparent = self
            .root
            .resolve(tdir, OFlags::PATH | OFlags::DIRECTORY)
            .map_err(|_| missing())?;
        match rustix::fs::statat(&tparent, tname, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) != FileType::Directory => {}
            _ => return Err(missing()),
        }
        rustix::fs::linkat(&tparent, tname, parent, name, AtFlags::empty()).map_err(|e| {
            ArchiveError::io(format!("linking {shown} to {}", target.display()))(e.into())
        })
    }

    fn regular_file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), ArchiveError> {
        let io_err = || ArchiveError::io(format!("extracting {shown}"));
        let fd = rustix::fs::openat(
            parent,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| io_err()(e.into()))?;
        let mut file = File::from(fd);
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ArchiveError::Read(e)),
            };
            file.write_all(&self.buf[..n]).map_err(io_err())?;
        }
        self.chown(file.as_fd(), None, meta).map_err(io_err())?;
        rustix::fs::fchmod(&file, Mode::from_raw_mode(meta.mode))
            .map_err(|e| io_err()(e.into()))?;
        let times = Timestamps {
            last_access: meta.mtime,
            last_modification: meta.mtime,
        };
        rustix::fs::futimens(&file, &times).map_err(|e| io_err()(e.into()))
    }

    /// Owner, then mode (chown clears setuid bits; not on symlinks) and mtime of `name` in
    /// `parent`, never following a final symlink.
    fn finish_entry(
        &self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        meta: &Meta,
        symlink: bool,
        shown: &str,
    ) -> Result<(), ArchiveError> {
        let io_err = || ArchiveError::io(format!("extracting {shown}"));
        self.chown(parent, Some(name), meta).map_err(io_err())?;
        if !symlink {
            chmod_nofollow(parent, name, meta.mode).map_err(io_err())?;
        }
        let times = Timestamps {
            last_access: meta.mtime,
            last_modification: meta.mtime,
        };
        rustix::fs::utimensat(parent, name, &times, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io_err()(e.into()))
    }

    /// Chowns `name` in `dir` (or `dir` itself), tolerating EPERM when not root
    /// (unprivileged tests: files stay ours).
    fn chown(&self, dir: BorrowedFd<'_>, name: Option<&OsStr>, meta: &Meta) -> io::Result<()> {
        let uid = Some(Uid::from_raw(meta.uid));
        let gid = Some(Gid::from_raw(meta.gid));
        let r = match name {
            Some(n) => rustix::fs::chownat(dir, n, uid, gid, AtFlags::SYMLINK_NOFOLLOW),
            None => rustix::fs::fchown(dir, uid, gid),
        };
        match r {
            Err(Errno::PERM) if !self.is_root => Ok(()),
            r => r.map_err(io::Error::from),
        }
    }

    /// The parent directory of an entry (its components below the extraction directory),
    /// created as 0755 where missing.
    fn parent(&self, parents: &[&[u8]], shown: &str) -> Result<OwnedFd, ArchiveError> {
        let flags = OFlags::PATH | OFlags::DIRECTORY;
        let not_dir =
            |p: &Path| Self::refused(shown, format!("parent {} is not a directory", p.display()));
        let io_err = |p: &Path| ArchiveError::io(format!("creating directory {}", p.display()));
        let full = parents.iter().fold(self.target_path.clone(), |p, c| {
            p.join(OsStr::from_bytes(c))
        });
        match self.root.resolve(&full, flags) {
            Ok(fd) => return Ok(fd),
            Err(Errno::NOENT) => {}
            Err(Errno::NOTDIR) => return Err(not_dir(&full)),
            Err(e) => return Err(io_err(&full)(e.into())),
        }
        let mut path = self.target_path.clone();
        let mut cur = self
            .root
            .resolve(&path, flags)
            .map_err(|e| io_err(&path)(e.into()))?;
        for c in parents {
            let name = OsStr::from_bytes(c);
            path.push(name);
            cur = match self.root.resolve(&path, flags) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => {
                    match rustix::fs::mkdirat(&cur, name, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(io_err(&path)(e.into())),
                    }
                    match self.root.resolve(&path, flags) {
                        Ok(fd) => fd,
                        Err(Errno::NOTDIR) => return Err(not_dir(&path)),
                        Err(e) => return Err(io_err(&path)(e.into())),
                    }
                }
                Err(Errno::NOTDIR) => return Err(not_dir(&path)),
                Err(e) => return Err(io_err(&path)(e.into())),
            };
        }
        Ok(cur)
    }

    /// Applies the directory mtimes, skipping directories that are gone or replaced.
    fn finish(&self) -> Result<(), ArchiveError> {
        for (path, t) in self.dir_times.iter().rev() {
            let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
                continue;
            };
            let Ok(parent) = self.root.resolve(dir, OFlags::PATH | OFlags::DIRECTORY) else {
                continue;
            };
            match rustix::fs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {}
                _ => continue,
            }
            let times = Timestamps {
                last_access: *t,
                last_modification: *t,
            };
            rustix::fs::utimensat(&parent, name, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(
                |e| ArchiveError::io(format!("setting the time of {}", path.display()))(e.into()),
            )?;
        }
        Ok(())
    }
}

/// Chmods `name` in `dir` without following it if it is a symlink: `fchmodat` cannot
/// refuse to follow on older kernels, so the file is pinned with `O_PATH|O_NOFOLLOW` and
/// changed through its `/proc/self/fd` entry (which names that very inode).
fn chmod_nofollow(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let st = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
        return Ok(());
    }
    rustix::fs::chmod(
        format!("/proc/self/fd/{}", fd.as_raw_fd()),
        Mode::from_raw_mode(mode),
    )?;
    Ok(())
}

/// Removes `name` from `dir`, a directory with its content, without following links.
fn remove_all(dir: BorrowedFd<'_>, name: &OsStr, depth: usize) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        Err(Errno::ISDIR | Errno::PERM) => {}
        Err(e) => return Err(e.into()),
    }
    if depth >= MAX_DEPTH {
        return Err(io::Error::other(format!(
            "directories nest deeper than {MAX_DEPTH} levels"
        )));
    }
    let sub = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    let mut d = rustix::fs::Dir::read_from(&sub)?;
    while let Some(entry) = d.read() {
        let entry = entry?;
        let n = entry.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(n.to_vec());
        }
    }
    for n in names {
        remove_all(sub.as_fd(), OsStr::from_bytes(&n), depth + 1)?;
    }
    match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A tar path's components below the extraction directory (the layer unpacker's rules).
fn sanitize(raw: &[u8]) -> Result<Vec<&[u8]>, String> {
    pouch_image::unpack::tar_path_components(raw, "extraction directory", false)
}
