//! Interactive sessions for `-it` tests: a command run with a pseudo-terminal as its stdin,
//! stdout and stderr, written to and read from through the pty master.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};

/// A command attached to a pty.
pub struct PtySession {
    master: File,
    child: Child,
    /// Everything read from the terminal so far.
    pub screen: String,
}

impl PtySession {
    /// Starts `cmd` on a new pty of 24x80.
    pub fn spawn(mut cmd: Command) -> Result<PtySession> {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).context("openpt")?;
        grantpt(&master).context("grantpt")?;
        unlockpt(&master).context("unlockpt")?;
        let name = ptsname(&master, Vec::new()).context("ptsname")?;
        let slave: OwnedFd = File::options()
            .read(true)
            .write(true)
            .open(name.to_string_lossy().as_ref())
            .context("open the pty slave")?
            .into();
        let size = rustix::termios::Winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let _ = rustix::termios::tcsetwinsize(&slave, size);
        let child = cmd
            .stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave))
            .spawn()
            .context("spawn the command on the pty")?;
        let master = File::from(master);
        rustix::io::ioctl_fionbio(master.as_fd(), true).context("non-blocking pty master")?;
        Ok(PtySession {
            master,
            child,
            screen: String::new(),
        })
    }

    /// Types `text` into the terminal.
    pub fn send(&mut self, text: &str) -> Result<()> {
        self.master.write_all(text.as_bytes())?;
        Ok(())
    }

    /// Reads until the screen contains `needle`; false on timeout.
    pub fn expect(&mut self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.screen.contains(needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            self.pump();
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pump(&mut self) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.master.read(&mut buf) {
            if n == 0 {
                break;
            }
            self.screen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }

    /// Waits for the command to exit (killing it after `timeout`).
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            self.pump();
            if let Ok(Some(st)) = self.child.try_wait() {
                self.pump();
                return Some(st);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PtySession {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
