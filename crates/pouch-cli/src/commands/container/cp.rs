//! `pouch cp [-a] [-L] [-q] CONTAINER:SRC DEST|-` and `pouch cp [-a] [-L] [-q] SRC|-
//! CONTAINER:DEST`: copies between a container and the local filesystem with docker's rules
//! (moby `archive/copy.go`): a missing destination takes the source's place under the
//! destination's name, an existing directory receives the source inside it, `dir/.` copies
//! a directory's contents, a trailing `/` asserts a directory, `-` streams a tar archive on
//! stdin/stdout. Local archives are written and read with the `tar` crate on a blocking
//! thread fed through a channel, so nothing is held in memory whole.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use pouch_client::{BodyStream, ByteStream, Client};
use tokio::io::AsyncWriteExt;

use crate::output::human_size_prec;

/// Go's `os.ModeDir`, `os.ModeSymlink` and `os.ModeDevice` in a path stat's mode.
const GO_DIR: u32 = 1 << 31;
const GO_SYMLINK: u32 = 1 << 27;
const GO_DEVICE: u32 = 1 << 26;
/// Chunk size of the local archive stream.
const CHUNK: usize = 64 * 1024;

#[derive(Debug, clap::Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long = "archive")]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output during copy (the default when stdout is not a terminal)
    #[arg(short, long)]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH, or a local SRC_PATH, or - for a tar archive on stdin
    #[arg(allow_hyphen_values = true)]
    pub source: String,
    /// A local DEST_PATH, or - for a tar archive on stdout, or CONTAINER:DEST_PATH
    #[arg(allow_hyphen_values = true)]
    pub destination: String,
}

/// Why a copy could not be done.
#[derive(Debug, thiserror::Error)]
pub enum CpError {
    #[error("source can not be empty")]
    EmptySource,
    #[error("destination can not be empty")]
    EmptyDestination,
    #[error("copying between containers is not supported")]
    AcrossContainers,
    #[error("must specify at least one container source")]
    NoContainer,
    #[error("invalid output path: directory {0:?} does not exist")]
    OutputDirMissing(String),
    #[error("invalid output path: {0:?} must be a directory or a regular file")]
    OutputNotFile(String),
    #[error("destination \"{0}\" must be a directory")]
    DestinationNotDir(String),
    #[error("destination \"{0}\" must be a directory or a regular file: got a device")]
    DestinationDevice(String),
    #[error("cannot copy directory")]
    CannotCopyDir,
    #[error("no such directory")]
    DirNotExists,
    #[error("not a directory")]
    NotDirectory,
    #[error("too many symlinks in {0}")]
    TooManySymlinks(String),
    #[error("{op} {path}: {message}")]
    Io {
        op: &'static str,
        path: String,
        message: String,
    },
    #[error("cannot overwrite directory {0:?} with non-directory {1:?}")]
    OverwriteDir(String, String),
    #[error("cannot overwrite non-directory {0:?} with directory {1:?}")]
    OverwriteNonDir(String, String),
    #[error("archive entry {0:?} points outside the destination; refusing to extract it")]
    Breakout(String),
    #[error("reading the archive: {0}")]
    Archive(String),
}

/// A Go-style I/O error text (`lstat /x: no such file or directory`).
fn io_err(op: &'static str, path: &Path, e: &io::Error) -> CpError {
    let message = match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        io::ErrorKind::NotADirectory => "not a directory".to_string(),
        _ => {
            let text = e.to_string();
            match text.split_once(" (os error") {
                Some((t, _)) => t.to_lowercase(),
                None => text,
            }
        }
    };
    CpError::Io {
        op,
        path: path.display().to_string(),
        message,
    }
}

/// docker's `splitCpArg`: `CONTAINER:PATH` or a local path (absolute, `./x:y`, no colon).
pub fn split_cp_arg(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((ctr, path)) if !ctr.starts_with('.') => (Some(ctr), path),
        _ => (None, arg),
    }
}

/// Go's `filepath.Clean`.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Join` of two parts.
fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => String::new(),
        (true, false) => clean(b),
        (false, true) => clean(a),
        (false, false) => clean(&format!("{a}/{b}")),
    }
}

