//! `pouch import FILE|URL|- [REPOSITORY[:TAG]]`: creates an image from a filesystem tarball.

use anyhow::Context;
use pouch_api::reference::Reference;
use pouch_client::{reader_body, Client, ImageImportSource, ImportOptions};

use crate::progress;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Set commit message for imported image
    #[arg(short, long)]
    pub message: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long)]
    pub change: Vec<String>,
    /// Tarball to import: a file, a URL, or - for STDIN
    pub source: String,
    /// Repository (and tag) for the new image
    pub reference: Option<String>,
}

pub async fn run(client: &Client, args: ImportArgs) -> anyhow::Result<()> {
    let mut options = ImportOptions {
        message: args.message.clone().unwrap_or_default(),
        changes: args.change.clone(),
        ..Default::default()
    };
    if let Some(text) = &args.reference {
        let r = Reference::parse_as_typed(text)?;
        if r.digest.is_some() {
            anyhow::bail!("cannot import into a digest reference: {text}");
        }
        options.repo = r.familiar_repo();
        options.tag = r.tag.unwrap_or_default();
    }
    let source = if args.source == "-" {
        ImageImportSource::Stream(reader_body(tokio::io::stdin()))
    } else if args.source.starts_with("http://") || args.source.starts_with("https://") {
        ImageImportSource::Url(args.source.clone())
    } else {
        let file = tokio::fs::File::open(&args.source)
            .await
            .with_context(|| format!("cannot open {}", args.source))?;
        ImageImportSource::Stream(reader_body(file))
    };
    let stream = client.import(source, &options).await?;
    progress::display(stream, super::stdout_is_terminal()).await?;
    Ok(())
}
