//! Images: the registry client, the content store (verified blobs by digest), manifests,
//! safe layer unpacking into overlay snapshots, load/save/import and garbage collection.
//! `manager::ImageManager` is the one entry point the engine uses.

pub mod content;
pub mod decompress;
pub mod error;
pub mod manager;
pub mod registry;
pub mod unpack;

pub use error::ImageError;
