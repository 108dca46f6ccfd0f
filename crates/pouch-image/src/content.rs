//! The content store: blobs (layers, configs, manifests) kept by digest under
//! `<root>/blobs/sha256/<hex>`, written through `<root>/ingest/<random>` files that are hashed
//! as they are written and only renamed into `blobs/` once their digest is verified. A blob
//! in `blobs/` is therefore always complete and matches its name.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::ImageError;

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Checks that `digest` is `sha256:<64 lower-case hex>` and returns the hex part.
pub fn digest_hex(digest: &str) -> Result<&str, ImageError> {
    match digest.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(hex)
        }
        _ => Err(ImageError::InvalidArgument(format!(
            "invalid digest {digest:?}: expected sha256:<64 lower-case hex>"
        ))),
    }
}

/// Blobs by digest; see the module header for the layout.
#[derive(Debug, Clone)]
pub struct ContentStore {
    blobs: PathBuf,
    ingest: PathBuf,
}

impl ContentStore {
    /// Opens (creating) the store at `root` and removes what an interrupted write left in
    /// `ingest/`.
    pub fn open(root: &Path) -> Result<ContentStore, ImageError> {
        let blobs = root.join("blobs").join("sha256");
        let ingest = root.join("ingest");
        for dir in [&blobs, &ingest] {
            fs::create_dir_all(dir).map_err(ImageError::io(format!(
                "create content dir {}",
                dir.display()
            )))?;
        }
        let entries =
            fs::read_dir(&ingest).map_err(ImageError::io(format!("read {}", ingest.display())))?;
        for entry in entries {
            let entry = entry.map_err(ImageError::io(format!("read {}", ingest.display())))?;
            let path = entry.path();
            let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            removed.map_err(ImageError::io(format!(
                "remove stale ingest file {}",
                path.display()
            )))?;
        }
        Ok(ContentStore { blobs, ingest })
    }

    /// `blobs/sha256/<hex>`. An invalid digest maps to a path under `blobs/` that is never
    /// written (the store only creates 64-hex names), so it never exists.
    pub fn path(&self, digest: &str) -> PathBuf {
        match digest_hex(digest) {
            Ok(hex) => self.blobs.join(hex),
            Err(_) => self.blobs.join("invalid-digest"),
        }
    }

    /// Whether the blob is present (false for an invalid digest).
    pub fn exists(&self, digest: &str) -> bool {
        digest_hex(digest).is_ok() && self.path(digest).is_file()
    }

    /// Size in bytes of a present blob.
    pub fn size(&self, digest: &str) -> Result<u64, ImageError> {
        let path = self.checked_path(digest)?;
        match fs::metadata(&path) {
            Ok(m) => Ok(m.len()),
            Err(e) => Err(self.missing_or_io(digest, &path, e)),
        }
    }

    /// The whole blob in memory; for small blobs (manifests, configs).
    pub fn read(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.checked_path(digest)?;
        fs::read(&path).map_err(|e| self.missing_or_io(digest, &path, e))
    }

    /// Stores `bytes` (if not present already) and returns their digest.
    pub fn write_bytes(&self, bytes: &[u8]) -> Result<String, ImageError> {
        let digest = sha256_digest(bytes);
        if self.exists(&digest) {
            return Ok(digest);
        }
        let mut w = self.writer(Some(&digest))?;
        w.write_all(bytes).map_err(ImageError::io(format!(
            "write blob {digest} to the content store"
        )))?;
        w.commit()
    }

    /// A writer into a new ingest file; `expected` is checked at commit.
    pub fn writer(&self, expected: Option<&str>) -> Result<IngestWriter, ImageError> {
        if let Some(d) = expected {
            digest_hex(d)?;
        }
        let name = format!(
            "{:016x}{:016x}",
            rand::random::<u64>(),
            rand::random::<u64>()
        );
        let path = self.ingest.join(name);
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(ImageError::io(format!(
                "create ingest file {}",
                path.display()
            )))?;
        Ok(IngestWriter {
            file: Some(io::BufWriter::with_capacity(256 * 1024, file)),
            path,
            blobs: self.blobs.clone(),
            expected: expected.map(str::to_string),
            hasher: Sha256::new(),
            written: 0,
        })
    }