/// Go's `filepath.Base`.
pub fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// Go's `filepath.Dir`.
fn dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => clean(&path[..=i]),
        None => ".".into(),
    }
}

fn has_trailing_separator(path: &str) -> bool {
    path.ends_with('/')
}

fn specifies_current_dir(path: &str) -> bool {
    base(path) == "."
}

/// A path that must name a directory: `x/` or `x/.`.
fn asserts_directory(path: &str) -> bool {
    has_trailing_separator(path) || specifies_current_dir(path)
}

/// moby's `PreserveTrailingDotOrSeparator`.
pub fn preserve_trailing(cleaned: &str, original: &str) -> String {
    let mut out = cleaned.to_string();
    if !specifies_current_dir(&out) && specifies_current_dir(original) {
        if !has_trailing_separator(&out) {
            out.push('/');
        }
        out.push('.');
    }
    if !has_trailing_separator(&out) && has_trailing_separator(original) {
        out.push('/');
    }
    out
}

/// moby's `SplitPathDirEntry`: the parent and the entry (`.` for `dir/.`).
pub fn split_path_dir_entry(path: &str) -> (String, String) {
    let mut cleaned = clean(path);
    if specifies_current_dir(path) {
        cleaned.push_str("/.");
    }
    (dir(&cleaned), base(&cleaned))
}

/// moby's `GetRebaseName`: keeps the trailing `/` or `/.` of `path` on the resolved path and
/// names the original entry when symlink resolution changed the last component.
pub fn get_rebase_name(path: &str, resolved: &str) -> (String, Option<String>) {
    let mut resolved = resolved.to_string();
    if specifies_current_dir(path) && !specifies_current_dir(&resolved) {
        resolved.push_str("/.");
    }
    if has_trailing_separator(path) && !has_trailing_separator(&resolved) {
        resolved.push('/');
    }
    let rebase = (base(path) != base(&resolved)).then(|| base(path));
    (resolved, rebase)
}

/// moby's `RebaseArchiveEntries` for one name: the entry `old` (and what is under it) moves
/// to `new`; with `old` = `.` every entry is under the root.
pub fn rebase_entry_name(name: &str, old: &str, new: &str) -> String {
    let (body, slash) = match name.strip_suffix('/') {
        Some(b) => (b, "/"),
        None => (name, ""),
    };
    if old == "." || old == "/" {
        let rest = body.trim_start_matches("./");
        return if rest.is_empty() || rest == "." {
            format!("{new}{slash}")
        } else {
            format!("{new}/{rest}{slash}")
        };
    }
    if body == old {
        return format!("{new}{slash}");
    }
    match body.strip_prefix(old).and_then(|r| r.strip_prefix('/')) {
        Some(rest) => format!("{new}/{rest}{slash}"),
        None => name.to_string(),
    }
}

/// What is known of one side of a copy (moby's `CopyInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyInfo {
    pub path: String,
    pub exists: bool,
    pub is_dir: bool,
    pub rebase_name: Option<String>,
}

/// moby's `PrepareArchiveCopy`: the directory to extract into and, when the entries must be
/// renamed, `(old base, new base)`.
pub fn prepare_archive_copy(
    src: &CopyInfo,
    dst: &CopyInfo,
) -> Result<(String, Option<(String, String)>), CpError> {
    let (dst_dir, dst_base) = split_path_dir_entry(&dst.path);
    let (_, src_base) = split_path_dir_entry(&src.path);
    let src_base = src.rebase_name.clone().unwrap_or(src_base);
    if dst.exists && dst.is_dir {
        return Ok((dst.path.clone(), None));
    }
    if dst.exists && src.is_dir {
        return Err(CpError::CannotCopyDir);
    }
    if !dst.exists && !src.is_dir && asserts_directory(&dst.path) {
        return Err(CpError::DirNotExists);
    }
    Ok((dst_dir, Some((src_base, dst_base))))
}

