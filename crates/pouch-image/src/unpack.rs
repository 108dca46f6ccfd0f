//! Safe unpacking of untrusted layer tars into an overlayfs layer directory, and the reverse
//! (`pack_layer`).
//!
//! The `tar` crate only parses entries here; every file, directory and link is created by
//! this module so that each step can be checked: paths are sanitised (no `..`, no NUL, sane
//! lengths), every parent of an entry must be a real directory inside the layer (never a
//! symlink), hard links may only point at regular files unpacked earlier in the same layer,
//! relative symlinks may not climb above the layer root, device nodes need an explicit
//! opt-in, `trusted.overlay.*` xattrs are refused (they would forge whiteouts), and sizes
//! and entry counts are bounded. Docker whiteouts become overlayfs ones: `.wh.<name>` a
//! 0:0 character device, `.wh..wh..opq` the `trusted.overlay.opaque=y` xattr.
//!
//! The checks are path based. That is sound because the layer directory is fresh and only
//! this unpacker writes to it while it runs: the tar itself is the only adversary, and it
//! acts one entry at a time, after the previous entry's checks.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Timespec, Timestamps};
use rustix::io::Errno;
use tar::EntryType;

use crate::ImageError;

mod pack;
#[cfg(test)]
mod tests;

pub use pack::pack_layer;

/// Prefix of a Docker/OCI whiteout entry.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Prefix of whiteout metadata entries (aufs hard link dirs and the like), skipped.
pub const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
/// The opaque-directory marker.
pub const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";

const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";
/// Longest path accepted (Linux PATH_MAX).
const MAX_PATH_LEN: usize = 4096;
/// Longest file name accepted (NAME_MAX); a whiteout's may be 4 longer for its `.wh.`.
const MAX_NAME_LEN: usize = 255;
/// Most entries a single layer may hold.
pub const MAX_ENTRIES: u64 = 10_000_000;
const GIB: u64 = 1 << 30;
const COPY_BUF: usize = 128 * 1024;

/// Limits and permissions for `unpack_layer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackOptions {
    /// Create character and block devices found in the layer (refused otherwise).
    pub allow_devices: bool,
    /// Largest size a single entry may claim.
    pub max_entry_size: u64,
    /// Most file content bytes the whole layer may unpack to.
    pub max_total_size: u64,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            allow_devices: false,
            max_entry_size: 64 * GIB,
            max_total_size: 256 * GIB,
        }
    }
}

/// What an unpack produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Bytes of regular file content written.
    pub size: u64,
    /// Tar entries processed (whiteouts and skipped entries included).
    pub entries: u64,
}

/// Unpacks a plain (already decompressed) layer tar into `dest` (a fresh snapshot dir),
/// converting `.wh.<name>` to overlay whiteouts and `.wh..wh..opq` to the opaque xattr.
/// `layer` names the layer in errors. An unsafe entry is refused with
/// `ImageError::HostileLayer` before it touches the file system; the entries before it stay
/// unpacked, so on error the caller removes the whole snapshot.
pub fn unpack_layer(
    r: impl Read,
    dest: &Path,
    layer: &str,
    opts: &UnpackOptions,
) -> Result<UnpackStats, ImageError> {
    let mut u = Unpacker {
        dest,
        layer,
        opts,
        is_root: rustix::process::geteuid().is_root(),
        regular: HashSet::new(),
        dir_times: HashMap::new(),
        stats: UnpackStats::default(),
        buf: vec![0; COPY_BUF],
    };
    let read_err = |source| ImageError::Io {
        what: format!("reading the tar of layer {layer}"),
        source,
    };
    let mut archive = tar::Archive::new(r);
    for entry in archive.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        u.entry(&mut entry)?;
    }
    u.finish()?;
    Ok(u.stats)
}

/// How the parents of a path look.
enum Parents {
    /// All parents are real directories.
    Ok,
    /// A parent does not exist (only when not creating).
    Missing,
    /// This parent is a symlink.
    Symlink(PathBuf),
    /// This parent is neither a directory nor a symlink.
    NotDir(PathBuf),
}

