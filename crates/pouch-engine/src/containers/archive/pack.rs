//! Tars of container files: `get_archive` (one path, with Docker's entry names) and
//! `export` (the whole root). The tree is walked with directory handles (`openat` without
//! following symlinks), so a container that swaps a directory for a symlink mid-walk only
//! changes what is archived, never where it is read from. Files that vanish are skipped; a
//! file that shrinks is padded with zeros (the header already went out).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use pouch_api::container::PathStat;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use tar::{EntryType, Header};

use super::{go_base, ArchiveError, Resolved, Root, MAX_DEPTH};

/// Name and link fields longer than this need a GNU long-name record.
const NAME_FIELD: usize = 100;

/// Writes the tar of a container path to `out`, named as Docker names it: the entry is the
/// path's base name (a directory with its content below it), `/` gives `/`-rooted names,
/// and a path ending in `/.` gives `./` and the directory's content. Returns the stat
/// that goes in the `X-Docker-Container-Path-Stat` header.
pub fn get_archive(root: &Path, path: &str, out: &mut dyn Write) -> Result<PathStat, ArchiveError> {
    let r = Resolved::new(root, path)?;
    let stat = r.path_stat();
    let (top, child_prefix) = match go_base(&r.abs) {
        "/" => (b"/".to_vec(), b"/".to_vec()),
        "." => (b"./".to_vec(), Vec::new()),
        base => (base.as_bytes().to_vec(), format!("{base}/").into_bytes()),
    };
    let what = format!("archiving {}", r.abs);
    let mut w = TarWriter::new(out);
    let is_dir = FileType::from_raw_mode(r.stat.st_mode) == FileType::Directory;
    match &r.name {
        _ if is_dir => {
            let dir = match &r.name {
                None => rustix::fs::openat(
                    &r.dir,
                    ".",
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                ),
                Some(n) => open_dir(r.dir.as_fd(), n),
            }
            .map_err(|e| ArchiveError::io(what.clone())(e.into()))?;
            let mut top_name = top;
            if !top_name.ends_with(b"/") {
                top_name.push(b'/');
            }
            let mut h = header(&r.stat, EntryType::Directory);
            w.append(&mut h, &top_name, None, &mut io::empty())
                .map_err(ArchiveError::io(what.clone()))?;
            w.walk(dir, child_prefix)?;
        }
        Some(n) => {
            w.add_non_dir(r.dir.as_fd(), n, &r.stat, &top)?;
        }
        None => {}
    }
    w.finish().map_err(ArchiveError::io(what))?;
    Ok(stat)
}

/// Writes the whole root file system as a tar (`docker export`): entries named relative to
/// the root (`bin/`, `bin/sh`), no entry for the root itself.
pub fn export(root: &Path, out: &mut dyn Write) -> Result<(), ArchiveError> {
    let r = Root::open(root)?;
    let dir = rustix::fs::openat(
        &r.fd,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ArchiveError::io(format!("opening {}", root.display()))(e.into()))?;
    let mut w = TarWriter::new(out);
    w.walk(dir, Vec::new())?;
    w.finish()
        .map_err(ArchiveError::io(format!("exporting {}", root.display())))
}

fn open_dir(dir: BorrowedFd<'_>, name: &[u8]) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        dir,
        OsStr::from_bytes(name),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// One open directory of the walk and the names left to visit in it.
struct Frame {
    dir: OwnedFd,
    /// Archive name prefix of its children (`etc/`).
    prefix: Vec<u8>,
    names: std::vec::IntoIter<Vec<u8>>,
}

impl Frame {
    fn new(dir: OwnedFd, prefix: Vec<u8>) -> io::Result<Frame> {
        let mut names = Vec::new();
        let mut d = rustix::fs::Dir::read_from(&dir)?;
        while let Some(entry) = d.read() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(name.to_vec());
            }
        }
        names.sort();
        Ok(Frame {
            dir,
            prefix,
            names: names.into_iter(),
        })
    }
}

