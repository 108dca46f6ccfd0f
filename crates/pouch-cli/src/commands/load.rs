//! `pouch load [-i FILE] [-q]`: streams a tar archive (from a file or stdin) to the daemon.

use std::path::PathBuf;

use anyhow::Context;
use pouch_client::{reader_body, Client};

use crate::progress;

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    pub quiet: bool,
}

pub async fn run(client: &Client, args: LoadArgs) -> anyhow::Result<()> {
    let body = match &args.input {
        Some(path) => {
            let file = tokio::fs::File::open(path)
                .await
                .with_context(|| format!("cannot open {}", path.display()))?;
            reader_body(file)
        }
        None => {
            if super::stdin_is_terminal() {
                anyhow::bail!("requested load from stdin, but stdin is empty");
            }
            reader_body(tokio::io::stdin())
        }
    };
    let terminal = super::stdout_is_terminal();
    let quiet = args.quiet || !terminal;
    let stream = client.load(body, quiet).await?;
    progress::display(stream, terminal).await?;
    Ok(())
}
