//! Image references: parsing and Docker normalisation of names such as `busybox`,
//! `127.0.0.1:5000/a/b:v1` or `name@sha256:<hex>`. The one parser of the workspace: pouchd
//! (through pouch-image) and the `pouch` CLI both use it, so they cannot disagree on a name.
//!
//! Follows the grammar of `distribution/reference` and the rules of its
//! `ParseNormalizedNamed`: the first path component is a registry when it contains `.` or `:`,
//! is `localhost`, or has upper-case letters; otherwise the registry is `docker.io`, whose
//! single-component repositories live under `library/`; `index.docker.io` is `docker.io`.

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// `reason` says which part is wrong and what it must look like.
    #[error("invalid reference format {reference:?}: {reason}")]
    Invalid { reference: String, reason: String },
}

/// The registry of names that carry none.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// Legacy spelling of the default registry, normalised to [`DEFAULT_REGISTRY`].
const LEGACY_DEFAULT_REGISTRY: &str = "index.docker.io";
/// Namespace of official images on the default registry.
const OFFICIAL_NAMESPACE: &str = "library/";
/// Longest accepted name (registry plus repository), as in Docker.
const NAME_MAX: usize = 255;
/// Longest accepted tag, as in Docker.
const TAG_MAX: usize = 128;

/// A normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `docker.io`, `127.0.0.1:5000`, `[::1]:5000`, ...
    pub registry: String,
    /// Path inside the registry: `library/busybox`, `a/b`.
    pub repository: String,
    /// The tag; [`Reference::parse`] sets `latest` when neither tag nor digest is given.
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses and normalises `s`: `busybox` -> `docker.io/library/busybox:latest`.
    /// The tag defaults to `latest` only when there is no digest.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let mut r = Reference::parse_as_typed(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some("latest".to_string());
        }
        Ok(r)
    }

    /// Parses and normalises `s` like [`Reference::parse`] but keeps the tag as typed: `None`
    /// when `s` names neither a tag nor a digest, for front ends that must tell `busybox` from
    /// `busybox:latest` (docker's "Using default tag: latest").
    pub fn parse_as_typed(s: &str) -> Result<Reference, ReferenceError> {
        let invalid = |reason: &str| ReferenceError::Invalid {
            reference: s.to_string(),
            reason: reason.to_string(),
        };
        if s.is_empty() {
            return Err(invalid("the name is empty"));
        }
        if s.len() == 64 && is_lower_hex(s) {
            return Err(invalid(
                "a 64-character hexadecimal string is an image id, not a repository name",
            ));
        }

        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => {
                validate_digest(d).map_err(|reason| invalid(&reason))?;
                (rest, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag is after the last ':' that follows the last '/' (a ':' before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                (&rest[..i], Some(&rest[i + 1..]))
            }
            None => (rest, None),
        };
        if let Some(t) = tag {
            validate_tag(t).map_err(|reason| invalid(&reason))?;
        }
        if name.is_empty() {
            return Err(invalid("the repository name is empty"));
        }
        if name.len() > NAME_MAX {
            return Err(invalid(&format!(
                "the name is longer than {NAME_MAX} characters"
            )));
        }

        let (registry, path) = split_registry(name);
        if let Some(reg) = registry {
            validate_registry(reg).map_err(|reason| invalid(&reason))?;
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(invalid(&format!(
                "repository name {path:?} must be lowercase"
            )));
        }
        validate_path(path).map_err(|reason| invalid(&reason))?;

        let registry = match registry {
            None | Some(LEGACY_DEFAULT_REGISTRY) => DEFAULT_REGISTRY.to_string(),
            Some(r) => r.to_string(),
        };
        let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
            format!("{OFFICIAL_NAMESPACE}{path}")
        } else {
            path.to_string()
        };
        Ok(Reference {
            registry,
            repository,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// `docker.io/library/busybox:latest`, `docker.io/library/busybox@sha256:...`.
    pub fn full(&self) -> String {
        with_suffix(self.full_repo(), self)
    }

    /// The short form Docker shows: `busybox:latest`, `127.0.0.1:5000/x:v1`, `busybox@sha256:...`.
    pub fn familiar(&self) -> String {
        with_suffix(self.familiar_repo(), self)
    }

    /// `busybox`, `user/app`, `127.0.0.1:5000/x`.
    pub fn familiar_repo(&self) -> String {
        if self.registry != DEFAULT_REGISTRY {
            return self.full_repo();
        }
        match self.repository.strip_prefix(OFFICIAL_NAMESPACE) {
            Some(short) if !short.contains('/') => short.to_string(),
            _ => self.repository.clone(),
        }
    }

    /// `docker.io/library/busybox`.
    pub fn full_repo(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The tag, or `latest` when there is none.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or("latest")
    }

    /// The same repository with `tag` and no digest. `tag` is not validated.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        }
    }

    /// The same repository with digest `d` and no tag. `d` is not validated.
    pub fn with_digest(&self, d: &str) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: None,
            digest: Some(d.to_string()),
        }
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.full())
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// True when `s` can name an image by id: lower-case hex of 1 to 64 characters, optionally
/// after `sha256:`.
pub fn is_image_id_prefix(s: &str) -> bool {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    !hex.is_empty() && hex.len() <= 64 && is_lower_hex(hex)
}

