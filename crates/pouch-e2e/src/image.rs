//! Building image blobs without a daemon: layer tars (any entry, including ones a safe tar
//! writer refuses, such as `../x`), gzip/zstd/uncompressed blobs, image configs, Docker
//! schema2 and OCI manifests, and OCI indexes. Everything is deterministic (fixed times).

use serde_json::{json, Value};

use crate::sha256_digest;

/// The fixed timestamp of every test image (so digests are stable across runs).
pub const CREATED: &str = "2024-01-01T00:00:00Z";
const MTIME: u64 = 1_704_067_200;

/// A layer tar being written.
pub struct LayerBuilder {
    tar: tar::Builder<Vec<u8>>,
}

impl Default for LayerBuilder {
    fn default() -> Self {
        LayerBuilder::new()
    }
}

/// The entry kinds a test layer can hold.
enum Kind<'a> {
    Dir,
    File(&'a [u8]),
    Symlink(&'a str),
    HardLink(&'a str),
    Char(u32, u32),
    Block(u32, u32),
}

impl LayerBuilder {
    pub fn new() -> LayerBuilder {
        LayerBuilder {
            tar: tar::Builder::new(Vec::new()),
        }
    }

    /// Writes one entry with `name` copied byte for byte into the header (no checks, so
    /// `../x` and absolute names are possible). Names must fit the 100-byte field.
    fn entry(&mut self, name: &str, kind: Kind<'_>, mode: u32) {
        let mut h = tar::Header::new_gnu();
        let bytes = name.as_bytes();
        assert!(bytes.len() < 100, "test tar name too long: {name}");
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(MTIME);
        let mut data: &[u8] = &[];
        match kind {
            Kind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
            }
            Kind::File(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                data = d;
            }
            Kind::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                h.set_link_name(target).expect("symlink target fits");
            }
            Kind::HardLink(target) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                h.set_link_name(target).expect("hard link target fits");
            }
            Kind::Char(major, minor) | Kind::Block(major, minor) => {
                h.set_entry_type(if matches!(kind, Kind::Char(..)) {
                    tar::EntryType::Char
                } else {
                    tar::EntryType::Block
                });
                h.set_size(0);
                h.set_device_major(major).expect("device major");
                h.set_device_minor(minor).expect("device minor");
            }
        }
        h.set_cksum();
        self.tar
            .append(&h, data)
            .expect("append to an in-memory tar");
    }

    /// A directory (`name` without trailing slash).
    pub fn dir(&mut self, name: &str) -> &mut Self {
        self.entry(&format!("{name}/"), Kind::Dir, 0o755);
        self
    }

    /// A regular file with mode 0644.
    pub fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.entry(name, Kind::File(data), 0o644);
        self
    }

    /// A regular file with the given mode.
    pub fn file_mode(&mut self, name: &str, data: &[u8], mode: u32) -> &mut Self {
        self.entry(name, Kind::File(data), mode);
        self
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, Kind::Symlink(target), 0o777);
        self
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, Kind::HardLink(target), 0o644);
        self
    }

    pub fn char_device(&mut self, name: &str, major: u32, minor: u32) -> &mut Self {
        self.entry(name, Kind::Char(major, minor), 0o600);
        self
    }

    pub fn block_device(&mut self, name: &str, major: u32, minor: u32) -> &mut Self {
        self.entry(name, Kind::Block(major, minor), 0o600);
        self
    }

    /// A Docker whiteout deleting `dir/name` of a lower layer (`dir` may be "").
    pub fn whiteout(&mut self, dir: &str, name: &str) -> &mut Self {
        let path = if dir.is_empty() {
            format!(".wh.{name}")
        } else {
            format!("{dir}/.wh.{name}")
        };
        self.entry(&path, Kind::File(&[]), 0o644);
        self
    }

    /// Marks `dir` opaque (hides everything lower layers have in it).
    pub fn opaque(&mut self, dir: &str) -> &mut Self {
        self.entry(&format!("{dir}/.wh..wh..opq"), Kind::File(&[]), 0o644);
        self
    }

    /// The finished, uncompressed tar.
    pub fn into_tar(self) -> Vec<u8> {
        self.tar.into_inner().expect("finish an in-memory tar")
    }
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Which manifest flavour an image uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Docker,
    Oci,
}

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