/// moby's `CopyInfoDestinationPath` on the local filesystem: follows symlinks at the end of
/// `path`; a missing path is fine when its parent is a directory.
pub fn copy_info_destination_path(path: &str) -> Result<CopyInfo, CpError> {
    let original = path.to_string();
    let mut path = path.to_string();
    let mut stat = fs::symlink_metadata(&path);
    let mut n = 0;
    while let Ok(m) = &stat {
        if !m.file_type().is_symlink() {
            break;
        }
        n += 1;
        if n > 10 {
            return Err(CpError::TooManySymlinks(original));
        }
        let target = fs::read_link(&path).map_err(|e| io_err("readlink", Path::new(&path), &e))?;
        let target = target.to_string_lossy().to_string();
        path = if target.starts_with('/') {
            target
        } else {
            join(&split_path_dir_entry(&path).0, &target)
        };
        stat = fs::symlink_metadata(&path);
    }
    match stat {
        Ok(m) => Ok(CopyInfo {
            path,
            exists: true,
            is_dir: m.is_dir(),
            rebase_name: None,
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = split_path_dir_entry(&path).0;
            let m = fs::metadata(&parent).map_err(|e| io_err("stat", Path::new(&parent), &e))?;
            if !m.is_dir() {
                return Err(CpError::NotDirectory);
            }
            Ok(CopyInfo {
                path,
                ..Default::default()
            })
        }
        Err(e) => Err(io_err("lstat", Path::new(&path), &e)),
    }
}

/// docker's `ValidateOutputPath` for a local destination.
fn validate_output_path(path: &str) -> Result<(), CpError> {
    let parent = dir(&clean(path));
    if !parent.is_empty() && parent != "." && !Path::new(&parent).exists() {
        return Err(CpError::OutputDirMissing(parent));
    }
    match fs::metadata(path) {
        Ok(m) if m.is_dir() || m.is_file() => Ok(()),
        Ok(_) => Err(CpError::OutputNotFile(path.to_string())),
        Err(_) => Ok(()),
    }
}

/// docker's `resolveLocalPath`: absolute, cleaned, trailing `/` or `/.` kept.
fn resolve_local_path(path: &str) -> Result<String, CpError> {
    let abs = if path.starts_with('/') {
        clean(path)
    } else {
        let cwd = std::env::current_dir().map_err(|e| io_err("getwd", Path::new("."), &e))?;
        clean(&format!("{}/{path}", cwd.display()))
    };
    Ok(preserve_trailing(&abs, path))
}

/// moby's `CopyInfoSourcePath` (with `ResolveHostSourcePath`).
fn copy_info_source_path(path: &str, follow_link: bool) -> Result<CopyInfo, CpError> {
    let (resolved, rebase_name) = if follow_link {
        let real = fs::canonicalize(path).map_err(|e| io_err("lstat", Path::new(path), &e))?;
        get_rebase_name(path, &real.to_string_lossy())
    } else {
        let split = path.rfind('/').map_or(0, |i| i + 1);
        let (dir_part, base_part) = path.split_at(split);
        let dir_part = if dir_part.is_empty() { "." } else { dir_part };
        let real =
            fs::canonicalize(dir_part).map_err(|e| io_err("lstat", Path::new(dir_part), &e))?;
        let real = real.to_string_lossy();
        let sep = if real.ends_with('/') { "" } else { "/" };
        let resolved = format!("{real}{sep}{base_part}");
        let rebase =
            (has_trailing_separator(path) && base(path) != base(&resolved)).then(|| base(path));
        (resolved, rebase)
    };
    let m =
        fs::symlink_metadata(&resolved).map_err(|e| io_err("lstat", Path::new(&resolved), &e))?;
    Ok(CopyInfo {
        path: resolved,
        exists: true,
        is_dir: m.is_dir(),
        rebase_name,
    })
}

/// Writes the local source as a tar archive whose top entry is named `top` (`.` for the
/// contents of a directory), directories recursively in name order, symlinks as links.
pub fn write_tar<W: Write>(src: &Path, top: &str, out: W) -> io::Result<W> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let root_name = if top == "." {
        "./".to_string()
    } else {
        top.to_string()
    };
    append_tree(&mut builder, src, &root_name, top == ".")?;
    builder.into_inner()
}

