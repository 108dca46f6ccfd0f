//! lxcfs: containers created with `EnableLxcfs` (`--enableLxcfs`) see their own limits in
//! /proc. lxcfs is a FUSE filesystem mounted at `--lxcfs-home` (default /var/lib/lxcfs)
//! whose `proc/meminfo`, `proc/cpuinfo`, ... answer with the values of the reader's cgroups;
//! this module bind-mounts them over the container's files. It owns:
//! - the checks: at engine open (`--enable-lxcfs` needs a `fuse.lxcfs` mount at the home,
//!   read from /proc/self/mountinfo), at create (a 400 naming the flag when the daemon has
//!   lxcfs off) and at start;
//! - the spec's binds ([`BIND_FILES`] that exist under the home, read-only, at start);
//! - the remount after lxcfs restarts: the binds of a running container then point at a dead
//!   FUSE connection (`ENOTCONN`) for ever. A watcher thread polls /proc/self/mountinfo
//!   (`POLLPRI` wakes it at every change of pouchd's mount table) and, when the lxcfs mount
//!   at the home is a new one (its unique mount id changed), puts fresh binds in every
//!   running lxcfs container (`pouch_sys::mntns`). At daemon start, containers whose binds
//!   went stale while pouchd was away are healed the same way. `POST
//!   /containers/{id}/remount-lxcfs` does it on demand. See docs/lxcfs.md.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use oci_spec::runtime::{Mount, Spec};
use pouch_api::container::{HostConfig, MountPoint};
use pouch_api::ApiError;
use pouch_sys::mntns::{Process, Rebind};

use super::{Container, Containers};
use crate::LxcfsConfig;

/// The files lxcfs virtualises that containers get, as paths in the container (the source
/// is the same path under the lxcfs home). Those the running lxcfs does not provide are
/// left out. `/proc/slabinfo` is left out: it is root-only and says nothing about limits.
pub const BIND_FILES: [&str; 8] = [
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/loadavg",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/sys/devices/system/cpu/online",
];

/// The file whose reading tells whether lxcfs answers.
const PROBE: &str = "proc/meminfo";

/// The filesystem type lxcfs mounts.
const FSTYPE: &str = "fuse.lxcfs";

/// How often the watcher wakes without a mount change, to notice that the engine is gone.
const WATCH_TICK: Duration = Duration::from_secs(2);

/// `STATX_MNT_ID_UNIQUE` (Linux 6.8): a mount id never reused until reboot.
const STATX_MNT_ID_UNIQUE: u32 = 0x4000;

/// Why lxcfs cannot be used; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LxcfsError {
    #[error(
        "lxcfs is not mounted at {home}: start it (systemctl start lxcfs, or `lxcfs {home}`) \
         or drop --enable-lxcfs"
    )]
    NotMounted { home: String },
    #[error(
        "lxcfs at {home} does not answer ({source}): restart it (`fusermount -u {home}`, then \
         systemctl restart lxcfs or `lxcfs {home}`) or drop --enable-lxcfs"
    )]
    NotAnswering {
        home: String,
        source: std::io::Error,
    },
    #[error("cannot read /proc/self/mountinfo to find lxcfs at {home}: {source}")]
    Mountinfo {
        home: String,
        source: std::io::Error,
    },
}

/// The engine's lxcfs settings and the lock that serialises remounts.
pub struct Lxcfs {
    config: LxcfsConfig,
    /// The home as /proc/self/mountinfo names it (its parent's symlinks resolved).
    home: PathBuf,
    /// Held while binds are replaced (the watcher and `remount-lxcfs` may meet).
    remounting: Mutex<()>,
}

