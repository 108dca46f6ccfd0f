//! `pouch system df`: disk usage summary (TYPE TOTAL ACTIVE SIZE RECLAIMABLE), as docker
//! computes it from `GET /system/df`.

use pouch_api::system::SystemDf;
use pouch_client::Client;
use serde_json::Value;

use crate::output::{human_size, Table};

#[derive(Debug, clap::Args)]
pub struct DfArgs {}

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

    let v_size: i64 = df
        .volumes
        .iter()
        .map(|v| num(v, &["UsageData", "Size"]).max(0))
        .sum();
    let v_active = df
        .volumes
        .iter()
        .filter(|v| num(v, &["UsageData", "RefCount"]) > 0)
        .count();
    let v_reclaim: i64 = df
        .volumes
        .iter()
        .filter(|v| num(v, &["UsageData", "RefCount"]) == 0)
        .map(|v| num(v, &["UsageData", "Size"]).max(0))
        .sum();
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

pub async fn run(client: &Client, _args: DfArgs) -> anyhow::Result<()> {
    let df = client.system_df().await?;
    print!("{}", render(&df));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::image::ImageSummary;

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
}
