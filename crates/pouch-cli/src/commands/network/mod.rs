//! `pouch network`: create, ls (list), inspect, rm (remove), prune, connect and disconnect,
//! one file each (connect and disconnect share `connect`), with docker's flags and output.

pub mod connect;
pub mod create;
pub mod inspect;
pub mod ls;
pub mod prune;
pub mod rm;

use pouch_client::Client;

/// The subcommands of `pouch network`.
#[derive(Debug, clap::Subcommand)]
pub enum NetworkCommand {
    /// Create a network
    Create(create::CreateArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(ls::LsArgs),
    /// Display detailed information on one or more networks
    Inspect(inspect::InspectArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(rm::RmArgs),
    /// Remove all unused networks
    Prune(prune::PruneArgs),
    /// Connect a container to a network
    Connect(connect::ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(connect::DisconnectArgs),
}

pub async fn run(client: &Client, cmd: NetworkCommand) -> anyhow::Result<()> {
    match cmd {
        NetworkCommand::Create(a) => create::run(client, a).await,
        NetworkCommand::Ls(a) => ls::run(client, a).await,
        NetworkCommand::Inspect(a) => inspect::run(client, a).await,
        NetworkCommand::Rm(a) => rm::run(client, a).await,
        NetworkCommand::Prune(a) => prune::run(client, a).await,
        NetworkCommand::Connect(a) => connect::run_connect(client, a).await,
        NetworkCommand::Disconnect(a) => connect::run_disconnect(client, a).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::parse_subcommand;

    fn try_parse(argv: &[&str]) -> Result<NetworkCommand, clap::Error> {
        parse_subcommand("network", argv)
    }

    fn parse(argv: &[&str]) -> NetworkCommand {
        try_parse(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"))
    }

    #[test]
    fn subcommands_and_aliases() {
        assert!(matches!(parse(&["ls", "-q"]), NetworkCommand::Ls(_)));
        assert!(matches!(parse(&["list"]), NetworkCommand::Ls(_)));
        assert!(matches!(
            parse(&["remove", "a", "b"]),
            NetworkCommand::Rm(_)
        ));
        assert!(matches!(parse(&["rm", "-f", "a"]), NetworkCommand::Rm(_)));
        assert!(matches!(
            parse(&["inspect", "-f", "{{.Id}}", "a"]),
            NetworkCommand::Inspect(_)
        ));
        assert!(matches!(
            parse(&["prune", "-f", "--filter", "until=1h"]),
            NetworkCommand::Prune(_)
        ));
        assert!(matches!(
            parse(&["connect", "--ip", "10.0.0.2", "--alias", "x", "n", "c"]),
            NetworkCommand::Connect(_)
        ));
        assert!(matches!(
            parse(&["disconnect", "-f", "n", "c"]),
            NetworkCommand::Disconnect(_)
        ));
        let NetworkCommand::Create(c) = parse(&["create", "n"]) else {
            panic!("not create");
        };
        assert_eq!(c.driver, "bridge");
        assert_eq!(c.ipam_driver, "default");
        assert!(try_parse(&["create"]).is_err());
        assert!(try_parse(&["rm"]).is_err());
        assert!(try_parse(&["connect", "n"]).is_err());
    }
}
