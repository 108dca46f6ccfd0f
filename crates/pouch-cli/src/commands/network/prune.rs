//! `pouch network prune [-f] [--filter K=V]`: removes the user networks no container uses,
//! after a confirmation, then lists their names.

use pouch_client::Client;

use crate::commands::pruning;

pub use crate::commands::pruning::PruneArgs;

const WARNING: &str =
    "WARNING! This will remove all custom networks not used by at least one container.";

/// The report after the prune: nothing when no network went, else docker's list followed by
/// an empty line.
pub fn render(deleted: &[String]) -> String {
    pruning::deleted_list("Networks", deleted, |name| Some(name.clone()))
}

pub async fn run(client: &Client, args: PruneArgs) -> anyhow::Result<()> {
    let filters = crate::commands::parse_filters(&args.filter)?;
    if !args.force && !pruning::confirm(WARNING)? {
        return Ok(());
    }
    let report = client.network_prune(&filters).await?;
    print!("{}", render(&report.networks_deleted.unwrap_or_default()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_like_docker() {
        assert_eq!(render(&[]), "");
        assert_eq!(
            render(&["n1".into(), "n2".into()]),
            "Deleted Networks:\nn1\nn2\n\n"
        );
    }
}