/// The metadata an entry carries besides its content.
struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: Timespec,
    xattrs: Vec<(String, Vec<u8>)>,
}

struct Unpacker<'a> {
    dest: &'a Path,
    layer: &'a str,
    opts: &'a UnpackOptions,
    is_root: bool,
    /// Layer-relative paths unpacked as regular files (valid hard link targets).
    regular: HashSet<PathBuf>,
    /// Directory mtimes, applied at the end since later entries change them.
    dir_times: HashMap<PathBuf, Timespec>,
    stats: UnpackStats,
    buf: Vec<u8>,
}

impl Unpacker<'_> {
    fn hostile(&self, path: &str, reason: impl Into<String>) -> ImageError {
        ImageError::HostileLayer {
            layer: self.layer.to_string(),
            path: path.to_string(),
            reason: reason.into(),
        }
    }

    fn io_err(&self, shown: &str) -> impl FnOnce(io::Error) -> ImageError {
        ImageError::io(format!("unpacking {shown:?} of layer {}", self.layer))
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ImageError> {
        self.stats.entries += 1;
        let raw_path = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_path).into_owned();
        if self.stats.entries > MAX_ENTRIES {
            return Err(self.hostile(
                &shown,
                format!("the layer has more than {MAX_ENTRIES} entries"),
            ));
        }
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        let claimed = entry.size().max(entry.header().size().unwrap_or(0));
        if claimed > self.opts.max_entry_size {
            return Err(self.hostile(
                &shown,
                format!(
                    "entry size {claimed} exceeds the limit of {} bytes",
                    self.opts.max_entry_size
                ),
            ));
        }
        let rel = sanitize(&raw_path).map_err(|reason| self.hostile(&shown, reason))?;
        let meta = self.meta(entry, &shown)?;

        let Some(name) = rel.file_name().map(OsStr::to_os_string) else {
            // The layer root itself ("./" or "/"): the snapshot owns it.
            return Ok(());
        };
        if name.as_bytes().starts_with(WHITEOUT_PREFIX.as_bytes()) {
            return self.whiteout(&rel, &name, &meta, &shown);
        }

        match kind {
            EntryType::Directory => self.directory(&rel, &meta, &shown),
            EntryType::Regular | EntryType::Continuous if raw_path.ends_with(b"/") => {
                self.directory(&rel, &meta, &shown)
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.regular_file(entry, claimed, &rel, &meta, &shown)
            }
            EntryType::Symlink => self.symlink(entry, &rel, &meta, &shown),
            EntryType::Link => self.hard_link(entry, &rel, &meta, &shown),
            EntryType::Char | EntryType::Block => self.device(entry, &rel, &meta, &shown),
            EntryType::Fifo => {
                self.prepare(&rel, &shown)?;
                let full = self.dest.join(&rel);
                pouch_sys::make_fifo(&full, meta.mode)?;
                self.finish_entry(&full, &meta, &shown, true)
            }
            other => Err(self.hostile(
                &shown,
                format!("unsupported tar entry type {:?}", other.as_byte() as char),
            )),
        }
    }

    /// Owner, mode, mtime and xattrs of an entry; refuses `trusted.overlay.*` xattrs.
    fn meta<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        shown: &str,
    ) -> Result<Meta, ImageError> {
        let h = entry.header();
        let old = h.as_old();
        let malformed =
            |field: &str| self.hostile(shown, format!("the {field} field is malformed"));
        let uid = numeric(&old.uid, h.uid()).ok_or_else(|| malformed("uid"))?;
        let gid = numeric(&old.gid, h.gid()).ok_or_else(|| malformed("gid"))?;
        let mode = numeric(&old.mode, h.mode().map(u64::from)).ok_or_else(|| malformed("mode"))?;
        let mode = u32::try_from(mode).map_err(|_| malformed("mode"))?;
        let mtime = h.mtime().unwrap_or(0);
        let uid = u32::try_from(uid)
            .map_err(|_| self.hostile(shown, format!("uid {uid} is out of range")))?;
        let gid = u32::try_from(gid)
            .map_err(|_| self.hostile(shown, format!("gid {gid} is out of range")))?;
        let mut meta = Meta {
            uid,
            gid,
            mode: mode & 0o7777,
            mtime: Timespec {
                tv_sec: i64::try_from(mtime).unwrap_or(i64::MAX),
                tv_nsec: 0,
            },
            xattrs: Vec::new(),
        };
        let pax = entry
            .pax_extensions()
            .map_err(|e| self.hostile(shown, format!("malformed pax header: {e}")))?;
        if let Some(pax) = pax {
            for ext in pax {
                let ext =
                    ext.map_err(|e| self.hostile(shown, format!("malformed pax record: {e}")))?;
                let Ok(key) = ext.key() else {
                    return Err(self.hostile(shown, "a pax record key is not valid utf-8"));
                };
                if let Some(name) = key.strip_prefix(PAX_XATTR_PREFIX) {
                    if name.starts_with(OVERLAY_XATTR_PREFIX) {
                        return Err(self.hostile(
                            shown,
                            format!(
                                "xattr {name:?} is reserved for overlayfs: a layer may not set it \
                                 (it would forge whiteouts or redirects)"
                            ),
                        ));
                    }
                    if name.is_empty() || name.contains('\0') {
                        return Err(self.hostile(shown, format!("invalid xattr name {name:?}")));
                    }
                    meta.xattrs
                        .push((name.to_string(), ext.value_bytes().to_vec()));
                } else if key == "mtime" {
                    if let Some(t) = parse_pax_time(ext.value_bytes()) {
                        meta.mtime = t;
                    }
                }
            }
        }
        Ok(meta)
    }

    /// Checks (and creates as 0755 directories where missing) the parents of `rel`.
    fn parents(&self, rel: &Path, create: bool) -> io::Result<Parents> {
        let Some(parent) = rel.parent() else {
            return Ok(Parents::Ok);
        };
        let mut cur = PathBuf::new();
        for c in parent.components() {
            cur.push(c);
            let full = self.dest.join(&cur);
            match fs::symlink_metadata(&full) {
                Ok(m) if m.is_dir() => {}
                Ok(m) if m.file_type().is_symlink() => return Ok(Parents::Symlink(cur)),
                Ok(_) => return Ok(Parents::NotDir(cur)),
                Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                    fs::DirBuilder::new().mode(0o755).create(&full)?;
                    fs::set_permissions(&full, fs::Permissions::from_mode(0o755))?;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Parents::Missing),
                Err(e) => return Err(e),
            }
        }
        Ok(Parents::Ok)
    }

    /// Makes every parent of `rel` a real directory inside the layer, or refuses.
    fn ensure_parents(&self, rel: &Path, shown: &str) -> Result<(), ImageError> {
        match self.parents(rel, true).map_err(self.io_err(shown))? {
            Parents::Ok | Parents::Missing => Ok(()),
            Parents::Symlink(p) => Err(self.hostile(
                shown,
                format!(
                    "parent {:?} is a symlink: writing through it would leave the layer",
                    p.display().to_string()
                ),
            )),
            Parents::NotDir(p) => Err(self.hostile(
                shown,
                format!("parent {:?} is not a directory", p.display().to_string()),
            )),
        }
    }

    /// Readies `rel` for a new non-directory entry: parents checked, anything there removed.
    fn prepare(&mut self, rel: &Path, shown: &str) -> Result<(), ImageError> {
        self.ensure_parents(rel, shown)?;
        remove_existing(&self.dest.join(rel)).map_err(self.io_err(shown))?;
        self.regular.remove(rel);
        Ok(())
    }

    fn whiteout(
        &mut self,
        rel: &Path,
        name: &OsStr,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), ImageError> {
        let parent = rel.parent().unwrap_or(Path::new(""));
        self.ensure_parents(rel, shown)?;
        let name = name.as_bytes();
        if name == WHITEOUT_OPAQUE.as_bytes() {
            pouch_sys::set_opaque(&self.dest.join(parent))?;
            return Ok(());
        }
        if name.starts_with(WHITEOUT_META_PREFIX.as_bytes()) {
            return Ok(());
        }
        let target = &name[WHITEOUT_PREFIX.len()..];
        if target.is_empty() || target == b"." || target == b".." {
            return Err(self.hostile(shown, "whiteout does not name a file"));
        }
        let target_rel = parent.join(OsStr::from_bytes(target));
        self.prepare(&target_rel, shown)?;
        let full = self.dest.join(&target_rel);
        pouch_sys::make_whiteout(&full)?;
        self.chown(&full, meta)?;
        Ok(())
    }

    fn directory(&mut self, rel: &Path, meta: &Meta, shown: &str) -> Result<(), ImageError> {
        self.ensure_parents(rel, shown)?;
        let full = self.dest.join(rel);
        let is_dir = fs::symlink_metadata(&full).is_ok_and(|m| m.is_dir());
        if !is_dir {
            remove_existing(&full).map_err(self.io_err(shown))?;
            self.regular.remove(rel);
            fs::DirBuilder::new()
                .mode(0o700)
                .create(&full)
                .map_err(self.io_err(shown))?;
        }
        self.chown(&full, meta)?;
        fs::set_permissions(&full, fs::Permissions::from_mode(meta.mode))
            .map_err(self.io_err(shown))?;
        self.set_xattrs(&full, meta)?;
        self.dir_times.insert(rel.to_path_buf(), meta.mtime);
        Ok(())
    }

    fn regular_file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        claimed: u64,
        rel: &Path,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), ImageError> {
        if self.stats.size.saturating_add(claimed) > self.opts.max_total_size {
            return Err(self.hostile(
                shown,
                format!(
                    "the layer's content would pass the limit of {} bytes",
                    self.opts.max_total_size
                ),
            ));
        }
        self.prepare(rel, shown)?;
        let full = self.dest.join(rel);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&full)
            .map_err(self.io_err(shown))?;
        let mut written = 0u64;
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_err(shown)(e)),
            };
            written += n as u64;
            if written > claimed {
                return Err(self.hostile(shown, "entry holds more data than its size says"));
            }
            file.write_all(&self.buf[..n]).map_err(self.io_err(shown))?;
        }
        drop(file);
        self.stats.size += written;
        self.regular.insert(rel.to_path_buf());
        self.finish_entry(&full, meta, shown, true)
    }

    fn symlink<R: Read>(
        &mut self,
        entry: &tar::Entry<'_, R>,
        rel: &Path,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), ImageError> {
        let target = link_target(entry);
        if target.is_empty() {
            return Err(self.hostile(shown, "symlink has no target"));
        }
        if target.contains(&0) {
            return Err(self.hostile(shown, "symlink target contains a nul byte"));
        }
        if target.len() > MAX_PATH_LEN {
            return Err(self.hostile(
                shown,
                format!(
                    "symlink target is {} bytes long, over the limit of {MAX_PATH_LEN}",
                    target.len()
                ),
            ));
        }
        if climbs_above_root(rel, &target) {
            return Err(self.hostile(
                shown,
                format!(
                    "symlink target {:?} climbs above the layer root",
                    String::from_utf8_lossy(&target)
                ),
            ));
        }
        self.prepare(rel, shown)?;
        let full = self.dest.join(rel);
        std::os::unix::fs::symlink(OsStr::from_bytes(&target), &full)
            .map_err(self.io_err(shown))?;
        self.finish_entry(&full, meta, shown, false)
    }

    fn hard_link<R: Read>(
        &mut self,
        entry: &tar::Entry<'_, R>,
        rel: &Path,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), ImageError> {
        let target = link_target(entry);
        let shown_target = String::from_utf8_lossy(&target).into_owned();
        let target_rel = match sanitize(&target) {
            Ok(t) if t.as_os_str().is_empty() => {
                return Err(self.hostile(
                    shown,
                    format!("hard link target {shown_target:?} is not a regular file"),
                ))
            }
            Ok(t) => t,
            Err(_) if target.split(|b| *b == b'/').any(|c| c == b"..") => {
                return Err(self.hostile(
                    shown,
                    format!("hard link target {shown_target:?} is outside the layer"),
                ))
            }
            Err(reason) => {
                return Err(self.hostile(
                    shown,
                    format!("hard link target {shown_target:?}: {reason}"),
                ))
            }
        };
        if target_rel == rel {
            return Err(self.hostile(shown, "hard link points to itself"));
        }
        let not_unpacked = || {
            self.hostile(
                shown,
                format!(
                    "hard link target {shown_target:?} was not unpacked as a regular file \
                     earlier in this layer"
                ),
            )
        };
        if !self.regular.contains(&target_rel) {
            return Err(not_unpacked());
        }
        match self
            .parents(&target_rel, false)
            .map_err(self.io_err(shown))?
        {
            Parents::Ok => {}
            Parents::Missing => return Err(not_unpacked()),
            Parents::Symlink(p) | Parents::NotDir(p) => {
                return Err(self.hostile(
                    shown,
                    format!(
                        "hard link target {shown_target:?} is reached through {:?}, which is \
                         not a directory",
                        p.display().to_string()
                    ),
                ))
            }
        }
        let target_full = self.dest.join(&target_rel);
        if !fs::symlink_metadata(&target_full).is_ok_and(|m| m.is_file()) {
            return Err(not_unpacked());
        }
        self.prepare(rel, shown)?;
        let full = self.dest.join(rel);
        fs::hard_link(&target_full, &full).map_err(self.io_err(shown))?;
        self.regular.insert(rel.to_path_buf());
        self.finish_entry(&full, meta, shown, true)
    }

    fn device<R: Read>(
        &mut self,
        entry: &tar::Entry<'_, R>,
        rel: &Path,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), ImageError> {
        if !self.opts.allow_devices {
            return Err(self.hostile(shown, "device nodes are not allowed in image layers"));
        }
        let h = entry.header();
        let bad = |_| self.hostile(shown, "the device number fields are malformed");
        let major = h.device_major().map_err(bad)?.unwrap_or(0);
        let minor = h.device_minor().map_err(bad)?.unwrap_or(0);
        let block = h.entry_type() == EntryType::Block;
        self.prepare(rel, shown)?;
        let full = self.dest.join(rel);
        pouch_sys::make_device(&full, block, meta.mode, major, minor)?;
        self.finish_entry(&full, meta, shown, true)
    }

    /// Owner, then mode (after chown, which clears setuid bits), xattrs and mtime.
    fn finish_entry(
        &self,
        full: &Path,
        meta: &Meta,
        shown: &str,
        chmod: bool,
    ) -> Result<(), ImageError> {
        self.chown(full, meta)?;
        if chmod {
            fs::set_permissions(full, fs::Permissions::from_mode(meta.mode))
                .map_err(self.io_err(shown))?;
        }
        self.set_xattrs(full, meta)?;
        set_mtime(full, meta.mtime).map_err(self.io_err(shown))
    }

    fn chown(&self, full: &Path, meta: &Meta) -> Result<(), ImageError> {
        match pouch_sys::lchown(full, meta.uid, meta.gid) {
            Err(pouch_sys::SysError::Call { source, .. })
                if !self.is_root && source.raw_os_error() == Some(Errno::PERM.raw_os_error()) =>
            {
                // Unprivileged unpack (tests, rootless): files stay ours.
                Ok(())
            }
            r => r.map_err(ImageError::from),
        }
    }

    fn set_xattrs(&self, full: &Path, meta: &Meta) -> Result<(), ImageError> {
        for (name, value) in &meta.xattrs {
            match pouch_sys::set_xattr(full, name, value) {
                Err(pouch_sys::SysError::Call { source, .. })
                    if [Errno::PERM, Errno::OPNOTSUPP]
                        .iter()
                        .any(|e| source.raw_os_error() == Some(e.raw_os_error())) =>
                {
                    // As docker does: the file system or our privileges do not allow this
                    // xattr (user.* on a symlink, say); the file is still usable.
                    tracing::warn!(
                        layer = self.layer,
                        path = %full.display(),
                        xattr = name.as_str(),
                        "xattr from the layer not kept: {source}"
                    );
                }
                r => r?,
            }
        }
        Ok(())
    }

    /// Applies the directory mtimes, skipping directories no longer reachable safely.
    fn finish(&self) -> Result<(), ImageError> {
        for (rel, t) in &self.dir_times {
            let shown = rel.display().to_string();
            if !matches!(
                self.parents(rel, false).map_err(self.io_err(&shown))?,
                Parents::Ok
            ) {
                continue;
            }
            let full = self.dest.join(rel);
            if fs::symlink_metadata(&full).is_ok_and(|m| m.is_dir()) {
                set_mtime(&full, *t).map_err(self.io_err(&shown))?;
            }
        }
        Ok(())
    }
}

