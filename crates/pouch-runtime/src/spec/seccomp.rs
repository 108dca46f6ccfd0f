//! Seccomp: Docker's profile format (the built-in default in `profiles/default.json`, or a
//! user's `--security-opt seccomp=<file or JSON>`) and its translation to the OCI
//! `linux.seccomp` for one container, as moby's `profiles/seccomp` does: the architectures
//! from the `archMap` entry of the host arch, and only the syscall rules whose
//! `includes`/`excludes` (capabilities of the bounding set, Go arch names, minimum kernel)
//! match this container and host.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall, LinuxSyscallBuilder,
};
use serde::Deserialize;

use super::caps::CapSet;
use super::SpecError;

/// Docker's default profile (moby `profiles/seccomp/default.json`, Apache-2.0; see
/// `profiles/README.md`).
const DEFAULT_PROFILE: &str = include_str!("profiles/default.json");

/// A profile in Docker's format (`api/types/seccomp.Seccomp`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: LinuxSeccompAction,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub architectures: Option<Vec<Arch>>,
    #[serde(default)]
    pub arch_map: Option<Vec<ArchMap>>,
    #[serde(default)]
    pub listener_path: Option<String>,
    #[serde(default)]
    pub listener_metadata: Option<String>,
    #[serde(default)]
    pub flags: Option<Vec<LinuxSeccompFilterFlag>>,
    #[serde(default)]
    pub syscalls: Option<Vec<Syscall>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: Arch,
    #[serde(default)]
    pub sub_architectures: Option<Vec<Arch>>,
}

/// One rule: the OCI syscall fields plus Docker's deprecated `name` and the filters (a
/// `comment` is accepted and ignored).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Syscall {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub names: Option<Vec<String>>,
    pub action: LinuxSeccompAction,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<Arg>>,
    #[serde(default)]
    pub includes: Option<Filter>,
    #[serde(default)]
    pub excludes: Option<Filter>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    #[serde(default)]
    pub index: usize,
    #[serde(default)]
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: LinuxSeccompOperator,
}

/// `includes`/`excludes`: capabilities (`CAP_SYS_ADMIN`), Go arch names (`amd64`) and a
/// minimum kernel (`"4.8"`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    #[serde(default)]
    pub arches: Option<Vec<String>>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// The host a profile is translated for.
#[derive(Debug, Clone)]
pub struct Target {
    /// Go's name of the arch (`amd64`, `arm64`, ...), used by `includes.arches`.
    pub go_arch: &'static str,
    /// libseccomp's name of the native arch, used by `archMap`.
    pub native: Option<Arch>,
    /// The kernel version (major, minor).
    pub kernel: (u32, u32),
}

impl Target {
    /// This host.
    pub fn host() -> Target {
        let (go_arch, native) = host_arch();
        Target {
            go_arch,
            native,
            kernel: super::host::kernel_version(),
        }
    }
}

fn host_arch() -> (&'static str, Option<Arch>) {
    match std::env::consts::ARCH {
        "x86_64" => ("amd64", Some(Arch::ScmpArchX86_64)),
        "x86" => ("386", Some(Arch::ScmpArchX86)),
        "aarch64" => ("arm64", Some(Arch::ScmpArchAarch64)),
        "arm" => ("arm", Some(Arch::ScmpArchArm)),
        "riscv64" => ("riscv64", Some(Arch::ScmpArchRiscv64)),
        "s390x" => ("s390x", Some(Arch::ScmpArchS390x)),
        "loongarch64" => ("loong64", Some(Arch::ScmpArchLoongarch64)),
        "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", Some(Arch::ScmpArchPpc64le)),
        "powerpc64" => ("ppc64", Some(Arch::ScmpArchPpc64)),
        "mips64" if cfg!(target_endian = "little") => ("mips64le", Some(Arch::ScmpArchMipsel64)),
        "mips64" => ("mips64", Some(Arch::ScmpArchMips64)),
        other => (other, None),
    }
}

/// The built-in default profile.
pub fn default_profile() -> Result<Profile, SpecError> {
    serde_json::from_str(DEFAULT_PROFILE)
        .map_err(|e| SpecError::Internal(format!("the built-in seccomp profile is broken: {e}")))
}

/// Parses a user's profile: the JSON itself (what the docker CLI sends) or a path to a file.
pub fn parse_user_profile(value: &str) -> Result<Profile, SpecError> {
    let flag = "--security-opt";
    let shown = format!("seccomp={}", short(value));
    let text = if value.trim_start().starts_with('{') {
        value.to_string()
    } else {
        std::fs::read_to_string(value).map_err(|e| {
            SpecError::invalid(flag, &shown, format!("cannot read the profile: {e}"))
        })?
    };
    serde_json::from_str(&text)
        .map_err(|e| SpecError::invalid(flag, &shown, format!("bad seccomp profile: {e}")))
}

