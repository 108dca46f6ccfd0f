//! `pouch volume inspect [-f FORMAT] VOLUME...`: the daemon's JSON as a 4-space indented
//! array, or one line per volume through a `--format` template; missing volumes are reported
//! after the others are printed.

use pouch_client::Client;

use crate::commands::inspect::render;
use crate::commands::{describe, Reported};
use crate::template::Template;

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
    let template = args
        .format
        .as_deref()
        .filter(|f| !f.is_empty())
        .map(Template::parse)
        .transpose()?;
    let mut raws = Vec::new();
    let mut errors = Vec::new();
    for name in &args.volumes {
        match client.volume_inspect_raw(name).await {
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
