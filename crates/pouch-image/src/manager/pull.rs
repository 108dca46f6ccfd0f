//! Pull: resolve the reference through the registry client (mirrors, auth), pick the
//! linux/amd64 manifest of an index, fetch and verify the config, then fetch the missing
//! layers in parallel (at most `max_concurrent_downloads` at once). Each layer streams once
//! from the registry: every chunk goes into an ingest file (hashed) and, through a bounded
//! channel, into a blocking thread that decompresses, hashes (diff id) and unpacks it into
//! a prepared snapshot directory. Only when the blob digest and the diff id both match is
//! the blob committed to the content store and the snapshot committed by chain id (parents
//! first). Progress lines are Docker's.
//!
//! Failure leaves nothing of the failed layer: the ingest file and the prepared directory
//! are removed (layers already committed stay; they are valid and the next garbage
//! collection removes them if no image uses them). Transient download errors restart the
//! layer from the start, up to three attempts; cancellation stops every download at once.

use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Write};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures_util::stream::{FuturesUnordered, StreamExt};
use oci_spec::image::ImageManifest;
use pouch_api::progress::JsonMessage;
use pouch_snapshot::PreparedLayer;
use pouch_store::{Batch, IMAGES, REFS};
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::layers::{unpack_verified, CountingReader};
use super::manifest::{
    chain_ids, manifest_media_type, parse_config, parse_document, select_platform, Document,
    DOCKER_CONFIG, OCI_CONFIG,
};
use super::progress::{Progress, Throttle};
use super::record::{digest_key, ref_key, short_id, ImageRecord, LayerRecord};
use super::ImageManager;
use crate::content::sha256_digest;
use crate::error::ImageError;
use crate::registry::{Credentials, Manifest, Repository};
use pouch_api::reference::Reference;

/// Attempts per layer download when the registry connection fails.
const ATTEMPTS: u32 = 3;
/// Largest image config accepted.
const CONFIG_MAX: usize = 32 << 20;
/// Chunks buffered between a download and its unpacking thread.
const CHANNEL_CHUNKS: usize = 16;

/// What a pull does with one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Blob and snapshot present.
    Exists,
    /// Download the blob; unpack it too unless the snapshot exists.
    Fetch { unpack: bool },
    /// The blob is stored, the snapshot missing: unpack from the content store.
    UnpackLocal,
}

struct LayerJob {
    index: usize,
    digest: String,
    size: u64,
    diff_id: String,
    chain_id: String,
    /// Docker's layer id: 12 hex characters of the blob digest.
    id: String,
    plan: Plan,
}

struct LayerDone {
    index: usize,
    prepared: Option<PreparedLayer>,
    unpacked_size: u64,
}

enum Slot {
    Pending,
    Ready(Option<PreparedLayer>, u64),
    Committed(u64),
}

/// Wall time of each pull phase, logged at the end so benchmarks can say where time went.
struct Phases {
    last: std::time::Instant,
    start: std::time::Instant,
    marks: Vec<(&'static str, Duration)>,
}

impl Phases {
    fn start() -> Phases {
        let now = std::time::Instant::now();
        Phases {
            last: now,
            start: now,
            marks: Vec::new(),
        }
    }

    fn mark(&mut self, phase: &'static str) {
        let now = std::time::Instant::now();
        self.marks.push((phase, now - self.last));
        self.last = now;
    }
}

impl std::fmt::Display for Phases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (phase, took) in &self.marks {
            write!(f, "{phase}={:.1}ms ", took.as_secs_f64() * 1000.0)?;
        }
        write!(
            f,
            "total={:.1}ms",
            self.start.elapsed().as_secs_f64() * 1000.0
        )
    }
}

fn cancelled() -> ImageError {
    ImageError::Cancelled("image transfer".to_string())
}

/// Runs `fut` unless `stop` fires first.
pub(crate) async fn cancellable<T>(
    stop: &CancellationToken,
    fut: impl Future<Output = T>,
) -> Result<T, ImageError> {
    tokio::select! {
        biased;
        _ = stop.cancelled() => Err(cancelled()),
        v = fut => Ok(v),
    }
}

async fn join<T>(h: JoinHandle<Result<T, ImageError>>) -> Result<T, ImageError> {
    h.await.map_err(|e| ImageError::Io {
        what: "layer unpacking thread".to_string(),
        source: io::Error::other(e.to_string()),
    })?
}

