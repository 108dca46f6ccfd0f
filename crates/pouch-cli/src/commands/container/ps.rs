//! `pouch ps`: the container list as docker prints it (`CONTAINER ID   IMAGE   COMMAND
//! CREATED   STATUS   PORTS   NAMES`), or through `--format` with docker's container fields
//! (`.ID .Image .Command .CreatedAt .RunningFor .Ports .State .Status .Size .Names .Labels
//! .Label "k" .Mounts .LocalVolumes .Networks`), `-q` for ids only.

use std::collections::BTreeMap;

use pouch_api::container::{ContainerSummary, Port};
use pouch_api::reference::Reference;
use pouch_client::Client;
use serde_json::{json, Map, Value};

use super::format::{go_quote, join_host_port, render, FormatSpec};
use super::time::{go_time_string, local_offset};
use crate::output::{ellipsis, human_duration, human_size_prec, now_unix, short_id};

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Filter output based on conditions provided (key=value)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or TEMPLATE
    #[arg(long)]
    pub format: Option<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", default_value_t = -1, allow_negative_numbers = true)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short, long)]
    pub latest: bool,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
}

/// docker's `DisplayablePorts`: consecutive ports of one IP and protocol grouped into ranges
/// (`0.0.0.0:8000-8001->8000-8001/tcp`), mappings to another port listed after the groups.
pub fn displayable_ports(ports: &[Port]) -> String {
    let mut ports = ports.to_vec();
    ports.sort_by(|a, b| {
        (a.private_port, &a.ip, a.public_port.unwrap_or(0), &a.kind).cmp(&(
            b.private_port,
            &b.ip,
            b.public_port.unwrap_or(0),
            &b.kind,
        ))
    });
    let mut groups: BTreeMap<String, (u16, u16)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut result = Vec::new();
    let mut host_mappings = Vec::new();
    for p in &ports {
        let current = p.private_port;
        let mut key = p.kind.clone();
        if !p.ip.is_empty() {
            let public = p.public_port.unwrap_or(0);
            if public != current {
                host_mappings.push(format!(
                    "{}->{}/{}",
                    join_host_port(&p.ip, &public.to_string()),
                    p.private_port,
                    p.kind
                ));
                continue;
            }
            key = format!("{}/{}", p.ip, p.kind);
        }
        match groups.get_mut(&key) {
            None => {
                groups.insert(key.clone(), (current, current));
                order.push(key);
            }
            Some(g) if g.1.checked_add(1) == Some(current) => g.1 = current,
            Some(g) => {
                result.push(form_group(&key, g.0, g.1));
                *g = (current, current);
            }
        }
    }
    for key in &order {
        let (first, last) = groups[key];
        result.push(form_group(key, first, last));
    }
    result.extend(host_mappings);
    result.join(", ")
}

fn form_group(key: &str, first: u16, last: u16) -> String {
    let (ip, kind) = match key.rsplit_once('/') {
        Some((ip, kind)) => (ip, kind),
        None => ("", key),
    };
    let mut group = first.to_string();
    if first != last {
        group = format!("{group}-{last}");
    }
    if !ip.is_empty() {
        group = format!("{}->{group}", join_host_port(ip, &group));
    }
    format!("{group}/{kind}")
}

/// The image column: with truncation, an image id shortened, a digest dropped (the tag
/// kept) and the name in its familiar form.
fn image_field(c: &ContainerSummary, trunc: bool) -> String {
    if c.image.is_empty() {
        return "<no image>".into();
    }
    if !trunc {
        return c.image.clone();
    }
    let short = short_id(&c.image_id);
    if short == short_id(&c.image) {
        return short;
    }
    match Reference::parse_as_typed(&c.image) {
        Ok(mut r) => {
            r.digest = None;
            r.familiar()
        }
        Err(_) => c.image.clone(),
    }
}

fn names_field(names: &[String], trunc: bool) -> String {
    let stripped: Vec<&str> = names.iter().map(|n| n.trim_start_matches('/')).collect();
    if trunc {
        // Only the first name that is not a legacy link (`/other/alias`).
        return stripped
            .iter()
            .find(|n| !n.contains('/'))
            .map(|n| n.to_string())
            .unwrap_or_default();
    }
    stripped.join(",")
}

