//! `pouch network ls`: the networks sorted by name as docker prints them (`NETWORK ID   NAME
//! DRIVER   SCOPE`), or through `--format` with docker's fields (`.ID .Name .Driver .Scope
//! .IPv4 .IPv6 .Internal .Labels .Label "k" .CreatedAt`), `-q` for ids only.

use pouch_api::network::Network;
use pouch_client::Client;
use serde_json::{json, Map, Value};

use crate::commands::container::format::{natural_cmp, FormatSpec};
use crate::commands::container::ps::render_rows;
use crate::output::short_id;

const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Only display network IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or TEMPLATE
    #[arg(long)]
    pub format: Option<String>,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
}

/// Go's `time.Time.String()` of an RFC 3339 time: `2024-01-02 03:04:05.123456789 +0000 UTC`
/// (fraction without trailing zeros); the text itself when it does not parse.
pub fn go_time_text(rfc3339: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(rfc3339) else {
        return rfc3339.to_string();
    };
    let nanos = format!("{:09}", t.timestamp_subsec_nanos());
    let frac = nanos.trim_end_matches('0');
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    let offset = t.offset().local_minus_utc();
    let zone = if offset == 0 {
        "UTC".to_string()
    } else {
        t.format("%z").to_string()
    };
    format!(
        "{}{frac} {} {zone}",
        t.format("%Y-%m-%d %H:%M:%S"),
        t.format("%z")
    )
}

/// One network as docker's format context sees it.
fn row(n: &Network, trunc: bool, with_label_values: bool) -> Value {
    let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut m = Map::new();
    m.insert("CreatedAt".into(), json!(go_time_text(&n.created)));
    m.insert("Driver".into(), json!(n.driver));
    m.insert(
        "ID".into(),
        json!(if trunc { short_id(&n.id) } else { n.id.clone() }),
    );
    m.insert("IPv4".into(), json!("true"));
    m.insert("IPv6".into(), json!(n.enable_ipv6.to_string()));
    m.insert("Internal".into(), json!(n.internal.to_string()));
    m.insert("Labels".into(), json!(labels.join(",")));
    if with_label_values {
        m.insert("LabelValues".into(), json!(n.labels));
    }
    m.insert("Name".into(), json!(n.name));
    m.insert("Scope".into(), json!(n.scope));
    Value::Object(m)
}

fn header() -> Value {
    json!({
        "ID": "NETWORK ID",
        "Name": "NAME",
        "Driver": "DRIVER",
        "Scope": "SCOPE",
        "IPv4": "IPV4",
        "IPv6": "IPV6",
        "Internal": "INTERNAL",
        "Labels": "LABELS",
        "CreatedAt": "CREATED AT",
    })
}

/// The whole output of `network ls` for `networks`.
pub fn render_list(networks: &[Network], args: &LsArgs) -> anyhow::Result<String> {
    let mut networks: Vec<&Network> = networks.iter().collect();
    networks.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let user = args.format.as_deref().filter(|f| !f.is_empty());
    let spec = match user {
        None | Some("table") if args.quiet => FormatSpec {
            table: false,
            text: "{{.ID}}".into(),
        },
        Some("raw") if args.quiet => FormatSpec {
            table: false,
            text: "network_id: {{.ID}}".into(),
        },
        Some("raw") => FormatSpec {
            table: false,
            text: "network_id: {{.ID}}\nname: {{.Name}}\ndriver: {{.Driver}}\nscope: {{.Scope}}\n"
                .into(),
        },
        _ => FormatSpec::parse(user, DEFAULT_TABLE),
    };
    render_rows(&spec, &header(), &networks, |n, with_label_values| {
        row(n, !args.no_trunc, with_label_values)
    })
}

pub async fn run(client: &Client, args: LsArgs) -> anyhow::Result<()> {
    let filters = crate::commands::parse_filters(&args.filter)?;
    let networks = client.network_list(&filters).await?;
    print!("{}", render_list(&networks, &args)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn args() -> LsArgs {
        LsArgs {
            quiet: false,
            filter: vec![],
            format: None,
            no_trunc: false,
        }
    }

    fn net(name: &str, id: char, driver: &str) -> Network {
        Network {
            name: name.into(),
            id: id.to_string().repeat(64),
            created: "2024-01-02T03:04:05.5Z".into(),
            scope: "local".into(),
            driver: driver.into(),
            ..Default::default()
        }
    }

    fn list() -> Vec<Network> {
        let mut web = net("web10", 'c', "bridge");
        web.labels = BTreeMap::from([("com.example.tier".into(), "front".into())]);
        vec![
            net("none", 'b', "null"),
            web,
            net("bridge", 'a', "bridge"),
            net("web9", 'd', "macvlan"),
            net("host", 'e', "host"),
        ]
    }

    #[test]
    fn table_like_docker() {
        let text = render_list(&list(), &args()).unwrap();
        let expected = "\
NETWORK ID     NAME      DRIVER    SCOPE
aaaaaaaaaaaa   bridge    bridge    local
eeeeeeeeeeee   host      host      local
bbbbbbbbbbbb   none      null      local
dddddddddddd   web9      macvlan   local
cccccccccccc   web10     bridge    local
";
        assert_eq!(text, expected);
    }

    #[test]
    fn quiet_no_trunc_and_formats() {
        let mut a = args();
        a.quiet = true;
        let text = render_list(&list()[..1], &a).unwrap();
        assert_eq!(text, "bbbbbbbbbbbb\n");
        a.no_trunc = true;
        assert_eq!(
            render_list(&list()[..1], &a).unwrap(),
            format!("{}\n", "b".repeat(64))
        );

        let mut a = args();
        a.format = Some("{{.Name}} {{.IPv6}} {{.Internal}} {{.Labels}}".into());
        let text = render_list(&list(), &a).unwrap();
        assert!(
            text.contains("web10 false false com.example.tier=front\n"),
            "{text}"
        );
        a.format = Some("table {{.Name}}\t{{.Label \"com.example.tier\"}}".into());
        let text = render_list(&list()[1..2], &a).unwrap();
        assert_eq!(text, "NAME      tier\nweb10     front\n");
        a.format = Some("json".into());
        let text = render_list(&list()[..1], &a).unwrap();
        let v: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["Name"], "none");
        assert_eq!(v["CreatedAt"], "2024-01-02 03:04:05.5 +0000 UTC");
    }

    #[test]
    fn go_time_strings() {
        assert_eq!(
            go_time_text("2024-01-02T03:04:05.123456789Z"),
            "2024-01-02 03:04:05.123456789 +0000 UTC"
        );
        assert_eq!(
            go_time_text("2024-01-02T03:04:05Z"),
            "2024-01-02 03:04:05 +0000 UTC"
        );
        assert_eq!(
            go_time_text("2024-01-02T03:04:05.10+02:00"),
            "2024-01-02 03:04:05.1 +0200 +0200"
        );
        assert_eq!(go_time_text("soon"), "soon");
    }
}
