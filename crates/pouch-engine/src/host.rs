//! Facts about the host read from the kernel and /etc, for `/info` and `/version`: CPUs,
//! memory, OS release, architecture names, the cgroup version and controllers, the backing
//! filesystem of the home dir. Parsers are separate from the reads so they can be tested.

use std::path::Path;

/// `statfs` magic of a cgroup2 mount.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// The GOARCH name Docker clients expect for a `uname -m` machine name.
pub fn goarch(machine: &str) -> &str {
    match machine {
        "x86_64" | "amd64" => "amd64",
        "aarch64" | "arm64" => "arm64",
        "i386" | "i486" | "i586" | "i686" => "386",
        m if m.starts_with("armv") || m == "arm" => "arm",
        "ppc64le" => "ppc64le",
        "ppc64" => "ppc64",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64" => "mips64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Number of CPUs this process may run on (the affinity mask, as Docker's NCPU).
pub fn ncpu() -> i64 {
    std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .unwrap_or(1)
}

/// Total memory in bytes from `/proc/meminfo` (0 when unreadable).
pub fn mem_total() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| parse_mem_total(&text))
        .unwrap_or(0)
}

/// `MemTotal:  24684084 kB` -> bytes.
pub fn parse_mem_total(meminfo: &str) -> Option<i64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut parts = line["MemTotal:".len()..].split_whitespace();
    let value: i64 = parts.next()?.parse().ok()?;
    let unit = parts.next().unwrap_or("B");
    let factor = match unit {
        "kB" | "KB" | "k" => 1024,
        "mB" | "MB" => 1024 * 1024,
        _ => 1,
    };
    Some(value * factor)
}

/// What `/etc/os-release` says: (PRETTY_NAME, VERSION_ID).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRelease {
    pub pretty_name: String,
    pub version_id: String,
}

/// Reads `/etc/os-release`, falling back to `/usr/lib/os-release`.
pub fn os_release() -> OsRelease {
    ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|text| parse_os_release(&text))
        .unwrap_or_default()
}

/// Parses the `KEY=value` lines of os-release (values may be quoted).
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut out = OsRelease::default();
    for line in text.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        let value = unquote(value.trim());
        match key {
            "PRETTY_NAME" => out.pretty_name = value,
            "VERSION_ID" => out.version_id = value,
            _ => {}
        }
    }
    if out.pretty_name.is_empty() {
        out.pretty_name = "Linux".to_string();
    }
    out
}

fn unquote(v: &str) -> String {
    let inner = v
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
        .unwrap_or(v);
    inner.replace("\\\"", "\"").replace("\\\\", "\\")
}

/// "2" when /sys/fs/cgroup is a cgroup2 mount (unified hierarchy), else "1".
pub fn cgroup_version() -> &'static str {
    match rustix::fs::statfs("/sys/fs/cgroup") {
        Ok(st) if fs_magic(&st) == CGROUP2_SUPER_MAGIC => "2",
        _ => "1",
    }
}

/// Which resource controls the kernel offers, as `/info` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CgroupFeatures {
    pub memory_limit: bool,
    pub swap_limit: bool,
    pub cpu_cfs_period: bool,
    pub cpu_cfs_quota: bool,
    pub cpu_shares: bool,
    pub cpu_set: bool,
    pub pids_limit: bool,
}

/// Reads the controllers from the cgroup hierarchy at `root` (normally /sys/fs/cgroup).
pub fn cgroup_features(root: &Path, version: &str) -> CgroupFeatures {
    if version == "2" {
        let controllers =
            std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
        CgroupFeatures {
            memory_limit: has("memory"),
            // the root cgroup has no memory.swap.max; the kernel offers it with the memory
            // controller unless swap accounting is off, which shows in /proc/swaps only
            swap_limit: has("memory"),
            cpu_cfs_period: has("cpu"),
            cpu_cfs_quota: has("cpu"),
            cpu_shares: has("cpu"),
            cpu_set: has("cpuset"),
            pids_limit: has("pids"),
        }
    } else {
        let exists = |p: &str| root.join(p).exists();
        CgroupFeatures {
            memory_limit: exists("memory/memory.limit_in_bytes"),
            swap_limit: exists("memory/memory.memsw.limit_in_bytes"),
            cpu_cfs_period: exists("cpu/cpu.cfs_period_us"),
            cpu_cfs_quota: exists("cpu/cpu.cfs_quota_us"),
            cpu_shares: exists("cpu/cpu.shares"),
            cpu_set: exists("cpuset/cpuset.cpus"),
            pids_limit: exists("pids"),
        }
    }
}

