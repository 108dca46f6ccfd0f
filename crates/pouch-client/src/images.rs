//! Image calls: pull, push, list, inspect, history, tag, remove, save, load, import, prune.

use bytes::Bytes;
use hyper::Method;
use pouch_api::image::{
    HistoryItem, ImageDeleteItem, ImageInspect, ImagePruneResponse, ImageSummary,
};
use pouch_api::system::AuthConfig;
use pouch_api::Filters;

use crate::json_stream::json_stream;
use crate::transport::{self, decode, path_escape, query, Body};
use crate::{encode_registry_auth, BodyStream, ByteStream, Client, ClientError, JsonStream};

/// Where `import` takes the filesystem tarball from.
pub enum ImageImportSource {
    /// The tarball is sent as the request body (`fromSrc=-`).
    Stream(BodyStream),
    /// The daemon downloads the tarball from this URL.
    Url(String),
}

/// Options of [`Client::import`].
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Repository to tag the new image with (empty: untagged).
    pub repo: String,
    /// Tag within `repo` (empty: the daemon's default, `latest`).
    pub tag: String,
    /// Commit message recorded in the image history.
    pub message: String,
    /// Dockerfile instructions applied to the config (`CMD ["sh"]`, `ENV A=b`, ...).
    pub changes: Vec<String>,
}

fn auth_header(auth: Option<&AuthConfig>) -> Vec<(&'static str, String)> {
    vec![("X-Registry-Auth", encode_registry_auth(auth))]
}

impl Client {
    /// `POST /images/create?fromImage=&tag=`: pulls `image_ref` (a repository name without tag)
    /// at `tag` (a tag or a `sha256:` digest); the answer is a progress stream.
    pub async fn pull(
        &self,
        image_ref: &str,
        tag: &str,
        registry_auth: Option<&AuthConfig>,
    ) -> Result<JsonStream, ClientError> {
        let mut q = vec![("fromImage", image_ref.to_string())];
        if !tag.is_empty() {
            q.push(("tag", tag.to_string()));
        }
        let path = format!("/images/create{}", query(&q));
        self.registry_stream(&path, registry_auth, "pull").await
    }

    /// `POST /images/{name}/push?tag=`: pushes `name` (a repository without tag) at `tag`.
    pub async fn push(
        &self,
        name: &str,
        tag: &str,
        registry_auth: Option<&AuthConfig>,
    ) -> Result<JsonStream, ClientError> {
        let mut q = Vec::new();
        if !tag.is_empty() {
            q.push(("tag", tag.to_string()));
        }
        let path = format!("/images/{}/push{}", path_escape(name), query(&q));
        self.registry_stream(&path, registry_auth, "push").await
    }

    /// `POST path` with the `X-Registry-Auth` header and no body; the answer is a progress
    /// stream (`what` names it in errors).
    async fn registry_stream(
        &self,
        path: &str,
        registry_auth: Option<&AuthConfig>,
        what: &str,
    ) -> Result<JsonStream, ClientError> {
        let response = self
            .send(
                Method::POST,
                path,
                true,
                auth_header(registry_auth),
                Body::Empty,
            )
            .await?;
        Ok(json_stream(response.into_body(), what))
    }

    /// `GET /images/json`: lists images (`all` includes intermediate ones).
    pub async fn images(
        &self,
        all: bool,
        filters: &Filters,
    ) -> Result<Vec<ImageSummary>, ClientError> {
        let mut q = Vec::new();
        if all {
            q.push(("all", "1".to_string()));
        }
        if !filters.is_empty() {
            q.push(("filters", filters.to_query()));
        }
        let path = format!("/images/json{}", query(&q));
        self.send_json(Method::GET, &path, vec![], Body::Empty, "image list")
            .await
    }

    /// `GET /images/{name}/json`, the answer as sent (key order preserved).
    pub async fn image_inspect_raw(&self, name: &str) -> Result<Bytes, ClientError> {
        let path = format!("/images/{}/json", path_escape(name));
        self.send_bytes(Method::GET, &path, vec![], Body::Empty, "image inspect")
            .await
    }

