//! `pouch container prune [-f] [--filter K=V]`: removes all stopped containers after a
//! confirmation, then lists their ids and the space reclaimed.

use pouch_client::Client;

use crate::commands::pruning;

pub use crate::commands::pruning::PruneArgs;

const WARNING: &str = "WARNING! This will remove all stopped containers.";

/// The report after the prune.
pub fn render(deleted: &[String], reclaimed: u64) -> String {
    pruning::report("Containers", deleted, reclaimed)
}

pub async fn run(client: &Client, args: PruneArgs) -> anyhow::Result<()> {
    let filters = crate::commands::parse_filters(&args.filter)?;
    if !args.force && !pruning::confirm(WARNING)? {
        return Ok(());
    }
    let report = client.containers_prune(&filters).await?;
    print!(
        "{}",
        render(
            &report.containers_deleted.unwrap_or_default(),
            report.space_reclaimed
        )
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_like_docker() {
        assert_eq!(render(&[], 0), "Total reclaimed space: 0B\n");
        assert_eq!(
            render(&["abc".into(), "def".into()], 1_240),
            "Deleted Containers:\nabc\ndef\n\nTotal reclaimed space: 1.24kB\n"
        );
    }
}
