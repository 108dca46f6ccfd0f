//! The event bus behind `GET /events`: every subsystem publishes Docker-shaped events
//! (container create/start/die/..., exec, image, volume, network); subscribers get the
//! recent ones (a ring of the last 1024, for `since`/`until`) followed by live ones, through
//! Docker's event filters (`container`, `event`, `type`, `image`, `label`, ...).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pouch_api::container::{EventActor, EventMessage};
use pouch_api::{ApiError, Filters};
use tokio::sync::{broadcast, mpsc};

use super::logs::Timestamp;

/// Events kept for `since`.
const RING: usize = 1024;
/// Live events a slow subscriber may fall behind by before it misses some.
const LIVE: usize = 1024;
/// Events queued per subscriber before its forwarder waits.
const OUT: usize = 256;

/// The filter keys Docker accepts on `/events`.
const FILTER_KEYS: &[&str] = &[
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
];

/// Actions that carry a suffix (`exec_start: sh -c ...`); a filter on the bare action
/// matches them all.
const SUFFIXED_ACTIONS: &[&str] = &["exec_create", "exec_start", "health_status"];

/// What a subscriber asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsOptions {
    /// Replay recorded events from this time on.
    pub since: Option<Timestamp>,
    /// Stop at this time (replay only, when it is in the past).
    pub until: Option<Timestamp>,
    pub filters: Filters,
}

/// Why a subscription is refused.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("invalid filter '{0}'")]
    Filter(String),
    #[error("`since` time ({since}) cannot be after `until` time ({until})")]
    Range { since: String, until: String },
}

impl From<EventsError> for ApiError {
    fn from(e: EventsError) -> ApiError {
        ApiError::invalid(e.to_string())
    }
}

/// The event bus, shared by the engine (publish) and `/events` (subscribe).
pub struct EventBus {
    live: broadcast::Sender<EventMessage>,
    /// The last events, oldest first. Publishing holds this lock while it sends, so a
    /// subscriber sees each event exactly once (in the ring or live).
    ring: Mutex<VecDeque<EventMessage>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new()
    }
}

impl EventBus {
    pub fn new() -> EventBus {
        let (live, _) = broadcast::channel(LIVE);
        EventBus {
            live,
            ring: Mutex::new(VecDeque::with_capacity(RING)),
        }
    }

    /// Records and broadcasts an event. `typ` is `container`, `image`, `volume`,
    /// `network` or `daemon`; `action` is Docker's (`create`, `start`, `die`,
    /// `exec_start: sh`, ...); `attributes` hold `name`, `image`, `exitCode`, `signal`, ...
    /// and the object's labels.
    pub fn publish(&self, typ: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.publish_at(typ, action, id, attributes, now);
    }

    fn publish_at(
        &self,
        typ: &str,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
        at: Duration,
    ) {
        let mut msg = EventMessage {
            kind: typ.to_string(),
            action: action.to_string(),
            actor: EventActor {
                id: id.to_string(),
                attributes,
            },
            scope: "local".to_string(),
            time: at.as_secs() as i64,
            time_nano: at.as_nanos() as i64,
            ..Default::default()
        };
        // Docker's deprecated fields, still read by old clients.
        match typ {
            "container" => {
                msg.status = action.to_string();
                msg.id = id.to_string();
                msg.from = msg
                    .actor
                    .attributes
                    .get("image")
                    .cloned()
                    .unwrap_or_default();
            }
            "image" => {
                msg.status = action.to_string();
                msg.id = id.to_string();
            }
            _ => {}
        }
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.len() == RING {
            ring.pop_front();
        }
        ring.push_back(msg.clone());
        // No subscriber is not an error.
        let _ = self.live.send(msg);
    }

