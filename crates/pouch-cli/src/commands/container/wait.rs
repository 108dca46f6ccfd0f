//! `pouch wait CONTAINER...`: blocks until each container stops (one after the other, as
//! docker does) and prints its exit code.

use pouch_client::Client;

use super::describe;

#[derive(Debug, clap::Args)]
pub struct WaitArgs {
    /// Containers to wait for
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub async fn run(client: &Client, args: WaitArgs) -> anyhow::Result<()> {
    let mut errors = Vec::new();
    for name in &args.containers {
        let result = match client.container_wait(name, None).await {
            Ok(wait) => wait.result().await,
            Err(e) => Err(e),
        };
        match result {
            Ok(r) => println!("{}", r.status_code),
            Err(e) if !e.is_daemon_error() => return Err(e.into()),
            Err(e) => errors.push(describe(&e)),
        }
    }
    super::finish(errors)
}
