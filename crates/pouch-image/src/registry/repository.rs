//! One repository on one registry endpoint: sending requests (authentication, retries of
//! transient failures, time limits) and the manifest and blob operations of the distribution
//! API on top of them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{RequestBuilder, Response, StatusCode, Url};

use super::auth::{challenge_of, AuthCache, AuthRequest, Challenge, Credentials, Scope};
use super::endpoint::Endpoint;
use super::{
    error_chain, is_transient, read_limited, registry_error_message, retry_delay, BlobStream,
    Manifest, HEADERS_TIMEOUT, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    MEDIA_TYPE_DOCKER_SCHEMA1, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST, REQUEST_ATTEMPTS,
};
use crate::content::{digest_hex, sha256_digest};
use crate::error::ImageError;

/// Largest manifest accepted (Docker's limit).
const MANIFEST_MAX: usize = 4 << 20;
/// Largest error body read.
const ERROR_BODY_MAX: usize = 64 << 10;
/// A blob download that delivers nothing for this long fails.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Read size when uploading a blob from disk.
const UPLOAD_CHUNK: usize = 256 << 10;

/// A failed request, and whether sending it again may succeed.
struct Failure {
    err: ImageError,
    transient: bool,
}

impl From<ImageError> for Failure {
    fn from(err: ImageError) -> Failure {
        Failure {
            err,
            transient: false,
        }
    }
}

impl From<Failure> for ImageError {
    fn from(f: Failure) -> ImageError {
        f.err
    }
}

/// A repository on a registry or mirror, with its credentials. Clones share the auth caches.
#[derive(Clone)]
pub struct Repository {
    http: reqwest::Client,
    auth: Arc<AuthCache>,
    endpoint: Arc<Endpoint>,
    repo: String,
    creds: Option<Arc<Credentials>>,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("endpoint", &self.endpoint.name())
            .field("repository", &self.repo)
            .field("creds", &self.creds)
            .finish_non_exhaustive()
    }
}

impl Repository {
    pub(crate) fn new(
        http: reqwest::Client,
        auth: Arc<AuthCache>,
        endpoint: Endpoint,
        repo: &str,
        creds: Option<Credentials>,
    ) -> Repository {
        Repository {
            http,
            auth,
            endpoint: Arc::new(endpoint),
            repo: repo.to_string(),
            creds: creds.map(Arc::new),
        }
    }

    /// The registry or mirror this handle talks to (`docker.io`, `127.0.0.1:5000`), for
    /// messages.
    pub fn endpoint(&self) -> &str {
        self.endpoint.name()
    }

    /// The repository path (`library/busybox`).
    pub fn repository(&self) -> &str {
        &self.repo
    }

    /// Fetches the manifest or index named by `reference` (a tag or a digest). A manifest
    /// fetched by digest is verified against it.
    pub async fn manifest(&self, reference: &str) -> Result<Manifest, ImageError> {
        self.manifest_with_attempts(reference, REQUEST_ATTEMPTS)
            .await
    }