/// Turns a tar path into a layer-relative path (see [`tar_path_components`]).
fn sanitize(raw: &[u8]) -> Result<PathBuf, String> {
    Ok(tar_path_components(raw, "layer root", true)?
        .into_iter()
        .map(OsStr::from_bytes)
        .collect())
}

/// Splits a tar entry's path into its components below the directory it is extracted into
/// (named `root` in errors): leading `/` and `.` components dropped; `..`, NUL and over-long
/// paths or names refused (the error is the reason). With `whiteouts`, a `.wh.` name may be
/// longer by the prefix (it stands for a name of the full length). Shared by every tar
/// extraction of the engine (layers, `docker cp`).
pub fn tar_path_components<'a>(
    raw: &'a [u8],
    root: &str,
    whiteouts: bool,
) -> Result<Vec<&'a [u8]>, String> {
    if raw.contains(&0) {
        return Err("path contains a nul byte".to_string());
    }
    if raw.len() > MAX_PATH_LEN {
        return Err(format!(
            "path is {} bytes long, over the limit of {MAX_PATH_LEN}",
            raw.len()
        ));
    }
    let mut out = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err(format!("path escapes the {root} through '..'")),
            _ => {
                let limit = if whiteouts && c.starts_with(WHITEOUT_PREFIX.as_bytes()) {
                    MAX_NAME_LEN + WHITEOUT_PREFIX.len()
                } else {
                    MAX_NAME_LEN
                };
                if c.len() > limit {
                    return Err(format!(
                        "a path component is {} bytes long, over the limit of {limit}",
                        c.len()
                    ));
                }
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// The raw link target of a symlink or hard link entry (empty when it has none).
fn link_target<R: Read>(entry: &tar::Entry<'_, R>) -> Vec<u8> {
    entry
        .link_name_bytes()
        .map(|t| t.into_owned())
        .unwrap_or_default()
}

/// Whether a relative symlink target, resolved from the link's directory, climbs above
/// the layer root. Absolute targets resolve inside the container root and never do.
fn climbs_above_root(link_rel: &Path, target: &[u8]) -> bool {
    if target.starts_with(b"/") {
        return false;
    }
    let mut depth = link_rel
        .parent()
        .map(|p| p.components().count())
        .unwrap_or(0);
    for c in target.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if depth == 0 {
                    return true;
                }
                depth -= 1;
            }
            _ => depth += 1,
        }
    }
    false
}

