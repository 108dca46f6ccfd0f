//! The images an OCI image layout's `index.json` lists: nested indexes followed (linux/amd64
//! chosen where entries carry platforms), tags taken from descriptor annotations.

use oci_spec::image::ImageManifest;

use super::{bad_archive, Found};
use crate::error::ImageError;
use crate::manager::manifest::{
    is_index_type, manifest_media_type, parse_document, select_platform, Document, OCI_INDEX,
};
use crate::manager::{ImageManager, Inflight};
use pouch_api::reference::Reference;

impl ImageManager {
    /// The images an OCI `index.json` lists (nested indexes followed), each with the tags
    /// its descriptors' annotations give.
    pub(super) fn index_images(
        &self,
        index: &[u8],
        held: &mut Inflight<'_>,
    ) -> Result<Vec<Found>, ImageError> {
        let Document::Index(index) = parse_document(index, OCI_INDEX, "index.json")? else {
            return Err(bad_archive("index.json is not an image index"));
        };
        let mut out: Vec<Found> = Vec::new();
        let mut todo: Vec<(oci_spec::image::Descriptor, Vec<Reference>, usize)> = index
            .manifests()
            .iter()
            .map(|d| (d.clone(), descriptor_names(d), 0))
            .collect();
        todo.reverse();
        while let Some((desc, names, depth)) = todo.pop() {
            let digest = desc.digest().to_string();
            {
                let mut st = self.lock();
                held.add(&mut st, &digest);
            }
            let bytes = self.content.read(&digest).map_err(|_| {
                bad_archive(format!(
                    "index.json names {digest}, which is not in the archive"
                ))
            })?;
            let media = desc.media_type().to_string();
            match parse_document(&bytes, &media, &format!("manifest {digest}"))? {
                Document::Index(nested) => {
                    if depth >= 4 {
                        return Err(bad_archive("indexes nested more than 4 deep"));
                    }
                    let chosen: Vec<_> = match select_platform(&nested) {
                        Some(d) => vec![d.clone()],
                        None if nested.manifests().iter().all(|d| d.platform().is_none()) => {
                            nested.manifests().clone()
                        }
                        None => {
                            return Err(ImageError::NotFound(format!(
                            "no matching manifest for linux/amd64 in index {digest} of the archive"
                        )))
                        }
                    };
                    for d in chosen.into_iter().rev() {
                        let mut n = names.clone();
                        n.extend(descriptor_names(&d));
                        todo.push((d, n, depth + 1));
                    }
                }
                Document::Manifest(m) => {
                    if is_index_type(&media) {
                        return Err(bad_archive(format!("{digest} is not the index it claims")));
                    }
                    add_found(
                        &mut out,
                        &digest,
                        &manifest_media_type(&media, &m),
                        &m,
                        names,
                    );
                }
            }
        }
        Ok(out)
    }
}

/// The reference an index descriptor names: `io.containerd.image.name`, else
/// `org.opencontainers.image.ref.name` when it is a whole reference (a bare tag such as
/// `latest` names no repository, so the image loads untagged).
fn descriptor_names(d: &oci_spec::image::Descriptor) -> Vec<Reference> {
    let Some(a) = d.annotations() else {
        return Vec::new();
    };
    let name = a.get("io.containerd.image.name").cloned().or_else(|| {
        a.get("org.opencontainers.image.ref.name")
            .filter(|n| n.contains('/') || n.contains(':'))
            .cloned()
    });
    name.and_then(|n| Reference::parse(&n).ok())
        .filter(|r| r.digest.is_none())
        .into_iter()
        .collect()
}

fn add_found(
    out: &mut Vec<Found>,
    digest: &str,
    media_type: &str,
    m: &ImageManifest,
    names: Vec<Reference>,
) {
    if let Some(f) = out
        .iter_mut()
        .find(|f| f.manifest.as_ref().is_some_and(|(d, _)| d == digest))
    {
        for n in names {
            if !f.tags.contains(&n) {
                f.tags.push(n);
            }
        }
        return;
    }
    out.push(Found {
        config: m.config().digest().to_string(),
        layers: m.layers().iter().map(|l| l.digest().to_string()).collect(),
        manifest: Some((digest.to_string(), media_type.to_string())),
        layer_types: m
            .layers()
            .iter()
            .map(|l| l.media_type().to_string())
            .collect(),
        tags: names,
    });
}
