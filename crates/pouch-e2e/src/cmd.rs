//! Running client commands (`pouch`, `docker`) with a deadline, capturing status and
//! output through temporary files (no pipe deadlocks), in the foreground or background.

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a client command may run before the harness kills it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

/// What a finished command left behind.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    /// The command line, for messages.
    pub command: String,
    /// Exit code; `None` when killed by a signal or timed out.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl CmdOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// stdout and stderr together (for "the message says X" checks).
    pub fn combined(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Panics with the whole output unless the command succeeded; returns self for chaining.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert!(self.success(), "command failed: {self}");
        self
    }

    /// Panics with the whole output unless the command failed.
    #[track_caller]
    pub fn fails(&self) -> &Self {
        assert!(
            !self.success() && !self.timed_out,
            "command should have failed: {self}"
        );
        self
    }

    /// Panics unless the command failed with a message saying it was not authorized (in
    /// any of the wordings of Pouch, Docker and registries).
    #[track_caller]
    pub fn fails_unauthorized(&self) -> &Self {
        self.fails();
        let text = self.combined().to_lowercase();
        assert!(
            [
                "unauthorized",
                "authentication required",
                "no basic auth credentials"
            ]
            .iter()
            .any(|w| text.contains(w)),
            "expected an unauthorized message: {self}"
        );
        self
    }

    /// Panics unless stdout or stderr contains `needle` (case-insensitive).
    #[track_caller]
    pub fn says(&self, needle: &str) -> &Self {
        assert!(
            self.combined()
                .to_lowercase()
                .contains(&needle.to_lowercase()),
            "expected output to mention {needle:?}: {self}"
        );
        self
    }

    /// stdout trimmed.
    pub fn out(&self) -> &str {
        self.stdout.trim()
    }
}

impl fmt::Display for CmdOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` exited {}{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "by signal".into()),
            if self.timed_out { " (timed out)" } else { "" },
            self.stdout,
            self.stderr
        )
    }
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// A command running in the background (e.g. a pull to interrupt).
pub struct Background {
    command: String,
    child: Child,
    stdout: File,
    stderr: File,
}

impl Background {
    /// Starts `cmd` with stdin from `stdin` (or nothing), output into temporary files.
    pub fn spawn(mut cmd: Command, stdin: Option<Vec<u8>>) -> std::io::Result<Background> {
        let stdout = tempfile::tempfile()?;
        let stderr = tempfile::tempfile()?;
        let command = describe(&cmd);
        cmd.stdout(Stdio::from(stdout.try_clone()?))
            .stderr(Stdio::from(stderr.try_clone()?));
        let stdin_file = match stdin {
            Some(bytes) => {
                let mut f = tempfile::tempfile()?;
                f.write_all(&bytes)?;
                f.seek(SeekFrom::Start(0))?;
                Some(f)
            }
            None => None,
        };
        match stdin_file {
            Some(f) => cmd.stdin(Stdio::from(f)),
            None => cmd.stdin(Stdio::null()),
        };
        let child = cmd.spawn()?;
        Ok(Background {
            command,
            child,
            stdout,
            stderr,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `timeout`; kills it after that. Returns what it printed.
    pub fn wait(mut self, timeout: Duration) -> CmdOutput {
        let status = wait_child(&mut self.child, timeout);
        let timed_out = status.is_none();
        if timed_out {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        CmdOutput {
            command: self.command.clone(),
            code: status.and_then(|s| s.code()),
            stdout: read_all(&mut self.stdout),
            stderr: read_all(&mut self.stderr),
            timed_out,
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_all(f: &mut File) -> String {
    let mut buf = Vec::new();
    let _ = f.seek(SeekFrom::Start(0));
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Waits for `child` up to `timeout`; `None` on timeout.
pub fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cmd` to completion (killing it after `timeout`), feeding `stdin` if given.
pub fn run(cmd: Command, stdin: Option<Vec<u8>>, timeout: Duration) -> CmdOutput {
    let command = describe(&cmd);
    match Background::spawn(cmd, stdin) {
        Ok(bg) => bg.wait(timeout),
        Err(e) => CmdOutput {
            command,
            code: None,
            stdout: String::new(),
            stderr: format!("cannot start: {e}"),
            timed_out: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_status() {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", "echo out; echo err >&2; exit 3"]);
        let o = run(c, None, Duration::from_secs(10));
        assert_eq!(o.code, Some(3));
        assert_eq!(o.out(), "out");
        assert_eq!(o.stderr.trim(), "err");
    }

    #[test]
    fn feeds_stdin_and_times_out() {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", "cat"]);
        let o = run(c, Some(b"hello".to_vec()), Duration::from_secs(10));
        assert_eq!(o.out(), "hello");
        let mut c = Command::new("/bin/sh");
        c.args(["-c", "sleep 30"]);
        let o = run(c, None, Duration::from_millis(200));
        assert!(o.timed_out && !o.success());
    }
}
