//! The registry HTTP client (distribution API v2) on `reqwest`: where an image is read from
//! (docker.io mirrors in order, then docker.io; https, or http for insecure registries),
//! authentication (bearer tokens and basic), retries of transient failures, and manifests and
//! blobs up and down. The mirrors and insecure registries can be replaced while the daemon
//! runs (`pouch updatedaemon`); each operation uses the settings it started with.
//!
//! - `endpoint`: base URLs, insecure registries, login server names;
//! - `auth`: credentials, challenges, tokens;
//! - `repository`: requests against one repository of one endpoint.
//!
//! Written directly on reqwest rather than `oci-client`, which keeps layers in memory, has no
//! mirror fallback and no retries.

mod auth;
mod endpoint;
mod repository;

use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

pub use auth::Credentials;
pub use repository::Repository;

use crate::content::sha256_digest;
use crate::error::ImageError;
use auth::AuthCache;
use endpoint::{Endpoint, InsecureRegistries};
use pouch_api::reference::{Reference, DEFAULT_REGISTRY};

/// OCI image manifest.
pub const MEDIA_TYPE_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const MEDIA_TYPE_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest, schema 2.
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const MEDIA_TYPE_DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema 1 manifest (signed); never asked for, but some registries still send it.
pub const MEDIA_TYPE_DOCKER_SCHEMA1: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Attempts of a request whose failure is transient (the first try and three retries).
pub(crate) const REQUEST_ATTEMPTS: u32 = 4;
/// Waiting for the answer headers of a request (per attempt).
pub(crate) const HEADERS_TIMEOUT: Duration = Duration::from_secs(60);
/// Reading a small answer body (manifest, token, error).
pub(crate) const BODY_TIMEOUT: Duration = Duration::from_secs(120);
/// Opening a TCP (and TLS) connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Registry settings of the daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryConfig {
    /// Mirrors of docker.io, tried in order: URLs such as `http://127.0.0.1:5000`.
    pub mirrors: Vec<String>,
    /// Registries reached over plain http: `host:port`, `host` or CIDR `10.0.0.0/8`.
    /// Loopback registries are always insecure.
    pub insecure: Vec<String>,
}

impl RegistryConfig {
    /// Checks the mirrors and insecure entries; `RegistryClient::new` skips bad ones with a
    /// warning, so the daemon should call this at start-up to refuse them instead.
    pub fn validate(&self) -> Result<(), ImageError> {
        let insecure = InsecureRegistries::parse(&self.insecure)?;
        for m in &self.mirrors {
            Endpoint::for_mirror(m, &insecure)?;
        }
        Ok(())
    }
}

/// A manifest (or index) as the registry sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
}

impl Manifest {
    /// A manifest of `bytes`, digest computed.
    pub fn new(bytes: Vec<u8>, media_type: &str) -> Manifest {
        let digest = sha256_digest(&bytes);
        Manifest {
            bytes,
            media_type: media_type.to_string(),
            digest,
        }
    }
}

/// A blob download: its size when the registry said it, and the bytes as they come.
pub struct BlobStream {
    pub size: Option<u64>,
    pub stream: Pin<Box<dyn Stream<Item = Result<Bytes, ImageError>> + Send>>,
}

impl std::fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStream")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// The registry client; cheap to clone (clones share connections, auth caches and the
/// registry settings, which [`RegistryClient::reconfigure`] swaps for all of them).
#[derive(Clone)]
pub struct RegistryClient {
    http: reqwest::Client,
    /// The settings and what they resolve to. An operation takes the `Arc` once at its
    /// start, so a pull already running keeps the settings it began with.
    endpoints: Arc<RwLock<Arc<Endpoints>>>,
    auth: Arc<AuthCache>,
}

/// A [`RegistryConfig`] and the endpoints it resolves to.
#[derive(Debug)]
struct Endpoints {
    config: RegistryConfig,
    insecure: InsecureRegistries,
    mirrors: Vec<Endpoint>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let endpoints = self.endpoints();
        f.debug_struct("RegistryClient")
            .field("mirrors", &endpoints.mirrors)
            .field("insecure", &endpoints.insecure)
            .finish_non_exhaustive()
    }
}

