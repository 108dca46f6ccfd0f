//! Root test: read-write snapshots on a loop-mounted btrfs with the btrfs quota back end. The
//! container layer is a quota directory, an overlay over it copies up (work and upper share
//! the subvolume), a rootfs limit is enforced through the overlay and raised live, and
//! `remove_rw` deletes the subvolume.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use pouch_snapshot::Snapshotter;

const EDQUOT: i32 = 122;

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

/// A btrfs on a loop device in a temp dir; unmounted and detached on drop.
struct LoopBtrfs {
    _dir: tempfile::TempDir,
    dev: String,
    mnt: PathBuf,
}

impl LoopBtrfs {
    fn new() -> Result<LoopBtrfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let img = dir.path().join("fs.img");
        std::fs::File::create(&img)
            .and_then(|f| f.set_len(300 << 20))
            .map_err(|e| e.to_string())?;
        run(Command::new("mkfs.btrfs").args(["-q", "-f"]).arg(&img))?;
        let dev = run(Command::new("losetup").args(["-f", "--show"]).arg(&img))?;
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).map_err(|e| e.to_string())?;
        let fs = LoopBtrfs {
            _dir: dir,
            dev,
            mnt,
        };
        run(Command::new("mount").arg(&fs.dev).arg(&fs.mnt))?;
        Ok(fs)
    }
}

impl Drop for LoopBtrfs {
    fn drop(&mut self) {
        if run(Command::new("umount").arg(&self.mnt)).is_err() {
            let _ = run(Command::new("umount").arg("-l").arg(&self.mnt));
        }
        let _ = run(Command::new("losetup").arg("-d").arg(&self.dev));
    }
}

struct Unmount(PathBuf);
impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = pouch_sys::mount::unmount(&self.0);
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
    })
}

fn write_mib(path: &Path, mib: usize) -> Result<(), (std::io::Error, usize)> {
    let mut f = std::fs::File::create(path).map_err(|e| (e, 0))?;
    let chunk = vec![0xa5u8; 1 << 20];
    for i in 0..mib {
        f.write_all(&chunk)
            .and_then(|()| f.sync_all())
            .map_err(|e| (e, i))?;
    }
    Ok(())
}

#[test]
fn container_layer_quota_through_overlay() {
    if !is_root() {
        eprintln!("SKIPPED container_layer_quota_through_overlay: needs root");
        return;
    }
    let fs = LoopBtrfs::new().expect("make a btrfs");
    let home = fs.mnt.join("home");
    std::fs::create_dir(&home).unwrap();
    let quota = pouch_quota::detect(&home).expect("btrfs back end");
    let s = Snapshotter::open_with_quota(&home.join("snapshots"), Some(quota.clone())).unwrap();
    let id = "c".repeat(64);
    let rw = s.create_rw(&id).unwrap();
    assert_eq!(rw.upper, s.rw_upper(&id));
    assert_eq!(rw.dir, s.rw_quota_dir(&id));
    assert!(quota.is_quota_dir(&rw.dir), "rw dir is no subvolume");
    assert!(rw.upper.is_dir() && rw.work.is_dir());
    std::fs::write(rw.upper.join("kept"), "x").unwrap();
    s.create_rw(&id).unwrap();
    assert!(
        rw.upper.join("kept").exists(),
        "a second create_rw must keep the layer"
    );

    let lower = home.join("lower");
    std::fs::create_dir(&lower).unwrap();
    std::fs::write(lower.join("f"), "from the image\n").unwrap();
    let target = home.join("rootfs");
    std::fs::create_dir(&target).unwrap();
    pouch_sys::mount::mount_overlay(std::slice::from_ref(&lower), &rw.upper, &rw.work, &target)
        .unwrap();
    let guard = Unmount(target.clone());
    // Copy-up renames from the work dir into the upper dir: it must not cross subvolumes.
    std::fs::OpenOptions::new()
        .append(true)
        .open(target.join("f"))
        .and_then(|mut f| f.write_all(b"changed\n"))
        .expect("copy-up of an image file");
    assert!(rw.upper.join("f").exists());

    quota.set_limit(&s.rw_quota_dir(&id), 10 << 20).unwrap();
    let (err, written) =
        write_mib(&target.join("big"), 20).expect_err("20 MiB past a 10 MiB rootfs quota");
    println!("write of 20 MiB into the container rootfs (limit 10 MiB) failed after {written} MiB: {err}");
    assert_eq!(err.raw_os_error(), Some(EDQUOT), "{err}");
    quota.set_limit(&s.rw_quota_dir(&id), 50 << 20).unwrap();
    write_mib(&target.join("more"), 20).expect("20 MiB after raising the rootfs quota to 50 MiB");
    println!("after raising the limit to 50 MiB, 20 MiB more were written");

    drop(guard);
    s.remove_rw(&id).unwrap();
    assert!(!rw.dir.exists());
    s.remove_rw(&id).unwrap();
    let subvols = run(Command::new("btrfs")
        .args(["subvolume", "list"])
        .arg(&fs.mnt))
    .unwrap();
    assert!(!subvols.contains(&format!("rw-{id}")), "{subvols}");
}
