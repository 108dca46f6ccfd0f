//! Image routes: pull and import (`POST /images/create`), push, list, inspect, history, tag,
//! remove, prune, save (`/images/get`, `/images/{name}/get`, Pouch's `/images/save`) and
//! load. Image names contain `/` and `:`, so `/images/{*rest}` is split here by its last
//! component (`json`, `history`, `get`, `tag`, `push`).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use pouch_api::progress::JsonMessage;
use pouch_api::system::AuthConfig;
use pouch_api::ApiError;
use tokio::sync::mpsc::unbounded_channel;

use super::stream::{body_reader, keep_all, progress_response, writer_response};
use super::{blocking, json, AppState, HttpError, Params, Reply};

/// Largest request body read whole (the legacy push auth body).
const SMALL_BODY: usize = 1 << 20;

/// `GET /images/json?all=&filters=&digests=`.
pub async fn list(State(engine): State<AppState>, params: Params) -> Reply {
    let mut filters = params.filters()?;
    // API < 1.28 sent a bare `filter=<reference>`
    if let Some(f) = params.get("filter").filter(|f| !f.is_empty()) {
        filters.add("reference", f);
    }
    let all = params.bool("all");
    let images = blocking(&engine, move |e| e.list_images(&filters, all)).await?;
    Ok(json(&images))
}

/// `POST /images/create`: a pull (`fromImage`, `tag`) or an import of the body (`fromSrc=-`).
pub async fn create(
    State(engine): State<AppState>,
    params: Params,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    if let Some(src) = params.get("fromSrc").filter(|s| !s.is_empty()) {
        return import(engine, &params, src, body).await;
    }
    let from = params.str("fromImage");
    if from.is_empty() {
        return Err(ApiError::invalid(
            "give the image to pull with fromImage=NAME (or import with fromSrc=-)",
        )
        .into());
    }
    check_platform(&engine, params.str("platform"))?;
    let reference = with_tag(from, params.str("tag"));
    let auth = header_auth(&headers);
    let (tx, rx) = unbounded_channel();
    let cancel = engine.operation_token();
    let guard = cancel.clone().drop_guard();
    let task = tokio::spawn(async move {
        engine
            .pull_image(&reference, auth.as_ref(), tx, cancel)
            .await
            .map(|_| Vec::new())
    });
    Ok(progress_response(rx, task, Some(guard), keep_all).await)
}

/// `fromSrc=-`: the body is a root filesystem tar; answers `{"status":"sha256:<id>"}`.
async fn import(engine: AppState, params: &Params, src: &str, body: Body) -> Reply {
    if src != "-" {
        return Err(ApiError::invalid(format!(
            "importing from {src:?} is not supported: send the archive as the request body with fromSrc=-"
        ))
        .into());
    }
    let repo = params.str("repo");
    let reference = (!repo.is_empty()).then(|| with_tag(repo, params.str("tag")));
    let message = params.str("message").to_string();
    let changes = params.all("changes");
    let mut input = body_reader(body);
    // import sends no progress: its only line is the id at the end
    let (tx, rx) = unbounded_channel();
    drop(tx);
    let task = tokio::task::spawn_blocking(move || {
        engine
            .import_image(&mut input, reference.as_deref(), &message, &changes)
            .map(|id| vec![JsonMessage::status(id)])
    });
    Ok(progress_response(rx, task, None, keep_all).await)
}

/// `GET /images/get?names=a&names=b`: a `docker save` archive.
pub async fn save(State(engine): State<AppState>, params: Params) -> Reply {
    save_names(engine, params.all("names")).await
}

/// Pouch's `GET /images/save?name=`.
pub async fn save_pouch(State(engine): State<AppState>, params: Params) -> Reply {
    save_names(engine, params.all("name")).await
}

async fn save_names(engine: AppState, names: Vec<String>) -> Reply {
    let names: Vec<String> = names.into_iter().filter(|n| !n.is_empty()).collect();
    if names.is_empty() {
        return Err(ApiError::invalid("give the images to save: /images/get?names=NAME").into());
    }
    Ok(writer_response("application/x-tar", move |out| {
        engine.save_images(&names, out)
    })
    .await)
}

