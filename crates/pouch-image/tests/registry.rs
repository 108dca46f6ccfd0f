//! The registry client against a real registry: Debian's `docker-registry` (the CNCF
//! distribution registry) on loopback, started by the pouch-e2e harness, open, with htpasswd
//! basic auth, and with bearer tokens from a small token server in this file (JWTs signed by
//! `openssl`). Tests skip with a message when a needed program is missing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::StreamExt;
use pouch_api::reference::Reference;
use pouch_e2e::{Must, Registry, RegistryOptions, TokenAuth};
use pouch_image::content::sha256_digest;
use pouch_image::registry::{
    Credentials, Manifest, RegistryClient, RegistryConfig, Repository, MEDIA_TYPE_OCI_MANIFEST,
};
use pouch_image::ImageError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `test` must be skipped (the reason printed): docker-registry or one of
/// `programs` is missing.
fn skip_unless(test: &str, programs: &[&str]) -> bool {
    if !pouch_e2e::require_registry(test) {
        return true;
    }
    for p in programs {
        if !have(p) {
            pouch_e2e::skip(test, &format!("{p} is missing"));
            return true;
        }
    }
    false
}

/// A registry started by the harness (`docker-registry` with a store in a temp dir).
fn start_registry(opts: RegistryOptions) -> Registry {
    Registry::start(opts).must("start docker-registry")
}

const TOKEN_SERVICE: &str = "pouch-test";
const TOKEN_ISSUER: &str = "pouch-test-issuer";

/// An image made of one random layer and a config, in files.
struct TestImage {
    dir: tempfile::TempDir,
    layer: (String, u64),
    config: (String, u64),
    manifest: Manifest,
}

impl TestImage {
    fn new(layer_size: usize) -> TestImage {
        let dir = tempfile::tempdir().unwrap();
        let layer: Vec<u8> = (0..layer_size).map(|_| rand::random::<u8>()).collect();
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(&layer)]},
            "config": {"Cmd": ["sh"]},
            "nonce": rand::random::<u64>(),
        }))
        .unwrap();
        let layer_d = sha256_digest(&layer);
        let config_d = sha256_digest(&config);
        std::fs::write(dir.path().join(&layer_d), &layer).unwrap();
        std::fs::write(dir.path().join(&config_d), &config).unwrap();
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_d,
                "size": config.len(),
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_d,
                "size": layer.len(),
            }],
        }))
        .unwrap();
        TestImage {
            dir,
            layer: (layer_d, layer.len() as u64),
            config: (config_d, config.len() as u64),
            manifest: Manifest::new(manifest, MEDIA_TYPE_OCI_MANIFEST),
        }
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.path().join(digest)
    }

    async fn push(&self, repo: &Repository, tag: &str) -> Result<(), ImageError> {
        for (d, size) in [&self.layer, &self.config] {
            repo.push_blob(d, *size, &self.path(d), |_| {}).await?;
        }
        repo.push_manifest(tag, &self.manifest).await
    }
}

async fn read_blob(repo: &Repository, digest: &str) -> (Option<u64>, Vec<u8>) {
    let mut blob = repo.blob(digest).await.unwrap();
    let mut data = Vec::new();
    while let Some(chunk) = blob.stream.next().await {
        data.extend_from_slice(&chunk.unwrap());
    }
    (blob.size, data)
}