fn with_suffix(mut repo: String, r: &Reference) -> String {
    if let Some(t) = &r.tag {
        repo.push(':');
        repo.push_str(t);
    }
    if let Some(d) = &r.digest {
        repo.push('@');
        repo.push_str(d);
    }
    repo
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Splits off the registry component, Docker's `splitDockerDomain`.
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

/// `sha256:<64 lower-case hex>`; the only algorithm the content store keeps.
fn validate_digest(d: &str) -> Result<(), String> {
    let Some((algo, hex)) = d.split_once(':') else {
        return Err(format!(
            "digest {d:?} has no algorithm (expected sha256:<64 hex>)"
        ));
    };
    if algo != "sha256" {
        return Err(format!(
            "digest {d:?} uses unsupported algorithm {algo:?} (expected sha256)"
        ));
    }
    if hex.len() != 64 || !is_lower_hex(hex) {
        return Err(format!(
            "digest {d:?} is not sha256 followed by 64 lower-case hex characters"
        ));
    }
    Ok(())
}

/// `[\w][\w.-]{0,127}`.
fn validate_tag(t: &str) -> Result<(), String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = t.chars();
    let ok = match chars.next() {
        Some(c) if word(c) => chars.all(|c| word(c) || c == '.' || c == '-'),
        _ => false,
    };
    if !ok || t.len() > TAG_MAX {
        return Err(format!(
            "tag {t:?} must be 1 to {TAG_MAX} letters, digits, '_', '.' or '-', not starting with '.' or '-'"
        ));
    }
    Ok(())
}

