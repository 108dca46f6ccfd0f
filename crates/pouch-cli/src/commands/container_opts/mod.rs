//! The flag set `create` and `run` share, with docker's names, and its translation into the
//! `POST /containers/create` body ([`ContainerOpts::build`]). Values that need parsing are
//! kept as text by clap and parsed here so errors read like docker's
//! (`invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'`) and end the
//! command with status 125. Single-value parsers live in [`parse`], [`kv`] (env and label
//! files) and [`ports`]; volumes, security options and namespace modes in `host`; `--mount`
//! and the disk quota flags in [`mounts`]; `--network` and the endpoint flags in [`network`].

mod host;
pub mod kv;
pub mod mounts;
pub mod network;
pub mod parse;
pub mod ports;

use std::collections::BTreeMap;
use std::path::PathBuf;

use pouch_api::container::{
    ContainerConfig, ContainerCreateBody, HostConfig, LogConfig, NetworkingConfig, Resources,
};

use kv::KvFileError;

/// Why the flags do not make a create body.
#[derive(Debug, thiserror::Error)]
pub enum OptsError {
    /// A flag value was refused (docker's pflag wording).
    #[error("invalid argument \"{value}\" for \"{flag}\" flag: {reason}")]
    Flag {
        value: String,
        flag: &'static str,
        reason: String,
    },
    /// The flags contradict each other or name something unusable.
    #[error("{0}")]
    Invalid(String),
    /// An `--env-file` or `--label-file` could not be read.
    #[error(transparent)]
    File(#[from] KvFileError),
}

fn flag_err(flag: &'static str, value: &str) -> impl FnOnce(String) -> OptsError {
    let value = value.to_string();
    move |reason| OptsError::Flag {
        value,
        flag,
        reason,
    }
}

/// Parses every value of a repeated flag.
fn each<T>(
    values: &[String],
    flag: &'static str,
    f: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, OptsError> {
    values
        .iter()
        .map(|v| f(v).map_err(flag_err(flag, v)))
        .collect()
}

/// Parses an optional size flag.
fn size(value: &Option<String>, flag: &'static str) -> Result<i64, OptsError> {
    match value {
        Some(v) => parse::ram_in_bytes(v).map_err(flag_err(flag, v)),
        None => Ok(0),
    }
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// The flags of `pouch create` and `pouch run` (`docker run --help`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ContainerOpts {
    /// Print usage
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,

    // Naming and lifecycle.
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long)]
    pub rm: bool,
    /// Restart policy to apply when a container exits (no, always, on-failure[:max-retries], unless-stopped)
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Signal to stop the container
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long, allow_negative_numbers = true)]
    pub stop_timeout: Option<i64>,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Suppress the pull output
    #[arg(short, long)]
    pub quiet: bool,

    // Streams.
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short, long)]
    pub attach: Vec<String>,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    pub detach_keys: Option<String>,

    // Process.
    /// Set environment variables
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long)]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Add additional groups to join
    #[arg(long)]
    pub group_add: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,

    // Metadata.
    /// Set meta data on a container
    #[arg(short, long)]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long)]
    pub label_file: Vec<PathBuf>,
    /// Add an annotation to the container (passed through to the OCI runtime)
    #[arg(long)]
    pub annotation: Vec<String>,

    // Identity and namespaces.
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Container NIS domain name
    #[arg(long)]
    pub domainname: Option<String>,
    /// PID namespace to use
    #[arg(long)]
    pub pid: Option<String>,
    /// IPC mode to use
    #[arg(long)]
    pub ipc: Option<String>,
    /// UTS namespace to use
    #[arg(long)]
    pub uts: Option<String>,
    /// Cgroup namespace to use (host|private)
    #[arg(long)]
    pub cgroupns: Option<String>,
    /// Connect a container to a network (NAME, or name=NAME,alias=A,ip=IP,mac-address=MAC)
    #[arg(long, visible_alias = "net")]
    pub network: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long, alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long)]
    pub ip6: Option<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long)]
    pub mac_address: Option<String>,
    /// Add link to another container
    #[arg(long)]
    pub link: Vec<String>,
    /// Do not generate /etc/hostname, /etc/hosts and /etc/resolv.conf for the container
    #[arg(long)]
    pub disable_network_files: bool,
    /// Publish a container's port(s) to the host
    #[arg(short, long)]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long)]
    pub expose: Vec<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long)]
    pub dns_search: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long)]
    pub add_host: Vec<String>,

    // Security.
    /// Runtime to use for this container
    #[arg(long)]
    pub runtime: Option<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Add Linux capabilities
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Security Options
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,

    // Storage.
    /// Bind mount a volume
    #[arg(short, long)]
    pub volume: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long)]
    pub volumes_from: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Disk quota: SIZE (root filesystem) or PATH=SIZE (volume at PATH; PATH may be .*)
    #[arg(long)]
    pub disk_quota: Vec<String>,
    /// Project quota id of the container's disk quota (-1 allocates one)
    #[arg(long, allow_negative_numbers = true)]
    pub quota_id: Option<String>,
    /// Size of /dev/shm
    #[arg(long)]
    pub shm_size: Option<String>,

    // Pouch.
    /// Rich container: an init runs as PID 1 and the environment goes to /etc/profile.d
    #[arg(long)]
    pub rich: bool,
    /// The rich container's init: dumb-init, sbin-init or systemd (needs --rich)
    #[arg(long, value_name = "MODE")]
    pub rich_mode: Option<String>,
    /// Command run inside a rich container before its main process, on every start
    #[arg(long, value_name = "COMMAND")]
    pub initscript: Option<String>,
    /// Show the container its own limits in /proc through lxcfs (pouchd needs --enable-lxcfs)
    #[arg(long = "enableLxcfs", alias = "enable-lxcfs")]
    pub enable_lxcfs: bool,
    /// The container's id: 64 lower-case hex digits
    #[arg(long, value_name = "ID")]
    pub specific_id: Option<String>,

    // Devices and kernel.
    /// Add a host device to the container
    #[arg(long)]
    pub device: Vec<String>,
    /// Add a rule to the cgroup allowed devices list
    #[arg(long)]
    pub device_cgroup_rule: Vec<String>,
    /// Ulimit options
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Sysctl options
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long, allow_negative_numbers = true)]
    pub oom_score_adj: Option<i64>,
    /// Disable OOM Killer
    #[arg(long)]
    pub oom_kill_disable: bool,

    // Resources.
    /// Memory limit
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Kernel memory limit
    #[arg(long)]
    pub kernel_memory: Option<String>,
    /// Tune container memory swappiness (0 to 100)
    #[arg(long, allow_negative_numbers = true)]
    pub memory_swappiness: Option<i64>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long)]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Block IO weight (relative device weight)
    #[arg(long)]
    pub blkio_weight_device: Vec<String>,
    /// Limit read rate (bytes per second) from a device
    #[arg(long)]
    pub device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long)]
    pub device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device
    #[arg(long)]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device
    #[arg(long)]
    pub device_write_iops: Vec<String>,
    /// Optional parent cgroup for the container
    #[arg(long)]
    pub cgroup_parent: Option<String>,

    // Logging.
    /// Logging driver for the container
    #[arg(long)]
    pub log_driver: Option<String>,
    /// Log driver options
    #[arg(long)]
    pub log_opt: Vec<String>,
}

