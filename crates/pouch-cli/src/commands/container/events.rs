//! `pouch events [--since T] [--until T] [-f K=V] [--format T]`: the daemon's event stream,
//! one line per event in docker's layout (`<time> container start <id> (image=busybox,
//! name=web)`, local time with nanoseconds, attributes sorted by key), or through a template
//! over docker's `events.Message` fields (`.Type .Action .Actor.ID .Actor.Attributes .Time
//! .TimeNano .Scope .Status .ID .From`; `json` prints the message as the API sends it).

use std::io::Write;

use futures_util::StreamExt;
use pouch_api::container::EventMessage;
use pouch_client::Client;
use serde_json::{json, Value};

use super::time::{local_offset, rfc3339_nano_fixed, timestamp_now};
use crate::template::Template;

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Filter output based on conditions provided (key=value)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'json' or TEMPLATE
    #[arg(long)]
    pub format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
}

/// docker's `prettyPrintEvent` line (without the newline), times in the local zone.
pub fn pretty_line(e: &EventMessage) -> String {
    let mut out = String::new();
    let nanos = if e.time_nano != 0 {
        Some(e.time_nano)
    } else if e.time != 0 {
        Some(e.time.saturating_mul(1_000_000_000))
    } else {
        None
    };
    if let Some(n) = nanos {
        let offset = local_offset(n.div_euclid(1_000_000_000));
        out.push_str(&rfc3339_nano_fixed(n, offset));
        out.push(' ');
    }
    out.push_str(&format!("{} {} {}", e.kind, e.action, e.actor.id));
    if !e.actor.attributes.is_empty() {
        let attrs: Vec<String> = e
            .actor
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push_str(&format!(" ({})", attrs.join(", ")));
    }
    out
}

/// The message under Go's field names, for templates.
pub fn template_value(e: &EventMessage) -> Value {
    json!({
        "Status": e.status,
        "ID": e.id,
        "From": e.from,
        "Type": e.kind,
        "Action": e.action,
        "Actor": {"ID": e.actor.id, "Attributes": e.actor.attributes},
        "Scope": e.scope,
        "Time": e.time,
        "TimeNano": e.time_nano,
    })
}

/// How events are printed.
pub enum Printer {
    Pretty,
    Json,
    Template(Template),
}

impl Printer {
    pub fn new(format: Option<&str>) -> anyhow::Result<Printer> {
        Ok(match format.map(str::trim) {
            None | Some("") => Printer::Pretty,
            Some("json") | Some("{{json .}}") => Printer::Json,
            Some(f) => Printer::Template(Template::parse(f)?),
        })
    }

    pub fn line(&self, e: &EventMessage) -> anyhow::Result<String> {
        Ok(match self {
            Printer::Pretty => pretty_line(e),
            Printer::Json => serde_json::to_string(e)?,
            Printer::Template(t) => t.render(&template_value(e))?,
        })
    }
}

pub async fn run(client: &Client, args: EventsArgs) -> anyhow::Result<()> {
    super::quiet_broken_pipe(run_inner(client, args).await)
}

async fn run_inner(client: &Client, args: EventsArgs) -> anyhow::Result<()> {
    let printer = Printer::new(args.format.as_deref())?;
    let filters = crate::commands::parse_filters(&args.filter)?;
    let since = args.since.as_deref().map(timestamp_now).transpose()?;
    let until = args.until.as_deref().map(timestamp_now).transpose()?;
    let mut stream = client.events(since, until, &filters).await?;
    let mut stdout = std::io::stdout();
    while let Some(event) = stream.next().await {
        let line = printer.line(&event?)?;
        writeln!(stdout, "{line}")?;
        stdout.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::container::EventActor;

    fn event() -> EventMessage {
        let mut actor = EventActor {
            id: "3c4f".into(),
            ..Default::default()
        };
        actor.attributes.insert("name".into(), "web".into());
        actor.attributes.insert("image".into(), "busybox".into());
        EventMessage {
            status: "start".into(),
            id: "3c4f".into(),
            from: "busybox".into(),
            kind: "container".into(),
            action: "start".into(),
            actor,
            scope: "local".into(),
            time: 1_700_000_000,
            time_nano: 1_700_000_000_123_456_789,
        }
    }

    #[test]
    fn docker_line() {
        let line = pretty_line(&event());
        let offset = local_offset(1_700_000_000);
        let time = rfc3339_nano_fixed(1_700_000_000_123_456_789, offset);
        assert_eq!(
            line,
            format!("{time} container start 3c4f (image=busybox, name=web)")
        );
        assert!(time.contains(".123456789"));
        let mut bare = event();
        bare.actor.attributes.clear();
        bare.time_nano = 0;
        bare.time = 0;
        assert_eq!(pretty_line(&bare), "container start 3c4f");
    }

    #[test]
    fn formats() {
        let e = event();
        let p = Printer::new(Some(
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Time}}",
        ))
        .unwrap();
        assert_eq!(p.line(&e).unwrap(), "container start web 1700000000");
        let p = Printer::new(Some("json")).unwrap();
        let v: Value = serde_json::from_str(&p.line(&e).unwrap()).unwrap();
        assert_eq!(v["Type"], "container");
        assert_eq!(v["timeNano"], 1_700_000_000_123_456_789i64);
        assert_eq!(v["Actor"]["Attributes"]["name"], "web");
        assert!(Printer::new(Some("{{.Type")).is_err());
    }
}