    pub(crate) async fn manifest_with_attempts(
        &self,
        reference: &str,
        attempts: u32,
    ) -> Result<Manifest, ImageError> {
        let by_digest = check_manifest_reference(reference)?;
        let object = self.object(reference);
        let url = self
            .endpoint
            .url(&format!("v2/{}/manifests/{reference}", self.repo))?;
        let accept = [
            MEDIA_TYPE_OCI_MANIFEST,
            MEDIA_TYPE_OCI_INDEX,
            MEDIA_TYPE_DOCKER_MANIFEST,
            MEDIA_TYPE_DOCKER_MANIFEST_LIST,
        ]
        .join(", ");
        let what = format!("manifest {object}");
        let resp = self
            .send(false, attempts, Some(HEADERS_TIMEOUT), &what, || {
                Ok(self.http.get(url.clone()).header(ACCEPT, &accept))
            })
            .await?;
        match resp.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => {
                return Err(ImageError::NotFound(format!(
                    "manifest unknown: {object} not found in {}",
                    self.endpoint()
                )))
            }
            _ => return Err(self.answer_error(resp, &what).await),
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = read_limited(resp, MANIFEST_MAX)
            .await
            .map_err(|e| self.registry_error(format!("reading {what}: {e}")))?;
        let digest = sha256_digest(&bytes);
        if by_digest && digest != reference {
            return Err(ImageError::DigestMismatch {
                digest: reference.to_string(),
                actual: digest,
            });
        }
        let media_type = media_type_of(content_type.as_deref(), &bytes);
        Ok(Manifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// Starts downloading blob `digest` (redirects followed). Transient failures before the
    /// answer are retried; a download that stalls fails. The caller verifies the digest.
    pub async fn blob(&self, digest: &str) -> Result<BlobStream, ImageError> {
        digest_hex(digest)?;
        let url = self
            .endpoint
            .url(&format!("v2/{}/blobs/{digest}", self.repo))?;
        let what = format!("blob {digest} of {}", self.repo);
        let resp = self.get(&url, &what).await?;
        match resp.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => {
                return Err(ImageError::NotFound(format!(
                    "blob {digest} not found in {}/{}",
                    self.endpoint(),
                    self.repo
                )))
            }
            _ => return Err(self.answer_error(resp, &what).await),
        }
        let size = resp.content_length();
        let registry = self.endpoint().to_string();
        let inner = resp.bytes_stream();
        let stream = futures_util::stream::unfold(Some(inner), move |state| {
            let registry = registry.clone();
            let what = what.clone();
            async move {
                let mut inner = state?;
                match tokio::time::timeout(STALL_TIMEOUT, inner.next()).await {
                    Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(inner))),
                    Ok(None) => None,
                    Ok(Some(Err(e))) => Some((
                        Err(ImageError::Registry {
                            registry,
                            message: format!("downloading {what}: {}", error_chain(&e)),
                        }),
                        None,
                    )),
                    Err(_) => Some((
                        Err(ImageError::Registry {
                            registry,
                            message: format!(
                                "downloading {what}: no data for {}s",
                                STALL_TIMEOUT.as_secs()
                            ),
                        }),
                        None,
                    )),
                }
            }
        });
        Ok(BlobStream {
            size,
            stream: Box::pin(stream),
        })
    }

    /// Whether the repository has blob `digest`.
    pub async fn blob_exists(&self, digest: &str) -> Result<bool, ImageError> {
        self.head_blob(digest, false).await
    }

    async fn head_blob(&self, digest: &str, push: bool) -> Result<bool, ImageError> {
        digest_hex(digest)?;
        let url = self
            .endpoint
            .url(&format!("v2/{}/blobs/{digest}", self.repo))?;
        let what = format!("blob {digest} of {}", self.repo);
        let resp = self
            .send(push, REQUEST_ATTEMPTS, Some(HEADERS_TIMEOUT), &what, || {
                Ok(self.http.head(url.clone()))
            })
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.answer_error(resp, &what).await),
        }
    }

    /// Uploads blob `digest` of `size` bytes from the file at `path`, unless the repository
    /// has it already: one POST to open an upload, then one PUT of the whole file streamed
    /// from disk. `progress` is called with the bytes sent so far (it restarts from 0 when a
    /// transient failure makes the upload start again).
    pub async fn push_blob(
        &self,
        digest: &str,
        size: u64,
        path: &Path,
        progress: impl Fn(u64),
    ) -> Result<(), ImageError> {
        digest_hex(digest)?;
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(ImageError::io(format!(
                "read blob {digest} at {}",
                path.display()
            )))?;
        if meta.len() != size {
            return Err(ImageError::InvalidArgument(format!(
                "blob {digest} at {} has {} bytes, expected {size}",
                path.display(),
                meta.len()
            )));
        }
        if self.head_blob(digest, true).await? {
            progress(size);
            return Ok(());
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.upload(digest, size, path, &progress).await {
                Ok(()) => {
                    progress(size);
                    return Ok(());
                }
                Err(f) if f.transient && attempt < REQUEST_ATTEMPTS => {
                    tracing::info!(
                        registry = self.endpoint(),
                        digest,
                        error = %f.err,
                        "blob upload failed; starting it again"
                    );
                    tokio::time::sleep(retry_delay(attempt)).await;
                }
                Err(f) => return Err(f.err),
            }
        }
    }

    async fn upload(
        &self,
        digest: &str,
        size: u64,
        path: &Path,
        progress: &impl Fn(u64),
    ) -> Result<(), Failure> {
        let what = format!("upload of blob {digest} to {}", self.repo);
        let start = self
            .endpoint
            .url(&format!("v2/{}/blobs/uploads/", self.repo))?;
        let resp = self
            .send(true, REQUEST_ATTEMPTS, Some(HEADERS_TIMEOUT), &what, || {
                Ok(self.http.post(start.clone()).header(CONTENT_LENGTH, 0))
            })
            .await
            // `send` has retried already.
            .map_err(|f| Failure::from(f.err))?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.answer_error(resp, &what).await.into());
        }
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                self.registry_error(format!("{what}: the registry gave no upload location"))
            })?;
        // Relative or absolute, with or without a query already.
        let mut put_url = resp.url().join(location).map_err(|e| {
            self.registry_error(format!("{what}: bad upload location {location:?}: {e}"))
        })?;
        put_url.query_pairs_mut().append_pair("digest", digest);

        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let build = || {
            let file = std::fs::File::open(path).map_err(ImageError::io(format!(
                "open blob {digest} at {}",
                path.display()
            )))?;
            let tx = tx.clone();
            let mut sent = 0u64;
            let stream = tokio_util::io::ReaderStream::with_capacity(
                tokio::fs::File::from_std(file),
                UPLOAD_CHUNK,
            )
            .map(move |chunk| {
                if let Ok(c) = &chunk {
                    sent += c.len() as u64;
                    let _ = tx.send(sent);
                }
                chunk
            });
            Ok(self
                .http
                .put(put_url.clone())
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, size)
                .body(reqwest::Body::wrap_stream(stream)))
        };
        let put = self.send(true, 1, None, &what, build);
        tokio::pin!(put);
        let resp = loop {
            tokio::select! {
                r = &mut put => break r?,
                Some(n) = rx.recv() => progress(n),
            }
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let err = self.answer_error(resp, &what).await;
        Err(Failure {
            err,
            transient: status.is_server_error(),
        })
    }

    /// Stores manifest `m` under `reference` (a tag, or its digest).
    pub async fn push_manifest(&self, reference: &str, m: &Manifest) -> Result<(), ImageError> {
        check_manifest_reference(reference)?;
        let object = self.object(reference);
        let url = self
            .endpoint
            .url(&format!("v2/{}/manifests/{reference}", self.repo))?;
        let what = format!("manifest {object}");
        let resp = self
            .send(true, REQUEST_ATTEMPTS, Some(HEADERS_TIMEOUT), &what, || {
                Ok(self
                    .http
                    .put(url.clone())
                    .header(CONTENT_TYPE, &m.media_type)
                    .body(m.bytes.clone()))
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self.answer_error(resp, &what).await);
        }
        let echoed = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok());
        if let Some(d) = echoed {
            if d != m.digest {
                tracing::warn!(
                    registry = self.endpoint(),
                    manifest = %object,
                    sent = %m.digest,
                    stored = d,
                    "the registry stored the manifest under another digest"
                );
            }
        }
        Ok(())
    }

    /// `GET /v2/` with the credentials (login).
    pub(crate) async fn check_login(&self) -> Result<(), ImageError> {
        let url = self.endpoint.url("v2/")?;
        let what = "login".to_string();
        let resp = self.get(&url, &what).await?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(self.registry_error(format!(
                "{url} answered 404: this server does not serve the registry API v2"
            ))),
            _ => Err(self.answer_error(resp, &what).await),
        }
    }

    /// `GET url` with pull access, the usual retries and time limit for the answer headers.
    async fn get(&self, url: &Url, what: &str) -> Result<Response, Failure> {
        self.send(false, REQUEST_ATTEMPTS, Some(HEADERS_TIMEOUT), what, || {
            Ok(self.http.get(url.clone()))
        })
        .await
    }

    /// Sends the request `build` makes, authenticating as the server asks (once per call),
    /// with up to `attempts` tries on transient failures (connection, time-out, 5xx).
    /// `headers_timeout` limits the wait for the answer headers of each try.
    async fn send(
        &self,
        push: bool,
        attempts: u32,
        headers_timeout: Option<Duration>,
        what: &str,
        build: impl Fn() -> Result<RequestBuilder, ImageError>,
    ) -> Result<Response, Failure> {
        let scope = Scope::new(&self.repo, push);
        let server_key = self.endpoint.key();
        let auth_req = AuthRequest {
            http: &self.http,
            registry: self.endpoint(),
            server_key: &server_key,
            creds: self.creds.as_deref(),
            scope: &scope,
        };
        let mut reauthenticated = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = build()?;
            if let Some(h) = self.auth.authorization(&auth_req).await? {
                req = req.header(AUTHORIZATION, h);
            }
            let sent = match headers_timeout {
                Some(t) => tokio::time::timeout(t, req.send()).await,
                None => Ok(req.send().await),
            };
            let failure = match sent {
                Ok(Ok(resp)) => {
                    let status = resp.status();
                    if status == StatusCode::UNAUTHORIZED && !reauthenticated {
                        if let Some(c) = challenge_of(resp.headers()) {
                            let can_answer = match &c {
                                Challenge::Basic => {
                                    self.creds.as_ref().is_some_and(|c| !c.username.is_empty())
                                }
                                Challenge::Bearer { .. } => true,
                            };
                            self.auth.set_challenge(&server_key, c);
                            self.auth.forget_token(&auth_req);
                            if can_answer {
                                reauthenticated = true;
                                attempt -= 1;
                                continue;
                            }
                        }
                    }
                    if !status.is_server_error() || attempt >= attempts {
                        return Ok(resp);
                    }
                    format!("{what}: the registry answered {status}")
                }
                Ok(Err(e)) => {
                    let message = format!("{what}: {}", error_chain(&e));
                    if !is_transient(&e) {
                        return Err(self.registry_error(message).into());
                    }
                    message
                }
                Err(_) => format!(
                    "{what}: no answer within {}s",
                    headers_timeout.unwrap_or_default().as_secs()
                ),
            };
            if attempt >= attempts {
                return Err(Failure {
                    err: self.registry_error(failure),
                    transient: true,
                });
            }
            tracing::debug!(registry = self.endpoint(), attempt, error = %failure, "retrying");
            tokio::time::sleep(retry_delay(attempt)).await;
        }
    }

    /// The error for an unexpected answer to `what`.
    async fn answer_error(&self, resp: Response, what: &str) -> ImageError {
        let status = resp.status();
        let body = read_limited(resp, ERROR_BODY_MAX).await.unwrap_or_default();
        let mut message = format!("{what}: {}", registry_error_message(status, &body));
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                if self.creds.is_none() {
                    message.push_str("; no credentials were given");
                }
                ImageError::Unauthorized {
                    registry: self.endpoint().to_string(),
                    message,
                }
            }
            StatusCode::NOT_FOUND => {
                ImageError::NotFound(format!("{what} not found in {}", self.endpoint()))
            }
            _ => self.registry_error(message),
        }
    }

    fn registry_error(&self, message: String) -> ImageError {
        ImageError::Registry {
            registry: self.endpoint().to_string(),
            message,
        }
    }

    /// `library/busybox:latest` or `library/busybox@sha256:...`.
    fn object(&self, reference: &str) -> String {
        if reference.contains(':') {
            format!("{}@{reference}", self.repo)
        } else {
            format!("{}:{reference}", self.repo)
        }
    }
}