struct TarWriter<'a> {
    b: tar::Builder<&'a mut dyn Write>,
    /// Regular files with more than one link already archived: (dev, ino) → entry name.
    links: HashMap<(u64, u64), Vec<u8>>,
}

impl<'a> TarWriter<'a> {
    fn new(out: &'a mut dyn Write) -> TarWriter<'a> {
        TarWriter {
            b: tar::Builder::new(out),
            links: HashMap::new(),
        }
    }

    fn finish(mut self) -> io::Result<()> {
        self.b.finish()
    }

    /// Archives the content of `dir` (depth first, names sorted), children named
    /// `prefix` + name.
    fn walk(&mut self, dir: OwnedFd, prefix: Vec<u8>) -> Result<(), ArchiveError> {
        let shown = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
        let mut stack =
            vec![
                Frame::new(dir, prefix.clone()).map_err(ArchiveError::io(format!(
                    "reading directory {:?}",
                    shown(&prefix)
                )))?,
            ];
        while let Some(frame) = stack.last_mut() {
            let Some(name) = frame.names.next() else {
                stack.pop();
                continue;
            };
            let mut arc = frame.prefix.clone();
            arc.extend_from_slice(&name);
            let st = match rustix::fs::statat(
                &frame.dir,
                OsStr::from_bytes(&name),
                AtFlags::SYMLINK_NOFOLLOW,
            ) {
                Ok(st) => st,
                Err(Errno::NOENT) => continue,
                Err(e) => {
                    return Err(ArchiveError::io(format!("stat {:?}", shown(&arc)))(
                        e.into(),
                    ))
                }
            };
            if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                let dir = frame.dir.as_fd();
                self.add_non_dir(dir, &name, &st, &arc)?;
                continue;
            }
            let sub = match open_dir(frame.dir.as_fd(), &name) {
                Ok(fd) => fd,
                // Replaced or removed since the stat.
                Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => continue,
                Err(e) => {
                    return Err(ArchiveError::io(format!("opening {:?}", shown(&arc)))(
                        e.into(),
                    ))
                }
            };
            if stack.len() >= MAX_DEPTH {
                return Err(ArchiveError::io(format!("archiving {:?}", shown(&arc)))(
                    io::Error::other(format!("directories nest deeper than {MAX_DEPTH} levels")),
                ));
            }
            arc.push(b'/');
            let mut h = header(&st, EntryType::Directory);
            self.append(&mut h, &arc, None, &mut io::empty())
                .map_err(ArchiveError::io("writing the archive"))?;
            let frame = Frame::new(sub, arc.clone()).map_err(ArchiveError::io(format!(
                "reading directory {:?}",
                shown(&arc)
            )))?;
            stack.push(frame);
        }
        Ok(())
    }

