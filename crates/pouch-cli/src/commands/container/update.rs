//! `pouch update [resource flags] [--restart POLICY] [-e ENV] [-l LABEL] CONTAINER...`:
//! changes the cgroup resources, restart policy, environment and labels of containers, printing each name updated, then the
//! daemon's warnings; failures are reported after all names. Sizes, CPU counts and restart
//! policies go through the shared parsers of `container_opts::parse` (docker's rules).

use pouch_api::container::{ContainerUpdate, Resources};
use pouch_client::Client;

use super::describe;
use crate::commands::container_opts::parse::{
    mem_swap_bytes, parse_cpus, parse_restart_policy, ram_in_bytes,
};

/// A flag value that does not parse, in docker's words (`invalid argument "x" for "-m,
/// --memory" flag: invalid size: 'x'`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid argument \"{value}\" for \"{flag}\" flag: {reason}")]
pub struct UpdateError {
    pub value: String,
    pub flag: &'static str,
    pub reason: String,
}

/// Parses `value` of `flag` with `parse`.
fn parse_flag<T>(
    value: Option<&str>,
    flag: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, UpdateError> {
    value
        .map(|v| {
            parse(v).map_err(|reason| UpdateError {
                value: v.to_string(),
                flag,
                reason,
            })
        })
        .transpose()
}

#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long)]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU real-time period in microseconds
    #[arg(long)]
    pub cpu_rt_period: Option<i64>,
    /// Limit the CPU real-time runtime in microseconds
    #[arg(long)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Kernel memory limit (deprecated)
    #[arg(long)]
    pub kernel_memory: Option<String>,
    /// Memory limit
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    /// Set disk quota for the rootfs or a volume mount point (10g, /data=5g, .*=1g)
    #[arg(long)]
    pub disk_quota: Vec<String>,
    /// Set an environment variable (A=1), set it empty (A=) or remove it (A)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Set a label (k=v) or remove it (k)
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Containers to update
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// The update body for the flags given; `None` when no flag was given.
pub fn build(args: &UpdateArgs) -> Result<Option<ContainerUpdate>, UpdateError> {
    let given = args.blkio_weight.is_some()
        || args.cpu_period.is_some()
        || args.cpu_quota.is_some()
        || args.cpu_rt_period.is_some()
        || args.cpu_rt_runtime.is_some()
        || args.cpu_shares.is_some()
        || args.cpus.is_some()
        || args.cpuset_cpus.is_some()
        || args.cpuset_mems.is_some()
        || args.kernel_memory.is_some()
        || args.memory.is_some()
        || args.memory_reservation.is_some()
        || args.memory_swap.is_some()
        || args.pids_limit.is_some()
        || args.restart.is_some()
        || !args.disk_quota.is_empty()
        || !args.env.is_empty()
        || !args.label.is_empty();
    if !given {
        return Ok(None);
    }
    let size = |v: &Option<String>, flag| parse_flag(v.as_deref(), flag, ram_in_bytes);
    let resources = Resources {
        blkio_weight: args.blkio_weight.map_or(0, i64::from),
        cpu_period: args.cpu_period.unwrap_or(0),
        cpu_quota: args.cpu_quota.unwrap_or(0),
        cpu_realtime_period: args.cpu_rt_period.unwrap_or(0),
        cpu_realtime_runtime: args.cpu_rt_runtime.unwrap_or(0),
        cpu_shares: args.cpu_shares.unwrap_or(0),
        nano_cpus: parse_flag(args.cpus.as_deref(), "--cpus", parse_cpus)?.unwrap_or(0),
        cpuset_cpus: args.cpuset_cpus.clone().unwrap_or_default(),
        cpuset_mems: args.cpuset_mems.clone().unwrap_or_default(),
        kernel_memory: size(&args.kernel_memory, "--kernel-memory")?.unwrap_or(0),
        memory: size(&args.memory, "-m, --memory")?.unwrap_or(0),
        memory_reservation: size(&args.memory_reservation, "--memory-reservation")?.unwrap_or(0),
        memory_swap: parse_flag(args.memory_swap.as_deref(), "--memory-swap", mem_swap_bytes)?
            .unwrap_or(0),
        pids_limit: args.pids_limit,
        ..Default::default()
    };
    let restart_policy = match args.restart.as_deref() {
        Some(p) if !p.is_empty() => parse_flag(Some(p), "--restart", parse_restart_policy)?,
        _ => None,
    };
    let disk_quota = crate::commands::container_opts::mounts::parse_disk_quota(&args.disk_quota)
        .map_err(|(value, reason)| UpdateError {
            value,
            flag: "--disk-quota",
            reason,
        })?;
    Ok(Some(ContainerUpdate {
        resources,
        restart_policy,
        disk_quota,
        env: (!args.env.is_empty()).then(|| args.env.clone()),
        labels: (!args.label.is_empty()).then(|| args.label.clone()),
    }))
}

pub async fn run(client: &Client, args: UpdateArgs) -> anyhow::Result<()> {
    let Some(update) = build(&args)? else {
        anyhow::bail!("you must provide one or more flags when using this command");
    };
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for name in &args.containers {
        match client.container_update(name, &update).await {
            Ok(r) => {
                println!("{name}");
                warnings.extend(r.warnings);
            }
            Err(e) if !e.is_daemon_error() => return Err(e.into()),
            Err(e) => errors.push(describe(&e)),
        }
    }
    if !warnings.is_empty() {
        println!("{}", warnings.join("\n"));
    }
    super::finish(errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        update: UpdateArgs,
    }

    #[test]
    fn bad_values_name_the_flag() {
        let cli = Cli::try_parse_from(["update", "-m", "ten", "web"]).unwrap();
        assert_eq!(
            build(&cli.update).unwrap_err().to_string(),
            "invalid argument \"ten\" for \"-m, --memory\" flag: invalid size: 'ten'"
        );
        let cli = Cli::try_parse_from(["update", "--cpus", "0.0000000001", "web"]).unwrap();
        assert_eq!(build(&cli.update).unwrap_err().flag, "--cpus");
        let cli = Cli::try_parse_from(["update", "--restart", ":3", "web"]).unwrap();
        assert_eq!(build(&cli.update).unwrap_err().flag, "--restart");
    }

    #[test]
    fn body_from_flags() {
        let cli = Cli::try_parse_from([
            "update",
            "-m",
            "256m",
            "--memory-swap",
            "-1",
            "--cpus",
            "0.5",
            "--pids-limit",
            "-1",
            "--restart",
            "unless-stopped",
            "web",
            "db",
        ])
        .unwrap();
        let u = build(&cli.update).unwrap().unwrap();
        assert_eq!(u.resources.memory, 256 * 1024 * 1024);
        assert_eq!(u.resources.memory_swap, -1);
        assert_eq!(u.resources.nano_cpus, 500_000_000);
        assert_eq!(u.resources.pids_limit, Some(-1));
        assert_eq!(u.restart_policy.unwrap().name, "unless-stopped");
        assert_eq!(cli.update.containers, ["web", "db"]);
        let body = serde_json::to_value(build(&cli.update).unwrap().unwrap()).unwrap();
        assert_eq!(body["Memory"], 268_435_456);
        assert_eq!(body["NanoCpus"], 500_000_000);
        assert_eq!(body["RestartPolicy"]["Name"], "unless-stopped");

        let cli = Cli::try_parse_from(["update", "web"]).unwrap();
        assert!(build(&cli.update).unwrap().is_none());
    }
}
