//! Images: the registry client, the content store (verified blobs by digest), manifests,
//! safe layer unpacking into overlay snapshots, load/save/import and garbage collection.
//! `ImageManager` (in `manager/`) is the one entry point the engine uses.

pub mod error;

pub use error::ImageError;
