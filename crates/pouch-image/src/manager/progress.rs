//! The JSON progress lines of pull and push, shaped as Docker's (`status`, `id`,
//! `progressDetail`, `aux`), and the throttle that keeps byte counters to a few lines a
//! second.

use std::time::{Duration, Instant};

use pouch_api::progress::{JsonMessage, ProgressDetail};
use tokio::sync::mpsc::UnboundedSender;

/// A progress sink; a receiver that went away (client disconnected) is ignored.
#[derive(Clone)]
pub(crate) struct Progress(UnboundedSender<JsonMessage>);

impl Progress {
    pub(crate) fn new(tx: UnboundedSender<JsonMessage>) -> Progress {
        Progress(tx)
    }

    pub(crate) fn send(&self, m: JsonMessage) {
        let _ = self.0.send(m);
    }

    /// `{"status":"..."}`.
    pub(crate) fn status(&self, status: impl Into<String>) {
        self.send(JsonMessage::status(status));
    }

    /// `{"status":"...","id":"..."}` without progressDetail (Docker's "Pulling from").
    pub(crate) fn status_id(&self, status: impl Into<String>, id: impl Into<String>) {
        self.send(JsonMessage {
            status: Some(status.into()),
            id: Some(id.into()),
            ..Default::default()
        });
    }

    /// `{"status":"...","progressDetail":{},"id":"..."}`: a layer's state change.
    pub(crate) fn layer(&self, status: impl Into<String>, id: impl Into<String>) {
        self.send(JsonMessage::with_id(status, id));
    }

    /// A byte counter with Docker's bar.
    pub(crate) fn bytes(&self, status: &str, id: &str, current: u64, total: Option<u64>) {
        self.send(JsonMessage::progress(
            status,
            id,
            current as i64,
            total.map(|t| t as i64),
        ));
    }

    /// The final push line: `{"progressDetail":{},"aux":{...}}`.
    pub(crate) fn aux(&self, aux: serde_json::Value) {
        self.send(JsonMessage {
            progress_detail: Some(ProgressDetail::default()),
            aux: Some(aux),
            ..Default::default()
        });
    }
}

/// Lets a byte counter report every 512 KiB or 100 ms, whichever comes first.
pub(crate) struct Throttle {
    last_bytes: u64,
    last_time: Instant,
}

const THROTTLE_BYTES: u64 = 512 * 1024;
const THROTTLE_TIME: Duration = Duration::from_millis(100);

impl Throttle {
    pub(crate) fn new() -> Throttle {
        Throttle {
            last_bytes: 0,
            last_time: Instant::now(),
        }
    }

    /// Whether `bytes` (a running total) should be reported now.
    pub(crate) fn ready(&mut self, bytes: u64) -> bool {
        if bytes.saturating_sub(self.last_bytes) >= THROTTLE_BYTES
            || self.last_time.elapsed() >= THROTTLE_TIME
        {
            self.last_bytes = bytes;
            self.last_time = Instant::now();
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_reports_by_bytes() {
        let mut t = Throttle::new();
        assert!(!t.ready(10));
        assert!(t.ready(THROTTLE_BYTES + 10));
        assert!(!t.ready(THROTTLE_BYTES + 20));
    }

    #[test]
    fn lines_have_docker_shapes() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let p = Progress::new(tx);
        p.status_id("Pulling from library/busybox", "latest");
        p.layer("Pulling fs layer", "abc");
        p.bytes("Downloading", "abc", 5, Some(10));
        p.aux(serde_json::json!({"Tag": "v1"}));
        let lines: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|m| serde_json::to_string(&m).unwrap())
            .collect();
        assert_eq!(
            lines[0],
            r#"{"status":"Pulling from library/busybox","id":"latest"}"#
        );
        assert_eq!(
            lines[1],
            r#"{"status":"Pulling fs layer","id":"abc","progressDetail":{}}"#
        );
        assert!(lines[2].contains(r#""progressDetail":{"current":5,"total":10}"#));
        assert_eq!(lines[3], r#"{"progressDetail":{},"aux":{"Tag":"v1"}}"#);
    }
}