/// What `create` sends: the optional `?name=` and the body.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub name: Option<String>,
    pub body: ContainerCreateBody,
}

/// The process environment, looked up for bare `-e KEY` and env-file lines.
pub fn host_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

impl ContainerOpts {
    /// The create request for `args` (`IMAGE [COMMAND] [ARG...]`). `lookup` reads the caller's
    /// environment; `console` is the terminal size (rows, columns) given to a tty container.
    pub fn build(
        &self,
        args: &[String],
        lookup: &dyn Fn(&str) -> Option<String>,
        console: Option<(u16, u16)>,
    ) -> Result<CreateRequest, OptsError> {
        let (image, command) = args
            .split_first()
            .ok_or_else(|| OptsError::Invalid("requires at least 1 argument".into()))?;

        // Streams (docker's parse(): -i implies stdin; no -a means stdout and stderr).
        let attach = each(&self.attach, "-a, --attach", parse::validate_attach)?;
        let attach_stdin = self.interactive || attach.iter().any(|a| a == "stdin");
        let (attach_stdout, attach_stderr) = if attach.is_empty() {
            (true, true)
        } else {
            (
                attach.iter().any(|a| a == "stdout"),
                attach.iter().any(|a| a == "stderr"),
            )
        };
        if let Some(keys) = &self.detach_keys {
            parse::detach_keys_to_bytes(keys).map_err(flag_err("--detach-keys", keys))?;
        }

        // Environment: files first, then -e, as docker's ReadKVEnvStrings.
        let mut env = Vec::new();
        for file in &self.env_file {
            env.extend(kv::parse_kv_file(file, lookup)?);
        }
        env.extend(each(&self.env, "-e, --env", |v| {
            kv::validate_env(v, lookup)
        })?);

        let mut labels = Vec::new();
        for file in &self.label_file {
            labels.extend(kv::parse_kv_file(file, &|_| None)?);
        }
        labels.extend(each(&self.label, "-l, --label", kv::validate_label)?);

        // Ports.
        let mut exposed: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        let mut bindings: pouch_api::container::PortMap = BTreeMap::new();
        for spec in &self.publish {
            let spec = ports::standard_notation(spec).map_err(OptsError::Invalid)?;
            for m in ports::parse_port_spec(&spec).map_err(OptsError::Invalid)? {
                exposed.insert(m.port.clone(), serde_json::json!({}));
                bindings
                    .entry(m.port)
                    .or_insert_with(|| Some(Vec::new()))
                    .get_or_insert_with(Vec::new)
                    .push(m.binding);
            }
        }
        for spec in &self.expose {
            for port in ports::parse_expose(spec).map_err(OptsError::Invalid)? {
                exposed.insert(port, serde_json::json!({}));
            }
        }

        // Volumes: `SRC:DST[:MODE]` are binds, a bare `DST` is an anonymous volume.
        let (binds, volumes) = host::split_volumes(&self.volume)?;
        let mounts = each(&self.mount, "--mount", mounts::parse_mount)?;
        let disk_quota =
            mounts::parse_disk_quota(&self.disk_quota).map_err(|(value, reason)| {
                OptsError::Flag {
                    value,
                    flag: "--disk-quota",
                    reason,
                }
            })?;
        let quota_id = match &self.quota_id {
            Some(id) => mounts::validate_quota_id(id).map_err(flag_err("--quota-id", id))?,
            None => String::new(),
        };

        // Networks: the mode is the first --network; endpoint flags go to its endpoint.
        let links = each(&self.link, "--link", network::validate_link)?;
        let (network_mode, endpoints) = network::network_config(&network::NetworkFlags {
            networks: &self.network,
            aliases: &self.network_alias,
            links: &links,
            ip: self.ip.as_deref(),
            ip6: self.ip6.as_deref(),
            mac: self.mac_address.as_deref(),
        })?;

        let entrypoint = match self.entrypoint.as_deref() {
            Some("") => Some(vec![String::new()]),
            Some(e) => Some(vec![e.to_string()]),
            None => None,
        };

        let config = ContainerConfig {
            hostname: self.hostname.clone().unwrap_or_default(),
            domainname: self.domainname.clone().unwrap_or_default(),
            user: self.user.clone().unwrap_or_default(),
            attach_stdin,
            attach_stdout,
            attach_stderr,
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            tty: self.tty,
            open_stdin: self.interactive,
            // "When allocating stdin in attached mode, close stdin at client disconnect."
            stdin_once: self.interactive && attach_stdin,
            env: non_empty(env),
            cmd: (!command.is_empty()).then(|| command.to_vec()),
            image: image.clone(),
            volumes: (!volumes.is_empty()).then_some(volumes),
            working_dir: self.workdir.clone().unwrap_or_default(),
            entrypoint,
            labels: kv::kv_map(&labels),
            stop_signal: self.stop_signal.clone().unwrap_or_default(),
            stop_timeout: self.stop_timeout,
            disk_quota,
            quota_id,
            disable_network_files: self.disable_network_files,
            rich: self.rich,
            rich_mode: self.rich_mode.clone().unwrap_or_default(),
            init_script: self.initscript.clone().unwrap_or_default(),
            specific_id: self.specific_id.clone().unwrap_or_default(),
            ..Default::default()
        };

        let host_config = HostConfig {
            binds: non_empty(binds),
            log_config: self.log_config()?,
            network_mode,
            port_bindings: bindings,
            restart_policy: parse::parse_restart_policy(&self.restart)
                .map_err(flag_err("--restart", &self.restart))?,
            auto_remove: self.rm,
            volumes_from: non_empty(self.volumes_from.clone()),
            console_size: match console {
                Some((rows, cols)) if self.tty => [u64::from(rows), u64::from(cols)],
                _ => [0, 0],
            },
            annotations: kv::kv_map(&self.annotation),
            cap_add: non_empty(self.cap_add.clone()),
            cap_drop: non_empty(self.cap_drop.clone()),
            cgroupns_mode: self.cgroupns.clone().unwrap_or_default(),
            // docker sends `[]` for these three when they are not given
            dns: Some(each(&self.dns, "--dns", parse::validate_ip)?),
            dns_options: Some(self.dns_option.clone()),
            dns_search: Some(each(
                &self.dns_search,
                "--dns-search",
                parse::validate_dns_search,
            )?),
            extra_hosts: non_empty(each(
                &self.add_host,
                "--add-host",
                parse::validate_extra_host,
            )?),
            group_add: non_empty(self.group_add.clone()),
            links: non_empty(links),
            ipc_mode: host::checked_mode(&self.ipc, "--ipc: invalid IPC mode", |m| {
                matches!(m, "" | "host" | "private" | "shareable" | "none")
                    || host::container_mode(m)
            })?,
            oom_score_adj: self.oom_score_adj.unwrap_or(0),
            pid_mode: host::checked_mode(&self.pid, "--pid: invalid PID mode", |m| {
                matches!(m, "" | "host") || host::container_mode(m)
            })?,
            privileged: self.privileged,
            publish_all_ports: self.publish_all,
            readonly_rootfs: self.read_only,
            security_opt: non_empty(host::security_opts(&self.security_opt)?),
            tmpfs: self
                .tmpfs
                .iter()
                .map(|t| match t.split_once(':') {
                    Some((path, opts)) => (path.to_string(), opts.to_string()),
                    None => (t.clone(), String::new()),
                })
                .collect(),
            uts_mode: host::checked_mode(&self.uts, "--uts: invalid UTS mode", |m| {
                matches!(m, "" | "host")
            })?,
            shm_size: size(&self.shm_size, "--shm-size")?,
            sysctls: each(&self.sysctl, "--sysctl", parse::validate_sysctl)?
                .into_iter()
                .collect(),
            runtime: self.runtime.clone().unwrap_or_default(),
            resources: self.resources()?,
            mounts: non_empty(mounts),
            enable_lxcfs: self.enable_lxcfs,
            ..Default::default()
        };

        Ok(CreateRequest {
            name: self.name.clone(),
            body: ContainerCreateBody {
                config,
                host_config: Some(host_config),
                networking_config: Some(NetworkingConfig {
                    endpoints_config: endpoints,
                }),
            },
        })
    }

