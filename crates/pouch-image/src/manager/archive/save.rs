//! Save: writes images as one archive that is both a docker-archive (`manifest.json`) and an
//! OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`), Docker schema2
//! manifests converted to OCI ones; and which images and tags the names given select.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Write};

use super::{tar_header, ArchiveEntry};
use crate::content::{digest_hex, sha256_digest};
use crate::error::ImageError;
use crate::manager::manifest::{oci_manifest, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use crate::manager::record::{ref_key, ImageRecord};
use crate::manager::resolve::is_id_prefix_of;
use crate::manager::ImageManager;
use pouch_api::reference::Reference;

/// A name given to save: which image and under which tag.
struct Saved {
    rec: ImageRecord,
    tags: Vec<Reference>,
}

/// Whether `name` carries an explicit tag or digest (a `:` after the last `/`, or `@`).
pub(super) fn has_tag_or_digest(name: &str) -> bool {
    name.contains('@')
        || name
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
}

impl ImageManager {
    /// `GET /images/get`: writes images `names` as one archive. A repository name without
    /// tag saves all of its tags; an id or digest saves the image without tags.
    pub fn save(&self, names: &[String], out: &mut dyn Write) -> Result<(), ImageError> {
        let saved = self.saved_images(names)?;
        let mut blobs: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for s in &saved {
            let rec = &s.rec;
            for d in [&rec.manifest_digest, &rec.config_digest]
                .into_iter()
                .chain(rec.layers.iter().map(|l| &l.digest))
            {
                if seen.insert(d.clone()) {
                    blobs.push(d.clone());
                }
            }
        }
        let _held = self.hold(&blobs);
        // OCI tools read an OCI layout only through OCI manifests: Docker schema2 ones are
        // converted (same config and layers) and the converted manifest is saved instead.
        let mut converted: HashMap<String, (String, Vec<u8>)> = HashMap::new();
        for s in &saved {
            let rec = &s.rec;
            if rec.manifest_media_type == DOCKER_MANIFEST {
                let bytes = oci_manifest(&self.content.read(&rec.manifest_digest)?)?;
                converted.insert(rec.manifest_digest.clone(), (sha256_digest(&bytes), bytes));
            }
        }
        blobs.retain(|d| !converted.contains_key(d));
        for d in &blobs {
            if !self.content.exists(d) {
                return Err(ImageError::NotFound(format!(
                    "blob {d} is missing from the content store; pull or load the image again"
                )));
            }
        }

        let mut manifest_json = Vec::new();
        let mut index = Vec::new();
        for s in &saved {
            let rec = &s.rec;
            let path = |d: &str| -> Result<String, ImageError> {
                Ok(format!("blobs/sha256/{}", digest_hex(d)?))
            };
            manifest_json.push(ArchiveEntry {
                config: path(&rec.config_digest)?,
                repo_tags: Some(s.tags.iter().map(Reference::familiar).collect()),
                layers: rec
                    .layers
                    .iter()
                    .map(|l| path(&l.digest))
                    .collect::<Result<_, _>>()?,
            });
            let (media_type, digest, size) = match converted.get(&rec.manifest_digest) {
                Some((d, bytes)) => (OCI_MANIFEST, d.clone(), bytes.len() as u64),
                None => (
                    rec.manifest_media_type.as_str(),
                    rec.manifest_digest.clone(),
                    self.content.size(&rec.manifest_digest)?,
                ),
            };
            let descriptor = |annotations: Option<serde_json::Value>| {
                let mut d = serde_json::json!({
                    "mediaType": media_type,
                    "digest": digest,
                    "size": size,
                });
                if let Some(a) = annotations {
                    d["annotations"] = a;
                }
                d
            };
            if s.tags.is_empty() {
                index.push(descriptor(None));
            }
            for t in &s.tags {
                index.push(descriptor(Some(serde_json::json!({
                    "io.containerd.image.name": t.full(),
                    "org.opencontainers.image.ref.name": t.tag_or_latest(),
                }))));
            }
        }
        let index_json = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": index,
        });

        let werr = |e: io::Error| ImageError::io("write the image archive")(e);
        let mut b = tar::Builder::new(out);
        for dir in ["blobs/", "blobs/sha256/"] {
            let mut h = tar_header(0, 0o755, tar::EntryType::Directory);
            b.append_data(&mut h, dir, io::empty()).map_err(werr)?;
        }
        for d in &blobs {
            let path = self.content.path(d);
            let file = File::open(&path).map_err(ImageError::io(format!(
                "open blob {d} at {}",
                path.display()
            )))?;
            let size = file
                .metadata()
                .map_err(ImageError::io(format!("stat blob {d}")))?
                .len();
            let mut h = tar_header(size, 0o644, tar::EntryType::Regular);
            b.append_data(&mut h, format!("blobs/sha256/{}", digest_hex(d)?), file)
                .map_err(werr)?;
        }
        let mut written = HashSet::new();
        for (digest, bytes) in converted.values() {
            if written.insert(digest) {
                let mut h = tar_header(bytes.len() as u64, 0o644, tar::EntryType::Regular);
                b.append_data(
                    &mut h,
                    format!("blobs/sha256/{}", digest_hex(digest)?),
                    bytes.as_slice(),
                )
                .map_err(werr)?;
            }
        }
        let files: [(&str, Vec<u8>); 3] = [
            (
                "index.json",
                serde_json::to_vec(&index_json).unwrap_or_default(),
            ),
            (
                "manifest.json",
                serde_json::to_vec(&manifest_json).unwrap_or_default(),
            ),
            ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        ];
        for (name, data) in files {
            let mut h = tar_header(data.len() as u64, 0o644, tar::EntryType::Regular);
            b.append_data(&mut h, name, data.as_slice()).map_err(werr)?;
        }
        b.finish().map_err(werr)?;
        Ok(())
    }

    /// The images and tags `names` select, in order, each image once.
    fn saved_images(&self, names: &[String]) -> Result<Vec<Saved>, ImageError> {
        if names.is_empty() {
            return Err(ImageError::InvalidArgument(
                "no images to save: name at least one".to_string(),
            ));
        }
        let refs = self.refs_by_image()?;
        let mut out: Vec<Saved> = Vec::new();
        let mut add = |rec: ImageRecord, tag: Option<Reference>| {
            let i = match out.iter().position(|s| s.rec.id == rec.id) {
                Some(i) => i,
                None => {
                    out.push(Saved {
                        rec,
                        tags: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            if let Some(t) = tag {
                if !out[i].tags.contains(&t) {
                    out[i].tags.push(t);
                }
            }
        };
        for name in names {
            let name = name.trim();
            let parsed = Reference::parse(name).ok();
            if let Some(r) = parsed.as_ref().filter(|_| !has_tag_or_digest(name)) {
                // A repository name: all its tags.
                let repo = r.full_repo();
                let mut found = false;
                let mut ids: Vec<&String> = refs.keys().collect();
                ids.sort();
                for id in ids {
                    for t in &refs[id] {
                        if t.digest.is_none() && t.full_repo() == repo {
                            if let Some(rec) = self.record(id)? {
                                add(rec, Some(t.clone()));
                                found = true;
                            }
                        }
                    }
                }
                if found {
                    continue;
                }
            }
            let rec = self.resolve(name)?;
            let tag = parsed.filter(|r| {
                r.digest.is_none()
                    && !is_id_prefix_of(name, &rec.id)
                    && refs
                        .get(&rec.id)
                        .is_some_and(|rs| rs.iter().any(|x| ref_key(x) == ref_key(r)))
            });
            add(rec, tag);
        }
        Ok(out)
    }
}
