//! `ImageError`: every failure of the image subsystem, with the API error kind it maps to.

use pouch_api::reference::ReferenceError;
use pouch_api::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Message names the object: `no such image: busybox:1.36 (pull it first)`.
    #[error("{0}")]
    NotFound(String),
    #[error("invalid reference format {reference:?}: {reason}")]
    InvalidReference { reference: String, reason: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidArgument(String),
    /// A registry answered with an error or could not be reached.
    #[error("registry {registry}: {message}")]
    Registry { registry: String, message: String },
    #[error("registry {registry}: unauthorized: {message} (log in with `pouch login {registry}`)")]
    Unauthorized { registry: String, message: String },
    #[error("blob {digest} failed verification: got {actual} (the registry or a proxy served corrupt data; nothing of it was kept)")]
    DigestMismatch { digest: String, actual: String },
    /// A layer tar that tries something unsafe; refused before anything escapes.
    #[error("layer {layer} refused: entry {path:?}: {reason}")]
    HostileLayer {
        layer: String,
        path: String,
        reason: String,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] pouch_store::StoreError),
    #[error(transparent)]
    Snapshot(#[from] pouch_snapshot::SnapshotError),
    #[error(transparent)]
    Sys(#[from] pouch_sys::SysError),
    #[error("operation cancelled: {0}")]
    Cancelled(String),
}

impl ImageError {
    /// The API error kind (and so the HTTP status) of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ImageError::NotFound(_) => ErrorKind::NotFound,
            ImageError::InvalidReference { .. } | ImageError::InvalidArgument(_) => {
                ErrorKind::InvalidArgument
            }
            ImageError::Conflict(_) => ErrorKind::Conflict,
            ImageError::Unauthorized { .. } => ErrorKind::Unauthorized,
            ImageError::Registry { .. } => ErrorKind::Unavailable,
            ImageError::Cancelled(_) => ErrorKind::Unavailable,
            ImageError::HostileLayer { .. } | ImageError::DigestMismatch { .. } => {
                ErrorKind::InvalidArgument
            }
            _ => ErrorKind::Internal,
        }
    }

    /// Shorthand for an I/O error that names what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ImageError {
        let what = what.into();
        move |source| ImageError::Io { what, source }
    }
}

impl From<ImageError> for pouch_api::ApiError {
    fn from(e: ImageError) -> Self {
        pouch_api::ApiError::new(e.kind(), e.to_string())
    }
}

/// A reference the shared parser refused: same variant and message as before the parser moved
/// to pouch-api, so `?` on `Reference::parse` keeps answering 400.
impl From<ReferenceError> for ImageError {
    fn from(e: ReferenceError) -> ImageError {
        match e {
            ReferenceError::Invalid { reference, reason } => {
                ImageError::InvalidReference { reference, reason }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use pouch_api::reference::Reference;

    use super::*;

    #[test]
    fn reference_errors_keep_their_message_and_kind() {
        let refused = Reference::parse("Busybox").unwrap_err();
        let message = refused.to_string();
        let e = ImageError::from(refused);
        assert!(matches!(e, ImageError::InvalidReference { .. }), "{e:?}");
        assert_eq!(e.to_string(), message);
        assert_eq!(
            e.to_string(),
            "invalid reference format \"Busybox\": repository name \"Busybox\" must be lowercase"
        );
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }
}