impl RegistryClient {
    /// A client for `cfg`. Invalid mirrors or insecure entries are skipped with a warning
    /// (see [`RegistryConfig::validate`]).
    pub fn new(cfg: RegistryConfig) -> RegistryClient {
        let insecure = InsecureRegistries::parse(&cfg.insecure).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "ignoring the insecure registry list");
            InsecureRegistries::default()
        });
        let mirrors = cfg
            .mirrors
            .iter()
            .filter_map(|m| match Endpoint::for_mirror(m, &insecure) {
                Ok(e) => Some(e),
                Err(e) => {
                    tracing::warn!(error = %e, "ignoring registry mirror");
                    None
                }
            })
            .collect();
        let endpoints = Endpoints {
            config: cfg,
            insecure,
            mirrors,
        };
        let http = reqwest::Client::builder()
            .user_agent(concat!("pouch/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot configure the HTTP client; using defaults");
                reqwest::Client::new()
            });
        RegistryClient {
            http,
            endpoints: Arc::new(RwLock::new(Arc::new(endpoints))),
            auth: Arc::new(AuthCache::default()),
        }
    }

    /// The registry settings in use.
    pub fn config(&self) -> RegistryConfig {
        self.endpoints().config.clone()
    }

    /// Replaces the mirrors and insecure registries (of this client and every clone), for
    /// the operations that start from now on. Unlike [`RegistryClient::new`], a bad entry
    /// is refused (nothing changes) rather than skipped.
    pub fn reconfigure(&self, cfg: RegistryConfig) -> Result<(), ImageError> {
        let insecure = InsecureRegistries::parse(&cfg.insecure)?;
        let mirrors = cfg
            .mirrors
            .iter()
            .map(|m| Endpoint::for_mirror(m, &insecure))
            .collect::<Result<Vec<_>, _>>()?;
        let endpoints = Arc::new(Endpoints {
            config: cfg,
            insecure,
            mirrors,
        });
        *self.endpoints.write().unwrap_or_else(|e| e.into_inner()) = endpoints;
        Ok(())
    }

    /// The current settings, taken once per operation.
    fn endpoints(&self) -> Arc<Endpoints> {
        self.endpoints
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Finds where `r` can be read and fetches its manifest (by digest when it has one, else by
    /// tag): for docker.io each mirror in order (any failure falls through to the next), then
    /// docker.io itself; for other registries the registry itself.
    pub async fn resolve(
        &self,
        r: &Reference,
        creds: Option<Credentials>,
    ) -> Result<(Repository, Manifest), ImageError> {
        let wanted = r
            .digest
            .clone()
            .unwrap_or_else(|| r.tag_or_latest().to_string());
        let endpoints = self.endpoints();
        if r.registry == DEFAULT_REGISTRY {
            for mirror in endpoints.mirrors.iter() {
                let repo = self.repository_at(mirror.clone(), &r.repository, creds.clone());
                match repo.manifest_with_attempts(&wanted, 1).await {
                    Ok(m) => return Ok((repo, m)),
                    Err(e) => tracing::info!(
                        mirror = mirror.name(),
                        reference = %r,
                        error = %e,
                        "registry mirror cannot serve the image; trying the next source"
                    ),
                }
            }
        }
        let endpoint = Endpoint::for_registry(&r.registry, &endpoints.insecure);
        let repo = self.repository_at(endpoint, &r.repository, creds);
        let manifest = repo.manifest(&wanted).await?;
        Ok((repo, manifest))
    }

    /// A handle on `r`'s repository in `r`'s own registry (no mirrors), e.g. for pushing.
    pub fn repository(&self, r: &Reference, creds: Option<Credentials>) -> Repository {
        let endpoint = Endpoint::for_registry(&r.registry, &self.endpoints().insecure);
        self.repository_at(endpoint, &r.repository, creds)
    }

    /// Checks `creds` against `server`'s `/v2/` (through the token server when the registry
    /// uses bearer tokens). `server` is what `docker login` takes: empty for docker.io,
    /// `localhost:5000`, `https://index.docker.io/v1/`...
    pub async fn login(&self, server: &str, creds: Credentials) -> Result<(), ImageError> {
        let name = endpoint::login_registry_name(server);
        let endpoint = Endpoint::for_registry(&name, &self.endpoints().insecure);
        let repo = self.repository_at(endpoint, "", Some(creds));
        repo.check_login().await
    }

    fn repository_at(
        &self,
        endpoint: Endpoint,
        repository: &str,
        creds: Option<Credentials>,
    ) -> Repository {
        Repository::new(
            self.http.clone(),
            self.auth.clone(),
            endpoint,
            repository,
            creds.filter(|c| !c.is_empty()),
        )
    }
}

/// Whether a request that failed this way may succeed if sent again: it could not connect,
/// timed out, or the connection broke before an answer.
pub(crate) fn is_transient(e: &reqwest::Error) -> bool {
    e.is_connect() || e.is_timeout() || (e.is_request() && !e.is_builder())
}

/// Wait before attempt `attempt + 1`: 200 ms, 400 ms, 800 ms...
pub(crate) fn retry_delay(attempt: u32) -> Duration {
    Duration::from_millis(200u64 << attempt.saturating_sub(1).min(5))
}

/// An error with its causes: reqwest's own message is often just "error sending request".
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Reads at most `max` bytes of an answer body (more is an error), within [`BODY_TIMEOUT`].
pub(crate) async fn read_limited(resp: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let read = async {
        let mut out = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| error_chain(&e))?;
            if out.len() + chunk.len() > max {
                return Err(format!("the answer is larger than {max} bytes"));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    };
    tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "the answer did not arrive within {}s",
                BODY_TIMEOUT.as_secs()
            ))
        })
}