impl ImageManager {
    /// Pulls `reference` (`busybox`, `busybox:1.36`, `x@sha256:..`), sending Docker's
    /// progress lines. Returns the image id.
    pub async fn pull(
        &self,
        reference: &str,
        creds: Option<Credentials>,
        progress: UnboundedSender<JsonMessage>,
        cancel: CancellationToken,
    ) -> Result<String, ImageError> {
        let r = Reference::parse(reference)?;
        let p = Progress::new(progress);
        let mut phases = Phases::start();
        let (repo, top) = cancellable(&cancel, self.registry.resolve(&r, creds)).await??;
        let tag_or_digest = r
            .digest
            .clone()
            .unwrap_or_else(|| r.tag_or_latest().to_string());
        p.status_id(format!("Pulling from {}", r.repository), &tag_or_digest);

        let (manifest, parsed) = self.platform_manifest(&r, &repo, &top, &cancel).await?;
        phases.mark("resolve");
        let config_digest = parsed.config().digest().to_string();
        let config_type = parsed.config().media_type().to_string();
        if config_type != DOCKER_CONFIG && config_type != OCI_CONFIG {
            return Err(ImageError::InvalidArgument(format!(
                "{} is not a container image: its config has media type {config_type}",
                r.familiar()
            )));
        }
        let config_bytes = {
            let _held = self.hold([&config_digest]);
            self.fetch_config(&repo, &config_digest, &cancel).await?
        };
        let config = parse_config(&config_bytes)?;
        phases.mark("config");
        let diff_ids = config.diff_ids();
        if diff_ids.len() != parsed.layers().len() {
            return Err(ImageError::InvalidArgument(format!(
                "image {}: the manifest lists {} layers but the config {} diff ids (the image is corrupt)",
                r.familiar(),
                parsed.layers().len(),
                diff_ids.len()
            )));
        }
        let chains = chain_ids(&diff_ids);

        // Everything this pull writes is held in flight, so a concurrent garbage
        // collection leaves it alone; the plan is made after that.
        let keys: Vec<String> = [&top.digest, &manifest.digest, &config_digest]
            .into_iter()
            .cloned()
            .chain(parsed.layers().iter().map(|l| l.digest().to_string()))
            .chain(chains.iter().cloned())
            .collect();
        let _held = self.hold(&keys);

        let jobs: Vec<LayerJob> = parsed
            .layers()
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let digest = l.digest().to_string();
                let plan = match (
                    self.snapshots.exists(&chains[i]),
                    self.content.exists(&digest),
                ) {
                    (true, true) => Plan::Exists,
                    (true, false) => Plan::Fetch { unpack: false },
                    (false, true) => Plan::UnpackLocal,
                    (false, false) => Plan::Fetch { unpack: true },
                };
                LayerJob {
                    index: i,
                    id: short_id(&digest),
                    digest,
                    size: l.size(),
                    diff_id: diff_ids[i].clone(),
                    chain_id: chains[i].clone(),
                    plan,
                }
            })
            .collect();
        for job in &jobs {
            let status = if job.plan == Plan::Exists {
                "Already exists"
            } else {
                "Pulling fs layer"
            };
            p.layer(status, &job.id);
        }
        let sizes = self.fetch_layers(&repo, &jobs, &p, &cancel).await?;
        phases.mark("layers");

        let stored = self.content.write_bytes(&config_bytes)?;
        if stored != config_digest {
            return Err(ImageError::DigestMismatch {
                digest: config_digest,
                actual: stored,
            });
        }
        self.content.write_bytes(&manifest.bytes)?;

        let layers = parsed
            .layers()
            .iter()
            .zip(&sizes)
            .map(|(l, size)| LayerRecord {
                digest: l.digest().to_string(),
                media_type: l.media_type().to_string(),
                size: l.size(),
                unpacked_size: *size,
            })
            .collect();
        let media_type = manifest_media_type(&manifest.media_type, &parsed);
        let mut rec = ImageRecord::new(
            &manifest.digest,
            &media_type,
            &config_digest,
            &config,
            layers,
        );
        let id = rec.id.clone();
        let up_to_date = {
            let _st = self.lock();
            if let Some(old) = self.record(&id)? {
                rec.last_tag_time = old.last_tag_time;
            }
            let key = ref_key(&r);
            let previous = self.store.get::<String>(REFS, &key)?;
            let mut b = Batch::default();
            b.put(IMAGES, &id, &rec);
            b.put(REFS, &key, &id);
            b.put(REFS, &digest_key(&r, &top.digest), &id);
            self.store.write(b)?;
            previous.as_deref() == Some(id.as_str())
        };
        p.status(format!("Digest: {}", top.digest));
        let status = if up_to_date {
            "Image is up to date"
        } else {
            "Downloaded newer image"
        };
        p.status(format!("Status: {status} for {}", r.familiar()));
        phases.mark("record");
        tracing::info!(image = %r.familiar(), phases = %phases, "pull phases");
        Ok(id)
    }

    /// The image manifest to pull: `top` itself, or its linux/amd64 entry when it is an
    /// index.
    async fn platform_manifest(
        &self,
        r: &Reference,
        repo: &Repository,
        top: &Manifest,
        cancel: &CancellationToken,
    ) -> Result<(Manifest, ImageManifest), ImageError> {
        let what = format!("manifest {} of {}", top.digest, r.familiar());
        match parse_document(&top.bytes, &top.media_type, &what)? {
            Document::Manifest(m) => Ok((top.clone(), *m)),
            Document::Index(index) => {
                let entry = select_platform(&index).ok_or_else(|| {
                    ImageError::NotFound(format!(
                        "no matching manifest for linux/amd64 in the manifest list entries of {}",
                        r.familiar()
                    ))
                })?;
                let digest = entry.digest().to_string();
                let m = cancellable(cancel, repo.manifest(&digest)).await??;
                let what = format!("manifest {digest} of {}", r.familiar());
                match parse_document(&m.bytes, &m.media_type, &what)? {
                    Document::Manifest(parsed) => Ok((m, *parsed)),
                    Document::Index(_) => Err(ImageError::InvalidArgument(format!(
                        "{what} is an index inside an index, which is not supported"
                    ))),
                }
            }
        }
    }

    /// The config blob: from the content store, else downloaded (whole, in memory) and
    /// verified.
    async fn fetch_config(
        &self,
        repo: &Repository,
        digest: &str,
        cancel: &CancellationToken,
    ) -> Result<Vec<u8>, ImageError> {
        if self.content.exists(digest) {
            return self.content.read(digest);
        }
        let mut attempt = 1;
        loop {
            let res: Result<Vec<u8>, ImageError> = async {
                let blob = cancellable(cancel, repo.blob(digest)).await??;
                let mut stream = blob.stream;
                let mut buf = Vec::new();
                while let Some(chunk) = cancellable(cancel, stream.next()).await? {
                    buf.extend_from_slice(&chunk?);
                    if buf.len() > CONFIG_MAX {
                        return Err(ImageError::InvalidArgument(format!(
                            "image config {digest} is larger than {} MiB; refused",
                            CONFIG_MAX >> 20
                        )));
                    }
                }
                Ok(buf)
            }
            .await;
            match res {
                Ok(buf) => {
                    let actual = sha256_digest(&buf);
                    if actual != digest {
                        return Err(ImageError::DigestMismatch {
                            digest: digest.to_string(),
                            actual,
                        });
                    }
                    return Ok(buf);
                }
                Err(ImageError::Registry { .. }) if attempt < ATTEMPTS => {
                    attempt += 1;
                    cancellable(cancel, tokio::time::sleep(Duration::from_secs(1))).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs the layer jobs, committing snapshots parents first as they complete. Returns
    /// the unpacked size of every layer.
    async fn fetch_layers(
        &self,
        repo: &Repository,
        jobs: &[LayerJob],
        p: &Progress,
        cancel: &CancellationToken,
    ) -> Result<Vec<u64>, ImageError> {
        let sem = Semaphore::new(self.max_concurrent_downloads);
        let stop = cancel.child_token();
        let mut slots: Vec<Slot> = jobs
            .iter()
            .map(|j| match j.plan {
                Plan::Exists => Slot::Committed(self.known_layer_size(&j.chain_id)),
                _ => Slot::Pending,
            })
            .collect();
        let mut tasks: FuturesUnordered<_> = jobs
            .iter()
            .filter(|j| j.plan != Plan::Exists)
            .map(|j| self.layer_task(repo, j, &sem, p, &stop))
            .collect();
        let mut next = 0;
        let mut first_err = None;
        while let Some(res) = tasks.next().await {
            let res = res.and_then(|done| {
                slots[done.index] = Slot::Ready(done.prepared, done.unpacked_size);
                if first_err.is_none() {
                    self.commit_ready(jobs, &mut slots, &mut next)
                } else {
                    Ok(())
                }
            });
            if let Err(e) = res {
                if first_err.is_none() {
                    first_err = Some(e);
                    stop.cancel();
                }
            }
        }
        if let Some(e) = first_err {
            return Err(if cancel.is_cancelled() {
                cancelled()
            } else {
                e
            });
        }
        Ok(slots
            .into_iter()
            .map(|s| match s {
                Slot::Committed(size) | Slot::Ready(_, size) => size,
                Slot::Pending => 0,
            })
            .collect())
    }

    /// Commits the ready layers that follow the committed prefix.
    fn commit_ready(
        &self,
        jobs: &[LayerJob],
        slots: &mut [Slot],
        next: &mut usize,
    ) -> Result<(), ImageError> {
        while *next < slots.len() {
            match std::mem::replace(&mut slots[*next], Slot::Pending) {
                Slot::Pending => break,
                Slot::Committed(size) => slots[*next] = Slot::Committed(size),
                Slot::Ready(prepared, size) => {
                    if let Some(prepared) = prepared {
                        self.snapshots.commit(prepared, &jobs[*next].chain_id)?;
                    }
                    slots[*next] = Slot::Committed(size);
                }
            }
            *next += 1;
        }
        Ok(())
    }

    /// One layer: wait for a download slot, then fetch (with retries) or unpack locally.
    async fn layer_task(
        &self,
        repo: &Repository,
        job: &LayerJob,
        sem: &Semaphore,
        p: &Progress,
        stop: &CancellationToken,
    ) -> Result<LayerDone, ImageError> {
        let _permit = match sem.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                p.layer("Waiting", &job.id);
                cancellable(stop, sem.acquire())
                    .await?
                    .map_err(|_| cancelled())?
            }
        };
        let unpack = match job.plan {
            Plan::UnpackLocal => return self.unpack_local(job, p, stop).await,
            Plan::Exists => {
                return Ok(LayerDone {
                    index: job.index,
                    prepared: None,
                    unpacked_size: self.known_layer_size(&job.chain_id),
                })
            }
            Plan::Fetch { unpack } => unpack,
        };
        let mut attempt = 1;
        loop {
            match self.fetch_once(repo, job, unpack, p, stop).await {
                Ok(done) => return Ok(done),
                Err(e @ ImageError::Registry { .. }) if attempt < ATTEMPTS => {
                    tracing::info!(layer = %job.digest, attempt, error = %e, "layer download failed; retrying");
                    for left in (1..=attempt).rev() {
                        let unit = if left == 1 { "second" } else { "seconds" };
                        p.layer(format!("Retrying in {left} {unit}"), &job.id);
                        cancellable(stop, tokio::time::sleep(Duration::from_secs(1))).await?;
                    }
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One download of a layer blob, unpacked on the way when `unpack`.
    async fn fetch_once(
        &self,
        repo: &Repository,
        job: &LayerJob,
        unpack: bool,
        p: &Progress,
        stop: &CancellationToken,
    ) -> Result<LayerDone, ImageError> {
        let blob = cancellable(stop, repo.blob(&job.digest)).await??;
        let total = Some(job.size).filter(|s| *s > 0).or(blob.size);
        let mut writer = self.content.writer(Some(&job.digest))?;
        let mut hasher = Sha256::new();
        let mut unpacker = if unpack {
            Some(StreamUnpack::start(
                self.snapshots.prepare()?,
                job.digest.clone(),
                job.diff_id.clone(),
            ))
        } else {
            None
        };
        let mut stream = blob.stream;
        let mut got = 0u64;
        let mut throttle = Throttle::new();
        p.bytes("Downloading", &job.id, 0, total);
        let streamed: Result<(), ImageError> = async {
            loop {
                let item = tokio::select! {
                    biased;
                    _ = stop.cancelled() => return Err(cancelled()),
                    item = stream.next() => item,
                };
                let chunk = match item {
                    None => return Ok(()),
                    Some(chunk) => chunk?,
                };
                got += chunk.len() as u64;
                if job.size > 0 && got > job.size {
                    return Err(ImageError::InvalidArgument(format!(
                        "blob {} is larger than the {} bytes its manifest gives; refused",
                        job.digest, job.size
                    )));
                }
                writer.write_all(&chunk).map_err(ImageError::io(format!(
                    "write layer {} to the content store",
                    job.digest
                )))?;
                hasher.update(&chunk);
                if let Some(u) = unpacker.as_mut() {
                    u.feed(chunk, stop).await?;
                }
                if throttle.ready(got) {
                    p.bytes("Downloading", &job.id, got, total);
                }
            }
        }
        .await;
        if let Err(e) = streamed {
            if let Some(u) = unpacker {
                u.abort().await;
            }
            return Err(e);
        }
        p.layer("Verifying Checksum", &job.id);
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != job.digest {
            if let Some(u) = unpacker {
                u.abort().await;
            }
            return Err(ImageError::DigestMismatch {
                digest: job.digest.clone(),
                actual,
            });
        }
        let unpacked = match unpacker {
            Some(u) => Some(u.finish().await?),
            None => None,
        };
        join(tokio::task::spawn_blocking(move || writer.commit())).await?;
        p.layer("Download complete", &job.id);
        let (prepared, unpacked_size) = match unpacked {
            Some((prepared, size)) => {
                p.bytes("Extracting", &job.id, got, total);
                (Some(prepared), size)
            }
            None => (None, self.known_layer_size(&job.chain_id)),
        };
        p.layer("Pull complete", &job.id);
        Ok(LayerDone {
            index: job.index,
            prepared,
            unpacked_size,
        })
    }

    /// Unpacks a layer whose blob is already stored.
    async fn unpack_local(
        &self,
        job: &LayerJob,
        p: &Progress,
        stop: &CancellationToken,
    ) -> Result<LayerDone, ImageError> {
        let path = self.content.path(&job.digest);
        let prepared = self.snapshots.prepare()?;
        let (digest, diff_id, id, total) = (
            job.digest.clone(),
            job.diff_id.clone(),
            job.id.clone(),
            job.size,
        );
        let (p2, stop2) = (p.clone(), stop.clone());
        let handle = tokio::task::spawn_blocking(move || {
            let file = File::open(&path).map_err(ImageError::io(format!(
                "open layer blob {digest} at {}",
                path.display()
            )))?;
            let mut throttle = Throttle::new();
            let counted = CountingReader {
                inner: file,
                count: 0,
                report: move |n: u64| {
                    if throttle.ready(n) {
                        p2.bytes("Extracting", &id, n, Some(total));
                    }
                },
            };
            let reader = StopReader {
                inner: counted,
                stop: stop2,
            };
            let size = unpack_verified(Box::new(reader), &prepared, &digest, &diff_id)?;
            Ok((prepared, size))
        });
        let (prepared, size) = join(handle).await?;
        if stop.is_cancelled() {
            return Err(cancelled());
        }
        p.bytes("Extracting", &job.id, total, Some(total));
        p.layer("Pull complete", &job.id);
        Ok(LayerDone {
            index: job.index,
            prepared: Some(prepared),
            unpacked_size: size,
        })
    }
}

/// The unpacking half of a streamed layer: a blocking thread reading chunks from a
/// channel.
struct StreamUnpack {
    tx: Option<mpsc::Sender<io::Result<Bytes>>>,
    handle: Option<JoinHandle<Result<(PreparedLayer, u64), ImageError>>>,
    /// The thread's result when it stopped reading before the download ended.
    early: Option<Result<(PreparedLayer, u64), ImageError>>,
}

impl StreamUnpack {
    fn start(prepared: PreparedLayer, layer: String, diff_id: String) -> StreamUnpack {
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        let handle = tokio::task::spawn_blocking(move || {
            let reader = ChannelReader {
                rx,
                cur: Bytes::new(),
            };
            let size = unpack_verified(Box::new(reader), &prepared, &layer, &diff_id)?;
            Ok((prepared, size))
        });
        StreamUnpack {
            tx: Some(tx),
            handle: Some(handle),
            early: None,
        }
    }

    async fn feed(&mut self, chunk: Bytes, stop: &CancellationToken) -> Result<(), ImageError> {
        let Some(tx) = &self.tx else {
            return Ok(());
        };
        let sent = cancellable(stop, tx.send(Ok(chunk))).await?;
        if sent.is_err() {
            // The thread stopped reading: it finished or failed. The download goes on so
            // that a corrupt blob is reported as such; its result waits here.
            self.tx = None;
            if let Some(h) = self.handle.take() {
                self.early = Some(join(h).await);
            }
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<(PreparedLayer, u64), ImageError> {
        drop(self.tx.take());
        if let Some(res) = self.early.take() {
            return res;
        }
        match self.handle.take() {
            Some(h) => join(h).await,
            None => Err(ImageError::Io {
                what: "layer unpacking thread".to_string(),
                source: io::Error::other("finished twice"),
            }),
        }
    }

    /// Stops the thread and waits for it, so its prepared directory is gone on return.
    async fn abort(mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.try_send(Err(io::Error::other("download aborted")));
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

/// `Read` over the chunks of a channel (blocking; for `spawn_blocking` threads).
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Err(e)) => return Err(e),
                Some(Ok(b)) => self.cur = b,
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur.advance(n);
        Ok(n)
    }
}

/// A reader that fails once `stop` fires, so a blocking unpack ends promptly.
struct StopReader<R> {
    inner: R,
    stop: CancellationToken,
}

impl<R: Read> Read for StopReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stop.is_cancelled() {
            return Err(io::Error::other("operation cancelled"));
        }
        self.inner.read(buf)
    }
}
