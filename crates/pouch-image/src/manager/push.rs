//! Push: upload an image's layers (skipping those the repository has), its config, then its
//! manifest exactly as stored (so the digest does not change), with Docker's progress
//! lines, and record the pushed `repo@digest` as a repo digest of the image.

use std::sync::Mutex;

use futures_util::stream::{FuturesUnordered, StreamExt};
use pouch_api::progress::JsonMessage;
use pouch_store::{Batch, REFS};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::progress::{Progress, Throttle};
use super::pull::cancellable;
use super::record::{digest_key, ref_key, short_id, ImageRecord};
use super::ImageManager;
use crate::error::ImageError;
use crate::registry::{Credentials, Manifest, Repository};
use pouch_api::reference::Reference;

impl ImageManager {
    /// Pushes the image tagged `reference` to its registry. Ends with the
    /// `<tag>: digest: sha256:... size: N` line and an `aux` line {Tag, Digest, Size}.
    pub async fn push(
        &self,
        reference: &str,
        creds: Option<Credentials>,
        progress: UnboundedSender<JsonMessage>,
        cancel: CancellationToken,
    ) -> Result<(), ImageError> {
        let r = Reference::parse(reference)?;
        if r.digest.is_some() {
            return Err(ImageError::InvalidArgument(format!(
                "cannot push {}: push a tag, not a digest",
                r.familiar()
            )));
        }
        let tag = r.tag_or_latest().to_string();
        let id = self
            .store
            .get::<String>(REFS, &ref_key(&r))?
            .ok_or_else(|| {
                ImageError::NotFound(format!(
                    "no such image: {} (an image does not exist locally with this tag; tag one with `pouch tag`)",
                    r.familiar()
                ))
            })?;
        let rec = self
            .record(&id)?
            .ok_or_else(|| super::resolve::no_such_image(&r.familiar()))?;
        let manifest_bytes = self.content.read(&rec.manifest_digest).map_err(|e| {
            ImageError::NotFound(format!(
                "manifest {} of image {} is missing from the content store ({e}); pull or load the image again",
                rec.manifest_digest,
                r.familiar()
            ))
        })?;
        for digest in rec
            .layers
            .iter()
            .map(|l| &l.digest)
            .chain([&rec.config_digest])
        {
            if !self.content.exists(digest) {
                return Err(ImageError::NotFound(format!(
                    "blob {digest} of image {} is missing from the content store; pull or load the image again",
                    r.familiar()
                )));
            }
        }

        let p = Progress::new(progress);
        p.status(format!("The push refers to repository [{}]", r.full_repo()));
        let repo = self.registry.repository(&r, creds);
        let stop = cancel.child_token();
        let sem = Semaphore::new(self.max_concurrent_downloads);
        // Docker lists layers top first, by diff id.
        let order: Vec<usize> = (0..rec.layers.len()).rev().collect();
        for &i in &order {
            p.layer("Preparing", layer_id(&rec, i));
        }
        let mut tasks: FuturesUnordered<_> = order
            .iter()
            .map(|&i| self.push_layer(&repo, &rec, i, &sem, &p, &stop))
            .collect();
        let mut first_err = None;
        while let Some(res) = tasks.next().await {
            if let Err(e) = res {
                if first_err.is_none() {
                    first_err = Some(e);
                    stop.cancel();
                }
            }
        }
        drop(tasks);
        if let Some(e) = first_err {
            return Err(e);
        }

        if !cancellable(&stop, repo.blob_exists(&rec.config_digest)).await?? {
            let path = self.content.path(&rec.config_digest);
            let size = self.content.size(&rec.config_digest)?;
            cancellable(
                &stop,
                repo.push_blob(&rec.config_digest, size, &path, |_| {}),
            )
            .await??;
        }
        let manifest = Manifest {
            bytes: manifest_bytes,
            media_type: rec.manifest_media_type.clone(),
            digest: rec.manifest_digest.clone(),
        };
        cancellable(&stop, repo.push_manifest(&tag, &manifest)).await??;
        let size = manifest.bytes.len();
        p.status(format!("{tag}: digest: {} size: {size}", manifest.digest));
        p.aux(serde_json::json!({"Tag": tag, "Digest": manifest.digest, "Size": size}));

        let _st = self.lock();
        if self.record(&id)?.is_some() {
            let mut b = Batch::default();
            b.put(REFS, &digest_key(&r, &manifest.digest), &id);
            self.store.write(b)?;
        }
        Ok(())
    }

    async fn push_layer(
        &self,
        repo: &Repository,
        rec: &ImageRecord,
        i: usize,
        sem: &Semaphore,
        p: &Progress,
        stop: &CancellationToken,
    ) -> Result<(), ImageError> {
        let id = layer_id(rec, i);
        let layer = &rec.layers[i];
        let _permit = match sem.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                p.layer("Waiting", &id);
                cancellable(stop, sem.acquire())
                    .await?
                    .map_err(|_| ImageError::Cancelled("image transfer".to_string()))?
            }
        };
        if cancellable(stop, repo.blob_exists(&layer.digest)).await?? {
            p.layer("Layer already exists", &id);
            return Ok(());
        }
        let path = self.content.path(&layer.digest);
        let size = self.content.size(&layer.digest)?;
        p.bytes("Pushing", &id, 0, Some(size));
        let throttle = Mutex::new(Throttle::new());
        let report = |sent: u64| {
            let ready = throttle.lock().map(|mut t| t.ready(sent)).unwrap_or(false);
            if ready {
                p.bytes("Pushing", &id, sent, Some(size));
            }
        };
        cancellable(stop, repo.push_blob(&layer.digest, size, &path, report)).await??;
        p.layer("Pushed", &id);
        Ok(())
    }
}

/// Docker's id of a layer in push output: 12 hex characters of its diff id.
fn layer_id(rec: &ImageRecord, i: usize) -> String {
    short_id(rec.diff_ids.get(i).unwrap_or(&rec.layers[i].digest))
}