/// Checks a manifest reference (tag or digest) so that it cannot change the URL; returns
/// whether it is a digest.
fn check_manifest_reference(reference: &str) -> Result<bool, ImageError> {
    if reference.contains(':') {
        digest_hex(reference)?;
        return Ok(true);
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = reference.chars();
    let ok = chars.next().is_some_and(word)
        && chars.all(|c| word(c) || c == '.' || c == '-')
        && reference.len() <= 128;
    if !ok {
        return Err(ImageError::InvalidArgument(format!(
            "invalid tag {reference:?}: up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
        )));
    }
    Ok(false)
}

/// The media type of a manifest: the Content-Type when it is a specific one, else the
/// document's `mediaType`, else guessed from its shape.
fn media_type_of(content_type: Option<&str>, bytes: &[u8]) -> String {
    let ct = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if ct.starts_with("application/vnd.") {
        return ct;
    }
    #[derive(serde::Deserialize)]
    struct Shape {
        #[serde(default, rename = "mediaType")]
        media_type: String,
        #[serde(default, rename = "schemaVersion")]
        schema_version: u32,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Shape>(bytes) {
        Ok(s) if !s.media_type.is_empty() => s.media_type,
        Ok(s) if s.schema_version == 1 => MEDIA_TYPE_DOCKER_SCHEMA1.to_string(),
        Ok(s) if s.manifests.is_some() => MEDIA_TYPE_OCI_INDEX.to_string(),
        Ok(_) => MEDIA_TYPE_OCI_MANIFEST.to_string(),
        Err(_) => ct,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_references() {
        assert!(!check_manifest_reference("latest").unwrap());
        assert!(!check_manifest_reference("v1.2_3-x").unwrap());
        let d = format!("sha256:{}", "a".repeat(64));
        assert!(check_manifest_reference(&d).unwrap());
        for bad in [
            "",
            "../x",
            "a/b",
            "-x",
            ".x",
            "sha256:zz",
            "a?b",
            &"t".repeat(129),
        ] {
            assert!(check_manifest_reference(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn media_types() {
        assert_eq!(
            media_type_of(
                Some("application/vnd.oci.image.index.v1+json; charset=utf-8"),
                b""
            ),
            MEDIA_TYPE_OCI_INDEX
        );
        assert_eq!(
            media_type_of(
                Some("application/json"),
                br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#
            ),
            MEDIA_TYPE_DOCKER_MANIFEST
        );
        assert_eq!(
            media_type_of(None, br#"{"schemaVersion":2,"manifests":[]}"#),
            MEDIA_TYPE_OCI_INDEX
        );
        assert_eq!(
            media_type_of(None, br#"{"schemaVersion":2,"config":{},"layers":[]}"#),
            MEDIA_TYPE_OCI_MANIFEST
        );
        assert_eq!(
            media_type_of(Some("text/plain"), br#"{"schemaVersion":1}"#),
            MEDIA_TYPE_DOCKER_SCHEMA1
        );
        assert_eq!(media_type_of(Some("text/plain"), b"junk"), "text/plain");
    }
}
