//! Volumes: the `local` and `tmpfs` drivers, volume records in the metadata store, and
//! the mounts a container's volumes need. See docs/volumes-contract.md.
//!
//! Files: `manager` (the `VolumeManager`: records, data dirs, counted mounts, usage),
//! `options` (names and driver options), `copy` (copy-up of image content into a new
//! volume), `parse` (Docker's `--volume`, `--mount` and `--volumes-from` syntax, checked
//! into [`MountSpec`]s the engine resolves).

mod copy;
mod manager;
mod options;
mod parse;

use pouch_api::{ApiError, ErrorKind};

pub use copy::copy_up;
pub use manager::{VolumeManager, VolumeRecord};
pub use options::{check_options, validate_name, DRIVERS};
pub use parse::{
    clean_destination, parse_bind, parse_mount, parse_volumes_from, MountKind, MountSpec,
};

/// The metadata table of volume records, keyed by volume name.
pub const VOLUMES: &str = "volumes";

/// The label Docker puts on anonymous volumes (`-v /data`, image `VOLUME`s).
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// Why a volume operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("no such volume: {0}")]
    NotFound(String),
    #[error("volume {name} already exists with driver {existing}: choose another name or use driver {existing}")]
    Conflict { name: String, existing: String },
    #[error("volume {0} is mounted by a container: remove the containers using it first")]
    Busy(String),
    /// A bad name, option or mount specification; the message says which and why.
    #[error("{0}")]
    Invalid(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("volume {name}: {source}")]
    Quota {
        name: String,
        #[source]
        source: pouch_quota::QuotaError,
    },
    #[error("volume {name}: {source}")]
    Mount {
        name: String,
        #[source]
        source: pouch_sys::SysError,
    },
    #[error("volume records: {0}")]
    Store(#[from] pouch_store::StoreError),
}

impl VolumeError {
    /// The API error kind: not found, conflict, invalid argument or internal.
    pub fn kind(&self) -> ErrorKind {
        match self {
            VolumeError::NotFound(_) => ErrorKind::NotFound,
            VolumeError::Conflict { .. } | VolumeError::Busy(_) => ErrorKind::Conflict,
            VolumeError::Invalid(_) => ErrorKind::InvalidArgument,
            _ => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> VolumeError {
        let what = what.into();
        move |source| VolumeError::Io { what, source }
    }
}

impl From<VolumeError> for ApiError {
    fn from(e: VolumeError) -> ApiError {
        ApiError::new(e.kind(), e.to_string())
    }
}
