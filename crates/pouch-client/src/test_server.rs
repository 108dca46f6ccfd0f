//! Test support: a one-shot HTTP server on a unix socket that records the request it gets,
//! shared by the unit tests of the call modules.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

use crate::Client;

/// Serves one HTTP request on `listener` with `status` and `body`, and returns the request
/// as received (head and body).
pub(crate) async fn serve_once(
    listener: UnixListener,
    status: &'static str,
    body: &'static str,
) -> String {
    let (mut conn, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before the request ended");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                break;
            }
        }
    }
    let answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(answer.as_bytes()).await.unwrap();
    conn.shutdown().await.unwrap();
    String::from_utf8(buf).unwrap()
}

/// A listening socket in a fresh directory and a client pointed at it (keep the directory
/// alive for the test's length).
pub(crate) fn server() -> (tempfile::TempDir, UnixListener, Client) {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("pouchd.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let client = Client::new(&format!("unix://{}", sock.display())).unwrap();
    (dir, listener, client)
}

/// The body of a request as [`serve_once`] returns it.
pub(crate) fn request_body(sent: &str) -> &str {
    &sent[sent.find("\r\n\r\n").unwrap() + 4..]
}
