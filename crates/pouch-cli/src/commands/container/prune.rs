//! `pouch container prune [-f] [--filter K=V]`: removes all stopped containers after a
//! confirmation, then lists their ids and the space reclaimed.

use std::io::{self, BufRead, Write};

use pouch_client::Client;

use crate::output::human_size;

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long)]
    pub filter: Vec<String>,
}

const WARNING: &str = "WARNING! This will remove all stopped containers.";

fn confirm() -> anyhow::Result<bool> {
    print!("{WARNING}\nAre you sure you want to continue? [y/N] ");
    io::stdout().flush()?;
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// The report after the prune.
pub fn render(deleted: &[String], reclaimed: u64) -> String {
    let mut out = String::new();
    // docker counts the space only when something was deleted.
    let reclaimed = if deleted.is_empty() { 0 } else { reclaimed };
    if !deleted.is_empty() {
        out.push_str("Deleted Containers:\n");
        for id in deleted {
            out.push_str(id);
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        human_size(i64::try_from(reclaimed).unwrap_or(i64::MAX))
    ));
    out
}

pub async fn run(client: &Client, args: PruneArgs) -> anyhow::Result<()> {
    let filters = crate::commands::parse_filters(&args.filter)?;
    if !args.force && !confirm()? {
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
