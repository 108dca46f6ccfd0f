//! `pouch pull IMAGE`: pulls through the daemon with the stored registry credentials and shows
//! the progress stream; prints the full reference at the end, as docker does.

use futures_util::StreamExt;
use pouch_api::reference::Reference;
use pouch_client::Client;

use crate::progress::{self, ProgressError};

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Image to pull: NAME[:TAG|@DIGEST]
    pub image: String,
}

/// Consumes a progress stream without showing it, failing on an error line.
pub async fn drain(mut stream: pouch_client::JsonStream) -> Result<(), ProgressError> {
    while let Some(item) = stream.next().await {
        let m = item?;
        if let Some(err) = m
            .error_detail
            .map(|d| d.message)
            .filter(|s| !s.is_empty())
            .or(m.error)
        {
            return Err(ProgressError::Stream(err));
        }
    }
    Ok(())
}

pub async fn run(client: &Client, args: PullArgs) -> anyhow::Result<()> {
    let mut reference = Reference::parse_as_typed(&args.image)?;
    if reference.tag.is_none() && reference.digest.is_none() {
        if !args.quiet {
            println!("Using default tag: latest");
        }
        reference.tag = Some("latest".into());
    }
    let auth = super::registry_auth(&reference.registry)?;
    // The API's `tag` parameter takes the digest when there is one.
    let tag = match &reference.digest {
        Some(d) => d.clone(),
        None => reference.tag_or_latest().to_string(),
    };
    let stream = client
        .pull(&reference.full_repo(), &tag, auth.as_ref())
        .await?;
    if args.quiet {
        drain(stream).await?;
    } else {
        progress::display(stream, super::stdout_is_terminal()).await?;
    }
    println!("{reference}");
    Ok(())
}