    /// Archives a file, symlink, device or fifo `name` of `dir` as `arc`; sockets and
    /// files that vanished are skipped.
    fn add_non_dir(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        st: &Stat,
        arc: &[u8],
    ) -> Result<(), ArchiveError> {
        let write_err = ArchiveError::io("writing the archive");
        let os_name = OsStr::from_bytes(name);
        match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => return self.add_file(dir, name, st, arc),
            FileType::Symlink => {
                let target = match rustix::fs::readlinkat(dir, os_name, Vec::new()) {
                    Ok(t) => t.into_bytes(),
                    Err(Errno::NOENT | Errno::INVAL) => return Ok(()),
                    Err(e) => {
                        return Err(ArchiveError::io(format!(
                            "reading link {:?}",
                            String::from_utf8_lossy(arc)
                        ))(e.into()))
                    }
                };
                let mut h = header(st, EntryType::Symlink);
                self.append(&mut h, arc, Some(&target), &mut io::empty())
                    .map_err(write_err)?;
            }
            kind @ (FileType::CharacterDevice | FileType::BlockDevice) => {
                let entry = if kind == FileType::CharacterDevice {
                    EntryType::Char
                } else {
                    EntryType::Block
                };
                let mut h = header(st, entry);
                let dev = st.st_rdev;
                h.set_device_major(rustix::fs::major(dev))
                    .and_then(|()| h.set_device_minor(rustix::fs::minor(dev)))
                    .map_err(ArchiveError::io("writing the archive"))?;
                self.append(&mut h, arc, None, &mut io::empty())
                    .map_err(write_err)?;
            }
            FileType::Fifo => {
                let mut h = header(st, EntryType::Fifo);
                self.append(&mut h, arc, None, &mut io::empty())
                    .map_err(write_err)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn add_file(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        st: &Stat,
        arc: &[u8],
    ) -> Result<(), ArchiveError> {
        let key = (st.st_dev, st.st_ino);
        if st.st_nlink > 1 {
            if let Some(first) = self.links.get(&key).cloned() {
                let mut h = header(st, EntryType::Link);
                return self
                    .append(&mut h, arc, Some(&first), &mut io::empty())
                    .map_err(ArchiveError::io("writing the archive"));
            }
        }
        // O_NONBLOCK: a file swapped for a fifo must not block the open.
        let fd = match rustix::fs::openat(
            dir,
            OsStr::from_bytes(name),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(e) => {
                tracing::warn!(
                    entry = %String::from_utf8_lossy(arc),
                    "file not archived: {e}"
                );
                return Ok(());
            }
        };
        let st = match rustix::fs::fstat(&fd) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => st,
            _ => return Ok(()),
        };
        let size = u64::try_from(st.st_size).unwrap_or(0);
        let mut h = header(&st, EntryType::Regular);
        h.set_size(size);
        let mut data = Exact {
            inner: std::fs::File::from(fd),
            left: size,
            failed: false,
        };
        self.append(&mut h, arc, None, &mut data)
            .map_err(ArchiveError::io("writing the archive"))?;
        if st.st_nlink > 1 {
            self.links.insert(key, arc.to_vec());
        }
        Ok(())
    }

    /// Appends an entry with a raw name (and link target), using GNU long-name records
    /// for long ones.
    fn append(
        &mut self,
        h: &mut Header,
        name: &[u8],
        link: Option<&[u8]>,
        data: &mut dyn Read,
    ) -> io::Result<()> {
        if name.len() > NAME_FIELD {
            self.long_record(EntryType::GNULongName, name)?;
        }
        fill(&mut h.as_old_mut().name, name);
        if let Some(link) = link {
            if link.len() > NAME_FIELD {
                self.long_record(EntryType::GNULongLink, link)?;
            }
            fill(&mut h.as_old_mut().linkname, link);
        }
        h.set_cksum();
        self.b.append(h, data)
    }

    fn long_record(&mut self, kind: EntryType, value: &[u8]) -> io::Result<()> {
        let mut h = Header::new_gnu();
        fill(&mut h.as_old_mut().name, b"././@LongLink");
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(value.len() as u64 + 1);
        h.set_entry_type(kind);
        h.set_cksum();
        self.b.append(&h, value.chain(&[0u8][..]))
    }
}

/// Copies `value` into a NUL-padded header field, cut at the field's length.
fn fill(field: &mut [u8], value: &[u8]) {
    field.fill(0);
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// A header for a file's metadata (GNU format: large ids and sizes fit).
fn header(st: &Stat, kind: EntryType) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
    h.set_size(0);
    h
}

/// Reads exactly `left` bytes: a file that shrank or failed is padded with zeros.
struct Exact<R> {
    inner: R,
    left: u64,
    failed: bool,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let mut n = 0;
        if !self.failed {
            match self.inner.read(&mut buf[..want]) {
                Ok(0) => self.failed = true,
                Ok(got) => n = got,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return self.read(buf),
                Err(e) => {
                    tracing::warn!("file changed while it was archived: {e}");
                    self.failed = true;
                }
            }
        }
        if self.failed {
            buf[..want].fill(0);
            n = want;
        }
        self.left -= n as u64;
        Ok(n)
    }
}
