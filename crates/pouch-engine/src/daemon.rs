//! Live changes to the running daemon (`POST /daemon/update`, `pouch updatedaemon`): its
//! labels, registry mirrors, insecure registries and debug flag. The engine keeps the live
//! labels and debug flag (the image manager keeps the registry settings) that `/info`
//! shows. An update is checked whole before anything changes, handed to the front end to
//! persist (through [`DaemonHooks`]: pouchd owns its config file and its log filter), then
//! applied, and announced with Docker's `daemon` `reload` event.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use pouch_api::system::DaemonUpdateConfig;
use pouch_api::ApiError;

use crate::{Engine, EngineConfig, RegistryConfig};

/// The new values of the settings an update names (`None`: left alone). `labels` is the
/// whole new list (`key=value`), after the update's sets and removals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonChange {
    pub labels: Option<Vec<String>>,
    pub registry_mirrors: Option<Vec<String>>,
    pub insecure_registries: Option<Vec<String>>,
    pub debug: Option<bool>,
}

impl DaemonChange {
    /// Whether the update named nothing.
    pub fn is_empty(&self) -> bool {
        self.labels.is_none()
            && self.registry_mirrors.is_none()
            && self.insecure_registries.is_none()
            && self.debug.is_none()
    }
}

/// `labels=["a=b"] debug=true`: the settings named, with their new values.
impl std::fmt::Display for DaemonChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lists = [
            ("labels", &self.labels),
            ("registry-mirrors", &self.registry_mirrors),
            ("insecure-registries", &self.insecure_registries),
        ];
        let mut parts: Vec<String> = lists
            .iter()
            .filter_map(|(name, v)| v.as_ref().map(|v| format!("{name}={v:?}")))
            .collect();
        if let Some(d) = self.debug {
            parts.push(format!("debug={d}"));
        }
        f.write_str(&parts.join(" "))
    }
}

/// What the front end does around an update (pouchd: write its config file, switch its log
/// filter). Without hooks an update changes the running engine only.
pub trait DaemonHooks: Send + Sync {
    /// Called with a checked change before anything is applied, under the update lock. An
    /// error refuses the whole update and nothing changes: a setting fixed by a command-line
    /// flag (invalid argument), a config file that cannot be written (internal).
    fn persist(&self, change: &DaemonChange) -> Result<(), ApiError>;

    /// Called once the change is applied, when it names `debug`.
    fn set_debug(&self, debug: bool);
}

/// Why a daemon update or the hooks are refused.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("invalid daemon label {0:?}: give key=value to set a label, or key to remove it (the key cannot be empty or hold spaces)")]
    Label(String),
    #[error("the daemon update hooks are already installed: install them once, at start")]
    HooksInstalled,
}

impl From<DaemonError> for ApiError {
    fn from(e: DaemonError) -> ApiError {
        match e {
            DaemonError::Label(_) => ApiError::invalid(e.to_string()),
            DaemonError::HooksInstalled => ApiError::internal(e.to_string()),
        }
    }
}

/// The engine's live daemon settings (the registry settings live in the image manager).
pub(crate) struct DaemonState {
    live: RwLock<Live>,
    /// One update at a time, from the check to the event.
    updating: Mutex<()>,
    hooks: OnceLock<Arc<dyn DaemonHooks>>,
}

struct Live {
    labels: Vec<String>,
    debug: bool,
}

