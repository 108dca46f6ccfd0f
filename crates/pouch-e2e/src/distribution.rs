//! A minimal client of the distribution (registry v2) HTTP API over plain HTTP, written for
//! the tests so that they do not depend on Pouch's own registry code: monolithic blob
//! uploads (POST, then PUT `?digest=`), manifest and index PUTs, and reads for checks.

use anyhow::{bail, Context, Result};
use base64::Engine as _;

use crate::image::{Image, Index};

/// A registry endpoint, optionally with basic credentials.
#[derive(Clone)]
pub struct RegistryApi {
    base: String,
    client: reqwest::Client,
    basic: Option<(String, String)>,
    bearer: Option<String>,
}

/// A raw answer, for checks.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

impl RegistryApi {
    /// A client for `base` (e.g. `http://127.0.0.1:5000`).
    pub fn new(base: &str) -> RegistryApi {
        RegistryApi {
            base: base.trim_end_matches('/').to_string(),
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("build a reqwest client"),
            basic: None,
            bearer: None,
        }
    }

    pub fn with_basic(mut self, user: &str, password: &str) -> RegistryApi {
        self.basic = Some((user.to_string(), password.to_string()));
        self
    }

    pub fn with_bearer(mut self, token: &str) -> RegistryApi {
        self.bearer = Some(token.to_string());
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn authorize(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(t) = &self.bearer {
            return rb.bearer_auth(t);
        }
        match &self.basic {
            Some((u, p)) => rb.header(
                "Authorization",
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
                ),
            ),
            None => rb,
        }
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{}", self.base, path_or_url)
        }
    }

    /// GET `path` (relative to the base, or a full URL) with this client's credentials.
    pub async fn get(&self, path: &str, accept: &[&str]) -> Result<Answer> {
        let mut rb = self.authorize(self.client.get(self.url(path)));
        if !accept.is_empty() {
            rb = rb.header("Accept", accept.join(", "));
        }
        let resp = rb.send().await.with_context(|| format!("GET {path}"))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?.to_vec();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Whether the registry has blob `digest` in `repo`.
    pub async fn blob_exists(&self, repo: &str, digest: &str) -> Result<bool> {
        let resp = self
            .authorize(
                self.client
                    .head(self.url(&format!("/v2/{repo}/blobs/{digest}"))),
            )
            .send()
            .await?;
        Ok(resp.status().is_success())
    }

    /// Uploads `blob` (whose digest is `digest`) to `repo` in one PUT, unless present.
    pub async fn push_blob(&self, repo: &str, digest: &str, blob: &[u8]) -> Result<()> {
        if self.blob_exists(repo, digest).await? {
            return Ok(());
        }
        let resp = self
            .authorize(
                self.client
                    .post(self.url(&format!("/v2/{repo}/blobs/uploads/")))
                    .header("Content-Length", "0"),
            )
            .send()
            .await
            .with_context(|| format!("start upload to {repo}"))?;
        if resp.status().as_u16() != 202 {
            bail!(
                "start upload of {digest} to {repo}: status {}: {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            );
        }
        let location = resp
            .headers()
            .get("Location")
            .and_then(|v| v.to_str().ok())
            .context("upload answer without Location")?
            .to_string();
        let mut url = self.url(&location);
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str("digest=");
        url.push_str(digest);
        let resp = self
            .authorize(
                self.client
                    .put(url)
                    .header("Content-Type", "application/octet-stream")
                    .body(blob.to_vec()),
            )
            .send()
            .await
            .with_context(|| format!("upload {digest} to {repo}"))?;
        if resp.status().as_u16() != 201 {
            bail!(
                "upload of {digest} to {repo}: status {}: {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// PUTs a manifest or index under `reference` (tag or digest).
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<()> {
        let resp = self
            .authorize(
                self.client
                    .put(self.url(&format!("/v2/{repo}/manifests/{reference}")))
                    .header("Content-Type", media_type)
                    .body(bytes.to_vec()),
            )
            .send()
            .await
            .with_context(|| format!("put manifest {repo}:{reference}"))?;
        if resp.status().as_u16() != 201 {
            bail!(
                "put manifest {repo}:{reference}: status {}: {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Pushes the layers, config and manifest of `image` as `repo:tag`.
    pub async fn push_image(&self, repo: &str, tag: &str, image: &Image) -> Result<()> {
        self.push_image_blobs(repo, image).await?;
        self.put_manifest(repo, tag, image.manifest_media_type, &image.manifest)
            .await
    }

    async fn push_image_blobs(&self, repo: &str, image: &Image) -> Result<()> {
        for l in &image.layers {
            self.push_blob(repo, &l.digest, &l.blob).await?;
        }
        self.push_blob(repo, &image.config_digest, &image.config)
            .await
    }

    /// Pushes every image of `index` (by digest), then the index as `repo:tag`.
    pub async fn push_index(&self, repo: &str, tag: &str, index: &Index) -> Result<()> {
        for (_, _, img) in &index.images {
            self.push_image_blobs(repo, img).await?;
            self.put_manifest(
                repo,
                &img.manifest_digest,
                img.manifest_media_type,
                &img.manifest,
            )
            .await?;
        }
        self.put_manifest(repo, tag, index.media_type, &index.bytes)
            .await
    }

    /// The manifest `repo:reference` as stored: (content type, bytes), or `None` on 404.
    pub async fn manifest(&self, repo: &str, reference: &str) -> Result<Option<(String, Vec<u8>)>> {
        let a = self
            .get(
                &format!("/v2/{repo}/manifests/{reference}"),
                &[
                    crate::image::OCI_MANIFEST,
                    crate::image::OCI_INDEX,
                    crate::image::DOCKER_MANIFEST,
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                ],
            )
            .await?;
        match a.status {
            200 => Ok(Some((a.header("Content-Type").unwrap_or_default(), a.body))),
            404 => Ok(None),
            s => bail!("get manifest {repo}:{reference}: status {s}"),
        }
    }

    /// Blocking [`RegistryApi::manifest`].
    pub fn manifest_blocking(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<(String, Vec<u8>)>> {
        crate::block_on(self.manifest(repo, reference))
    }
}
