//! `pouch system df [-v]`: disk usage summary (TYPE TOTAL ACTIVE SIZE RECLAIMABLE), as docker
//! computes it from `GET /system/df`; with `-v`, docker's per-object tables (images,
//! containers, local volumes, build cache) instead.

use pouch_api::container::ContainerSummary;
use pouch_api::image::ImageSummary;
use pouch_api::reference::Reference;
use pouch_api::system::SystemDf;
use pouch_client::Client;
use serde_json::{json, Value};

use super::container::format::render as render_table;
use super::container::ps;
use super::volume::ls as volume_ls;
use crate::output::{human_size, human_size_prec, now_unix, short_id, time_ago, Table};

#[derive(Debug, clap::Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
}

fn reclaimable(reclaim: i64, total: i64) -> String {
    if total > 0 {
        format!("{} ({}%)", human_size(reclaim), reclaim * 100 / total)
    } else {
        human_size(reclaim)
    }
}

fn num(v: &Value, path: &[&str]) -> i64 {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(n) => cur = n,
            None => return 0,
        }
    }
    cur.as_i64().unwrap_or(0)
}

pub fn render(df: &SystemDf) -> String {
    let mut table = Table::new(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]);

    let images_active = df.images.iter().filter(|i| i.containers > 0).count();
    let used: i64 = df
        .images
        .iter()
        .filter(|i| i.containers > 0 && i.shared_size != -1)
        .map(|i| i.size - i.shared_size)
        .sum();
    table.row(vec![
        "Images".into(),
        df.images.len().to_string(),
        images_active.to_string(),
        human_size(df.layers_size),
        reclaimable(df.layers_size - used, df.layers_size),
    ]);

    let running = |c: &&Value| c.get("State").and_then(Value::as_str) == Some("running");
    let c_size: i64 = df.containers.iter().map(|c| num(c, &["SizeRw"])).sum();
    let c_reclaim: i64 = df
        .containers
        .iter()
        .filter(|c| !running(c))
        .map(|c| num(c, &["SizeRw"]))
        .sum();
    table.row(vec![
        "Containers".into(),
        df.containers.len().to_string(),
        df.containers.iter().filter(running).count().to_string(),
        human_size(c_size),
        reclaimable(c_reclaim, c_size),
    ]);

    // docker's volume figures: sizes of -1 (unknown) are left out; a volume is active when a
    // container refers to it.
    let usage = |v: &pouch_api::volume::Volume| {
        v.usage_data
            .as_ref()
            .map_or((-1, 0), |u| (u.size, u.ref_count))
    };
    let known = || df.volumes.iter().map(usage).filter(|(size, _)| *size != -1);
    let v_size: i64 = known().map(|(size, _)| size).sum();
    let v_reclaim: i64 = known()
        .filter(|(_, refs)| *refs == 0)
        .map(|(size, _)| size)
        .sum();
    let v_active = df.volumes.iter().filter(|v| usage(v).1 > 0).count();
    table.row(vec![
        "Local Volumes".into(),
        df.volumes.len().to_string(),
        v_active.to_string(),
        human_size(v_size),
        reclaimable(v_reclaim, v_size),
    ]);

    let in_use = |b: &&Value| b.get("InUse").and_then(Value::as_bool) == Some(true);
    let shared = |b: &&Value| b.get("Shared").and_then(Value::as_bool) == Some(true);
    let b_size: i64 = df.build_cache.iter().map(|b| num(b, &["Size"])).sum();
    let b_reclaim: i64 = df
        .build_cache
        .iter()
        .filter(|b| !in_use(b) && !shared(b))
        .map(|b| num(b, &["Size"]))
        .sum();
    table.row(vec![
        "Build Cache".into(),
        df.build_cache.len().to_string(),
        df.build_cache.iter().filter(in_use).count().to_string(),
        human_size(b_size),
        human_size(b_reclaim),
    ]);
    table.render()
}

const IMAGES_TABLE: &str = "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t\
                            {{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}";
const CONTAINERS_TABLE: &str = "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t\
                                {{.RunningFor}}\t{{.Status}}\t{{.Names}}";
const VOLUMES_TABLE: &str = "{{.Name}}\t{{.Links}}\t{{.Size}}";
const BUILD_CACHE_HEADER: &str = "CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED";

/// The fields of one image row of `df -v` (docker's `imageContext`, truncated ids); `None`
/// for an image whose first tag does not parse (docker skips it).
fn image_row(img: &ImageSummary, now: i64) -> Option<Value> {
    let dangling = img.repo_tags.is_empty() || img.repo_tags == ["<none>:<none>"];
    let (mut repo, mut tag) = ("<none>".to_string(), "<none>".to_string());
    if !dangling {
        let r = Reference::parse_as_typed(&img.repo_tags[0]).ok()?;
        if let Some(t) = &r.tag {
            repo = r.familiar_repo();
            tag = t.clone();
        }
    }
    let na_or = |n: i64, f: &dyn Fn() -> String| if n == -1 { "N/A".into() } else { f() };
    Some(json!({
        "Repository": repo,
        "Tag": tag,
        "ID": short_id(&img.id),
        "CreatedSince": time_ago(img.created, now),
        "Size": human_size_prec(img.size, 3),
        "SharedSize": na_or(img.shared_size, &|| human_size_prec(img.shared_size, 3)),
        "UniqueSize": na_or(img.shared_size, &|| human_size_prec(img.size - img.shared_size, 3)),
        "Containers": na_or(img.containers, &|| img.containers.to_string()),
    }))
}