    /// Removes a blob; `NotFound` when it is not there.
    pub fn delete(&self, digest: &str) -> Result<(), ImageError> {
        let path = self.checked_path(digest)?;
        fs::remove_file(&path).map_err(|e| self.missing_or_io(digest, &path, e))
    }

    /// Digests of all blobs, sorted.
    pub fn list(&self) -> Result<Vec<String>, ImageError> {
        let entries = fs::read_dir(&self.blobs)
            .map_err(ImageError::io(format!("list {}", self.blobs.display())))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(ImageError::io(format!("list {}", self.blobs.display())))?;
            if let Some(name) = entry.file_name().to_str() {
                let digest = format!("sha256:{name}");
                if digest_hex(&digest).is_ok() {
                    out.push(digest);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn checked_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        Ok(self.blobs.join(digest_hex(digest)?))
    }

    fn missing_or_io(&self, digest: &str, path: &Path, e: io::Error) -> ImageError {
        if e.kind() == io::ErrorKind::NotFound {
            ImageError::NotFound(format!("content {digest} not found in the content store"))
        } else {
            ImageError::Io {
                what: format!("read blob {}", path.display()),
                source: e,
            }
        }
    }
}

/// A blob being written: hashed as it goes, moved into `blobs/` by [`IngestWriter::commit`].
/// Dropping it without committing removes the ingest file.
#[derive(Debug)]
pub struct IngestWriter {
    file: Option<io::BufWriter<File>>,
    path: PathBuf,
    blobs: PathBuf,
    expected: Option<String>,
    hasher: Sha256,
    written: u64,
}

impl IngestWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flushes and syncs the data, verifies the digest (if one was expected) and renames the
    /// file into `blobs/`. On mismatch returns `DigestMismatch` and removes the ingest file.
    /// Returns the digest.
    pub fn commit(mut self) -> Result<String, ImageError> {
        let actual = format!("sha256:{}", hex::encode(self.hasher.clone().finalize()));
        if let Some(expected) = &self.expected {
            if *expected != actual {
                // Drop removes the file.
                return Err(ImageError::DigestMismatch {
                    digest: expected.clone(),
                    actual,
                });
            }
        }
        let what = || format!("write blob {actual} to {}", self.path.display());
        let file = self.file.take().ok_or_else(|| ImageError::Io {
            what: what(),
            source: io::Error::other("ingest writer already closed"),
        })?;
        let file = file.into_inner().map_err(|e| ImageError::Io {
            what: what(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(ImageError::io(what()))?;
        drop(file);
        let hex = &actual["sha256:".len()..];
        let target = self.blobs.join(hex);
        // Renaming over an identical existing blob is harmless.
        fs::rename(&self.path, &target).map_err(ImageError::io(format!(
            "move {} to {}",
            self.path.display(),
            target.display()
        )))?;
        self.path = PathBuf::new();
        Ok(actual)
    }
}

impl Write for IngestWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("ingest writer already closed"))?;
        let n = file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for IngestWriter {
    fn drop(&mut self) {
        drop(self.file.take());
        if !self.path.as_os_str().is_empty() {
            if let Err(e) = fs::remove_file(&self.path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot remove ingest file");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, ContentStore) {
        let dir = tempfile::tempdir().unwrap();
        let cs = ContentStore::open(&dir.path().join("content")).unwrap();
        (dir, cs)
    }

    fn ingest_count(dir: &tempfile::TempDir) -> usize {
        fs::read_dir(dir.path().join("content/ingest"))
            .unwrap()
            .count()
    }

    #[test]
    fn write_read_size_list_delete() {
        let (dir, cs) = store();
        let d = cs.write_bytes(b"hello").unwrap();
        assert_eq!(
            d,
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert!(cs.exists(&d));
        assert_eq!(cs.read(&d).unwrap(), b"hello");
        assert_eq!(cs.size(&d).unwrap(), 5);
        assert_eq!(
            cs.path(&d),
            dir.path()
                .join("content/blobs/sha256")
                .join(&d["sha256:".len()..])
        );
        // Writing the same bytes again is a no-op.
        assert_eq!(cs.write_bytes(b"hello").unwrap(), d);
        let d2 = cs.write_bytes(b"").unwrap();
        let mut want = vec![d.clone(), d2.clone()];
        want.sort();
        assert_eq!(cs.list().unwrap(), want);
        cs.delete(&d).unwrap();
        assert!(!cs.exists(&d));
        assert!(matches!(cs.read(&d), Err(ImageError::NotFound(_))));
        assert!(matches!(cs.size(&d), Err(ImageError::NotFound(_))));
        assert!(matches!(cs.delete(&d), Err(ImageError::NotFound(_))));
        assert_eq!(cs.list().unwrap(), vec![d2]);
        assert_eq!(ingest_count(&dir), 0);
    }

    #[test]
    fn invalid_digests_refused() {
        let (_dir, cs) = store();
        for d in ["sha256:../../etc/passwd", "sha256:abc", "md5:00", ""] {
            assert!(!cs.exists(d));
            assert!(!cs.path(d).exists());
            assert!(matches!(cs.read(d), Err(ImageError::InvalidArgument(_))));
            assert!(matches!(cs.delete(d), Err(ImageError::InvalidArgument(_))));
            assert!(matches!(
                cs.writer(Some(d)),
                Err(ImageError::InvalidArgument(_))
            ));
        }
    }

    #[test]
    fn writer_verifies_expected_digest() {
        let (dir, cs) = store();
        let good = sha256_digest(b"layer data");
        let mut w = cs.writer(Some(&good)).unwrap();
        w.write_all(b"layer ").unwrap();
        w.write_all(b"data").unwrap();
        assert_eq!(w.written(), 10);
        assert_eq!(w.commit().unwrap(), good);
        assert_eq!(cs.read(&good).unwrap(), b"layer data");

        let wanted = sha256_digest(b"something else");
        let mut w = cs.writer(Some(&wanted)).unwrap();
        w.write_all(b"corrupt").unwrap();
        match w.commit() {
            Err(ImageError::DigestMismatch { digest, actual }) => {
                assert_eq!(digest, wanted);
                assert_eq!(actual, sha256_digest(b"corrupt"));
            }
            other => panic!("expected DigestMismatch, got {other:?}"),
        }
        assert!(!cs.exists(&wanted));
        assert!(!cs.exists(&sha256_digest(b"corrupt")));
        assert_eq!(ingest_count(&dir), 0);
    }

    #[test]
    fn writer_without_expectation_returns_digest() {
        let (_dir, cs) = store();
        let mut w = cs.writer(None).unwrap();
        let data = vec![7u8; 1 << 20];
        w.write_all(&data).unwrap();
        let d = w.commit().unwrap();
        assert_eq!(d, sha256_digest(&data));
        assert_eq!(cs.size(&d).unwrap(), 1 << 20);
    }

    #[test]
    fn dropped_writer_leaves_nothing() {
        let (dir, cs) = store();
        let mut w = cs.writer(None).unwrap();
        w.write_all(b"partial").unwrap();
        assert_eq!(ingest_count(&dir), 1);
        drop(w);
        assert_eq!(ingest_count(&dir), 0);
        assert!(cs.list().unwrap().is_empty());
    }

    #[test]
    fn open_empties_ingest() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("content");
        let cs = ContentStore::open(&root).unwrap();
        let d = cs.write_bytes(b"kept").unwrap();
        fs::write(root.join("ingest/leftover"), b"x").unwrap();
        fs::create_dir(root.join("ingest/leftdir")).unwrap();
        fs::write(root.join("ingest/leftdir/f"), b"x").unwrap();
        let cs = ContentStore::open(&root).unwrap();
        assert_eq!(fs::read_dir(root.join("ingest")).unwrap().count(), 0);
        assert_eq!(cs.read(&d).unwrap(), b"kept");
    }
}
