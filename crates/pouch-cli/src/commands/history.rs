//! `pouch history IMAGE`: the layers of an image (IMAGE CREATED CREATED BY SIZE COMMENT).

use pouch_api::image::HistoryItem;
use pouch_client::Client;

use crate::output::{ellipsis, human_size_prec, now_unix, short_id, time_ago, Table};

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Image to show
    pub image: String,
}

pub fn render(items: &[HistoryItem], no_trunc: bool, quiet: bool, now: i64) -> String {
    let id = |item: &HistoryItem| {
        if no_trunc {
            item.id.clone()
        } else {
            short_id(&item.id)
        }
    };
    if quiet {
        return items.iter().map(|i| format!("{}\n", id(i))).collect();
    }
    let mut table = Table::new(&["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]);
    for item in items {
        let created_by = item.created_by.replace('\t', " ");
        table.row(vec![
            id(item),
            time_ago(item.created, now),
            if no_trunc {
                created_by
            } else {
                ellipsis(&created_by, 45)
            },
            human_size_prec(item.size, 3),
            item.comment.clone(),
        ]);
    }
    table.render()
}

pub async fn run(client: &Client, args: HistoryArgs) -> anyhow::Result<()> {
    let items = client.history(&args.image).await?;
    print!("{}", render(&items, args.no_trunc, args.quiet, now_unix()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_table() {
        let items = vec![
            HistoryItem {
                id: format!("sha256:{}", "f".repeat(64)),
                created: 0,
                created_by: "/bin/sh -c #(nop)  CMD [\"sh\"]".into(),
                size: 0,
                ..Default::default()
            },
            HistoryItem {
                id: "<missing>".into(),
                created: 0,
                created_by: "/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789 in / ".into(),
                size: 4_264_123,
                comment: "imported".into(),
                ..Default::default()
            },
        ];
        let text = render(&items, false, false, 7200);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "IMAGE          CREATED       CREATED BY                                      SIZE      COMMENT"
        );
        assert!(
            lines[1].starts_with("ffffffffffff   2 hours ago   /bin/sh -c #(nop)  CMD [\"sh\"]")
        );
        assert!(lines[2].contains("/bin/sh -c #(nop) ADD file:0123456789abcdef0…"));
        assert!(lines[2].ends_with("4.26MB    imported"));
        assert_eq!(render(&items, false, true, 0), "ffffffffffff\n<missing>\n");
    }
}