impl Lxcfs {
    pub fn new(config: LxcfsConfig) -> Lxcfs {
        let home = std::path::absolute(&config.home).unwrap_or_else(|_| config.home.clone());
        // Not the home itself: resolving it would ask lxcfs (which may be dead).
        let home = match (home.parent(), home.file_name()) {
            (Some(parent), Some(name)) => std::fs::canonicalize(parent)
                .map(|p| p.join(name))
                .unwrap_or(home),
            _ => home,
        };
        Lxcfs {
            config,
            home,
            remounting: Mutex::new(()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    fn home_str(&self) -> String {
        self.config.home.display().to_string()
    }

    /// Checks that lxcfs is mounted at the home and answers (engine open, container start).
    pub fn check(&self) -> Result<(), LxcfsError> {
        let mounted = mount_id(&self.home).map_err(|source| LxcfsError::Mountinfo {
            home: self.home_str(),
            source,
        })?;
        if mounted.is_none() {
            return Err(LxcfsError::NotMounted {
                home: self.home_str(),
            });
        }
        probe(&self.home.join(PROBE)).map_err(|source| LxcfsError::NotAnswering {
            home: self.home_str(),
            source,
        })
    }

    /// The identity of the lxcfs mount at the home now (`None`: not mounted).
    fn mount_key(&self) -> Option<u64> {
        let mountinfo_id = mount_id(&self.home).ok().flatten()?;
        Some(unique_mount_id(&self.home).unwrap_or(mountinfo_id))
    }

    /// The binds of a container: each of [`BIND_FILES`] lxcfs provides, except where the
    /// user mounted something (`user`: the container's resolved mounts).
    fn binds(&self, user: &[MountPoint]) -> Vec<Rebind> {
        BIND_FILES
            .iter()
            .filter(|dest| !user.iter().any(|m| m.destination == **dest))
            .map(|dest| Rebind {
                source: self.home.join(dest.trim_start_matches('/')),
                target: PathBuf::from(dest),
            })
            .filter(|b| b.source.exists())
            .collect()
    }
}

/// The 400 of a create asking for lxcfs from a daemon without it.
pub fn check_create(config: &LxcfsConfig, host: Option<&HostConfig>) -> Result<(), ApiError> {
    if host.is_some_and(|h| h.enable_lxcfs) && !config.enabled {
        return Err(ApiError::invalid(format!(
            "invalid --enableLxcfs: lxcfs is not enabled in pouchd: start pouchd with \
             --enable-lxcfs (lxcfs mounted at {}), or create the container without it",
            config.home.display()
        )));
    }
    Ok(())
}

/// Reads the first bytes of `path` (a FUSE file answers only if its daemon is alive).
fn probe(path: &Path) -> std::io::Result<()> {
    let mut buf = [0u8; 16];
    std::fs::File::open(path)?.read(&mut buf).map(|_| ())
}

/// The id of the topmost `fuse.lxcfs` mount at `home` in /proc/self/mountinfo, or `None`.
fn mount_id(home: &Path) -> std::io::Result<Option<u64>> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(find_mount(&info, home))
}

/// [`mount_id`] over a mountinfo text: the last matching line is the topmost mount.
fn find_mount(info: &str, home: &Path) -> Option<u64> {
    let want = home.to_string_lossy();
    info.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut f = left.split(' ');
            let id = f.next()?.parse::<u64>().ok()?;
            let mount_point = unescape(f.nth(3)?);
            let fstype = right.split(' ').next()?;
            (fstype == FSTYPE && mount_point == want).then_some(id)
        })
        .next_back()
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let oct = std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(oct, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The never-reused id of the mount at `path` (statx `STATX_MNT_ID_UNIQUE`, without asking
/// the filesystem: `AT_STATX_DONT_SYNC`); `None` on older kernels.
fn unique_mount_id(path: &Path) -> Option<u64> {
    use rustix::fs::{statx, AtFlags, StatxFlags, CWD};
    let want = StatxFlags::from_bits_retain(STATX_MNT_ID_UNIQUE);
    let st = statx(
        CWD,
        path,
        AtFlags::SYMLINK_NOFOLLOW | AtFlags::STATX_DONT_SYNC,
        want,
    )
    .ok()?;
    (st.stx_mask & STATX_MNT_ID_UNIQUE != 0).then_some(st.stx_mnt_id)
}

impl Containers {
    /// Adds the lxcfs binds to the spec of a container that asks for them (at start), and
    /// takes their destinations out of the masked and read-only paths (a masked path is
    /// covered by /dev/null after the mounts, which would hide the bind).
    pub(super) fn lxcfs_spec(
        &self,
        c: &Container,
        host: &HostConfig,
        user: &[MountPoint],
        spec: &mut Spec,
    ) -> Result<(), ApiError> {
        if !host.enable_lxcfs {
            return Ok(());
        }
        if !self.lxcfs.enabled() {
            return Err(ApiError::invalid(format!(
                "container {} asks for lxcfs (--enableLxcfs) but pouchd runs without \
                 --enable-lxcfs: restart pouchd with --enable-lxcfs",
                c.name()
            )));
        }
        self.lxcfs
            .check()
            .map_err(|e| ApiError::internal(format!("cannot start container {}: {e}", c.name())))?;
        let binds = self.lxcfs.binds(user);
        let dests: Vec<String> = binds
            .iter()
            .map(|b| b.target.display().to_string())
            .collect();
        let mounts = spec.mounts_mut().get_or_insert_with(Vec::new);
        for b in &binds {
            let mut m = Mount::default();
            m.set_destination(b.target.clone())
                .set_typ(Some("bind".to_string()))
                .set_source(Some(b.source.clone()))
                .set_options(Some(
                    ["rbind", "ro", "nosuid", "nodev", "noexec", "rprivate"]
                        .map(String::from)
                        .to_vec(),
                ));
            mounts.push(m);
        }
        if let Some(linux) = spec.linux_mut() {
            if let Some(paths) = linux.masked_paths_mut() {
                paths.retain(|p| !dests.contains(p));
            }
            if let Some(paths) = linux.readonly_paths_mut() {
                paths.retain(|p| !dests.contains(p));
            }
        }
        Ok(())
    }

    /// `POST /containers/{id}/remount-lxcfs`: fresh lxcfs binds in a running container (after
    /// lxcfs restarted). 400 for a container without lxcfs or a daemon without it, 409 for
    /// one that is not running.
    pub async fn remount_lxcfs(self: &Arc<Self>, name: &str) -> Result<(), ApiError> {
        let c = self.get(name)?;
        let _op = c.op.lock().await;
        let rec = c.record();
        if !rec.host_config.enable_lxcfs {
            return Err(ApiError::invalid(format!(
                "container {} does not use lxcfs: create it with --enableLxcfs",
                c.name()
            )));
        }
        if !self.lxcfs.enabled() {
            return Err(ApiError::invalid(
                "lxcfs is not enabled in pouchd: restart pouchd with --enable-lxcfs",
            ));
        }
        if !rec.state.status.is_alive() {
            return Err(ApiError::conflict(format!(
                "container {} is not running: lxcfs is mounted in it at its next start",
                c.name()
            )));
        }
        self.lxcfs
            .check()
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let (this, held) = (self.clone(), c.clone());
        let n = tokio::task::spawn_blocking(move || this.rebind_lxcfs(&held))
            .await
            .map_err(super::internal)??;
        tracing::info!(id = %rec.id, binds = n, "lxcfs remounted on request");
        Ok(())
    }

    /// Replaces the lxcfs binds of the running container `c` (blocking): the container's
    /// init is held by a pidfd and must still be in the container's cgroup. Returns the
    /// number of binds.
    fn rebind_lxcfs(&self, c: &Container) -> Result<usize, ApiError> {
        let rec = c.record();
        let name = c.name();
        let pid = u32::try_from(rec.state.pid).unwrap_or(0);
        let fail = |e: String| {
            ApiError::internal(format!("cannot remount lxcfs in container {name}: {e}"))
        };
        let process = Process::open(pid).map_err(|e| fail(e.to_string()))?;
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .map_err(|e| fail(format!("process {pid}: {e}")))?;
        if !cgroup.contains(&c.id) {
            return Err(fail(format!(
                "process {pid} is not the container's any more (it exited)"
            )));
        }
        let binds = self.lxcfs.binds(&rec.mounts);
        let _one = self
            .lxcfs
            .remounting
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        process.rebind(&binds).map_err(|e| fail(e.to_string()))?;
        Ok(binds.len())
    }

    /// The running containers with lxcfs binds.
    fn lxcfs_containers(&self) -> Vec<Arc<Container>> {
        self.all()
            .into_iter()
            .filter(|c| c.with_record(|r| r.host_config.enable_lxcfs && r.state.status.is_alive()))
            .collect()
    }

    /// Remounts lxcfs in every running lxcfs container (`stale_only`: only those whose binds
    /// do not answer), logging failures.
    fn rebind_lxcfs_all(&self, stale_only: bool) {
        for c in self.lxcfs_containers() {
            if stale_only && !self.lxcfs_stale(&c) {
                continue;
            }
            match self.rebind_lxcfs(&c) {
                Ok(n) => tracing::info!(id = %c.id, binds = n, "lxcfs remounted"),
                Err(e) => tracing::warn!(id = %c.id, "{}", e.message),
            }
        }
    }

    /// Whether the lxcfs binds of running container `c` no longer answer (read through its
    /// root, so through its mounts).
    fn lxcfs_stale(&self, c: &Container) -> bool {
        let (pid, mounts) = c.with_record(|r| (r.state.pid, r.mounts.clone()));
        let Some(b) = self.lxcfs.binds(&mounts).into_iter().next() else {
            return false;
        };
        let path = format!("/proc/{pid}/root{}", b.target.display());
        match probe(Path::new(&path)) {
            Ok(()) => false,
            Err(e) => {
                tracing::info!(id = %c.id, "the lxcfs files of the container do not answer: {e}");
                true
            }
        }
    }

    /// Starts the lxcfs watcher (when lxcfs is enabled) after the live restore: first heals
    /// the containers whose binds went stale while pouchd was away, then follows the mount
    /// table. The thread ends once the manager is dropped.
    pub(crate) fn watch_lxcfs(self: &Arc<Self>) {
        if !self.lxcfs.enabled() {
            return;
        }
        let weak = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("lxcfs-watch".into())
            .spawn(move || watch(weak));
        if let Err(e) = spawned {
            tracing::error!("cannot start the lxcfs watcher: {e}");
        }
    }
}

/// The watcher's loop (see the module doc).
fn watch(weak: Weak<Containers>) {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mountinfo = match std::fs::File::open("/proc/self/mountinfo") {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("lxcfs watcher: cannot open /proc/self/mountinfo: {e}");
            return;
        }
    };
    let mut last = {
        let Some(this) = weak.upgrade() else { return };
        this.rebind_lxcfs_all(true);
        this.lxcfs.mount_key()
    };
    let tick = Timespec {
        tv_sec: WATCH_TICK.as_secs() as _,
        tv_nsec: 0,
    };
    loop {
        let mut fds = [PollFd::new(&mountinfo, PollFlags::PRI)];
        let changed = match poll(&mut fds, Some(&tick)) {
            Ok(n) => n > 0,
            Err(rustix::io::Errno::INTR) => false,
            Err(e) => {
                tracing::error!("lxcfs watcher: poll /proc/self/mountinfo: {e}");
                return;
            }
        };
        let Some(this) = weak.upgrade() else { return };
        if !changed {
            continue;
        }
        let now = this.lxcfs.mount_key();
        if now == last {
            continue;
        }
        last = now;
        let home = this.lxcfs.home_str();
        match now {
            None => tracing::warn!(
                home = %home,
                "lxcfs is gone: containers read errors from its files until it is back"
            ),
            Some(_) => {
                tracing::info!(home = %home, "lxcfs was mounted again: remounting its files in the running containers");
                this.rebind_lxcfs_all(false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw
50 27 0:45 / /var/lib/lxcfs rw,nosuid,nodev,relatime shared:9 - fuse.lxcfs lxcfs rw,user_id=0,group_id=0,allow_other
51 27 0:46 / /tmp/with\\040space rw,relatime - fuse.lxcfs lxcfs rw,user_id=0,group_id=0,allow_other
60 50 0:47 / /var/lib/lxcfs rw,nosuid,nodev,relatime shared:9 - fuse.lxcfs lxcfs rw,user_id=0
61 27 0:48 / /var/lib/other rw - fuse.sshfs host:/ rw
";

    #[test]
    fn finds_the_topmost_lxcfs_mount() {
        assert_eq!(find_mount(INFO, Path::new("/var/lib/lxcfs")), Some(60));
        assert_eq!(find_mount(INFO, Path::new("/tmp/with space")), Some(51));
        assert_eq!(find_mount(INFO, Path::new("/var/lib/other")), None);
        assert_eq!(find_mount(INFO, Path::new("/var/lib")), None);
        assert_eq!(find_mount(INFO, Path::new("/proc")), None);
    }

    #[test]
    fn unescapes_mountinfo() {
        assert_eq!(unescape("/a\\040b\\011c"), "/a b\tc");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/end\\04"), "/end\\04");
    }

    #[test]
    fn binds_skip_user_mounts_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "proc/meminfo",
            "proc/cpuinfo",
            "sys/devices/system/cpu/online",
        ] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        let lx = Lxcfs::new(LxcfsConfig {
            enabled: true,
            home: dir.path().to_path_buf(),
        });
        let user = [MountPoint {
            destination: "/proc/cpuinfo".into(),
            ..Default::default()
        }];
        let targets: Vec<PathBuf> = lx.binds(&user).into_iter().map(|b| b.target).collect();
        assert_eq!(
            targets,
            [
                PathBuf::from("/proc/meminfo"),
                PathBuf::from("/sys/devices/system/cpu/online")
            ]
        );
        // A plain directory is not lxcfs.
        let e = lx.check().unwrap_err().to_string();
        assert!(
            e.contains("lxcfs is not mounted at") && e.contains("--enable-lxcfs"),
            "{e}"
        );
    }

    #[test]
    fn create_needs_the_daemon_flag() {
        let host = HostConfig {
            enable_lxcfs: true,
            ..Default::default()
        };
        let off = LxcfsConfig::default();
        let e = check_create(&off, Some(&host)).unwrap_err();
        assert_eq!(e.kind, pouch_api::ErrorKind::InvalidArgument);
        assert!(e.message.contains("--enable-lxcfs"), "{}", e.message);
        check_create(&off, Some(&HostConfig::default())).unwrap();
        check_create(&off, None).unwrap();
        let on = LxcfsConfig {
            enabled: true,
            ..Default::default()
        };
        check_create(&on, Some(&host)).unwrap();
    }
}
