//! `pouch tag SOURCE TARGET`: adds a repository tag to an image.

use pouch_api::reference::Reference;
use pouch_client::Client;

#[derive(Debug, clap::Args)]
pub struct TagArgs {
    /// Source image (name, reference or ID)
    pub source: String,
    /// Target reference: NAME[:TAG]
    pub target: String,
}

pub async fn run(client: &Client, args: TagArgs) -> anyhow::Result<()> {
    let target = Reference::parse(&args.target)?;
    if target.digest.is_some() {
        anyhow::bail!("refusing to create a tag with a digest reference");
    }
    client
        .tag(&args.source, &target.full_repo(), target.tag_or_latest())
        .await?;
    Ok(())
}
