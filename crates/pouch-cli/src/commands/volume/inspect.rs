//! `pouch volume inspect [-f FORMAT] VOLUME...`: the daemon's JSON as a 4-space indented
//! array, or one line per volume through a `--format` template; missing volumes are reported
//! after the others are printed.

use pouch_client::Client;

use crate::commands::inspect::print_each;

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Format the output using the given Go template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Volumes to inspect
    #[arg(required = true, value_name = "VOLUME")]
    pub volumes: Vec<String>,
}

pub async fn run(client: &Client, args: InspectArgs) -> anyhow::Result<()> {
    // An empty `--format` prints the JSON, as docker does for volumes.
    let format = args.format.as_deref().filter(|f| !f.is_empty());
    print_each(&args.volumes, format, false, |name| {
        client.volume_inspect_raw(name)
    })
    .await
}
