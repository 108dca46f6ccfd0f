//! Running `<runtime> create` (or `exec --detach`) with the container's stdio, within the
//! create timeout: waits on the runtime's pidfd while accepting the console socket and
//! reading the runtime's own output; on failure, the message comes from the last error line
//! of `runtime.log` (else the runtime's output).

use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use pouch_runtime::shim::protocol::{PID_FILE, RUNTIME_LOG_FILE};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{pidfd_open, Pid, PidfdFlags, Signal};

use crate::args::Args;
use crate::console::ConsoleSocket;
use crate::stdio::{read_fd, ReadOutcome, RuntimeStdio};

/// How much of the runtime's own output is kept for an error message.
const OUTPUT_KEEP: usize = 8 * 1024;

/// Errors of the runtime's create or exec; they name the runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("runtime {name}: cannot run {path}: {source} (check the runtime's path)")]
    Spawn {
        name: String,
        path: String,
        source: std::io::Error,
    },
    #[error("runtime {name} did not finish {verb} within {secs} s (it may not support this host's cgroup layout)")]
    Timeout {
        name: String,
        verb: &'static str,
        secs: u64,
    },
    #[error("runtime {name}: {verb} failed: {message}")]
    Failed {
        name: String,
        verb: &'static str,
        message: String,
    },
    #[error("runtime {name}: {verb} finished without sending the pty master to {socket}")]
    NoConsole {
        name: String,
        verb: &'static str,
        socket: String,
    },
    #[error("runtime {name}: {verb} left no usable pid file {path}: {detail}")]
    PidFile {
        name: String,
        verb: &'static str,
        path: String,
        detail: String,
    },
    #[error("runtime {name}: waiting for {verb}: {source}")]
    Wait {
        name: String,
        verb: &'static str,
        source: std::io::Error,
    },
    #[error("runtime {name}: receiving the pty master on {socket}: {source}")]
    Console {
        name: String,
        socket: String,
        source: std::io::Error,
    },
}

/// A successful create or exec.
#[derive(Debug)]
pub struct Created {
    pub pid: u32,
    /// The pty master, in tty mode.
    pub master: Option<OwnedFd>,
}

/// Where the runtime's output is read from while it runs and after a failure.
pub struct Outputs<'a> {
    pub fds: Vec<BorrowedFd<'a>>,
    /// Read while the runtime runs (false when the fds already carry the process's output,
    /// as in exec mode without a tty: that output belongs to the first attacher).
    pub live: bool,
}

