//! `pouch image prune [-a] [-f]`: removes dangling (or, with `-a`, all unused) images.

use std::io::{self, BufRead, Write};

use pouch_client::Client;

use crate::output::human_size;

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long)]
    pub filter: Vec<String>,
}

fn confirm(warning: &str) -> anyhow::Result<bool> {
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    io::stdout().flush()?;
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim().to_lowercase().as_str(), "y" | "yes"))
}

pub async fn run(client: &Client, args: PruneArgs) -> anyhow::Result<()> {
    let mut filters = super::parse_filters(&args.filter)?;
    filters.add("dangling", if args.all { "false" } else { "true" });
    if !args.force {
        let warning = if args.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        if !confirm(warning)? {
            return Ok(());
        }
    }
    let report = client.prune_images(&filters).await?;
    let deleted = report.images_deleted.unwrap_or_default();
    if !deleted.is_empty() {
        println!("Deleted Images:");
        for item in deleted {
            if let Some(u) = item.untagged {
                println!("untagged: {u}");
            } else if let Some(d) = item.deleted {
                println!("deleted: {d}");
            }
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        human_size(report.space_reclaimed)
    );
    Ok(())
}
