//! Registry authentication: credentials, `WWW-Authenticate` challenges, the bearer token flow
//! (`GET realm?service=&scope=`, or the OAuth2 refresh-token grant with an identity token) and
//! the caches of challenges (per server) and tokens (per server, scope and credentials).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use sha2::{Digest, Sha256};

use super::{read_limited, registry_error_message, retry_delay, HEADERS_TIMEOUT, REQUEST_ATTEMPTS};
use crate::error::ImageError;

/// Tokens without `expires_in` live 60 seconds (the distribution spec's default).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// Tokens are dropped from the cache this long before they expire.
const TOKEN_EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// Largest token response read.
const TOKEN_RESPONSE_MAX: usize = 1 << 20;
/// `client_id` sent in OAuth2 grants.
const CLIENT_ID: &str = "pouch";

/// What to authenticate a registry with. An empty value means "not given".
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// An OAuth2 refresh token from an earlier login (`IdentityToken`).
    pub identity_token: String,
    /// A bearer token to send as is (`RegistryToken`).
    pub registry_token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |s: &str| if s.is_empty() { "" } else { "<hidden>" };
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &hidden(&self.password))
            .field("identity_token", &hidden(&self.identity_token))
            .field("registry_token", &hidden(&self.registry_token))
            .finish()
    }
}

impl From<&pouch_api::system::AuthConfig> for Credentials {
    /// Takes `username`/`password`, or when both are empty decodes `auth` (base64 of
    /// `user:pass`, as in `~/.docker/config.json`). An undecodable `auth` is ignored.
    fn from(a: &pouch_api::system::AuthConfig) -> Credentials {
        let (mut username, mut password) = (a.username.clone(), a.password.clone());
        if username.is_empty() && password.is_empty() && !a.auth.is_empty() {
            match decode_auth(&a.auth) {
                Some((u, p)) => (username, password) = (u, p),
                None => tracing::warn!(
                    server = %a.serveraddress,
                    "ignoring the auth field of the credentials: not base64 of user:password"
                ),
            }
        }
        Credentials {
            username,
            password,
            identity_token: a.identitytoken.clone(),
            registry_token: a.registrytoken.clone(),
        }
    }
}

fn decode_auth(auth: &str) -> Option<(String, String)> {
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
    ];
    let bytes = engines.iter().find_map(|e| e.decode(auth.trim()).ok())?;
    let text = String::from_utf8(bytes).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

impl Credentials {
    /// Whether nothing was given.
    pub fn is_empty(&self) -> bool {
        self.username.is_empty()
            && self.password.is_empty()
            && self.identity_token.is_empty()
            && self.registry_token.is_empty()
    }

    fn basic_header(&self) -> Option<HeaderValue> {
        if self.username.is_empty() {
            return None;
        }
        let raw = format!("{}:{}", self.username, self.password);
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        );
        sensitive(&value)
    }

    /// A hash of everything in the credentials, so that tokens are only reused with the
    /// credentials that obtained them.
    fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            &self.username,
            &self.password,
            &self.identity_token,
            &self.registry_token,
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(value).ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// An authentication scheme a registry asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Bearer { realm: String, service: String },
    Basic,
}

/// The usable challenge of a 401 answer, preferring Bearer over Basic.
pub(crate) fn challenge_of(headers: &HeaderMap) -> Option<Challenge> {
    let mut basic = false;
    for value in headers.get_all(WWW_AUTHENTICATE) {
        let Ok(text) = value.to_str() else { continue };
        for (scheme, params) in parse_www_authenticate(text) {
            if scheme.eq_ignore_ascii_case("bearer") {
                if let Some(realm) = params.get("realm") {
                    return Some(Challenge::Bearer {
                        realm: realm.clone(),
                        service: params.get("service").cloned().unwrap_or_default(),
                    });
                }
            } else if scheme.eq_ignore_ascii_case("basic") {
                basic = true;
            }
        }
    }
    basic.then_some(Challenge::Basic)
}

/// Parses `Bearer realm="..",service="..", Basic realm=".."` into schemes with parameters
/// (parameter names lower-cased).
pub(crate) fn parse_www_authenticate(text: &str) -> Vec<(String, HashMap<String, String>)> {
    let mut out: Vec<(String, HashMap<String, String>)> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let is_sep = |c: char| c.is_whitespace() || c == ',' || c == '=';
    loop {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let start = i;
        while i < chars.len() && !is_sep(chars[i]) {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        if token.is_empty() {
            // A stray '='.
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        if j < chars.len() && chars[j] == '=' {
            // A parameter of the current challenge.
            i = j + 1;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            let mut value = String::new();
            if i < chars.len() && chars[i] == '"' {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    value.push(chars[i]);
                    i += 1;
                }
                i += 1;
            } else {
                while i < chars.len() && chars[i] != ',' && !chars[i].is_whitespace() {
                    value.push(chars[i]);
                    i += 1;
                }
            }
            if let Some((_, params)) = out.last_mut() {
                params.insert(token.to_ascii_lowercase(), value);
            }
        } else {
            out.push((token, HashMap::new()));
        }
    }
    out
}

/// The scope of a request: the repository and the actions, or none (login's `/v2/`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Scope {
    repository: String,
    push: bool,
}

