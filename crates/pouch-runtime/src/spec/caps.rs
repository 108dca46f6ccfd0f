//! Capabilities: Docker's default set, `--cap-add`/`--cap-drop` (names with or without `CAP_`,
//! any case, `ALL`), the privileged set (every capability the host kernel knows, from
//! `/proc/sys/kernel/cap_last_cap`) and their OCI form (bounding = effective = permitted;
//! inheritable and ambient empty, as Docker does since CVE-2022-24769).

use std::collections::BTreeSet;

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, LinuxCapabilitiesBuilder};

use super::SpecError;

/// Capability names (without `CAP_`) by number, as in `linux/capability.h`.
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Docker's default capability set (`oci.DefaultCapabilities`).
pub const DEFAULT_CAPS: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// A set of capabilities by number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapSet(BTreeSet<u8>);

impl CapSet {
    /// Docker's default set.
    pub fn docker_default() -> CapSet {
        CapSet(DEFAULT_CAPS.iter().filter_map(|n| number(n)).collect())
    }

    /// Every capability the host kernel knows (that has a name).
    pub fn host_all() -> CapSet {
        let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(NAMES.len() - 1)
            .min(NAMES.len() - 1);
        // Only what the daemon itself may hold: a host (or a VM) can drop capabilities from
        // the bounding set, and the runtime cannot grant those.
        let bounding = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("CapBnd:"))
                    .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            })
            .unwrap_or(u64::MAX);
        CapSet(
            (0..=last as u8)
                .filter(|n| bounding & (1u64 << n) != 0)
                .collect(),
        )
    }

    /// `true` when the set holds `name` (`SYS_ADMIN` or `CAP_SYS_ADMIN`, any case).
    pub fn contains(&self, name: &str) -> bool {
        number(&normalize(name)).is_some_and(|n| self.0.contains(&n))
    }

    /// Names with the `CAP_` prefix, in capability-number order.
    #[cfg(test)]
    pub fn names(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|&n| format!("CAP_{}", NAMES[n as usize]))
            .collect()
    }

    /// The kernel's bit mask of the set (as `CapEff` in `/proc/<pid>/status`).
    #[cfg(test)]
    pub fn mask(&self) -> u64 {
        self.0.iter().fold(0, |m, &n| m | (1u64 << n))
    }

    /// The OCI process capabilities: bounding, effective and permitted hold the set.
    pub fn to_oci(&self) -> LinuxCapabilities {
        let set: Capabilities = self
            .0
            .iter()
            .filter_map(|&n| NAMES[n as usize].parse::<Capability>().ok())
            .collect();
        LinuxCapabilitiesBuilder::default()
            .bounding(set.clone())
            .effective(set.clone())
            .permitted(set)
            .inheritable(Capabilities::new())
            .ambient(Capabilities::new())
            .build()
            .unwrap_or_else(|_| LinuxCapabilities::default())
    }

    /// The set described by OCI process capabilities (their bounding set).
    #[cfg(test)]
    pub fn from_oci(caps: &LinuxCapabilities) -> CapSet {
        CapSet(
            caps.bounding()
                .iter()
                .flatten()
                .filter_map(|c| number(&c.to_string()))
                .collect(),
        )
    }
}

/// Upper-cases and strips one `CAP_` prefix.
fn normalize(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    match upper.strip_prefix("CAP_") {
        Some(rest) => rest.to_string(),
        None => upper,
    }
}

fn number(name: &str) -> Option<u8> {
    NAMES.iter().position(|n| *n == name).map(|i| i as u8)
}

/// One entry of `--cap-add`/`--cap-drop`: `None` for `ALL`, else the capability number.
fn parse_one(flag: &str, raw: &str) -> Result<Option<u8>, SpecError> {
    let name = normalize(raw);
    if name == "ALL" {
        return Ok(None);
    }
    number(&name)
        .map(Some)
        .ok_or_else(|| SpecError::invalid(flag, raw, "unknown capability (see capabilities(7))"))
}