    fn log_config(&self) -> Result<LogConfig, OptsError> {
        let driver = self.log_driver.clone().unwrap_or_default();
        if driver == "none" && !self.log_opt.is_empty() {
            return Err(OptsError::Invalid(format!(
                "invalid logging opts for driver {driver}"
            )));
        }
        Ok(LogConfig {
            kind: driver,
            config: kv::kv_map(&self.log_opt),
        })
    }

    fn resources(&self) -> Result<Resources, OptsError> {
        let memory_swap = match &self.memory_swap {
            Some(v) => parse::mem_swap_bytes(v).map_err(flag_err("--memory-swap", v))?,
            None => 0,
        };
        let nano_cpus = match &self.cpus {
            Some(v) => parse::parse_cpus(v).map_err(flag_err("--cpus", v))?,
            None => 0,
        };
        Ok(Resources {
            cpu_shares: self.cpu_shares.unwrap_or(0),
            memory: size(&self.memory, "-m, --memory")?,
            nano_cpus,
            cgroup_parent: self.cgroup_parent.clone().unwrap_or_default(),
            blkio_weight: i64::from(self.blkio_weight.unwrap_or(0)),
            blkio_weight_device: each(
                &self.blkio_weight_device,
                "--blkio-weight-device",
                parse::parse_weight_device,
            )?,
            blkio_device_read_bps: each(
                &self.device_read_bps,
                "--device-read-bps",
                parse::parse_throttle_bps,
            )?,
            blkio_device_write_bps: each(
                &self.device_write_bps,
                "--device-write-bps",
                parse::parse_throttle_bps,
            )?,
            blkio_device_read_iops: each(
                &self.device_read_iops,
                "--device-read-iops",
                parse::parse_throttle_iops,
            )?,
            blkio_device_write_iops: each(
                &self.device_write_iops,
                "--device-write-iops",
                parse::parse_throttle_iops,
            )?,
            cpu_period: self.cpu_period.unwrap_or(0),
            cpu_quota: self.cpu_quota.unwrap_or(0),
            cpuset_cpus: self.cpuset_cpus.clone().unwrap_or_default(),
            cpuset_mems: self.cpuset_mems.clone().unwrap_or_default(),
            devices: each(&self.device, "--device", parse::parse_device)?,
            device_cgroup_rules: non_empty(self.device_cgroup_rule.clone()),
            kernel_memory: size(&self.kernel_memory, "--kernel-memory")?,
            memory_reservation: size(&self.memory_reservation, "--memory-reservation")?,
            memory_swap,
            memory_swappiness: self.memory_swappiness.filter(|s| *s != -1),
            oom_kill_disable: Some(self.oom_kill_disable),
            init: self.init.then_some(true),
            pids_limit: self.pids_limit,
            ulimits: dedup_ulimits(each(&self.ulimit, "--ulimit", parse::parse_ulimit)?),
            ..Default::default()
        })
    }
}

/// A later `--ulimit` of the same name replaces the earlier one.
fn dedup_ulimits(list: Vec<pouch_api::container::Ulimit>) -> Vec<pouch_api::container::Ulimit> {
    let mut out: Vec<pouch_api::container::Ulimit> = Vec::new();
    for u in list {
        match out.iter_mut().find(|o| o.name == u.name) {
            Some(o) => *o = u,
            None => out.push(u),
        }
    }
    out
}

#[cfg(test)]
mod tests;