/// A numeric header field; an empty one (all NUL or spaces, as some writers leave
/// fields they do not use) reads as 0.
fn numeric(raw: &[u8], parsed: io::Result<u64>) -> Option<u64> {
    match parsed {
        Ok(v) => Some(v),
        Err(_) if raw.iter().all(|b| *b == 0 || *b == b' ') => Some(0),
        Err(_) => None,
    }
}

/// Parses a pax time (`1700000000.123456789`, possibly negative).
fn parse_pax_time(v: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(v).ok()?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let negative = secs.starts_with('-');
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let nsec: i64 = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some(if negative && nsec > 0 {
        Timespec {
            tv_sec: secs - 1,
            tv_nsec: 1_000_000_000 - nsec,
        }
    } else {
        Timespec {
            tv_sec: secs,
            tv_nsec: nsec,
        }
    })
}

fn set_mtime(full: &Path, t: Timespec) -> io::Result<()> {
    let times = Timestamps {
        last_access: t,
        last_modification: t,
    };
    rustix::fs::utimensat(rustix::fs::CWD, full, &times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(io::Error::from)
}

/// Removes whatever is at `full` (a directory with its contents) without following links.
fn remove_existing(full: &Path) -> io::Result<()> {
    match fs::symlink_metadata(full) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(full),
        Ok(_) => fs::remove_file(full),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
