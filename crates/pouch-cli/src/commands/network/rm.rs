//! `pouch network rm [-f] NETWORK...`: removes each network and prints its name; a failure is
//! printed at once (docker's `Error response from daemon: ...`) and the command ends with
//! status 1 after trying the rest. `-f` skips networks that do not exist.

use pouch_client::Client;

use crate::commands::{describe, StatusError};

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Do not error if the network does not exist
    #[arg(short, long)]
    pub force: bool,
    /// Networks to remove
    #[arg(required = true)]
    pub names: Vec<String>,
}

pub async fn run(client: &Client, args: RmArgs) -> anyhow::Result<()> {
    let mut failed = false;
    for name in &args.names {
        match client.network_remove(name).await {
            Ok(()) => println!("{name}"),
            Err(e) if args.force && e.is_not_found() => {}
            Err(e) if !e.is_daemon_error() => return Err(e.into()),
            Err(e) => {
                eprintln!("{}", describe(&e));
                failed = true;
            }
        }
    }
    if failed {
        return Err(StatusError {
            status: 1,
            message: String::new(),
        }
        .into());
    }
    Ok(())
}
