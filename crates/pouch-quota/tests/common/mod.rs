//! Root-test helper: a small filesystem made on a file and loop-mounted, torn down on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A loop-mounted filesystem in a temp dir (unmounted and detached on drop).
pub struct LoopFs {
    _dir: tempfile::TempDir,
    dev: String,
    pub mnt: PathBuf,
    mounted: bool,
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

impl LoopFs {
    /// Makes a `size_mib` filesystem with `mkfs` (program and args, the image path appended)
    /// and mounts it with `options`.
    pub fn new(size_mib: u64, mkfs: &[&str], options: &str) -> Result<LoopFs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let img = dir.path().join("fs.img");
        std::fs::File::create(&img)
            .and_then(|f| f.set_len(size_mib << 20))
            .map_err(|e| e.to_string())?;
        run(Command::new(mkfs[0]).args(&mkfs[1..]).arg(&img))?;
        let dev = run(Command::new("losetup").args(["-f", "--show"]).arg(&img))?;
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).map_err(|e| e.to_string())?;
        let mut fs = LoopFs {
            _dir: dir,
            dev,
            mnt,
            mounted: false,
        };
        let mut mount = Command::new("mount");
        if !options.is_empty() {
            mount.args(["-o", options]);
        }
        run(mount.arg(&fs.dev).arg(&fs.mnt))?;
        fs.mounted = true;
        Ok(fs)
    }

    pub fn path(&self) -> &Path {
        &self.mnt
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        if self.mounted && run(Command::new("umount").arg(&self.mnt)).is_err() {
            let _ = run(Command::new("umount").arg("-l").arg(&self.mnt));
        }
        let _ = run(Command::new("losetup").arg("-d").arg(&self.dev));
    }
}

/// Writes `mib` MiB to `path` in 1 MiB chunks, each fsynced; on failure the error and the
/// MiB written before it.
pub fn write_mib(path: &Path, mib: usize) -> Result<(), (std::io::Error, usize)> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(|e| (e, 0))?;
    let chunk = vec![0x5au8; 1 << 20];
    for i in 0..mib {
        f.write_all(&chunk)
            .and_then(|()| f.sync_all())
            .map_err(|e| (e, i))?;
    }
    Ok(())
}

/// Runs a command in a test and returns its stdout (panics naming it on failure).
#[allow(dead_code)]
pub fn output(cmd: &mut Command) -> String {
    run(cmd).unwrap()
}
