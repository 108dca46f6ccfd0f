//! `pouch restart [-s SIGNAL] [-t SECONDS] CONTAINER...`: restarts containers, printing each
//! name; failures are reported after all names are tried.

use pouch_client::Client;

#[derive(Debug, clap::Args)]
pub struct RestartArgs {
    /// Signal to send to the container
    #[arg(short, long)]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "timeout",
        visible_alias = "time",
        allow_negative_numbers = true
    )]
    pub timeout: Option<i64>,
    /// Containers to restart
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub async fn run(client: &Client, args: RestartArgs) -> anyhow::Result<()> {
    let signal = args.signal.as_deref();
    super::for_each_name(&args.containers, |name| {
        client.container_restart(name, args.timeout, signal)
    })
    .await
}
