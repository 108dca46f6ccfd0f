//! Waiting in the foreground for a process this runtime started (`run`, `exec` without
//! `--detach`): signals are blocked and taken with sigwait, forwarded to the process, and
//! children are reaped until the process exits. Its exit code, or 128 + the signal that
//! killed it, becomes this command's.

use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Waits for `pid` (a child of this process); returns its exit code.
pub fn wait(pid: Pid) -> Result<i32, nix::Error> {
    let signals = SigSet::all();
    signals.thread_block()?;
    loop {
        // reap first: the process may have exited before the signals were blocked, and a
        // SIGCHLD that arrived then is not pending any more
        if let Some(code) = reap(pid)? {
            return Ok(code);
        }
        match signals.wait()? {
            Signal::SIGCHLD => {}
            // Go's runtime preemption signal in runc; resize is not forwarded either
            Signal::SIGURG | Signal::SIGWINCH => {}
            signal => {
                let _ = kill(pid, signal);
            }
        }
    }
}

/// Reaps every exited child; the exit code once `pid` is among them.
fn reap(pid: Pid) -> Result<Option<i32>, nix::Error> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p == pid => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(p, signal, _)) if p == pid => {
                return Ok(Some(128 + signal as i32))
            }
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => {}
            Err(Errno::EINTR) => {}
            Err(Errno::ECHILD) => return Err(Errno::ECHILD),
            Err(e) => return Err(e),
        }
    }
}
