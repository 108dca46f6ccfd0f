//! `pouch`: the command-line client of pouchd. This file holds the clap definitions, the
//! dispatch to `commands/` and the error reporting: `Error: ...`, or
//! `Error response from daemon: ...` for daemon errors, with exit status 1; a
//! [`commands::StatusError`] prints its message and exits with its status; a
//! [`commands::ExitStatus`] (a container's or exec's status) exits silently. Flag errors exit
//! with 125, as docker's.

mod commands;
mod credentials;
mod output;
mod progress;
mod template;
mod terminal;

use clap::{Parser, Subcommand};
use pouch_client::{Client, ClientError};

use commands::container::{ContainerCommands, ContainerOnlyCommands};
use commands::{
    attach, create, exec, history, image_prune, images, import, info, inspect, load, login, logout,
    pull, push, rmi, run as run_cmd, save, start, system_df, tag, updatedaemon, upgrade, version,
};

#[derive(Debug, Parser)]
#[command(
    name = "pouch",
    about = "An efficient container engine",
    disable_version_flag = true,
    arg_required_else_help = true
)]
struct Cli {
    /// Daemon socket to connect to (unix:///path, tcp://host:port or a path)
    #[arg(
        short = 'H',
        long,
        env = "POUCH_HOST",
        default_value = pouch_client::DEFAULT_HOST,
        global = true
    )]
    host: String,
    /// Enable debug output (requests sent to the daemon)
    #[arg(short = 'D', long, global = true)]
    debug: bool,
    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    print_version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Lifecycle(Box<Lifecycle>),
    #[command(flatten)]
    Containers(ContainerCommands),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Download an image from a registry
    Pull(pull::PullArgs),
    /// Upload an image to a registry
    Push(push::PushArgs),
    /// List images
    Images(images::ImagesArgs),
    /// Remove one or more images
    Rmi(rmi::RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(tag::TagArgs),
    /// Return low-level information on objects
    Inspect(inspect::InspectArgs),
    /// Show the history of an image
    History(history::HistoryArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(save::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(load::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(import::ImportArgs),
    /// Log in to a registry
    Login(login::LoginArgs),
    /// Log out from a registry
    Logout(logout::LogoutArgs),
    /// Upgrade a container to a new image, keeping its id, name, network and volumes
    #[command(
        override_usage = "pouch upgrade --image IMAGE [OPTIONS] CONTAINER [COMMAND] [ARG...]"
    )]
    Upgrade(upgrade::UpgradeArgs),
    /// Show the pouch version information
    Version(version::VersionArgs),
    /// Display system-wide information
    Info(info::InfoArgs),
    /// Change the running daemon's labels, registry mirrors, insecure registries and debug logging
    #[command(name = "updatedaemon")]
    UpdateDaemon(updatedaemon::UpdateDaemonArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(commands::network::NetworkCommand),
    /// Manage pouch
    #[command(subcommand)]
    System(SystemCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(commands::volume::VolumeCommand),
    /// Remount lxcfs's files in running containers (after lxcfs restarted)
    RemountLxcfs(commands::remount_lxcfs::RemountLxcfsArgs),
}

#[derive(Debug, Subcommand)]
enum ImageCommand {
    /// List images
    #[command(visible_alias = "list")]
    Ls(images::ImagesArgs),
    /// Display detailed information on one or more images
    Inspect(inspect::ImageInspectArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(rmi::RmiArgs),
    /// Download an image from a registry
    Pull(pull::PullArgs),
    /// Upload an image to a registry
    Push(push::PushArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(tag::TagArgs),
    /// Show the history of an image
    History(history::HistoryArgs),
    /// Save one or more images to a tar archive
    Save(save::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(load::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(import::ImportArgs),
    /// Remove unused images
    Prune(image_prune::PruneArgs),
}

/// The commands that create and run containers: top level and under `pouch container`.
#[derive(Debug, Subcommand)]
enum Lifecycle {
    /// Create and run a new container from an image
    #[command(
        disable_help_flag = true,
        override_usage = "pouch run [OPTIONS] IMAGE [COMMAND] [ARG...]"
    )]
    Run(run_cmd::RunArgs),
    /// Create a new container
    #[command(
        disable_help_flag = true,
        override_usage = "pouch create [OPTIONS] IMAGE [COMMAND] [ARG...]"
    )]
    Create(create::CreateArgs),
    /// Start one or more stopped containers
    Start(start::StartArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(attach::AttachArgs),
    /// Execute a command in a running container
    #[command(override_usage = "pouch exec [OPTIONS] CONTAINER COMMAND [ARG...]")]
    Exec(exec::ExecArgs),
}

#[derive(Debug, Subcommand)]
enum ContainerCommand {
    /// List containers
    #[command(visible_alias = "list")]
    Ls(commands::container::ps::PsArgs),
    #[command(flatten)]
    Lifecycle(Box<Lifecycle>),
    /// Display detailed information on one or more containers
    Inspect(inspect::ContainerInspectArgs),
    #[command(flatten)]
    Common(ContainerCommands),
    #[command(flatten)]
    Only(ContainerOnlyCommands),
}

#[derive(Debug, Subcommand)]
enum SystemCommand {
    /// Show pouch disk usage
    Df(system_df::DfArgs),
    /// Display system-wide information
    Info(info::InfoArgs),
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.print_version {
        println!("Pouch version {}", pouch_api::POUCH_VERSION);
        return Ok(());
    }
    let Some(command) = cli.command else {
        return Ok(());
    };
    let client = Client::new(&cli.host)?;
    let c = &client;
    match command {
        Command::Lifecycle(l) | Command::Container(ContainerCommand::Lifecycle(l)) => {
            run_lifecycle(c, *l).await
        }
        Command::Container(ContainerCommand::Inspect(a)) => inspect::run_container(c, a).await,
        Command::Container(ContainerCommand::Ls(a)) => {
            commands::container::run(c, ContainerCommands::Ps(a)).await
        }
        Command::Containers(cmd) | Command::Container(ContainerCommand::Common(cmd)) => {
            commands::container::run(c, cmd).await
        }
        Command::Container(ContainerCommand::Only(cmd)) => {
            commands::container::run_only(c, cmd).await
        }
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => pull::run(c, a).await,
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => push::run(c, a).await,
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => images::run(c, a).await,
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => rmi::run(c, a).await,
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => tag::run(c, a).await,
        Command::Inspect(a) => inspect::run(c, a).await,
        Command::Image(ImageCommand::Inspect(a)) => inspect::run_image(c, a).await,
        Command::History(a) | Command::Image(ImageCommand::History(a)) => history::run(c, a).await,
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => save::run(c, a).await,
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => load::run(c, a).await,
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => import::run(c, a).await,
        Command::Image(ImageCommand::Prune(a)) => image_prune::run(c, a).await,
        Command::Network(cmd) => commands::network::run(c, cmd).await,
        Command::Login(a) => login::run(c, a).await,
        Command::Logout(a) => logout::run(a),
        Command::Upgrade(a) => upgrade::run(c, a).await,
        Command::Version(a) => version::run(c, a).await,
        Command::Info(a) | Command::System(SystemCommand::Info(a)) => info::run(c, a).await,
        Command::System(SystemCommand::Df(a)) => system_df::run(c, a).await,
        Command::UpdateDaemon(a) => updatedaemon::run(c, a).await,
        Command::Volume(cmd) => commands::volume::run(c, cmd).await,
        Command::RemountLxcfs(a) => commands::remount_lxcfs::run(c, a).await,
    }
}

async fn run_lifecycle(c: &Client, command: Lifecycle) -> anyhow::Result<()> {
    match command {
        Lifecycle::Run(a) => run_cmd::run(c, a).await,
        Lifecycle::Create(a) => create::run(c, a).await,
        Lifecycle::Start(a) => start::run(c, a).await,
        Lifecycle::Attach(a) => attach::run(c, a).await,
        Lifecycle::Exec(a) => exec::run(c, a).await,
    }
}

/// Prints an error the way docker does and returns the exit status.
fn report(err: &anyhow::Error) -> i32 {
    if let Some(commands::ExitStatus(status)) = err.downcast_ref::<commands::ExitStatus>() {
        return *status;
    }
    if let Some(s) = err.downcast_ref::<commands::StatusError>() {
        if !s.message.is_empty() {
            eprintln!("{}", s.message);
        }
        return s.status;
    }
    if let Some(r) = err.downcast_ref::<commands::Reported>() {
        eprintln!("{}", r.0);
        return 1;
    }
    let api = err.downcast_ref::<ClientError>().or_else(|| {
        match err.downcast_ref::<progress::ProgressError>() {
            Some(progress::ProgressError::Client(c)) => Some(c),
            _ => None,
        }
    });
    if let Some(ClientError::Api { message, .. }) = api {
        eprintln!("Error response from daemon: {message}");
        return 1;
    }
    eprintln!("Error: {}", chain_text(err));
    1
}

/// The error and its causes, skipping causes whose text the message already contains.
pub(crate) fn chain_text(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text = format!("{text}: {c}");
        }
    }
    text
}

/// Tells `updatedaemon --debug` (the daemon's) from the global `-D` (the client's): clap
/// shares one value between them (see [`updatedaemon::untangle_debug`]).
fn untangle(cli: &mut Cli, argv: &[std::ffi::OsString]) {
    if let Some(Command::UpdateDaemon(a)) = &mut cli.command {
        updatedaemon::untangle_debug(&mut cli.debug, a, argv);
    }
}

/// Parses the command line; usage errors exit with 125 as docker's flag errors do (help and
/// version requests print and exit 0).
fn parse_cli() -> Cli {
    match Cli::try_parse() {
        Ok(mut cli) => {
            untangle(&mut cli, &std::env::args_os().collect::<Vec<_>>());
            cli
        }
        Err(e) => {
            let status = if e.use_stderr() { 125 } else { 0 };
            let _ = e.print();
            std::process::exit(status);
        }
    }
}

fn main() {
    let cli = parse_cli();
    terminal::install_panic_hook();
    if cli.debug {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(run(cli));
    runtime.shutdown_background();
    if let Err(err) = result {
        std::process::exit(report(&err));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn aliases_and_globals_parse() {
        let cli = Cli::try_parse_from(["pouch", "image", "list", "-a", "-H", "tcp://h:1"]).unwrap();
        assert_eq!(cli.host, "tcp://h:1");
        assert!(matches!(
            cli.command,
            Some(Command::Image(ImageCommand::Ls(_)))
        ));
        let cli = Cli::try_parse_from(["pouch", "-D", "rmi", "-f", "a", "b"]).unwrap();
        assert!(cli.debug);
        assert!(matches!(cli.command, Some(Command::Rmi(_))));
        assert!(Cli::try_parse_from(["pouch", "rmi"]).is_err());
    }

    #[test]
    fn run_takes_flags_before_the_image_only() {
        let cli = Cli::try_parse_from([
            "pouch", "run", "--rm", "-h", "box", "-e", "A=1", "busybox", "ls", "-l", "--rm",
        ])
        .unwrap();
        let Some(Command::Lifecycle(l)) = cli.command else {
            panic!("not a run command");
        };
        let Lifecycle::Run(a) = *l else {
            panic!("not a run command");
        };
        assert!(a.opts.rm && !a.detach && a.sig_proxy);
        assert_eq!(a.opts.hostname.as_deref(), Some("box"));
        assert_eq!(a.args, ["busybox", "ls", "-l", "--rm"]);
        let cli =
            Cli::try_parse_from(["pouch", "run", "--sig-proxy=false", "-d", "busybox"]).unwrap();
        let Some(Command::Lifecycle(l)) = cli.command else {
            panic!("not a run command");
        };
        let Lifecycle::Run(a) = *l else {
            panic!("not a run command");
        };
        assert!(a.detach && !a.sig_proxy);
        let err = Cli::try_parse_from(["pouch", "run", "--help"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(Cli::try_parse_from(["pouch", "run"]).is_err());
    }

    #[test]
    fn container_commands_at_both_levels() {
        for argv in [
            &["pouch", "container", "ls", "-a"][..],
            &["pouch", "container", "list"][..],
            &["pouch", "container", "ps"][..],
            &["pouch", "ps"][..],
            &["pouch", "stop", "web"][..],
            &["pouch", "container", "stop", "web"][..],
            &["pouch", "container", "prune", "-f"][..],
            &["pouch", "container", "inspect", "-s", "web"][..],
            &["pouch", "container", "run", "busybox"][..],
            &["pouch", "container", "exec", "-it", "web", "sh"][..],
            &["pouch", "start", "-ai", "web"][..],
            &["pouch", "attach", "--sig-proxy=false", "web"][..],
            &["pouch", "create", "--name", "x", "busybox", "true"][..],
        ] {
            Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        }
        assert!(Cli::try_parse_from(["pouch", "prune"]).is_err());
    }

    #[test]
    fn updatedaemon_debug_is_its_own_flag() {
        // the subcommand's --debug is the daemon's; the global -D stays the client's
        let check = |argv: &[&str], client: bool, daemon: Option<bool>| {
            let mut cli = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            let os: Vec<std::ffi::OsString> = argv.iter().map(Into::into).collect();
            untangle(&mut cli, &os);
            assert_eq!(cli.debug, client, "{argv:?}");
            let Some(Command::UpdateDaemon(a)) = cli.command else {
                panic!("{argv:?}: not updatedaemon");
            };
            assert_eq!(a.debug, daemon, "{argv:?}");
        };
        check(&["pouch", "updatedaemon", "--debug"], false, Some(true));
        check(
            &["pouch", "updatedaemon", "--debug=false"],
            false,
            Some(false),
        );
        check(
            &["pouch", "-D", "updatedaemon", "--label", "a=b"],
            true,
            None,
        );
        check(
            &["pouch", "--debug", "updatedaemon", "--debug=false"],
            true,
            Some(false),
        );
        check(
            &["pouch", "-H", "unix:///x", "-D", "updatedaemon", "--debug"],
            true,
            Some(true),
        );
        check(
            &["pouch", "-vD", "updatedaemon", "--label", "a"],
            true,
            None,
        );
        check(
            &["pouch", "-Hupdatedaemon", "updatedaemon", "--debug"],
            false,
            Some(true),
        );
        check(
            &["pouch", "-DH", "updatedaemon", "updatedaemon"],
            true,
            None,
        );
    }
}
