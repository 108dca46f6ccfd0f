//! Docker's multiplexed stream format (attach, exec and logs without a tty): frames of
//! `[kind, 0, 0, 0, len (u32 big-endian)] + payload`, kind 0 stdin, 1 stdout, 2 stderr,
//! 3 a system error. [`Demuxer`] splits such a byte stream into frames whatever the chunk
//! boundaries; [`demux_copy`] and [`demux_stream`] are the two ways the CLI consumes it.

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{ByteStream, ClientError};

/// Size of a frame header.
const HEADER_LEN: usize = 8;

/// Which stream a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Input echoed back (written to stdout, as docker does).
    Stdin,
    Stdout,
    Stderr,
    /// An error the daemon reports inside the stream.
    System,
}

impl StreamKind {
    fn from_byte(b: u8) -> Option<StreamKind> {
        match b {
            0 => Some(StreamKind::Stdin),
            1 => Some(StreamKind::Stdout),
            2 => Some(StreamKind::Stderr),
            3 => Some(StreamKind::System),
            _ => None,
        }
    }

    /// The header byte of this kind.
    pub fn as_byte(self) -> u8 {
        match self {
            StreamKind::Stdin => 0,
            StreamKind::Stdout => 1,
            StreamKind::Stderr => 2,
            StreamKind::System => 3,
        }
    }
}

/// One frame of a multiplexed stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: StreamKind,
    pub payload: Bytes,
}

/// Why a multiplexed stream could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DemuxError {
    /// The header names no known stream (the stream is probably not multiplexed).
    #[error("unrecognized input header: {0} (is the stream from a tty container?)")]
    UnknownStream(u8),
    /// The stream ended in the middle of a frame.
    #[error("multiplexed stream from pouchd ended inside a frame ({0} bytes left over)")]
    Truncated(usize),
    /// The daemon sent a system-error frame.
    #[error("error from daemon in stream: {0}")]
    System(String),
    /// Reading the stream or writing the output failed.
    #[error("i/o error copying the container's output: {0}")]
    Io(#[from] std::io::Error),
    /// The HTTP body failed.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Incremental frame splitter.
#[derive(Debug, Default)]
pub struct Demuxer {
    buf: BytesMut,
}

impl Demuxer {
    pub fn new() -> Demuxer {
        Demuxer::default()
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete frame, `None` until one is buffered.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DemuxError> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let kind =
            StreamKind::from_byte(self.buf[0]).ok_or(DemuxError::UnknownStream(self.buf[0]))?;
        let len = u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        self.buf.advance(HEADER_LEN);
        let payload = self.buf.split_to(len).freeze();
        Ok(Some(Frame { kind, payload }))
    }

    /// Checks that the stream ended on a frame boundary.
    pub fn finish(&self) -> Result<(), DemuxError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DemuxError::Truncated(self.buf.len()))
        }
    }
}

/// Encodes one frame (the daemon's side of the format; used by tests and fakes of the shim).
pub fn encode_frame(kind: StreamKind, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&[kind.as_byte(), 0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Copies a multiplexed stream to `stdout` and `stderr` until EOF, flushing after each frame
/// (Docker's `stdcopy.StdCopy`). A system-error frame ends the copy with [`DemuxError::System`].
pub async fn demux_copy<R, O, E>(
    mut reader: R,
    stdout: &mut O,
    stderr: &mut E,
) -> Result<(), DemuxError>
where
    R: AsyncRead + Unpin,
    O: AsyncWrite + Unpin + ?Sized,
    E: AsyncWrite + Unpin + ?Sized,
{
    let mut demuxer = Demuxer::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return demuxer.finish();
        }
        demuxer.push(&buf[..n]);
        while let Some(frame) = demuxer.next_frame()? {
            write_frame(frame, stdout, stderr).await?;
        }
    }
}

async fn write_frame<O, E>(frame: Frame, stdout: &mut O, stderr: &mut E) -> Result<(), DemuxError>
where
    O: AsyncWrite + Unpin + ?Sized,
    E: AsyncWrite + Unpin + ?Sized,
{
    match frame.kind {
        StreamKind::Stdin | StreamKind::Stdout => {
            stdout.write_all(&frame.payload).await?;
            stdout.flush().await?;
        }
        StreamKind::Stderr => {
            stderr.write_all(&frame.payload).await?;
            stderr.flush().await?;
        }
        StreamKind::System => {
            return Err(DemuxError::System(
                String::from_utf8_lossy(&frame.payload).into_owned(),
            ))
        }
    }
    Ok(())
}

/// A stream of frames.
pub type FrameStream = Pin<Box<dyn Stream<Item = Result<Frame, DemuxError>> + Send>>;

struct StreamState {
    body: ByteStream,
    demuxer: Demuxer,
    done: bool,
}

