//! What the prune commands (`container`, `image`, `network` and `volume prune`) share:
//! docker's confirmation prompt and the report of what went and the space reclaimed.

use std::io::{self, BufRead, Write};

use crate::output::human_size;

/// The flags of `container prune` and `network prune`.
#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long)]
    pub filter: Vec<String>,
}

/// Prints `warning` and docker's `[y/N]` question; true when the answer is `y` or `yes`.
pub fn confirm(warning: &str) -> anyhow::Result<bool> {
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    io::stdout().flush()?;
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// `Deleted <what>:`, then the line `line` gives for each item (an item without one prints
/// nothing) and an empty line; nothing at all when no item went.
pub fn deleted_list<T>(what: &str, items: &[T], line: impl Fn(&T) -> Option<String>) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut out = format!("Deleted {what}:\n");
    for item in items {
        if let Some(text) = line(item) {
            out.push_str(&text);
            out.push('\n');
        }
    }
    out.push('\n');
    out
}

/// `Total reclaimed space: <size>` and a newline.
pub fn reclaimed_line(bytes: i64) -> String {
    format!("Total reclaimed space: {}\n", human_size(bytes))
}

/// The list of the names that went and the space reclaimed, which docker counts only when
/// something was deleted.
pub fn report(what: &str, deleted: &[String], reclaimed: u64) -> String {
    let reclaimed = if deleted.is_empty() { 0 } else { reclaimed };
    let mut out = deleted_list(what, deleted, |name| Some(name.clone()));
    out.push_str(&reclaimed_line(
        i64::try_from(reclaimed).unwrap_or(i64::MAX),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_only_what_went() {
        let none: [String; 0] = [];
        assert_eq!(deleted_list("Networks", &none, |n| Some(n.clone())), "");
        assert_eq!(
            deleted_list("Images", &[Some("a"), None, Some("b")], |i| i
                .map(|s| format!("deleted: {s}"))),
            "Deleted Images:\ndeleted: a\ndeleted: b\n\n"
        );
    }

    #[test]
    fn space_counts_only_with_deletions() {
        assert_eq!(report("Volumes", &[], 7), "Total reclaimed space: 0B\n");
        assert_eq!(
            report("Containers", &["abc".into()], 1_240),
            "Deleted Containers:\nabc\n\nTotal reclaimed space: 1.24kB\n"
        );
        assert_eq!(reclaimed_line(0), "Total reclaimed space: 0B\n");
    }
}
