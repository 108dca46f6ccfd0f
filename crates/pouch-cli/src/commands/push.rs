//! `pouch push IMAGE[:TAG]`: pushes through the daemon with the stored registry credentials.

use pouch_api::reference::Reference;
use pouch_client::Client;

use crate::progress;

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Image to push: NAME[:TAG]
    pub image: String,
}

pub async fn run(client: &Client, args: PushArgs) -> anyhow::Result<()> {
    let reference = Reference::parse_as_typed(&args.image)?;
    if reference.digest.is_some() {
        anyhow::bail!("cannot push a digest reference");
    }
    let tag = match &reference.tag {
        Some(t) => t.clone(),
        None => {
            if !args.quiet {
                println!("Using default tag: latest");
            }
            "latest".to_string()
        }
    };
    let auth = super::registry_auth(&reference.registry)?;
    let stream = client
        .push(&reference.familiar_repo(), &tag, auth.as_ref())
        .await?;
    if args.quiet {
        super::pull::drain(stream).await?;
        println!("{}:{tag}", reference.full_repo());
    } else {
        progress::display(stream, super::stdout_is_terminal()).await?;
    }
    Ok(())
}
