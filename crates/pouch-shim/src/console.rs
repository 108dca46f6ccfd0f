//! Unix sockets in the state dir, and the console socket on which the runtime sends the pty
//! master (SCM_RIGHTS) in tty mode. Sockets are bound by their name relative to the state dir
//! (the shim's working directory), because a state dir path can be longer than the 107 bytes
//! a socket address holds.

use std::io;
use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pouch_runtime::shim::protocol::CONSOLE_FILE;
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

/// The longest path a `sockaddr_un` holds, without its terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// Binds a non-blocking listener at `name` in the current directory, replacing a stale one.
pub fn bind_here(name: &str) -> io::Result<UnixListener> {
    match std::fs::remove_file(name) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(name)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// A path other processes can connect to for `name` in the shim's state dir: the absolute
/// path when it fits a socket address, else the same file through `/proc/<shim>/cwd`.
pub fn connect_path(state_dir: &Path, name: &str) -> PathBuf {
    let full = state_dir.join(name);
    if full.as_os_str().len() <= MAX_SOCKET_PATH {
        full
    } else {
        PathBuf::from(format!("/proc/{}/cwd/{name}", std::process::id()))
    }
}

/// The listening console socket; removed when dropped.
#[derive(Debug)]
pub struct ConsoleSocket {
    listener: UnixListener,
    runtime_path: PathBuf,
}

impl ConsoleSocket {
    /// Binds `console.sock` in the state dir (the current directory).
    pub fn bind(state_dir: &Path) -> io::Result<ConsoleSocket> {
        Ok(ConsoleSocket {
            listener: bind_here(CONSOLE_FILE)?,
            runtime_path: connect_path(state_dir, CONSOLE_FILE),
        })
    }

    /// The path to give the runtime as `--console-socket`.
    pub fn runtime_path(&self) -> &Path {
        &self.runtime_path
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Accepts a pending connection, if any, and receives the fd sent on it.
    pub fn receive(&self) -> io::Result<Option<OwnedFd>> {
        let conn = match self.listener.accept() {
            Ok((conn, _)) => conn,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        };
        // The runtime sends right after connecting; don't let a stuck peer hang the shim.
        conn.set_nonblocking(false)?;
        conn.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut name = [0u8; 1024];
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [IoSliceMut::new(&mut name)];
        rustix::net::recvmsg(&conn, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC)?;
        let mut received = None;
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmRights(fds) = message {
                for fd in fds {
                    received.get_or_insert(fd);
                }
            }
        }
        match received {
            Some(fd) => Ok(Some(fd)),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a connection to the console socket carried no file descriptor",
            )),
        }
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(CONSOLE_FILE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_state_dirs_go_through_proc() {
        let short = connect_path(Path::new("/run/pouch/containers/abc"), "shim.sock");
        assert_eq!(short, PathBuf::from("/run/pouch/containers/abc/shim.sock"));
        let long_dir = format!(
            "/run/pouch/containers/{}/exec/{}",
            "a".repeat(64),
            "b".repeat(64)
        );
        let long = connect_path(Path::new(&long_dir), "console.sock");
        assert_eq!(
            long,
            PathBuf::from(format!("/proc/{}/cwd/console.sock", std::process::id()))
        );
    }
}