fn short(value: &str) -> String {
    let v = value.trim();
    if v.chars().count() > 40 {
        format!("{}...", v.chars().take(40).collect::<String>())
    } else {
        v.to_string()
    }
}

fn version_at_least(kernel: (u32, u32), min: &str) -> Result<bool, SpecError> {
    let mut parts = min.trim().split('.');
    let parse = |p: Option<&str>| p.unwrap_or("0").parse::<u32>().ok();
    match (parse(parts.next()), parse(parts.next())) {
        (Some(major), Some(minor)) => Ok(kernel >= (major, minor)),
        _ => Err(SpecError::invalid(
            "--security-opt",
            "seccomp",
            format!("bad minKernel {min:?} in the profile (want major.minor)"),
        )),
    }
}

/// Whether a rule applies to a container with `caps` on `target` (moby's rules: any excluded
/// arch or capability, or a kernel at least `excludes.minKernel`, drops it; a missing included
/// arch or capability, or a kernel older than `includes.minKernel`, drops it).
fn applies(call: &Syscall, caps: &CapSet, target: &Target) -> Result<bool, SpecError> {
    if let Some(ex) = &call.excludes {
        if ex.arches.iter().flatten().any(|a| a == target.go_arch) {
            return Ok(false);
        }
        if ex.caps.iter().flatten().any(|c| caps.contains(c)) {
            return Ok(false);
        }
        if let Some(min) = &ex.min_kernel {
            if version_at_least(target.kernel, min)? {
                return Ok(false);
            }
        }
    }
    if let Some(inc) = &call.includes {
        if let Some(arches) = &inc.arches {
            if !arches.is_empty() && !arches.iter().any(|a| a == target.go_arch) {
                return Ok(false);
            }
        }
        if !inc.caps.iter().flatten().all(|c| caps.contains(c)) {
            return Ok(false);
        }
        if let Some(min) = &inc.min_kernel {
            if !version_at_least(target.kernel, min)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Translates a Docker-format profile to the OCI seccomp of a container whose bounding set is
/// `caps`.
pub fn translate(
    profile: &Profile,
    caps: &CapSet,
    target: &Target,
) -> Result<LinuxSeccomp, SpecError> {
    let bad = |reason: String| SpecError::invalid("--security-opt", "seccomp", reason);
    let arch_map = profile.arch_map.as_deref().unwrap_or_default();
    let explicit = profile.architectures.as_deref().unwrap_or_default();
    if !explicit.is_empty() && !arch_map.is_empty() {
        return Err(bad(
            "the profile has both architectures and archMap; use one".to_string(),
        ));
    }
    let mut arches: Vec<Arch> = explicit.to_vec();
    for entry in arch_map {
        if Some(entry.architecture) == target.native {
            arches.push(entry.architecture);
            arches.extend(entry.sub_architectures.iter().flatten().copied());
        }
    }

    let mut syscalls: Vec<LinuxSyscall> = Vec::new();
    for call in profile.syscalls.iter().flatten() {
        if !applies(call, caps, target)? {
            continue;
        }
        let names = match (&call.name, &call.names) {
            (Some(name), Some(names)) if !name.is_empty() && !names.is_empty() => {
                return Err(bad(format!(
                    "the rule for {name} has both name and names; use one"
                )))
            }
            (Some(name), _) if !name.is_empty() => vec![name.clone()],
            (_, Some(names)) => names.clone(),
            _ => Vec::new(),
        };
        if names.is_empty() {
            return Err(bad("a syscall rule has no names".to_string()));
        }
        let mut args = Vec::new();
        for a in call.args.iter().flatten() {
            let mut b = LinuxSeccompArgBuilder::default()
                .index(a.index)
                .value(a.value)
                .op(a.op);
            if a.value_two != 0 {
                b = b.value_two(a.value_two);
            }
            args.push(b.build().map_err(|e| bad(e.to_string()))?);
        }
        let mut b = LinuxSyscallBuilder::default()
            .names(names)
            .action(call.action);
        if let Some(errno) = call.errno_ret {
            b = b.errno_ret(errno);
        }
        if !args.is_empty() {
            b = b.args(args);
        }
        syscalls.push(b.build().map_err(|e| bad(e.to_string()))?);
    }

    let mut b = LinuxSeccompBuilder::default()
        .default_action(profile.default_action)
        .syscalls(syscalls);
    if let Some(errno) = profile.default_errno_ret {
        b = b.default_errno_ret(errno);
    }
    if !arches.is_empty() {
        b = b.architectures(arches);
    }
    if let Some(flags) = &profile.flags {
        if !flags.is_empty() {
            b = b.flags(flags.clone());
        }
    }
    if let Some(path) = &profile.listener_path {
        b = b.listener_path(path);
    }
    if let Some(meta) = &profile.listener_metadata {
        b = b.listener_metadata(meta);
    }
    b.build().map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::spec::caps::capability_set;

    /// The action the filter takes for `name` called with `args` (first matching rule, like
    /// libseccomp's "most specific rule" is close enough for these plain rules).
    pub(crate) fn action_for(
        sec: &LinuxSeccomp,
        name: &str,
        arg0: Option<u64>,
    ) -> LinuxSeccompAction {
        for call in sec.syscalls().iter().flatten() {
            if !call.names().iter().any(|n| n == name) {
                continue;
            }
            let ok = call.args().iter().flatten().all(|a| match (a.op(), arg0) {
                (LinuxSeccompOperator::ScmpCmpEq, Some(v)) => a.index() == 0 && v == a.value(),
                (LinuxSeccompOperator::ScmpCmpNe, Some(v)) => a.index() == 0 && v != a.value(),
                (LinuxSeccompOperator::ScmpCmpMaskedEq, Some(v)) => v & a.value() == 0,
                _ => false,
            });
            if ok {
                return call.action();
            }
        }
        sec.default_action()
    }

    fn x86_target() -> Target {
        Target {
            go_arch: "amd64",
            native: Some(Arch::ScmpArchX86_64),
            kernel: (6, 1),
        }
    }

    #[test]
    fn spec_seccomp_default_profile_blocks_and_allows() {
        let caps = capability_set(&[], &[], false).unwrap();
        let sec = translate(&default_profile().unwrap(), &caps, &x86_target()).unwrap();
        assert_eq!(sec.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(sec.default_errno_ret(), Some(1));
        assert_eq!(
            sec.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
        );
        let allow = LinuxSeccompAction::ScmpActAllow;
        for name in ["read", "write", "execve", "arch_prctl", "chroot", "ptrace"] {
            assert_eq!(action_for(&sec, name, None), allow, "{name}");
        }
        for name in [
            "unshare", "mount", "keyctl", "setns", "reboot", "bpf", "iopl",
        ] {
            assert_ne!(action_for(&sec, name, None), allow, "{name}");
        }
        // clone without namespace flags is allowed, with CLONE_NEWNS it is not.
        assert_eq!(action_for(&sec, "clone", Some(0x11)), allow);
        assert_ne!(action_for(&sec, "clone", Some(0x20000)), allow);
        // clone3 gets ENOSYS so libc falls back to clone.
        let clone3 = sec
            .syscalls()
            .iter()
            .flatten()
            .find(|c| c.names().iter().any(|n| n == "clone3"))
            .unwrap();
        assert_eq!(clone3.errno_ret(), Some(38));
        // s390 and arm rules are left out on amd64.
        assert!(!sec.syscalls().iter().flatten().any(|c| c
            .names()
            .iter()
            .any(|n| n == "s390_runtime_instr" || n == "set_tls")));
    }

    #[test]
    fn spec_seccomp_caps_widen_the_profile() {
        let caps = capability_set(&["SYS_ADMIN".into()], &[], false).unwrap();
        let sec = translate(&default_profile().unwrap(), &caps, &x86_target()).unwrap();
        let allow = LinuxSeccompAction::ScmpActAllow;
        assert_eq!(action_for(&sec, "mount", None), allow);
        assert_eq!(action_for(&sec, "unshare", None), allow);
        assert_eq!(action_for(&sec, "clone", Some(0x20000)), allow);
        assert!(!sec
            .syscalls()
            .iter()
            .flatten()
            .any(|c| c.names().iter().any(|n| n == "clone3") && c.errno_ret() == Some(38)));
    }

    #[test]
    fn spec_seccomp_min_kernel() {
        let caps = capability_set(&[], &[], false).unwrap();
        let old = Target {
            kernel: (4, 4),
            ..x86_target()
        };
        let sec = translate(&default_profile().unwrap(), &caps, &old).unwrap();
        assert_ne!(
            action_for(&sec, "ptrace", None),
            LinuxSeccompAction::ScmpActAllow
        );
    }

    #[test]
    fn spec_seccomp_user_profile_from_json() {
        let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{"name":"mkdir","action":"SCMP_ACT_ERRNO","args":null},
                        {"names":["chmod"],"action":"SCMP_ACT_ERRNO","errnoRet":13,
                         "includes":{"caps":["CAP_CHOWN"]}}]}"#;
        let profile = parse_user_profile(json).unwrap();
        let caps = capability_set(&[], &["CHOWN".into()], false).unwrap();
        let sec = translate(&profile, &caps, &x86_target()).unwrap();
        assert_eq!(sec.syscalls().as_ref().unwrap().len(), 1);
        assert_eq!(
            action_for(&sec, "mkdir", None),
            LinuxSeccompAction::ScmpActErrno
        );
        assert_eq!(
            action_for(&sec, "chmod", None),
            LinuxSeccompAction::ScmpActAllow
        );

        let err = parse_user_profile(r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).unwrap_err();
        assert!(err.is_invalid_argument());
        assert!(err
            .to_string()
            .starts_with("invalid --security-opt seccomp="));
        let err = parse_user_profile("/nonexistent/profile.json").unwrap_err();
        assert!(err.is_invalid_argument());
    }
}
