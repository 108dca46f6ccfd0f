//! Save and load: image archives as `docker save` (25+) writes them, which are at once a
//! docker-archive (`manifest.json`) and an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/<hex>`).
//!
//! Load reads the tar once, storing every file into the content store as it comes (entries
//! may come in any order; small JSON files stay in memory), then interprets it: through
//! `manifest.json` when present (legacy `<id>/layer.tar` and `<id>.json` paths and symlinks
//! included), otherwise through `index.json` (nested indexes included, linux/amd64 chosen
//! where entries carry platforms). Layers are unpacked where their snapshot is missing,
//! with their diff ids checked. An archive without manifests gets a Docker schema2 manifest
//! built for it, so the image can be pushed.
//!
//! This module holds what save and load share: `manifest.json` entries, the images found in
//! an archive, tar paths and headers. `save` writes archives, `load` reads them, `index`
//! reads an OCI layout's `index.json`.

mod index;
mod load;
mod save;
#[cfg(test)]
mod skopeo_tests;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::error::ImageError;
use pouch_api::reference::Reference;

/// One `manifest.json` entry.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

/// An image found in an archive.
struct Found {
    config: String,
    layers: Vec<String>,
    /// Manifest digest and media type when the archive has one for this image.
    manifest: Option<(String, String)>,
    /// Layer media types from that manifest.
    layer_types: Vec<String>,
    tags: Vec<Reference>,
}

fn bad_archive(msg: impl std::fmt::Display) -> ImageError {
    ImageError::InvalidArgument(format!("invalid image archive: {msg}"))
}

/// The path of a tar entry, without `./` and `/` prefixes.
fn clean_path(p: &str) -> String {
    let mut s = p;
    loop {
        if let Some(rest) = s.strip_prefix("./") {
            s = rest;
        } else if let Some(rest) = s.strip_prefix('/') {
            s = rest;
        } else {
            break;
        }
    }
    s.trim_end_matches('/').to_string()
}

/// `target` of a symlink at `link`, as an archive path.
fn link_target(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        return clean_path(target);
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn tar_header(size: u64, mode: u32, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}
