//! Turning layer bytes into committed snapshots: decompress, hash the plain tar (the diff
//! id), unpack it safely into a prepared snapshot directory, and commit it by chain id only
//! when the diff id is the one the image config names. Used by pull (for layers whose blob
//! is already stored), load and import; pull's streaming path uses `unpack_verified` too.

use std::fs::File;
use std::io::{self, Read};

use pouch_snapshot::PreparedLayer;

use super::record::LayerRecord;
use super::ImageManager;
use crate::decompress::{sniff, Compression, DigestReader};
use crate::error::ImageError;
use crate::unpack::{unpack_layer, UnpackOptions};

/// The error for a layer whose content does not match the config's diff id.
pub(crate) fn diff_id_mismatch(layer: &str, expected: &str, actual: &str) -> ImageError {
    ImageError::InvalidArgument(format!(
        "layer {layer} does not match the image config: its uncompressed content is {actual}, the config expects {expected} (the image is corrupt; nothing of the layer was kept)"
    ))
}

/// The compression of a stored blob, from its first bytes.
pub(crate) fn blob_compression(path: &std::path::Path) -> Result<Compression, ImageError> {
    let mut head = Vec::with_capacity(4);
    File::open(path)
        .and_then(|f| f.take(4).read_to_end(&mut head))
        .map_err(ImageError::io(format!("read {}", path.display())))?;
    Ok(sniff(&head))
}

/// Decompresses `reader`, unpacks it into `prepared` and reads it to the end. Returns the
/// unpacked size and the diff id (digest of the plain tar). `layer` names the layer in
/// errors.
pub(crate) fn unpack_hashed<'a>(
    reader: Box<dyn Read + 'a>,
    prepared: &PreparedLayer,
    layer: &str,
) -> Result<(u64, String), ImageError> {
    let plain = crate::decompress::decompress(reader)?;
    let mut hashed = DigestReader::new(plain);
    let stats = unpack_layer(
        &mut hashed,
        &prepared.fs_dir(),
        layer,
        &UnpackOptions::default(),
    )?;
    // The tar may end before the stream does (padding after the end-of-archive blocks);
    // the diff id covers every byte.
    io::copy(&mut hashed, &mut io::sink())
        .map_err(ImageError::io(format!("reading the end of layer {layer}")))?;
    Ok((stats.size, hashed.digest()))
}

/// `unpack_hashed`, failing unless the diff id is `expected_diff_id`. Returns the unpacked
/// size.
pub(crate) fn unpack_verified<'a>(
    reader: Box<dyn Read + 'a>,
    prepared: &PreparedLayer,
    layer: &str,
    expected_diff_id: &str,
) -> Result<u64, ImageError> {
    let (size, actual) = unpack_hashed(reader, prepared, layer)?;
    if actual != expected_diff_id {
        return Err(diff_id_mismatch(layer, expected_diff_id, &actual));
    }
    Ok(size)
}

/// A reader that reports the running count of bytes read through it.
pub(crate) struct CountingReader<R, F: FnMut(u64)> {
    pub inner: R,
    pub count: u64,
    pub report: F,
}

impl<R: Read, F: FnMut(u64)> Read for CountingReader<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        (self.report)(self.count);
        Ok(n)
    }
}

impl ImageManager {
    /// Unpacked size of a committed layer: as recorded by an image that has it, else
    /// measured.
    pub(crate) fn known_layer_size(&self, chain_id: &str) -> u64 {
        if let Ok(records) = self.records() {
            for rec in records {
                if let Some(i) = rec.chain_ids.iter().position(|c| c == chain_id) {
                    if let Some(l) = rec.layers.get(i) {
                        if l.unpacked_size > 0 {
                            return l.unpacked_size;
                        }
                    }
                }
            }
        }
        self.snapshots.usage(chain_id).unwrap_or(0)
    }

    /// Makes sure every layer of an image has its snapshot, unpacking the stored blobs of
    /// the missing ones bottom first and committing each after its diff id matched. Fills
    /// in `unpacked_size`. The caller holds the chain ids in flight.
    /// `progress(index, consumed, total)` sees the compressed bytes read.
    pub(crate) fn unpack_stored(
        &self,
        layers: &mut [LayerRecord],
        diff_ids: &[String],
        chain_ids: &[String],
        progress: &mut dyn FnMut(usize, u64, u64),
    ) -> Result<(), ImageError> {
        for (i, layer) in layers.iter_mut().enumerate() {
            let chain = &chain_ids[i];
            if self.snapshots.exists(chain) {
                layer.unpacked_size = self.known_layer_size(chain);
                continue;
            }
            let path = self.content.path(&layer.digest);
            let file = File::open(&path).map_err(ImageError::io(format!(
                "open layer blob {} at {}",
                layer.digest,
                path.display()
            )))?;
            let total = layer.size;
            let mut throttle = super::progress::Throttle::new();
            let reader = CountingReader {
                inner: file,
                count: 0,
                report: |n: u64| {
                    if n == total || throttle.ready(n) {
                        progress(i, n, total);
                    }
                },
            };
            let prepared = self.snapshots.prepare()?;
            let size = unpack_verified(Box::new(reader), &prepared, &layer.digest, &diff_ids[i])?;
            self.snapshots.commit(prepared, chain)?;
            layer.unpacked_size = size;
        }
        Ok(())
    }
}