/// `POST /images/load?quiet=`: the body is a `docker save` archive.
pub async fn load(State(engine): State<AppState>, params: Params, body: Body) -> Reply {
    let quiet = params.bool_or("quiet", true);
    let mut input = body_reader(body);
    let (tx, rx) = unbounded_channel();
    let task = tokio::task::spawn_blocking(move || {
        let progress = move |m: JsonMessage| {
            let _ = tx.send(m);
        };
        engine
            .load_images(&mut input, &progress)
            .map(|_| Vec::new())
    });
    let keep = if quiet { keep_quiet } else { keep_all };
    Ok(progress_response(rx, task, None, keep).await)
}

/// With `quiet`, progress bars are left out; status and stream lines stay.
fn keep_quiet(m: &JsonMessage) -> bool {
    m.progress.is_none()
}

/// `POST /images/prune?filters=`.
pub async fn prune(State(engine): State<AppState>, params: Params) -> Reply {
    let filters = params.filters()?;
    let report = blocking(&engine, move |e| e.prune_images(&filters)).await?;
    Ok(json(&report))
}

/// `GET /images/{name}/json`, `/images/{name}/history`, `/images/{name}/get`.
pub async fn get_by_name(State(engine): State<AppState>, Path(rest): Path<String>) -> Reply {
    let (name, action) = split(&rest);
    let name = name.to_string();
    match action {
        "json" => {
            let image = blocking(&engine, move |e| e.inspect_image(&name)).await?;
            Ok(json(&image))
        }
        "history" => {
            let history = blocking(&engine, move |e| e.image_history(&name)).await?;
            Ok(json(&history))
        }
        "get" => save_names(engine, vec![name]).await,
        _ => Err(ApiError::not_found("page not found").into()),
    }
}

/// `POST /images/{name}/tag?repo=&tag=` and `POST /images/{name}/push?tag=`.
pub async fn post_by_name(
    State(engine): State<AppState>,
    Path(rest): Path<String>,
    params: Params,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    let (name, action) = split(&rest);
    let name = name.to_string();
    match action {
        "tag" => {
            let repo = params.str("repo").to_string();
            let tag = params.str("tag").to_string();
            blocking(&engine, move |e| {
                e.tag_image(&name, &repo, Some(tag.as_str()).filter(|t| !t.is_empty()))
            })
            .await?;
            Ok(StatusCode::CREATED.into_response())
        }
        "push" => push(engine, &name, &params, &headers, body).await,
        _ => Err(ApiError::not_found("page not found").into()),
    }
}

async fn push(
    engine: AppState,
    name: &str,
    params: &Params,
    headers: &HeaderMap,
    body: Body,
) -> Reply {
    let reference = with_tag(name, params.str("tag"));
    let auth = match headers.get("X-Registry-Auth") {
        Some(_) => header_auth(headers),
        // the old form: the auth config as the request body
        None => {
            let bytes = axum::body::to_bytes(body, SMALL_BODY)
                .await
                .map_err(|e| ApiError::invalid(format!("reading the request body: {e}")))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                None
            } else {
                Some(serde_json::from_slice::<AuthConfig>(&bytes).map_err(|e| {
                    ApiError::invalid(format!("bad parameters and missing X-Registry-Auth: {e}"))
                })?)
            }
        }
    };
    let (tx, rx) = unbounded_channel();
    let cancel = engine.operation_token();
    let guard = cancel.clone().drop_guard();
    let task = tokio::spawn(async move {
        engine
            .push_image(&reference, auth.as_ref(), tx, cancel)
            .await
            .map(|_| Vec::new())
    });
    Ok(progress_response(rx, task, Some(guard), keep_all).await)
}

/// `DELETE /images/{name}?force=&noprune=`.
pub async fn remove(
    State(engine): State<AppState>,
    Path(name): Path<String>,
    params: Params,
) -> Reply {
    let force = params.bool("force");
    let noprune = params.bool("noprune");
    let items = blocking(&engine, move |e| e.remove_image(&name, force, noprune)).await?;
    Ok(json(&items))
}

/// `busybox/json` -> (`busybox`, `json`); `127.0.0.1:5000/x/push` -> (`127.0.0.1:5000/x`, `push`).
fn split(rest: &str) -> (&str, &str) {
    let rest = rest.trim_start_matches('/');
    match rest.rsplit_once('/') {
        Some((name, action)) => (name, action),
        None => ("", rest),
    }
}