/// Runs the runtime's create (or exec) and returns the process's pid.
pub fn run(
    args: &Args,
    stdio: RuntimeStdio,
    console: Option<&ConsoleSocket>,
    outputs: &Outputs<'_>,
) -> Result<Created, RuntimeError> {
    let verb = if args.exec.is_some() {
        "exec"
    } else {
        "create"
    };
    let name = args.runtime_name.clone();
    let pid_file = args.state_dir.join(PID_FILE);
    let log_file = args.state_dir.join(RUNTIME_LOG_FILE);
    let _ = std::fs::remove_file(&pid_file);
    let log_offset = std::fs::metadata(&log_file).map(|m| m.len()).unwrap_or(0);

    let mut child = {
        let mut cmd = Command::new(&args.runtime);
        cmd.arg("--root")
            .arg(&args.runtime_root)
            .arg("--log")
            .arg(&log_file)
            .arg("--log-format")
            .arg("json");
        match &args.exec {
            Some(exec) => {
                cmd.arg("exec")
                    .arg("--process")
                    .arg(&exec.process)
                    .arg("--detach");
            }
            None => {
                cmd.arg("create").arg("--bundle").arg(&args.bundle);
            }
        }
        cmd.arg("--pid-file").arg(&pid_file);
        if let Some(console) = console {
            cmd.arg("--console-socket").arg(console.runtime_path());
        }
        cmd.arg(&args.id)
            .stdin(Stdio::from(stdio.stdin))
            .stdout(Stdio::from(stdio.stdout))
            .stderr(Stdio::from(stdio.stderr))
            .process_group(0);
        // `cmd` (and with it our copies of the runtime's stdio) is dropped after the spawn.
        cmd.spawn().map_err(|source| RuntimeError::Spawn {
            name: name.clone(),
            path: args.runtime.display().to_string(),
            source,
        })?
    };

    let mut text = Vec::new();
    let mut master = None;
    let status = watch(&mut child, args, console, outputs, &mut text, &mut master)?;
    // What the runtime wrote last (non-blocking: the process may hold these fds open). Not
    // after a successful exec without a tty: what is there is the process's output.
    if outputs.live || !status.is_some_and(|s| s.success()) {
        for fd in &outputs.fds {
            read_available(*fd, &mut text);
        }
    }
    let Some(status) = status else {
        return Err(RuntimeError::Timeout {
            name,
            verb,
            secs: args.create_timeout.as_secs(),
        });
    };
    if !status.success() {
        return Err(RuntimeError::Failed {
            name,
            verb,
            message: failure_message(&log_file, log_offset, &text, status),
        });
    }
    if let Some(console) = console {
        if master.is_none() {
            master = console.receive().map_err(|source| RuntimeError::Console {
                name: name.clone(),
                socket: console.runtime_path().display().to_string(),
                source,
            })?;
        }
        if master.is_none() {
            return Err(RuntimeError::NoConsole {
                name,
                verb,
                socket: console.runtime_path().display().to_string(),
            });
        }
    }
    let pid_err = |detail: String| RuntimeError::PidFile {
        name: name.clone(),
        verb,
        path: pid_file.display().to_string(),
        detail,
    };
    let pid = std::fs::read_to_string(&pid_file)
        .map_err(|e| pid_err(e.to_string()))?
        .trim()
        .parse::<u32>()
        .map_err(|e| pid_err(e.to_string()))?;
    Ok(Created { pid, master })
}

/// Waits for the runtime to exit (None on timeout, after killing its process group), reading
/// its output and the console socket meanwhile.
fn watch(
    child: &mut Child,
    args: &Args,
    console: Option<&ConsoleSocket>,
    outputs: &Outputs<'_>,
    text: &mut Vec<u8>,
    master: &mut Option<OwnedFd>,
) -> Result<Option<ExitStatus>, RuntimeError> {
    let verb = if args.exec.is_some() {
        "exec"
    } else {
        "create"
    };
    let wait_err = |source| RuntimeError::Wait {
        name: args.runtime_name.clone(),
        verb,
        source,
    };
    let deadline = Instant::now() + args.create_timeout;
    // Without pidfds (kernels before 5.3) the loop polls the child every 20 ms.
    let pidfd = pidfd_open(Pid::from_child(child), PidfdFlags::empty()).ok();
    let mut live: Vec<BorrowedFd<'_>> = if outputs.live {
        outputs.fds.clone()
    } else {
        Vec::new()
    };
    loop {
        if let Some(status) = child.try_wait().map_err(wait_err)? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            let pid = Pid::from_child(child);
            let _ = rustix::process::kill_process_group(pid, Signal::KILL);
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        let mut left = deadline - now;
        if pidfd.is_none() {
            left = left.min(Duration::from_millis(20));
        }
        let mut fds = Vec::with_capacity(2 + live.len());
        if let Some(pidfd) = &pidfd {
            fds.push(PollFd::new(pidfd, PollFlags::IN));
        }
        let mut console_slot = None;
        if let Some(console) = console.filter(|_| master.is_none()) {
            console_slot = Some(fds.len());
            fds.push(PollFd::from_borrowed_fd(console.fd(), PollFlags::IN));
        }
        let outputs_at = fds.len();
        for fd in &live {
            fds.push(PollFd::from_borrowed_fd(*fd, PollFlags::IN));
        }
        let timeout = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        match poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(wait_err(e.into())),
        }
        let console_ready = console_slot.is_some_and(|i| !fds[i].revents().is_empty());
        let ready: Vec<bool> = fds[outputs_at..]
            .iter()
            .map(|fd| !fd.revents().is_empty())
            .collect();
        drop(fds);
        if console_ready {
            if let Some(console) = console {
                *master = console.receive().map_err(|source| RuntimeError::Console {
                    name: args.runtime_name.clone(),
                    socket: console.runtime_path().display().to_string(),
                    source,
                })?;
            }
        }
        let mut closed = Vec::new();
        for (i, is_ready) in ready.into_iter().enumerate() {
            if is_ready && !read_available(live[i], text) {
                closed.push(i);
            }
        }
        for i in closed.into_iter().rev() {
            live.remove(i);
        }
    }
}

