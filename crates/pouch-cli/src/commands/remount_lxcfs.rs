//! `pouch remount-lxcfs CONTAINER...`: puts fresh lxcfs binds in running containers (after
//! lxcfs restarted; pouchd also does it by itself when it sees lxcfs mounted again),
//! printing each name; failures are reported after all names are tried.

use pouch_client::Client;

#[derive(Debug, clap::Args)]
pub struct RemountLxcfsArgs {
    /// Running containers created with --enableLxcfs
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub async fn run(client: &Client, args: RemountLxcfsArgs) -> anyhow::Result<()> {
    super::container::for_each_name(&args.containers, |name| {
        client.container_remount_lxcfs(name)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_a_container() {
        assert!(crate::commands::parse_args::<RemountLxcfsArgs>("remount-lxcfs", &[]).is_err());
        let a =
            crate::commands::parse_args::<RemountLxcfsArgs>("remount-lxcfs", &["a", "b"]).unwrap();
        assert_eq!(a.containers, ["a", "b"]);
    }
}
