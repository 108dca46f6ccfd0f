//! The OCI runtime spec (`config.json`) of a container, built from its merged config, host
//! config and paths the way Docker's `daemon/oci_linux.go` builds it, the process of an exec,
//! and the checks of a create body that give the user a 400 naming the flag
//! (`invalid --cpuset-cpus 0-99: this host has cpus 0-1`).
//!
//! Files: `caps` (capabilities), `seccomp` (Docker-format profiles, default in
//! `profiles/default.json`), `user` (`--user` against the rootfs's passwd/group), `mounts`
//! (the list) and `user_mounts` (the resolved mounts, `--tmpfs`), `devices`, `resources`
//! and `cpu` (cgroups, also for `update`), `options` (namespace modes, `--security-opt`,
//! sysctls, ulimits), `host` (facts read from /proc and /sys) and `validate`.

mod caps;
mod cpu;
mod devices;
mod exec;
mod host;
mod mounts;
mod options;
mod resources;
mod rich;
mod seccomp;
mod user;
mod user_mounts;
mod validate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Box as ConsoleBox, BoxBuilder, Linux, LinuxNamespace, LinuxNamespaceType, Process, Root, Spec,
    User,
};
use pouch_api::container::{ContainerConfig, HostConfig, MountPoint};

pub use caps::DEFAULT_CAPS;
pub use exec::exec_process;
pub use mounts::{DEFAULT_SHM_SIZE, INIT_PATH, MASKED_PATHS, READONLY_PATHS};
pub use resources::{linux_resources, MIN_MEMORY};
pub use rich::{RichMode, SYSTEMD_STOP_SIGNAL};
pub use user::resolve_user;
pub use validate::validate;

use options::{Ipc, SeccompChoice};

/// `PATH` when the image and the user set none (Docker's `DefaultPathEnv`).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The container's network namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetNs {
    /// A new namespace (the engine configures it).
    New,
    /// The host's namespace.
    Host,
    /// A new namespace with only loopback (`--network none`).
    None,
    /// Join an existing namespace (a bind-mounted netns file or `/proc/<pid>/ns/net`).
    Path(PathBuf),
}

/// Everything `generate` needs.
pub struct SpecInput<'a> {
    pub id: &'a str,
    /// Already merged with the image config (Env, Cmd, Entrypoint, WorkingDir, User final).
    pub config: &'a ContainerConfig,
    pub host: &'a HostConfig,
    /// The container's resolved mounts (Docker's inspect `Mounts`): binds of host paths and
    /// volume data, tmpfs mounts. `HostConfig.Binds` and `Mounts` are not read again.
    pub mounts: &'a [MountPoint],
    /// The mounted rootfs: `root.path`, and where `/etc/passwd` and `/etc/group` are read.
    pub rootfs: &'a Path,
    pub hostname_file: &'a Path,
    pub hosts_file: &'a Path,
    pub resolv_file: &'a Path,
    /// With `--init` or a `dumb-init` rich container: the binary, bind-mounted read-only at
    /// [`INIT_PATH`].
    pub init_path: Option<&'a Path>,
    /// `/pouch/<id>` or `<cgroup-parent>/<id>`.
    pub cgroups_path: String,
    pub netns: NetNs,
}

/// Why a spec could not be built. Everything but `Io` and `Internal` is the user's (400).
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A create option has a bad value; the message names the flag.
    #[error("invalid {flag} {value}: {reason}")]
    InvalidOption {
        flag: String,
        value: String,
        reason: String,
    },
    #[error("unable to find user {user}: no matching entries in /etc/passwd")]
    UnknownUser { user: String },
    #[error("unable to find group {group}: no matching entries in /etc/group")]
    UnknownGroup { group: String },
    #[error("no command specified: give a command (Cmd or Entrypoint)")]
    NoCommand,
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Internal(String),
}

impl SpecError {
    /// `true` when the request is at fault (HTTP 400), `false` for host failures (500).
    pub fn is_invalid_argument(&self) -> bool {
        !matches!(self, SpecError::Io { .. } | SpecError::Internal(_))
    }

