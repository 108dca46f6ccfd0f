//! `pouch volume ls [-q] [-f KEY=VALUE]... [--format FORMAT]`: the volume list as docker
//! prints it (`DRIVER    VOLUME NAME`, sorted by name), or through `--format` with docker's
//! volume fields (`.Name .Driver .Scope .Mountpoint .Labels .Label "k" .Links .Size .Group
//! .Availability .Status`), `-q` for names only.

use pouch_api::volume::Volume;
use pouch_client::Client;
use serde_json::{json, Map, Value};

use crate::commands::container::format::{natural_cmp, FormatSpec};
use crate::commands::container::ps::render_rows;
use crate::output::human_size;

const DEFAULT_TABLE: &str = "table {{.Driver}}\t{{.Name}}";
const QUIET: &str = "{{.Name}}";
const RAW: &str = "name: {{.Name}}\\ndriver: {{.Driver}}\\n";
const RAW_QUIET: &str = "name: {{.Name}}";

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short, long)]
    pub quiet: bool,
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or TEMPLATE
    #[arg(long)]
    pub format: Option<String>,
}

/// The template fields of one volume, as docker's `volumeContext` exposes them (`Links` and
/// `Size` come from `UsageData`, which only `system df` fills in; the cluster fields are
/// `N/A` for local volumes). `LabelValues` backs the `.Label "k"` rewrite.
pub fn row(v: &Volume, with_label_values: bool) -> Value {
    let labels: Vec<String> = v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let (links, size) = match &v.usage_data {
        Some(u) => (u.ref_count.to_string(), human_size(u.size)),
        None => ("N/A".to_string(), "N/A".to_string()),
    };
    let mut m = Map::new();
    m.insert("Availability".into(), json!("N/A"));
    m.insert("Driver".into(), json!(v.driver));
    m.insert("Group".into(), json!("N/A"));
    m.insert("Labels".into(), json!(labels.join(",")));
    if with_label_values {
        m.insert("LabelValues".into(), json!(v.labels));
    }
    m.insert("Links".into(), json!(links));
    m.insert("Mountpoint".into(), json!(v.mountpoint));
    m.insert("Name".into(), json!(v.name));
    m.insert("Scope".into(), json!(v.scope));
    m.insert("Size".into(), json!(size));
    m.insert("Status".into(), json!("N/A"));
    Value::Object(m)
}

/// The column titles of docker's volume table.
pub fn header() -> Value {
    json!({
        "Name": "VOLUME NAME",
        "Group": "GROUP",
        "Driver": "DRIVER",
        "Scope": "SCOPE",
        "Availability": "AVAILABILITY",
        "Mountpoint": "MOUNTPOINT",
        "Labels": "LABELS",
        "Links": "LINKS",
        "Size": "SIZE",
        "Status": "STATUS",
    })
}

/// Renders `volumes` (in the order given) with `spec`, as docker's formatter does.
pub fn render_volumes(volumes: &[Volume], spec: &FormatSpec) -> anyhow::Result<String> {
    render_rows(spec, &header(), volumes, |v, with_label_values| {
        row(v, with_label_values)
    })
}

/// docker's `NewVolumeFormat`: `-q` only changes the default (`table`) and `raw` formats.
pub fn spec(format: Option<&str>, quiet: bool) -> FormatSpec {
    match (format.unwrap_or(""), quiet) {
        ("" | "table", true) => FormatSpec::parse(Some(QUIET), DEFAULT_TABLE),
        ("raw", true) => FormatSpec::parse(Some(RAW_QUIET), DEFAULT_TABLE),
        ("raw", false) => FormatSpec::parse(Some(RAW), DEFAULT_TABLE),
        (f, _) => FormatSpec::parse(Some(f), DEFAULT_TABLE),
    }
}

/// The whole output of `volume ls` for `volumes`, sorted by name as docker sorts them.
pub fn render_list(volumes: &[Volume], args: &LsArgs) -> anyhow::Result<String> {
    let mut sorted = volumes.to_vec();
    sorted.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    render_volumes(&sorted, &spec(args.format.as_deref(), args.quiet))
}

pub async fn run(client: &Client, args: LsArgs) -> anyhow::Result<()> {
    let filters = crate::commands::parse_filters(&args.filter)?;
    let list = client.volume_list(&filters).await?;
    for w in &list.warnings {
        eprintln!("{w}");
    }
    print!("{}", render_list(&list.volumes, &args)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::volume::UsageData;

    fn args(quiet: bool, format: Option<&str>) -> LsArgs {
        LsArgs {
            quiet,
            filter: vec![],
            format: format.map(str::to_string),
        }
    }

    fn vol(name: &str, labels: &[(&str, &str)]) -> Volume {
        Volume {
            name: name.into(),
            driver: "local".into(),
            mountpoint: format!("/var/lib/pouch/volumes/{name}/_data"),
            scope: "local".into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn table_like_docker() {
        let long = "0123456789abcdef".repeat(4);
        let vols = vec![vol("vol10", &[]), vol(&long, &[]), vol("vol9", &[])];
        let expected =
            format!("DRIVER    VOLUME NAME\nlocal     {long}\nlocal     vol9\nlocal     vol10\n");
        assert_eq!(render_list(&vols, &args(false, None)).unwrap(), expected);
        assert_eq!(
            render_list(&[], &args(false, Some("table"))).unwrap(),
            "DRIVER    VOLUME NAME\n"
        );
        assert_eq!(
            render_list(&vols, &args(true, None)).unwrap(),
            format!("{long}\nvol9\nvol10\n")
        );
    }

    #[test]
    fn formats_like_docker() {
        let vols = vec![vol("a", &[("com.example.tier-name", "db"), ("x", "1")])];
        assert_eq!(
            render_list(&vols, &args(true, Some("{{.Name}}:{{.Scope}}:{{.Labels}}"))).unwrap(),
            "a:local:com.example.tier-name=db,x=1\n"
        );
        assert_eq!(
            render_list(
                &vols,
                &args(
                    false,
                    Some("table {{.Name}}\\t{{.Label \"com.example.tier-name\"}}")
                )
            )
            .unwrap(),
            "VOLUME NAME   tier name\na             db\n"
        );
        assert_eq!(
            render_list(
                &vols,
                &args(false, Some("{{.Label \"none\"}}|{{.Links}}|{{.Size}}"))
            )
            .unwrap(),
            "|N/A|N/A\n"
        );
        let json: Value = serde_json::from_str(
            render_list(&vols, &args(false, Some("json")))
                .unwrap()
                .trim(),
        )
        .unwrap();
        assert_eq!(
            json,
            json!({"Availability":"N/A","Driver":"local","Group":"N/A",
                   "Labels":"com.example.tier-name=db,x=1","Links":"N/A",
                   "Mountpoint":"/var/lib/pouch/volumes/a/_data","Name":"a",
                   "Scope":"local","Size":"N/A","Status":"N/A"})
        );
        assert_eq!(
            render_list(&vols, &args(false, Some("raw"))).unwrap(),
            "name: a\ndriver: local\n\n"
        );
        assert_eq!(
            render_list(&vols, &args(true, Some("raw"))).unwrap(),
            "name: a\n"
        );
    }

    #[test]
    fn usage_fields() {
        let mut v = vol("a", &[]);
        v.usage_data = Some(UsageData {
            size: 12_345,
            ref_count: 2,
        });
        let r = row(&v, false);
        assert_eq!(r["Links"], "2");
        assert_eq!(r["Size"], "12.35kB");
    }
}
