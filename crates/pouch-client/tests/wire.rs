//! Wire-level checks of the client over a real unix socket: the request line and headers it
//! sends, chunked JSON streams split at awkward places, streamed request bodies, and the
//! mapping of error answers. The peer is a minimal HTTP/1.1 responder that records requests.

use std::path::PathBuf;

use futures_util::StreamExt;
use pouch_client::{reader_body, AuthConfig, Client, ClientError, Filters};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::mpsc;

/// What the peer saw: request head (lower-cased header names) and body.
#[derive(Debug)]
struct Seen {
    head: String,
    body: Vec<u8>,
}

fn decode_chunked(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(pos) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[..pos]).unwrap().trim(), 16).unwrap();
        raw = &raw[pos + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// Serves one canned response per connection, in order; reports each request.
async fn serve(
    responses: Vec<Vec<Vec<u8>>>,
) -> (PathBuf, mpsc::UnboundedReceiver<Seen>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pouchd.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        for parts in responses {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut tmp = [0u8; 4096];
            let head_end = loop {
                let n = sock.read(&mut tmp).await.unwrap();
                buf.extend_from_slice(&tmp[..n]);
                if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break p;
                }
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let lower = head.to_lowercase();
            let mut body = buf[head_end + 4..].to_vec();
            if lower.contains("transfer-encoding: chunked") {
                while !body.ends_with(b"0\r\n\r\n") {
                    let n = sock.read(&mut tmp).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&tmp[..n]);
                }
                body = decode_chunked(&body);
            } else if let Some(len) = lower
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse::<usize>().ok())
            {
                while body.len() < len {
                    let n = sock.read(&mut tmp).await.unwrap();
                    body.extend_from_slice(&tmp[..n]);
                }
            }
            tx.send(Seen { head, body }).unwrap();
            for part in parts {
                sock.write_all(&part).await.unwrap();
                sock.flush().await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            let _ = sock.shutdown().await;
        }
    });
    (path, rx, dir)
}

fn chunked_response(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut out = vec![
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec(),
    ];
    for p in parts {
        let mut chunk = format!("{:x}\r\n", p.len()).into_bytes();
        chunk.extend_from_slice(p);
        chunk.extend_from_slice(b"\r\n");
        out.push(chunk);
    }
    out.push(b"0\r\n\r\n".to_vec());
    out
}

fn plain_response(status: &str, body: &str) -> Vec<Vec<u8>> {
    vec![format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()]
}

#[tokio::test]
async fn pull_sends_auth_and_decodes_split_stream() {
    let (path, mut seen, _dir) = serve(vec![chunked_response(&[
        b"{\"status\":\"Pulling from library/busybox\",\"id\":\"latest\"}\r\n{\"status\":\"Down",
        b"loading\",\"progressDetail\":{\"current\":5,\"total\":10},\"id\":\"abc\"}\r\n",
        b"{\"errorDetail\":{\"message\":\"boom\"},\"error\":\"boom\"}\r\n",
    ])])
    .await;
    let client = Client::new(&format!("unix://{}", path.display())).unwrap();
    let auth = AuthConfig {
        username: "u".into(),
        password: "p".into(),
        serveraddress: "127.0.0.1:5000".into(),
        ..Default::default()
    };
    let stream = client
        .pull("127.0.0.1:5000/busybox", "v1", Some(&auth))
        .await
        .unwrap();
    let messages: Vec<_> = stream.collect().await;
    let req = seen.recv().await.unwrap();
    assert!(
        req.head.starts_with(
            "POST /v1.44/images/create?fromImage=127.0.0.1%3A5000%2Fbusybox&tag=v1 HTTP/1.1"
        ),
        "{}",
        req.head
    );
    assert!(req.head.to_lowercase().contains(
        &format!(
            "x-registry-auth: {}",
            pouch_client::encode_registry_auth(Some(&auth))
        )
        .to_lowercase()
    ));
    assert_eq!(messages.len(), 3);
    let m1 = messages[1].as_ref().unwrap();
    assert_eq!(m1.status.as_deref(), Some("Downloading"));
    assert_eq!(m1.progress_detail.as_ref().unwrap().total, Some(10));
    assert_eq!(messages[2].as_ref().unwrap().error.as_deref(), Some("boom"));
}

#[tokio::test]
async fn error_answers_become_api_errors() {
    let (path, mut seen, _dir) = serve(vec![
        plain_response(
            "404 Not Found",
            r#"{"message":"No such image: nosuch:latest"}"#,
        ),
        plain_response("500 Internal Server Error", "plain text failure"),
        plain_response("409 Conflict", ""),
    ])
    .await;
    let client = Client::new(path.to_str().unwrap()).unwrap();
    let err = client.image_inspect("nosuch").await.unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(err.to_string(), "No such image: nosuch:latest");
    assert_eq!(
        seen.recv().await.unwrap().head.lines().next().unwrap(),
        "GET /v1.44/images/nosuch/json HTTP/1.1"
    );
    let err = client.remove_image("x", true, true).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Api { status: 500, message } if message == "plain text failure")
    );
    assert_eq!(
        seen.recv().await.unwrap().head.lines().next().unwrap(),
        "DELETE /v1.44/images/x?force=1&noprune=1 HTTP/1.1"
    );
    let err = client.tag("a", "b", "c").await.unwrap_err();
    assert!(matches!(&err, ClientError::Api { status: 409, message } if message == "409 Conflict"));
}

#[tokio::test]
async fn load_streams_the_body_and_lists_decode() {
    let archive: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (path, mut seen, dir) = serve(vec![
        chunked_response(&[b"{\"stream\":\"Loaded image: busybox:latest\\n\"}\r\n"]),
        plain_response(
            "200 OK",
            r#"[{"Id":"sha256:ab","RepoTags":["busybox:latest"],"Created":5,"Size":7,"Future":1}]"#,
        ),
    ])
    .await;
    let file = dir.path().join("img.tar");
    std::fs::write(&file, &archive).unwrap();
    let client = Client::new(path.to_str().unwrap()).unwrap();
    let body = reader_body(tokio::fs::File::open(&file).await.unwrap());
    let out: Vec<_> = client.load(body, true).await.unwrap().collect().await;
    assert_eq!(
        out[0].as_ref().unwrap().stream.as_deref(),
        Some("Loaded image: busybox:latest\n")
    );
    let req = seen.recv().await.unwrap();
    assert!(req
        .head
        .starts_with("POST /v1.44/images/load?quiet=1 HTTP/1.1"));
    assert!(req
        .head
        .to_lowercase()
        .contains("content-type: application/x-tar"));
    assert_eq!(req.body, archive);

    let mut filters = Filters::default();
    filters.add("dangling", "true");
    let images = client.images(true, &filters).await.unwrap();
    assert_eq!(images[0].repo_tags, ["busybox:latest"]);
    assert_eq!(images[0].size, 7);
    let req = seen.recv().await.unwrap();
    assert!(req.head.starts_with(
        "GET /v1.44/images/json?all=1&filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D HTTP/1.1"
    ));
}

#[tokio::test]
async fn connect_errors_name_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let host = format!("unix://{}/absent.sock", dir.path().display());
    let client = Client::new(&host).unwrap();
    let err = client.ping().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ClientError::Connect { .. }));
    assert!(
        text.starts_with(&format!("cannot connect to pouchd at {host}: ")),
        "{text}"
    );
    assert!(text.ends_with("(is pouchd running?)"), "{text}");
}