/// A readable message for an error answer: the registry's `errors` (code and message) when
/// the body has them, else the status and the start of the body.
pub(crate) fn registry_error_message(status: reqwest::StatusCode, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(parsed) = serde_json::from_slice::<Errors>(body) {
        let items: Vec<String> = parsed
            .errors
            .iter()
            .map(|e| match (e.code.is_empty(), e.message.is_empty()) {
                (false, false) => format!("{} ({})", e.message, e.code),
                (true, false) => e.message.clone(),
                _ => e.code.clone(),
            })
            .filter(|s| !s.is_empty())
            .collect();
        if !items.is_empty() {
            return format!("{}: {}", status, items.join("; "));
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return status.to_string();
    }
    let short: String = text.chars().take(200).collect();
    format!("{status}: {short}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_from_registry_bodies() {
        let body =
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(
            registry_error_message(reqwest::StatusCode::NOT_FOUND, body),
            "404 Not Found: manifest unknown (MANIFEST_UNKNOWN)"
        );
        assert_eq!(
            registry_error_message(reqwest::StatusCode::BAD_GATEWAY, b"upstream down\n"),
            "502 Bad Gateway: upstream down"
        );
        assert_eq!(
            registry_error_message(reqwest::StatusCode::FORBIDDEN, b""),
            "403 Forbidden"
        );
    }

    #[test]
    fn retry_delays_grow() {
        assert_eq!(retry_delay(1), Duration::from_millis(200));
        assert_eq!(retry_delay(2), Duration::from_millis(400));
        assert_eq!(retry_delay(3), Duration::from_millis(800));
        assert_eq!(retry_delay(60), Duration::from_millis(200 << 5));
    }

    #[test]
    fn config_validation() {
        let ok = RegistryConfig {
            mirrors: vec!["http://127.0.0.1:5000".into(), "mirror.example.com".into()],
            insecure: vec!["10.0.0.0/8".into(), "myreg:5000".into()],
        };
        ok.validate().unwrap();
        let bad_mirror = RegistryConfig {
            mirrors: vec!["ftp://x".into()],
            ..Default::default()
        };
        assert!(matches!(
            bad_mirror.validate(),
            Err(ImageError::InvalidArgument(_))
        ));
        let bad_cidr = RegistryConfig {
            insecure: vec!["10.0.0.0/40".into()],
            ..Default::default()
        };
        assert!(matches!(
            bad_cidr.validate(),
            Err(ImageError::InvalidArgument(_))
        ));
        let client = RegistryClient::new(RegistryConfig {
            mirrors: vec!["ftp://x".into(), "http://127.0.0.1:1".into()],
            ..Default::default()
        });
        assert_eq!(client.endpoints().mirrors.len(), 1);
    }

    #[test]
    fn reconfigure_swaps_for_every_clone_and_refuses_bad_entries() {
        let client = RegistryClient::new(RegistryConfig::default());
        let clone = client.clone();
        let key = |c: &RegistryClient| {
            Endpoint::for_registry("10.1.2.3:5000", &c.endpoints().insecure).key()
        };
        assert_eq!(key(&clone), "https://10.1.2.3:5000/");
        let cfg = RegistryConfig {
            mirrors: vec!["http://127.0.0.1:5000".into()],
            insecure: vec!["10.0.0.0/8".into()],
        };
        client.reconfigure(cfg.clone()).unwrap();
        assert_eq!(clone.config(), cfg);
        assert_eq!(clone.endpoints().mirrors.len(), 1);
        assert_eq!(key(&clone), "http://10.1.2.3:5000/");
        // a bad mirror or insecure entry changes nothing, and the error names it
        for bad in [
            RegistryConfig {
                mirrors: vec!["ftp://x".into()],
                insecure: vec![],
            },
            RegistryConfig {
                mirrors: vec![],
                insecure: vec!["10.0.0.0/40".into()],
            },
        ] {
            let err = client.reconfigure(bad.clone()).unwrap_err().to_string();
            let named = bad.mirrors.first().or(bad.insecure.first()).unwrap();
            assert!(err.contains(named.as_str()), "{err}");
            assert_eq!(client.config(), cfg);
        }
        client.reconfigure(RegistryConfig::default()).unwrap();
        assert!(clone.endpoints().mirrors.is_empty());
    }

    /// The manager runs these on spawned tasks.
    #[test]
    fn futures_are_send() {
        fn send<T: Send>(_: T) {}
        let client = RegistryClient::new(RegistryConfig::default());
        let r = Reference::parse("127.0.0.1:1/x").unwrap();
        let repo = client.repository(&r, None);
        let m = Manifest::new(Vec::new(), MEDIA_TYPE_OCI_MANIFEST);
        send(client.resolve(&r, None));
        send(client.login("", Credentials::default()));
        send(repo.manifest("v1"));
        send(repo.blob("sha256:00"));
        send(repo.blob_exists("sha256:00"));
        send(repo.push_blob("sha256:00", 0, std::path::Path::new("/x"), |_| {}));
        send(repo.push_manifest("v1", &m));
    }

    #[test]
    fn manifest_digest_is_computed() {
        let m = Manifest::new(b"{}".to_vec(), MEDIA_TYPE_OCI_MANIFEST);
        assert_eq!(m.digest, sha256_digest(b"{}"));
        assert_eq!(m.media_type, MEDIA_TYPE_OCI_MANIFEST);
    }
}
