//! Where a registry is reached: the base URL of a registry or mirror, the choice between
//! https and plain http (insecure registries), and the normalisation of login server names.
//!
//! As in Docker, registries on loopback (127.0.0.0/8, ::1, `localhost`) are insecure by
//! default. Unlike Docker, host names are not resolved to match insecure CIDRs: a CIDR entry
//! matches registries named by an IP address.

use std::net::IpAddr;

use reqwest::Url;

use crate::error::ImageError;
use pouch_api::reference::DEFAULT_REGISTRY;

/// The host that serves the API of `docker.io`.
const DOCKER_HUB_API: &str = "https://registry-1.docker.io/";

/// A registry or mirror: a base URL and the name used in messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// `https://registry-1.docker.io/`, `http://127.0.0.1:5000/`; always ends in `/`.
    /// `Err` holds the reason when the registry name does not make a URL.
    base: Result<Url, String>,
    /// `docker.io`, `127.0.0.1:5000`.
    name: String,
}

impl Endpoint {
    /// The endpoint of registry `registry` (host[:port], as in a reference).
    pub(crate) fn for_registry(registry: &str, insecure: &InsecureRegistries) -> Endpoint {
        if registry == DEFAULT_REGISTRY {
            return Endpoint {
                base: Url::parse(DOCKER_HUB_API).map_err(|e| e.to_string()),
                name: DEFAULT_REGISTRY.to_string(),
            };
        }
        let scheme = if insecure.is_insecure(registry) {
            "http"
        } else {
            "https"
        };
        let base = Url::parse(&format!("{scheme}://{registry}/"))
            .map_err(|e| format!("registry {registry:?} is not a valid host[:port]: {e}"))
            .and_then(|u| {
                if u.path() == "/" && u.query().is_none() && u.username().is_empty() {
                    Ok(u)
                } else {
                    Err(format!("registry {registry:?} is not a valid host[:port]"))
                }
            });
        Endpoint {
            base,
            name: registry.to_string(),
        }
    }

    /// The endpoint of a mirror given as a URL (`http://127.0.0.1:5000`, `https://m.example/`)
    /// or as host[:port] (scheme chosen as for registries).
    pub(crate) fn for_mirror(
        mirror: &str,
        insecure: &InsecureRegistries,
    ) -> Result<Endpoint, ImageError> {
        let bad = |why: String| {
            ImageError::InvalidArgument(format!(
                "registry mirror {mirror:?} is not a valid URL: {why}"
            ))
        };
        let text = mirror.trim();
        let with_scheme = if text.contains("://") {
            text.to_string()
        } else {
            let host = text.split('/').next().unwrap_or_default();
            let scheme = if insecure.is_insecure(host) {
                "http"
            } else {
                "https"
            };
            format!("{scheme}://{text}")
        };
        let mut url = Url::parse(&with_scheme).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(format!(
                "scheme {:?} is not http or https",
                url.scheme()
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("it must not have a query or fragment".into()));
        }
        let host = url
            .host_str()
            .ok_or_else(|| bad("it has no host".into()))?
            .to_string();
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        let name = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        };
        Ok(Endpoint {
            base: Ok(url),
            name,
        })
    }

    /// The name used in messages and in `pouch login`.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// A key identifying the server, for caches.
    pub(crate) fn key(&self) -> String {
        match &self.base {
            Ok(u) => u.to_string(),
            Err(_) => self.name.clone(),
        }
    }

    /// `base` joined with `path` (relative, e.g. `v2/library/busybox/manifests/latest`).
    pub(crate) fn url(&self, path: &str) -> Result<Url, ImageError> {
        let base = self
            .base
            .as_ref()
            .map_err(|why| ImageError::InvalidArgument(why.clone()))?;
        base.join(path).map_err(|e| ImageError::Registry {
            registry: self.name.clone(),
            message: format!("cannot build the URL of {path}: {e}"),
        })
    }
}

