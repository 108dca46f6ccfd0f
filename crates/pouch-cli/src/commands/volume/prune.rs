//! `pouch volume prune [-a] [-f] [--filter KEY=VALUE]...`: removes unused anonymous volumes
//! (all unused ones with `-a`) after a confirmation, then lists them and the space reclaimed.

use pouch_client::Client;

use crate::commands::pruning::{self, confirm};

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short, long)]
    pub all: bool,
    /// Provide filter values (e.g. "label=<label>")
    #[arg(long)]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

const ANONYMOUS_WARNING: &str =
    "WARNING! This will remove anonymous local volumes not used by at least one container.";
const ALL_WARNING: &str =
    "WARNING! This will remove all local volumes not used by at least one container.";

/// The prune filters and the warning to confirm: `-a` adds `all=true` (docker refuses it
/// together with an `all` filter).
pub fn plan(args: &PruneArgs) -> anyhow::Result<(pouch_api::Filters, &'static str)> {
    let mut filters = crate::commands::parse_filters(&args.filter)?;
    if !args.all {
        return Ok((filters, ANONYMOUS_WARNING));
    }
    if !filters.get("all").is_empty() {
        anyhow::bail!("conflicting options: cannot specify both --all and --filter all=1");
    }
    filters.add("all", "true");
    Ok((filters, ALL_WARNING))
}

/// The report after the prune.
pub fn render(deleted: &[String], reclaimed: u64) -> String {
    pruning::report("Volumes", deleted, reclaimed)
}

pub async fn run(client: &Client, args: PruneArgs) -> anyhow::Result<()> {
    let (filters, warning) = plan(&args)?;
    if !args.force && !confirm(warning)? {
        return Ok(());
    }
    let report = client.volume_prune(&filters).await?;
    print!(
        "{}",
        render(&report.volumes_deleted, report.space_reclaimed)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(all: bool, filter: &[&str]) -> PruneArgs {
        PruneArgs {
            all,
            filter: filter.iter().map(|s| s.to_string()).collect(),
            force: true,
        }
    }

    #[test]
    fn filters_and_warnings() {
        let (f, w) = plan(&args(false, &[])).unwrap();
        assert!(f.is_empty());
        assert_eq!(w, ANONYMOUS_WARNING);
        let (f, w) = plan(&args(true, &["label=a=b"])).unwrap();
        assert_eq!(f.get("all"), ["true"]);
        assert_eq!(f.get("label"), ["a=b"]);
        assert_eq!(w, ALL_WARNING);
        let (f, _) = plan(&args(false, &["all=true"])).unwrap();
        assert_eq!(f.get("all"), ["true"]);
        assert!(plan(&args(true, &["all=1"])).is_err());
    }

    #[test]
    fn report_like_docker() {
        assert_eq!(render(&[], 7), "Total reclaimed space: 0B\n");
        assert_eq!(
            render(&["v1".into(), "v2".into()], 1_240),
            "Deleted Volumes:\nv1\nv2\n\nTotal reclaimed space: 1.24kB\n"
        );
    }
}