impl Format {
    fn layer_media_type(self, c: Compression) -> &'static str {
        match (self, c) {
            (Format::Docker, Compression::Gzip) => {
                "application/vnd.docker.image.rootfs.diff.tar.gzip"
            }
            (Format::Docker, Compression::None) => "application/vnd.docker.image.rootfs.diff.tar",
            (Format::Docker, Compression::Zstd) => {
                panic!("Docker schema2 has no zstd layer type: use Format::Oci")
            }
            (Format::Oci, Compression::Gzip) => "application/vnd.oci.image.layer.v1.tar+gzip",
            (Format::Oci, Compression::Zstd) => "application/vnd.oci.image.layer.v1.tar+zstd",
            (Format::Oci, Compression::None) => "application/vnd.oci.image.layer.v1.tar",
        }
    }
}

/// Compresses a tar (gzip at `level`, zstd level 3, or not at all).
pub fn compress(tar: &[u8], c: Compression, gzip_level: u32) -> Vec<u8> {
    use std::io::Write;
    match c {
        Compression::None => tar.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(
                Vec::with_capacity(tar.len() / 2),
                flate2::Compression::new(gzip_level),
            );
            e.write_all(tar).expect("gzip in memory");
            e.finish().expect("gzip in memory")
        }
        Compression::Zstd => zstd::stream::encode_all(tar, 3).expect("zstd in memory"),
    }
}

/// One layer blob.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The blob as pushed (compressed or not).
    pub blob: Vec<u8>,
    /// Digest of the blob.
    pub digest: String,
    /// Digest of the uncompressed tar.
    pub diff_id: String,
    pub compression: Compression,
    pub created_by: String,
}

impl Layer {
    /// A layer from a finished tar.
    pub fn new(tar: &[u8], compression: Compression, created_by: &str) -> Layer {
        Layer::with_level(tar, compression, created_by, 6)
    }

    /// Same, choosing the gzip level (1 for large random data).
    pub fn with_level(tar: &[u8], compression: Compression, created_by: &str, level: u32) -> Layer {
        let blob = compress(tar, compression, level);
        Layer {
            digest: sha256_digest(&blob),
            diff_id: sha256_digest(tar),
            blob,
            compression,
            created_by: created_by.to_string(),
        }
    }
}

/// A complete single-platform image: config, layers and manifest.
#[derive(Debug, Clone)]
pub struct Image {
    pub format: Format,
    pub config: Vec<u8>,
    /// The image id pouchd and Docker report: the config digest.
    pub config_digest: String,
    pub layers: Vec<Layer>,
    pub manifest: Vec<u8>,
    pub manifest_media_type: &'static str,
    pub manifest_digest: String,
}

impl Image {
    pub fn id(&self) -> &str {
        &self.config_digest
    }

    pub fn diff_ids(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.diff_id.clone()).collect()
    }

    /// Snapshot keys of the layers (chain ids).
    pub fn chain_ids(&self) -> Vec<String> {
        crate::chain_ids(&self.diff_ids())
    }

    /// Total bytes of the layer blobs.
    pub fn blob_bytes(&self) -> u64 {
        self.layers.iter().map(|l| l.blob.len() as u64).sum()
    }
}

/// What goes into an image config besides the layers.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub format: Format,
    pub architecture: String,
    pub variant: Option<String>,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    pub labels: Vec<(String, String)>,
}

impl ImageSpec {
    pub fn new(format: Format) -> ImageSpec {
        ImageSpec {
            format,
            architecture: "amd64".into(),
            variant: None,
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            cmd: vec!["sh".into()],
            labels: Vec::new(),
        }
    }