fn append_tree<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &Path,
    name: &str,
    dot_root: bool,
) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    let ft = meta.file_type();
    if meta.is_dir() {
        if dot_root {
            let mut header = tar::Header::new_gnu();
            header.set_metadata(&meta);
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            builder.append_data(&mut header, "./", io::empty())?;
        } else {
            builder.append_dir(name.trim_end_matches('/'), path)?;
        }
        let mut children: Vec<_> = fs::read_dir(path)?.collect::<Result<_, _>>()?;
        children.sort_by_key(|e| e.file_name());
        for child in children {
            let child_name = format!(
                "{}/{}",
                name.trim_end_matches('/'),
                child.file_name().to_string_lossy()
            );
            append_tree(builder, &child.path(), &child_name, false)?;
        }
        return Ok(());
    }
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_socket() {
            // Sockets cannot be archived (docker skips them too).
            return Ok(());
        }
    }
    builder.append_path_with_name(path, name)
}

/// Sends what is written as chunks of a request body.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload to pouchd stopped"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Reads the chunks an async task receives from pouchd.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.current = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// The relative path of an archive entry inside the destination; `..` and absolute names
/// are refused.
fn entry_rel_path(name: &str) -> Result<PathBuf, CpError> {
    let mut rel = PathBuf::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(p) => rel.push(p),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(CpError::Breakout(name.to_string()))
            }
        }
    }
    Ok(rel)
}

/// Refuses to write through a symlink inside the destination (an archive planting
/// `a -> /etc` then `a/passwd`).
fn check_ancestors(root: &Path, rel: &Path, name: &str) -> Result<(), CpError> {
    let mut p = root.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for c in &parts[..parts.len().saturating_sub(1)] {
        p.push(c);
        if let Ok(m) = fs::symlink_metadata(&p) {
            if m.file_type().is_symlink() {
                return Err(CpError::Breakout(name.to_string()));
            }
        }
    }
    Ok(())
}

/// moby's `Untar` with `NoOverwriteDirNonDir` and `NoLchown`, entries renamed by `rename`.
pub fn untar<R: Read>(
    reader: R,
    dst_dir: &Path,
    rename: Option<&(String, String)>,
) -> Result<(), CpError> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    let arch_err = |e: io::Error| CpError::Archive(e.to_string());
    for entry in archive.entries().map_err(arch_err)? {
        let mut entry = entry.map_err(arch_err)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = match rename {
            Some((old, new)) => rebase_entry_name(&raw, old, new),
            None => raw,
        };
        let rel = entry_rel_path(&name)?;
        let kind = entry.header().entry_type();
        if rel.as_os_str().is_empty() {
            // The destination directory itself.
            continue;
        }
        check_ancestors(dst_dir, &rel, &name)?;
        let target = dst_dir.join(&rel);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| io_err("mkdir", parent, &e))?;
        }
        let is_dir = kind.is_dir();
        if let Ok(m) = fs::symlink_metadata(&target) {
            let shown = target.display().to_string();
            match (m.is_dir(), is_dir) {
                (true, false) => return Err(CpError::OverwriteDir(shown, name)),
                (false, true) => return Err(CpError::OverwriteNonDir(shown, name)),
                (false, false) => {
                    fs::remove_file(&target).map_err(|e| io_err("remove", &target, &e))?
                }
                (true, true) => {}
            }
        }
        if kind.is_hard_link() {
            let link = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            let link = match rename {
                Some((old, new)) => rebase_entry_name(&link, old, new),
                None => link,
            };
            let source = dst_dir.join(entry_rel_path(&link)?);
            fs::hard_link(&source, &target).map_err(|e| io_err("link", &target, &e))?;
            continue;
        }
        entry.unpack(&target).map_err(arch_err)?;
    }
    Ok(())
}

/// The `CONTAINER:PATH` text used in messages.
fn shown(container: &str, path: &str) -> String {
    format!("{container}:{path}")
}

fn progress_size(n: u64) -> String {
    human_size_prec(i64::try_from(n).unwrap_or(i64::MAX), 3)
}

