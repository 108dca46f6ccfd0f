//! The image records: `ImageRecord` (table `IMAGES`, keyed by image id = config digest) and
//! the reference keys of table `REFS` (`docker.io/library/busybox:latest` for a tag,
//! `docker.io/library/busybox@sha256:<manifest or index digest>` for a repo digest; value:
//! image id). Tags are the RepoTags of an image, digest keys its RepoDigests.

use std::collections::{BTreeMap, HashMap};

use pouch_store::{IMAGES, REFS};
use serde::{Deserialize, Serialize};

use super::manifest::ConfigDoc;
use super::ImageManager;
use crate::error::ImageError;
use pouch_api::reference::Reference;

/// One image, as stored in `IMAGES`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct ImageRecord {
    /// `sha256:<hex>` of the config; also the key.
    pub id: String,
    /// The manifest this image was pulled, loaded or built with (stored in the content
    /// store byte for byte, so a push keeps its digest).
    pub manifest_digest: String,
    pub manifest_media_type: String,
    pub config_digest: String,
    /// Layer blobs in manifest order (bottom first).
    pub layers: Vec<LayerRecord>,
    /// The config's `rootfs.diff_ids`.
    pub diff_ids: Vec<String>,
    /// Snapshot keys, one per layer.
    pub chain_ids: Vec<String>,
    /// The config's `created` (RFC 3339), and the same as unix seconds (0 when absent).
    pub created: String,
    pub created_unix: i64,
    /// RFC 3339, set by tag, load and import with a reference.
    pub last_tag_time: Option<String>,
    /// Sum of the unpacked layer sizes.
    pub size: i64,
    /// The config's `config.Labels`, for filters.
    pub labels: BTreeMap<String, String>,
}

/// A layer blob of an image.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct LayerRecord {
    pub digest: String,
    pub media_type: String,
    /// Size of the blob as stored (compressed or not).
    pub size: u64,
    /// Bytes of file content the layer unpacked to.
    pub unpacked_size: u64,
}

impl ImageRecord {
    /// A record for an image made of `manifest` + `config` + `layers`.
    pub(crate) fn new(
        manifest_digest: &str,
        manifest_media_type: &str,
        config_digest: &str,
        config: &ConfigDoc,
        layers: Vec<LayerRecord>,
    ) -> ImageRecord {
        let diff_ids = config.diff_ids();
        let chain_ids = super::manifest::chain_ids(&diff_ids);
        let (created, created_unix) = config.created();
        ImageRecord {
            id: config_digest.to_string(),
            manifest_digest: manifest_digest.to_string(),
            manifest_media_type: manifest_media_type.to_string(),
            config_digest: config_digest.to_string(),
            size: layers.iter().map(|l| l.unpacked_size as i64).sum(),
            layers,
            diff_ids,
            chain_ids,
            created,
            created_unix,
            last_tag_time: None,
            labels: config.labels(),
        }
    }
}

/// The `REFS` key of a reference: digest references by digest (a tag beside it is
/// ignored, as Docker does), others by tag.
pub(crate) fn ref_key(r: &Reference) -> String {
    match &r.digest {
        Some(d) => format!("{}@{}", r.full_repo(), d),
        None => format!("{}:{}", r.full_repo(), r.tag_or_latest()),
    }
}

/// The `REFS` key of a repo digest `repo@digest`.
pub(crate) fn digest_key(r: &Reference, digest: &str) -> String {
    format!("{}@{}", r.full_repo(), digest)
}

/// Now, as Docker writes times (RFC 3339 with nanoseconds, UTC).
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// First 12 hex characters of a digest, as Docker shows layer and image ids.
pub(crate) fn short_id(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

impl ImageManager {
    pub(crate) fn record(&self, id: &str) -> Result<Option<ImageRecord>, ImageError> {
        Ok(self.store.get(IMAGES, id)?)
    }

    pub(crate) fn records(&self) -> Result<Vec<ImageRecord>, ImageError> {
        Ok(self
            .store
            .list::<ImageRecord>(IMAGES)?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    /// Every `REFS` entry: (key, image id).
    pub(crate) fn ref_entries(&self) -> Result<Vec<(String, String)>, ImageError> {
        Ok(self.store.list::<String>(REFS)?)
    }

    /// The references of each image, parsed, in key order.
    pub(crate) fn refs_by_image(&self) -> Result<HashMap<String, Vec<Reference>>, ImageError> {
        let mut out: HashMap<String, Vec<Reference>> = HashMap::new();
        for (key, id) in self.ref_entries()? {
            match Reference::parse(&key) {
                Ok(r) => out.entry(id).or_default().push(r),
                Err(e) => {
                    tracing::warn!(reference = %key, error = %e, "skipping an unreadable image reference")
                }
            }
        }
        Ok(out)
    }

    /// The references of one image.
    pub(crate) fn refs_of(&self, id: &str) -> Result<Vec<Reference>, ImageError> {
        Ok(self.refs_by_image()?.remove(id).unwrap_or_default())
    }
}

/// RepoTags and RepoDigests (familiar forms) of a list of references.
pub(crate) fn tags_and_digests(refs: &[Reference]) -> (Vec<String>, Vec<String>) {
    let mut tags = Vec::new();
    let mut digests = Vec::new();
    for r in refs {
        if r.digest.is_some() {
            digests.push(r.familiar());
        } else {
            tags.push(r.familiar());
        }
    }
    (tags, digests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_short_ids() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(ref_key(&r), "docker.io/library/busybox:latest");
        let d = format!("sha256:{}", "ab".repeat(32));
        let rd = Reference::parse(&format!("127.0.0.1:5000/x:v1@{d}")).unwrap();
        assert_eq!(ref_key(&rd), format!("127.0.0.1:5000/x@{d}"));
        assert_eq!(digest_key(&r, &d), format!("docker.io/library/busybox@{d}"));
        assert_eq!(short_id(&d), "abababababab");
        let (tags, digests) = tags_and_digests(&[r.clone(), r.with_digest(&d)]);
        assert_eq!(tags, ["busybox:latest"]);
        assert_eq!(digests, [format!("busybox@{d}")]);
    }
}