/// The template fields of one container, as docker's `ContainerContext` exposes them.
pub fn row(c: &ContainerSummary, trunc: bool, now: i64, with_label_values: bool) -> Value {
    let command = if trunc {
        ellipsis(&c.command, 20)
    } else {
        c.command.clone()
    };
    let mut size = human_size_prec(c.size_rw.unwrap_or(0), 3);
    let root = c.size_root_fs.unwrap_or(0);
    if root > 0 {
        size = format!("{size} (virtual {})", human_size_prec(root, 3));
    }
    let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mounts: Vec<String> = c
        .mounts
        .iter()
        .map(|m| {
            let name = if m.name.is_empty() {
                &m.source
            } else {
                &m.name
            };
            if trunc {
                ellipsis(name, 15)
            } else {
                name.clone()
            }
        })
        .collect();
    let local_volumes = c.mounts.iter().filter(|m| m.driver == "local").count();
    let networks: Vec<&str> = c
        .network_settings
        .networks
        .keys()
        .map(String::as_str)
        .collect();
    let mut m = Map::new();
    m.insert("Command".into(), json!(go_quote(&command)));
    m.insert(
        "CreatedAt".into(),
        json!(go_time_string(c.created, local_offset(c.created))),
    );
    m.insert(
        "ID".into(),
        json!(if trunc { short_id(&c.id) } else { c.id.clone() }),
    );
    m.insert("Image".into(), json!(image_field(c, trunc)));
    m.insert("Labels".into(), json!(labels.join(",")));
    if with_label_values {
        m.insert("LabelValues".into(), json!(c.labels));
    }
    m.insert("LocalVolumes".into(), json!(local_volumes.to_string()));
    m.insert("Mounts".into(), json!(mounts.join(",")));
    m.insert("Names".into(), json!(names_field(&c.names, trunc)));
    m.insert("Networks".into(), json!(networks.join(",")));
    m.insert("Ports".into(), json!(displayable_ports(&c.ports)));
    m.insert(
        "RunningFor".into(),
        json!(format!("{} ago", human_duration(now - c.created))),
    );
    m.insert("Size".into(), json!(size));
    m.insert("State".into(), json!(c.state));
    m.insert("Status".into(), json!(c.status));
    Value::Object(m)
}

fn header() -> Value {
    json!({
        "ID": "CONTAINER ID",
        "Names": "NAMES",
        "Image": "IMAGE",
        "Command": "COMMAND",
        "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED",
        "Ports": "PORTS",
        "State": "STATE",
        "Status": "STATUS",
        "Size": "SIZE",
        "Labels": "LABELS",
        "Mounts": "MOUNTS",
        "LocalVolumes": "LOCAL VOLUMES",
        "Networks": "NETWORKS",
    })
}

/// Rewrites docker's method call `.Label "key"` (which the JSON-based template engine has no
/// notion of) inside actions: `replace(key)` gives the text put in its place.
pub fn rewrite_label_calls(text: &str, replace: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let action_start = open;
        let Some(close) = rest[action_start..].find("}}").map(|i| action_start + i) else {
            out.push_str(&rest[open..]);
            return out;
        };
        out.push_str(&rewrite_action(&rest[action_start..close], &replace));
        out.push_str("}}");
        rest = &rest[close + 2..];
    }
    out.push_str(rest);
    out
}