impl Scope {
    pub(crate) fn new(repository: &str, push: bool) -> Scope {
        Scope {
            repository: repository.to_string(),
            push,
        }
    }

    /// `repository:<repo>:pull` or `...:pull,push`; `None` without repository.
    fn as_param(&self) -> Option<String> {
        if self.repository.is_empty() {
            return None;
        }
        let actions = if self.push { "pull,push" } else { "pull" };
        Some(format!("repository:{}:{actions}", self.repository))
    }
}

#[derive(Debug)]
struct CachedToken {
    header: HeaderValue,
    expires: Instant,
}

/// Challenges per server and tokens per (server, scope, credentials); shared by all clones of
/// a `RegistryClient`.
#[derive(Debug, Default)]
pub(crate) struct AuthCache {
    challenges: Mutex<HashMap<String, Challenge>>,
    tokens: Mutex<HashMap<String, CachedToken>>,
}

/// Who asks: the HTTP client, the registry (for messages and cache keys) and the credentials.
pub(crate) struct AuthRequest<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) registry: &'a str,
    pub(crate) server_key: &'a str,
    pub(crate) creds: Option<&'a Credentials>,
    pub(crate) scope: &'a Scope,
}

impl AuthRequest<'_> {
    fn token_key(&self) -> String {
        format!(
            "{}\n{:?}\n{}",
            self.server_key,
            self.scope.as_param(),
            self.creds.map(Credentials::fingerprint).unwrap_or_default()
        )
    }
}

impl AuthCache {
    pub(crate) fn set_challenge(&self, server_key: &str, c: Challenge) {
        lock(&self.challenges).insert(server_key.to_string(), c);
    }

    /// Forgets the token a request was refused with.
    pub(crate) fn forget_token(&self, req: &AuthRequest<'_>) {
        lock(&self.tokens).remove(&req.token_key());
    }

    /// The `Authorization` header for a request, fetching a token when the server asked for
    /// Bearer and none is cached. `None` when the server has not asked for anything yet, or
    /// asked for Basic and there are no credentials.
    pub(crate) async fn authorization(
        &self,
        req: &AuthRequest<'_>,
    ) -> Result<Option<HeaderValue>, ImageError> {
        if let Some(c) = req.creds {
            if !c.registry_token.is_empty() {
                return Ok(sensitive(&format!("Bearer {}", c.registry_token)));
            }
        }
        let challenge = lock(&self.challenges).get(req.server_key).cloned();
        match challenge {
            None => Ok(None),
            // Without credentials the request goes out bare and the registry's refusal is
            // reported for the object asked for.
            Some(Challenge::Basic) => Ok(req.creds.and_then(Credentials::basic_header)),
            Some(Challenge::Bearer { realm, service }) => {
                let key = req.token_key();
                if let Some(t) = lock(&self.tokens).get(&key) {
                    if t.expires > Instant::now() {
                        return Ok(Some(t.header.clone()));
                    }
                }
                let (token, lifetime) = fetch_token(req, &realm, &service).await?;
                let header =
                    sensitive(&format!("Bearer {token}")).ok_or_else(|| ImageError::Registry {
                        registry: req.registry.to_string(),
                        message: format!("token server {realm} returned a malformed token"),
                    })?;
                let expires = Instant::now() + lifetime.saturating_sub(TOKEN_EXPIRY_MARGIN);
                lock(&self.tokens).insert(
                    key,
                    CachedToken {
                        header: header.clone(),
                        expires,
                    },
                );
                Ok(Some(header))
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Asks the token server at `realm` for a token of `req.scope`.
async fn fetch_token(
    req: &AuthRequest<'_>,
    realm: &str,
    service: &str,
) -> Result<(String, Duration), ImageError> {
    let registry_err = |message: String| ImageError::Registry {
        registry: req.registry.to_string(),
        message,
    };
    let url = reqwest::Url::parse(realm)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            registry_err(format!(
                "token server realm {realm:?} is not an http(s) URL"
            ))
        })?;
    let scope = req.scope.as_param();
    let creds = req.creds.cloned().unwrap_or_default();

    let mut attempt = 0;
    let resp = loop {
        attempt += 1;
        let builder = if !creds.identity_token.is_empty() {
            let mut form = vec![
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", creds.identity_token.clone()),
                ("client_id", CLIENT_ID.to_string()),
            ];
            if !service.is_empty() {
                form.push(("service", service.to_string()));
            }
            if let Some(s) = &scope {
                form.push(("scope", s.clone()));
            }
            req.http.post(url.clone()).form(&form)
        } else {
            let mut query: Vec<(&str, String)> = Vec::new();
            if !service.is_empty() {
                query.push(("service", service.to_string()));
            }
            if let Some(s) = &scope {
                query.push(("scope", s.clone()));
            }
            if !creds.username.is_empty() {
                query.push(("account", creds.username.clone()));
            }
            let mut b = req.http.get(url.clone()).query(&query);
            if let Some(h) = creds.basic_header() {
                b = b.header(reqwest::header::AUTHORIZATION, h);
            }
            b
        };
        let sent = tokio::time::timeout(HEADERS_TIMEOUT, builder.send()).await;
        let failure = match sent {
            Ok(Ok(resp)) if resp.status().is_server_error() => {
                format!("token server {realm} answered {}", resp.status())
            }
            Ok(Ok(resp)) => break resp,
            Ok(Err(e)) if !super::is_transient(&e) => {
                return Err(registry_err(format!(
                    "cannot reach token server {realm}: {}",
                    super::error_chain(&e)
                )))
            }
            Ok(Err(e)) => format!(
                "cannot reach token server {realm}: {}",
                super::error_chain(&e)
            ),
            Err(_) => format!(
                "token server {realm} did not answer within {}s",
                HEADERS_TIMEOUT.as_secs()
            ),
        };
        if attempt >= REQUEST_ATTEMPTS {
            return Err(registry_err(failure));
        }
        tokio::time::sleep(retry_delay(attempt)).await;
    };

    let status = resp.status();
    let body = read_limited(resp, TOKEN_RESPONSE_MAX)
        .await
        .map_err(|e| registry_err(format!("reading the answer of token server {realm}: {e}")))?;
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(ImageError::Unauthorized {
            registry: req.registry.to_string(),
            message: format!(
                "token server {realm} refused {}: {}",
                if creds.is_empty() {
                    "anonymous access".to_string()
                } else {
                    format!("the credentials of {:?}", creds.username)
                },
                registry_error_message(status, &body)
            ),
        });
    }
    if !status.is_success() {
        return Err(registry_err(format!(
            "token server {realm}: {}",
            registry_error_message(status, &body)
        )));
    }
    let parsed: TokenResponse = serde_json::from_slice(&body)
        .map_err(|e| registry_err(format!("token server {realm} answered invalid JSON: {e}")))?;
    let token = if parsed.token.is_empty() {
        parsed.access_token
    } else {
        parsed.token
    };
    if token.is_empty() {
        return Err(registry_err(format!(
            "token server {realm} returned no token"
        )));
    }
    let lifetime = parsed
        .expires_in
        .filter(|s| *s > 0)
        .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs);
    Ok((token, lifetime))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::system::AuthConfig;