    /// `GET /images/{name}/json` as untyped JSON (every field the daemon sends).
    pub async fn image_inspect_json(&self, name: &str) -> Result<serde_json::Value, ClientError> {
        decode(&self.image_inspect_raw(name).await?, "image inspect")
    }

    /// `GET /images/{name}/json`, typed.
    pub async fn image_inspect(&self, name: &str) -> Result<ImageInspect, ClientError> {
        decode(&self.image_inspect_raw(name).await?, "image inspect")
    }

    /// `GET /images/{name}/history`.
    pub async fn history(&self, name: &str) -> Result<Vec<HistoryItem>, ClientError> {
        let path = format!("/images/{}/history", path_escape(name));
        self.send_json(Method::GET, &path, vec![], Body::Empty, "image history")
            .await
    }

    /// `POST /images/{source}/tag?repo=&tag=`.
    pub async fn tag(&self, source: &str, repo: &str, tag: &str) -> Result<(), ClientError> {
        let mut q = vec![("repo", repo.to_string())];
        if !tag.is_empty() {
            q.push(("tag", tag.to_string()));
        }
        let path = format!("/images/{}/tag{}", path_escape(source), query(&q));
        self.send_empty(Method::POST, &path, Body::Empty, "image tag")
            .await
    }

    /// `DELETE /images/{name}?force=&noprune=`.
    pub async fn remove_image(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
    ) -> Result<Vec<ImageDeleteItem>, ClientError> {
        let mut q = Vec::new();
        if force {
            q.push(("force", "1".to_string()));
        }
        if noprune {
            q.push(("noprune", "1".to_string()));
        }
        let path = format!("/images/{}{}", path_escape(name), query(&q));
        let bytes = self
            .send_bytes(Method::DELETE, &path, vec![], Body::Empty, "image remove")
            .await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        decode(&bytes, "image remove")
    }

    /// `GET /images/get?names=...`: a tar archive of the images, streamed.
    pub async fn save(&self, names: &[String]) -> Result<ByteStream, ClientError> {
        let q: Vec<(&str, String)> = names.iter().map(|n| ("names", n.clone())).collect();
        let path = format!("/images/get{}", query(&q));
        let response = self
            .send(Method::GET, &path, true, vec![], Body::Empty)
            .await?;
        Ok(transport::byte_stream(response.into_body(), "image save"))
    }

    /// `POST /images/load?quiet=`: sends a tar archive made by `save`.
    pub async fn load(&self, body: BodyStream, quiet: bool) -> Result<JsonStream, ClientError> {
        let path = format!(
            "/images/load{}",
            query(&[("quiet", if quiet { "1" } else { "0" }.to_string())])
        );
        let response = self
            .send(
                Method::POST,
                &path,
                true,
                vec![],
                Body::Stream {
                    body,
                    content_type: "application/x-tar",
                },
            )
            .await?;
        Ok(json_stream(response.into_body(), "image load"))
    }

    /// `POST /images/create?fromSrc=`: creates an image from a filesystem tarball.
    pub async fn import(
        &self,
        source: ImageImportSource,
        options: &ImportOptions,
    ) -> Result<JsonStream, ClientError> {
        let (from_src, body) = match source {
            ImageImportSource::Stream(body) => (
                "-".to_string(),
                Body::Stream {
                    body,
                    content_type: "application/x-tar",
                },
            ),
            ImageImportSource::Url(url) => (url, Body::Empty),
        };
        let mut q = vec![("fromSrc", from_src)];
        if !options.repo.is_empty() {
            q.push(("repo", options.repo.clone()));
        }
        if !options.tag.is_empty() {
            q.push(("tag", options.tag.clone()));
        }
        if !options.message.is_empty() {
            q.push(("message", options.message.clone()));
        }
        for change in &options.changes {
            q.push(("changes", change.clone()));
        }
        let path = format!("/images/create{}", query(&q));
        let response = self.send(Method::POST, &path, true, vec![], body).await?;
        Ok(json_stream(response.into_body(), "image import"))
    }

    /// `POST /images/prune?filters=`: removes unused images (dangling only unless the filter
    /// `dangling=false` is given).
    pub async fn prune_images(&self, filters: &Filters) -> Result<ImagePruneResponse, ClientError> {
        self.send_filtered(Method::POST, "/images/prune", filters, "image prune")
            .await
    }
}
