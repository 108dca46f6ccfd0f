//! `pouch tag SOURCE TARGET`: adds a repository tag to an image.

use pouch_client::Client;

use crate::reference::Reference;

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
    let tag = target.tag.clone().unwrap_or_else(|| "latest".into());
    client.tag(&args.source, &target.name(), &tag).await?;
    Ok(())
}
