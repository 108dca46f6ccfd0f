//! The container management commands (`stop`, `kill`, `restart`, `pause`, `unpause`, `rm`,
//! `ps`, `logs`, `wait`, `top`, `rename`, `port`, `stats`, `events`, `cp`, `export`,
//! `update`), one file each, and the dispatch from [`ContainerCommands`]. `prune` lives in
//! [`prune`] and is reached only as `pouch container prune` (see [`ContainerOnlyCommands`]).

pub mod cp;
pub mod events;
pub mod export;
pub mod format;
pub mod kill;
pub mod logs;
pub mod pause;
pub mod port;
pub mod prune;
pub mod ps;
pub mod rename;
pub mod restart;
pub mod rm;
pub mod stats;
pub mod stop;
pub mod time;
pub mod top;
pub mod update;
pub mod wait;

use pouch_client::{Client, ClientError};

use super::{describe, Reported};

/// Container commands reachable at the top level (`pouch stop`) and under `pouch container`.
#[derive(Debug, clap::Subcommand)]
pub enum ContainerCommands {
    /// Stop one or more running containers
    Stop(stop::StopArgs),
    /// Kill one or more running containers
    Kill(kill::KillArgs),
    /// Restart one or more containers
    Restart(restart::RestartArgs),
    /// Pause all processes within one or more containers
    Pause(pause::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(pause::UnpauseArgs),
    /// Remove one or more containers
    Rm(rm::RmArgs),
    /// List containers
    Ps(ps::PsArgs),
    /// Fetch the logs of a container
    Logs(logs::LogsArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(wait::WaitArgs),
    /// Display the running processes of a container
    Top(top::TopArgs),
    /// Rename a container
    Rename(rename::RenameArgs),
    /// List port mappings or a specific mapping for the container
    Port(port::PortArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(stats::StatsArgs),
    /// Get real time events from the server
    Events(events::EventsArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(export::ExportArgs),
    /// Update configuration of one or more containers
    Update(Box<update::UpdateArgs>),
}

/// Commands that exist only under `pouch container` (docker has no top-level `prune`).
#[derive(Debug, clap::Subcommand)]
pub enum ContainerOnlyCommands {
    /// Remove all stopped containers
    Prune(prune::PruneArgs),
}

pub async fn run(client: &Client, cmd: ContainerCommands) -> anyhow::Result<()> {
    match cmd {
        ContainerCommands::Stop(a) => stop::run(client, a).await,
        ContainerCommands::Kill(a) => kill::run(client, a).await,
        ContainerCommands::Restart(a) => restart::run(client, a).await,
        ContainerCommands::Pause(a) => pause::run_pause(client, a).await,
        ContainerCommands::Unpause(a) => pause::run_unpause(client, a).await,
        ContainerCommands::Rm(a) => rm::run(client, a).await,
        ContainerCommands::Ps(a) => ps::run(client, a).await,
        ContainerCommands::Logs(a) => logs::run(client, a).await,
        ContainerCommands::Wait(a) => wait::run(client, a).await,
        ContainerCommands::Top(a) => top::run(client, a).await,
        ContainerCommands::Rename(a) => rename::run(client, a).await,
        ContainerCommands::Port(a) => port::run(client, a).await,
        ContainerCommands::Stats(a) => stats::run(client, a).await,
        ContainerCommands::Events(a) => events::run(client, a).await,
        ContainerCommands::Cp(a) => cp::run(client, a).await,
        ContainerCommands::Export(a) => export::run(client, a).await,
        ContainerCommands::Update(a) => update::run(client, *a).await,
    }
}

pub async fn run_only(client: &Client, cmd: ContainerOnlyCommands) -> anyhow::Result<()> {
    match cmd {
        ContainerOnlyCommands::Prune(a) => prune::run(client, a).await,
    }
}

/// Runs `op` on each name in order, printing the name on success (docker's output for
/// stop/kill/restart/pause/unpause/rm) and collecting `Error response from daemon: ...`
/// lines for the failures, which end the command with status 1 after all names are tried.
pub(crate) async fn for_each_name<'a, F, Fut>(names: &'a [String], mut op: F) -> anyhow::Result<()>
where
    F: FnMut(&'a str) -> Fut,
    Fut: std::future::Future<Output = Result<(), ClientError>>,
{
    let mut errors = Vec::new();
    for name in names {
        match op(name).await {
            Ok(()) => println!("{name}"),
            Err(e) if !e.is_daemon_error() => return Err(e.into()),
            Err(e) => errors.push(describe(&e)),
        }
    }
    finish(errors)
}

/// `Ok` when nothing failed, else the collected error lines as one [`Reported`] error.
pub(crate) fn finish(errors: Vec<String>) -> anyhow::Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Reported(errors.join("\n")).into())
    }
}

/// A closed output (`pouch logs web | head`) ends the command quietly, as SIGPIPE ends docker.
pub(crate) fn quiet_broken_pipe(result: anyhow::Result<()>) -> anyhow::Result<()> {
    match result {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}
