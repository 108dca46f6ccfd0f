//! One module per CLI command, plus the helpers they share: terminal checks, registry
//! credentials lookup, and the error types that decide what `main` prints and the exit
//! status ([`Reported`], [`ExitStatus`], [`StatusError`]). `container_opts` is the flag set
//! of `create`/`run`; `streamer` pumps attach and exec connections.

pub mod attach;
pub mod container;
pub mod container_opts;
pub mod create;
pub mod exec;
pub mod history;
pub mod image_prune;
pub mod images;
pub mod import;
pub mod info;
pub mod inspect;
pub mod load;
pub mod login;
pub mod logout;
pub mod network;
pub mod pruning;
pub mod pull;
pub mod push;
pub mod remount_lxcfs;
pub mod rmi;
pub mod run;
pub mod save;
pub mod start;
pub mod streamer;
pub mod system_df;
pub mod tag;
pub mod updatedaemon;
pub mod upgrade;
pub mod version;
pub mod volume;

use std::io::IsTerminal;

use anyhow::Context;
use pouch_api::system::AuthConfig;
use pouch_client::ClientError;

use crate::credentials::{self, CredentialStore, CredentialsError};

/// Errors already formatted for the user (one per line); printed as they are, exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Reported(pub String);

/// The command ends with this exit status and prints nothing more (the container's exit
/// status for `run`, `start -a`, `attach` and `exec`).
#[derive(Debug, thiserror::Error)]
#[error("exit status {0}")]
pub struct ExitStatus(pub i32);

/// The command fails with `status` after printing `message` as it is (docker's
/// `cli.StatusError`: 125 for usage errors and `run` failures, 126/127 when the command
/// cannot be run).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StatusError {
    pub status: i32,
    pub message: String,
}

impl StatusError {
    /// A usage error of `command`: `Error: <reason>` and the help hint, status 125.
    pub fn usage(command: &str, reason: impl std::fmt::Display) -> StatusError {
        StatusError {
            status: 125,
            message: format!("Error: {reason}\nSee 'pouch {command} --help'."),
        }
    }
}

pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// How docker prints an error from one item of a multi-item command.
pub fn describe(err: &ClientError) -> String {
    match err {
        ClientError::Api { message, .. } => format!("Error response from daemon: {message}"),
        other => format!("Error: {other}"),
    }
}

/// The stored credentials for a registry host (`docker.io`, `127.0.0.1:5000`), if any.
pub fn registry_auth(domain: &str) -> anyhow::Result<Option<AuthConfig>> {
    let path = match credentials::default_path() {
        Ok(p) => p,
        Err(CredentialsError::NoHome) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let store = CredentialStore::load(&path)?;
    let key = credentials::server_key(domain);
    store
        .get(&key)
        .with_context(|| format!("reading credentials for {key}"))
}

/// Parses repeated `key=value` filter flags.
pub fn parse_filters(flags: &[String]) -> anyhow::Result<pouch_api::Filters> {
    let mut filters = pouch_api::Filters::default();
    for f in flags {
        match f.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => filters.add(&k.trim().to_lowercase(), v.trim()),
            _ => anyhow::bail!("bad format of filter (expected name=value): {f:?}"),
        }
    }
    Ok(filters)
}

/// Test support: parses `argv` as the flags and arguments of the command `name` (which
/// `argv` leaves out).
#[cfg(test)]
pub fn parse_args<A: clap::Args>(name: &'static str, argv: &[&str]) -> Result<A, clap::Error> {
    let matches = A::augment_args(clap::Command::new(name))
        .try_get_matches_from(std::iter::once(name).chain(argv.iter().copied()))?;
    A::from_arg_matches(&matches)
}

/// Test support: parses `argv` as one of the subcommands `S` of the command `name` (which
/// `argv` leaves out).
#[cfg(test)]
pub fn parse_subcommand<S: clap::Subcommand>(
    name: &'static str,
    argv: &[&str],
) -> Result<S, clap::Error> {
    let matches = S::augment_subcommands(clap::Command::new(name))
        .subcommand_required(true)
        .try_get_matches_from(std::iter::once(name).chain(argv.iter().copied()))?;
    S::from_arg_matches(&matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_from_flags() {
        let f = parse_filters(&["dangling=true".into(), "label=a=b".into()]).unwrap();
        assert_eq!(f.get("dangling"), ["true"]);
        assert_eq!(f.get("label"), ["a=b"]);
        assert!(parse_filters(&["nokey".into()]).is_err());
        assert!(parse_filters(&["=v".into()]).is_err());
    }

    #[test]
    fn daemon_errors_read_like_docker() {
        let e = ClientError::Api {
            status: 404,
            message: "No such image: x:latest".into(),
        };
        assert_eq!(
            describe(&e),
            "Error response from daemon: No such image: x:latest"
        );
    }
}
