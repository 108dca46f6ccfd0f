//! Image references as the docker CLI reads them: `[registry/]path[:tag][@digest]`, with
//! Docker's normalisation rule (the first component is a registry when it contains `.` or `:`,
//! is `localhost`, or has upper-case letters; otherwise the registry is `docker.io` and a
//! single-component path gets `library/`).

use std::fmt;

/// The registry every reference without one belongs to.
pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_NAMESPACE: &str = "library";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid reference format: {0:?}")]
    Format(String),
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
}

/// A normalised reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host (`docker.io`, `127.0.0.1:5000`, ...).
    pub domain: String,
    /// Repository path within the registry (`library/busybox`).
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// Splits a name into its registry and the rest, following Docker's rule.
pub fn split_domain(name: &str) -> (String, String) {
    let (domain, mut remainder) = match name.find('/') {
        Some(i) => {
            let first = &name[..i];
            let is_domain = first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.to_lowercase() != first;
            if is_domain {
                (first.to_string(), name[i + 1..].to_string())
            } else {
                (DEFAULT_DOMAIN.to_string(), name.to_string())
            }
        }
        None => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    let domain = if domain == LEGACY_DEFAULT_DOMAIN {
        DEFAULT_DOMAIN.to_string()
    } else {
        domain
    };
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_NAMESPACE}/{remainder}");
    }
    (domain, remainder)
}

fn valid_component(c: &str) -> bool {
    // [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
    let bytes = c.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_alphanumeric() {
        return false;
    }
    if !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && matches!(bytes[i], b'.' | b'_' | b'-') {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok || sep.is_empty() {
            return false;
        }
    }
    true
}

fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn valid_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some((alg, hex)) => {
            !alg.is_empty()
                && alg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
                && hex.len() >= 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

impl Reference {
    /// Parses and normalises a reference typed by a user.
    pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
        let format_err = || ReferenceError::Format(text.to_string());
        if text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(ReferenceError::HexName(text.to_string()));
        }
        let (name_and_tag, digest) = match text.split_once('@') {
            Some((n, d)) => {
                if !valid_digest(d) {
                    return Err(format_err());
                }
                (n, Some(d.to_string()))
            }
            None => (text, None),
        };
        let (domain, remainder) = split_domain(name_and_tag);
        let (path, tag) = match remainder.rfind(':') {
            Some(i) => {
                let tag = &remainder[i + 1..];
                if !valid_tag(tag) {
                    return Err(format_err());
                }
                (remainder[..i].to_string(), Some(tag.to_string()))
            }
            None => (remainder, None),
        };
        if !valid_domain(&domain) || path.is_empty() {
            return Err(format_err());
        }
        if path.to_lowercase() != path {
            return Err(ReferenceError::Uppercase(path));
        }
        if !path.split('/').all(valid_component) {
            return Err(format_err());
        }
        if domain.len() + 1 + path.len() > 255 {
            return Err(format_err());
        }
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The full repository name: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The short repository name users type: `busybox`, `127.0.0.1:5000/busybox`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix("library/") {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// What the API's `tag` parameter takes: the digest, the tag, or `latest`.
    pub fn tag_or_digest(&self) -> String {
        if let Some(d) = &self.digest {
            return d.clone();
        }
        self.tag.clone().unwrap_or_else(|| "latest".to_string())
    }

    /// True when neither a tag nor a digest was given.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }
}

impl fmt::Display for Reference {
    /// The full form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_detection() {
        let cases = [
            ("busybox", "docker.io", "library/busybox"),
            ("library/busybox", "docker.io", "library/busybox"),
            ("user/app", "docker.io", "user/app"),
            ("localhost/app", "localhost", "app"),
            ("localhost:5000/app", "localhost:5000", "app"),
            ("127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b"),
            ("quay.io/coreos/etcd", "quay.io", "coreos/etcd"),
            ("index.docker.io/busybox", "docker.io", "library/busybox"),
            ("docker.io/busybox", "docker.io", "library/busybox"),
            ("myhost:80/x", "myhost:80", "x"),
        ];
        for (input, domain, path) in cases {
            assert_eq!(
                split_domain(input),
                (domain.to_string(), path.to_string()),
                "{input}"
            );
        }
    }

    #[test]
    fn parse_tags_and_digests() {
        let r = Reference::parse("127.0.0.1:5000/busybox:v1").unwrap();
        assert_eq!(r.domain, "127.0.0.1:5000");
        assert_eq!(r.path, "busybox");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.familiar_name(), "127.0.0.1:5000/busybox");
        assert_eq!(r.tag_or_digest(), "v1");

        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.name(), "docker.io/library/busybox");
        assert_eq!(r.familiar_name(), "busybox");
        assert_eq!(r.tag_or_digest(), "latest");
        assert!(r.is_name_only());
        assert_eq!(r.to_string(), "docker.io/library/busybox");

        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("alpine@{d}")).unwrap();
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(r.tag_or_digest(), d);
        assert_eq!(r.to_string(), format!("docker.io/library/alpine@{d}"));

        let r = Reference::parse("user/app:1.0").unwrap();
        assert_eq!(r.familiar_name(), "user/app");
        assert_eq!(r.to_string(), "docker.io/user/app:1.0");
    }

    #[test]
    fn parse_rejects_bad_input() {
        assert!(matches!(
            Reference::parse("BusyBox"),
            Err(ReferenceError::Uppercase(_))
        ));
        assert!(Reference::parse("busybox:").is_err());
        assert!(Reference::parse("busy box").is_err());
        assert!(Reference::parse("a//b").is_err());
        assert!(Reference::parse("-a").is_err());
        assert!(Reference::parse("a@sha256:xyz").is_err());
        assert!(matches!(
            Reference::parse(&"a".repeat(64)),
            Err(ReferenceError::HexName(_))
        ));
        assert!(Reference::parse("a__b/c-d.e_f").is_ok());
        assert!(Reference::parse("a___b").is_err());
    }
}