fn reference(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

fn creds(user: &str, pass: &str) -> Credentials {
    Credentials {
        username: user.into(),
        password: pass.into(),
        ..Default::default()
    }
}

fn random_digest() -> String {
    sha256_digest(&rand::random::<u64>().to_le_bytes())
}

#[tokio::test]
async fn push_resolve_and_pull() {
    if skip_unless("push_resolve_and_pull", &[]) {
        return;
    }
    let reg = start_registry(RegistryOptions::default());
    let client = RegistryClient::new(RegistryConfig::default());
    let img = TestImage::new(3 << 20);
    let r = reference(&format!("{}/test/app:v1", reg.host()));
    let repo = client.repository(&r, None);
    assert_eq!(repo.endpoint(), reg.host());

    // Blob upload with progress.
    let (layer_d, layer_size) = img.layer.clone();
    assert!(!repo.blob_exists(&layer_d).await.unwrap());
    let seen = Mutex::new(Vec::new());
    repo.push_blob(&layer_d, layer_size, &img.path(&layer_d), |n| {
        seen.lock().unwrap().push(n)
    })
    .await
    .unwrap();
    let seen = seen.into_inner().unwrap();
    assert!(seen.len() > 2, "progress called {} times", seen.len());
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(*seen.last().unwrap(), layer_size);
    assert!(repo.blob_exists(&layer_d).await.unwrap());
    // A second push finds the blob and sends nothing.
    let calls = Mutex::new(Vec::new());
    repo.push_blob(&layer_d, layer_size, &img.path(&layer_d), |n| {
        calls.lock().unwrap().push(n)
    })
    .await
    .unwrap();
    assert_eq!(calls.into_inner().unwrap(), vec![layer_size]);

    img.push(&repo, "v1").await.unwrap();

    // Resolve by tag and by digest.
    let (found, m) = client.resolve(&r, None).await.unwrap();
    assert_eq!(found.endpoint(), reg.host());
    assert_eq!(m, img.manifest);
    assert_eq!(m.media_type, MEDIA_TYPE_OCI_MANIFEST);
    let by_digest = reference(&format!("{}/test/app@{}", reg.host(), img.manifest.digest));
    let (_, m2) = client.resolve(&by_digest, None).await.unwrap();
    assert_eq!(m2, img.manifest);
    assert_eq!(
        repo.manifest(&img.manifest.digest).await.unwrap(),
        img.manifest
    );

    // Pull the layer back.
    let (size, data) = read_blob(&found, &layer_d).await;
    assert_eq!(size, Some(layer_size));
    assert_eq!(sha256_digest(&data), layer_d);

    // What is not there.
    match repo.manifest("nope").await {
        Err(ImageError::NotFound(msg)) => {
            assert!(msg.contains("test/app:nope"), "{msg}");
            assert!(msg.contains(&reg.host()), "{msg}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    let missing = random_digest();
    assert!(matches!(
        repo.manifest(&missing).await,
        Err(ImageError::NotFound(_))
    ));
    assert!(!repo.blob_exists(&missing).await.unwrap());
    match repo.blob(&missing).await {
        Err(ImageError::NotFound(msg)) => assert!(msg.contains(&missing), "{msg}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    let other_repo = client.repository(&reference(&format!("{}/other:v1", reg.host())), None);
    assert!(matches!(
        other_repo.manifest("v1").await,
        Err(ImageError::NotFound(_))
    ));

    // Wrong inputs.
    assert!(matches!(
        repo.push_blob(&layer_d, layer_size + 1, &img.path(&layer_d), |_| {})
            .await,
        Err(ImageError::InvalidArgument(_))
    ));
    let wrong = random_digest();
    let config_path = img.path(&img.config.0);
    match repo
        .push_blob(&wrong, img.config.1, &config_path, |_| {})
        .await
    {
        Err(ImageError::Registry { registry, message }) => {
            assert_eq!(registry, reg.host());
            assert!(message.contains(&wrong), "{message}");
        }
        other => panic!("expected the registry to refuse the digest, got {other:?}"),
    }
    let bad_manifest = Manifest::new(
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": missing, "size": 2},
            "layers": [],
        }))
        .unwrap(),
        MEDIA_TYPE_OCI_MANIFEST,
    );
    match repo.push_manifest("bad", &bad_manifest).await {
        Err(ImageError::Registry { message, .. }) => {
            assert!(message.contains("test/app:bad"), "{message}")
        }
        other => panic!("expected the registry to refuse the manifest, got {other:?}"),
    }
}

#[tokio::test]
async fn unreachable_registry_is_a_registry_error() {
    let port = pouch_e2e::dead_port();
    let client = RegistryClient::new(RegistryConfig::default());
    let r = reference(&format!("127.0.0.1:{port}/x:v1"));
    let started = Instant::now();
    match client.resolve(&r, None).await {
        Err(e @ ImageError::Registry { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
            assert!(msg.contains("x:v1"), "{msg}");
        }
        other => panic!("expected a registry error, got {other:?}"),
    }
    // Three retries with 200, 400 and 800 ms between them.
    assert!(started.elapsed() >= Duration::from_millis(1400));
}

#[tokio::test]
async fn mirrors_are_tried_in_order() {
    if skip_unless("mirrors_are_tried_in_order", &["htpasswd"]) {
        return;
    }
    let good = start_registry(RegistryOptions::default());
    let empty = start_registry(RegistryOptions::default());
    let locked = start_registry(RegistryOptions::with_basic_auth("u", "p"));
    let img = TestImage::new(1000);
    let direct = RegistryClient::new(RegistryConfig::default());
    let target = reference(&format!("{}/library/busybox:latest", good.host()));
    img.push(&direct.repository(&target, None), "latest")
        .await
        .unwrap();

    let client = RegistryClient::new(RegistryConfig {
        mirrors: vec![
            format!("http://127.0.0.1:{}", pouch_e2e::dead_port()),
            format!("http://{}/", locked.host()),
            format!("http://{}", empty.host()),
            // Without a scheme: loopback is insecure, so http.
            good.host(),
        ],
        insecure: vec![],
    });
    let (repo, m) = client.resolve(&reference("busybox"), None).await.unwrap();
    assert_eq!(repo.endpoint(), good.host());
    assert_eq!(repo.repository(), "library/busybox");
    assert_eq!(m, img.manifest);
    let (_, data) = read_blob(&repo, &img.layer.0).await;
    assert_eq!(sha256_digest(&data), img.layer.0);

    let by_digest = reference(&format!(
        "docker.io/library/busybox@{}",
        img.manifest.digest
    ));
    let (repo, m) = client.resolve(&by_digest, None).await.unwrap();
    assert_eq!(repo.endpoint(), good.host());
    assert_eq!(m.digest, img.manifest.digest);

    // Mirrors only serve docker.io: another registry is reached directly.
    let (repo, _) = client.resolve(&target, None).await.unwrap();
    assert_eq!(repo.endpoint(), good.host());
    let elsewhere = reference(&format!("{}/library/busybox:latest", empty.host()));
    assert!(matches!(
        client.resolve(&elsewhere, None).await,
        Err(ImageError::NotFound(_))
    ));
    // Pushing never goes to a mirror.
    assert_eq!(
        client.repository(&reference("busybox"), None).endpoint(),
        "docker.io"
    );
}

#[tokio::test]
async fn basic_auth() {
    if skip_unless("basic_auth", &["htpasswd"]) {
        return;
    }
    let reg = start_registry(RegistryOptions::with_basic_auth("user", "pass"));
    let client = RegistryClient::new(RegistryConfig::default());
    let img = TestImage::new(2000);
    let r = reference(&format!("{}/team/app:v1", reg.host()));

    let anonymous = client.repository(&r, None);
    match img.push(&anonymous, "v1").await {
        Err(e @ ImageError::Unauthorized { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&reg.host()), "{msg}");
            assert!(msg.contains("team/app"), "{msg}");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    let wrong = client.repository(&r, Some(creds("user", "wrong")));
    assert!(matches!(
        img.push(&wrong, "v1").await,
        Err(ImageError::Unauthorized { .. })
    ));

    let authed = client.repository(&r, Some(creds("user", "pass")));
    img.push(&authed, "v1").await.unwrap();

    assert!(matches!(
        client.resolve(&r, None).await,
        Err(ImageError::Unauthorized { .. })
    ));
    assert!(matches!(
        client.resolve(&r, Some(creds("user", "nope"))).await,
        Err(ImageError::Unauthorized { .. })
    ));
    // Credentials as the docker CLI sends them: base64 of user:pass in `auth`.
    let from_api = Credentials::from(&pouch_api::system::AuthConfig {
        auth: base64::engine::general_purpose::STANDARD.encode("user:pass"),
        serveraddress: reg.host(),
        ..Default::default()
    });
    let (repo, m) = client.resolve(&r, Some(from_api.clone())).await.unwrap();
    assert_eq!(m, img.manifest);
    let (_, data) = read_blob(&repo, &img.config.0).await;
    assert_eq!(sha256_digest(&data), img.config.0);

    client.login(&reg.host(), from_api).await.unwrap();
    client
        .login(&format!("http://{}/", reg.host()), creds("user", "pass"))
        .await
        .unwrap();
    match client.login(&reg.host(), creds("user", "bad")).await {
        Err(ImageError::Unauthorized { registry, .. }) => assert_eq!(registry, reg.host()),
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

/// Closes the first `drops` connections without answering and answers 503 to the next
/// `errors`, then forwards to `target`.
async fn flaky_proxy(target: String, drops: usize, errors: usize) -> (u16, Arc<Mutex<usize>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(Mutex::new(0usize));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let n = {
                let mut c = seen.lock().unwrap();
                *c += 1;
                *c
            };
            let target = target.clone();
            tokio::spawn(async move {
                if n <= drops {
                    let mut buf = [0u8; 1024];
                    let _ = conn.read(&mut buf).await;
                    return;
                }
                if n <= drops + errors {
                    let mut buf = [0u8; 4096];
                    let _ = conn.read(&mut buf).await;
                    let _ = conn
                        .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                    return;
                }
                if let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
                }
            });
        }
    });
    (port, count)
}

#[tokio::test]
async fn transient_failures_are_retried() {
    if skip_unless("transient_failures_are_retried", &[]) {
        return;
    }
    let reg = start_registry(RegistryOptions::default());
    let client = RegistryClient::new(RegistryConfig::default());
    let img = TestImage::new(5000);
    let r = reference(&format!("{}/retry/app:v1", reg.host()));
    img.push(&client.repository(&r, None), "v1").await.unwrap();

    let (port, count) = flaky_proxy(reg.host(), 1, 2).await;
    let via_proxy = reference(&format!("127.0.0.1:{port}/retry/app:v1"));
    let (repo, m) = client.resolve(&via_proxy, None).await.unwrap();
    assert_eq!(m, img.manifest);
    assert!(
        *count.lock().unwrap() >= 4,
        "{} connections",
        count.lock().unwrap()
    );

    // Too many failures: the error is reported.
    let (port, _) = flaky_proxy(reg.host(), 0, 10).await;
    let broken = client.repository(&reference(&format!("127.0.0.1:{port}/retry/app:v1")), None);
    match broken.manifest("v1").await {
        Err(ImageError::Registry { message, .. }) => assert!(message.contains("503"), "{message}"),
        other => panic!("expected a registry error, got {other:?}"),
    }

    // Blob uploads start again after a dropped connection.
    let (port, count) = flaky_proxy(reg.host(), 1, 1).await;
    let up = reference(&format!("127.0.0.1:{port}/retry/other:v1"));
    img.push(&client.repository(&up, None), "v1").await.unwrap();
    assert!(*count.lock().unwrap() >= 3);
    let (_, data) = read_blob(&repo, &img.layer.0).await;
    assert_eq!(sha256_digest(&data), img.layer.0);
}

// ---- bearer tokens ----

/// A token server: grants what it is asked to `user:pass`, and only `pull` to anonymous
/// clients; refuses other credentials. Anonymous answers use `token`, others `access_token`.
struct TokenServer {
    port: u16,
    dir: tempfile::TempDir,
    /// (scope, account) of each granted request.
    requests: Arc<Mutex<Vec<(String, String)>>>,
}

impl TokenServer {
    async fn start() -> TokenServer {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=pouch-test-token",
            ])
            .arg("-keyout")
            .arg(dir.path().join("key.pem"))
            .arg("-out")
            .arg(dir.path().join("cert.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let der = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(dir.path().join("cert.pem"))
            .output()
            .unwrap();
        assert!(der.status.success());
        let x5c = base64::engine::general_purpose::STANDARD.encode(der.stdout);
        let key = dir.path().join("key.pem");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    return;
                };
                let (x5c, key, log) = (x5c.clone(), key.clone(), log.clone());
                tokio::spawn(async move { serve_token(conn, &x5c, &key, &log).await });
            }
        });
        TokenServer {
            port,
            dir,
            requests,
        }
    }

    fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    fn granted(&self) -> Vec<(String, String)> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve_token(
    mut conn: tokio::net::TcpStream,
    x5c: &str,
    key: &Path,
    log: &Mutex<Vec<(String, String)>>,
) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let header = |wanted: &str| {
        head.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case(wanted)
                .then(|| value.trim().to_string())
        })
    };
    let body_len: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + body_len {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    let body = String::from_utf8_lossy(&data[head_end..head_end + body_len]).to_string();
    let post = head.starts_with("POST ");
    let target = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let form = if post {
        body.as_str()
    } else {
        target.split_once('?').map(|(_, q)| q).unwrap_or_default()
    };
    let query: HashMap<String, String> = form
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = v.replace('+', " ");
            (k.to_string(), urlencoding::decode(&v).unwrap().into_owned())
        })
        .collect();
    let basic = if post {
        // The OAuth2 refresh-token grant: a valid refresh token stands for user:pass.
        assert_eq!(
            query.get("grant_type").map(String::as_str),
            Some("refresh_token")
        );
        match query.get("refresh_token").map(String::as_str) {
            Some("refresh-ok") => Some("user:pass".to_string()),
            _ => Some("bad:refresh".to_string()),
        }
    } else {
        header("authorization")
            .and_then(|v| v.strip_prefix("Basic ").map(str::to_string))
            .map(|b| {
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).unwrap())
                    .unwrap()
            })
    };
    let scope = query.get("scope").cloned().unwrap_or_default();
    let reply = |status: &str, body: String| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let (account, anonymous) = match basic.as_deref() {
        None => (String::new(), true),
        Some("user:pass") => ("user".to_string(), false),
        Some(_) => {
            let r = reply(
                "401 Unauthorized",
                r#"{"details":"bad credentials"}"#.into(),
            );
            let _ = conn.write_all(r.as_bytes()).await;
            return;
        }
    };
    let mut access = Vec::new();
    if let Some(rest) = scope.strip_prefix("repository:") {
        if let Some((name, actions)) = rest.rsplit_once(':') {
            let actions: Vec<&str> = actions
                .split(',')
                .filter(|a| !anonymous || *a == "pull")
                .collect();
            access
                .push(serde_json::json!({"type": "repository", "name": name, "actions": actions}));
        }
    }
    log.lock().unwrap().push((
        scope.clone(),
        query.get("account").cloned().unwrap_or_default(),
    ));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": TOKEN_ISSUER, "sub": account, "aud": TOKEN_SERVICE,
        "exp": now + 300, "nbf": now - 10, "iat": now,
        "jti": format!("{:x}", rand::random::<u64>()),
        "access": access,
    });
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let signing_input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&header).unwrap()),
        b64(&serde_json::to_vec(&claims).unwrap())
    );
    let mut openssl = tokio::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = openssl.stdin.take().unwrap();
    stdin.write_all(signing_input.as_bytes()).await.unwrap();
    drop(stdin);
    let out = openssl.wait_with_output().await.unwrap();
    assert!(out.status.success());
    let jwt = format!(
        "{signing_input}.{}",
        b64(&der_to_raw_signature(&out.stdout))
    );
    let field = if anonymous { "token" } else { "access_token" };
    let body = serde_json::json!({ field: jwt, "expires_in": 300 }).to_string();
    let _ = conn.write_all(reply("200 OK", body).as_bytes()).await;
}

