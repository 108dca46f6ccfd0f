//! The command line, runc's: global flags (`--root`, `--log`, `--log-format`, `--debug`,
//! `--systemd-cgroup`) before one subcommand. The subcommands are liboci-cli's clap structs,
//! except `kill`, whose signal defaults to SIGTERM as in runc.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use liboci_cli::GlobalOpts;

/// Where containers' state lives unless `--root` says otherwise.
pub const DEFAULT_ROOT: &str = "/run/pouch-runc";

#[derive(Parser, Debug)]
#[command(
    name = "pouch-runc",
    about = "Pouch's OCI runtime: runc's command line on youki's libcontainer",
    disable_version_flag = true
)]
pub struct Opts {
    #[command(flatten)]
    pub global: GlobalOpts,

    /// print the version
    #[arg(short = 'v', long)]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// create a container from a bundle; its process waits for `start`
    Create(liboci_cli::Create),
    /// run the process of a created container
    Start(liboci_cli::Start),
    /// print the state of a container as JSON
    State(liboci_cli::State),
    /// send a signal to the container's process (or to all its processes)
    Kill(Kill),
    /// remove the state and the cgroups of a container
    Delete(liboci_cli::Delete),
    /// run a process in a running container
    Exec(liboci_cli::Exec),
    /// freeze every process of a container
    Pause(liboci_cli::Pause),
    /// thaw a paused container
    Resume(liboci_cli::Resume),
    /// change the resource limits of a container
    Update(liboci_cli::Update),
    /// list the processes of a container
    Ps(liboci_cli::Ps),
    /// create and start a container, and wait for it in the foreground
    Run(liboci_cli::Run),
}

/// `kill [--all] <id> [<signal>]`
#[derive(Args, Debug)]
pub struct Kill {
    /// container identifier
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new(), required = true)]
    pub container_id: String,
    /// signal name or number (KILL, SIGTERM, 9)
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
    /// send the signal to every process of the container
    #[arg(short, long)]
    pub all: bool,
}

/// The global flags, checked.
#[derive(Debug, Clone)]
pub struct Globals {
    pub root: PathBuf,
    pub log: Option<PathBuf>,
    pub log_json: bool,
    pub debug: bool,
}

impl Globals {
    /// Checks `--log-format`; `--systemd-cgroup` is accepted and ignored (cgroups are always
    /// managed through cgroupfs; pouchd gives absolute cgroup paths).
    pub fn from_opts(global: &GlobalOpts) -> Result<Self, String> {
        let log_json = match global.log_format.as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => return Err(format!("invalid --log-format {other:?}: use text or json")),
        };
        Ok(Globals {
            root: global
                .root
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT)),
            log: global.log.clone(),
            log_json,
            debug: global.debug,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Opts {
        Opts::try_parse_from(std::iter::once("pouch-runc").chain(args.iter().copied()))
            .expect("parse")
    }

    #[test]
    fn the_shims_create_and_exec_lines_parse() {
        let opts = parse(&[
            "--root",
            "/r",
            "--log",
            "/l.log",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/p",
            "--console-socket",
            "/s",
            "abc",
        ]);
        let globals = Globals::from_opts(&opts.global).expect("globals");
        assert_eq!(globals.root, PathBuf::from("/r"));
        assert!(globals.log_json);
        match opts.command {
            Some(Command::Create(c)) => {
                assert_eq!(c.bundle, PathBuf::from("/b"));
                assert_eq!(c.console_socket, Some(PathBuf::from("/s")));
                assert_eq!(c.container_id, "abc");
            }
            other => panic!("not create: {other:?}"),
        }
        let opts = parse(&[
            "--root",
            "/r",
            "exec",
            "--process",
            "/p.json",
            "--detach",
            "--pid-file",
            "/p",
            "abc",
        ]);
        match opts.command {
            Some(Command::Exec(e)) => {
                assert!(e.detach);
                assert_eq!(e.process, Some(PathBuf::from("/p.json")));
                assert!(e.command.is_empty());
            }
            other => panic!("not exec: {other:?}"),
        }
    }

    #[test]
    fn the_drivers_lines_parse() {
        match parse(&["--root", "/r", "kill", "--all", "abc", "9"]).command {
            Some(Command::Kill(k)) => assert!(k.all && k.signal == "9" && k.container_id == "abc"),
            other => panic!("not kill: {other:?}"),
        }
        match parse(&["kill", "abc"]).command {
            Some(Command::Kill(k)) => assert_eq!(k.signal, "SIGTERM"),
            other => panic!("not kill: {other:?}"),
        }
        match parse(&["update", "-r", "-", "abc"]).command {
            Some(Command::Update(u)) => assert_eq!(u.resources, Some(PathBuf::from("-"))),
            other => panic!("not update: {other:?}"),
        }
        match parse(&["ps", "--format", "json", "abc"]).command {
            Some(Command::Ps(p)) => assert_eq!(p.format, "json"),
            other => panic!("not ps: {other:?}"),
        }
        match parse(&["exec", "abc", "sh", "-c", "echo x"]).command {
            Some(Command::Exec(e)) => assert_eq!(e.command, ["sh", "-c", "echo x"]),
            other => panic!("not exec: {other:?}"),
        }
        assert!(
            parse(&["--systemd-cgroup", "delete", "--force", "abc"])
                .global
                .systemd_cgroup
        );
    }

    #[test]
    fn a_bad_log_format_is_refused() {
        let opts = parse(&["--log-format", "xml", "state", "abc"]);
        let err = Globals::from_opts(&opts.global).expect_err("xml");
        assert!(err.contains("--log-format"), "{err}");
    }
}
