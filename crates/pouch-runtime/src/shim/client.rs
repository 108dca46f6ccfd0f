//! The engine's async client for one shim: a connection per request to `<state-dir>/shim.sock`,
//! one request line, one answer line (then, for attach, the raw stream).

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::protocol::{
    AttachRequest, Empty, ExitStatus, OkAnswer, Reply, Request, ResizeRequest, ShimState,
    SHIM_LOG_FILE, SOCKET_FILE,
};
use super::{subject_of, ShimError};

/// How long a quick request (everything but wait) may take to be answered.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest answer line accepted.
const MAX_LINE: usize = 64 * 1024;
/// The longest path a socket address holds, without its terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// A client for the shim whose state dir is given.
#[derive(Debug, Clone)]
pub struct ShimClient {
    socket: PathBuf,
    log: PathBuf,
    subject: String,
}

impl ShimClient {
    /// A client for the shim of `state_dir` (socket `state_dir/shim.sock`). Connects lazily.
    pub fn new(state_dir: &Path) -> ShimClient {
        ShimClient {
            socket: state_dir.join(SOCKET_FILE),
            log: state_dir.join(SHIM_LOG_FILE),
            subject: subject_of(state_dir),
        }
    }

    /// The socket this client connects to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Attaches to the process's streams. The returned stream carries the output (Docker's
    /// multiplexed frames without a tty, raw bytes with one) and takes stdin; shutting down
    /// its write side is the client's EOF on stdin.
    pub async fn attach(
        &self,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> Result<UnixStream, ShimError> {
        let req = Request::Attach(AttachRequest {
            stdin,
            stdout,
            stderr,
        });
        let (stream, _) = self
            .call::<OkAnswer>("attach", &req, Some(ANSWER_TIMEOUT))
            .await?;
        Ok(stream)
    }

    /// Sets the terminal size (a no-op without a tty).
    pub async fn resize(&self, height: u16, width: u16) -> Result<(), ShimError> {
        let req = Request::Resize(ResizeRequest { height, width });
        self.call::<OkAnswer>("resize", &req, Some(ANSWER_TIMEOUT))
            .await
            .map(drop)
    }

    /// Waits until the process has exited and returns how it ended. A shim that already
    /// finished is gone (`ShimError::Connect`): its answer is then in [`super::read_exit_file`].
    pub async fn wait(&self) -> Result<ExitStatus, ShimError> {
        let req = Request::Wait(Empty {});
        self.call::<ExitStatus>("wait", &req, None)
            .await
            .map(|(_, status)| status)
    }

    /// Closes the process's stdin.
    pub async fn close_stdin(&self) -> Result<(), ShimError> {
        let req = Request::CloseStdin(Empty {});
        self.call::<OkAnswer>("close_stdin", &req, Some(ANSWER_TIMEOUT))
            .await
            .map(drop)
    }

    /// The process's pid and whether it still runs.
    pub async fn state(&self) -> Result<ShimState, ShimError> {
        let req = Request::State(Empty {});
        self.call::<ShimState>("state", &req, Some(ANSWER_TIMEOUT))
            .await
            .map(|(_, state)| state)
    }

    /// Connects, sends `req` and reads the answer line (within `timeout` when given).
    async fn call<T: DeserializeOwned>(
        &self,
        name: &'static str,
        req: &Request,
        timeout: Option<Duration>,
    ) -> Result<(UnixStream, T), ShimError> {
        let exchange = async {
            let mut stream = self.connect().await.map_err(|source| ShimError::Connect {
                subject: self.subject.clone(),
                socket: self.socket.display().to_string(),
                log: self.log.display().to_string(),
                source,
            })?;
            stream
                .write_all(&req.to_line())
                .await
                .map_err(|e| self.io(e))?;
            let line = self.read_line(&mut stream).await?;
            Ok::<_, ShimError>((stream, line))
        };
        let (stream, line) =
            match timeout {
                Some(limit) => tokio::time::timeout(limit, exchange).await.map_err(|_| {
                    ShimError::Timeout {
                        subject: self.subject.clone(),
                        secs: limit.as_secs(),
                        log: self.log.display().to_string(),
                    }
                })??,
                None => exchange.await?,
            };
        match serde_json::from_slice::<Reply<T>>(&line) {
            Ok(Reply::Value(value)) => Ok((stream, value)),
            Ok(Reply::Error(answer)) => Err(ShimError::Refused {
                subject: self.subject.clone(),
                request: name,
                message: answer.error,
            }),
            Err(e) => Err(ShimError::Protocol {
                subject: self.subject.clone(),
                line: String::from_utf8_lossy(&line).into_owned(),
                detail: e.to_string(),
            }),
        }
    }

    /// Connects to the socket; a path too long for a socket address (an exec's state dir
    /// with two 64-character ids) is reached through `/proc/self/fd/<state dir>`.
    async fn connect(&self) -> std::io::Result<UnixStream> {
        if self.socket.as_os_str().len() <= MAX_SOCKET_PATH {
            return UnixStream::connect(&self.socket).await;
        }
        let (Some(dir), Some(name)) = (self.socket.parent(), self.socket.file_name()) else {
            return UnixStream::connect(&self.socket).await;
        };
        let dir = std::fs::File::open(dir)?;
        let short = Path::new("/proc/self/fd")
            .join(dir.as_raw_fd().to_string())
            .join(name);
        let stream = UnixStream::connect(&short).await;
        drop(dir);
        stream
    }

    /// Reads one line byte by byte, so nothing of the stream after it is consumed.
    async fn read_line(&self, stream: &mut UnixStream) -> Result<Vec<u8>, ShimError> {
        let mut line = Vec::with_capacity(64);
        loop {
            let mut byte = [0u8; 1];
            let n = stream.read(&mut byte).await.map_err(|e| self.io(e))?;
            if n == 0 {
                return Err(ShimError::Closed {
                    subject: self.subject.clone(),
                    log: self.log.display().to_string(),
                });
            }
            if byte[0] == b'\n' {
                return Ok(line);
            }
            if line.len() >= MAX_LINE {
                return Err(ShimError::Protocol {
                    subject: self.subject.clone(),
                    line: String::from_utf8_lossy(&line[..80]).into_owned(),
                    detail: format!("answer line longer than {MAX_LINE} bytes"),
                });
            }
            line.push(byte[0]);
        }
    }

    fn io(&self, source: std::io::Error) -> ShimError {
        ShimError::Io {
            subject: self.subject.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_shim_is_a_connect_error_naming_the_container() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("containers").join("c1");
        let err = ShimClient::new(&state).state().await.expect_err("no shim");
        let msg = err.to_string();
        assert!(msg.contains("container c1"), "{msg}");
        assert!(msg.contains("shim.sock"), "{msg}");
    }

    #[tokio::test]
    async fn answers_are_read_up_to_the_line_and_errors_are_refusals() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("c2");
        std::fs::create_dir_all(&state).expect("mkdir");
        let listener =
            tokio::net::UnixListener::bind(state.join(SOCKET_FILE)).expect("bind socket");
        let server = tokio::spawn(async move {
            // attach: ok line then stream bytes; resize: an error answer
            let (mut conn, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 256];
            let n = conn.read(&mut buf).await.expect("read request");
            assert!(buf[..n].starts_with(b"{\"attach\""));
            conn.write_all(b"{\"ok\":true}\n\x01\x00\x00\x00\x00\x00\x00\x02hi")
                .await
                .expect("write");
            let (mut conn, _) = listener.accept().await.expect("accept");
            let _ = conn.read(&mut buf).await.expect("read request");
            conn.write_all(b"{\"error\":\"no tty\"}\n")
                .await
                .expect("write");
        });
        let client = ShimClient::new(&state);
        let mut stream = client.attach(false, true, true).await.expect("attach");
        let mut frame = [0u8; 10];
        stream.read_exact(&mut frame).await.expect("frame");
        assert_eq!(&frame[8..], b"hi");
        let err = client.resize(1, 1).await.expect_err("refused");
        assert!(matches!(err, ShimError::Refused { .. }), "{err}");
        server.await.expect("server");
    }
}
