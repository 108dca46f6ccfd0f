//! Async client for pouchd's Docker Engine API (1.44) over a unix socket or TCP.
//!
//! One HTTP/1.1 connection is opened per request (hyper's `client::conn::http1`), which keeps
//! the client free of pooling state and matches how the CLI uses it: a handful of calls per
//! command. Every request goes to `/v1.44/...`; daemon errors come back as
//! [`ClientError::Api`] carrying the `{"message"}` body. Image calls live in `images.rs`,
//! system calls (ping, version, info, auth, df) in `system.rs`, container calls in
//! `containers.rs` (lifecycle, attach, logs, stats), `exec.rs`, `archive.rs` (cp, export) and
//! `events.rs`; `hijack.rs` owns upgraded connections and `demux.rs` Docker's stream framing.

mod archive;
mod containers;
mod demux;
mod error;
mod events;
mod exec;
mod hijack;
mod host;
mod images;
mod json_stream;
mod networks;
mod system;
#[cfg(test)]
mod test_server;
mod transport;
mod volumes;

use std::io;
use std::pin::Pin;

use base64::Engine;
use bytes::Bytes;
use futures_util::Stream;

pub use containers::{AttachOptions, LogsOptions, WaitFuture};
pub use demux::{
    demux_copy, demux_stream, encode_frame, DemuxError, Demuxer, Frame, FrameStream, StreamKind,
};
pub use error::ClientError;
pub use hijack::HijackedStream;
pub use host::Host;
pub use images::{ImageImportSource, ImportOptions};
pub use pouch_api;
pub use pouch_api::image::{
    HistoryItem, ImageDeleteItem, ImageInspect, ImagePruneResponse, ImageSummary,
};
pub use pouch_api::progress::JsonMessage;
pub use pouch_api::system::{AuthConfig, AuthResponse, Info, SystemDf, Version};
pub use pouch_api::Filters;
pub use system::PingInfo;

/// A request body streamed to the daemon (load, import).
pub type BodyStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;
/// A raw response body streamed from the daemon (save).
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, ClientError>> + Send>>;
/// A JSON progress stream from the daemon (pull, push, load, import).
pub type JsonStream = Pin<Box<dyn Stream<Item = Result<JsonMessage, ClientError>> + Send>>;
/// A stream of typed JSON values from the daemon (events, stats).
pub type TypedStream<T> = Pin<Box<dyn Stream<Item = Result<T, ClientError>> + Send>>;

/// The default daemon address.
pub const DEFAULT_HOST: &str = "unix:///var/run/pouchd.sock";

/// A handle on one pouchd; cheap to clone, holds no connection.
#[derive(Debug, Clone)]
pub struct Client {
    host: Host,
    host_text: String,
}

impl Client {
    /// A client for `unix:///path`, `tcp://host:port` or a bare socket path.
    pub fn new(host: &str) -> Result<Client, ClientError> {
        Ok(Client {
            host: Host::parse(host)?,
            host_text: host.to_string(),
        })
    }

    /// The address as given to [`Client::new`].
    pub fn host(&self) -> &str {
        &self.host_text
    }
}

/// Wraps any reader (a file, stdin) as a request body for [`Client::load`] or
/// [`Client::import`].
pub fn reader_body<R>(reader: R) -> BodyStream
where
    R: tokio::io::AsyncRead + Send + 'static,
{
    Box::pin(tokio_util::io::ReaderStream::with_capacity(
        reader,
        64 * 1024,
    ))
}

/// The `X-Registry-Auth` value for `auth`: base64url (padded) of its JSON, `e30=` for `{}`.
pub fn encode_registry_auth(auth: Option<&AuthConfig>) -> String {
    let json = match auth {
        Some(a) => serde_json::to_vec(a).unwrap_or_else(|_| b"{}".to_vec()),
        None => b"{}".to_vec(),
    };
    base64::engine::general_purpose::URL_SAFE.encode(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_auth_encoding() {
        assert_eq!(encode_registry_auth(None), "e30=");
        assert_eq!(encode_registry_auth(Some(&AuthConfig::default())), "e30=");
        let a = AuthConfig {
            username: "u".into(),
            password: "p?>".into(),
            serveraddress: "127.0.0.1:5000".into(),
            ..Default::default()
        };
        let enc = encode_registry_auth(Some(&a));
        assert!(!enc.contains('+') && !enc.contains('/'));
        let dec = base64::engine::general_purpose::URL_SAFE
            .decode(enc)
            .unwrap();
        let back: serde_json::Value = serde_json::from_slice(&dec).unwrap();
        assert_eq!(back["username"], "u");
        assert_eq!(back["password"], "p?>");
        assert_eq!(back["serveraddress"], "127.0.0.1:5000");
    }
}