async fn copy_from_container(
    client: &Client,
    container: &str,
    src_path: &str,
    dst: &str,
    args: &CpArgs,
    quiet: bool,
) -> anyhow::Result<()> {
    let dst_path = if dst == "-" {
        dst.to_string()
    } else {
        resolve_local_path(dst)?
    };
    if dst_path != "-" {
        validate_output_path(&dst_path)?;
    }
    let mut src_path = src_path.to_string();
    let mut rebase_name = None;
    if args.follow_link {
        if let Ok(stat) = client.container_stat_path(container, &src_path).await {
            if stat.mode & GO_SYMLINK != 0 {
                let mut target = stat.link_target.clone();
                if !target.starts_with('/') {
                    target = join(&split_path_dir_entry(&src_path).0, &target);
                }
                let (resolved, rebase) = get_rebase_name(&src_path, &target);
                src_path = resolved;
                rebase_name = rebase;
            }
        }
    }
    let (stat, mut stream) = client.container_get_archive(container, &src_path).await?;
    if dst_path == "-" {
        let mut out = tokio::io::stdout();
        while let Some(chunk) = stream.next().await {
            out.write_all(&chunk?).await?;
        }
        out.flush().await?;
        return Ok(());
    }
    let src_info = CopyInfo {
        path: src_path.clone(),
        exists: true,
        is_dir: stat.mode & GO_DIR != 0,
        rebase_name: rebase_name.clone(),
    };
    let copied = receive_and_extract(stream, src_info, dst_path.clone()).await?;
    if !quiet {
        eprintln!(
            "Successfully copied {} to {dst_path}",
            progress_size(copied)
        );
    }
    Ok(())
}

/// Extracts the archive pouchd streams into the local destination; returns the bytes read.
async fn receive_and_extract(
    mut stream: ByteStream,
    src: CopyInfo,
    dst_path: String,
) -> anyhow::Result<u64> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let worker = tokio::task::spawn_blocking(move || -> Result<(), CpError> {
        let dst = copy_info_destination_path(&dst_path)?;
        let (dst_dir, mut rename) = prepare_archive_copy(&src, &dst)?;
        // A symlink followed with -L: its entries carry the link target's name.
        if let Some(original) = &src.rebase_name {
            let (_, target_base) = split_path_dir_entry(&src.path);
            rename = match rename {
                Some((_, new)) => Some((target_base, new)),
                None => Some((target_base, original.clone())),
            };
        }
        let reader = ChannelReader {
            rx,
            current: Bytes::new(),
        };
        let result = untar(reader, Path::new(&dst_dir), rename.as_ref());
        result
    });
    let mut copied = 0u64;
    let mut stream_error = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                copied += c.len() as u64;
                if tx.send(c).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                stream_error = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let result = worker.await?;
    if let Some(e) = stream_error {
        return Err(e.into());
    }
    result?;
    Ok(copied)
}

