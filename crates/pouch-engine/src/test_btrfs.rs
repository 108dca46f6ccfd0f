//! Tests only: a btrfs filesystem on a loop device, mounted in a temp dir and removed on
//! drop (also when the test fails). Tests may run commands; the engine never does.

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) struct LoopBtrfs {
    _dir: tempfile::TempDir,
    mnt: PathBuf,
    dev: String,
}

fn run(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl LoopBtrfs {
    /// A fresh `size_mib` btrfs, mounted (needs root and btrfs-progs).
    pub(crate) fn new(size_mib: u64) -> LoopBtrfs {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("fs.img");
        std::fs::File::create(&img)
            .unwrap()
            .set_len(size_mib << 20)
            .unwrap();
        run(Command::new("mkfs.btrfs").args(["-q", "-f"]).arg(&img));
        let dev = run(Command::new("losetup").args(["-f", "--show"]).arg(&img));
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let fs = LoopBtrfs {
            _dir: dir,
            mnt,
            dev,
        };
        run(Command::new("mount").arg(&fs.dev).arg(&fs.mnt));
        fs
    }

    pub(crate) fn mnt(&self) -> &Path {
        &self.mnt
    }
}

impl Drop for LoopBtrfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        let _ = Command::new("losetup").arg("-d").arg(&self.dev).status();
    }
}
