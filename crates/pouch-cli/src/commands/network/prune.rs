//! `pouch network prune [-f] [--filter K=V]`: removes the user networks no container uses,
//! after a confirmation, then lists their names.

use std::io::{self, BufRead, Write};

use pouch_client::Client;

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long)]
    pub filter: Vec<String>,
}

const WARNING: &str =
    "WARNING! This will remove all custom networks not used by at least one container.";

fn confirm() -> anyhow::Result<bool> {
    print!("{WARNING}\nAre you sure you want to continue? [y/N] ");
    io::stdout().flush()?;
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// The report after the prune: nothing when no network went, else docker's list followed by
/// an empty line.
pub fn render(deleted: &[String]) -> String {
    if deleted.is_empty() {
        return String::new();
    }
    let mut out = "Deleted Networks:\n".to_string();
    for name in deleted {
        out.push_str(name);
        out.push('\n');
    }
    out.push('\n');
    out
}

pub async fn run(client: &Client, args: PruneArgs) -> anyhow::Result<()> {
    let filters = crate::commands::parse_filters(&args.filter)?;
    if !args.force && !confirm()? {
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
