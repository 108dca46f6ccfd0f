//! Layer decompression by content sniffing (gzip, zstd or a plain tar) and `DigestReader`,
//! the hashing reader that computes a layer's diff id (sha256 of the uncompressed tar) or a
//! blob's digest while the bytes stream through.

use std::io::{self, Cursor, Read};

use sha2::{Digest, Sha256};

use crate::ImageError;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The compression a stream was found to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Tells the compression from the first bytes of a stream.
pub fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Wraps `r` in the decompressor its first bytes call for: gzip (all members, as `docker`
/// and `pigz` may write several), zstd, or none for a plain tar.
pub fn decompress<'a>(mut r: Box<dyn Read + 'a>) -> Result<Box<dyn Read + 'a>, ImageError> {
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ImageError::io("reading the start of a layer")(e)),
        }
    }
    let head = head[..got].to_vec();
    let kind = sniff(&head);
    let whole = Cursor::new(head).chain(r);
    Ok(match kind {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(whole)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(whole)
                .map_err(ImageError::io("starting the zstd decoder of a layer"))?,
        ),
        Compression::None => Box::new(whole),
    })
}

/// A reader that hashes (sha256) and counts every byte read through it.
pub struct DigestReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R> DigestReader<R> {
    pub fn new(inner: R) -> DigestReader<R> {
        DigestReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// `sha256:<hex>` of the bytes read so far.
    pub fn digest(&self) -> String {
        format!("sha256:{}", hex::encode(self.hasher.clone().finalize()))
    }

    /// How many bytes were read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn sample_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let data = b"hello layer\n".repeat(1000);
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "etc/motd", &data[..]).unwrap();
        b.into_inner().unwrap()
    }

    fn read_all(r: Box<dyn Read + Send>) -> Vec<u8> {
        let mut out = Vec::new();
        decompress(r).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    /// A reader that hands out one byte per call, to show the sniffing does not rely on a
    /// single read filling the magic.
    struct Trickle(Vec<u8>, usize);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.1 >= self.0.len() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[self.1];
            self.1 += 1;
            Ok(1)
        }
    }

    #[test]
    fn plain_tar_passes_through() {
        let t = sample_tar();
        assert_eq!(sniff(&t), Compression::None);
        assert_eq!(read_all(Box::new(Cursor::new(t.clone()))), t);
    }

    #[test]
    fn gzip_round_trip_including_several_members() {
        let t = sample_tar();
        let mut gz = Vec::new();
        for half in [&t[..t.len() / 2], &t[t.len() / 2..]] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(half).unwrap();
            gz.extend(e.finish().unwrap());
        }
        assert_eq!(sniff(&gz), Compression::Gzip);
        assert_eq!(read_all(Box::new(Trickle(gz, 0))), t);
    }

    #[test]
    fn zstd_round_trip() {
        let t = sample_tar();
        let z = zstd::stream::encode_all(&t[..], 3).unwrap();
        assert_eq!(sniff(&z), Compression::Zstd);
        assert_eq!(read_all(Box::new(Trickle(z, 0))), t);
    }

    #[test]
    fn short_and_empty_inputs() {
        assert_eq!(
            read_all(Box::new(Cursor::new(Vec::new()))),
            Vec::<u8>::new()
        );
        assert_eq!(read_all(Box::new(Cursor::new(vec![0x1f]))), vec![0x1f]);
    }

    #[test]
    fn corrupt_gzip_is_an_error() {
        let mut out = Vec::new();
        let r = decompress(Box::new(Cursor::new(vec![0x1f, 0x8b, 0, 0, 1, 2, 3])));
        assert!(r.unwrap().read_to_end(&mut out).is_err());
    }

    #[test]
    fn digest_reader_hashes_and_counts() {
        let mut r = DigestReader::new(Cursor::new(b"abc".to_vec()));
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(r.count(), 3);
        assert_eq!(
            r.digest(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let empty = DigestReader::new(io::empty());
        assert_eq!(
            empty.digest(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
