//! The version middleware: accepts unversioned paths and `/v1.24` .. `/v1.44` prefixes (which
//! it strips before routing), refuses other versions as Docker does, stamps every response
//! with the API headers, and logs each request at debug with its duration.

use std::time::Instant;

use axum::extract::Request;
use axum::http::header::SERVER;
use axum::http::{HeaderValue, Uri};
use axum::middleware::Next;
use axum::response::Response;
use pouch_api::{ApiError, API_VERSION, MIN_API_VERSION, POUCH_VERSION};
use tracing::Instrument;

use super::error_response;

pub async fn middleware(mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let span = tracing::debug_span!("request", method = %req.method(), path = %req.uri().path());
    async move {
        let mut resp = match strip_version(req.uri().path()) {
            Err(e) => error_response(&e),
            Ok(None) => next.run(req).await,
            Ok(Some(path)) => match rewrite(req.uri(), &path) {
                Some(uri) => {
                    let version = req.uri().path()[2..]
                        .split('/')
                        .next()
                        .unwrap_or(API_VERSION)
                        .to_string();
                    req.extensions_mut().insert(RequestedVersion(version));
                    *req.uri_mut() = uri;
                    next.run(req).await
                }
                None => error_response(&ApiError::invalid("invalid request path")),
            },
        };
        let h = resp.headers_mut();
        h.insert("Api-Version", HeaderValue::from_static(API_VERSION));
        h.insert("Ostype", HeaderValue::from_static("linux"));
        h.insert("Docker-Experimental", HeaderValue::from_static("false"));
        if let Ok(v) = HeaderValue::from_str(&format!("Pouch/{POUCH_VERSION} (linux)")) {
            h.insert(SERVER, v);
        }
        tracing::debug!(
            status = resp.status().as_u16(),
            elapsed = ?start.elapsed(),
            "answered"
        );
        resp
    }
    .instrument(span)
    .await
}

/// The API version a request named in its path (absent for unversioned paths, which get
/// the current behaviour).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedVersion(pub String);

impl RequestedVersion {
    /// Whether the client asked for a version older than `v`.
    pub fn older_than(&self, v: &str) -> bool {
        compare(&self.0, v) == std::cmp::Ordering::Less
    }
}

/// For a `/vX.Y/...` path: the path without the prefix, or the error for a version out of
/// range. `None` for an unversioned path.
pub fn strip_version(path: &str) -> Result<Option<String>, ApiError> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok(None);
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let version = &rest[..end];
    if version.is_empty() || !version.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Ok(None);
    }
    if compare(version, API_VERSION) == std::cmp::Ordering::Greater {
        return Err(ApiError::invalid(format!(
            "client version {version} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    if compare(version, MIN_API_VERSION) == std::cmp::Ordering::Less {
        return Err(ApiError::invalid(format!(
            "client version {version} is too old. Minimum supported API version is \
             {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    let stripped = &rest[end..];
    Ok(Some(if stripped.is_empty() {
        "/".to_string()
    } else {
        stripped.to_string()
    }))
}

/// Compares dotted versions numerically (`1.9` < `1.24`), as Docker does.
fn compare(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| -> Vec<u64> { s.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let (a, b) = (parts(a), parts(b));
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        if x != y {
            return x.cmp(&y);
        }
    }
    std::cmp::Ordering::Equal
}

/// The request URI with a new path and the same query.
fn rewrite(uri: &Uri, path: &str) -> Option<Uri> {
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq.parse().ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(strip_version("/_ping").unwrap(), None);
        assert_eq!(
            strip_version("/v1.44/images/json").unwrap().as_deref(),
            Some("/images/json")
        );
        assert_eq!(
            strip_version("/v1.24/version").unwrap().as_deref(),
            Some("/version")
        );
        assert_eq!(strip_version("/v1.40").unwrap().as_deref(), Some("/"));
        assert_eq!(strip_version("/volumes").unwrap(), None);
        let e = strip_version("/v1.45/info").unwrap_err();
        assert_eq!(
            e.message,
            "client version 1.45 is too new. Maximum supported API version is 1.44"
        );
        let e = strip_version("/v1.9/info").unwrap_err();
        assert!(
            e.message.starts_with("client version 1.9 is too old"),
            "{}",
            e.message
        );
        assert!(strip_version("/v2/info").is_err());
    }

    #[test]
    fn numeric_compare() {
        use std::cmp::Ordering::*;
        assert_eq!(compare("1.9", "1.24"), Less);
        assert_eq!(compare("1.44", "1.44"), Equal);
        assert_eq!(compare("1.44.0", "1.44"), Equal);
        assert_eq!(compare("1.100", "1.44"), Greater);
    }
}
