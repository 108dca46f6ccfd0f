//! The process's stdio on the shim's side: the pipes handed to the runtime as its fds 0/1/2
//! (passed through to the container) or, with a tty, the pty master received on the console
//! socket; non-blocking reads of the output and buffered, non-blocking writes of stdin.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use pouch_runtime::shim::protocol::{STREAM_STDERR, STREAM_STDOUT};
use rustix::io::Errno;
use rustix::pipe::{pipe_with, PipeFlags};

/// The byte a terminal's line discipline reads as end of input (VEOF, ctrl-d).
const EOT: u8 = 0x04;

/// One output of the process: a pipe's read end, or the pty master.
#[derive(Debug)]
pub struct Source {
    pub fd: OwnedFd,
    /// `STREAM_STDOUT` or `STREAM_STDERR` (a tty is stdout).
    pub stream: u8,
    pub open: bool,
}

/// What a non-blocking read gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    Data(usize),
    Eof,
    WouldBlock,
}

/// The fds the runtime gets as 0, 1 and 2, plus (tty mode) the read end of a pipe that
/// carries the runtime's own output, for its error messages.
#[derive(Debug)]
pub struct RuntimeStdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    pub own_output: Option<OwnedFd>,
}

/// The shim's ends of the process's stdio.
#[derive(Debug)]
pub struct ContainerIo {
    pub tty: bool,
    pub sources: Vec<Source>,
    stdin: Option<OwnedFd>,
    stdin_buf: Vec<u8>,
    /// Close stdin once the buffer is written.
    stdin_closing: bool,
}

/// Creates the pipes (non-tty) or the runtime's output pipe (tty). Without `stdin`, the
/// process reads /dev/null.
pub fn prepare(tty: bool, stdin: bool) -> io::Result<(ContainerIo, RuntimeStdio)> {
    let null = || File::open("/dev/null").map(OwnedFd::from);
    let mut io = ContainerIo {
        tty,
        sources: Vec::with_capacity(2),
        stdin: None,
        stdin_buf: Vec::new(),
        stdin_closing: false,
    };
    if tty {
        let (read, write) = pipe_with(PipeFlags::CLOEXEC)?;
        rustix::io::ioctl_fionbio(&read, true)?;
        let stderr = write.try_clone()?;
        let stdio = RuntimeStdio {
            stdin: null()?,
            stdout: write,
            stderr,
            own_output: Some(read),
        };
        return Ok((io, stdio));
    }
    let stdin_fd = if stdin {
        let (read, write) = pipe_with(PipeFlags::CLOEXEC)?;
        rustix::io::ioctl_fionbio(&write, true)?;
        io.stdin = Some(write);
        read
    } else {
        null()?
    };
    let mut out = |stream| -> io::Result<OwnedFd> {
        let (read, write) = pipe_with(PipeFlags::CLOEXEC)?;
        rustix::io::ioctl_fionbio(&read, true)?;
        io.sources.push(Source {
            fd: read,
            stream,
            open: true,
        });
        Ok(write)
    };
    let stdout = out(STREAM_STDOUT)?;
    let stderr = out(STREAM_STDERR)?;
    Ok((
        io,
        RuntimeStdio {
            stdin: stdin_fd,
            stdout,
            stderr,
            own_output: None,
        },
    ))
}

impl ContainerIo {
    /// Takes the pty master the runtime sent: it becomes the output, and stdin with `stdin`.
    pub fn set_master(&mut self, master: OwnedFd, stdin: bool) -> io::Result<()> {
        rustix::io::ioctl_fionbio(&master, true)?;
        if stdin {
            self.stdin = Some(master.try_clone()?);
        }
        self.sources.push(Source {
            fd: master,
            stream: STREAM_STDOUT,
            open: true,
        });
        Ok(())
    }

    /// Reads from source `index`; end of file (or EIO from a pty whose slave is closed)
    /// marks it closed.
    pub fn read(&mut self, index: usize, buf: &mut [u8]) -> ReadOutcome {
        let source = &mut self.sources[index];
        let outcome = read_fd(source.fd.as_fd(), buf);
        if outcome == ReadOutcome::Eof {
            source.open = false;
        }
        outcome
    }

    /// Whether any output may still come.
    pub fn any_source_open(&self) -> bool {
        self.sources.iter().any(|s| s.open)
    }

    /// Whether the process has a stdin that is not (being) closed.
    pub fn stdin_open(&self) -> bool {
        self.stdin.is_some() && !self.stdin_closing
    }

    /// Bytes accepted for stdin but not yet written.
    pub fn stdin_backlog(&self) -> usize {
        self.stdin_buf.len()
    }