    pub(crate) fn invalid(flag: &str, value: &str, reason: impl Into<String>) -> SpecError {
        SpecError::InvalidOption {
            flag: flag.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// Docker's `ReplaceOrAppendEnvValues`: `KEY=v` replaces `KEY`, a bare `KEY` removes it.
fn merge_env(base: &mut Vec<String>, overrides: &[String]) {
    for o in overrides {
        let key = o.split_once('=').map_or(o.as_str(), |(k, _)| k);
        let pos = base
            .iter()
            .position(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key);
        match (pos, o.contains('=')) {
            (Some(i), true) => base[i] = o.clone(),
            (Some(i), false) => {
                base.remove(i);
            }
            (None, true) => base.push(o.clone()),
            (None, false) => {}
        }
    }
}

/// The container's environment: Docker's PATH, HOSTNAME and (with a tty) TERM, overridden by
/// the config's Env.
fn container_env(config: &ContainerConfig) -> Vec<String> {
    let mut full = config.hostname.clone();
    if !config.domainname.is_empty() {
        full = format!("{full}.{}", config.domainname);
    }
    let mut env = vec![format!("PATH={DEFAULT_PATH}"), format!("HOSTNAME={full}")];
    if config.tty {
        env.push("TERM=xterm".to_string());
    }
    merge_env(&mut env, config.env.as_deref().unwrap_or_default());
    env
}

/// Whether the container runs pouch-init as PID 1 (the engine then passes
/// [`SpecInput::init_path`]): `--init`, or a rich container in dumb-init mode.
pub fn wants_init(config: &ContainerConfig, host: &HostConfig) -> bool {
    match RichMode::of(config) {
        Ok(Some(mode)) => mode.uses_pouch_init(),
        _ => host.resources.init.unwrap_or(false),
    }
}

/// The environment of the container's process: [`container_env`] plus a rich container's
/// variables. Also what an update of the env writes into the spec for later execs.
pub fn process_env(config: &ContainerConfig) -> Result<Vec<String>, SpecError> {
    let mut env = container_env(config);
    if let Some(mode) = RichMode::of(config)? {
        merge_env(&mut env, &mode.env());
    }
    Ok(env)
}

fn working_dir(dir: &str) -> Result<PathBuf, SpecError> {
    if dir.is_empty() {
        return Ok(PathBuf::from("/"));
    }
    if !dir.starts_with('/') {
        return Err(SpecError::invalid(
            "--workdir",
            dir,
            "the working directory must be an absolute path",
        ));
    }
    Ok(PathBuf::from(dir))
}

fn console_size(tty: bool, size: [u64; 2]) -> Option<ConsoleBox> {
    if !tty || size == [0, 0] {
        return None;
    }
    BoxBuilder::default()
        .height(size[0])
        .width(size[1])
        .build()
        .ok()
}

fn oci_user(uid: u32, gid: u32, additional: Vec<u32>) -> User {
    let mut u = User::default();
    u.set_uid(uid).set_gid(gid);
    if !additional.is_empty() {
        u.set_additional_gids(Some(additional));
    }
    u
}

fn namespace(typ: LinuxNamespaceType, path: Option<PathBuf>) -> LinuxNamespace {
    let mut ns = LinuxNamespace::default();
    ns.set_typ(typ).set_path(path);
    ns
}

/// The container's `config.json`.
pub fn generate(input: &SpecInput) -> Result<Spec, SpecError> {
    let config = input.config;
    let host = input.host;
    let modes = options::modes(host)?;
    let security = options::security_opts(host)?;
    let net_host = input.netns == NetNs::Host;
    options::check_sysctls(&host.sysctls, modes.ipc == Ipc::Host, net_host)?;
    let rich = RichMode::of(config)?;
    let caps = caps::capability_set(
        host.cap_add.as_deref().unwrap_or_default(),
        host.cap_drop.as_deref().unwrap_or_default(),
        host.privileged,
    )?;

    // The process.
    let mut args: Vec<String> = config.entrypoint.iter().flatten().cloned().collect();
    args.extend(config.cmd.iter().flatten().cloned());
    if args.is_empty() {
        return Err(SpecError::NoCommand);
    }
    if let Some(mode) = rich {
        args = mode.args(input.rootfs, args)?;
    }
    let init = input
        .init_path
        .filter(|_| rich.is_none_or(RichMode::uses_pouch_init));
    if init.is_some() {
        args.splice(0..0, [INIT_PATH.to_string(), "--".to_string()]);
    }
    let env = process_env(config)?;
    let (uid, gid, additional) = user::resolve_user(
        input.rootfs,
        &config.user,
        host.group_add.as_deref().unwrap_or_default(),
    )?;
    let mut process = Process::default();
    process
        .set_terminal(Some(config.tty))
        .set_console_size(console_size(config.tty, host.console_size))
        .set_user(oci_user(uid, gid, additional))
        .set_args(Some(args))
        .set_env(Some(env))
        .set_cwd(working_dir(&config.working_dir)?)
        .set_capabilities(Some(caps.to_oci()))
        // Absent rather than `false` when off: runc reads both the same, but libcontainer
        // (pouch-runc) loads seccomp while still privileged only when the field is absent.
        .set_no_new_privileges(security.no_new_privileges.then_some(true))
        .set_oom_score_adj(Some(options::oom_score_adj(host.oom_score_adj)?));
    let rlimits = options::rlimits(&host.resources.ulimits)?;
    process.set_rlimits((!rlimits.is_empty()).then_some(rlimits));
    if host::apparmor_enabled() {
        match security.apparmor.as_deref() {
            None | Some("unconfined") | Some("") => {}
            Some(profile) => {
                process.set_apparmor_profile(Some(profile.to_string()));
            }
        }
    }

    // Namespaces.
    let mut namespaces = vec![namespace(LinuxNamespaceType::Mount, None)];
    match &input.netns {
        NetNs::Host => {}
        NetNs::New | NetNs::None => namespaces.push(namespace(LinuxNamespaceType::Network, None)),
        NetNs::Path(p) => namespaces.push(namespace(LinuxNamespaceType::Network, Some(p.clone()))),
    }
    if !modes.uts_host {
        namespaces.push(namespace(LinuxNamespaceType::Uts, None));
    }
    if !modes.pid_host {
        namespaces.push(namespace(LinuxNamespaceType::Pid, None));
    }
    if modes.ipc != Ipc::Host {
        namespaces.push(namespace(LinuxNamespaceType::Ipc, None));
    }
    if modes.cgroupns_private {
        namespaces.push(namespace(LinuxNamespaceType::Cgroup, None));
    }

    // Devices and their cgroup rules.
    let mut resources = linux_resources(&host.resources)?;
    let mut device_nodes = Vec::new();
    let mut rules;
    if host.privileged {
        device_nodes = devices::host_devices();
        rules = vec![devices::allow_all_rule()];
    } else {
        rules = devices::default_rules();
        for m in &host.resources.devices {
            for (node, rule) in devices::from_mapping(m)? {
                device_nodes.push(node);
                rules.push(rule);
            }
        }
        for r in host.resources.device_cgroup_rules.iter().flatten() {
            rules.push(devices::parse_cgroup_rule(r)?);
        }
    }
    resources.set_devices(Some(rules));

    // Seccomp.
    let seccomp = match (&security.seccomp, host.privileged) {
        (_, true) | (SeccompChoice::Unconfined, _) => None,
        (SeccompChoice::Default, false) if !host::seccomp_supported() => None,
        (SeccompChoice::Default, false) => Some(seccomp::default_profile()?),
        (SeccompChoice::Profile(v), false) => {
            if !host::seccomp_supported() {
                return Err(SpecError::invalid(
                    "--security-opt",
                    "seccomp",
                    "seccomp is not enabled in this kernel, a profile cannot be used",
                ));
            }
            Some(seccomp::parse_user_profile(v)?)
        }
    };
    let seccomp = seccomp
        .map(|p| seccomp::translate(&p, &caps, &seccomp::Target::host()))
        .transpose()?;

    let mut sysctl: HashMap<String, String> = host.sysctls.clone().into_iter().collect();
    if !modes.uts_host && !config.domainname.is_empty() {
        sysctl.insert("kernel.domainname".to_string(), config.domainname.clone());
    }
    let (masked, readonly) = mounts::masked_and_readonly(host, security.unmask_paths);
    let mounts = mounts::build(&mounts::MountInput {
        host,
        mounts: input.mounts,
        hostname_file: input.hostname_file,
        hosts_file: input.hosts_file,
        resolv_file: input.resolv_file,
        init_path: init,
        ipc: modes.ipc,
        privileged: host.privileged,
    })?;
    let propagation = rootfs_propagation(&mounts);

    let mut linux = Linux::default();
    linux
        .set_namespaces(Some(namespaces))
        .set_masked_paths(Some(masked))
        .set_readonly_paths(Some(readonly))
        .set_resources(Some(resources))
        .set_devices(Some(device_nodes))
        .set_seccomp(seccomp)
        .set_sysctl((!sysctl.is_empty()).then_some(sysctl))
        .set_cgroups_path(Some(PathBuf::from(&input.cgroups_path)))
        .set_rootfs_propagation(propagation);

    let mut root = Root::default();
    root.set_path(input.rootfs.to_path_buf())
        .set_readonly(Some(host.readonly_rootfs));

    let mut spec = Spec::default();
    spec.set_version("1.0.2-dev".to_string())
        .set_root(Some(root))
        .set_mounts(Some(mounts))
        .set_process(Some(process))
        .set_hostname(
            (!modes.uts_host && !config.hostname.is_empty()).then(|| config.hostname.clone()),
        )
        .set_domainname(
            (!modes.uts_host && !config.domainname.is_empty()).then(|| config.domainname.clone()),
        )
        .set_annotations(
            (!host.annotations.is_empty()).then(|| host.annotations.clone().into_iter().collect()),
        )
        .set_linux(Some(linux));
    if let Some(mode) = rich {
        mode.apply(&mut spec);
    }
    tracing::debug!(id = input.id, "generated the OCI spec");
    Ok(spec)
}

/// `rshared`/`rslave` when a mount asks for shared/slave propagation (its source must
/// propagate), else the runtime's default.
fn rootfs_propagation(mounts: &[oci_spec::runtime::Mount]) -> Option<String> {
    let opts: Vec<&String> = mounts
        .iter()
        .flat_map(|m| m.options().iter().flatten())
        .collect();
    if opts.iter().any(|o| *o == "shared" || *o == "rshared") {
        Some("rshared".to_string())
    } else if opts.iter().any(|o| *o == "slave" || *o == "rslave") {
        Some("rslave".to_string())
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