/// Whether the kernel forwards IPv4 packets.
pub fn ipv4_forwarding() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
        .map(|s| s.trim() == "1")
        .unwrap_or(false)
}

/// Open file descriptors of this process.
pub fn open_fds() -> i64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as i64)
        .unwrap_or(0)
}

/// Threads of this process (what Docker's NGoroutines stands for here).
pub fn threads() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The filesystem magic of a `statfs` answer.
// `f_type` is i64 on x86_64 but narrower on some architectures: the conversion is needed there
#[allow(clippy::useless_conversion)]
fn fs_magic(st: &rustix::fs::StatFs) -> i64 {
    i64::from(st.f_type)
}

/// Docker's name for the filesystem under `path` ("extfs", "xfs", "btrfs", ...).
pub fn backing_filesystem(path: &Path) -> String {
    match rustix::fs::statfs(path) {
        Ok(st) => fs_name(fs_magic(&st)),
        Err(_) => "<unknown>".to_string(),
    }
}

/// Maps a `statfs` magic to Docker's filesystem name.
pub fn fs_name(magic: i64) -> String {
    match magic {
        0xEF53 => "extfs".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        0x0102_1994 => "tmpfs".into(),
        0x794C_7630 => "overlayfs".into(),
        0x2FC1_2FC1 => "zfs".into(),
        0x6969 => "nfs".into(),
        0x6573_5546 => "fuse".into(),
        0x5346_544E => "ntfs".into(),
        0x4d44 => "vfat".into(),
        other => format!("<unknown:{other:#x}>"),
    }
}

/// A proxy setting from the environment (upper or lower case), as Docker reports it.
pub fn proxy_env(name: &str) -> String {
    std::env::var(name.to_uppercase())
        .or_else(|_| std::env::var(name.to_lowercase()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goarch_names() {
        assert_eq!(goarch("x86_64"), "amd64");
        assert_eq!(goarch("aarch64"), "arm64");
        assert_eq!(goarch("armv7l"), "arm");
        assert_eq!(goarch("i686"), "386");
        assert_eq!(goarch("s390x"), "s390x");
    }

    #[test]
    fn meminfo() {
        let text = "MemTotal:       24684084 kB\nMemFree:        24360780 kB\n";
        assert_eq!(parse_mem_total(text), Some(24684084 * 1024));
        assert_eq!(parse_mem_total("MemFree: 1 kB\n"), None);
        assert!(mem_total() > 0, "this host has a /proc/meminfo");
    }

    #[test]
    fn os_release_values() {
        let text =
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian\"\nVERSION_ID=\"12\"\n";
        let r = parse_os_release(text);
        assert_eq!(r.pretty_name, "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(r.version_id, "12");
        let r = parse_os_release("NAME=Alpine\nVERSION_ID=3.19.1\n");
        assert_eq!(r.pretty_name, "Linux");
        assert_eq!(r.version_id, "3.19.1");
    }

    #[test]
    fn cgroup_v2_features_from_controllers() {
        let dir = std::env::temp_dir().join(format!("pouch-engine-cg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        let f = cgroup_features(&dir, "2");
        assert!(f.memory_limit && f.cpu_shares && f.cpu_set && f.pids_limit);
        std::fs::write(dir.join("cgroup.controllers"), "io\n").unwrap();
        let f = cgroup_features(&dir, "2");
        assert!(!f.memory_limit && !f.cpu_shares && !f.pids_limit);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn host_figures_are_real() {
        assert!(ncpu() >= 1);
        assert!(threads() >= 1);
        assert!(open_fds() >= 3);
        assert!(matches!(cgroup_version(), "1" | "2"));
        assert_eq!(fs_name(0xEF53), "extfs");
    }
}
