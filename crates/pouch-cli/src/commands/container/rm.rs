//! `pouch rm [-f] [-v] CONTAINER...`: removes containers, printing each name; failures are
//! reported after all names are tried.

use pouch_client::Client;

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    /// Containers to remove
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub async fn run(client: &Client, args: RmArgs) -> anyhow::Result<()> {
    super::for_each_name(&args.containers, |name| {
        client.container_remove(name, args.force, args.volumes)
    })
    .await
}
