//! `ClientError`: every way a call to pouchd can fail, as the CLI reports it.

use pouch_api::ErrorKind;

/// An error from a call to pouchd.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The host string given to [`crate::Client::new`] is not usable.
    #[error("invalid pouchd host {host:?}: {reason}")]
    InvalidHost { host: String, reason: String },
    /// No connection could be made to the daemon.
    #[error("cannot connect to pouchd at {host}: {source} (is pouchd running?)")]
    Connect {
        host: String,
        #[source]
        source: std::io::Error,
    },
    /// The daemon answered with an error status; `message` is the `{"message"}` body.
    #[error("{message}")]
    Api { status: u16, message: String },
    /// The daemon's answer could not be decoded.
    #[error("cannot decode the answer of pouchd to {what}: {source}")]
    Decode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// The connection failed while a request or its answer was in flight.
    #[error("i/o error talking to pouchd ({what}): {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl ClientError {
    /// The HTTP status of a daemon error, if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The error kind of a daemon error (`None` for transport and decoding errors).
    pub fn kind(&self) -> Option<ErrorKind> {
        self.status().map(ErrorKind::from_status)
    }

    /// True when the daemon answered 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// True when this error came from the daemon (rather than from the transport).
    pub fn is_daemon_error(&self) -> bool {
        matches!(self, ClientError::Api { .. })
    }

    pub(crate) fn io(what: impl Into<String>, source: impl Into<std::io::Error>) -> Self {
        ClientError::Io {
            what: what.into(),
            source: source.into(),
        }
    }

    pub(crate) fn hyper(what: impl Into<String>, err: hyper::Error) -> Self {
        ClientError::Io {
            what: what.into(),
            source: std::io::Error::other(err),
        }
    }
}
