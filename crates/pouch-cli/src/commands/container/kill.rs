//! `pouch kill [-s SIGNAL] CONTAINER...`: sends a signal (SIGKILL by default, chosen by the
//! daemon) to containers, printing each name; failures are reported after all names.

use pouch_client::Client;

#[derive(Debug, clap::Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long)]
    pub signal: Option<String>,
    /// Containers to kill
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub async fn run(client: &Client, args: KillArgs) -> anyhow::Result<()> {
    let signal = args.signal.as_deref().filter(|s| !s.is_empty());
    super::for_each_name(&args.containers, |name| client.container_kill(name, signal)).await
}
