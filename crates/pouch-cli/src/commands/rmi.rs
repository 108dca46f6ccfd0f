//! `pouch rmi [-f] IMAGE...`: removes images, printing `Untagged:`/`Deleted:` lines; failures
//! are reported after the successes, as docker does.

use pouch_client::Client;

use super::{describe, Reported};

#[derive(Debug, clap::Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    pub no_prune: bool,
    /// Images to remove
    #[arg(required = true)]
    pub images: Vec<String>,
}

pub async fn run(client: &Client, args: RmiArgs) -> anyhow::Result<()> {
    let mut errors = Vec::new();
    for name in &args.images {
        match client.remove_image(name, args.force, args.no_prune).await {
            Ok(items) => {
                for item in items {
                    if let Some(u) = item.untagged {
                        println!("Untagged: {u}");
                    }
                    if let Some(d) = item.deleted {
                        println!("Deleted: {d}");
                    }
                }
            }
            Err(e) => errors.push(describe(&e)),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Reported(errors.join("\n")).into())
    }
}