/// The server name `pouch login` was given (`""`, `https://index.docker.io/v1/`,
/// `localhost:5000`, `http://host:5000/`) as a registry name (`docker.io`, `localhost:5000`).
pub(crate) fn login_registry_name(server: &str) -> String {
    let s = server.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = s.split('/').next().unwrap_or_default();
    match host {
        "" | "docker.io" | "index.docker.io" | "registry-1.docker.io" => {
            DEFAULT_REGISTRY.to_string()
        }
        h => h.to_string(),
    }
}

/// Registries reached over plain http.
#[derive(Debug, Clone, Default)]
pub(crate) struct InsecureRegistries {
    names: Vec<String>,
    cidrs: Vec<(IpAddr, u8)>,
}

impl InsecureRegistries {
    /// Parses entries `host`, `host:port` or CIDR `10.0.0.0/8` (a leading scheme is ignored).
    pub(crate) fn parse(entries: &[String]) -> Result<InsecureRegistries, ImageError> {
        let mut out = InsecureRegistries::default();
        for entry in entries {
            let e = entry.trim();
            let e = e
                .strip_prefix("http://")
                .or_else(|| e.strip_prefix("https://"))
                .unwrap_or(e)
                .trim_end_matches('/');
            if e.is_empty() {
                continue;
            }
            match e.split_once('/') {
                Some((ip, bits)) => {
                    let cidr = parse_cidr(ip, bits).ok_or_else(|| {
                        ImageError::InvalidArgument(format!(
                            "insecure registry {entry:?} is neither host[:port] nor a CIDR such as 10.0.0.0/8"
                        ))
                    })?;
                    out.cidrs.push(cidr);
                }
                None => out.names.push(e.to_ascii_lowercase()),
            }
        }
        Ok(out)
    }

    /// Whether `registry` (host[:port]) is reached over plain http.
    pub(crate) fn is_insecure(&self, registry: &str) -> bool {
        let registry = registry.to_ascii_lowercase();
        let host = host_of(&registry);
        if host == "localhost" || host.ends_with(".localhost") {
            return true;
        }
        if self.names.iter().any(|n| *n == registry || *n == host) {
            return true;
        }
        let Ok(ip) = host.parse::<IpAddr>() else {
            return false;
        };
        if ip.is_loopback() {
            return true;
        }
        self.cidrs
            .iter()
            .any(|(net, bits)| cidr_contains(*net, *bits, ip))
    }
}

/// The host of `host[:port]` or `[v6][:port]`, without brackets.
fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    match registry.rsplit_once(':') {
        // A bare IPv6 address has several colons; it has no port.
        Some((h, _)) if !h.contains(':') => h,
        _ => registry,
    }
}

