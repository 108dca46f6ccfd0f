//! A btrfs made for one test on a sparse file, attached to a loop device and mounted in a
//! temp dir (the disk quota tests use it as a daemon's `--home-dir`), with views of its
//! subvolumes and qgroups through `btrfs`. On drop (also when the test fails) everything
//! mounted below it is unmounted, then the filesystem itself (lazily if busy), the loop
//! device detached and the file removed. Tests run these tools; Pouch itself never does.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Where the btrfs tools are looked for besides `$PATH` (`/usr/sbin` is often not on a
/// test runner's path).
const SBIN: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// The path of a system tool (`mkfs.btrfs`, `btrfs`, `losetup`), if installed.
pub fn tool(name: &str) -> Option<PathBuf> {
    let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    path_dirs
        .into_iter()
        .chain(SBIN.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Whether a loop btrfs can be made here (root, `mkfs.btrfs`, `btrfs`, `losetup`); prints
/// why `test` is skipped and how to fix it when not.
pub fn require_btrfs(test: &str) -> bool {
    if !crate::require_root(test) {
        return false;
    }
    for t in ["mkfs.btrfs", "btrfs"] {
        if tool(t).is_none() {
            crate::skip(
                test,
                &format!(
                    "{t} not found: install btrfs-progs (apt-get install btrfs-progs, \
                     or scripts/install-deps.sh)"
                ),
            );
            return false;
        }
    }
    if tool("losetup").is_none() {
        crate::skip(test, "losetup not found: install util-linux (mount)");
        return false;
    }
    true
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} exited {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn tool_cmd(name: &str) -> Command {
    Command::new(tool(name).unwrap_or_else(|| PathBuf::from(name)))
}

/// A mounted loop btrfs; see the module header.
pub struct LoopBtrfs {
    dir: tempfile::TempDir,
    dev: Option<String>,
    mounted: bool,
}

impl LoopBtrfs {
    /// Makes a `size_mib` MiB btrfs and mounts it with `commit=1` (so the cleaner drops
    /// deleted subvolumes within a second).
    pub fn new(size_mib: u64) -> Result<LoopBtrfs> {
        let dir = tempfile::Builder::new()
            .prefix("pouch-e2e-btrfs-")
            .tempdir()
            .context("temp dir of the loop btrfs")?;
        let mut fs = LoopBtrfs {
            dir,
            dev: None,
            mounted: false,
        };
        let img = fs.image();
        fs::File::create(&img)
            .and_then(|f| f.set_len(size_mib << 20))
            .with_context(|| format!("cannot make {}", img.display()))?;
        run(tool_cmd("mkfs.btrfs").args(["-q", "-f"]).arg(&img))?;
        let dev = run(tool_cmd("losetup").args(["-f", "--show"]).arg(&img))?;
        fs.dev = Some(dev.trim().to_string());
        fs::create_dir(fs.path()).context("mount point of the loop btrfs")?;
        run(Command::new("mount")
            .args(["-t", "btrfs", "-o", "commit=1"])
            .arg(dev.trim())
            .arg(fs.path()))?;
        fs.mounted = true;
        Ok(fs)
    }

    fn image(&self) -> PathBuf {
        self.dir.path().join("btrfs.img")
    }

    /// The mount point.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    /// The loop device (`/dev/loopN`).
    pub fn device(&self) -> &str {
        self.dev.as_deref().unwrap_or("")
    }

    /// Waits until deleted subvolumes are gone (`btrfs subvolume sync`).
    pub fn sync(&self) -> Result<()> {
        run(tool_cmd("btrfs")
            .args(["subvolume", "sync"])
            .arg(self.path()))?;
        Ok(())
    }

    /// (id, path relative to the mount point) of every subvolume, after a `sync`.
    pub fn subvolumes(&self) -> Result<Vec<(u64, String)>> {
        self.sync()?;
        let out = run(tool_cmd("btrfs")
            .args(["subvolume", "list"])
            .arg(self.path()))?;
        // `ID 256 gen 9 top level 5 path home/snapshots/rw-...`
        Ok(out
            .lines()
            .filter_map(|l| {
                let (head, path) = l.split_once(" path ")?;
                let id = head.split_whitespace().nth(1)?.parse().ok()?;
                Some((id, path.trim().to_string()))
            })
            .collect())
    }

    /// `btrfs qgroup show -re --raw` of the filesystem (ids, usage and limits in bytes).
    pub fn qgroups(&self) -> Result<String> {
        run(tool_cmd("btrfs")
            .args(["qgroup", "show", "-re", "--raw"])
            .arg(self.path()))
    }

    /// (qgroup id `0/<n>`, referenced limit in bytes, 0 for none) of every level-0 qgroup.
    pub fn qgroup_limits(&self) -> Result<Vec<(u64, u64)>> {
        let out = self.qgroups()?;
        let mut v = Vec::new();
        for l in out.lines() {
            // qgroupid rfer excl max_rfer max_excl [path]
            let cols: Vec<&str> = l.split_whitespace().collect();
            let Some(id) = cols.first().and_then(|c| c.strip_prefix("0/")) else {
                continue;
            };
            let Ok(id) = id.parse() else {
                continue;
            };
            let limit = match cols.get(3) {
                Some(&"none") | None => 0,
                Some(n) => n
                    .parse()
                    .with_context(|| format!("max_rfer in `btrfs qgroup show`: {l}"))?,
            };
            v.push((id, limit));
        }
        Ok(v)
    }

    /// The referenced limit in bytes (0 = none) of the subvolume at `rel` (relative to the
    /// mount point, as `btrfs subvolume list` prints it); an error when `rel` is not a
    /// subvolume or has no qgroup.
    pub fn limit_of(&self, rel: &str) -> Result<u64> {
        let subvols = self.subvolumes()?;
        let Some((id, _)) = subvols.iter().find(|(_, p)| p == rel) else {
            bail!("{rel} is not a subvolume of the loop btrfs; subvolumes: {subvols:?}");
        };
        let limits = self.qgroup_limits()?;
        match limits.iter().find(|(q, _)| q == id) {
            Some((_, limit)) => Ok(*limit),
            None => bail!("subvolume {rel} (id {id}) has no qgroup: {limits:?}"),
        }
    }
}

impl Drop for LoopBtrfs {
    fn drop(&mut self) {
        if self.mounted {
            // What a daemon left below it (container root filesystems), then itself.
            let mnt = self.path();
            crate::procs::unmount_below(&mnt);
            if is_mounted(&mnt) {
                let _ = run(Command::new("umount").arg("-l").arg(&mnt));
            }
        }
        if let Some(dev) = &self.dev {
            let _ = run(tool_cmd("losetup").arg("-d").arg(dev));
        }
    }
}

/// Whether `path` is a mount point (in /proc/self/mountinfo).
fn is_mounted(path: &Path) -> bool {
    let want = path.display().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}
