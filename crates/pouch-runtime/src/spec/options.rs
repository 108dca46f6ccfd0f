//! The small create options, parsed and checked: namespace modes (`--pid`, `--ipc`, `--uts`,
//! `--cgroupns`, `--userns`), `--security-opt`, `--sysctl` (Docker's namespaced set),
//! `--ulimit` (to OCI rlimits) and `--oom-score-adj`.

use std::collections::BTreeMap;

use oci_spec::runtime::{PosixRlimit, PosixRlimitBuilder, PosixRlimitType};
use pouch_api::container::{HostConfig, Ulimit};

use super::SpecError;

/// How the container gets its IPC namespace and `/dev/shm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipc {
    /// Own namespace and a private `/dev/shm` tmpfs (`""`, `private`, `shareable`).
    Private,
    /// The host's namespace and `/dev/shm`.
    Host,
    /// Own namespace, no `/dev/shm`.
    None,
}

/// The namespace modes of `HostConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modes {
    pub pid_host: bool,
    pub ipc: Ipc,
    pub uts_host: bool,
    /// A private cgroup namespace (Docker's default on cgroup v2 only).
    pub cgroupns_private: bool,
}

fn container_mode(flag: &str, value: &str) -> SpecError {
    SpecError::invalid(
        flag,
        value,
        "joining another container's namespace is not supported yet",
    )
}

/// Parses the namespace modes.
pub fn modes(host: &HostConfig) -> Result<Modes, SpecError> {
    let pid_host = match host.pid_mode.as_str() {
        "" => false,
        "host" => true,
        v if v.starts_with("container:") => return Err(container_mode("--pid", v)),
        v => return Err(SpecError::invalid("--pid", v, "want host")),
    };
    let ipc = match host.ipc_mode.as_str() {
        "" | "private" | "shareable" => Ipc::Private,
        "host" => Ipc::Host,
        "none" => Ipc::None,
        v if v.starts_with("container:") => return Err(container_mode("--ipc", v)),
        v => {
            return Err(SpecError::invalid(
                "--ipc",
                v,
                "want private, shareable, host or none",
            ))
        }
    };
    let uts_host = match host.uts_mode.as_str() {
        "" => false,
        "host" => true,
        v => return Err(SpecError::invalid("--uts", v, "want host")),
    };
    let cgroupns_private = match host.cgroupns_mode.as_str() {
        "" => super::host::cgroup_v2(),
        "private" => true,
        "host" => false,
        v => return Err(SpecError::invalid("--cgroupns", v, "want private or host")),
    };
    match host.userns_mode.as_str() {
        "" | "host" => {}
        v => {
            return Err(SpecError::invalid(
                "--userns",
                v,
                "user namespaces are not supported (want host)",
            ))
        }
    }
    Ok(Modes {
        pid_host,
        ipc,
        uts_host,
        cgroupns_private,
    })
}

/// What `--security-opt` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SeccompChoice {
    /// Docker's default profile.
    #[default]
    Default,
    /// No filter.
    Unconfined,
    /// A profile: its JSON, or a path to it.
    Profile(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityOpts {
    pub no_new_privileges: bool,
    pub seccomp: SeccompChoice,
    pub apparmor: Option<String>,
    /// `systempaths=unconfined`: no masked or read-only paths.
    pub unmask_paths: bool,
}

fn bool_opt(raw: &str, v: &str) -> Result<bool, SpecError> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(SpecError::invalid(
            "--security-opt",
            raw,
            "want true or false",
        )),
    }
}

