//! Attach sessions: a hijacked client connection piped to a shim's attach stream. The
//! client's bytes go to the process's stdin (watching for the detach keys); the shim's
//! output (already in Docker's framing) goes to the client. A session on a created
//! container waits for its start and is connected before the process runs.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use pouch_api::ApiError;
use pouch_runtime::shim::ShimClient;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

use super::record::Status;
use super::Containers;

/// `POST /containers/{id}/attach` options.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub stream: bool,
    pub logs: bool,
    /// Docker's form: `ctrl-p,ctrl-q`.
    pub detach_keys: Option<String>,
}

enum Target {
    Ready(PathBuf),
    Pending(oneshot::Receiver<(PathBuf, oneshot::Sender<()>)>),
}

type Done = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A validated attach, ready to serve a hijacked connection.
pub struct AttachSession {
    tty: bool,
    target: Target,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    detach_keys: Vec<u8>,
    /// Awaited after the output ended and before the client's stream is closed (an exec's
    /// exit code must be recorded by then).
    done: Option<Done>,
}

impl Containers {
    pub fn attach(&self, name: &str, opts: AttachOptions) -> Result<AttachSession, ApiError> {
        let c = self.get(name)?;
        let detach_keys = parse_detach_keys(opts.detach_keys.as_deref().unwrap_or(""))?;
        let rec = c.record();
        let target = match rec.state.status {
            Status::Running | Status::Paused => Target::Ready(self.paths.state_dir(&c.id)),
            Status::Removing | Status::Dead => {
                return Err(ApiError::conflict(format!(
                    "cannot attach to container {name}: it is being removed"
                )))
            }
            _ => {
                let (tx, rx) = oneshot::channel();
                c.pending_attach
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(tx);
                Target::Pending(rx)
            }
        };
        self.event(&c, "attach", &[]);
        Ok(AttachSession {
            tty: rec.config.tty,
            target,
            stdin: opts.stdin && rec.config.open_stdin,
            stdout: opts.stdout,
            stderr: opts.stderr,
            detach_keys,
            done: None,
        })
    }
}

impl AttachSession {
    /// A session on an exec's shim (already running).
    pub(super) fn for_exec(
        state_dir: PathBuf,
        tty: bool,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        detach_keys: Vec<u8>,
        done: Done,
    ) -> AttachSession {
        AttachSession {
            tty,
            target: Target::Ready(state_dir),
            stdin,
            stdout,
            stderr,
            detach_keys,
            done: Some(done),
        }
    }

    /// Whether the stream is raw (a tty) rather than multiplexed.
    pub fn tty(&self) -> bool {
        self.tty
    }

    /// Pipes `io` (the hijacked connection) to the shim until the output ends or the client
    /// detaches.
    pub async fn serve<S>(self, io: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (state_dir, ack) = match self.target {
            Target::Ready(d) => (d, None),
            Target::Pending(rx) => match rx.await {
                Ok((d, ack)) => (d, Some(ack)),
                // The start failed (or the container went away): nothing to attach to.
                Err(_) => {
                    let mut io = io;
                    let _ = io.shutdown().await;
                    return;
                }
            },
        };
        let shim = ShimClient::new(&state_dir);
        let conn = shim.attach(self.stdin, self.stdout, self.stderr).await;
        if let Some(ack) = ack {
            let _ = ack.send(());
        }
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(dir = %state_dir.display(), "attach to the shim: {e}");
                let mut io = io;
                let _ = io.shutdown().await;
                return;
            }
        };
        let (mut client_r, mut client_w) = tokio::io::split(io);
        let (mut shim_r, mut shim_w) = conn.into_split();
        let stdin = self.stdin;
        let keys = self.detach_keys;
        let input = async move {
            if !stdin {
                // Keep reading so a client close is noticed; discard the bytes.
                let mut buf = [0u8; 1024];
                while matches!(client_r.read(&mut buf).await, Ok(n) if n > 0) {}
                return false;
            }
            let mut det = DetachScanner::new(keys);
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match client_r.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        let _ = shim_w.shutdown().await;
                        return false;
                    }
                    Ok(n) => {
                        let (out, detached) = det.feed(&buf[..n]);
                        if !out.is_empty() && shim_w.write_all(&out).await.is_err() {
                            return false;
                        }
                        if detached {
                            return true;
                        }
                    }
                }
            }
        };
        let output = async move {
            let _ = tokio::io::copy(&mut shim_r, &mut client_w).await;
            client_w
        };
        tokio::pin!(input);
        tokio::pin!(output);
        let mut input_done = false;
        let mut client_w = loop {
            tokio::select! {
                detached = &mut input, if !input_done => {
                    input_done = true;
                    if detached {
                        // Leave the container running; close the client's connection.
                        return;
                    }
                }
                w = &mut output => break w,
            }
        };
        if let Some(done) = self.done {
            done.await;
        }
        let _ = client_w.flush().await;
        let _ = client_w.shutdown().await;
    }
}

/// Finds the detach sequence in the client's input, holding back bytes that may start it.
struct DetachScanner {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachScanner {
    fn new(keys: Vec<u8>) -> Self {
        DetachScanner { keys, matched: 0 }
    }

    /// Bytes to forward, and whether the full sequence was seen.
    fn feed(&mut self, data: &[u8]) -> (Vec<u8>, bool) {
        if self.keys.is_empty() {
            return (data.to_vec(), false);
        }
        let mut out = Vec::with_capacity(data.len());
        for &b in data {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (out, true);
                }
            } else {
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
                if b == self.keys[0] {
                    self.matched = 1;
                } else {
                    out.push(b);
                }
            }
        }
        (out, false)
    }
}

/// Docker's detach keys: comma-separated `ctrl-<key>` or single characters; empty means the
/// default `ctrl-p,ctrl-q`.
pub(super) fn parse_detach_keys(s: &str) -> Result<Vec<u8>, ApiError> {
    let s = if s.is_empty() { "ctrl-p,ctrl-q" } else { s };
    let bad = || {
        ApiError::invalid(format!(
            "invalid detach keys ({s}): use ctrl-<a-z,@,[,\\,],^,_> or single characters, comma-separated"
        ))
    };
    let mut out = Vec::new();
    for key in s.split(',') {
        let k = key.trim();
        if let Some(c) = k.strip_prefix("ctrl-") {
            let c = c.as_bytes();
            if c.len() != 1 {
                return Err(bad());
            }
            let b = c[0].to_ascii_lowercase();
            let code = match b {
                b'a'..=b'z' => b - b'a' + 1,
                b'@' => 0,
                b'[' => 27,
                b'\\' => 28,
                b']' => 29,
                b'^' => 30,
                b'_' => 31,
                _ => return Err(bad()),
            };
            out.push(code);
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else {
            return Err(bad());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse() {
        assert_eq!(parse_detach_keys("").unwrap(), vec![16, 17]);
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), vec![1, b'x']);
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("abc").is_err());
    }

    #[test]
    fn scanner_holds_back_and_detaches() {
        let mut s = DetachScanner::new(vec![16, 17]);
        assert_eq!(s.feed(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(s.feed(b"c"), (b"\x10c".to_vec(), false));
        assert_eq!(s.feed(b"x\x10"), (b"x".to_vec(), false));
        assert_eq!(s.feed(b"\x11rest"), (Vec::new(), true));
        let mut s = DetachScanner::new(vec![16, 17]);
        assert_eq!(s.feed(b"\x10\x10\x11"), (b"\x10".to_vec(), true));
    }
}
