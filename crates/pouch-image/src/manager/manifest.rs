//! Manifests, indexes and image configs, read with `oci-spec`'s image types (a Docker
//! schema2 manifest or manifest list has the same shape as the OCI one, under other media
//! types): telling a manifest from an index, picking the linux/amd64 entry of an index,
//! chain ids, and building the Docker schema2 manifests of images made here (import, and
//! docker-archive loads that carry none).
//!
//! oci-spec's `ImageConfiguration` drops Docker's extra fields (`Healthcheck`, `Shell`,
//! `comment`, ...), so a config is kept both typed and as raw JSON; inspect reads the raw
//! `config` section.

use std::collections::BTreeMap;
use std::str::FromStr;

use oci_spec::image::{
    Arch, Descriptor, Digest, ImageConfiguration, ImageIndex, ImageManifest, ImageManifestBuilder,
    MediaType, Os,
};
use serde_json::Value;

use crate::content::sha256_digest;
use crate::decompress::Compression;
use crate::error::ImageError;

pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub(crate) const DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
pub(crate) const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub(crate) const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub(crate) const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub(crate) const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker's schema2 has no zstd layer type; containerd and Docker use the OCI one.
pub(crate) const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// A parsed manifest or index.
pub(crate) enum Document {
    Manifest(Box<ImageManifest>),
    Index(Box<ImageIndex>),
}

fn invalid(what: &str, e: impl std::fmt::Display) -> ImageError {
    ImageError::InvalidArgument(format!("{what} is not valid: {e}"))
}

/// Parses a manifest or an index. `media_type` is the one the registry (or a descriptor)
/// gave; when it is empty or generic the document's own `mediaType` and shape decide.
/// `what` names the document in errors.
pub(crate) fn parse_document(
    bytes: &[u8],
    media_type: &str,
    what: &str,
) -> Result<Document, ImageError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| invalid(what, e))?;
    if !value.is_object() {
        return Err(invalid(what, "not a json object"));
    }
    if value.get("schemaVersion").and_then(Value::as_u64) == Some(1) {
        return Err(ImageError::InvalidArgument(format!(
            "{what} uses manifest schema version 1, which is not supported; push the image again with a current client"
        )));
    }
    let own = value.get("mediaType").and_then(Value::as_str).unwrap_or("");
    let kind = [media_type, own]
        .into_iter()
        .find(|m| is_index_type(m) || is_manifest_type(m));
    let is_index = match kind {
        Some(m) => is_index_type(m),
        None => value.get("manifests").is_some() && value.get("layers").is_none(),
    };
    if is_index {
        let index: ImageIndex = serde_json::from_value(value).map_err(|e| invalid(what, e))?;
        Ok(Document::Index(Box::new(index)))
    } else {
        let manifest: ImageManifest =
            serde_json::from_value(value).map_err(|e| invalid(what, e))?;
        Ok(Document::Manifest(Box::new(manifest)))
    }
}

pub(crate) fn is_index_type(m: &str) -> bool {
    m == OCI_INDEX || m == DOCKER_MANIFEST_LIST
}

pub(crate) fn is_manifest_type(m: &str) -> bool {
    m == OCI_MANIFEST || m == DOCKER_MANIFEST
}

/// The media type to record for a manifest: the given one, else the document's own, else
/// OCI's.
pub(crate) fn manifest_media_type(given: &str, manifest: &ImageManifest) -> String {
    if is_manifest_type(given) {
        return given.to_string();
    }
    match manifest.media_type() {
        Some(m) if is_manifest_type(m.as_ref()) => m.to_string(),
        _ => OCI_MANIFEST.to_string(),
    }
}

/// The index entry for linux/amd64: one without a variant first, else any.
pub(crate) fn select_platform(index: &ImageIndex) -> Option<&Descriptor> {
    let linux_amd64 = |d: &&Descriptor| {
        d.platform()
            .as_ref()
            .is_some_and(|p| *p.os() == Os::Linux && *p.architecture() == Arch::Amd64)
    };
    let no_variant = |d: &&Descriptor| {
        d.platform()
            .as_ref()
            .is_some_and(|p| p.variant().as_deref().unwrap_or("").is_empty())
    };
    index
        .manifests()
        .iter()
        .filter(linux_amd64)
        .find(no_variant)
        .or_else(|| index.manifests().iter().find(linux_amd64))
}

