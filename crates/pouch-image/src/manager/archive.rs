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

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Write};

use oci_spec::image::ImageManifest;
use pouch_api::progress::JsonMessage;
use pouch_store::{Batch, IMAGES, REFS};
use serde::{Deserialize, Serialize};

use super::layers::blob_compression;
use super::manifest::{
    docker_manifest, is_index_type, layer_media_type, manifest_media_type, oci_manifest,
    parse_config, parse_document, select_platform, Document, LayerDesc, DOCKER_MANIFEST, OCI_INDEX,
    OCI_MANIFEST,
};
use super::record::{now_rfc3339, ref_key, short_id, ImageRecord, LayerRecord};
use super::resolve::is_id_prefix_of;
use super::{ImageManager, Inflight};
use crate::content::{digest_hex, sha256_digest};
use crate::decompress::decompress;
use crate::error::ImageError;
use crate::reference::Reference;

/// Largest JSON file of an archive kept in memory.
const META_MAX: u64 = 32 << 20;
/// Other files up to this size are kept in memory too (layers of a few bytes, VERSION).
const SMALL_MAX: u64 = 64 << 10;
/// Symlinks followed in a row inside an archive.
const MAX_LINK_HOPS: usize = 16;

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

/// A file of a loaded archive: stored as a blob, or kept in memory.
enum Stored {
    Blob(String),
    Mem(Vec<u8>),
}

/// An archive's files by path, and its links (path -> target path).
type ArchiveFiles = (HashMap<String, Stored>, HashMap<String, String>);

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

/// A name given to save: which image and under which tag.
struct Saved {
    rec: ImageRecord,
    tags: Vec<Reference>,
}

fn bad_archive(msg: impl std::fmt::Display) -> ImageError {
    ImageError::InvalidArgument(format!("invalid image archive: {msg}"))
}

