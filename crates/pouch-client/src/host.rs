//! Parsing of the daemon address: `unix:///path`, `tcp://host:port`, `http://host:port` or a
//! bare socket path.

use std::path::PathBuf;

use crate::ClientError;

/// Where pouchd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A unix socket path.
    Unix(PathBuf),
    /// A TCP `host:port`.
    Tcp(String),
}

impl Host {
    /// Parses `unix:///path`, `tcp://host:port`, `http://host:port` or a bare path.
    pub fn parse(text: &str) -> Result<Host, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidHost {
            host: text.to_string(),
            reason: reason.to_string(),
        };
        let text_trimmed = text.trim();
        if text_trimmed.is_empty() {
            return Err(invalid("the address is empty"));
        }
        if let Some(path) = text_trimmed.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(invalid("a unix address needs a socket path"));
            }
            return Ok(Host::Unix(PathBuf::from(path)));
        }
        for scheme in ["tcp://", "http://"] {
            if let Some(rest) = text_trimmed.strip_prefix(scheme) {
                let authority = rest.trim_end_matches('/');
                if authority.is_empty() || authority.contains('/') {
                    return Err(invalid("expected tcp://host:port"));
                }
                let has_port = match authority.rsplit_once(':') {
                    Some((h, p)) => !h.is_empty() && !p.is_empty() && p.parse::<u16>().is_ok(),
                    None => false,
                };
                if !has_port {
                    return Err(invalid("expected tcp://host:port"));
                }
                return Ok(Host::Tcp(authority.to_string()));
            }
        }
        if text_trimmed.contains("://") {
            return Err(invalid("unsupported scheme; use unix:// or tcp://"));
        }
        Ok(Host::Unix(PathBuf::from(text_trimmed)))
    }

    /// The value of the `Host` header for requests to this daemon.
    pub(crate) fn authority(&self) -> &str {
        match self {
            Host::Unix(_) => "pouchd",
            Host::Tcp(a) => a,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        assert_eq!(
            Host::parse("unix:///var/run/pouchd.sock").unwrap(),
            Host::Unix("/var/run/pouchd.sock".into())
        );
        assert_eq!(
            Host::parse("/tmp/p.sock").unwrap(),
            Host::Unix("/tmp/p.sock".into())
        );
        assert_eq!(
            Host::parse("tcp://127.0.0.1:2375").unwrap(),
            Host::Tcp("127.0.0.1:2375".into())
        );
        assert_eq!(
            Host::parse("http://localhost:80/").unwrap(),
            Host::Tcp("localhost:80".into())
        );
        assert!(Host::parse("tcp://nohost").is_err());
        assert!(Host::parse("ftp://x:1").is_err());
        assert!(Host::parse("unix://").is_err());
        assert!(Host::parse("").is_err());
    }
}