/// Chain ids of a list of diff ids: the first is the first diff id, each next one
/// `sha256(parent_chain + " " + diff_id)`.
pub(crate) fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => sha256_digest(format!("{parent} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// An image config, typed and raw.
pub(crate) struct ConfigDoc {
    pub oci: ImageConfiguration,
    pub raw: Value,
}

/// Parses an image config. Fields oci-spec requires but some writers omit (`os`,
/// `architecture`, `rootfs`) are filled with empty values first.
pub(crate) fn parse_config(bytes: &[u8]) -> Result<ConfigDoc, ImageError> {
    let raw: Value = serde_json::from_slice(bytes).map_err(|e| invalid("image config", e))?;
    let mut patched = raw.clone();
    let obj = patched
        .as_object_mut()
        .ok_or_else(|| invalid("image config", "not a json object"))?;
    for key in ["os", "architecture"] {
        if !obj.get(key).is_some_and(Value::is_string) {
            obj.insert(key.to_string(), Value::String(String::new()));
        }
    }
    if !obj.get("rootfs").is_some_and(Value::is_object) {
        obj.insert(
            "rootfs".to_string(),
            serde_json::json!({"type": "layers", "diff_ids": []}),
        );
    }
    let oci: ImageConfiguration =
        serde_json::from_value(patched).map_err(|e| invalid("image config", e))?;
    Ok(ConfigDoc { oci, raw })
}

impl ConfigDoc {
    pub(crate) fn diff_ids(&self) -> Vec<String> {
        self.oci.rootfs().diff_ids().clone()
    }

    /// `created` as given (RFC 3339) and as unix seconds (0 when absent or unreadable).
    pub(crate) fn created(&self) -> (String, i64) {
        let text = self.oci.created().clone().unwrap_or_default();
        (text.clone(), rfc3339_unix(&text))
    }

    /// `config.Labels`.
    pub(crate) fn labels(&self) -> BTreeMap<String, String> {
        self.raw
            .get("config")
            .and_then(|c| c.get("Labels"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `config` section in the API's shape.
    pub(crate) fn api_config(&self) -> Option<pouch_api::image::ImageConfig> {
        let section = self.raw.get("config")?;
        if !section.is_object() {
            return None;
        }
        serde_json::from_value(section.clone()).ok()
    }

    /// A top-level string field of the raw config (`comment`, `docker_version`, ...).
    pub(crate) fn raw_str(&self, key: &str) -> String {
        self.raw
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }
}

/// Unix seconds of an RFC 3339 time, 0 when it cannot be read.
pub(crate) fn rfc3339_unix(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

/// The Docker schema2 layer media type for a layer blob of this compression.
pub(crate) fn layer_media_type(c: Compression) -> &'static str {
    match c {
        Compression::None => DOCKER_LAYER,
        Compression::Gzip => DOCKER_LAYER_GZIP,
        Compression::Zstd => OCI_LAYER_ZSTD,
    }
}

/// A layer blob of a manifest being built: digest, size, media type.
pub(crate) struct LayerDesc {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
}

fn descriptor(media_type: &str, size: u64, digest: &str) -> Result<Descriptor, ImageError> {
    let digest = Digest::from_str(digest).map_err(|e| invalid("digest", e))?;
    Ok(Descriptor::new(MediaType::from(media_type), size, digest))
}

/// A Docker schema2 manifest for a config and its layers (JSON bytes).
pub(crate) fn docker_manifest(
    config_digest: &str,
    config_size: u64,
    layers: &[LayerDesc],
) -> Result<Vec<u8>, ImageError> {
    let layers = layers
        .iter()
        .map(|l| descriptor(&l.media_type, l.size, &l.digest))
        .collect::<Result<Vec<_>, _>>()?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::Other(DOCKER_MANIFEST.to_string()))
        .config(descriptor(DOCKER_CONFIG, config_size, config_digest)?)
        .layers(layers)
        .build()
        .map_err(|e| invalid("new image manifest", e))?;
    serde_json::to_vec(&manifest).map_err(|e| invalid("new image manifest", e))
}

/// An OCI image manifest with the config and layers of Docker schema2 manifest `bytes`
/// (media types translated; digests and sizes unchanged), for the OCI layout side of
/// saved archives, which OCI tools only read through OCI manifests.
pub(crate) fn oci_manifest(bytes: &[u8]) -> Result<Vec<u8>, ImageError> {
    let Document::Manifest(m) = parse_document(bytes, DOCKER_MANIFEST, "manifest")? else {
        return Err(invalid(
            "manifest",
            "an index where a manifest was expected",
        ));
    };
    let layers = m
        .layers()
        .iter()
        .map(|l| {
            let media_type = match l.media_type().as_ref() {
                DOCKER_LAYER => MediaType::ImageLayer,
                DOCKER_LAYER_GZIP => MediaType::ImageLayerGzip,
                other => MediaType::from(other),
            };
            let mut d = l.clone();
            d.set_media_type(media_type);
            d
        })
        .collect::<Vec<_>>();
    let mut config = m.config().clone();
    config.set_media_type(MediaType::ImageConfig);
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config)
        .layers(layers)
        .build()
        .map_err(|e| invalid("converted image manifest", e))?;
    serde_json::to_vec(&manifest).map_err(|e| invalid("converted image manifest", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        assert_eq!(ids[1], sha256_digest(format!("{a} {b}").as_bytes()));
        assert!(chain_ids(&[]).is_empty());
    }

    #[test]
    fn index_and_platform_selection() {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST_LIST,
            "manifests": [
                {"mediaType": DOCKER_MANIFEST, "digest": d('1'), "size": 1,
                 "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
                {"mediaType": DOCKER_MANIFEST, "digest": d('2'), "size": 1,
                 "platform": {"architecture": "amd64", "os": "linux", "variant": "v2"}},
                {"mediaType": DOCKER_MANIFEST, "digest": d('3'), "size": 1,
                 "platform": {"architecture": "amd64", "os": "linux"}},
            ]
        });
        let bytes = serde_json::to_vec(&index).unwrap();
        let Document::Index(idx) = parse_document(&bytes, "", "index").unwrap() else {
            panic!("not an index")
        };
        assert_eq!(select_platform(&idx).unwrap().digest().to_string(), d('3'));

        let only_arm = serde_json::json!({"schemaVersion": 2, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": d('1'), "size": 1,
             "platform": {"architecture": "arm64", "os": "linux"}}]});
        let bytes = serde_json::to_vec(&only_arm).unwrap();
        let Document::Index(idx) = parse_document(&bytes, OCI_INDEX, "index").unwrap() else {
            panic!("not an index")
        };
        assert!(select_platform(&idx).is_none());
    }

    #[test]
    fn schema1_is_refused_and_manifests_parse() {
        let err = parse_document(br#"{"schemaVersion":1,"fsLayers":[]}"#, "", "m")
            .err()
            .unwrap();
        assert!(err.to_string().contains("schema version 1"), "{err}");
        let m = docker_manifest(
            &format!("sha256:{}", "c".repeat(64)),
            10,
            &[LayerDesc {
                digest: format!("sha256:{}", "d".repeat(64)),
                size: 20,
                media_type: DOCKER_LAYER_GZIP.to_string(),
            }],
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(v["mediaType"], DOCKER_MANIFEST);
        assert_eq!(v["config"]["mediaType"], DOCKER_CONFIG);
        assert_eq!(v["layers"][0]["mediaType"], DOCKER_LAYER_GZIP);
        let Document::Manifest(parsed) = parse_document(&m, DOCKER_MANIFEST, "m").unwrap() else {
            panic!("not a manifest")
        };
        assert_eq!(parsed.layers()[0].size(), 20);
        assert_eq!(manifest_media_type("", &parsed), DOCKER_MANIFEST);
    }

    #[test]
    fn configs_parse_leniently() {
        let c = parse_config(br#"{"created":"2024-01-02T03:04:05Z","config":{"Labels":{"a":"b"},"Cmd":["sh"],"Healthcheck":{"Test":["NONE"]}},"rootfs":{"type":"layers","diff_ids":[]}}"#).unwrap();
        assert_eq!(c.created().1, 1704164645);
        assert_eq!(c.labels().get("a").map(String::as_str), Some("b"));
        let api = c.api_config().unwrap();
        assert_eq!(api.cmd, Some(vec!["sh".to_string()]));
        assert!(api.healthcheck.is_some());
        assert!(parse_config(b"[]").is_err());
    }
}