async fn copy_to_container(
    client: &Client,
    src: &str,
    container: &str,
    dst_path: &str,
    args: &CpArgs,
    quiet: bool,
) -> anyhow::Result<()> {
    let src_path = if src == "-" {
        src.to_string()
    } else {
        resolve_local_path(src)?
    };
    let mut dst_info = CopyInfo {
        path: dst_path.to_string(),
        ..Default::default()
    };
    if let Ok(mut stat) = client.container_stat_path(container, dst_path).await {
        let mut ok = true;
        if stat.mode & GO_SYMLINK != 0 {
            let mut target = stat.link_target.clone();
            if !target.starts_with('/') {
                target = join(&split_path_dir_entry(dst_path).0, &target);
            }
            dst_info.path = target.clone();
            match client.container_stat_path(container, &target).await {
                Ok(s) => stat = s,
                Err(_) => ok = false,
            }
        }
        if ok {
            if stat.mode & GO_DEVICE != 0 {
                return Err(CpError::DestinationDevice(shown(container, dst_path)).into());
            }
            dst_info.exists = true;
            dst_info.is_dir = stat.mode & GO_DIR != 0;
        }
    }
    let copied = Arc::new(AtomicU64::new(0));
    let (body, resolved_dst, worker): (BodyStream, String, _) = if src_path == "-" {
        if !dst_info.is_dir {
            return Err(CpError::DestinationNotDir(shown(container, dst_path)).into());
        }
        (
            pouch_client::reader_body(tokio::io::stdin()),
            dst_info.path.clone(),
            None,
        )
    } else {
        let src_info = copy_info_source_path(&src_path, args.follow_link)?;
        let (dst_dir, rename) = prepare_archive_copy(&src_info, &dst_info)?;
        let (_, src_base) = split_path_dir_entry(&src_info.path);
        let top = match rename {
            Some((_, new)) => new,
            None => src_info.rebase_name.clone().unwrap_or(src_base),
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(8);
        let path = PathBuf::from(src_info.path.trim_end_matches("/.").to_string());
        let path = if path.as_os_str().is_empty() {
            PathBuf::from("/")
        } else {
            path
        };
        let worker = tokio::task::spawn_blocking(move || {
            let writer = ChannelWriter {
                tx: tx.clone(),
                buf: Vec::new(),
            };
            match write_tar(&path, &top, writer).and_then(|mut w| w.flush()) {
                Ok(()) => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(io::Error::new(
                        e.kind(),
                        format!("archiving {}: {e}", path.display()),
                    )));
                }
            }
        });
        let counter = copied.clone();
        let body: BodyStream = Box::pin(futures_util::stream::poll_fn(move |cx| {
            let item = rx.poll_recv(cx);
            if let std::task::Poll::Ready(Some(Ok(b))) = &item {
                counter.fetch_add(b.len() as u64, Ordering::Relaxed);
            }
            item
        }));
        (body, dst_dir, Some(worker))
    };
    let result = client
        .container_put_archive_opts(container, &resolved_dst, body, true, args.archive)
        .await;
    if let Some(w) = worker {
        w.abort();
    }
    result?;
    if !quiet {
        eprintln!(
            "Successfully copied {} to {}",
            progress_size(copied.load(Ordering::Relaxed)),
            shown(container, &dst_info.path)
        );
    }
    Ok(())
}

pub async fn run(client: &Client, args: CpArgs) -> anyhow::Result<()> {
    super::quiet_broken_pipe(run_inner(client, args).await)
}

