//! The runtime's log, runc style: `--log FILE` in `--log-format text` (logrus' `time=.. level=..
//! msg=..`) or `json` (`{"level":"error","msg":"..","time":".."}`, what pouch-shim reads the last
//! error from). libcontainer's `tracing` events go there (warnings and errors, everything with
//! `--debug`); without `--log` they go to stderr only with `--debug`, since the runtime's stderr
//! is often the container's. The final error of a command goes to stderr and to the log.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use chrono::{SecondsFormat, Utc};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span;
use tracing::{Event, Level, Metadata};

/// Where log lines go and how they look.
#[derive(Debug)]
pub struct Log {
    file: Option<File>,
    json: bool,
}

impl Log {
    /// Opens `--log` for appending (created if missing). If it cannot be opened, the lines go
    /// to stderr, and that is said once there.
    pub fn open(path: Option<&Path>, json: bool) -> Log {
        let file =
            path.and_then(
                |path| match OpenOptions::new().create(true).append(true).open(path) {
                    Ok(file) => Some(file),
                    Err(e) => {
                        eprintln!("pouch-runc: cannot open the log {}: {e}", path.display());
                        None
                    }
                },
            );
        Log { file, json }
    }

    /// Whether lines go to a file (rather than stderr).
    pub fn has_file(&self) -> bool {
        self.file.is_some()
    }

    /// Writes one line in one write(2) (O_APPEND keeps lines whole across processes).
    pub fn line(&self, level: &str, msg: &str) {
        let line = format_line(self.json, level, msg, &now());
        match &self.file {
            Some(file) => {
                let _ = (&*file).write_all(line.as_bytes());
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }

    /// The error that ends a command: on stderr as `pouch-runc: <msg>`, and in the log file.
    pub fn error(&self, msg: &str) {
        eprintln!("pouch-runc: {msg}");
        if self.file.is_some() {
            self.line("error", msg);
        }
    }

    /// Sends `tracing` events (libcontainer's) to this log; see the module header for levels.
    pub fn install(self, debug: bool) -> LogHandle {
        let max = if debug { Level::DEBUG } else { Level::WARN };
        let handle = LogHandle(std::sync::Arc::new(self));
        if handle.0.has_file() || debug {
            let subscriber = Subscriber {
                log: handle.0.clone(),
                max,
            };
            let _ = tracing::subscriber::set_global_default(subscriber);
        }
        handle
    }
}

/// The installed log, for the final error.
#[derive(Debug, Clone)]
pub struct LogHandle(std::sync::Arc<Log>);

impl LogHandle {
    pub fn error(&self, msg: &str) {
        self.0.error(msg)
    }
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// One line with its newline: JSON with the keys in runc's order, or logrus text.
fn format_line(json: bool, level: &str, msg: &str, time: &str) -> String {
    if json {
        let mut line = serde_json::json!({ "level": level, "msg": msg, "time": time }).to_string();
        line.push('\n');
        return line;
    }
    format!("time={} level={level} msg={}\n", quote(time), quote(msg))
}

/// logrus quotes values with spaces or quotes, Go style.
fn quote(value: &str) -> String {
    if !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/:@+".contains(c))
    {
        return value.to_string();
    }
    // a JSON string is a Go-quoted string for everything logrus emits
    serde_json::Value::String(value.to_string()).to_string()
}

/// logrus' level names.
fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// A minimal `tracing` subscriber: events only (no spans), one line each.
struct Subscriber {
    log: std::sync::Arc<Log>,
    max: Level,
}

impl tracing::Subscriber for Subscriber {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // more verbose levels compare greater
        *metadata.level() <= self.max
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from_level(self.max))
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut msg = fields.message;
        for (name, value) in fields.others {
            if !msg.is_empty() {
                msg.push(' ');
            }
            let _ = write!(msg, "{name}={value}");
        }
        self.log.line(level_name(event.metadata().level()), &msg);
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

#[derive(Default)]
struct Fields {
    message: String,
    others: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.others.push((field.name(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.others.push((field.name(), format!("{value:?}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_look_like_runcs() {
        let t = "2026-11-27T10:00:00.000000001Z";
        assert_eq!(
            format_line(true, "error", "container abc does not exist", t),
            "{\"level\":\"error\",\"msg\":\"container abc does not exist\",\"time\":\"2026-11-27T10:00:00.000000001Z\"}\n"
        );
        assert_eq!(
            format_line(false, "warning", "say \"hi\"", t),
            "time=2026-11-27T10:00:00.000000001Z level=warning msg=\"say \\\"hi\\\"\"\n"
        );
    }

    #[test]
    fn errors_are_appended_to_the_log_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("runtime.log");
        std::fs::write(
            &path,
            "{\"level\":\"error\",\"msg\":\"old\",\"time\":\"t\"}\n",
        )
        .expect("write");
        let log = Log::open(Some(&path), true);
        assert!(log.has_file());
        log.error("start abc: container abc is stopped");
        let text = std::fs::read_to_string(&path).expect("read");
        let last: serde_json::Value =
            serde_json::from_str(text.lines().last().expect("a line")).expect("json");
        assert_eq!(last["level"], "error");
        assert_eq!(last["msg"], "start abc: container abc is stopped");
        assert!(last["time"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(text.lines().count(), 2);
    }
}