/// Parses `HostConfig.SecurityOpt` (`key=value`, or Docker's older `key:value`).
pub fn security_opts(host: &HostConfig) -> Result<SecurityOpts, SpecError> {
    let mut out = SecurityOpts::default();
    for raw in host.security_opt.iter().flatten() {
        let (key, value) = match raw.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => match raw.split_once(':') {
                Some((k, v)) if k != "seccomp" => (k, Some(v)),
                _ => (raw.as_str(), None),
            },
        };
        match (key, value) {
            ("no-new-privileges", None) => out.no_new_privileges = true,
            ("no-new-privileges", Some(v)) => out.no_new_privileges = bool_opt(raw, v)?,
            ("seccomp", Some("unconfined")) => out.seccomp = SeccompChoice::Unconfined,
            ("seccomp", Some("builtin")) | ("seccomp", Some("")) => {
                out.seccomp = SeccompChoice::Default
            }
            ("seccomp", Some(v)) => out.seccomp = SeccompChoice::Profile(v.to_string()),
            ("apparmor", Some(v)) => out.apparmor = Some(v.to_string()),
            ("label", Some(_)) => {} // no SELinux support; Docker ignores labels when disabled
            ("systempaths", Some("unconfined")) => out.unmask_paths = true,
            ("writable-cgroups", Some(v)) => {
                if bool_opt(raw, v)? {
                    return Err(SpecError::invalid(
                        "--security-opt",
                        raw,
                        "writable cgroups are not supported",
                    ));
                }
            }
            _ => {
                return Err(SpecError::invalid(
                    "--security-opt",
                    raw,
                    "unknown option (want no-new-privileges, seccomp=, apparmor=, label=, \
                     systempaths=unconfined)",
                ))
            }
        }
    }
    Ok(out)
}