/// `name` with `tag` applied: a tag replaces the name's own tag or digest; a tag of the
/// form `algo:hex` is a digest (`name@sha256:..`); no tag leaves `name` as it is.
pub fn with_tag(name: &str, tag: &str) -> String {
    if tag.is_empty() {
        return name.to_string();
    }
    let base = name.split('@').next().unwrap_or(name);
    let base = match base.rfind(':') {
        Some(i) if !base[i..].contains('/') => &base[..i],
        _ => base,
    };
    if tag.contains(':') {
        format!("{base}@{tag}")
    } else {
        format!("{base}:{tag}")
    }
}

/// The `X-Registry-Auth` header: base64url (padded or not) JSON `AuthConfig`. As Docker
/// does for pulls, a header that does not decode means no credentials.
fn header_auth(headers: &HeaderMap) -> Option<AuthConfig> {
    let value = headers.get("X-Registry-Auth")?.to_str().ok()?.trim();
    if value.is_empty() {
        return None;
    }
    match decode_auth(value) {
        Ok(a) => Some(a),
        Err(e) => {
            tracing::debug!("ignoring X-Registry-Auth: {e}");
            None
        }
    }
}

/// Decodes a base64 (url-safe or standard, padding optional) JSON `AuthConfig`.
pub fn decode_auth(value: &str) -> Result<AuthConfig, String> {
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let url = GeneralPurpose::new(&alphabet::URL_SAFE, config);
    let std = GeneralPurpose::new(&alphabet::STANDARD, config);
    let bytes = url
        .decode(value)
        .or_else(|_| std.decode(value))
        .map_err(|e| format!("not base64: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not an auth config: {e}"))
}

/// Refuses a `platform` this daemon cannot run (it pulls for its own linux architecture).
fn check_platform(engine: &AppState, platform: &str) -> Result<(), HttpError> {
    if platform.is_empty() {
        return Ok(());
    }
    let arch = engine.version().arch;
    let mut parts = platform.split('/');
    let os = parts.next().unwrap_or("");
    let want = parts.next().unwrap_or("");
    if os == "linux" && (want.is_empty() || want == arch) {
        return Ok(());
    }
    Err(ApiError::invalid(format!(
        "platform {platform:?} is not supported: this daemon runs linux/{arch} images"
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_digests() {
        assert_eq!(with_tag("busybox", ""), "busybox");
        assert_eq!(with_tag("busybox", "1.36"), "busybox:1.36");
        assert_eq!(
            with_tag("docker.io/library/busybox", "latest"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(with_tag("busybox:1.0", "2.0"), "busybox:2.0");
        assert_eq!(with_tag("127.0.0.1:5000/x", "v1"), "127.0.0.1:5000/x:v1");
        assert_eq!(with_tag("127.0.0.1:5000/x:v0", "v1"), "127.0.0.1:5000/x:v1");
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(with_tag("busybox", d), format!("busybox@{d}"));
        assert_eq!(with_tag(&format!("busybox@{d}"), "x"), "busybox:x");
        assert_eq!(
            with_tag("127.0.0.1:5000/x:v0", d),
            format!("127.0.0.1:5000/x@{d}")
        );
    }

    #[test]
    fn splits_names() {
        assert_eq!(split("busybox/json"), ("busybox", "json"));
        assert_eq!(
            split("127.0.0.1:5000/a/b:v1/push"),
            ("127.0.0.1:5000/a/b:v1", "push")
        );
        assert_eq!(split("sha256:abc/history"), ("sha256:abc", "history"));
        assert_eq!(split("json"), ("", "json"));
    }

    #[test]
    fn auth_header_forms() {
        // `{}` and the docker CLI's encoding of it
        assert_eq!(decode_auth("e30=").unwrap(), AuthConfig::default());
        assert_eq!(decode_auth("e30").unwrap(), AuthConfig::default());
        let json = r#"{"username":"u","password":"p?>","serveraddress":"r:5000"}"#;
        let url = base64::engine::general_purpose::URL_SAFE.encode(json);
        let url_nopad = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        let std = base64::engine::general_purpose::STANDARD.encode(json);
        for enc in [url, url_nopad, std] {
            let a = decode_auth(&enc).unwrap();
            assert_eq!((a.username.as_str(), a.password.as_str()), ("u", "p?>"));
            assert_eq!(a.serveraddress, "r:5000");
        }
        assert!(decode_auth("!!!").is_err());
        assert!(decode_auth("bm90IGpzb24").is_err());
    }
}
