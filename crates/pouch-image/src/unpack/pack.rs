//! `pack_layer`: an overlay layer directory back to a Docker layer tar (whiteout devices
//! to `.wh.<name>` files, opaque directories to `.wh..wh..opq` entries), deterministic.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::io::Errno;
use tar::EntryType;

use super::{OVERLAY_XATTR_PREFIX, PAX_XATTR_PREFIX, WHITEOUT_OPAQUE, WHITEOUT_PREFIX};
use crate::ImageError;

/// Writes the overlay layer directory `dir` as a Docker layer tar: whiteout devices become
/// `.wh.<name>` files and opaque directories get a `.wh..wh..opq` entry. Modes, owners,
/// mtimes (seconds), xattrs (other than `trusted.overlay.*`), symlinks and hard links
/// within `dir` are kept; entries come in sorted order, so the same directory always gives
/// the same bytes. Returns the number of bytes written.
pub fn pack_layer(dir: &Path, out: impl Write) -> Result<u64, ImageError> {
    let mut b = tar::Builder::new(CountingWriter {
        inner: out,
        count: 0,
    });
    let mut links = HashMap::new();
    pack_dir(&mut b, dir, Path::new(""), &mut links)?;
    let what = || format!("writing the layer tar of {}", dir.display());
    b.finish().map_err(ImageError::io(what()))?;
    let w = b.into_inner().map_err(ImageError::io(what()))?;
    Ok(w.count)
}

fn pack_dir<W: Write>(
    b: &mut tar::Builder<W>,
    root: &Path,
    rel: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> Result<(), ImageError> {
    let full = root.join(rel);
    let err = |p: &Path| ImageError::io(format!("packing {}", p.display()));
    let mut names = fs::read_dir(&full)
        .map_err(err(&full))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<Vec<OsString>>>()
        .map_err(err(&full))?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let child_rel = rel.join(&name);
        let child = root.join(&child_rel);
        let m = fs::symlink_metadata(&child).map_err(err(&child))?;
        let ft = m.file_type();
        let mut h = header_for(&m);
        if ft.is_char_device() && m.rdev() == 0 {
            // An overlay whiteout: back to a Docker `.wh.` file.
            let mut wh = OsString::from(WHITEOUT_PREFIX);
            wh.push(&name);
            h.set_entry_type(EntryType::Regular);
            h.set_mode(0o600);
            b.append_data(&mut h, rel.join(wh), io::empty())
                .map_err(err(&child))?;
            continue;
        }
        let xattrs = read_xattrs(&child).map_err(err(&child))?;
        if !xattrs.is_empty() {
            let keys: Vec<String> = xattrs
                .iter()
                .map(|(k, _)| format!("{PAX_XATTR_PREFIX}{k}"))
                .collect();
            b.append_pax_extensions(
                keys.iter()
                    .map(String::as_str)
                    .zip(xattrs.iter().map(|(_, v)| v.as_slice())),
            )
            .map_err(err(&child))?;
        }
        if ft.is_dir() {
            h.set_entry_type(EntryType::Directory);
            let mut p = child_rel.clone().into_os_string();
            p.push("/");
            b.append_data(&mut h, &p, io::empty())
                .map_err(err(&child))?;
            if pouch_sys::is_opaque(&child) {
                let mut o = header_for(&m);
                o.set_entry_type(EntryType::Regular);
                o.set_mode(m.mode() & 0o777);
                b.append_data(&mut o, child_rel.join(WHITEOUT_OPAQUE), io::empty())
                    .map_err(err(&child))?;
            }
            pack_dir(b, root, &child_rel, links)?;
        } else if ft.is_file() {
            if m.nlink() > 1 {
                if let Some(first) = links.get(&(m.dev(), m.ino())) {
                    h.set_entry_type(EntryType::Link);
                    b.append_link(&mut h, &child_rel, first)
                        .map_err(err(&child))?;
                    continue;
                }
                links.insert((m.dev(), m.ino()), child_rel.clone());
            }
            h.set_entry_type(EntryType::Regular);
            h.set_size(m.len());
            let f = File::open(&child).map_err(err(&child))?;
            let data = ExactReader {
                inner: f.take(m.len()),
                left: m.len(),
            };
            b.append_data(&mut h, &child_rel, data)
                .map_err(err(&child))?;
        } else if ft.is_symlink() {
            h.set_entry_type(EntryType::Symlink);
            let target = fs::read_link(&child).map_err(err(&child))?;
            b.append_link(&mut h, &child_rel, target)
                .map_err(err(&child))?;
        } else if ft.is_char_device() || ft.is_block_device() {
            h.set_entry_type(if ft.is_block_device() {
                EntryType::Block
            } else {
                EntryType::Char
            });
            let dev = m.rdev();
            h.set_device_major(rustix::fs::major(dev))
                .map_err(err(&child))?;
            h.set_device_minor(rustix::fs::minor(dev))
                .map_err(err(&child))?;
            b.append_data(&mut h, &child_rel, io::empty())
                .map_err(err(&child))?;
        } else if ft.is_fifo() {
            h.set_entry_type(EntryType::Fifo);
            b.append_data(&mut h, &child_rel, io::empty())
                .map_err(err(&child))?;
        }
        // Sockets are not part of an image (docker skips them too).
    }
    Ok(())
}

fn header_for(m: &fs::Metadata) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(m.mode() & 0o7777);
    h.set_uid(u64::from(m.uid()));
    h.set_gid(u64::from(m.gid()));
    h.set_mtime(u64::try_from(m.mtime()).unwrap_or(0));
    h.set_size(0);
    h
}

/// The xattrs of `path` (not following a symlink) other than `trusted.overlay.*`, sorted.
fn read_xattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let unsupported = |e: Errno| e == Errno::OPNOTSUPP;
    let size = match rustix::fs::llistxattr_query(path) {
        Ok(n) => n,
        Err(e) if unsupported(e) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    if size == 0 {
        return Ok(Vec::new());
    }
    let mut list = vec![0u8; size];
    let n = rustix::fs::llistxattr(path, &mut list[..])?;
    list.truncate(n);
    let mut out = Vec::new();
    for name in list.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        if name.starts_with(OVERLAY_XATTR_PREFIX) {
            continue;
        }
        let len = rustix::fs::lgetxattr_query(path, name)?;
        let mut value = vec![0u8; len];
        let n = rustix::fs::lgetxattr(path, name, &mut value[..])?;
        value.truncate(n);
        out.push((name.to_string(), value));
    }
    out.sort();
    Ok(out)
}

struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Fails instead of ending early, so a file that shrank while packed cannot yield a tar
/// whose header size disagrees with its data.
struct ExactReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while it was being packed",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