    /// Assembles config and manifest around `layers`.
    pub fn build(&self, layers: Vec<Layer>) -> Image {
        let mut history: Vec<Value> = layers
            .iter()
            .map(|l| json!({"created": CREATED, "created_by": l.created_by}))
            .collect();
        history.push(json!({
            "created": CREATED,
            "created_by": format!("CMD {}", serde_json::to_string(&self.cmd).unwrap_or_default()),
            "empty_layer": true
        }));
        let labels: serde_json::Map<String, Value> = self
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let mut config = json!({
            "architecture": self.architecture,
            "os": "linux",
            "created": CREATED,
            "config": {
                "Env": self.env,
                "Cmd": self.cmd,
                "Labels": labels,
            },
            "rootfs": {
                "type": "layers",
                "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
            },
            "history": history,
        });
        if let Some(v) = &self.variant {
            config["variant"] = Value::String(v.clone());
        }
        let config = serde_json::to_vec(&config).expect("serialize config");
        let config_digest = sha256_digest(&config);
        let (manifest_media_type, config_media_type) = match self.format {
            Format::Docker => (DOCKER_MANIFEST, DOCKER_CONFIG),
            Format::Oci => (OCI_MANIFEST, OCI_CONFIG),
        };
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": manifest_media_type,
            "config": {
                "mediaType": config_media_type,
                "size": config.len(),
                "digest": config_digest,
            },
            "layers": layers.iter().map(|l| json!({
                "mediaType": self.format.layer_media_type(l.compression),
                "size": l.blob.len(),
                "digest": l.digest,
            })).collect::<Vec<_>>(),
        });
        let manifest = serde_json::to_vec_pretty(&manifest).expect("serialize manifest");
        Image {
            format: self.format,
            config_digest,
            config,
            manifest_digest: sha256_digest(&manifest),
            manifest,
            manifest_media_type,
            layers,
        }
    }
}

/// An OCI index over per-platform images.
#[derive(Debug, Clone)]
pub struct Index {
    /// (architecture, variant, image)
    pub images: Vec<(String, Option<String>, Image)>,
    pub bytes: Vec<u8>,
    pub digest: String,
    pub media_type: &'static str,
}

impl Index {
    /// Builds an index whose entries are `images` (their config's architecture).
    pub fn new(images: Vec<(String, Option<String>, Image)>) -> Index {
        let manifests: Vec<Value> = images
            .iter()
            .map(|(arch, variant, img)| {
                let mut platform = json!({"architecture": arch, "os": "linux"});
                if let Some(v) = variant {
                    platform["variant"] = Value::String(v.clone());
                }
                json!({
                    "mediaType": img.manifest_media_type,
                    "size": img.manifest.len(),
                    "digest": img.manifest_digest,
                    "platform": platform,
                })
            })
            .collect();
        let index = json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": manifests,
        });
        let bytes = serde_json::to_vec_pretty(&index).expect("serialize index");
        Index {
            digest: sha256_digest(&bytes),
            bytes,
            images,
            media_type: OCI_INDEX,
        }
    }

    /// The image for `arch`.
    pub fn image(&self, arch: &str) -> Option<&Image> {
        self.images
            .iter()
            .find(|(a, _, _)| a == arch)
            .map(|(_, _, i)| i)
    }
}

/// The Go/OCI architecture name of this machine.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn raw_names_survive() {
        let mut l = LayerBuilder::new();
        l.file("../escape", b"x").whiteout("a", "gone").opaque("d");
        let tar = l.into_tar();
        let mut ar = tar::Archive::new(&tar[..]);
        let names: Vec<Vec<u8>> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path_bytes().into_owned())
            .collect();
        assert_eq!(
            names,
            vec![
                b"../escape".to_vec(),
                b"a/.wh.gone".to_vec(),
                b"d/.wh..wh..opq".to_vec()
            ]
        );
    }

    #[test]
    fn compression_round_trips_and_digests_differ() {
        let mut l = LayerBuilder::new();
        l.file("f", &[7u8; 5000]);
        let tar = l.into_tar();
        let gz = Layer::new(&tar, Compression::Gzip, "gz");
        let zs = Layer::new(&tar, Compression::Zstd, "zs");
        let raw = Layer::new(&tar, Compression::None, "raw");
        assert_eq!(gz.diff_id, zs.diff_id);
        assert_eq!(raw.digest, raw.diff_id);
        assert_ne!(gz.digest, zs.digest);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz.blob[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, tar);
        assert_eq!(zstd::stream::decode_all(&zs.blob[..]).unwrap(), tar);
    }

    #[test]
    fn manifest_references_config_and_layers() {
        let mut l = LayerBuilder::new();
        l.file("f", b"x");
        let layer = Layer::new(&l.into_tar(), Compression::Gzip, "ADD f");
        let img = ImageSpec::new(Format::Oci).build(vec![layer.clone()]);
        let m: Value = serde_json::from_slice(&img.manifest).unwrap();
        assert_eq!(m["config"]["digest"], img.config_digest.as_str());
        assert_eq!(m["layers"][0]["digest"], layer.digest.as_str());
        let c: Value = serde_json::from_slice(&img.config).unwrap();
        assert_eq!(c["rootfs"]["diff_ids"][0], layer.diff_id.as_str());
    }
}
