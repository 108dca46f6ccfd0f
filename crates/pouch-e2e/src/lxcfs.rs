//! An lxcfs of one test: `/usr/bin/lxcfs -f -p <pidfile> <dir>` in the foreground on a
//! temporary directory (nothing starts lxcfs on this machine), ready once the `fuse.lxcfs`
//! mount is in /proc/self/mountinfo and `proc/meminfo` answers. [`Lxcfs::restart`] stops it
//! (SIGTERM, which makes it unmount; waits for the mount to go) and starts it again, as
//! `systemctl restart lxcfs` would. On drop it is stopped and its mount point unmounted
//! (`fusermount -u`, else a lazy unmount) even when the test failed, so no dead FUSE mount
//! outlives a test.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rustix::process::{kill_process, Pid, Signal};

/// The lxcfs binary (Debian's package).
pub const LXCFS_BIN: &str = "/usr/bin/lxcfs";

/// How long lxcfs may take to mount, or to unmount after SIGTERM.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether lxcfs and FUSE are there; prints why a test is skipped when not.
pub fn require_lxcfs(test: &str) -> bool {
    if !Path::new(LXCFS_BIN).is_file() {
        crate::skip(
            test,
            &format!("{LXCFS_BIN} not installed (apt-get install lxcfs)"),
        );
        return false;
    }
    if !Path::new("/dev/fuse").exists() {
        crate::skip(test, "/dev/fuse is missing (FUSE is needed by lxcfs)");
        return false;
    }
    true
}

/// A running lxcfs (see the module doc).
pub struct Lxcfs {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Lxcfs {
    /// Starts lxcfs on `<temp>/mnt` and waits until it answers.
    pub fn start() -> Result<Lxcfs> {
        let dir = tempfile::Builder::new()
            .prefix("pouch-lxcfs-")
            .tempdir()
            .context("lxcfs temp dir")?;
        fs::create_dir_all(dir.path().join("mnt"))?;
        let mut l = Lxcfs { dir, child: None };
        l.spawn()?;
        Ok(l)
    }

    /// Where lxcfs is mounted (pouchd's `--lxcfs-home`).
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    /// `--enable-lxcfs --lxcfs-home <home>`.
    pub fn daemon_args(&self) -> Vec<String> {
        vec![
            "--enable-lxcfs".into(),
            "--lxcfs-home".into(),
            self.home().display().to_string(),
        ]
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("lxcfs.log")
    }

    /// What lxcfs printed so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn spawn(&mut self) -> Result<()> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let child = Command::new(LXCFS_BIN)
            .arg("-f")
            .arg("-p")
            .arg(self.dir.path().join("lxcfs.pid"))
            .arg(self.home())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot run {LXCFS_BIN}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    bail!(
                        "lxcfs exited with {status} before mounting:\n{}",
                        self.log()
                    );
                }
            }
            if self.mount_id().is_some() && answers(&self.home().join("proc/meminfo")) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "lxcfs did not mount {} within {READY_TIMEOUT:?}:\n{}",
                    self.home().display(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The mountinfo id of the `fuse.lxcfs` mount at the home, if mounted.
    pub fn mount_id(&self) -> Option<u64> {
        let home = self.home().display().to_string();
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let (left, right) = l.split_once(" - ")?;
                let f: Vec<&str> = left.split(' ').collect();
                (f.get(4) == Some(&home.as_str()) && right.starts_with("fuse.lxcfs "))
                    .then(|| f[0].parse().ok())
                    .flatten()
            })
            .next_back()
    }

    /// The pid of the running lxcfs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops lxcfs (SIGTERM: it unmounts its home) and waits until the mount is gone;
    /// SIGKILL and a lazy unmount when it does not go in time.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(None) = child.try_wait() {
                if let Some(pid) = Pid::from_raw(child.id() as i32) {
                    let _ = kill_process(pid, Signal::TERM);
                }
                if crate::cmd::wait_child(&mut child, READY_TIMEOUT).is_none() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.mount_id().is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.force_unmount();
    }

    /// `fusermount -u`, else a lazy unmount, while lxcfs is mounted at the home.
    fn force_unmount(&self) {
        for _ in 0..5 {
            if self.mount_id().is_none() {
                return;
            }
            let _ = Command::new("fusermount")
                .arg("-u")
                .arg(self.home())
                .stderr(Stdio::null())
                .status();
            if self.mount_id().is_some() {
                let _ = pouch_sys::mount::unmount(&self.home());
            }
        }
    }

    /// Stops lxcfs and starts it again on the same home (a new FUSE mount there).
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        if self.mount_id().is_some() {
            bail!("lxcfs at {} did not unmount", self.home().display());
        }
        self.spawn()
    }
}

/// Whether the first bytes of `path` can be read (a FUSE file whose daemon answers).
pub fn answers(path: &Path) -> bool {
    let mut buf = [0u8; 16];
    File::open(path).and_then(|mut f| f.read(&mut buf)).is_ok()
}

impl Drop for Lxcfs {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("---- lxcfs log ----\n{}", self.log());
        }
    }
}
