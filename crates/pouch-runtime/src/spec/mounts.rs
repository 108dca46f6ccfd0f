//! The container's mount list: Docker's defaults (`/proc`, `/dev`, `/dev/pts`, `/sys`,
//! `/sys/fs/cgroup`, `/dev/mqueue`, `/dev/shm`), the engine's files (`/etc/hostname`,
//! `/etc/hosts`, `/etc/resolv.conf`, `/sbin/pouch-init`) and the user's mounts
//! (`spec::user_mounts`: the resolved mounts and `--tmpfs`), which replace defaults at the same destination; ordered so that a
//! parent is mounted before what is mounted inside it. Also the masked and read-only paths.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Mount;
use pouch_api::container::{HostConfig, MountPoint};

use super::options::Ipc;
use super::user_mounts::user_mounts;
use super::SpecError;

/// Where the `--init` binary appears in the container.
pub const INIT_PATH: &str = "/sbin/pouch-init";

/// Docker's default `/dev/shm` size (64 MiB).
pub const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;

/// What the mount list is built from.
pub struct MountInput<'a> {
    pub host: &'a HostConfig,
    /// The container's resolved mounts (volumes, binds, tmpfs).
    pub mounts: &'a [MountPoint],
    pub hostname_file: &'a Path,
    pub hosts_file: &'a Path,
    pub resolv_file: &'a Path,
    pub init_path: Option<&'a Path>,
    pub ipc: Ipc,
    pub privileged: bool,
}

pub fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(dest))
        .set_typ(Some(typ.to_string()))
        .set_source(Some(PathBuf::from(source)))
        .set_options(Some(options.iter().map(|o| o.to_string()).collect()));
    m
}

fn default_mounts(shm_size: i64, ipc: Ipc, privileged: bool) -> Vec<Mount> {
    let sys_ro = if privileged { "rw" } else { "ro" };
    let mut v = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &[sys_ro, "nosuid", "noexec", "nodev"],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &[sys_ro, "nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
    ];
    match ipc {
        Ipc::Private => {
            let size = if shm_size > 0 {
                shm_size
            } else {
                DEFAULT_SHM_SIZE
            };
            let size = format!("size={size}");
            v.push(mount(
                "/dev/shm",
                "tmpfs",
                "shm",
                &["nosuid", "noexec", "nodev", "mode=1777", &size],
            ));
        }
        Ipc::Host => v.push(mount(
            "/dev/shm",
            "bind",
            "/dev/shm",
            &["rbind", "rprivate"],
        )),
        Ipc::None => {}
    }
    v
}

fn depth(m: &Mount) -> usize {
    m.destination().components().count()
}

/// The container's mount list.
pub fn build(input: &MountInput) -> Result<Vec<Mount>, SpecError> {
    let user = user_mounts(input.host, input.mounts)?;
    let user_dests: BTreeSet<PathBuf> =
        user.iter().map(|m| m.mount.destination().clone()).collect();
    let user_dev = user_dests.contains(Path::new("/dev"));

    let mut mounts: Vec<Mount> = default_mounts(input.host.shm_size, input.ipc, input.privileged)
        .into_iter()
        .filter(|m| {
            // A user /dev replaces every default mount under /dev too.
            let replaced = user_dests.contains(m.destination())
                || (user_dev && m.destination().starts_with("/dev"));
            !replaced
        })
        .collect();

    let mut extra: Vec<Mount> = Vec::new();
    let ro = input.host.readonly_rootfs;
    for (dest, file) in [
        ("/etc/resolv.conf", input.resolv_file),
        ("/etc/hostname", input.hostname_file),
        ("/etc/hosts", input.hosts_file),
    ] {
        if user_dests.contains(Path::new(dest)) || !file.exists() {
            continue;
        }
        let opts: &[&str] = if ro {
            &["rbind", "ro", "rprivate"]
        } else {
            &["rbind", "rprivate"]
        };
        extra.push(mount(dest, "bind", &file.to_string_lossy(), opts));
    }
    if let Some(init) = input.init_path {
        extra.push(mount(
            INIT_PATH,
            "bind",
            &init.to_string_lossy(),
            &["bind", "ro"],
        ));
    }
    extra.extend(user.into_iter().map(|m| m.mount));
    extra.sort_by_key(depth);
    mounts.extend(extra);
    Ok(mounts)
}

/// Docker's masked paths.
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// `(maskedPaths, readonlyPaths)`: none when privileged or with
/// `--security-opt systempaths=unconfined`, else `HostConfig`'s lists or Docker's.
pub fn masked_and_readonly(host: &HostConfig, unconfined: bool) -> (Vec<String>, Vec<String>) {
    if host.privileged || unconfined {
        return (Vec::new(), Vec::new());
    }
    let masked = host
        .masked_paths
        .clone()
        .unwrap_or_else(|| MASKED_PATHS.iter().map(|s| s.to_string()).collect());
    let readonly = host
        .readonly_paths
        .clone()
        .unwrap_or_else(|| READONLY_PATHS.iter().map(|s| s.to_string()).collect());
    (masked, readonly)
}