/// Splits a multiplexed HTTP body (`logs` of a container without a tty) into frames. System
/// frames are passed on as frames; the caller decides what to do with them.
pub fn demux_stream(body: ByteStream) -> FrameStream {
    let state = StreamState {
        body,
        demuxer: Demuxer::new(),
        done: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            match st.demuxer.next_frame() {
                Ok(Some(frame)) => return Some((Ok(frame), st)),
                Ok(None) => {}
                Err(e) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
            }
            match st.body.next().await {
                Some(Ok(chunk)) => st.demuxer.push(&chunk),
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(e.into()), st));
                }
                None => {
                    st.done = true;
                    if let Err(e) = st.demuxer.finish() {
                        return Some((Err(e), st));
                    }
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_frames(d: &mut Demuxer) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Some(f) = d.next_frame().unwrap() {
            out.push(f);
        }
        out
    }

    #[test]
    fn splits_frames_across_any_chunking() {
        let mut wire = encode_frame(StreamKind::Stdout, b"hello\n");
        wire.extend(encode_frame(StreamKind::Stderr, b"oops"));
        wire.extend(encode_frame(StreamKind::Stdout, b""));
        wire.extend(encode_frame(StreamKind::Stdin, &[0u8; 300]));
        for step in [1, 3, 7, 8, 9, wire.len()] {
            let mut d = Demuxer::new();
            let mut frames = Vec::new();
            for chunk in wire.chunks(step) {
                d.push(chunk);
                frames.extend(all_frames(&mut d));
            }
            d.finish().unwrap();
            assert_eq!(frames.len(), 4, "chunk size {step}");
            assert_eq!(frames[0].kind, StreamKind::Stdout);
            assert_eq!(&frames[0].payload[..], b"hello\n");
            assert_eq!(frames[1].kind, StreamKind::Stderr);
            assert_eq!(&frames[1].payload[..], b"oops");
            assert!(frames[2].payload.is_empty());
            assert_eq!(frames[3].kind, StreamKind::Stdin);
            assert_eq!(frames[3].payload.len(), 300);
        }
    }

    #[test]
    fn big_endian_length() {
        let wire = encode_frame(StreamKind::Stdout, &vec![b'x'; 0x0001_0203]);
        assert_eq!(&wire[..8], &[1, 0, 0, 0, 0x00, 0x01, 0x02, 0x03]);
    }

    #[test]
    fn rejects_unknown_kind_and_truncation() {
        let mut d = Demuxer::new();
        d.push(b"hello world, not framed");
        assert!(matches!(
            d.next_frame(),
            Err(DemuxError::UnknownStream(b'h'))
        ));

        let mut d = Demuxer::new();
        let wire = encode_frame(StreamKind::Stdout, b"abcdef");
        d.push(&wire[..10]);
        assert!(d.next_frame().unwrap().is_none());
        assert!(matches!(d.finish(), Err(DemuxError::Truncated(10))));
    }

    #[tokio::test]
    async fn copy_routes_streams_and_stops_on_system_error() {
        let mut wire = encode_frame(StreamKind::Stdout, b"out1 ");
        wire.extend(encode_frame(StreamKind::Stderr, b"err1"));
        wire.extend(encode_frame(StreamKind::Stdin, b"echo"));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        demux_copy(&wire[..], &mut out, &mut err).await.unwrap();
        assert_eq!(out, b"out1 echo");
        assert_eq!(err, b"err1");

        wire.extend(encode_frame(StreamKind::System, b"boom"));
        wire.extend(encode_frame(StreamKind::Stdout, b"never"));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let e = demux_copy(&wire[..], &mut out, &mut err).await.unwrap_err();
        assert_eq!(e.to_string(), "error from daemon in stream: boom");
        assert_eq!(out, b"out1 echo");
    }

    #[tokio::test]
    async fn stream_of_frames_from_chunks() {
        let mut wire = encode_frame(StreamKind::Stdout, b"a");
        wire.extend(encode_frame(StreamKind::Stderr, b"bc"));
        let chunks: Vec<Result<Bytes, ClientError>> = wire
            .chunks(3)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let body: ByteStream = Box::pin(futures_util::stream::iter(chunks));
        let frames: Vec<_> = demux_stream(body).collect().await;
        assert_eq!(frames.len(), 2);
        let f1 = frames[1].as_ref().unwrap();
        assert_eq!((f1.kind, &f1.payload[..]), (StreamKind::Stderr, &b"bc"[..]));

        let cut: ByteStream = Box::pin(futures_util::stream::iter(vec![Ok(
            Bytes::copy_from_slice(&wire[..5]),
        )]));
        let frames: Vec<_> = demux_stream(cut).collect().await;
        assert!(matches!(frames[..], [Err(DemuxError::Truncated(5))]));
    }
}
