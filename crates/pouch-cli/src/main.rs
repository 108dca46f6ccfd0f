//! `pouch`: the command-line client of pouchd. This file holds the clap definitions, the
//! dispatch to `commands/` and the error reporting (`Error: ...`, or
//! `Error response from daemon: ...` for daemon errors; exit status 1).

mod commands;
mod credentials;
mod output;
mod progress;
mod template;

use clap::{Parser, Subcommand};
use pouch_client::{Client, ClientError};

use commands::{
    history, image_prune, images, import, info, inspect, load, login, logout, pull, push, rmi,
    save, system_df, tag, version,
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
    /// Show the pouch version information
    Version(version::VersionArgs),
    /// Display system-wide information
    Info(info::InfoArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage pouch
    #[command(subcommand)]
    System(SystemCommand),
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
        Command::Login(a) => login::run(c, a).await,
        Command::Logout(a) => logout::run(a),
        Command::Version(a) => version::run(c, a).await,
        Command::Info(a) | Command::System(SystemCommand::Info(a)) => info::run(c, a).await,
        Command::System(SystemCommand::Df(a)) => system_df::run(c, a).await,
    }
}

/// Prints an error the way docker does.
fn report(err: &anyhow::Error) {
    if let Some(r) = err.downcast_ref::<commands::Reported>() {
        eprintln!("{}", r.0);
        return;
    }
    let api = err.downcast_ref::<ClientError>().or_else(|| {
        match err.downcast_ref::<progress::ProgressError>() {
            Some(progress::ProgressError::Client(c)) => Some(c),
            _ => None,
        }
    });
    if let Some(ClientError::Api { message, .. }) = api {
        eprintln!("Error response from daemon: {message}");
        return;
    }
    eprintln!("Error: {}", chain_text(err));
}

/// The error and its causes, skipping causes whose text the message already contains.
fn chain_text(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text = format!("{text}: {c}");
        }
    }
    text
}

fn main() {
    let cli = Cli::parse();
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
        report(&err);
        std::process::exit(1);
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
}
