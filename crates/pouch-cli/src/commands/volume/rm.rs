//! `pouch volume rm [-f] VOLUME...`: removes volumes, printing each name; failures are
//! reported after all names are tried.

use pouch_client::Client;

use crate::commands::container::for_each_name;

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Force the removal of one or more volumes
    #[arg(short, long)]
    pub force: bool,
    /// Volumes to remove
    #[arg(required = true, value_name = "VOLUME")]
    pub volumes: Vec<String>,
}

pub async fn run(client: &Client, args: RmArgs) -> anyhow::Result<()> {
    for_each_name(&args.volumes, |name| client.volume_remove(name, args.force)).await
}
