//! One connection to `shim.sock`: its request line, its role after the request (attached,
//! waiting, answered), and its output backlog, written without blocking and bounded so a slow
//! client is dropped instead of stalling the shim.

use std::os::unix::net::UnixStream;

use pouch_runtime::shim::protocol::{to_line, STREAM_STDERR, STREAM_STDOUT};
use rustix::io::Errno;
use rustix::net::SendFlags;
use serde::Serialize;

use crate::stdio::{read_fd, ReadOutcome};

/// The longest request line.
const MAX_REQUEST: usize = 4096;
/// A client whose unsent output passes this is dropped.
const BACKLOG_LIMIT: usize = 4 << 20;

/// A complete request line and the bytes that followed it (the start of an attach's stdin).
#[derive(Debug, PartialEq, Eq)]
pub struct RequestLine {
    pub line: Vec<u8>,
    pub rest: Vec<u8>,
}

/// What a connection is for, once its request line is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The request line is not complete yet.
    Pending,
    /// Streams: `stdin` while its input is still forwarded.
    Attached {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    /// A wait request, answered at exit.
    Waiting,
    /// The answer is queued; the connection closes once it is sent.
    Answered,
}

/// A connected client.
#[derive(Debug)]
pub struct Client {
    pub id: u64,
    stream: UnixStream,
    request: Vec<u8>,
    pub role: Role,
    out: Vec<u8>,
    sent: usize,
    /// Close once the backlog is sent.
    pub close_when_flushed: bool,
    /// Gone (closed, failed or too slow): removed at the end of the loop iteration.
    pub dead: bool,
    input_open: bool,
}

impl Client {
    pub fn new(id: u64, stream: UnixStream) -> Client {
        Client {
            id,
            stream,
            request: Vec::new(),
            role: Role::Pending,
            out: Vec::new(),
            sent: 0,
            close_when_flushed: false,
            dead: false,
            input_open: true,
        }
    }

    pub fn socket(&self) -> &UnixStream {
        &self.stream
    }

    /// Whether to read from this client now (`stdin_room`: stdin can take more).
    pub fn wants_input(&self, stdin_room: bool) -> bool {
        if !self.input_open || self.dead {
            return false;
        }
        match self.role {
            // A waiter is read only to notice it hanging up.
            Role::Pending | Role::Waiting => true,
            Role::Attached { stdin, .. } => stdin && stdin_room,
            Role::Answered => false,
        }
    }

    pub fn has_output(&self) -> bool {
        self.sent < self.out.len()
    }

    /// Whether this client is attached to `stream`'s output.
    pub fn wants_stream(&self, stream: u8) -> bool {
        match self.role {
            Role::Attached { stdout, stderr, .. } if !self.dead => {
                (stream == STREAM_STDOUT && stdout) || (stream == STREAM_STDERR && stderr)
            }
            _ => false,
        }
    }

    /// Reads input; end of file closes this client's input side.
    pub fn read(&mut self, buf: &mut [u8]) -> ReadOutcome {
        let outcome = read_fd(std::os::fd::AsFd::as_fd(&self.stream), buf);
        if outcome == ReadOutcome::Eof {
            self.input_open = false;
        }
        outcome
    }

    /// Adds input to the request line; returns the line and the bytes after it once complete.
    pub fn take_request(&mut self, data: &[u8]) -> Result<Option<RequestLine>, String> {
        self.request.extend_from_slice(data);
        match self.request.iter().position(|b| *b == b'\n') {
            Some(end) => {
                let rest = self.request.split_off(end + 1);
                let mut line = std::mem::take(&mut self.request);
                line.truncate(end);
                Ok(Some(RequestLine { line, rest }))
            }
            None if self.request.len() > MAX_REQUEST => {
                Err(format!("request line longer than {MAX_REQUEST} bytes"))
            }
            None => Ok(None),
        }
    }

    /// Queues raw bytes.
    pub fn queue(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Queues output of `stream`: raw with a tty, else in a Docker multiplexed frame.
    pub fn queue_output(&mut self, tty: bool, stream: u8, data: &[u8]) {
        if self.dead {
            return;
        }
        if !tty {
            self.out
                .extend_from_slice(&frame_header(stream, data.len()));
        }
        self.out.extend_from_slice(data);
        if self.out.len() - self.sent > BACKLOG_LIMIT {
            eprintln!(
                "pouch-shim: dropping attach client {}: more than {BACKLOG_LIMIT} bytes unread",
                self.id
            );
            self.dead = true;
            self.out = Vec::new();
            self.sent = 0;
        }
    }

    /// Queues the one answer line of a request; the connection closes after it.
    pub fn answer_line(&mut self, line: &[u8]) {
        self.queue(line);
        self.role = Role::Answered;
        self.close_when_flushed = true;
        self.flush();
    }

    /// Serializes and queues the one answer of a request.
    pub fn answer_last<T: Serialize>(&mut self, answer: &T) {
        self.answer_line(&to_line(answer));
    }

    /// Writes as much of the backlog as the socket takes now.
    pub fn flush(&mut self) {
        while self.sent < self.out.len() && !self.dead {
            match rustix::net::send(&self.stream, &self.out[self.sent..], SendFlags::NOSIGNAL) {
                Ok(n) => self.sent += n,
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => break,
                Err(_) => self.dead = true,
            }
        }
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
            if self.out.capacity() > 64 * 1024 {
                self.out = Vec::new();
            }
        } else if self.sent > 64 * 1024 {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
    }
}

/// Docker's multiplexed frame header: stream, three zero bytes, the length big-endian.
pub fn frame_header(stream: u8, len: usize) -> [u8; 8] {
    let len = u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes();
    [stream, 0, 0, 0, len[0], len[1], len[2], len[3]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn frames_have_dockers_header() {
        assert_eq!(frame_header(1, 6), [1, 0, 0, 0, 0, 0, 0, 6]);
        assert_eq!(frame_header(2, 0x0102_0304), [2, 0, 0, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_request_line_may_come_in_pieces_with_stdin_after_it() {
        let (a, _b) = UnixStream::pair().expect("pair");
        let mut c = Client::new(1, a);
        assert_eq!(c.take_request(b"{\"wait\"").expect("ok"), None);
        let RequestLine { line, rest } =
            c.take_request(b":{}}\nabc").expect("ok").expect("complete");
        assert_eq!(line, b"{\"wait\":{}}");
        assert_eq!(rest, b"abc");
        let (a, _b) = UnixStream::pair().expect("pair");
        let mut c = Client::new(2, a);
        assert!(c.take_request(&[b'x'; MAX_REQUEST + 1]).is_err());
    }

    #[test]
    fn output_is_framed_per_stream_and_a_slow_client_is_dropped() {
        let (a, mut b) = UnixStream::pair().expect("pair");
        a.set_nonblocking(true).expect("nonblocking");
        let mut c = Client::new(1, a);
        c.role = Role::Attached {
            stdin: false,
            stdout: true,
            stderr: false,
        };
        assert!(c.wants_stream(STREAM_STDOUT) && !c.wants_stream(STREAM_STDERR));
        c.queue_output(false, STREAM_STDOUT, b"hi");
        c.flush();
        let mut got = [0u8; 10];
        b.read_exact(&mut got).expect("read");
        assert_eq!(&got, b"\x01\x00\x00\x00\x00\x00\x00\x02hi");
        // nobody reads b: the backlog grows past the limit and the client is dropped
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..100 {
            c.queue_output(true, STREAM_STDOUT, &chunk);
            c.flush();
            if c.dead {
                break;
            }
        }
        assert!(c.dead);
        assert!(!c.has_output());
    }
}
