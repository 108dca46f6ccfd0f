//! `pouch volume`: create, list, inspect, remove and prune volumes, one file each, and the
//! dispatch from [`VolumeCommand`]. Output follows the docker CLI's.

pub mod create;
pub mod inspect;
pub mod ls;
pub mod prune;
pub mod rm;

use pouch_client::Client;

/// The subcommands of `pouch volume`.
#[derive(Debug, clap::Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    #[command(override_usage = "pouch volume create [OPTIONS] [VOLUME]")]
    Create(create::CreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(ls::LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(inspect::InspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(rm::RmArgs),
    /// Remove unused local volumes
    Prune(prune::PruneArgs),
}

pub async fn run(client: &Client, command: VolumeCommand) -> anyhow::Result<()> {
    match command {
        VolumeCommand::Create(a) => create::run(client, a).await,
        VolumeCommand::Ls(a) => ls::run(client, a).await,
        VolumeCommand::Inspect(a) => inspect::run(client, a).await,
        VolumeCommand::Rm(a) => rm::run(client, a).await,
        VolumeCommand::Prune(a) => prune::run(client, a).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::parse_subcommand;

    fn parse(argv: &[&str]) -> Result<VolumeCommand, clap::Error> {
        parse_subcommand("volume", argv)
    }

    #[test]
    fn subcommands_and_aliases_parse() {
        match parse(&["list", "-q", "-f", "dangling=true", "--format", "{{.Name}}"]).unwrap() {
            VolumeCommand::Ls(a) => {
                assert!(a.quiet);
                assert_eq!(a.filter, ["dangling=true"]);
                assert_eq!(a.format.as_deref(), Some("{{.Name}}"));
            }
            other => panic!("{other:?}"),
        }
        match parse(&["remove", "-f", "a", "b"]).unwrap() {
            VolumeCommand::Rm(a) => {
                assert!(a.force);
                assert_eq!(a.volumes, ["a", "b"]);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["prune", "-af", "--filter", "label=x"]).unwrap() {
            VolumeCommand::Prune(a) => {
                assert!(a.all && a.force);
                assert_eq!(a.filter, ["label=x"]);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["inspect", "-f", "{{.Mountpoint}}", "a"]).unwrap() {
            VolumeCommand::Inspect(a) => {
                assert_eq!(a.format.as_deref(), Some("{{.Mountpoint}}"));
                assert_eq!(a.volumes, ["a"]);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["create"]).unwrap() {
            VolumeCommand::Create(a) => {
                assert_eq!(a.driver, "local");
                assert!(a.volume.is_none() && a.name.is_none());
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["rm"]).is_err());
        assert!(parse(&["inspect"]).is_err());
        assert!(parse(&["ls", "extra"]).is_err());
    }
}
