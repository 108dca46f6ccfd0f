//! `pouch rename CONTAINER NEW_NAME`.

use pouch_client::Client;

use super::{describe, Reported};

#[derive(Debug, clap::Args)]
pub struct RenameArgs {
    /// The container to rename
    pub container: String,
    /// Its new name
    pub new_name: String,
}

pub async fn run(client: &Client, args: RenameArgs) -> anyhow::Result<()> {
    let old = args.container.trim();
    let new = args.new_name.trim();
    if old.is_empty() || new.is_empty() {
        anyhow::bail!("neither old nor new names may be empty");
    }
    match client.container_rename(old, new).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_daemon_error() => Err(Reported(format!(
            "{}\nError: failed to rename container named {old}",
            describe(&e)
        ))
        .into()),
        Err(e) => Err(e.into()),
    }
}