/// An ECDSA signature from DER (SEQUENCE of two INTEGERs) to JWS form (r || s, 32 bytes each).
fn der_to_raw_signature(der: &[u8]) -> Vec<u8> {
    assert_eq!(der[0], 0x30);
    let mut i = if der[1] & 0x80 != 0 {
        2 + (der[1] & 0x7f) as usize
    } else {
        2
    };
    let mut out = Vec::new();
    for _ in 0..2 {
        assert_eq!(der[i], 0x02);
        let len = der[i + 1] as usize;
        let int = &der[i + 2..i + 2 + len];
        let int = &int[int.len().saturating_sub(32)..];
        out.extend(std::iter::repeat_n(0u8, 32 - int.len()));
        out.extend_from_slice(int);
        i += 2 + len;
    }
    out
}

#[tokio::test]
async fn bearer_token_auth() {
    if skip_unless("bearer_token_auth", &["openssl"]) {
        return;
    }
    let tokens = TokenServer::start().await;
    let reg = start_registry(RegistryOptions::with_token_auth(TokenAuth {
        realm: tokens.realm(),
        service: TOKEN_SERVICE.to_string(),
        issuer: TOKEN_ISSUER.to_string(),
        root_cert_bundle: tokens.cert(),
    }));
    let client = RegistryClient::new(RegistryConfig::default());
    let img = TestImage::new(4000);
    let r = reference(&format!("{}/team/app:v1", reg.host()));

    // Anonymous clients get pull-only tokens: pushing is refused.
    match img.push(&client.repository(&r, None), "v1").await {
        Err(ImageError::Unauthorized { registry, .. }) => assert_eq!(registry, reg.host()),
        other => panic!("expected Unauthorized, got {other:?}\n{}", reg.log()),
    }
    // Bad credentials are refused by the token server.
    match img
        .push(&client.repository(&r, Some(creds("user", "bad"))), "v1")
        .await
    {
        Err(e @ ImageError::Unauthorized { .. }) => {
            assert!(e.to_string().contains("token server"), "{e}")
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }

    let before = tokens.granted().len();
    let pusher = client.repository(&r, Some(creds("user", "pass")));
    img.push(&pusher, "v1").await.unwrap();
    let granted = tokens.granted()[before..].to_vec();
    // One token for the whole push (cached per scope).
    assert_eq!(
        granted,
        vec![(
            "repository:team/app:pull,push".to_string(),
            "user".to_string()
        )],
        "{}",
        reg.log()
    );

    // Anonymous pull works with an anonymous token, fetched once for all requests.
    let before = tokens.granted().len();
    let (repo, m) = client.resolve(&r, None).await.unwrap();
    assert_eq!(m, img.manifest);
    let (_, data) = read_blob(&repo, &img.layer.0).await;
    assert_eq!(sha256_digest(&data), img.layer.0);
    assert!(repo.blob_exists(&img.config.0).await.unwrap());
    let granted = tokens.granted()[before..].to_vec();
    assert_eq!(
        granted,
        vec![("repository:team/app:pull".to_string(), String::new())]
    );

    // Login goes through the token server too.
    client
        .login(&reg.host(), creds("user", "pass"))
        .await
        .unwrap();
    assert!(matches!(
        client.login(&reg.host(), creds("user", "nope")).await,
        Err(ImageError::Unauthorized { .. })
    ));
    // An identity token is exchanged through the refresh-token grant.
    let identity = |t: &str| Credentials {
        identity_token: t.into(),
        ..Default::default()
    };
    let before = tokens.granted().len();
    let (_, m) = client
        .resolve(&r, Some(identity("refresh-ok")))
        .await
        .unwrap();
    assert_eq!(m, img.manifest);
    let again = TestImage::new(100);
    again
        .push(&client.repository(&r, Some(identity("refresh-ok"))), "v2")
        .await
        .unwrap();
    assert_eq!(tokens.granted().len(), before + 2);
    assert!(matches!(
        client.resolve(&r, Some(identity("refresh-bad"))).await,
        Err(ImageError::Unauthorized { .. })
    ));
    // A registry token is sent as is.
    let bogus = Credentials {
        registry_token: "not-a-jwt".into(),
        ..Default::default()
    };
    assert!(matches!(
        client.resolve(&r, Some(bogus)).await,
        Err(ImageError::Unauthorized { .. })
    ));
}