impl DaemonState {
    pub(crate) fn new(config: &EngineConfig) -> DaemonState {
        DaemonState {
            live: RwLock::new(Live {
                labels: config.labels.clone(),
                debug: config.debug,
            }),
            updating: Mutex::new(()),
            hooks: OnceLock::new(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Live> {
        self.live.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Live> {
        self.live.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Engine {
    /// Installs the front end's hooks for daemon updates; once, at start.
    pub fn set_daemon_hooks(&self, hooks: Arc<dyn DaemonHooks>) -> Result<(), DaemonError> {
        self.daemon
            .hooks
            .set(hooks)
            .map_err(|_| DaemonError::HooksInstalled)
    }

    /// The daemon's labels now (`key=value`), as `/info` shows them.
    pub fn daemon_labels(&self) -> Vec<String> {
        self.daemon.read().labels.clone()
    }

    /// Whether debug logging is on now.
    pub fn debug(&self) -> bool {
        self.daemon.read().debug
    }

    /// The registry mirrors and insecure registries new pulls use.
    pub fn registry_config(&self) -> RegistryConfig {
        self.images.registry_config()
    }

    /// `POST /daemon/update` (blocking: the hooks write a file). `Labels` entries `k=v` set
    /// label k and `k` removes it; `RegistryMirrors` and `InsecureRegistries` replace the
    /// lists (checked as at start: a bad entry is refused, naming it); `Debug` switches
    /// debug logging. Nothing changes unless the whole update is valid and persisted.
    /// Returns the change applied (empty for an empty update, which does nothing).
    pub fn update_daemon(&self, update: &DaemonUpdateConfig) -> Result<DaemonChange, ApiError> {
        let _one_at_a_time = self
            .daemon
            .updating
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let change = DaemonChange {
            labels: match &update.labels {
                Some(edits) => Some(edit_labels(&self.daemon_labels(), edits)?),
                None => None,
            },
            registry_mirrors: update.registry_mirrors.clone(),
            insecure_registries: update.insecure_registries.clone(),
            debug: update.debug,
        };
        if change.is_empty() {
            return Ok(change);
        }
        let registry = if change.registry_mirrors.is_some() || change.insecure_registries.is_some()
        {
            let current = self.images.registry_config();
            let next = RegistryConfig {
                mirrors: change.registry_mirrors.clone().unwrap_or(current.mirrors),
                insecure: change
                    .insecure_registries
                    .clone()
                    .unwrap_or(current.insecure),
            };
            next.validate()?;
            Some(next)
        } else {
            None
        };
        let hooks = self.daemon.hooks.get();
        if let Some(h) = hooks {
            h.persist(&change)?;
        }

        if let Some(registry) = registry {
            self.images.set_registry_config(registry)?;
        }
        {
            let mut live = self.daemon.write();
            if let Some(labels) = &change.labels {
                live.labels = labels.clone();
            }
            if let Some(debug) = change.debug {
                live.debug = debug;
            }
        }
        if let (Some(debug), Some(h)) = (change.debug, hooks) {
            h.set_debug(debug);
        }
        tracing::info!(settings = %change, "daemon configuration updated");
        self.publish_reload();
        Ok(change)
    }

    /// Docker's `daemon` `reload` event: the daemon's id, its host name and its settings.
    fn publish_reload(&self) {
        let registry = self.images.registry_config();
        let json = |v: &[String]| serde_json::to_string(v).unwrap_or_default();
        let mut attrs = BTreeMap::from([
            ("debug".to_string(), self.debug().to_string()),
            ("labels".to_string(), json(&self.daemon_labels())),
            ("registry-mirrors".to_string(), json(&registry.mirrors)),
            ("insecure-registries".to_string(), json(&registry.insecure)),
            (
                "max-concurrent-downloads".to_string(),
                self.config.max_concurrent_downloads.to_string(),
            ),
            (
                "default-runtime".to_string(),
                self.config.runtime.default_runtime.clone(),
            ),
        ]);
        let name = pouch_sys::uname().nodename;
        if !name.is_empty() {
            attrs.insert("name".to_string(), name);
        }
        self.containers
            .events
            .publish("daemon", "reload", &self.id, attrs);
    }
}

/// `current` after `edits` (the rule of [`crate::edits`]).
fn edit_labels(current: &[String], edits: &[String]) -> Result<Vec<String>, DaemonError> {
    let mut out = current.to_vec();
    crate::edits::apply(&mut out, edits).map_err(DaemonError::Label)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventsOptions;

    fn engine(dir: &std::path::Path) -> Arc<Engine> {
        Engine::open(EngineConfig {
            network: Default::default(),
            labels: vec!["zone=a".into(), "rack=1".into()],
            lxcfs: Default::default(),
            home_dir: dir.join("home"),
            exec_root: dir.join("exec"),
            registry: RegistryConfig {
                mirrors: vec!["http://127.0.0.1:5000".into()],
                insecure: vec![],
            },
            max_concurrent_downloads: 3,
            debug: false,
            listen_addresses: vec![],
            runtime: Default::default(),
        })
        .unwrap()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Records what it is asked, and refuses when told to.
    #[derive(Default)]
    struct Recorder {
        persisted: Mutex<Vec<DaemonChange>>,
        debug: Mutex<Vec<bool>>,
        refuse: Mutex<Option<String>>,
    }

    impl DaemonHooks for Recorder {
        fn persist(&self, change: &DaemonChange) -> Result<(), ApiError> {
            if let Some(why) = self.refuse.lock().unwrap().clone() {
                return Err(ApiError::invalid(why));
            }
            self.persisted.lock().unwrap().push(change.clone());
            Ok(())
        }
        fn set_debug(&self, debug: bool) {
            self.debug.lock().unwrap().push(debug);
        }
    }

    #[test]
    fn label_edits_set_replace_and_remove() {
        let cur = strings(&["a=1", "b=2", "a=3"]);
        assert_eq!(
            edit_labels(&cur, &strings(&["a=9", "c=", "b"])).unwrap(),
            ["a=9", "c="]
        );
        assert_eq!(
            edit_labels(&cur, &strings(&["nosuch"])).unwrap(),
            cur,
            "removing an absent label does nothing"
        );
        assert_eq!(
            edit_labels(&[], &strings(&["x=1=2", "y=2", "x"])).unwrap(),
            ["y=2"]
        );
        for bad in ["=v", "", "a b=c"] {
            let err = edit_labels(&cur, &strings(&[bad])).unwrap_err().to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[tokio::test]
    async fn an_update_is_persisted_then_applied_and_announced() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let hooks = Arc::new(Recorder::default());
        e.set_daemon_hooks(hooks.clone()).unwrap();
        assert!(matches!(
            e.set_daemon_hooks(hooks.clone()),
            Err(DaemonError::HooksInstalled)
        ));
        let mut events = e
            .events(EventsOptions {
                filters: pouch_api::Filters::parse(r#"{"type":["daemon"]}"#).unwrap(),
                ..Default::default()
            })
            .unwrap();

        let change = e
            .update_daemon(&DaemonUpdateConfig {
                labels: Some(strings(&["rack=2", "zone", "new=x"])),
                registry_mirrors: Some(vec![]),
                insecure_registries: Some(strings(&["10.0.0.0/8", "reg.local:5000"])),
                debug: Some(true),
            })
            .unwrap();
        let want = DaemonChange {
            labels: Some(strings(&["rack=2", "new=x"])),
            registry_mirrors: Some(vec![]),
            insecure_registries: Some(strings(&["10.0.0.0/8", "reg.local:5000"])),
            debug: Some(true),
        };
        assert_eq!(change, want);
        assert_eq!(
            change.to_string(),
            r#"labels=["rack=2", "new=x"] registry-mirrors=[] insecure-registries=["10.0.0.0/8", "reg.local:5000"] debug=true"#
        );
        assert_eq!(*hooks.persisted.lock().unwrap(), [want]);
        assert_eq!(*hooks.debug.lock().unwrap(), [true]);

        let info = e.info();
        assert_eq!(info.labels, ["rack=2", "new=x"]);
        assert!(info.debug);
        let r = &info.registry_config;
        assert_eq!(r["Mirrors"], serde_json::json!([]));
        assert_eq!(r["IndexConfigs"]["reg.local:5000"]["Secure"], false);
        assert!(r["InsecureRegistryCIDRs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "10.0.0.0/8"));

        let ev = events.recv().await.expect("a reload event");
        assert_eq!((ev.kind.as_str(), ev.action.as_str()), ("daemon", "reload"));
        assert_eq!(ev.actor.id, e.id());
        let a = &ev.actor.attributes;
        assert_eq!(a["debug"], "true");
        assert_eq!(a["labels"], r#"["rack=2","new=x"]"#);
        assert_eq!(a["registry-mirrors"], "[]");
        assert_eq!(
            a["insecure-registries"],
            r#"["10.0.0.0/8","reg.local:5000"]"#
        );

        // only what the update names is persisted; debug off reaches the hooks
        e.update_daemon(&DaemonUpdateConfig {
            debug: Some(false),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            hooks.persisted.lock().unwrap()[1],
            DaemonChange {
                debug: Some(false),
                ..Default::default()
            }
        );
        assert_eq!(*hooks.debug.lock().unwrap(), [true, false]);
        assert!(!e.info().debug);

        // an empty update does nothing at all
        assert!(e
            .update_daemon(&DaemonUpdateConfig::default())
            .unwrap()
            .is_empty());
        assert_eq!(hooks.persisted.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_refused_update_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let hooks = Arc::new(Recorder::default());
        e.set_daemon_hooks(hooks.clone()).unwrap();
        let before = (e.daemon_labels(), e.debug(), e.registry_config());

        // a bad mirror: 400 naming it, before the hooks are asked
        let err = e
            .update_daemon(&DaemonUpdateConfig {
                labels: Some(strings(&["x=1"])),
                registry_mirrors: Some(strings(&["http://127.0.0.1:6000", "ftp://bad.mirror"])),
                debug: Some(true),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.kind, pouch_api::ErrorKind::InvalidArgument);
        assert!(err.message.contains("ftp://bad.mirror"), "{}", err.message);
        let err = e
            .update_daemon(&DaemonUpdateConfig {
                insecure_registries: Some(strings(&["10.0.0.0/99"])),
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.message.contains("10.0.0.0/99"), "{}", err.message);
        let err = e
            .update_daemon(&DaemonUpdateConfig {
                labels: Some(strings(&["=x"])),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.kind, pouch_api::ErrorKind::InvalidArgument);
        assert!(hooks.persisted.lock().unwrap().is_empty());

        // the hooks refuse: nothing applied either
        *hooks.refuse.lock().unwrap() = Some("fixed by a flag".into());
        let err = e
            .update_daemon(&DaemonUpdateConfig {
                labels: Some(strings(&["x=1"])),
                registry_mirrors: Some(vec![]),
                debug: Some(true),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.message, "fixed by a flag");
        assert!(hooks.debug.lock().unwrap().is_empty());
        assert_eq!((e.daemon_labels(), e.debug(), e.registry_config()), before);
    }
}