/// Whether `name` carries an explicit tag or digest (a `:` after the last `/`, or `@`).
fn has_tag_or_digest(name: &str) -> bool {
    name.contains('@')
        || name
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
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

    /// `POST /images/load`: loads a docker-archive or OCI layout tar (plain, gzip or zstd).
    /// `progress` gets "Loading layer" lines and one `{"stream":"Loaded image: ..."}` line
    /// per tag (`Loaded image ID: ...` for untagged images). Returns those names.
    pub fn load(
        &self,
        input: &mut dyn Read,
        progress: &dyn Fn(JsonMessage),
    ) -> Result<Vec<String>, ImageError> {
        let mut held = self.inflight();
        let (files, links) = self.store_archive(input, &mut held)?;
        let lookup = |path: &str| -> Result<&Stored, ImageError> {
            let mut p = clean_path(path);
            for _ in 0..MAX_LINK_HOPS {
                if let Some(s) = files.get(&p) {
                    return Ok(s);
                }
                match links.get(&p) {
                    Some(t) => p = t.clone(),
                    None => break,
                }
            }
            Err(bad_archive(format!(
                "{path:?} is named but not in the archive"
            )))
        };
        let mem = |path: &str| match files.get(path) {
            Some(Stored::Mem(b)) => Some(b.as_slice()),
            _ => None,
        };

        let from_index = match mem("index.json") {
            Some(bytes) => self.index_images(bytes, &mut held)?,
            None => Vec::new(),
        };
        let mut found: Vec<Found> = Vec::new();
        if let Some(bytes) = mem("manifest.json") {
            let entries: Vec<ArchiveEntry> = serde_json::from_slice(bytes)
                .map_err(|e| bad_archive(format!("manifest.json: {e}")))?;
            for e in entries {
                let config = self.materialize(lookup(&e.config)?, &mut held)?;
                let layers = e
                    .layers
                    .iter()
                    .map(|l| self.materialize(lookup(l)?, &mut held))
                    .collect::<Result<Vec<_>, _>>()?;
                let oci = from_index
                    .iter()
                    .find(|f| f.config == config && f.layers == layers);
                let tags = e
                    .repo_tags
                    .unwrap_or_default()
                    .iter()
                    .map(|t| Reference::parse(t))
                    .collect::<Result<Vec<_>, _>>()?;
                found.push(Found {
                    config,
                    layers,
                    manifest: oci.and_then(|f| f.manifest.clone()),
                    layer_types: oci.map(|f| f.layer_types.clone()).unwrap_or_default(),
                    tags,
                });
            }
        } else if mem("index.json").is_some() {
            found = from_index;
        } else {
            return Err(bad_archive(
                "it has neither manifest.json nor index.json (make it with `docker save` or as an OCI image layout)",
            ));
        }
        if found.is_empty() {
            return Err(bad_archive("it holds no images"));
        }

        let mut records = Vec::new();
        for f in found {
            let rec = self.load_image(f.config.clone(), &f, &mut held, progress)?;
            records.push((rec, f.tags));
        }

        let mut messages = Vec::new();
        let mut names = Vec::new();
        {
            let _st = self.lock();
            let mut b = Batch::default();
            let mut claimed: HashMap<String, String> = HashMap::new();
            for (mut rec, tags) in records {
                if let Some(old) = self.record(&rec.id)? {
                    rec.last_tag_time = old.last_tag_time;
                }
                if !tags.is_empty() {
                    rec.last_tag_time = Some(now_rfc3339());
                }
                for t in &tags {
                    let key = ref_key(t);
                    let previous = match claimed.get(&key) {
                        Some(id) => Some(id.clone()),
                        None => self.store.get::<String>(REFS, &key)?,
                    };
                    if let Some(old) = previous.filter(|old| *old != rec.id) {
                        messages.push(format!(
                            "The image {} already exists, renaming the old one with ID {old} to empty string\n",
                            t.familiar()
                        ));
                    }
                    claimed.insert(key.clone(), rec.id.clone());
                    b.put(REFS, &key, &rec.id);
                    messages.push(format!("Loaded image: {}\n", t.familiar()));
                    names.push(t.familiar());
                }
                if tags.is_empty() {
                    messages.push(format!("Loaded image ID: {}\n", rec.id));
                    names.push(rec.id.clone());
                }
                b.put(IMAGES, &rec.id, &rec);
            }
            self.store.write(b)?;
        }
        for m in messages {
            progress(JsonMessage::stream(m));
        }
        Ok(names)
    }

    /// Reads the archive once: blobs into the content store, small and JSON files into
    /// memory, links noted. Everything stored is held in flight by `held`.
    fn store_archive(
        &self,
        input: &mut dyn Read,
        held: &mut Inflight<'_>,
    ) -> Result<ArchiveFiles, ImageError> {
        let rerr = |e: io::Error| bad_archive(format!("reading the tar: {e}"));
        let plain = decompress(Box::new(input))?;
        let mut archive = tar::Archive::new(plain);
        let mut files = HashMap::new();
        let mut links = HashMap::new();
        for entry in archive.entries().map_err(rerr)? {
            let mut entry = entry.map_err(rerr)?;
            let path = clean_path(&entry.path().map_err(rerr)?.to_string_lossy());
            let kind = entry.header().entry_type();
            match kind {
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    if let Some(target) = entry.link_name().map_err(rerr)? {
                        let target = target.to_string_lossy();
                        let target = if kind == tar::EntryType::Link {
                            clean_path(&target)
                        } else {
                            link_target(&path, &target)
                        };
                        links.insert(path, target);
                    }
                    continue;
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {}
                _ => continue,
            }
            let size = entry.size();
            let named = path
                .strip_prefix("blobs/sha256/")
                .map(|hex| format!("sha256:{hex}"))
                .filter(|d| digest_hex(d).is_ok());
            let is_json = path.ends_with("json") || path == "oci-layout" || path == "repositories";
            let stored = if let Some(digest) = named {
                {
                    let mut st = self.lock();
                    held.add(&mut st, &digest);
                }
                if !self.content.exists(&digest) {
                    let mut w = self.content.writer(Some(&digest))?;
                    io::copy(&mut entry, &mut w).map_err(rerr)?;
                    w.commit()?;
                }
                Stored::Blob(digest)
            } else if size <= SMALL_MAX || is_json {
                if size > META_MAX {
                    return Err(bad_archive(format!(
                        "{path} is larger than {} MiB",
                        META_MAX >> 20
                    )));
                }
                let mut buf = Vec::with_capacity(size as usize);
                entry.read_to_end(&mut buf).map_err(rerr)?;
                Stored::Mem(buf)
            } else {
                let mut w = self.content.writer(None)?;
                io::copy(&mut entry, &mut w).map_err(rerr)?;
                let mut st = self.lock();
                let digest = w.commit()?;
                held.add(&mut st, &digest);
                Stored::Blob(digest)
            };
            files.insert(path, stored);
        }
        Ok((files, links))
    }

    /// The digest of an archive file, writing it to the content store if it was kept in
    /// memory.
    fn materialize(&self, s: &Stored, held: &mut Inflight<'_>) -> Result<String, ImageError> {
        match s {
            Stored::Blob(d) => Ok(d.clone()),
            Stored::Mem(bytes) => {
                let digest = sha256_digest(bytes);
                let mut st = self.lock();
                held.add(&mut st, &digest);
                self.content.write_bytes(bytes)
            }
        }
    }

    /// The images an OCI `index.json` lists (nested indexes followed), each with the tags
    /// its descriptors' annotations give.
    fn index_images(
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

    /// Builds the record of one archive image: config read, manifest found or made, layers
    /// unpacked where missing.
    fn load_image(
        &self,
        config_digest: String,
        f: &Found,
        held: &mut Inflight<'_>,
        progress: &dyn Fn(JsonMessage),
    ) -> Result<ImageRecord, ImageError> {
        {
            let mut st = self.lock();
            for d in f.layers.iter().chain([&config_digest]) {
                held.add(&mut st, d);
            }
        }
        let config_bytes = self.content.read(&config_digest)?;
        let config = parse_config(&config_bytes)?;
        let diff_ids = config.diff_ids();
        if diff_ids.len() != f.layers.len() {
            return Err(bad_archive(format!(
                "image {} lists {} layers but its config {} diff ids",
                short_id(&config_digest),
                f.layers.len(),
                diff_ids.len()
            )));
        }
        let chains = super::manifest::chain_ids(&diff_ids);
        {
            let mut st = self.lock();
            for c in &chains {
                held.add(&mut st, c);
            }
        }
        let mut layers = Vec::with_capacity(f.layers.len());
        for (i, d) in f.layers.iter().enumerate() {
            let media_type = match f.layer_types.get(i) {
                Some(t) => t.clone(),
                None => layer_media_type(blob_compression(&self.content.path(d))?).to_string(),
            };
            layers.push(LayerRecord {
                digest: d.clone(),
                media_type,
                size: self.content.size(d)?,
                unpacked_size: 0,
            });
        }
        let (manifest_digest, manifest_type) = match &f.manifest {
            Some(m) => m.clone(),
            None => {
                let descs: Vec<LayerDesc> = layers
                    .iter()
                    .map(|l| LayerDesc {
                        digest: l.digest.clone(),
                        size: l.size,
                        media_type: l.media_type.clone(),
                    })
                    .collect();
                let bytes = docker_manifest(&config_digest, config_bytes.len() as u64, &descs)?;
                let digest = sha256_digest(&bytes);
                let mut st = self.lock();
                held.add(&mut st, &digest);
                self.content.write_bytes(&bytes)?;
                (digest, DOCKER_MANIFEST.to_string())
            }
        };
        self.unpack_stored(&mut layers, &diff_ids, &chains, &mut |i, n, total| {
            progress(JsonMessage::progress(
                "Loading layer",
                short_id(&diff_ids[i]),
                n as i64,
                Some(total as i64),
            ))
        })?;
        Ok(ImageRecord::new(
            &manifest_digest,
            &manifest_type,
            &config_digest,
            &config,
            layers,
        ))
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

#[cfg(test)]
mod tests {
    use super::super::testutil;
    use super::*;

    fn entries(tar_bytes: &[u8]) -> Vec<String> {
        let mut a = tar::Archive::new(tar_bytes);
        a.entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().to_string())
            .collect()
    }

    #[test]
    fn paths() {
        assert_eq!(clean_path("./a/b/"), "a/b");
        assert_eq!(
            link_target("abc/layer.tar", "../def/layer.tar"),
            "def/layer.tar"
        );
        assert_eq!(link_target("x", "/blobs/sha256/aa"), "blobs/sha256/aa");
        assert!(has_tag_or_digest("busybox:1"));
        assert!(has_tag_or_digest("127.0.0.1:5000/x:v1"));
        assert!(!has_tag_or_digest("127.0.0.1:5000/x"));
        assert!(has_tag_or_digest("x@sha256:00"));
    }

    #[test]
    fn save_then_load_into_a_fresh_home() {
        let a = testutil::manager();
        let gz = testutil::gzip(&testutil::rootfs_tar(&[
            ("bin/tool", "#!/bin/sh\n"),
            ("etc/x", "1"),
        ]));
        let id1 = a
            .mgr
            .import(
                &mut gz.as_slice(),
                Some("app:v1"),
                "",
                &["CMD [\"/bin/tool\"]".to_string()],
            )
            .unwrap();
        a.mgr.tag(&id1, "app", Some("v2")).unwrap();
        let id2 = testutil::import(&a.mgr, "second", Some("other:1"));
        let untagged = testutil::import(&a.mgr, "third", None);

        let mut out = Vec::new();
        a.mgr
            .save(
                &["app".to_string(), "other:1".to_string(), untagged.clone()],
                &mut out,
            )
            .unwrap();
        let names = entries(&out);
        for f in ["index.json", "manifest.json", "oci-layout"] {
            assert!(names.iter().any(|n| n == f), "{f} missing: {names:?}");
        }
        let rec1 = a.mgr.resolve(&id1).unwrap();
        assert!(names.contains(&format!("blobs/sha256/{}", &rec1.layers[0].digest[7..])));

        let b = testutil::manager();
        let lines = std::cell::RefCell::new(Vec::new());
        let loaded = b
            .mgr
            .load(&mut out.as_slice(), &|m| lines.borrow_mut().push(m))
            .unwrap();
        assert_eq!(
            loaded,
            vec![
                "app:v1".to_string(),
                "app:v2".to_string(),
                "other:1".to_string(),
                untagged.clone()
            ]
        );
        let streams: Vec<String> = lines
            .borrow()
            .iter()
            .filter_map(|m| m.stream.clone())
            .collect();
        assert!(
            streams.contains(&"Loaded image: app:v1\n".to_string()),
            "{streams:?}"
        );
        assert!(streams.contains(&format!("Loaded image ID: {untagged}\n")));

        assert_eq!(b.mgr.resolve("app:v2").unwrap().id, id1);
        assert_eq!(b.mgr.resolve("other:1").unwrap().id, id2);
        assert_eq!(b.mgr.count(), 3);
        let rec = b.mgr.resolve("app:v1").unwrap();
        // The archive's OCI manifest (converted from the imported image's Docker one) came
        // along; config and layers are the same blobs.
        assert_eq!(rec.manifest_media_type, OCI_MANIFEST);
        assert!(b.mgr.content.exists(&rec.manifest_digest));
        assert_eq!(rec.config_digest, rec1.config_digest);
        assert_eq!(
            rec.layers.iter().map(|l| &l.digest).collect::<Vec<_>>(),
            rec1.layers.iter().map(|l| &l.digest).collect::<Vec<_>>()
        );
        assert_eq!(
            rec.layers[0].media_type,
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        let dirs = b.mgr.rootfs_layers("app:v1").unwrap();
        assert_eq!(std::fs::read_to_string(dirs[0].join("etc/x")).unwrap(), "1");
        assert_eq!(
            b.mgr.inspect("app:v1").unwrap().config.unwrap().cmd,
            Some(vec!["/bin/tool".to_string()])
        );

        // Loading again changes nothing and reports the same.
        let again = b.mgr.load(&mut out.as_slice(), &|_| {}).unwrap();
        assert_eq!(again.len(), 4);
        assert_eq!(b.mgr.count(), 3);
    }

    /// A docker-archive in the legacy layout (`<id>/layer.tar`, `<hex>.json`, no
    /// manifests), with a symlinked duplicate layer, as Docker before 25 wrote it.
    #[test]
    fn load_legacy_docker_archive() {
        let layer = testutil::rootfs_tar(&[("etc/legacy", "yes")]);
        let diff = sha256_digest(&layer);
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "created": "2024-01-02T03:04:05Z",
            "config": {"Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [diff, diff]},
        });
        let config_bytes = serde_json::to_vec(&config).unwrap();
        let config_hex = &sha256_digest(&config_bytes)[7..];
        let manifest = serde_json::json!([{
            "Config": format!("{config_hex}.json"),
            "RepoTags": ["legacy:1"],
            "Layers": ["aaaa/layer.tar", "bbbb/layer.tar"],
        }]);
        let mut b = tar::Builder::new(Vec::new());
        let add = |b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]| {
            let mut h = tar_header(data.len() as u64, 0o644, tar::EntryType::Regular);
            b.append_data(&mut h, path, data).unwrap();
        };
        add(&mut b, "aaaa/layer.tar", &layer);
        let mut h = tar_header(0, 0o777, tar::EntryType::Symlink);
        b.append_link(&mut h, "bbbb/layer.tar", "../aaaa/layer.tar")
            .unwrap();
        add(&mut b, &format!("{config_hex}.json"), &config_bytes);
        add(
            &mut b,
            "manifest.json",
            &serde_json::to_vec(&manifest).unwrap(),
        );
        let archive = testutil::gzip(&b.into_inner().unwrap());

        let t = testutil::manager();
        let loaded = t.mgr.load(&mut archive.as_slice(), &|_| {}).unwrap();
        assert_eq!(loaded, vec!["legacy:1".to_string()]);
        let rec = t.mgr.resolve("legacy:1").unwrap();
        assert_eq!(rec.layers.len(), 2);
        assert_eq!(rec.manifest_media_type, DOCKER_MANIFEST);
        assert!(t.mgr.content.exists(&rec.manifest_digest));
        let m: serde_json::Value =
            serde_json::from_slice(&t.mgr.content.read(&rec.manifest_digest).unwrap()).unwrap();
        assert_eq!(
            m["layers"][0]["mediaType"],
            "application/vnd.docker.image.rootfs.diff.tar"
        );
        let dirs = t.mgr.rootfs_layers("legacy:1").unwrap();
        assert!(dirs[1].join("etc/legacy").is_file());
        assert_eq!(
            t.mgr.inspect("legacy:1").unwrap().created,
            "2024-01-02T03:04:05Z"
        );
    }

    /// An OCI layout whose index only gives a bare tag (`ref.name: latest`): the image
    /// loads untagged. Also a nested index with two platforms.
    #[test]
    fn load_oci_layout_bare_ref_name_and_nested_index() {
        let src = testutil::manager();
        let id = testutil::import(&src.mgr, "oci", Some("src:1"));
        let rec = src.mgr.resolve(&id).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let add = |b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]| {
            let mut h = tar_header(data.len() as u64, 0o644, tar::EntryType::Regular);
            b.append_data(&mut h, path, data).unwrap();
        };
        for d in [
            &rec.manifest_digest,
            &rec.config_digest,
            &rec.layers[0].digest,
        ] {
            add(
                &mut b,
                &format!("blobs/sha256/{}", &d[7..]),
                &src.mgr.content.read(d).unwrap(),
            );
        }
        let other = format!("sha256:{}", "e".repeat(64));
        let nested = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": DOCKER_MANIFEST, "digest": other, "size": 1,
             "platform": {"architecture": "arm64", "os": "linux"}},
            {"mediaType": DOCKER_MANIFEST, "digest": rec.manifest_digest,
             "size": src.mgr.content.size(&rec.manifest_digest).unwrap(),
             "platform": {"architecture": "amd64", "os": "linux"}},
        ]});
        let nested_bytes = serde_json::to_vec(&nested).unwrap();
        let nested_digest = sha256_digest(&nested_bytes);
        add(
            &mut b,
            &format!("blobs/sha256/{}", &nested_digest[7..]),
            &nested_bytes,
        );
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [
            {"mediaType": OCI_INDEX, "digest": nested_digest, "size": nested_bytes.len(),
             "annotations": {"org.opencontainers.image.ref.name": "latest"}},
        ]});
        add(&mut b, "index.json", &serde_json::to_vec(&index).unwrap());
        add(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        let archive = b.into_inner().unwrap();

        let t = testutil::manager();
        let lines = std::cell::RefCell::new(Vec::new());
        let loaded = t
            .mgr
            .load(&mut archive.as_slice(), &|m| lines.borrow_mut().push(m))
            .unwrap();
        assert_eq!(loaded, vec![id.clone()]);
        assert!(lines
            .borrow()
            .iter()
            .any(|m| m.stream.as_deref() == Some(&format!("Loaded image ID: {id}\n"))));
        let summary = &t.mgr.list(&pouch_api::Filters::default(), false).unwrap()[0];
        assert!(summary.repo_tags.is_empty());

        // With a whole reference in the annotation it is tagged.
        let mut b = tar::Builder::new(Vec::new());
        for d in [
            &rec.manifest_digest,
            &rec.config_digest,
            &rec.layers[0].digest,
        ] {
            let data = src.mgr.content.read(d).unwrap();
            let mut h = tar_header(data.len() as u64, 0o644, tar::EntryType::Regular);
            b.append_data(&mut h, format!("blobs/sha256/{}", &d[7..]), data.as_slice())
                .unwrap();
        }
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [
            {"mediaType": DOCKER_MANIFEST, "digest": rec.manifest_digest,
             "size": src.mgr.content.size(&rec.manifest_digest).unwrap(),
             "annotations": {"io.containerd.image.name": "docker.io/library/named:3"}}]});
        let data = serde_json::to_vec(&index).unwrap();
        let mut h = tar_header(data.len() as u64, 0o644, tar::EntryType::Regular);
        b.append_data(&mut h, "index.json", data.as_slice())
            .unwrap();
        let archive = b.into_inner().unwrap();
        assert_eq!(
            t.mgr.load(&mut archive.as_slice(), &|_| {}).unwrap(),
            vec!["named:3".to_string()]
        );
    }

    #[test]
    fn load_refuses_bad_archives_and_keeps_nothing_unreferenced() {
        let t = testutil::manager();
        let e = t
            .mgr
            .load(&mut &b"not a tar at all"[..], &|_| {})
            .unwrap_err();
        assert!(matches!(e, ImageError::InvalidArgument(_)), "{e}");

        // A layer whose content does not match the config's diff id.
        let layer = testutil::rootfs_tar(&[("etc/a", "a")]);
        let config = serde_json::json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", "0".repeat(64))]}});
        let config_bytes = serde_json::to_vec(&config).unwrap();
        let manifest = serde_json::json!([{"Config": "c.json", "RepoTags": ["bad:1"], "Layers": ["l/layer.tar"]}]);
        let mut b = tar::Builder::new(Vec::new());
        for (p, d) in [
            ("l/layer.tar", layer),
            ("c.json", config_bytes),
            ("manifest.json", serde_json::to_vec(&manifest).unwrap()),
        ] {
            let mut h = tar_header(d.len() as u64, 0o644, tar::EntryType::Regular);
            b.append_data(&mut h, p, d.as_slice()).unwrap();
        }
        let archive = b.into_inner().unwrap();
        let e = t.mgr.load(&mut archive.as_slice(), &|_| {}).unwrap_err();
        assert!(
            e.to_string().contains("does not match the image config"),
            "{e}"
        );
        assert_eq!(t.mgr.count(), 0);
        assert!(t.mgr.snapshots.list().unwrap().is_empty());
        // The stored blobs are unreferenced: the next collection removes them.
        let st = t.mgr.lock();
        t.mgr.collect_garbage(&st, false);
        assert!(t.mgr.content.list().unwrap().is_empty());
    }
}