/// Reads what is there without blocking, keeping the last `OUTPUT_KEEP` bytes. False at end
/// of file.
fn read_available(fd: BorrowedFd<'_>, text: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match read_fd(fd.as_fd(), &mut buf) {
            ReadOutcome::Data(n) => {
                text.extend_from_slice(&buf[..n]);
                if text.len() > OUTPUT_KEEP {
                    text.drain(..text.len() - OUTPUT_KEEP);
                }
            }
            ReadOutcome::WouldBlock => return true,
            ReadOutcome::Eof => return false,
        }
    }
}

/// The message of a failed run: the last error of runtime.log written by this run, else the
/// last lines of the runtime's output, else its exit status.
fn failure_message(log_file: &Path, offset: u64, output: &[u8], status: ExitStatus) -> String {
    if let Some(msg) = last_log_error(log_file, offset) {
        return msg;
    }
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if !lines.is_empty() {
        return lines[lines.len().saturating_sub(3)..].join("; ");
    }
    format!("{status} (nothing in {})", log_file.display())
}

#[derive(serde::Deserialize)]
struct LogLine {
    #[serde(default)]
    level: String,
    #[serde(default)]
    msg: String,
}

/// The `msg` of the last error (or fatal) line of a JSON runtime log from `offset` on.
pub fn last_log_error(log_file: &Path, offset: u64) -> Option<String> {
    let mut file = std::fs::File::open(log_file).ok()?;
    let len = file.metadata().ok()?.len();
    // Only the tail matters; a runaway log must not be read whole.
    let start = offset.max(len.saturating_sub(256 * 1024));
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut text = String::new();
    file.take(256 * 1024).read_to_string(&mut text).ok()?;
    text.lines().rev().find_map(|line| {
        serde_json::from_str::<LogLine>(line)
            .ok()
            .filter(|l| matches!(l.level.as_str(), "error" | "fatal") && !l.msg.is_empty())
            .map(|l| l.msg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn the_last_error_of_this_run_is_the_message() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("runtime.log");
        let old = "{\"level\":\"error\",\"msg\":\"old failure\",\"time\":\"t\"}\n";
        std::fs::write(&log, old).expect("write");
        let offset = old.len() as u64;
        let new = format!(
            "{old}{}\n{}\n{}\n",
            r#"{"level":"warning","msg":"cgroup warning","time":"t"}"#,
            r#"{"msg": "first", "level": "error", "time": "t"}"#,
            r#"{"level":"error","msg":"runc create failed: unable to start container process","time":"t"}"#,
        );
        std::fs::write(&log, new).expect("write");
        assert_eq!(
            last_log_error(&log, offset).as_deref(),
            Some("runc create failed: unable to start container process")
        );
        let status = ExitStatus::from_raw(1 << 8);
        assert_eq!(
            failure_message(&log, u64::MAX, b"line one\nline two\n", status),
            "line one; line two"
        );
        let msg = failure_message(&dir.path().join("none"), 0, b"", status);
        assert!(msg.starts_with("exit status: 1"), "{msg}");
    }
}
