//! `pouch network inspect [-f FORMAT] NETWORK...`: the daemon's JSON as a 4-space indented
//! array, or one line per network through a `--format` template; a network that is not found
//! adds an error line and status 1 after the others are printed, as docker does.

use pouch_client::Client;

use crate::commands::inspect::print_each;

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Format the output using the given Go template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Verbose output for diagnostics
    #[arg(short, long)]
    pub verbose: bool,
    /// Networks to inspect
    #[arg(required = true)]
    pub names: Vec<String>,
}

pub async fn run(client: &Client, args: InspectArgs) -> anyhow::Result<()> {
    print_each(&args.names, args.format.as_deref(), false, |name| {
        client.network_inspect_raw(name)
    })
    .await
}