fn rewrite_action(action: &str, replace: &impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(action.len());
    let bytes = action.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'"' || c == b'`' {
            let end = string_end(action, i).unwrap_or(action.len());
            out.push_str(&action[i..end]);
            i = end;
            continue;
        }
        let prev_ok = i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric()
                || matches!(bytes[i - 1], b'_' | b'.' | b')' | b'$'));
        if prev_ok && action[i..].starts_with(".Label") {
            let after = i + ".Label".len();
            let ws = action[after..]
                .find(|ch: char| !ch.is_whitespace())
                .map(|n| after + n);
            if let Some(arg) = ws.filter(|&a| a > after) {
                if let Some(end) = string_end(action, arg) {
                    if let Some(key) = string_value(&action[arg..end]) {
                        out.push_str(&replace(&key));
                        i = end;
                        continue;
                    }
                }
            }
        }
        let ch = action[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// The end (exclusive) of the Go string literal starting at `start`.
fn string_end(s: &str, start: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let quote = *bytes.get(start)?;
    if quote != b'"' && quote != b'`' {
        return None;
    }
    let mut i = start + 1;
    while i < bytes.len() {
        if quote == b'"' && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

fn string_value(literal: &str) -> Option<String> {
    if let Some(raw) = literal.strip_prefix('`') {
        return raw.strip_suffix('`').map(str::to_string);
    }
    serde_json::from_str(literal).ok()
}

/// docker's header for `.Label "a.b.c-d"`: the last dotted part, `-`/`_` as spaces.
fn label_header(key: &str) -> String {
    key.rsplit('.')
        .next()
        .unwrap_or(key)
        .replace(['-', '_'], " ")
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Renders `items` with `spec` and the column titles `header`, as docker's formatters do:
/// `row(item, with_label_values)` gives an item's fields, with `LabelValues` (the label map)
/// when the template uses docker's `.Label "k"` call, which becomes the label's title in the
/// header and `(or (index .LabelValues "k") "")` in the rows.
pub fn render_rows<T>(
    spec: &FormatSpec,
    header: &Value,
    items: &[T],
    row: impl Fn(&T, bool) -> Value,
) -> anyhow::Result<String> {
    let uses_label = spec.text.contains(".Label ");
    let (header_text, row_text) = if uses_label {
        (
            rewrite_label_calls(&spec.text, |k| quoted(&label_header(k))),
            rewrite_label_calls(&spec.text, |k| {
                format!("(or (index .LabelValues {}) \"\")", quoted(k))
            }),
        )
    } else {
        (spec.text.clone(), spec.text.clone())
    };
    let rows: Vec<Value> = items.iter().map(|item| row(item, uses_label)).collect();
    Ok(render(spec.table, &header_text, &row_text, header, &rows)?)
}

/// The whole output of `ps` for `containers`.
pub fn render_list(
    containers: &[ContainerSummary],
    args: &PsArgs,
    now: i64,
) -> anyhow::Result<String> {
    let trunc = !args.no_trunc;
    let mut default = DEFAULT_TABLE.to_string();
    if args.size {
        default.push_str("\t{{.Size}}");
    }
    let spec = if args.quiet {
        FormatSpec {
            table: false,
            text: "{{.ID}}".into(),
        }
    } else {
        FormatSpec::parse(args.format.as_deref(), &default)
    };
    render_rows(&spec, &header(), containers, |c, with_label_values| {
        row(c, trunc, now, with_label_values)
    })
}

pub async fn run(client: &Client, args: PsArgs) -> anyhow::Result<()> {
    let filters = crate::commands::parse_filters(&args.filter)?;
    let mut limit = args.last;
    if args.latest && limit == -1 {
        limit = 1;
    }
    let size =
        args.size || (!args.quiet && args.format.as_deref().is_some_and(|f| f.contains(".Size")));
    let limit = (limit > 0).then_some(limit);
    let containers = client
        .container_list(args.all, limit, size, &filters)
        .await?;
    print!("{}", render_list(&containers, &args, now_unix())?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::container::{EndpointSettings, MountPoint};

    fn args() -> PsArgs {
        PsArgs {
            all: false,
            quiet: false,
            filter: vec![],
            no_trunc: false,
            format: None,
            last: -1,
            latest: false,
            size: false,
        }
    }

    fn port(ip: &str, private: u16, public: Option<u16>, kind: &str) -> Port {
        Port {
            ip: ip.into(),
            private_port: private,
            public_port: public,
            kind: kind.into(),
        }
    }

    fn container() -> ContainerSummary {
        let mut c = ContainerSummary {
            id: "3c4f5a6b7c8d9e0f".repeat(4),
            names: vec!["/web".into()],
            image: "busybox".into(),
            image_id: format!("sha256:{}", "ab".repeat(32)),
            command: "echo hi".into(),
            created: 1_000,
            state: "running".into(),
            status: "Up 5 seconds".into(),
            ports: vec![port("0.0.0.0", 80, Some(8080), "tcp")],
            ..Default::default()
        };
        c.labels.insert("com.example.tier".into(), "front".into());
        c.labels.insert("a".into(), "b".into());
        c.network_settings
            .networks
            .insert("bridge".into(), EndpointSettings::default());
        c
    }

    #[test]
    fn ports_like_docker() {
        assert_eq!(
            displayable_ports(&[port("0.0.0.0", 80, Some(8080), "tcp")]),
            "0.0.0.0:8080->80/tcp"
        );
        assert_eq!(
            displayable_ports(&[
                port("", 9988, None, "tcp"),
                port("0.0.0.0", 80, Some(8080), "tcp"),
                port("::", 80, Some(8080), "tcp"),
            ]),
            "9988/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
        );
        // Ranges of same-numbered published ports, and of exposed ports.
        assert_eq!(
            displayable_ports(&[
                port("0.0.0.0", 8000, Some(8000), "tcp"),
                port("0.0.0.0", 8001, Some(8001), "tcp"),
                port("", 53, None, "udp"),
                port("", 54, None, "udp"),
                port("", 60, None, "udp"),
            ]),
            "53-54/udp, 60/udp, 0.0.0.0:8000-8001->8000-8001/tcp"
        );
        assert_eq!(displayable_ports(&[]), "");
    }

    #[test]
    fn table_like_docker() {
        let mut c2 = container();
        c2.id = "0123456789abcdef".repeat(4);
        c2.names = vec!["/db".into(), "/web/db".into()];
        c2.command = "docker-entrypoint.sh postgres".into();
        c2.created = 1_000 - 3600 * 2;
        c2.status = "Exited (0) 2 hours ago".into();
        c2.ports = vec![];
        c2.image = "127.0.0.1:5000/pg@sha256:".to_string() + &"c".repeat(64);
        let text = render_list(&[container(), c2], &args(), 1_005).unwrap();
        let expected = "\
CONTAINER ID   IMAGE               COMMAND                  CREATED         STATUS                   PORTS                  NAMES
3c4f5a6b7c8d   busybox             \"echo hi\"                5 seconds ago   Up 5 seconds             0.0.0.0:8080->80/tcp   web
0123456789ab   127.0.0.1:5000/pg   \"docker-entrypoint.s…\"   2 hours ago     Exited (0) 2 hours ago                          db
";
        assert_eq!(text, expected);
        assert_eq!(
            render_list(&[], &args(), 0).unwrap(),
            "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
        );
    }

    #[test]
    fn quiet_no_trunc_and_size() {
        let mut a = args();
        a.quiet = true;
        assert_eq!(
            render_list(&[container()], &a, 0).unwrap(),
            "3c4f5a6b7c8d\n"
        );
        a.no_trunc = true;
        assert_eq!(
            render_list(&[container()], &a, 0).unwrap(),
            format!("{}\n", "3c4f5a6b7c8d9e0f".repeat(4))
        );
        let mut c = container();
        c.size_rw = Some(12);
        c.size_root_fs = Some(4_264_123);
        let v = row(&c, true, 1_000, false);
        assert_eq!(v["Size"], "12B (virtual 4.26MB)");
        let mut a = args();
        a.size = true;
        let text = render_list(&[c], &a, 1_000).unwrap();
        assert!(text.lines().next().unwrap().ends_with("NAMES     SIZE"));
        assert!(text.contains("web       12B (virtual 4.26MB)"));
    }

    #[test]
    fn custom_formats() {
        let mut a = args();
        a.format = Some("{{.Names}}: {{.Command}} {{.Labels}} {{.Networks}} {{.State}}".into());
        assert_eq!(
            render_list(&[container()], &a, 1_000).unwrap(),
            "web: \"echo hi\" a=b,com.example.tier=front bridge running\n"
        );
        a.format =
            Some("table {{.ID}}\\t{{.Label \"com.example.tier\"}}\\t{{.Label \"none\"}}".into());
        assert_eq!(
            render_list(&[container()], &a, 1_000).unwrap(),
            "CONTAINER ID   tier      none\n3c4f5a6b7c8d   front     \n"
        );
        a.format = Some("{{.RunningFor}}|{{.CreatedAt}}".into());
        let out = render_list(&[container()], &a, 1_090).unwrap();
        assert!(out.starts_with("About a minute ago|1970-01-01 "), "{out}");
        a.format = Some("json".into());
        let out = render_list(&[container()], &a, 1_000).unwrap();
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["Names"], "web");
        assert_eq!(v["Ports"], "0.0.0.0:8080->80/tcp");
        assert!(v.get("LabelValues").is_none());
    }

    #[test]
    fn image_names_and_mounts() {
        let mut c = container();
        c.image = "docker.io/library/busybox:1.36".into();
        assert_eq!(image_field(&c, true), "busybox:1.36");
        assert_eq!(image_field(&c, false), "docker.io/library/busybox:1.36");
        c.image = c.image_id.clone();
        assert_eq!(image_field(&c, true), "abababababab");
        c.image = String::new();
        assert_eq!(image_field(&c, true), "<no image>");
        c.mounts = vec![
            MountPoint {
                name: "0123456789abcdef0123".into(),
                driver: "local".into(),
                ..Default::default()
            },
            MountPoint {
                source: "/tmp".into(),
                ..Default::default()
            },
        ];
        let v = row(&c, true, 0, false);
        assert_eq!(v["Mounts"], "0123456789abcd…,/tmp");
        assert_eq!(v["LocalVolumes"], "1");
    }

    #[test]
    fn label_call_rewrite() {
        let r = rewrite_label_calls(
            "x {{.Label \"a.b\"}} {{ .Label `c` | upper }} {{.Labels}} {{\".Label \\\"no\\\"\"}}",
            |k| format!("<{k}>"),
        );
        assert_eq!(
            r,
            "x {{<a.b>}} {{ <c> | upper }} {{.Labels}} {{\".Label \\\"no\\\"\"}}"
        );
        assert_eq!(label_header("com.example.my-tier_x"), "my tier x");
    }
}
