//! The container API over raw HTTP on the unix socket, byte for byte: create, the hijacked
//! attach (101, 8-byte frames, half-close = stdin EOF), `/wait` whose headers arrive before
//! the container even starts, exec start, and the JSON errors with Docker's status codes.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use pouch_e2e::setup;

/// One request on a fresh connection; returns the connection after the request is written.
fn send(sock: &std::path::Path, method: &str, path: &str, body: &str, upgrade: bool) -> UnixStream {
    let mut s = UnixStream::connect(sock).expect("connect to pouchd");
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if upgrade {
        req.push_str("Connection: Upgrade\r\nUpgrade: tcp\r\n");
    } else {
        req.push_str("Connection: close\r\n");
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    s
}

/// Reads the status line and headers; returns (status, headers text, reader positioned at the body).
fn head(s: UnixStream) -> (u16, String, BufReader<UnixStream>) {
    let mut r = BufReader::new(s);
    let mut text = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("read a header line");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        text.push_str(&line);
    }
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text, r)
}

/// A whole non-streaming answer: (status, body).
fn call(sock: &std::path::Path, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = send(sock, method, path, body, false);
    let mut all = String::new();
    let _ = s.read_to_string(&mut all);
    let status = all
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = all.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// Reads Docker's multiplexed frames until EOF: (stream, payload) pairs.
fn frames(r: &mut impl Read) -> Vec<(u8, String)> {
    let mut out = Vec::new();
    loop {
        let mut h = [0u8; 8];
        if r.read_exact(&mut h).is_err() {
            return out;
        }
        let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
        let mut p = vec![0u8; len];
        r.read_exact(&mut p).expect("frame payload");
        out.push((h[0], String::from_utf8_lossy(&p).into_owned()));
    }
}

#[test]
fn attach_wait_exec_over_raw_http() {
    let Some(bins) = setup::e2e("attach_wait_exec_over_raw_http") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["pull", "busybox"]).ok();
    let sock = d.socket();

    let (st, body) = call(
        &sock,
        "POST",
        "/v1.44/containers/create?name=raw",
        r#"{"Image":"busybox","Cmd":["sh","-c","cat; echo out; echo err >&2; exit 3"],"OpenStdin":true,"StdinOnce":true,"AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"Env":null,"HostConfig":{"Binds":null,"LogConfig":{"Type":"","Config":null}}}"#,
    );
    assert_eq!(st, 201, "{body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();

    // attach: 101 with Docker's headers, before the container runs.
    let a = send(
        &sock,
        "POST",
        "/v1.44/containers/raw/attach?stream=1&stdin=1&stdout=1&stderr=1",
        "",
        true,
    );
    let (st, headers, mut attach) = head(a);
    assert_eq!(st, 101, "{headers}");
    let h = headers.to_ascii_lowercase();
    assert!(h.contains("upgrade: tcp"), "{headers}");
    assert!(
        h.contains("application/vnd.docker.multiplexed-stream"),
        "{headers}"
    );

    // wait: the headers come at once, while the container has not even started.
    let w = send(
        &sock,
        "POST",
        "/v1.44/containers/raw/wait?condition=next-exit",
        "",
        false,
    );
    let (st, headers, mut wait) = head(w);
    assert_eq!(st, 200, "{headers}");

    assert_eq!(
        call(&sock, "POST", "/v1.44/containers/raw/start", "").0,
        204
    );
    assert_eq!(
        call(&sock, "POST", "/v1.44/containers/raw/start", "").0,
        304
    );

    // stdin, then half-close: cat sees EOF, the output keeps coming.
    attach.get_mut().write_all(b"typed\n").unwrap();
    attach
        .get_mut()
        .shutdown(std::net::Shutdown::Write)
        .unwrap();
    let got = frames(&mut attach);
    let stdout: String = got
        .iter()
        .filter(|f| f.0 == 1)
        .map(|f| f.1.as_str())
        .collect();
    let stderr: String = got
        .iter()
        .filter(|f| f.0 == 2)
        .map(|f| f.1.as_str())
        .collect();
    assert_eq!(stdout, "typed\nout\n", "{got:?}");
    assert_eq!(stderr, "err\n", "{got:?}");

    let mut rest = String::new();
    let _ = wait.read_to_string(&mut rest);
    assert!(rest.contains(r#""StatusCode":3"#), "wait body: {rest}");
    assert!(rest.contains(r#""Error":null"#), "wait body: {rest}");

    // Errors: Docker's codes and a JSON message that names the object.
    let (st, body) = call(&sock, "GET", "/v1.44/containers/nope/json", "");
    assert_eq!(st, 404, "{body}");
    assert!(body.contains("No such container: nope"), "{body}");
    let (st, body) = call(
        &sock,
        "POST",
        "/v1.44/containers/raw/wait?condition=bogus",
        "",
    );
    assert_eq!(st, 400, "{body}");
    let (st, body) = call(&sock, "POST", "/containers/raw/exec", r#"{"Cmd":["true"]}"#);
    assert_eq!(st, 409, "{body}");
    assert!(body.contains("is not running"), "{body}");

    // exec on a running container: create, then a hijacked start with frames.
    let (st, _) = call(
        &sock,
        "POST",
        "/containers/create?name=live",
        r#"{"Image":"busybox","Cmd":["sleep","1000"]}"#,
    );
    assert_eq!(st, 201);
    assert_eq!(call(&sock, "POST", "/containers/live/start", "").0, 204);
    let (st, body) = call(
        &sock,
        "POST",
        "/containers/live/exec",
        r#"{"AttachStdout":true,"AttachStderr":true,"Cmd":["sh","-c","echo x; exit 9"]}"#,
    );
    assert_eq!(st, 201, "{body}");
    let exec_id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let e = send(
        &sock,
        "POST",
        &format!("/exec/{exec_id}/start"),
        r#"{"Detach":false,"Tty":false}"#,
        true,
    );
    let (st, headers, mut exec) = head(e);
    assert_eq!(st, 101, "{headers}");
    assert_eq!(frames(&mut exec), vec![(1, "x\n".to_string())]);
    // Right after EOF the exit code is there.
    let (st, body) = call(&sock, "GET", &format!("/exec/{exec_id}/json"), "");
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ExitCode"], 9, "{v}");
    assert_eq!(v["Running"], false, "{v}");

    // Removing a running container needs force: 409.
    let (st, body) = call(&sock, "DELETE", "/containers/live", "");
    assert_eq!(st, 409, "{body}");
    assert_eq!(call(&sock, "DELETE", "/containers/live?force=1", "").0, 204);
    assert_eq!(
        call(&sock, "DELETE", &format!("/containers/{id}"), "").0,
        204
    );
}