/// Interoperability with skopeo (containers/image): it must read what save writes, as a
/// docker-archive and as an OCI archive, and load must read what it writes in both forms.
#[cfg(test)]
mod skopeo_tests {
    use super::super::testutil;
    use std::path::Path;
    use std::process::Command;

    const SKOPEO: &str = "/usr/bin/skopeo";

    fn skopeo(args: &[&str]) -> String {
        let out = Command::new(SKOPEO)
            .args(["--insecure-policy", "--tmpdir", "/tmp"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    #[test]
    fn skopeo_reads_saved_archives_and_load_reads_skopeo_archives() {
        if !Path::new(SKOPEO).exists() {
            eprintln!("skipping: {SKOPEO} is not installed (apt-get install skopeo)");
            return;
        }
        let t = testutil::manager();
        let gz = testutil::gzip(&testutil::rootfs_tar(&[("etc/hi", "hi")]));
        let id = t
            .mgr
            .import(
                &mut gz.as_slice(),
                Some("interop:1"),
                "",
                &["CMD [\"sh\"]".into()],
            )
            .unwrap();
        let saved = t.dir.path().join("saved.tar");
        let mut out = std::fs::File::create(&saved).unwrap();
        t.mgr.save(&["interop:1".to_string()], &mut out).unwrap();
        drop(out);
        let saved_s = saved.display().to_string();

        let info: serde_json::Value = serde_json::from_str(&skopeo(&[
            "inspect",
            "--config",
            &format!("docker-archive:{saved_s}"),
        ]))
        .unwrap();
        assert_eq!(info["config"]["Cmd"][0], "sh");
        // As Docker and containerd write it, ref.name is the tag alone.
        let info: serde_json::Value =
            serde_json::from_str(&skopeo(&["inspect", &format!("oci-archive:{saved_s}:1")]))
                .unwrap();
        assert_eq!(info["Layers"].as_array().unwrap().len(), 1);

        for (kind, file) in [("oci-archive", "oci.tar"), ("docker-archive", "docker.tar")] {
            let dest = t.dir.path().join(file).display().to_string();
            skopeo(&[
                "copy",
                &format!("docker-archive:{saved_s}"),
                &format!("{kind}:{dest}:copied:2"),
            ]);
            let fresh = testutil::manager();
            let mut input = std::fs::File::open(&dest).unwrap();
            let names = fresh.mgr.load(&mut input, &|_| {}).unwrap();
            assert_eq!(names, vec!["copied:2".to_string()], "{kind}");
            let rec = fresh.mgr.resolve("copied:2").unwrap();
            if kind == "docker-archive" {
                assert_eq!(rec.id, id);
            }
            // (Converting to OCI rewrites the config, so the id changes; its content not.)
            let config = fresh.mgr.inspect("copied:2").unwrap().config.unwrap();
            assert_eq!(config.cmd, Some(vec!["sh".to_string()]), "{kind}");
            let dirs = fresh.mgr.rootfs_layers("copied:2").unwrap();
            assert_eq!(
                std::fs::read_to_string(dirs[0].join("etc/hi")).unwrap(),
                "hi"
            );
        }
    }
}