    #[test]
    fn credentials_from_auth_config() {
        let c = Credentials::from(&AuthConfig {
            username: "u".into(),
            password: "p".into(),
            ..Default::default()
        });
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p"));
        // base64("user:pa:ss")
        let c = Credentials::from(&AuthConfig {
            auth: "dXNlcjpwYTpzcw==".into(),
            identitytoken: "idt".into(),
            registrytoken: "rt".into(),
            ..Default::default()
        });
        assert_eq!(c.username, "user");
        assert_eq!(c.password, "pa:ss");
        assert_eq!(c.identity_token, "idt");
        assert_eq!(c.registry_token, "rt");
        let c = Credentials::from(&AuthConfig {
            auth: "not base64!".into(),
            ..Default::default()
        });
        assert!(c.is_empty());
        assert!(Credentials::default().is_empty());
        let shown = format!(
            "{:?}",
            Credentials {
                password: "secret".into(),
                ..Default::default()
            }
        );
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn basic_header_encodes_user_and_password() {
        let c = Credentials {
            username: "user".into(),
            password: "pass".into(),
            ..Default::default()
        };
        assert_eq!(c.basic_header().unwrap(), "Basic dXNlcjpwYXNz");
        assert!(Credentials::default().basic_header().is_none());
    }

    #[test]
    fn parses_challenges() {
        let parsed = parse_www_authenticate(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].0, "Bearer");
        assert_eq!(parsed[0].1["realm"], "https://auth.docker.io/token");
        assert_eq!(parsed[0].1["service"], "registry.docker.io");
        assert_eq!(parsed[0].1["scope"], "repository:library/busybox:pull");

        let parsed = parse_www_authenticate(
            r#"Basic realm="a \"quoted\", realm", Bearer Realm=http://t/x , service = s"#,
        );
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].1["realm"], r#"a "quoted", realm"#);
        assert_eq!(parsed[1].1["realm"], "http://t/x");
        assert_eq!(parsed[1].1["service"], "s");

        let mut h = HeaderMap::new();
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Basic realm="r""#),
        );
        assert_eq!(challenge_of(&h), Some(Challenge::Basic));
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="http://t/token",service="svc""#),
        );
        assert_eq!(
            challenge_of(&h),
            Some(Challenge::Bearer {
                realm: "http://t/token".into(),
                service: "svc".into()
            })
        );
        assert_eq!(challenge_of(&HeaderMap::new()), None);
    }

    #[test]
    fn scopes() {
        assert_eq!(
            Scope::new("library/busybox", false).as_param().as_deref(),
            Some("repository:library/busybox:pull")
        );
        assert_eq!(
            Scope::new("a/b", true).as_param().as_deref(),
            Some("repository:a/b:pull,push")
        );
        assert_eq!(Scope::new("", false).as_param(), None);
    }
}
