//! Finding an image by the name a user gave, as Docker does: a full image id (with or
//! without `sha256:`), a reference (`busybox`, `busybox:1.36`, `127.0.0.1:5000/x:v1`,
//! `name@sha256:<digest>`), or a unique prefix of an image id.

use pouch_store::REFS;

use super::record::{ref_key, ImageRecord};
use super::ImageManager;
use crate::error::ImageError;
use pouch_api::reference::{is_image_id_prefix, Reference};

/// The `NotFound` error Docker clients match on ("No such image", any case).
pub(crate) fn no_such_image(name: &str) -> ImageError {
    ImageError::NotFound(format!("no such image: {name}"))
}

/// Whether `name` is a prefix of `id`, with or without `sha256:` (Docker's
/// `isImageIDPrefix`, deciding that a remove names the image rather than a tag).
pub(crate) fn is_id_prefix_of(name: &str, id: &str) -> bool {
    !name.is_empty() && (id.starts_with(name) || id.trim_start_matches("sha256:").starts_with(name))
}

impl ImageManager {
    /// The record of the image `name` names; `NotFound("no such image: <name>")` otherwise.
    pub(crate) fn resolve(&self, name: &str) -> Result<ImageRecord, ImageError> {
        let name = name.trim();
        // A full id.
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if hex.len() == 64 && is_image_id_prefix(hex) {
            if let Some(rec) = self.record(&format!("sha256:{hex}"))? {
                return Ok(rec);
            }
        }
        // A reference.
        if let Ok(r) = Reference::parse(name) {
            if let Some(id) = self.store.get::<String>(REFS, &ref_key(&r))? {
                if let Some(rec) = self.record(&id)? {
                    return Ok(rec);
                }
            }
            if let Some(digest) = &r.digest {
                // `name@digest` where the digest is the image's manifest and the image has
                // some reference in that repository.
                let repo = r.full_repo();
                let refs = self.refs_by_image()?;
                for rec in self.records()? {
                    if &rec.manifest_digest == digest
                        && refs
                            .get(&rec.id)
                            .is_some_and(|rs| rs.iter().any(|x| x.full_repo() == repo))
                    {
                        return Ok(rec);
                    }
                }
            }
        }
        // A unique id prefix.
        if is_image_id_prefix(name) {
            let prefix = name.strip_prefix("sha256:").unwrap_or(name);
            let mut found: Vec<ImageRecord> = self
                .records()?
                .into_iter()
                .filter(|r| r.id.trim_start_matches("sha256:").starts_with(prefix))
                .collect();
            match found.len() {
                0 => {}
                1 => return Ok(found.remove(0)),
                n => {
                    return Err(ImageError::NotFound(format!(
                        "no such image: {name} (the id prefix matches {n} images; give more characters)"
                    )))
                }
            }
        }
        Err(no_such_image(name))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil;
    use super::*;
    use pouch_store::{Batch, IMAGES};

    fn put(mgr: &ImageManager, id: &str, refs: &[&str]) {
        let mut b = Batch::default();
        b.put(
            IMAGES,
            id,
            &ImageRecord {
                id: id.to_string(),
                manifest_digest: format!("sha256:{}", "f".repeat(64)),
                ..Default::default()
            },
        );
        for r in refs {
            b.put(
                REFS,
                &ref_key(&Reference::parse(r).unwrap()),
                &id.to_string(),
            );
        }
        mgr.store.write(b).unwrap();
    }

    #[test]
    fn names_ids_prefixes_and_digests() {
        let t = testutil::manager();
        let a = format!("sha256:abc1{}", "0".repeat(60));
        let b = format!("sha256:abc2{}", "0".repeat(60));
        let manifest = format!("sha256:{}", "f".repeat(64));
        put(&t.mgr, &a, &["busybox", "127.0.0.1:5000/x:v1"]);
        put(&t.mgr, &b, &[]);
        let id = |n: &str| t.mgr.resolve(n).map(|r| r.id);
        assert_eq!(id("busybox").unwrap(), a);
        assert_eq!(id("busybox:latest").unwrap(), a);
        assert_eq!(id("docker.io/library/busybox:latest").unwrap(), a);
        assert_eq!(id("127.0.0.1:5000/x:v1").unwrap(), a);
        assert_eq!(id(&a).unwrap(), a);
        assert_eq!(id(&a[7..]).unwrap(), a);
        assert_eq!(id("abc1").unwrap(), a);
        assert_eq!(id("sha256:abc2").unwrap(), b);
        assert_eq!(id(&format!("busybox@{manifest}")).unwrap(), a);

        let amb = id("abc").unwrap_err();
        assert!(matches!(amb, ImageError::NotFound(_)));
        assert!(amb.to_string().contains("matches 2 images"), "{amb}");
        for missing in ["nothere", "busybox:2", "abd", "127.0.0.1:5000/x:v2"] {
            let e = id(missing).unwrap_err();
            assert_eq!(e.to_string(), format!("no such image: {missing}"));
            assert!(e.to_string().to_lowercase().contains("no such image"));
        }
        // The digest must be the image's and the repository one of its own.
        assert!(id(&format!("other@{manifest}")).is_err());
    }

    #[test]
    fn id_prefix_rule() {
        let id = format!("sha256:abc{}", "0".repeat(61));
        assert!(is_id_prefix_of("abc", &id));
        assert!(is_id_prefix_of("sha256:ab", &id));
        assert!(!is_id_prefix_of("busybox", &id));
        assert!(!is_id_prefix_of("", &id));
    }
}