    /// Subscribes: first the recorded events in `[since, until]` (when either is given),
    /// then, unless `until` is past, live events until `until`. The receiver ends at `until`;
    /// dropping it ends the subscription. Must be called within a tokio runtime.
    pub fn subscribe(
        &self,
        opts: EventsOptions,
    ) -> Result<mpsc::Receiver<EventMessage>, EventsError> {
        let filter = EventFilter::new(&opts.filters)?;
        if let (Some(since), Some(until)) = (opts.since, opts.until) {
            if since > until {
                return Err(EventsError::Range {
                    since: show(since),
                    until: show(until),
                });
            }
        }
        let since_ns = opts.since.map(nanos);
        let until_ns = opts.until.map(nanos);
        let (backlog, mut live) = {
            let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
            let backlog: Vec<EventMessage> = if since_ns.is_some() || until_ns.is_some() {
                ring.iter()
                    .filter(|e| since_ns.is_none_or(|s| e.time_nano as i128 >= s))
                    .filter(|e| until_ns.is_none_or(|u| e.time_nano as i128 <= u))
                    .filter(|e| filter.matches(e))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            (backlog, self.live.subscribe())
        };
        let now_ns = nanos(now());
        let only_past = until_ns.is_some_and(|u| u < now_ns);
        // Time left until `until`, as a tokio deadline.
        let deadline = until_ns.map(|u| {
            let left = u64::try_from((u - now_ns).max(0)).unwrap_or(u64::MAX);
            tokio::time::Instant::now() + Duration::from_nanos(left)
        });
        let (tx, rx) = mpsc::channel(OUT);
        tokio::spawn(async move {
            for ev in backlog {
                if tx.send(ev).await.is_err() {
                    return;
                }
            }
            if only_past {
                return;
            }
            let until_passed = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(until_passed);
            loop {
                let ev = tokio::select! {
                    _ = &mut until_passed => return,
                    _ = tx.closed() => return,
                    ev = live.recv() => ev,
                };
                match ev {
                    Ok(ev) => {
                        if until_ns.is_some_and(|u| ev.time_nano as i128 > u) {
                            return;
                        }
                        if filter.matches(&ev) && tx.send(ev).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!("an events subscriber fell behind and missed {n} events");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Ok(rx)
    }
}

/// Docker's `/events` filters.
struct EventFilter {
    f: BTreeMap<String, Vec<String>>,
}

impl EventFilter {
    fn new(filters: &Filters) -> Result<EventFilter, EventsError> {
        for key in filters.0.keys() {
            if !FILTER_KEYS.contains(&key.as_str()) {
                return Err(EventsError::Filter(key.clone()));
            }
        }
        Ok(EventFilter {
            f: filters
                .0
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    fn values(&self, key: &str) -> Option<&[String]> {
        self.f.get(key).map(Vec::as_slice)
    }

    /// True when `key` is not filtered on, or one of its values equals `source`.
    fn exact(&self, key: &str, source: &str) -> bool {
        self.values(key)
            .is_none_or(|vs| vs.iter().any(|v| v == source))
    }

    /// True when `key` is not filtered on, or `source` starts with one of its values.
    fn fuzzy(&self, key: &str, source: &str) -> bool {
        self.values(key)
            .is_none_or(|vs| vs.iter().any(|v| source.starts_with(v.as_str())))
    }

    /// The object filter of a type (`container=web`): its id (or a prefix) or its name.
    fn object(&self, key: &str, ev: &EventMessage) -> bool {
        self.values(key).is_none()
            || self.fuzzy(key, &ev.actor.id)
            || ev
                .actor
                .attributes
                .get("name")
                .is_some_and(|n| self.fuzzy(key, n))
    }

    fn event(&self, ev: &EventMessage) -> bool {
        let Some(vs) = self.values("event") else {
            return true;
        };
        if vs.iter().any(|v| SUFFIXED_ACTIONS.contains(&v.as_str())) {
            self.fuzzy("event", &ev.action)
        } else {
            self.exact("event", &ev.action)
        }
    }

    fn image(&self, ev: &EventMessage) -> bool {
        if self.values("image").is_none() {
            return true;
        }
        let attr = if ev.kind == "image" { "name" } else { "image" };
        let name = ev
            .actor
            .attributes
            .get(attr)
            .map(String::as_str)
            .unwrap_or("");
        let id = ev.actor.id.as_str();
        [id, name, strip_tag(id), strip_tag(name)]
            .iter()
            .any(|s| !s.is_empty() && self.exact("image", s))
    }

    /// Every `label` value (`key` or `key=value`) must match an attribute.
    fn labels(&self, ev: &EventMessage) -> bool {
        let Some(vs) = self.values("label") else {
            return true;
        };
        vs.iter().all(|v| match v.split_once('=') {
            Some((k, want)) => ev.actor.attributes.get(k).is_some_and(|got| got == want),
            None => ev.actor.attributes.contains_key(v.as_str()),
        })
    }

    fn matches(&self, ev: &EventMessage) -> bool {
        self.event(ev)
            && self.exact("type", &ev.kind)
            && self.exact("scope", &ev.scope)
            && [
                "container",
                "daemon",
                "plugin",
                "volume",
                "network",
                "node",
                "service",
                "secret",
                "config",
            ]
            .iter()
            .all(|k| self.object(k, ev))
            && self.image(ev)
            && self.labels(ev)
    }
}

/// An image reference without its tag or digest (`busybox:1.36` → `busybox`).
fn strip_tag(r: &str) -> &str {
    let r = r.split_once('@').map_or(r, |(name, _)| name);
    let last_slash = r.rfind('/').map_or(0, |i| i + 1);
    match r[last_slash..].rfind(':') {
        Some(i) => &r[..last_slash + i],
        None => r,
    }
}

fn nanos(t: Timestamp) -> i128 {
    t.0 as i128 * 1_000_000_000 + t.1 as i128
}

fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos())
}

fn show(t: Timestamp) -> String {
    super::logs::format_timestamp(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn filters(json: &str) -> Filters {
        Filters::parse(json).unwrap()
    }

    async fn drain(mut rx: mpsc::Receiver<EventMessage>) -> Vec<EventMessage> {
        let mut out = Vec::new();
        while let Some(e) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("events stream did not end")
        {
            out.push(e);
        }
        out
    }

    fn web_events(bus: &EventBus) {
        let a = attrs(&[
            ("name", "web"),
            ("image", "busybox:latest"),
            ("app", "front"),
        ]);
        bus.publish("container", "create", "abcdef123", a.clone());
        bus.publish("container", "start", "abcdef123", a.clone());
        bus.publish("container", "exec_start: sh -c date", "abcdef123", a);
        bus.publish(
            "container",
            "die",
            "0123456",
            attrs(&[("name", "db"), ("image", "redis"), ("exitCode", "0")]),
        );
        bus.publish(
            "image",
            "pull",
            "busybox:latest",
            attrs(&[("name", "busybox")]),
        );
    }

    #[test]
    fn message_shape() {
        let bus = EventBus::new();
        bus.publish_at(
            "container",
            "start",
            "abc",
            attrs(&[("image", "busybox"), ("name", "web")]),
            Duration::new(1_700_000_000, 5),
        );
        let ev = bus.ring.lock().unwrap()[0].clone();
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "status": "start", "id": "abc", "from": "busybox",
                "Type": "container", "Action": "start",
                "Actor": {"ID": "abc", "Attributes": {"image": "busybox", "name": "web"}},
                "scope": "local", "time": 1_700_000_000i64, "timeNano": 1_700_000_000_000_000_005i64
            })
        );
        bus.publish("network", "connect", "n1", BTreeMap::new());
        let ev = bus.ring.lock().unwrap()[1].clone();
        assert!(ev.status.is_empty() && ev.id.is_empty() && ev.from.is_empty());
    }

    #[test]
    fn filters_like_docker() {
        let bus = EventBus::new();
        web_events(&bus);
        let all: Vec<EventMessage> = bus.ring.lock().unwrap().iter().cloned().collect();
        let pick = |json: &str| -> Vec<String> {
            let f = EventFilter::new(&filters(json)).unwrap();
            all.iter()
                .filter(|e| f.matches(e))
                .map(|e| format!("{}/{}", e.actor.id, e.action))
                .collect()
        };
        assert_eq!(pick("").len(), 5);
        assert_eq!(
            pick(r#"{"container":["web"]}"#),
            [
                "abcdef123/create",
                "abcdef123/start",
                "abcdef123/exec_start: sh -c date"
            ]
        );
        assert_eq!(pick(r#"{"container":["0123"]}"#), ["0123456/die"]);
        assert_eq!(pick(r#"{"event":["die"]}"#), ["0123456/die"]);
        assert_eq!(
            pick(r#"{"event":["exec_start"]}"#),
            ["abcdef123/exec_start: sh -c date"]
        );
        assert_eq!(pick(r#"{"type":["image"]}"#), ["busybox:latest/pull"]);
        assert_eq!(
            pick(r#"{"type":{"container":true},"event":{"start":true,"die":true}}"#),
            ["abcdef123/start", "0123456/die"]
        );
        // `image=busybox` matches the tagged reference.
        assert_eq!(pick(r#"{"image":["busybox"]}"#).len(), 4);
        assert_eq!(pick(r#"{"image":["redis"]}"#), ["0123456/die"]);
        assert_eq!(pick(r#"{"label":["app"]}"#).len(), 3);
        assert_eq!(pick(r#"{"label":["app=front"]}"#).len(), 3);
        assert!(pick(r#"{"label":["app=back"]}"#).is_empty());
        assert!(pick(r#"{"label":["app=front","other"]}"#).is_empty());
        assert!(pick(r#"{"volume":["v1"]}"#).is_empty());
        assert_eq!(
            strip_tag("127.0.0.1:5000/busybox:v1"),
            "127.0.0.1:5000/busybox"
        );
        assert_eq!(
            strip_tag("127.0.0.1:5000/busybox"),
            "127.0.0.1:5000/busybox"
        );
        assert_eq!(strip_tag("busybox@sha256:abc"), "busybox");
    }

    #[tokio::test]
    async fn bad_requests() {
        let bus = EventBus::new();
        let err = bus
            .subscribe(EventsOptions {
                filters: filters(r#"{"foo":["bar"]}"#),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "invalid filter 'foo'");
        assert!(bus
            .subscribe(EventsOptions {
                since: Some((20, 0)),
                until: Some((10, 0)),
                ..Default::default()
            })
            .is_err());
    }

    #[tokio::test]
    async fn backlog_then_live() {
        let bus = EventBus::new();
        bus.publish_at(
            "container",
            "create",
            "old",
            BTreeMap::new(),
            Duration::new(100, 0),
        );
        bus.publish_at(
            "container",
            "start",
            "old",
            BTreeMap::new(),
            Duration::new(200, 0),
        );

        // Without since, only live events.
        let mut plain = bus.subscribe(EventsOptions::default()).unwrap();
        // since=150: the start, then live ones.
        let mut rx = bus
            .subscribe(EventsOptions {
                since: Some((150, 0)),
                ..Default::default()
            })
            .unwrap();
        let first = rx.recv().await.unwrap();
        assert_eq!(
            (first.actor.id.as_str(), first.action.as_str()),
            ("old", "start")
        );
        bus.publish("container", "die", "new", BTreeMap::new());
        let live = rx.recv().await.unwrap();
        assert_eq!(live.action, "die");
        assert_eq!(plain.recv().await.unwrap().action, "die");
        assert!(plain.try_recv().is_err());
    }

    #[tokio::test]
    async fn until_in_the_past_replays_and_closes() {
        let bus = EventBus::new();
        for (i, action) in ["create", "start", "die"].iter().enumerate() {
            bus.publish_at(
                "container",
                action,
                "c",
                BTreeMap::new(),
                Duration::new(100 + i as u64 * 10, 0),
            );
        }
        let got = drain(
            bus.subscribe(EventsOptions {
                since: Some((105, 0)),
                until: Some((115, 0)),
                ..Default::default()
            })
            .unwrap(),
        )
        .await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].action, "start");
        // until alone replays everything up to it.
        let got = drain(
            bus.subscribe(EventsOptions {
                until: Some((115, 0)),
                ..Default::default()
            })
            .unwrap(),
        )
        .await;
        assert_eq!(got.len(), 2);
    }

    #[tokio::test]
    async fn until_in_the_future_ends_the_stream() {
        let bus = EventBus::new();
        let t = nanos(now()) + 300_000_000;
        let until = ((t / 1_000_000_000) as i64, (t % 1_000_000_000) as u32);
        let rx = bus
            .subscribe(EventsOptions {
                until: Some(until),
                filters: filters(r#"{"event":["start"]}"#),
                ..Default::default()
            })
            .unwrap();
        bus.publish("container", "create", "c", BTreeMap::new());
        bus.publish("container", "start", "c", BTreeMap::new());
        let started = std::time::Instant::now();
        let got = drain(rx).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].action, "start");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn ring_keeps_the_last_1024() {
        let bus = EventBus::new();
        for i in 0..(RING + 10) {
            bus.publish("container", "start", &i.to_string(), BTreeMap::new());
        }
        let ring = bus.ring.lock().unwrap();
        assert_eq!(ring.len(), RING);
        assert_eq!(ring[0].actor.id, "10");
    }
}