/// Go's tabwriter over `header` and `rows` run through `row_text` (docker's table layout).
fn section(header: Value, row_text: &str, rows: &[Value]) -> anyhow::Result<String> {
    Ok(render_table(true, row_text, row_text, &header, rows)?)
}

/// `system df -v`: docker's four sections, each a table (the header alone when empty).
pub fn render_verbose(df: &SystemDf, now: i64) -> anyhow::Result<String> {
    let mut out = String::from("Images space usage:\n\n");
    let images: Vec<Value> = df.images.iter().filter_map(|i| image_row(i, now)).collect();
    out.push_str(&section(
        json!({
            "Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID",
            "CreatedSince": "CREATED", "Size": "SIZE", "SharedSize": "SHARED SIZE",
            "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS",
        }),
        IMAGES_TABLE,
        &images,
    )?);

    out.push_str("\nContainers space usage:\n\n");
    let mut containers = Vec::new();
    for raw in &df.containers {
        let mut c: ContainerSummary = serde_json::from_value(raw.clone())?;
        // docker leaves the virtual size out here.
        c.size_root_fs = None;
        containers.push(ps::row(&c, true, now, false));
    }
    out.push_str(&section(
        json!({
            "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
            "LocalVolumes": "LOCAL VOLUMES", "Size": "SIZE", "RunningFor": "CREATED",
            "Status": "STATUS", "Names": "NAMES",
        }),
        CONTAINERS_TABLE,
        &containers,
    )?);

    out.push_str("\nLocal Volumes space usage:\n\n");
    let volumes: Vec<Value> = df
        .volumes
        .iter()
        .map(|v| volume_ls::row(v, false))
        .collect();
    out.push_str(&section(volume_ls::header(), VOLUMES_TABLE, &volumes)?);

    // pouchd has no builder: the build cache is always empty, so only its header shows.
    let b_size: i64 = df.build_cache.iter().map(|b| num(b, &["Size"])).sum();
    out.push_str(&format!("\nBuild cache usage: {}\n\n", human_size(b_size)));
    out.push_str(&section(json!({}), BUILD_CACHE_HEADER, &[])?);
    Ok(out)
}

pub async fn run(client: &Client, args: DfArgs) -> anyhow::Result<()> {
    let df = client.system_df().await?;
    if args.verbose {
        print!("{}", render_verbose(&df, now_unix())?);
    } else {
        print!("{}", render(&df));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::volume::{UsageData, Volume};

    fn volume(name: &str, size: i64, refs: i64) -> Volume {
        Volume {
            name: name.into(),
            driver: "local".into(),
            scope: "local".into(),
            usage_data: Some(UsageData {
                size,
                ref_count: refs,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn df_table() {
        let df = SystemDf {
            layers_size: 16_430_000,
            images: vec![
                ImageSummary {
                    size: 4_800_000,
                    shared_size: 0,
                    containers: 1,
                    ..Default::default()
                },
                ImageSummary::default(),
            ],
            ..Default::default()
        };
        let text = render(&df);
        let expected = "\
TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE
Images          2         1         16.43MB   11.63MB (70%)
Containers      0         0         0B        0B
Local Volumes   0         0         0B        0B
Build Cache     0         0         0B        0B
";
        assert_eq!(text, expected);
    }

    #[test]
    fn local_volumes_line() {
        let df = SystemDf {
            volumes: vec![
                volume("used", 3_000, 1),
                volume("idle", 1_000, 0),
                volume("unknown", -1, 0),
            ],
            ..Default::default()
        };
        let text = render(&df);
        let line = text
            .lines()
            .find(|l| l.starts_with("Local Volumes"))
            .unwrap();
        assert_eq!(
            line,
            "Local Volumes   3         1         4kB       1kB (25%)"
        );
    }

    #[test]
    fn verbose_like_docker() {
        let now = 1_700_000_000;
        let df = SystemDf {
            layers_size: 4_264_123,
            images: vec![ImageSummary {
                id: format!("sha256:{}", "ab12".repeat(16)),
                repo_tags: vec!["busybox:latest".into()],
                created: now - 3 * 86_400,
                size: 4_264_123,
                shared_size: 0,
                containers: 1,
                ..Default::default()
            }],
            containers: vec![json!({
                "Id": "cd34".repeat(16),
                "Names": ["/web"],
                "Image": "busybox",
                "ImageID": format!("sha256:{}", "ab12".repeat(16)),
                "Command": "sleep 100",
                "Created": now - 120,
                "State": "running",
                "Status": "Up 2 minutes",
                "SizeRw": 12,
                "SizeRootFs": 4_264_135,
                "Mounts": [{"Type": "volume", "Name": "data", "Driver": "local",
                            "Source": "/v/data/_data", "Destination": "/data"}],
            })],
            volumes: vec![volume("data", 12_345, 1)],
            build_cache: vec![],
        };
        let expected = "\
Images space usage:

REPOSITORY   TAG       IMAGE ID       CREATED      SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS
busybox      latest    ab12ab12ab12   3 days ago   4.26MB    0B            4.26MB        1

Containers space usage:

CONTAINER ID   IMAGE     COMMAND       LOCAL VOLUMES   SIZE      CREATED         STATUS         NAMES
cd34cd34cd34   busybox   \"sleep 100\"   1               12B       2 minutes ago   Up 2 minutes   web

Local Volumes space usage:

VOLUME NAME   LINKS     SIZE
data          1         12.35kB

Build cache usage: 0B

CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED
";
        assert_eq!(render_verbose(&df, now).unwrap(), expected);
    }

    #[test]
    fn verbose_when_empty() {
        let text = render_verbose(&SystemDf::default(), 0).unwrap();
        assert!(text.contains(
            "\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\n\nBuild cache usage: 0B\n"
        ));
    }
}