    /// The stdin fd while it has bytes to write (for POLLOUT).
    pub fn stdin_pending(&self) -> Option<BorrowedFd<'_>> {
        match &self.stdin {
            Some(fd) if !self.stdin_buf.is_empty() => Some(fd.as_fd()),
            _ => None,
        }
    }

    /// Queues bytes for stdin and writes what the pipe takes now. Dropped when stdin is
    /// closed or absent.
    pub fn push_stdin(&mut self, data: &[u8]) {
        if self.stdin_open() {
            self.stdin_buf.extend_from_slice(data);
            self.flush_stdin();
        }
    }

    /// Writes queued stdin bytes without blocking; closes stdin once drained if asked to.
    pub fn flush_stdin(&mut self) {
        let Some(fd) = &self.stdin else {
            self.stdin_buf.clear();
            return;
        };
        let mut written = 0;
        let mut broken = false;
        while written < self.stdin_buf.len() {
            match rustix::io::write(fd, &self.stdin_buf[written..]) {
                Ok(n) => written += n,
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => break,
                Err(_) => {
                    // EPIPE: nobody reads stdin any more.
                    broken = true;
                    break;
                }
            }
        }
        self.stdin_buf.drain(..written);
        if broken {
            self.stdin_buf = Vec::new();
            self.stdin = None;
        } else if self.stdin_buf.is_empty() {
            if self.stdin_buf.capacity() > 64 * 1024 {
                self.stdin_buf = Vec::new();
            }
            if self.stdin_closing {
                self.stdin = None;
            }
        }
    }

    /// Closes stdin after the queued bytes: the pipe's write end is closed; a terminal gets
    /// an end-of-input character instead (the master also carries the output).
    pub fn close_stdin(&mut self) {
        if !self.stdin_open() {
            return;
        }
        if self.tty {
            self.stdin_buf.push(EOT);
        }
        self.stdin_closing = true;
        self.flush_stdin();
    }

    /// Drops stdin at once (the process is gone).
    pub fn drop_stdin(&mut self) {
        self.stdin = None;
        self.stdin_buf = Vec::new();
    }

    /// Sets the terminal size; a no-op without a tty.
    pub fn resize(&self, height: u16, width: u16) -> io::Result<()> {
        if !self.tty {
            return Ok(());
        }
        let Some(master) = self.sources.first() else {
            return Ok(());
        };
        let size = rustix::termios::Winsize {
            ws_row: height,
            ws_col: width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&master.fd, size)?;
        Ok(())
    }
}

/// A non-blocking read; EIO (a pty without slave) counts as end of file.
pub fn read_fd(fd: BorrowedFd<'_>, buf: &mut [u8]) -> ReadOutcome {
    loop {
        return match rustix::io::read(fd, &mut *buf) {
            Ok(0) => ReadOutcome::Eof,
            Ok(n) => ReadOutcome::Data(n),
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => ReadOutcome::WouldBlock,
            Err(_) => ReadOutcome::Eof,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_carry_stdin_and_output() {
        let (mut io, stdio) = prepare(false, true).expect("pipes");
        assert_eq!(io.sources.len(), 2);
        assert!(stdio.own_output.is_none());
        // what we push to stdin comes out of the runtime's fd 0
        io.push_stdin(b"abc");
        let mut buf = [0u8; 8];
        assert_eq!(read_fd(stdio.stdin.as_fd(), &mut buf), ReadOutcome::Data(3));
        // what the process writes to fd 2 is read as stderr
        rustix::io::write(&stdio.stderr, b"err").expect("write");
        assert_eq!(io.sources[1].stream, STREAM_STDERR);
        assert_eq!(io.read(1, &mut buf), ReadOutcome::Data(3));
        assert_eq!(io.read(1, &mut buf), ReadOutcome::WouldBlock);
        // closing stdin gives the reader end of file; the output closes with its writer
        io.close_stdin();
        assert!(!io.stdin_open());
        assert_eq!(read_fd(stdio.stdin.as_fd(), &mut buf), ReadOutcome::Eof);
        drop(stdio);
        assert_eq!(io.read(0, &mut buf), ReadOutcome::Eof);
        assert!(io.any_source_open());
        assert_eq!(io.read(1, &mut buf), ReadOutcome::Eof);
        assert!(!io.any_source_open());
    }

    #[test]
    fn stdin_is_dropped_without_a_stdin_pipe_and_resize_needs_no_tty() {
        let (mut io, _stdio) = prepare(false, false).expect("pipes");
        assert!(!io.stdin_open());
        io.push_stdin(b"ignored");
        assert_eq!(io.stdin_backlog(), 0);
        io.resize(24, 80).expect("no-op");
    }

    #[test]
    fn a_full_pipe_keeps_the_rest_queued() {
        let (mut io, stdio) = prepare(false, true).expect("pipes");
        let big = vec![b'x'; 256 * 1024];
        io.push_stdin(&big);
        assert!(io.stdin_backlog() > 0, "a pipe holds less than 256 KiB");
        assert!(io.stdin_pending().is_some());
        let mut buf = vec![0u8; 256 * 1024];
        let mut got = 0;
        while got < big.len() {
            if let ReadOutcome::Data(n) = read_fd(stdio.stdin.as_fd(), &mut buf) {
                got += n;
            }
            io.flush_stdin();
        }
        assert_eq!(io.stdin_backlog(), 0);
    }
}