/// host[:port], where host is a domain name, an IPv4 address or `[IPv6]`.
fn validate_registry(reg: &str) -> Result<(), String> {
    let bad = || format!("registry {reg:?} is not a valid host[:port]");
    let (host, port) = if let Some(rest) = reg.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or_else(bad)?;
        v6.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
        match after {
            "" => (None, None),
            p => (None, Some(p.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match reg.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(reg), None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
    }
    if let Some(h) = host {
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !c.starts_with('-')
                && !c.ends_with('-')
        };
        if !h.split('.').all(component_ok) {
            return Err(bad());
        }
    }
    Ok(())
}

/// Components of `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`, separated by `/`.
fn validate_path(path: &str) -> Result<(), String> {
    for component in path.split('/') {
        if !path_component_ok(component) {
            return Err(format!(
                "repository path component {component:?} must be lower-case letters and digits, \
                 separated by '.', '_', '__' or '-'"
            ));
        }
    }
    Ok(())
}

fn path_component_ok(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = c.as_bytes();
    let mut i = 0;
    let mut expect_alnum = true;
    while i < bytes.len() {
        if expect_alnum {
            if !alnum(bytes[i]) {
                return false;
            }
            while i < bytes.len() && alnum(bytes[i]) {
                i += 1;
            }
            expect_alnum = false;
        } else {
            let start = i;
            while i < bytes.len() && !alnum(bytes[i]) {
                i += 1;
            }
            let sep = &c[start..i];
            let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-');
            if !ok {
                return false;
            }
            expect_alnum = true;
        }
    }
    // Empty, or ending in a separator, is invalid.
    !bytes.is_empty() && !expect_alnum
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn p(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn refused(s: &str) -> String {
        match Reference::parse(s) {
            Err(e @ ReferenceError::Invalid { .. }) => e.to_string(),
            other => panic!("{s:?} should be refused, got {other:?}"),
        }
    }

    #[test]
    fn short_official_name() {
        let r = p("busybox");
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/busybox");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(r.digest, None);
        assert_eq!(r.full(), "docker.io/library/busybox:latest");
        assert_eq!(r.familiar(), "busybox:latest");
        assert_eq!(r.familiar_repo(), "busybox");
        assert_eq!(r.full_repo(), "docker.io/library/busybox");
    }

    #[test]
    fn equivalent_spellings_normalise_alike() {
        let want = p("busybox");
        for s in [
            "library/busybox",
            "docker.io/busybox",
            "docker.io/library/busybox:latest",
            "index.docker.io/busybox",
            "index.docker.io/library/busybox",
        ] {
            assert_eq!(p(s), want, "{s}");
        }
    }

    #[test]
    fn user_repo_on_docker_hub() {
        let r = p("index.docker.io/x");
        assert_eq!(r.full(), "docker.io/library/x:latest");
        let r = p("user/app:1.0");
        assert_eq!(r.repository, "user/app");
        assert_eq!(r.familiar(), "user/app:1.0");
        assert_eq!(r.full(), "docker.io/user/app:1.0");
        assert_eq!(r.to_string(), "docker.io/user/app:1.0");
        // library/ is only hidden for single-component names.
        let r = p("library/a/b");
        assert_eq!(r.familiar_repo(), "library/a/b");
    }

    #[test]
    fn registry_with_port() {
        let r = p("localhost:5000/a/b:t");
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "a/b");
        assert_eq!(r.tag.as_deref(), Some("t"));
        assert_eq!(r.familiar(), "localhost:5000/a/b:t");
        assert_eq!(r.full(), "localhost:5000/a/b:t");
        let r = p("localhost/x");
        assert_eq!(r.registry, "localhost");
        let r = p("registry.example.com/team/app");
        assert_eq!(r.registry, "registry.example.com");
        assert_eq!(r.familiar(), "registry.example.com/team/app:latest");
        let r = p("[::1]:5000/x:v1");
        assert_eq!(r.registry, "[::1]:5000");
        assert_eq!(r.repository, "x");
        let r = p("127.0.0.1:5000/busybox:v1");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "busybox");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.familiar_repo(), "127.0.0.1:5000/busybox");
    }

    #[test]
    fn registry_detection() {
        for (input, registry, repository) in [
            ("localhost/app", "localhost", "app"),
            ("localhost:5000/app", "localhost:5000", "app"),
            ("127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b"),
            ("quay.io/coreos/etcd", "quay.io", "coreos/etcd"),
            ("myhost:80/x", "myhost:80", "x"),
        ] {
            let r = p(input);
            assert_eq!(
                (r.registry.as_str(), r.repository.as_str()),
                (registry, repository),
                "{input}"
            );
        }
    }

    #[test]
    fn digest_only() {
        let s = format!("127.0.0.1:5000/x@sha256:{HEX}");
        let r = p(&s);
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "x");
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some(format!("sha256:{HEX}").as_str()));
        assert_eq!(r.full(), s);
        assert_eq!(r.familiar(), s);
        assert_eq!(r.tag_or_latest(), "latest");
        let r = p(&format!("busybox@sha256:{HEX}"));
        assert_eq!(r.familiar(), format!("busybox@sha256:{HEX}"));
        assert_eq!(r.full(), format!("docker.io/library/busybox@sha256:{HEX}"));
    }

    #[test]
    fn tag_and_digest() {
        let r = p(&format!("name:tag@sha256:{HEX}"));
        assert_eq!(r.repository, "library/name");
        assert_eq!(r.tag.as_deref(), Some("tag"));
        assert_eq!(r.digest.as_deref(), Some(format!("sha256:{HEX}").as_str()));
        assert_eq!(r.familiar(), format!("name:tag@sha256:{HEX}"));
        assert_eq!(r.with_tag("v2").full(), "docker.io/library/name:v2");
        assert_eq!(
            r.with_digest(&format!("sha256:{HEX}")).familiar(),
            format!("name@sha256:{HEX}")
        );
    }

    #[test]
    fn parse_as_typed_keeps_a_missing_tag_missing() {
        let r = Reference::parse_as_typed("busybox").unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.digest, None);
        assert_eq!(r.full_repo(), "docker.io/library/busybox");
        assert_eq!(r.to_string(), "docker.io/library/busybox");
        assert_eq!(r.tag_or_latest(), "latest");
        assert_eq!(r.with_tag("latest"), p("busybox"));

        let r = Reference::parse_as_typed("127.0.0.1:5000/busybox:v1").unwrap();
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r, p("127.0.0.1:5000/busybox:v1"));

        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse_as_typed(&format!("alpine@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(r.to_string(), format!("docker.io/library/alpine@{d}"));
        assert_eq!(r, p(&format!("alpine@{d}")));

        assert_eq!(
            Reference::parse_as_typed("BusyBox").unwrap_err(),
            Reference::parse("BusyBox").unwrap_err()
        );
    }

    #[test]
    fn uppercase_refused() {
        assert!(refused("Busybox").contains("lowercase"));
        assert!(refused("docker.io/User/app").contains("lowercase"));
        // An upper-case first component is a registry host, as in Docker.
        let r = p("Registry/app");
        assert_eq!(r.registry, "Registry");
        // Tags may have upper case.
        assert_eq!(p("busybox:V1").tag.as_deref(), Some("V1"));
    }

    #[test]
    fn bad_digests_refused() {
        refused("busybox@sha256:abc");
        refused("a@sha256:xyz");
        refused(&format!("busybox@sha256:{}", HEX.to_uppercase()));
        refused(&format!("busybox@md5:{HEX}"));
        refused(&format!("busybox@{HEX}"));
        refused("busybox@");
    }

    #[test]
    fn other_invalid_names_refused() {
        refused("");
        refused(HEX);
        assert!(refused(&"a".repeat(64)).contains("hexadecimal"));
        refused("busybox:");
        refused(":tag");
        refused("busy box");
        refused("a//b");
        refused("a/");
        refused("-a");
        refused("a..b");
        refused("a___b");
        refused("busybox:-x");
        refused("busybox:.x");
        refused(&format!("busybox:{}", "t".repeat(129)));
        refused(&format!("{}/x", "r".repeat(256)));
        refused("host:port/x");
        refused("bad_host.com/x");
        refused("[zz]:5000/x");
    }

    #[test]
    fn error_message_names_the_reference() {
        assert_eq!(
            refused("busybox:"),
            "invalid reference format \"busybox:\": tag \"\" must be 1 to 128 letters, digits, \
             '_', '.' or '-', not starting with '.' or '-'"
        );
    }

    #[test]
    fn separators_accepted() {
        for s in [
            "a_b",
            "a__b",
            "a.b",
            "a-b",
            "a---b",
            "a-b_c/d.e-f",
            "a__b/c-d.e_f",
        ] {
            p(s);
        }
    }

    #[test]
    fn image_id_prefixes() {
        assert!(is_image_id_prefix("a"));
        assert!(is_image_id_prefix("0123abc"));
        assert!(is_image_id_prefix(HEX));
        assert!(is_image_id_prefix(&format!("sha256:{HEX}")));
        assert!(is_image_id_prefix("sha256:01"));
        assert!(!is_image_id_prefix(""));
        assert!(!is_image_id_prefix("sha256:"));
        assert!(!is_image_id_prefix("busybox"));
        assert!(!is_image_id_prefix("ABC"));
        assert!(!is_image_id_prefix(&format!("{HEX}0")));
    }
}
