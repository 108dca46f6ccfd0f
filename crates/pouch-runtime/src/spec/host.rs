//! Facts about the host that the spec depends on: kernel version, cgroup version, online CPUs
//! and memory nodes, and whether seccomp and AppArmor are available. Each is read from
//! `/proc` or `/sys` when asked (they are cheap and a create reads each once).

use std::collections::BTreeSet;
use std::path::Path;

/// The running kernel's (major, minor), `(0, 0)` if `uname` gives something unexpected.
pub fn kernel_version() -> (u32, u32) {
    let release = rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned();
    parse_kernel_version(&release)
}

fn parse_kernel_version(release: &str) -> (u32, u32) {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor)
}

/// `true` on a unified (cgroup v2 only) hierarchy.
pub fn cgroup_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// `true` when the v1 memory controller still enforces kernel-memory limits (it became a
/// no-op in Linux 6.1 and never existed on v2).
pub fn kernel_memory_supported() -> bool {
    !cgroup_v2()
        && kernel_version() < (6, 1)
        && Path::new("/sys/fs/cgroup/memory/memory.kmem.limit_in_bytes").exists()
}

/// `true` when the v1 memory controller has the kernel TCP memory limit.
pub fn kernel_tcp_memory_supported() -> bool {
    !cgroup_v2() && Path::new("/sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes").exists()
}

/// `true` when the kernel was built with seccomp filters.
pub fn seccomp_supported() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Seccomp:")))
        .unwrap_or(false)
}

/// `true` when AppArmor is enabled.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .map(|s| s.trim() == "Y")
        .unwrap_or(false)
}

/// The host's online CPUs as the kernel lists them (`0-1`).
pub fn online_cpus() -> Option<String> {
    read_list("/sys/devices/system/cpu/online")
}

/// The host's online memory nodes (`0`); hosts without NUMA sysfs have node 0.
pub fn online_mems() -> Option<String> {
    read_list("/sys/devices/system/node/online").or_else(|| Some("0".to_string()))
}

/// The number of online CPUs.
pub fn cpu_count() -> usize {
    online_cpus()
        .and_then(|l| parse_list(&l))
        .map(|s| s.len())
        .filter(|&n| n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

fn read_list(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Parses a kernel list (`0-3,5,7-8`); `None` on bad syntax. An empty list is empty.
pub fn parse_list(list: &str) -> Option<BTreeSet<u32>> {
    let mut set = BTreeSet::new();
    let list = list.trim();
    if list.is_empty() {
        return Some(set);
    }
    for part in list.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => {
                let a: u32 = a.trim().parse().ok()?;
                let b: u32 = b.trim().parse().ok()?;
                if a > b || b - a > 65535 {
                    return None;
                }
                set.extend(a..=b);
            }
            None => {
                set.insert(part.parse().ok()?);
            }
        }
    }
    Some(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_host_kernel_version_parses_release() {
        assert_eq!(parse_kernel_version("6.18.44-fc-v669"), (6, 18));
        assert_eq!(parse_kernel_version("4.8.0"), (4, 8));
        assert_eq!(parse_kernel_version("5"), (5, 0));
        assert!(kernel_version() >= (3, 10));
    }

    #[test]
    fn spec_host_lists() {
        assert_eq!(
            parse_list("0-2,5, 7")
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            vec![0, 1, 2, 5, 7]
        );
        assert!(parse_list("").unwrap().is_empty());
        assert!(parse_list("3-1").is_none());
        assert!(parse_list("a").is_none());
        assert!(parse_list("1,,2").is_none());
        assert!(cpu_count() >= 1);
        assert!(parse_list(&online_cpus().unwrap()).unwrap().contains(&0));
    }
}
