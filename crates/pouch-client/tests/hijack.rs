//! Wire-level checks of the container calls whose timing matters, over a real unix socket:
//! the hijacked attach/exec connection (upgrade headers, bytes the peer sent right after the
//! `101`, stdin half-close while output continues), a refused upgrade, and `wait` returning
//! as soon as the headers arrive. The peer is a raw socket speaking HTTP/1.1 by hand.

use std::path::PathBuf;

use pouch_client::pouch_api::container::ExecStartConfig;
use pouch_client::{demux_copy, encode_frame, AttachOptions, Client, StreamKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::oneshot;

fn listener() -> (UnixListener, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pouchd.sock");
    (UnixListener::bind(&path).unwrap(), path, dir)
}

/// Reads a request head (up to the blank line) and returns it with any bytes read past it.
async fn read_head(sock: &mut UnixStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    loop {
        let n = sock.read(&mut tmp).await.unwrap();
        assert!(n > 0, "client closed before sending a request head");
        buf.extend_from_slice(&tmp[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf[p + 4..].to_vec();
            return (String::from_utf8_lossy(&buf[..p]).to_lowercase(), rest);
        }
    }
}

#[tokio::test]
async fn attach_upgrades_and_half_close_keeps_output_flowing() {
    let (listener, path, _dir) = listener();
    let peer = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let (head, _) = read_head(&mut sock).await;
        // The 101 and the first output frame in one write: the client must not lose bytes
        // that arrive together with the response head.
        let mut answer = b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".to_vec();
        answer.extend(encode_frame(StreamKind::Stdout, b"early "));
        sock.write_all(&answer).await.unwrap();
        // Everything the client writes until its half-close is "stdin".
        let mut stdin = Vec::new();
        sock.read_to_end(&mut stdin).await.unwrap();
        // Output after the client's EOF must still reach it.
        sock.write_all(&encode_frame(StreamKind::Stderr, b"late"))
            .await
            .unwrap();
        sock.write_all(&encode_frame(StreamKind::Stdout, &stdin))
            .await
            .unwrap();
        head
    });
    let client = Client::new(path.to_str().unwrap()).unwrap();
    let options = AttachOptions {
        stdin: true,
        stdout: true,
        stderr: true,
        stream: true,
        ..Default::default()
    };
    let stream = client.container_attach("web", options).await.unwrap();
    assert!(stream.is_multiplexed());
    let (reader, mut writer) = stream.split();
    writer.write_all(b"typed input").await.unwrap();
    writer.shutdown().await.unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    demux_copy(reader, &mut out, &mut err).await.unwrap();
    assert_eq!(out, b"early typed input");
    assert_eq!(err, b"late");

    let head = peer.await.unwrap();
    assert!(
        head.starts_with("post /v1.44/containers/web/attach?stderr=1&stdin=1&stdout=1&stream=1 "),
        "{head}"
    );
    assert!(head.contains("\r\nconnection: upgrade"), "{head}");
    assert!(head.contains("\r\nupgrade: tcp"), "{head}");
}

#[tokio::test]
async fn refused_upgrade_is_an_error() {
    let (listener, path, _dir) = listener();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        read_head(&mut sock).await;
        sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
    });
    let client = Client::new(path.to_str().unwrap()).unwrap();
    let err = client
        .exec_start("e1", &ExecStartConfig::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("unable to upgrade to tcp, received 200"),
        "{err}"
    );
}

#[tokio::test]
async fn detached_exec_start_is_a_plain_request() {
    let (listener, path, _dir) = listener();
    let peer = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let (head, body) = read_head(&mut sock).await;
        sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        (head, body)
    });
    let client = Client::new(path.to_str().unwrap()).unwrap();
    let start = ExecStartConfig {
        detach: true,
        ..Default::default()
    };
    assert!(client.exec_start("e1", &start).await.unwrap().is_none());
    let (head, body) = peer.await.unwrap();
    assert!(head.starts_with("post /v1.44/exec/e1/start "), "{head}");
    assert!(!head.contains("upgrade"), "{head}");
    let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sent["Detach"], true);
}

#[tokio::test]
async fn wait_returns_at_the_headers_and_reads_the_body_later() {
    let (listener, path, _dir) = listener();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let peer = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let (head, _) = read_head(&mut sock).await;
        sock.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        .await
        .unwrap();
        // The body comes only when the test says the container "exited".
        release_rx.await.unwrap();
        let body = br#"{"StatusCode":3,"Error":null}"#;
        sock.write_all(format!("{:x}\r\n", body.len()).as_bytes())
            .await
            .unwrap();
        sock.write_all(body).await.unwrap();
        sock.write_all(b"\r\n0\r\n\r\n").await.unwrap();
        head
    });
    let client = Client::new(path.to_str().unwrap()).unwrap();
    // If container_wait waited for the body, this would hang: the peer holds it back.
    let wait = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        client.container_wait("web", Some("next-exit")),
    )
    .await
    .expect("container_wait must return once the headers arrived")
    .unwrap();
    release_tx.send(()).unwrap();
    let answer = wait.result().await.unwrap();
    assert_eq!(answer.status_code, 3);
    assert!(answer.error.is_none());
    let head = peer.await.unwrap();
    assert!(
        head.starts_with("post /v1.44/containers/web/wait?condition=next-exit "),
        "{head}"
    );
}
