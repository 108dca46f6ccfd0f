//! `pouch pause CONTAINER...` and `pouch unpause CONTAINER...`: freeze and thaw containers,
//! printing each name; failures are reported after all names are tried.

use pouch_client::Client;

#[derive(Debug, clap::Args)]
pub struct PauseArgs {
    /// Containers to pause
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct UnpauseArgs {
    /// Containers to unpause
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub async fn run_pause(client: &Client, args: PauseArgs) -> anyhow::Result<()> {
    super::for_each_name(&args.containers, |name| client.container_pause(name)).await
}

pub async fn run_unpause(client: &Client, args: UnpauseArgs) -> anyhow::Result<()> {
    super::for_each_name(&args.containers, |name| client.container_unpause(name)).await
}
