//! Image operations of the engine: each delegates to the image manager and turns its
//! `ImageError` into an `ApiError` (kind + message). Credentials arrive as the API's
//! `AuthConfig`; the blocking ones (save, load, import) are for `spawn_blocking`.

use std::io::{Read, Write};

use pouch_api::image::{
    HistoryItem, ImageDeleteItem, ImageInspect, ImagePruneResponse, ImageSummary,
};
use pouch_api::progress::JsonMessage;
use pouch_api::system::{AuthConfig, AuthResponse};
use pouch_api::{ApiError, ErrorKind, Filters};
use pouch_image::registry::Credentials;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::Engine;

/// Credentials for a registry, or none when the client sent an empty `AuthConfig` (`{}`).
fn credentials(auth: Option<&AuthConfig>) -> Option<Credentials> {
    auth.filter(|a| **a != AuthConfig::default())
        .map(Credentials::from)
}

impl Engine {
    /// Pulls `reference` (`busybox`, `busybox:1.36`, `x@sha256:..`), sending Docker's
    /// progress lines to `progress`. Returns the image id.
    pub async fn pull_image(
        &self,
        reference: &str,
        auth: Option<&AuthConfig>,
        progress: UnboundedSender<JsonMessage>,
        cancel: CancellationToken,
    ) -> Result<String, ApiError> {
        self.images
            .pull(reference, credentials(auth), progress, cancel)
            .await
            .map_err(registry_transfer_error)
    }

    /// Pushes `reference` to its registry, sending Docker's progress lines (ending with the
    /// `aux` digest line) to `progress`.
    pub async fn push_image(
        &self,
        reference: &str,
        auth: Option<&AuthConfig>,
        progress: UnboundedSender<JsonMessage>,
        cancel: CancellationToken,
    ) -> Result<(), ApiError> {
        self.images
            .push(reference, credentials(auth), progress, cancel)
            .await
            .map_err(registry_transfer_error)
    }

    /// `POST /auth`: checks the credentials against the registry.
    pub async fn login(&self, auth: &AuthConfig) -> Result<AuthResponse, ApiError> {
        Ok(self.images.login(auth).await?)
    }

    pub fn list_images(&self, filters: &Filters, all: bool) -> Result<Vec<ImageSummary>, ApiError> {
        Ok(self.images.list(filters, all)?)
    }

    pub fn inspect_image(&self, name: &str) -> Result<ImageInspect, ApiError> {
        Ok(self.images.inspect(name)?)
    }

    pub fn image_history(&self, name: &str) -> Result<Vec<HistoryItem>, ApiError> {
        Ok(self.images.history(name)?)
    }

    /// Adds the reference `repo[:tag]` (tag defaults to latest) to image `name`.
    pub fn tag_image(&self, name: &str, repo: &str, tag: Option<&str>) -> Result<(), ApiError> {
        Ok(self.images.tag(name, repo, tag)?)
    }

    pub fn remove_image(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
    ) -> Result<Vec<ImageDeleteItem>, ApiError> {
        if let Ok(img) = self.images.inspect(name) {
            // An image with other references only loses this one; the last reference (or
            // the id) of an image a container uses is refused, with or without force.
            let by_id = img
                .id
                .trim_start_matches("sha256:")
                .starts_with(name.trim_start_matches("sha256:"));
            if by_id || img.repo_tags.len() <= 1 {
                if let Some(user) = self.containers.image_users(&img.id).first() {
                    return Err(ApiError::conflict(format!(
                        "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}: remove the container first",
                        &user[..12],
                        &img.id.trim_start_matches("sha256:")[..12]
                    )));
                }
            }
        }
        Ok(self.images.remove(name, force, noprune)?)
    }

    pub fn prune_images(&self, filters: &Filters) -> Result<ImagePruneResponse, ApiError> {
        let containers = self.containers.clone();
        Ok(self
            .images
            .prune(filters, &move |id| !containers.image_users(id).is_empty())?)
    }

    /// Writes a `docker save` archive of `names` to `out` (blocking).
    pub fn save_images(&self, names: &[String], out: &mut dyn Write) -> Result<(), ApiError> {
        Ok(self.images.save(names, out)?)
    }

    /// Loads a `docker save` archive (blocking); `progress` gets Docker's load lines.
    /// Returns the references (or ids) loaded.
    pub fn load_images(
        &self,
        input: &mut dyn Read,
        progress: &dyn Fn(JsonMessage),
    ) -> Result<Vec<String>, ApiError> {
        Ok(self.images.load(input, progress)?)
    }

    /// Imports a root filesystem tar as a one-layer image (blocking). Returns the image id.
    pub fn import_image(
        &self,
        input: &mut dyn Read,
        reference: Option<&str>,
        message: &str,
        changes: &[String],
    ) -> Result<String, ApiError> {
        Ok(self.images.import(input, reference, message, changes)?)
    }
}

/// Pull and push never answer 401, as Docker: a 401 makes the docker CLI prompt for
/// credentials and retry instead of failing. A refused pull or push is a 500 whose message
/// says to log in (only `POST /auth` answers 401).
fn registry_transfer_error(e: pouch_image::ImageError) -> ApiError {
    let e = ApiError::from(e);
    if e.kind == ErrorKind::Unauthorized {
        ApiError::new(ErrorKind::Internal, e.message)
    } else {
        e
    }
}