async fn run_inner(client: &Client, args: CpArgs) -> anyhow::Result<()> {
    if args.source.is_empty() {
        return Err(CpError::EmptySource.into());
    }
    if args.destination.is_empty() {
        return Err(CpError::EmptyDestination.into());
    }
    let quiet = args.quiet || !crate::commands::stdout_is_terminal();
    let (src_ctr, src_path) = split_cp_arg(&args.source);
    let (dst_ctr, dst_path) = split_cp_arg(&args.destination);
    match (src_ctr, dst_ctr) {
        (Some(c), None) => copy_from_container(client, c, src_path, dst_path, &args, quiet).await,
        (None, Some(c)) => copy_to_container(client, src_path, c, dst_path, &args, quiet).await,
        (Some(_), Some(_)) => Err(CpError::AcrossContainers.into()),
        (None, None) => Err(CpError::NoContainer.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_arguments_like_docker() {
        assert_eq!(split_cp_arg("web:/etc/hosts"), (Some("web"), "/etc/hosts"));
        assert_eq!(split_cp_arg("web:"), (Some("web"), ""));
        assert_eq!(split_cp_arg("/abs/file:name"), (None, "/abs/file:name"));
        assert_eq!(split_cp_arg("./file:name"), (None, "./file:name"));
        assert_eq!(split_cp_arg("local.txt"), (None, "local.txt"));
        assert_eq!(split_cp_arg("-"), (None, "-"));
    }

    #[test]
    fn go_path_functions() {
        assert_eq!(clean("/a/b/../c/./d/"), "/a/c/d");
        assert_eq!(clean("a//b"), "a/b");
        assert_eq!(clean("../x"), "../x");
        assert_eq!(clean("/.."), "/");
        assert_eq!(clean(""), ".");
        assert_eq!(base("/a/b/"), "b");
        assert_eq!(base("/"), "/");
        assert_eq!(base("dir/."), ".");
        assert_eq!(dir("/a/b"), "/a");
        assert_eq!(dir("/a"), "/");
        assert_eq!(dir("a"), ".");
        assert_eq!(preserve_trailing("/x/dir", "dir/."), "/x/dir/.");
        assert_eq!(preserve_trailing("/x/dir", "dir/"), "/x/dir/");
        assert_eq!(preserve_trailing("/x/dir", "dir"), "/x/dir");
        assert_eq!(
            split_path_dir_entry("/x/dir/."),
            ("/x/dir".into(), ".".into())
        );
        assert_eq!(split_path_dir_entry("/x/dir/"), ("/x".into(), "dir".into()));
        assert_eq!(
            split_path_dir_entry("/etc/hosts"),
            ("/etc".into(), "hosts".into())
        );
        assert_eq!(
            get_rebase_name("/data/link/", "/data/target"),
            ("/data/target/".into(), Some("link".into()))
        );
        assert_eq!(
            get_rebase_name("/data/x", "/other/x"),
            ("/other/x".into(), None)
        );
    }

    #[test]
    fn rebasing_entries() {
        assert_eq!(rebase_entry_name("hosts", "hosts", "h"), "h");
        assert_eq!(rebase_entry_name("dir/", "dir", "new"), "new/");
        assert_eq!(rebase_entry_name("dir/a/b", "dir", "new"), "new/a/b");
        assert_eq!(rebase_entry_name("dirx/a", "dir", "new"), "dirx/a");
        assert_eq!(rebase_entry_name("./", ".", "new"), "new/");
        assert_eq!(rebase_entry_name("./a.txt", ".", "new"), "new/a.txt");
        assert_eq!(rebase_entry_name("a.txt", ".", "new"), "new/a.txt");
    }

    fn info(path: &str, exists: bool, is_dir: bool) -> CopyInfo {
        CopyInfo {
            path: path.into(),
            exists,
            is_dir,
            rebase_name: None,
        }
    }

    #[test]
    fn copy_decisions_like_moby() {
        // Into an existing directory: no renaming.
        assert_eq!(
            prepare_archive_copy(&info("/etc/hosts", true, false), &info("/tmp", true, true))
                .unwrap(),
            ("/tmp".into(), None)
        );
        // Over an existing file, or to a new name: renamed to the destination's name.
        assert_eq!(
            prepare_archive_copy(
                &info("/etc/hosts", true, false),
                &info("/tmp/h", true, false)
            )
            .unwrap(),
            ("/tmp".into(), Some(("hosts".into(), "h".into())))
        );
        assert_eq!(
            prepare_archive_copy(&info("/data", true, true), &info("/tmp/new", false, false))
                .unwrap(),
            ("/tmp".into(), Some(("data".into(), "new".into())))
        );
        // dir/. into a new directory: the contents under the new name.
        assert_eq!(
            prepare_archive_copy(
                &info("/data/.", true, true),
                &info("/tmp/new", false, false)
            )
            .unwrap(),
            ("/tmp".into(), Some((".".into(), "new".into())))
        );
        assert!(matches!(
            prepare_archive_copy(&info("/data", true, true), &info("/tmp/f", true, false)),
            Err(CpError::CannotCopyDir)
        ));
        assert!(matches!(
            prepare_archive_copy(&info("/f", true, false), &info("/tmp/nodir/", false, false)),
            Err(CpError::DirNotExists)
        ));
    }

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("a.txt"), b"hello").unwrap();
        fs::write(src.join("sub/b.txt"), b"world").unwrap();
        std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
        t
    }

    fn roundtrip(src: &Path, top: &str, dst: &Path, rename: Option<(String, String)>) {
        let bytes = write_tar(src, top, Vec::new()).unwrap();
        untar(&bytes[..], dst, rename.as_ref()).unwrap();
    }

    #[test]
    fn archives_extract_with_docker_rules() {
        let t = tree();
        let src = t.path().join("src");
        let src_s = src.to_str().unwrap();

        // Directory to a missing destination: created with the destination's name.
        let dst = t.path().join("out1").to_string_lossy().to_string();
        let d = copy_info_destination_path(&dst).unwrap();
        assert!(!d.exists);
        let (dir_, rename) = prepare_archive_copy(&info(src_s, true, true), &d).unwrap();
        roundtrip(&src, "src", Path::new(&dir_), rename);
        assert_eq!(fs::read(t.path().join("out1/a.txt")).unwrap(), b"hello");
        assert_eq!(fs::read(t.path().join("out1/sub/b.txt")).unwrap(), b"world");
        assert_eq!(
            fs::read_link(t.path().join("out1/link")).unwrap(),
            Path::new("a.txt")
        );

        // Directory into an existing directory: nested under its own name.
        let dst = t.path().join("out1").to_string_lossy().to_string();
        let d = copy_info_destination_path(&dst).unwrap();
        let (dir_, rename) = prepare_archive_copy(&info(src_s, true, true), &d).unwrap();
        roundtrip(&src, "src", Path::new(&dir_), rename);
        assert!(t.path().join("out1/src/sub/b.txt").is_file());

        // dir/. into an existing directory: the contents only.
        fs::create_dir(t.path().join("out2")).unwrap();
        let d = copy_info_destination_path(t.path().join("out2").to_str().unwrap()).unwrap();
        let dot = format!("{src_s}/.");
        let (dir_, rename) = prepare_archive_copy(&info(&dot, true, true), &d).unwrap();
        roundtrip(&src, ".", Path::new(&dir_), rename);
        assert!(t.path().join("out2/a.txt").is_file());
        assert!(!t.path().join("out2/src").exists());

        // A file to a new name, then over an existing file.
        let file = src.join("a.txt");
        let dst = t.path().join("copy.txt").to_string_lossy().to_string();
        for _ in 0..2 {
            let d = copy_info_destination_path(&dst).unwrap();
            let (dir_, rename) =
                prepare_archive_copy(&info(file.to_str().unwrap(), true, false), &d).unwrap();
            roundtrip(&file, "a.txt", Path::new(&dir_), rename);
            assert_eq!(fs::read(&dst).unwrap(), b"hello");
        }

        // A missing parent directory is an error.
        let missing = t.path().join("nope/x").to_string_lossy().to_string();
        assert!(copy_info_destination_path(&missing).is_err());
    }

    #[test]
    fn extraction_refuses_conflicts_and_breakouts() {
        let t = tree();
        let src = t.path().join("src");
        // A directory entry over an existing file.
        let dst = t.path().join("d");
        fs::create_dir(&dst).unwrap();
        fs::write(dst.join("src"), b"file").unwrap();
        let bytes = write_tar(&src, "src", Vec::new()).unwrap();
        assert!(matches!(
            untar(&bytes[..], &dst, None),
            Err(CpError::OverwriteNonDir(..))
        ));
        // Names escaping the destination.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../evil.x");
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
        let bytes = b.into_inner().unwrap();
        assert!(matches!(
            untar(&bytes[..], &dst, None),
            Err(CpError::Breakout(_))
        ));
        assert!(!t.path().join("evil.x").exists());
    }

    #[test]
    fn source_info_and_sizes() {
        let t = tree();
        let src = t.path().join("src");
        let i = copy_info_source_path(src.to_str().unwrap(), false).unwrap();
        assert!(i.is_dir && i.exists && i.rebase_name.is_none());
        let link = src.join("link");
        let i = copy_info_source_path(link.to_str().unwrap(), false).unwrap();
        assert!(!i.is_dir);
        assert!(i.path.ends_with("/link"));
        let i = copy_info_source_path(link.to_str().unwrap(), true).unwrap();
        assert!(i.path.ends_with("/a.txt"));
        assert_eq!(i.rebase_name.as_deref(), Some("link"));
        assert!(
            copy_info_source_path(t.path().join("none").to_str().unwrap(), false)
                .unwrap_err()
                .to_string()
                .ends_with(": no such file or directory")
        );
    }
}
