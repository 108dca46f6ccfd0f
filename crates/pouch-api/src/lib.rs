//! Docker Engine API 1.44 shapes (plus Pouch's fields) shared by pouchd, the client and the CLI,
//! the error kinds every subsystem maps its errors onto, and the image-reference parser both
//! pouchd and the CLI use.

pub mod container;
pub mod error;
pub mod filters;
pub mod image;
pub mod network;
pub mod paths;
pub mod progress;
pub mod reference;
pub mod system;
pub mod volume;

pub use error::{ApiError, ErrorKind};
pub use filters::Filters;

/// The API version pouchd speaks.
pub const API_VERSION: &str = "1.44";
/// The oldest API version pouchd accepts in a `/vX.Y` prefix.
pub const MIN_API_VERSION: &str = "1.24";
/// Pouch's own release version.
pub const POUCH_VERSION: &str = env!("CARGO_PKG_VERSION");
