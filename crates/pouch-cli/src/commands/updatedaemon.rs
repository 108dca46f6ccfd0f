//! `pouch updatedaemon`: changes the labels, registry mirrors, insecure registries and debug
//! logging of the running pouchd (`POST /daemon/update`). pouchd writes the change into its
//! config file, so it outlasts a restart.

use std::ffi::OsString;

use clap::{Args, FromArgMatches};
use pouch_api::system::DaemonUpdateConfig;
use pouch_client::Client;

use super::StatusError;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Labels: --label KEY=VALUE sets the label KEY, --label KEY removes it; other labels stay.
Lists: --registry-mirror and --insecure-registry replace the whole list; \
--clear-registry-mirrors and --clear-insecure-registries empty it.
A setting given on pouchd's command line cannot be changed here: move it into pouchd's \
config file (--config-file, default /etc/pouch/config.json) first.

Examples:
  pouch updatedaemon --label zone=eu --label old-key
  pouch updatedaemon --registry-mirror http://10.0.0.5:5000 --insecure-registry 10.0.0.5:5000
  pouch updatedaemon --clear-registry-mirrors --debug=false")]
pub struct UpdateDaemonArgs {
    /// Set a daemon label (KEY=VALUE) or remove one (KEY) (repeatable)
    #[arg(long = "label", value_name = "KEY[=VALUE]")]
    pub labels: Vec<String>,
    /// Mirror of docker.io, tried in order: the new list (repeatable)
    #[arg(long = "registry-mirror", value_name = "URL")]
    pub registry_mirrors: Vec<String>,
    /// Remove every registry mirror
    #[arg(long, conflicts_with = "registry_mirrors")]
    pub clear_registry_mirrors: bool,
    /// Registry reached over plain HTTP, host:port, host or CIDR: the new list (repeatable)
    #[arg(long = "insecure-registry", value_name = "REGISTRY")]
    pub insecure_registries: Vec<String>,
    /// Remove every insecure registry
    #[arg(long, conflicts_with = "insecure_registries")]
    pub clear_insecure_registries: bool,
    /// Daemon debug logging: --debug (or --debug=true) on, --debug=false off
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub debug: Option<bool>,
}

impl UpdateDaemonArgs {
    /// The request body: only what the flags name.
    fn update(&self) -> DaemonUpdateConfig {
        let list =
            |values: &[String], clear: bool| (clear || !values.is_empty()).then(|| values.to_vec());
        DaemonUpdateConfig {
            labels: list(&self.labels, false),
            registry_mirrors: list(&self.registry_mirrors, self.clear_registry_mirrors),
            insecure_registries: list(&self.insecure_registries, self.clear_insecure_registries),
            debug: self.debug,
        }
    }
}

/// `pouch`'s global `-D`/`--debug` (the client logs its requests) and this command's
/// `--debug` (the daemon's logging) share clap's argument id, and clap copies the value of a
/// global between a command and its subcommand both ways. The command line tells them apart:
/// flags before the command word are the client's, flags after it this command's. Sets
/// `client_debug` and `args.debug` from `argv` (program name first).
pub fn untangle_debug(client_debug: &mut bool, args: &mut UpdateDaemonArgs, argv: &[OsString]) {
    let words: Vec<String> = argv
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // the command word: the first word that is neither a flag nor the value of -H/--host
    let mut command = None;
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        // -H VALUE, --host VALUE, or a short cluster ending in H (-DH VALUE)
        let takes_value =
            w == "--host" || (w.starts_with('-') && !w.starts_with("--") && w.ends_with('H'));
        if takes_value {
            i += 2;
            continue;
        }
        if !w.starts_with('-') {
            command = Some(i);
            break;
        }
        i += 1;
    }
    let Some(command) = command else {
        return;
    };
    *client_debug = words[..command].iter().any(|w| {
        w == "--debug"
            || (w.starts_with('-') && !w.starts_with("--") && {
                // a short cluster (-vD); whatever follows -H is its value
                let flags = w[1..].split('H').next().unwrap_or_default();
                flags.contains('D')
            })
    });
    let own = UpdateDaemonArgs::augment_args(clap::Command::new("updatedaemon"))
        .try_get_matches_from(
            std::iter::once("updatedaemon".to_string()).chain(words[command + 1..].iter().cloned()),
        )
        .ok()
        .and_then(|m| UpdateDaemonArgs::from_arg_matches(&m).ok());
    if let Some(own) = own {
        args.debug = own.debug;
    }
}

pub async fn run(client: &Client, args: UpdateDaemonArgs) -> anyhow::Result<()> {
    let update = args.update();
    if update == DaemonUpdateConfig::default() {
        return Err(StatusError::usage(
            "updatedaemon",
            "nothing to update: give --label, --registry-mirror, --clear-registry-mirrors, --insecure-registry, --clear-insecure-registries or --debug",
        )
        .into());
    }
    client.update_daemon(&update).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::parse_args;

    fn update(argv: &[&str]) -> DaemonUpdateConfig {
        parse_args::<UpdateDaemonArgs>("updatedaemon", argv)
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
            .update()
    }

    #[test]
    fn flags_become_the_update() {
        assert_eq!(
            update(&[
                "--label",
                "a=1",
                "--label",
                "gone",
                "--registry-mirror",
                "http://m:5000",
                "--registry-mirror",
                "https://m2",
                "--insecure-registry",
                "10.0.0.0/8",
            ]),
            DaemonUpdateConfig {
                labels: Some(vec!["a=1".into(), "gone".into()]),
                registry_mirrors: Some(vec!["http://m:5000".into(), "https://m2".into()]),
                insecure_registries: Some(vec!["10.0.0.0/8".into()]),
                debug: None,
            }
        );
        assert_eq!(update(&[]), DaemonUpdateConfig::default());
    }

    #[test]
    fn lists_are_cleared_only_on_request() {
        let u = update(&["--clear-registry-mirrors", "--clear-insecure-registries"]);
        assert_eq!(u.registry_mirrors, Some(vec![]));
        assert_eq!(u.insecure_registries, Some(vec![]));
        assert_eq!(u.labels, None);
        let err = parse_args::<UpdateDaemonArgs>(
            "updatedaemon",
            &["--clear-registry-mirrors", "--registry-mirror", "http://m"],
        )
        .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn debug_takes_an_optional_bool() {
        assert_eq!(update(&["--debug"]).debug, Some(true));
        assert_eq!(update(&["--debug=true"]).debug, Some(true));
        assert_eq!(update(&["--debug=false"]).debug, Some(false));
        assert_eq!(update(&["--label", "a=b"]).debug, None);
        assert!(parse_args::<UpdateDaemonArgs>("updatedaemon", &["--debug=maybe"]).is_err());
    }
}
