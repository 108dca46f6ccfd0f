//! Load: reads an archive once into the content store (small and JSON files kept in memory,
//! links followed), finds its images through `manifest.json` or `index.json`, builds their
//! records (unpacking missing layers, making a manifest where the archive has none) and
//! stores them with their tags.

use std::collections::HashMap;
use std::io::{self, Read};

use pouch_api::progress::JsonMessage;
use pouch_store::{Batch, IMAGES, REFS};

use super::{bad_archive, clean_path, link_target, ArchiveEntry, Found};
use crate::content::{digest_hex, sha256_digest};
use crate::decompress::decompress;
use crate::error::ImageError;
use crate::manager::layers::blob_compression;
use crate::manager::manifest::{
    docker_manifest, layer_media_type, parse_config, LayerDesc, DOCKER_MANIFEST,
};
use crate::manager::record::{now_rfc3339, ref_key, short_id, ImageRecord, LayerRecord};
use crate::manager::{ImageManager, Inflight};
use pouch_api::reference::Reference;

/// Largest JSON file of an archive kept in memory.
const META_MAX: u64 = 32 << 20;
/// Other files up to this size are kept in memory too (layers of a few bytes, VERSION).
const SMALL_MAX: u64 = 64 << 10;
/// Symlinks followed in a row inside an archive.
const MAX_LINK_HOPS: usize = 16;

/// A file of a loaded archive: stored as a blob, or kept in memory.
enum Stored {
    Blob(String),
    Mem(Vec<u8>),
}

/// An archive's files by path, and its links (path -> target path).
type ArchiveFiles = (HashMap<String, Stored>, HashMap<String, String>);

impl ImageManager {
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
        let chains = crate::manager::manifest::chain_ids(&diff_ids);
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