/// The container's capability set from Docker's rules (`TweakCapabilities`): privileged gets
/// every host capability; `--cap-add ALL` gets every host capability but the dropped ones;
/// `--cap-drop ALL` keeps only the added ones; otherwise the default set minus the dropped
/// plus the added.
pub fn capability_set(
    cap_add: &[String],
    cap_drop: &[String],
    privileged: bool,
) -> Result<CapSet, SpecError> {
    let mut add = BTreeSet::new();
    let mut add_all = false;
    for raw in cap_add {
        match parse_one("--cap-add", raw)? {
            Some(n) => {
                add.insert(n);
            }
            None => add_all = true,
        }
    }
    let mut drop = BTreeSet::new();
    let mut drop_all = false;
    for raw in cap_drop {
        match parse_one("--cap-drop", raw)? {
            Some(n) => {
                drop.insert(n);
            }
            None => drop_all = true,
        }
    }
    if privileged {
        return Ok(CapSet::host_all());
    }
    let set = if add_all {
        CapSet::host_all().0.difference(&drop).copied().collect()
    } else if drop_all {
        add
    } else {
        let base = CapSet::docker_default().0;
        base.difference(&drop).copied().chain(add).collect()
    };
    Ok(CapSet(set))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn spec_caps_default_set_matches_docker_mask() {
        let set = capability_set(&[], &[], false).unwrap();
        assert_eq!(set.names().len(), 14);
        assert_eq!(set.mask(), 0xa80425fb);
    }

    #[test]
    fn spec_caps_every_name_is_an_oci_capability() {
        for name in NAMES {
            assert!(name.parse::<Capability>().is_ok(), "{name}");
        }
        let all = CapSet((0..NAMES.len() as u8).collect());
        let oci = all.to_oci();
        assert_eq!(oci.bounding().as_ref().unwrap().len(), NAMES.len());
        assert_eq!(CapSet::from_oci(&oci), all);
    }

    #[test]
    fn spec_caps_add_and_drop_with_or_without_prefix() {
        let set = capability_set(
            &s(&["net_admin", "CAP_SYS_PTRACE"]),
            &s(&["cap_chown", "MKNOD"]),
            false,
        )
        .unwrap();
        assert!(set.contains("NET_ADMIN"));
        assert!(set.contains("CAP_SYS_PTRACE"));
        assert!(!set.contains("CHOWN"));
        assert!(!set.contains("MKNOD"));
        assert_eq!(set.names().len(), 14);
    }

    #[test]
    fn spec_caps_all() {
        let host = CapSet::host_all();
        let all = capability_set(&s(&["ALL"]), &[], false).unwrap();
        assert_eq!(all, host);
        assert!(all.contains("SYS_ADMIN"));
        let all_but = capability_set(&s(&["all"]), &s(&["SYS_ADMIN"]), false).unwrap();
        assert!(!all_but.contains("SYS_ADMIN"));
        assert_eq!(all_but.names().len(), host.names().len() - 1);
        let only = capability_set(&s(&["NET_ADMIN"]), &s(&["ALL"]), false).unwrap();
        assert_eq!(only.names(), vec!["CAP_NET_ADMIN".to_string()]);
        let privileged = capability_set(&[], &s(&["ALL"]), true).unwrap();
        assert_eq!(privileged, host);
    }

    #[test]
    fn spec_caps_unknown_is_invalid_argument() {
        let err = capability_set(&s(&["FOO"]), &[], false).unwrap_err();
        assert!(err.is_invalid_argument());
        assert_eq!(
            err.to_string(),
            "invalid --cap-add FOO: unknown capability (see capabilities(7))"
        );
        let err = capability_set(&[], &s(&["CAP_BAR"]), false).unwrap_err();
        assert!(err.to_string().starts_with("invalid --cap-drop CAP_BAR:"));
    }
}
