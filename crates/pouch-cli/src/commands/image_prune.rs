//! `pouch image prune [-a] [-f]`: removes dangling (or, with `-a`, all unused) images.

use pouch_client::Client;

use crate::commands::pruning;

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

pub async fn run(client: &Client, args: PruneArgs) -> anyhow::Result<()> {
    let mut filters = super::parse_filters(&args.filter)?;
    filters.add("dangling", if args.all { "false" } else { "true" });
    if !args.force {
        let warning = if args.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        if !pruning::confirm(warning)? {
            return Ok(());
        }
    }
    let report = client.prune_images(&filters).await?;
    let deleted = report.images_deleted.unwrap_or_default();
    let list = pruning::deleted_list("Images", &deleted, |item| {
        if let Some(u) = &item.untagged {
            Some(format!("untagged: {u}"))
        } else {
            item.deleted.as_ref().map(|d| format!("deleted: {d}"))
        }
    });
    print!("{list}{}", pruning::reclaimed_line(report.space_reclaimed));
    Ok(())
}
