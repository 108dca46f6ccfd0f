//! `pouch logout [SERVER]`: forgets the stored credentials of a registry.

use crate::credentials::{self, CredentialStore};

#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// Registry server (default: Docker Hub)
    pub server: Option<String>,
}

pub fn run(args: LogoutArgs) -> anyhow::Result<()> {
    let key = credentials::server_key(args.server.as_deref().unwrap_or(""));
    let path = credentials::default_path()?;
    let mut store = CredentialStore::load(&path)?;
    if store.erase(&key) {
        println!("Removing login credentials for {key}");
        store.save()?;
    } else {
        println!("Not logged in to {key}");
    }
    Ok(())
}
