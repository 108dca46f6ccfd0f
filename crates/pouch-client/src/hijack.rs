//! Hijacked connections (attach, exec start): the request carries `Connection: Upgrade` and
//! `Upgrade: tcp`, pouchd answers `101`, and from then on the socket is a raw bidirectional
//! byte stream. [`HijackedStream`] is that socket; shutting down its write side is the
//! container's stdin EOF while output keeps coming.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::header::CONTENT_TYPE;
use hyper::upgrade::Upgraded;
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::transport::Body;
use crate::{Client, ClientError};

/// The Content-Type pouchd gives a multiplexed (non-tty) stream.
const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";

/// An upgraded connection to pouchd: read the container's output, write its input.
pub struct HijackedStream {
    io: TokioIo<Upgraded>,
    multiplexed: bool,
}

impl std::fmt::Debug for HijackedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HijackedStream")
            .field("multiplexed", &self.multiplexed)
            .finish_non_exhaustive()
    }
}

impl HijackedStream {
    /// True when the daemon said the output is framed (no tty): read it with
    /// [`crate::Demuxer`] or [`crate::demux_copy`]. The CLI should rather trust what it knows
    /// of the container's `Tty`, as docker does; this is the daemon's word.
    pub fn is_multiplexed(&self) -> bool {
        self.multiplexed
    }

    /// Splits into a read half and a write half usable from two tasks; `shutdown()` on the
    /// write half half-closes the connection.
    pub fn split(
        self,
    ) -> (
        tokio::io::ReadHalf<HijackedStream>,
        tokio::io::WriteHalf<HijackedStream>,
    ) {
        tokio::io::split(self)
    }
}

impl AsyncRead for HijackedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for HijackedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Half-closes the socket (`shutdown(SHUT_WR)`): hyper's `Upgraded` passes the shutdown
    /// down to the unix or TCP stream, whose `poll_shutdown` shuts down the write side only.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl Client {
    /// Sends `POST path` with the upgrade headers and `body`, and returns the upgraded socket.
    /// Anything but `101` fails, as it does in the docker client.
    pub(crate) async fn hijack(
        &self,
        path: &str,
        body: Body,
        what: &str,
    ) -> Result<HijackedStream, ClientError> {
        let headers = vec![
            ("Connection", "Upgrade".to_string()),
            ("Upgrade", "tcp".to_string()),
        ];
        let response = self.send(Method::POST, path, true, headers, body).await?;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(ClientError::io(
                what,
                io::Error::other(format!(
                    "unable to upgrade to tcp, received {}",
                    response.status().as_u16()
                )),
            ));
        }
        let multiplexed = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(MULTIPLEXED));
        let upgraded = hyper::upgrade::on(response)
            .await
            .map_err(|e| ClientError::hyper(what, e))?;
        Ok(HijackedStream {
            io: TokioIo::new(upgraded),
            multiplexed,
        })
    }
}