/// Docker's namespaced sysctls outside the `net.` and `fs.mqueue.` prefixes.
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Checks `--sysctl`: only namespaced ones (Docker's list), IPC ones not with `--ipc host`,
/// `net.*` not with `--network host`.
pub fn check_sysctls(
    sysctls: &BTreeMap<String, String>,
    ipc_host: bool,
    net_host: bool,
) -> Result<(), SpecError> {
    for (key, value) in sysctls {
        let raw = format!("{key}={value}");
        let ipc = IPC_SYSCTLS.contains(&key.as_str()) || key.starts_with("fs.mqueue.");
        if ipc {
            if ipc_host {
                return Err(SpecError::invalid(
                    "--sysctl",
                    &raw,
                    "IPC sysctls can't be set with --ipc host",
                ));
            }
        } else if key.starts_with("net.") {
            if net_host {
                return Err(SpecError::invalid(
                    "--sysctl",
                    &raw,
                    "net sysctls can't be set with --network host",
                ));
            }
        } else {
            return Err(SpecError::invalid(
                "--sysctl",
                &raw,
                "not a namespaced sysctl (allowed: kernel.msg*, kernel.sem, kernel.shm*, \
                 fs.mqueue.*, net.*)",
            ));
        }
    }
    Ok(())
}

fn rlimit_type(name: &str) -> Option<PosixRlimitType> {
    Some(match name {
        "as" => PosixRlimitType::RlimitAs,
        "core" => PosixRlimitType::RlimitCore,
        "cpu" => PosixRlimitType::RlimitCpu,
        "data" => PosixRlimitType::RlimitData,
        "fsize" => PosixRlimitType::RlimitFsize,
        "locks" => PosixRlimitType::RlimitLocks,
        "memlock" => PosixRlimitType::RlimitMemlock,
        "msgqueue" => PosixRlimitType::RlimitMsgqueue,
        "nice" => PosixRlimitType::RlimitNice,
        "nofile" => PosixRlimitType::RlimitNofile,
        "nproc" => PosixRlimitType::RlimitNproc,
        "rss" => PosixRlimitType::RlimitRss,
        "rtprio" => PosixRlimitType::RlimitRtprio,
        "rttime" => PosixRlimitType::RlimitRttime,
        "sigpending" => PosixRlimitType::RlimitSigpending,
        "stack" => PosixRlimitType::RlimitStack,
        _ => return None,
    })
}

/// `--ulimit` to OCI rlimits (`-1` is unlimited); the last one of a name wins.
pub fn rlimits(ulimits: &[Ulimit]) -> Result<Vec<PosixRlimit>, SpecError> {
    let mut by_name: BTreeMap<String, PosixRlimit> = BTreeMap::new();
    for u in ulimits {
        let raw = format!("{}={}:{}", u.name, u.soft, u.hard);
        let name = u.name.to_ascii_lowercase();
        let typ = rlimit_type(&name).ok_or_else(|| {
            SpecError::invalid("--ulimit", &raw, format!("unknown limit {}", u.name))
        })?;
        let value = |v: i64| -> Result<u64, SpecError> {
            match v {
                -1 => Ok(u64::MAX),
                v if v >= 0 => Ok(v as u64),
                _ => Err(SpecError::invalid(
                    "--ulimit",
                    &raw,
                    "limits must be >= 0 or -1",
                )),
            }
        };
        let (soft, hard) = (value(u.soft)?, value(u.hard)?);
        if soft > hard {
            return Err(SpecError::invalid(
                "--ulimit",
                &raw,
                "the soft limit must be less than or equal to the hard limit",
            ));
        }
        let limit = PosixRlimitBuilder::default()
            .typ(typ)
            .soft(soft)
            .hard(hard)
            .build()
            .map_err(|e| SpecError::Internal(e.to_string()))?;
        by_name.insert(name, limit);
    }
    Ok(by_name.into_values().collect())
}

/// `--oom-score-adj`, checked against the kernel's range.
pub fn oom_score_adj(v: i64) -> Result<i32, SpecError> {
    if !(-1000..=1000).contains(&v) {
        return Err(SpecError::invalid(
            "--oom-score-adj",
            &v.to_string(),
            "must be between -1000 and 1000",
        ));
    }
    Ok(v as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_options_sysctls() {
        let mut s = BTreeMap::new();
        s.insert("net.ipv4.ip_forward".to_string(), "1".to_string());
        s.insert("kernel.shmmax".to_string(), "1000000".to_string());
        s.insert("fs.mqueue.msg_max".to_string(), "20".to_string());
        check_sysctls(&s, false, false).unwrap();
        let err = check_sysctls(&s, false, true).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("invalid --sysctl net.ipv4.ip_forward=1:"));
        assert!(check_sysctls(&s, true, false).is_err());
        let mut bad = BTreeMap::new();
        bad.insert("kernel.hostname".to_string(), "x".to_string());
        let err = check_sysctls(&bad, false, false).unwrap_err();
        assert!(err.is_invalid_argument());
        assert!(err.to_string().contains("kernel.hostname=x"));
        bad.clear();
        bad.insert("vm.swappiness".to_string(), "1".to_string());
        assert!(check_sysctls(&bad, false, false).is_err());
    }

    #[test]
    fn spec_options_ulimits() {
        let u = |name: &str, soft, hard| Ulimit {
            name: name.to_string(),
            soft,
            hard,
        };
        let r = rlimits(&[
            u("nofile", 1024, 2048),
            u("core", -1, -1),
            u("nofile", 10, 20),
        ])
        .unwrap();
        assert_eq!(r.len(), 2);
        let nofile = r
            .iter()
            .find(|l| l.typ() == PosixRlimitType::RlimitNofile)
            .unwrap();
        assert_eq!((nofile.soft(), nofile.hard()), (10, 20));
        let core = r
            .iter()
            .find(|l| l.typ() == PosixRlimitType::RlimitCore)
            .unwrap();
        assert_eq!(core.hard(), u64::MAX);
        let err = rlimits(&[u("nofile", 2048, 1024)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid --ulimit nofile=2048:1024: the soft limit must be less than or equal to \
             the hard limit"
        );
        assert!(rlimits(&[u("bogus", 1, 1)]).is_err());
    }

    #[test]
    fn spec_options_security_and_modes() {
        let host = HostConfig {
            security_opt: Some(vec![
                "no-new-privileges".into(),
                "seccomp=unconfined".into(),
                "label=disable".into(),
            ]),
            ipc_mode: "host".into(),
            pid_mode: "host".into(),
            ..Default::default()
        };
        let s = security_opts(&host).unwrap();
        assert!(s.no_new_privileges);
        assert_eq!(s.seccomp, SeccompChoice::Unconfined);
        let m = modes(&host).unwrap();
        assert!(m.pid_host);
        assert_eq!(m.ipc, Ipc::Host);
        assert!(!m.uts_host);
        let bad = HostConfig {
            security_opt: Some(vec!["bogus=1".into()]),
            ..Default::default()
        };
        assert!(security_opts(&bad).unwrap_err().is_invalid_argument());
        let bad = HostConfig {
            ipc_mode: "container:abc".into(),
            ..Default::default()
        };
        assert!(modes(&bad)
            .unwrap_err()
            .to_string()
            .starts_with("invalid --ipc container:abc"));
        assert!(oom_score_adj(1001).is_err());
        assert_eq!(oom_score_adj(-500).unwrap(), -500);
    }
}
