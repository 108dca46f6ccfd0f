//! `pouch network inspect [-f FORMAT] NETWORK...`: the daemon's JSON as a 4-space indented
//! array, or one line per network through a `--format` template; a network that is not found
//! adds an error line and status 1 after the others are printed, as docker does.

use pouch_client::Client;

use crate::commands::inspect::render;
use crate::commands::{describe, Reported};
use crate::template::Template;

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
    let template = args.format.as_deref().map(Template::parse).transpose()?;
    let mut raws = Vec::new();
    let mut errors = Vec::new();
    for name in &args.names {
        match client.network_inspect_raw(name).await {
            Ok(raw) => raws.push(raw),
            Err(e) if !e.is_daemon_error() => return Err(e.into()),
            Err(e) => errors.push(describe(&e)),
        }
    }
    print!("{}", render(&raws, template.as_ref())?);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Reported(errors.join("\n")).into())
    }
}
