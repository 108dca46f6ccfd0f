//! `pouch images` / `pouch image ls`: the image table (REPOSITORY TAG [DIGEST] IMAGE ID
//! CREATED SIZE), one row per repository tag, as docker lays it out.

use pouch_api::image::ImageSummary;
use pouch_api::reference::Reference;
use pouch_client::Client;

use crate::output::{human_size_prec, now_unix, short_id, time_ago, Table};

#[derive(Debug, clap::Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output based on conditions provided (key=value)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Only list images of this repository (REPOSITORY[:TAG])
    pub repository: Option<String>,
}

/// One table row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub repo: String,
    pub tag: String,
    pub digest: String,
}

fn is_dangling(img: &ImageSummary) -> bool {
    (img.repo_tags.is_empty() && img.repo_digests.is_empty())
        || (img.repo_tags == ["<none>:<none>"] && img.repo_digests == ["<none>@<none>"])
}

/// The rows docker shows for one image (its `imageFormatTaggedAndDigest`), in tag order.
pub fn rows_for(img: &ImageSummary, show_digests: bool) -> Vec<Row> {
    let none = "<none>".to_string();
    if is_dangling(img) {
        return vec![Row {
            repo: none.clone(),
            tag: none.clone(),
            digest: none,
        }];
    }
    let mut tags: Vec<(String, Vec<String>)> = Vec::new();
    for text in &img.repo_tags {
        let Ok(r) = Reference::parse_as_typed(text) else {
            continue;
        };
        let Some(tag) = r.tag.clone() else { continue };
        let name = r.familiar_repo();
        match tags.iter_mut().find(|(n, _)| *n == name) {
            Some((_, list)) => list.push(tag),
            None => tags.push((name, vec![tag])),
        }
    }
    let mut digests: Vec<(String, Vec<String>)> = Vec::new();
    for text in &img.repo_digests {
        let Ok(r) = Reference::parse_as_typed(text) else {
            continue;
        };
        let Some(d) = r.digest.clone() else { continue };
        let name = r.familiar_repo();
        match digests.iter_mut().find(|(n, _)| *n == name) {
            Some((_, list)) => list.push(d),
            None => digests.push((name, vec![d])),
        }
    }
    let mut rows = Vec::new();
    for (repo, repo_tags) in &tags {
        let repo_digests = match digests.iter().position(|(n, _)| n == repo) {
            Some(i) => digests.remove(i).1,
            None => Vec::new(),
        };
        for tag in repo_tags {
            if !show_digests || repo_digests.is_empty() {
                rows.push(Row {
                    repo: repo.clone(),
                    tag: tag.clone(),
                    digest: none.clone(),
                });
                continue;
            }
            for d in &repo_digests {
                rows.push(Row {
                    repo: repo.clone(),
                    tag: tag.clone(),
                    digest: d.clone(),
                });
            }
        }
    }
    for (repo, repo_digests) in digests {
        if show_digests {
            for d in repo_digests {
                rows.push(Row {
                    repo: repo.clone(),
                    tag: none.clone(),
                    digest: d,
                });
            }
        } else {
            rows.push(Row {
                repo,
                tag: none.clone(),
                digest: String::new(),
            });
        }
    }
    rows
}

/// The whole table text for `images`.
pub fn render(images: &[ImageSummary], args: &ImagesArgs, now: i64) -> String {
    let id_of = |img: &ImageSummary| {
        if args.no_trunc {
            img.id.clone()
        } else {
            short_id(&img.id)
        }
    };
    if args.quiet {
        let mut out = String::new();
        for img in images {
            for _ in rows_for(img, args.digests) {
                out.push_str(&id_of(img));
                out.push('\n');
            }
        }
        return out;
    }
    let mut header = vec!["REPOSITORY", "TAG"];
    if args.digests {
        header.push("DIGEST");
    }
    header.extend(["IMAGE ID", "CREATED", "SIZE"]);
    let mut table = Table::new(&header);
    for img in images {
        for row in rows_for(img, args.digests) {
            let mut cells = vec![row.repo, row.tag];
            if args.digests {
                cells.push(row.digest);
            }
            cells.push(id_of(img));
            cells.push(time_ago(img.created, now));
            cells.push(human_size_prec(img.size, 3));
            table.row(cells);
        }
    }
    table.render()
}

pub async fn run(client: &Client, args: ImagesArgs) -> anyhow::Result<()> {
    let mut filters = super::parse_filters(&args.filter)?;
    if let Some(repo) = &args.repository {
        filters.add("reference", repo);
    }
    let images = client.images(args.all, &filters).await?;
    print!("{}", render(&images, &args, now_unix()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ImagesArgs {
        ImagesArgs {
            all: false,
            quiet: false,
            digests: false,
            no_trunc: false,
            filter: vec![],
            repository: None,
        }
    }

    fn image(tags: &[&str], digests: &[&str]) -> ImageSummary {
        ImageSummary {
            id: format!("sha256:{}", "ab12".repeat(16)),
            repo_tags: tags.iter().map(|s| s.to_string()).collect(),
            repo_digests: digests.iter().map(|s| s.to_string()).collect(),
            created: 1_000,
            size: 4_264_123,
            ..Default::default()
        }
    }

    #[test]
    fn table_like_docker() {
        let d = format!("busybox@sha256:{}", "c".repeat(64));
        let images = vec![
            image(&["busybox:latest", "busybox:1.36"], &[&d]),
            image(&[], &[]),
            image(&["127.0.0.1:5000/busybox:v1"], &[]),
        ];
        let text = render(&images, &args(), 1_000 + 3 * 86400);
        let expected = "\
REPOSITORY               TAG       IMAGE ID       CREATED      SIZE
busybox                  latest    ab12ab12ab12   3 days ago   4.26MB
busybox                  1.36      ab12ab12ab12   3 days ago   4.26MB
<none>                   <none>    ab12ab12ab12   3 days ago   4.26MB
127.0.0.1:5000/busybox   v1        ab12ab12ab12   3 days ago   4.26MB
";
        assert_eq!(text, expected);
    }

    #[test]
    fn digests_and_quiet() {
        let digest = format!("sha256:{}", "c".repeat(64));
        let images = vec![
            image(&["busybox:latest"], &[&format!("busybox@{digest}")]),
            image(&[], &[&format!("alpine@{digest}")]),
        ];
        let mut a = args();
        a.digests = true;
        let text = render(&images, &a, 1_000);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("REPOSITORY   TAG       DIGEST"));
        assert!(lines[1].contains(&digest) && lines[1].starts_with("busybox "));
        assert!(lines[2].starts_with("alpine ") && lines[2].contains("<none>"));

        let rows = rows_for(&images[1], false);
        assert_eq!(
            rows,
            [Row {
                repo: "alpine".into(),
                tag: "<none>".into(),
                digest: String::new()
            }]
        );

        let mut q = args();
        q.quiet = true;
        assert_eq!(render(&images, &q, 0), "ab12ab12ab12\nab12ab12ab12\n");
        q.no_trunc = true;
        assert_eq!(
            render(&images[..1], &q, 0),
            format!("sha256:{}\n", "ab12".repeat(16))
        );
    }

    #[test]
    fn familiar_names_from_full_references() {
        let img = image(&["docker.io/library/busybox:latest"], &[]);
        assert_eq!(rows_for(&img, false)[0].repo, "busybox");
    }
}