fn parse_cidr(ip: &str, bits: &str) -> Option<(IpAddr, u8)> {
    let ip: IpAddr = ip.trim_matches(['[', ']']).parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn cidr_contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        (IpAddr::V4(n), IpAddr::V6(i)) => i
            .to_ipv4_mapped()
            .is_some_and(|i| cidr_contains(IpAddr::V4(n), bits, IpAddr::V4(i))),
        (IpAddr::V6(_), IpAddr::V4(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insecure(entries: &[&str]) -> InsecureRegistries {
        InsecureRegistries::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap()
    }

    #[test]
    fn loopback_is_insecure_by_default() {
        let none = insecure(&[]);
        for r in [
            "127.0.0.1:5000",
            "127.1.2.3",
            "localhost",
            "localhost:5000",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(none.is_insecure(r), "{r}");
        }
        for r in ["10.0.0.1:5000", "registry.example.com", "quay.io:443"] {
            assert!(!none.is_insecure(r), "{r}");
        }
    }

    #[test]
    fn configured_entries() {
        let list = insecure(&[
            "myreg:5000",
            "plainhost",
            "10.0.0.0/8",
            "http://other:1/",
            "fd00::/8",
        ]);
        assert!(list.is_insecure("myreg:5000"));
        assert!(!list.is_insecure("myreg:5001"));
        assert!(!list.is_insecure("myreg"));
        assert!(list.is_insecure("plainhost"));
        assert!(list.is_insecure("plainhost:8080"));
        assert!(list.is_insecure("10.1.2.3:5000"));
        assert!(!list.is_insecure("11.1.2.3:5000"));
        assert!(list.is_insecure("other:1"));
        assert!(list.is_insecure("[fd12::1]:5000"));
        assert!(!list.is_insecure("[fe80::1]:5000"));
        assert!(InsecureRegistries::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(InsecureRegistries::parse(&["nonsense/8".into()]).is_err());
        assert!(cidr_contains(
            "0.0.0.0".parse().unwrap(),
            0,
            "8.8.8.8".parse().unwrap()
        ));
    }

    #[test]
    fn registry_endpoints() {
        let none = insecure(&[]);
        let hub = Endpoint::for_registry("docker.io", &none);
        assert_eq!(hub.name(), "docker.io");
        assert_eq!(
            hub.url("v2/library/busybox/manifests/latest")
                .unwrap()
                .as_str(),
            "https://registry-1.docker.io/v2/library/busybox/manifests/latest"
        );
        let local = Endpoint::for_registry("127.0.0.1:5000", &none);
        assert_eq!(
            local.url("v2/").unwrap().as_str(),
            "http://127.0.0.1:5000/v2/"
        );
        let quay = Endpoint::for_registry("quay.io", &none);
        assert_eq!(quay.url("v2/").unwrap().as_str(), "https://quay.io/v2/");
        let v6 = Endpoint::for_registry("[::1]:5000", &none);
        assert_eq!(v6.url("v2/").unwrap().as_str(), "http://[::1]:5000/v2/");
        let bad = Endpoint::for_registry("a b", &none);
        assert!(matches!(
            bad.url("v2/"),
            Err(ImageError::InvalidArgument(_))
        ));
    }

    #[test]
    fn mirror_endpoints() {
        let none = insecure(&[]);
        let m = Endpoint::for_mirror("http://127.0.0.1:5001", &none).unwrap();
        assert_eq!(m.name(), "127.0.0.1:5001");
        assert_eq!(
            m.url("v2/x").unwrap().as_str(),
            "http://127.0.0.1:5001/v2/x"
        );
        let m = Endpoint::for_mirror("https://mirror.example.com/prefix", &none).unwrap();
        assert_eq!(m.name(), "mirror.example.com");
        assert_eq!(
            m.url("v2/x").unwrap().as_str(),
            "https://mirror.example.com/prefix/v2/x"
        );
        let m = Endpoint::for_mirror("localhost:5002", &none).unwrap();
        assert_eq!(m.url("v2/").unwrap().as_str(), "http://localhost:5002/v2/");
        let m = Endpoint::for_mirror("mirror.example.com", &none).unwrap();
        assert_eq!(
            m.url("v2/").unwrap().as_str(),
            "https://mirror.example.com/v2/"
        );
        assert!(Endpoint::for_mirror("ftp://x", &none).is_err());
        assert!(Endpoint::for_mirror("http://x/?a=b", &none).is_err());
        assert!(Endpoint::for_mirror("http://", &none).is_err());
    }

    #[test]
    fn login_names() {
        for s in [
            "",
            "docker.io",
            "https://index.docker.io/v1/",
            "index.docker.io",
            "registry-1.docker.io",
        ] {
            assert_eq!(login_registry_name(s), "docker.io", "{s}");
        }
        assert_eq!(login_registry_name("localhost:5000"), "localhost:5000");
        assert_eq!(
            login_registry_name("http://127.0.0.1:5000/v2/"),
            "127.0.0.1:5000"
        );
        assert_eq!(login_registry_name("quay.io"), "quay.io");
    }
}
