//! Containers: the manager (`Containers`) that owns every container's record, its in-memory
//! handle and its lifecycle. One file per concern: `create`, `start` (with the exit monitor
//! and restart policies), `stop` (stop, kill, pause, restart), `remove`, `query` (list,
//! inspect), `wait`, `attach`, `exec`, `restore` (live restore at daemon start), `update`,
//! `upgrade` (a new image under a running container);
//! `logs`, `archive`, `events`, `stats` and `lxcfs` are self-contained helpers; `api` is the
//! `Engine` facade the HTTP router calls. See docs/containers-contract.md.

pub mod api;
pub mod archive;
mod attach;
mod create;
pub mod events;
mod exec;
mod fault;
pub mod logs;
pub mod lxcfs;
mod mounts;
mod names;
mod network;
mod query;
mod quota;
mod record;
mod remove;
mod restore;
mod rich;
mod start;
pub mod stats;
mod stop;
mod update;
mod upgrade;
mod wait;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use pouch_api::ApiError;
use pouch_image::manager::ImageManager;
use pouch_runtime::driver::RuntimeDriver;
use pouch_runtime::shim::ShimSpawn;
use pouch_snapshot::Snapshotter;
use pouch_store::{Store, CONTAINERS};
use tokio::sync::{oneshot, watch};

pub use attach::{AttachOptions, AttachSession};
pub use events::{EventBus, EventsOptions};
pub use logs::LogsOptions;
pub use query::ListOptions;
pub use record::{ContainerRecord, StateRecord, Status};
pub use wait::WaitHandle;

/// How long the runtime gets to create a container or an exec process.
const SHIM_CREATE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// OCI runtimes and helper binaries the containers use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimeConfig {
    /// Registered runtimes: name → executable.
    pub runtimes: BTreeMap<String, PathBuf>,
    /// The runtime of containers that name none.
    pub default_runtime: String,
    /// The `pouch-shim` executable.
    pub shim_path: PathBuf,
    /// The `pouch-init` executable (`--init`).
    pub init_path: PathBuf,
}

/// What the watchers of one container see: waiters (`wait`), log followers, attachers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub status: Status,
    /// Incremented at every exit.
    pub exits: u64,
    pub exit_code: i64,
    pub removed: bool,
}

/// An attach waiting for the container's start: it gets the shim's state dir and answers
/// when it has connected, so the process starts with its output watched.
type PendingAttach = oneshot::Sender<(PathBuf, oneshot::Sender<()>)>;

/// The in-memory handle of one container.
pub struct Container {
    pub id: String,
    rec: Mutex<ContainerRecord>,
    /// Serialises lifecycle operations (start, stop, remove, ...).
    op: tokio::sync::Mutex<()>,
    observed: watch::Sender<Observed>,
    pending_attach: Mutex<Vec<PendingAttach>>,
    /// Exec ids of this container.
    execs: Mutex<Vec<String>>,
    /// Addresses and host ports the next start takes again (set by `upgrade`).
    net_pins: Mutex<Option<network::NetworkPins>>,
}

impl Container {
    fn new(rec: ContainerRecord) -> Arc<Container> {
        let (observed, _) = watch::channel(Observed {
            status: rec.state.status,
            exits: 0,
            exit_code: rec.state.exit_code,
            removed: false,
        });
        Arc::new(Container {
            id: rec.id.clone(),
            rec: Mutex::new(rec),
            op: tokio::sync::Mutex::new(()),
            observed,
            pending_attach: Mutex::new(Vec::new()),
            execs: Mutex::new(Vec::new()),
            net_pins: Mutex::new(None),
        })
    }

    /// A copy of the record.
    pub fn record(&self) -> ContainerRecord {
        self.rec.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn with_record<T>(&self, f: impl FnOnce(&mut ContainerRecord) -> T) -> T {
        f(&mut self.rec.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn status(&self) -> Status {
        self.with_record(|r| r.state.status)
    }

    pub fn name(&self) -> String {
        self.with_record(|r| r.name.clone())
    }

    fn watch(&self) -> watch::Receiver<Observed> {
        self.observed.subscribe()
    }

    /// Publishes the record's status to the watchers.
    fn notify(&self, exited: bool) {
        let (status, code) = self.with_record(|r| (r.state.status, r.state.exit_code));
        self.observed.send_modify(|o| {
            o.status = status;
            o.exit_code = code;
            if exited {
                o.exits += 1;
            }
        });
    }
}

/// Where a container's files are.
#[derive(Debug, Clone)]
pub struct Paths {
    pub home: PathBuf,
    pub exec_root: PathBuf,
}

impl Paths {
    pub fn bundle(&self, id: &str) -> PathBuf {
        self.home.join("containers").join(id)
    }
    pub fn rootfs(&self, id: &str) -> PathBuf {
        self.bundle(id).join("rootfs")
    }
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.bundle(id).join(format!("{id}-json.log"))
    }
    pub fn state_dir(&self, id: &str) -> PathBuf {
        self.exec_root.join("containers").join(id)
    }
    pub fn exec_state_dir(&self, id: &str, exec_id: &str) -> PathBuf {
        self.state_dir(id).join("exec").join(exec_id)
    }
    pub fn runtime_root(&self, runtime: &str) -> PathBuf {
        self.exec_root.join("runtime").join(runtime)
    }
}

#[derive(Default)]
struct Table {
    by_id: HashMap<String, Arc<Container>>,
    /// Name (without `/`) → id.
    names: HashMap<String, String>,
}

/// The container manager.
pub struct Containers {
    store: Arc<Store>,
    images: Arc<ImageManager>,
    network: Arc<pouch_network::manager::NetworkManager>,
    volumes: Arc<pouch_volume::VolumeManager>,
    snapshots: Snapshotter,
    pub events: EventBus,
    runtime: RuntimeConfig,
    pub paths: Paths,
    table: RwLock<Table>,
    execs: Mutex<HashMap<String, Arc<exec::Exec>>>,
    lxcfs: lxcfs::Lxcfs,
}

impl Containers {
    /// Loads every container record; `restore` then reconnects to the live ones.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        store: Arc<Store>,
        images: Arc<ImageManager>,
        network: Arc<pouch_network::manager::NetworkManager>,
        volumes: Arc<pouch_volume::VolumeManager>,
        paths: Paths,
        runtime: RuntimeConfig,
        quota: Option<Arc<dyn pouch_quota::Quota>>,
        lxcfs: crate::LxcfsConfig,
    ) -> Result<Arc<Containers>, ApiError> {
        let snapshots = Snapshotter::open_with_quota(&paths.home.join("snapshots"), quota)
            .map_err(|e| ApiError::internal(format!("cannot open the snapshots: {e}")))?;
        for dir in [
            paths.home.join("containers"),
            paths.exec_root.join("containers"),
        ] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| ApiError::internal(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut table = Table::default();
        for (id, rec) in store
            .list::<ContainerRecord>(CONTAINERS)
            .map_err(internal)?
        {
            table.names.insert(rec.name.clone(), id.clone());
            table.by_id.insert(id, Container::new(rec));
        }
        Ok(Arc::new(Containers {
            store,
            images,
            network,
            volumes,
            snapshots,
            events: EventBus::new(),
            runtime,
            paths,
            table: RwLock::new(table),
            execs: Mutex::new(HashMap::new()),
            lxcfs: lxcfs::Lxcfs::new(lxcfs),
        }))
    }

    /// Finds a container by name (with or without `/`), full id or unique id prefix.
    pub fn get(&self, name: &str) -> Result<Arc<Container>, ApiError> {
        let t = self.table.read().unwrap_or_else(|e| e.into_inner());
        let n = name.strip_prefix('/').unwrap_or(name);
        if let Some(c) = t.by_id.get(n) {
            return Ok(c.clone());
        }
        if let Some(id) = t.names.get(n) {
            if let Some(c) = t.by_id.get(id) {
                return Ok(c.clone());
            }
        }
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut hits = t.by_id.iter().filter(|(id, _)| id.starts_with(n));
            if let Some((_, c)) = hits.next() {
                if hits.next().is_some() {
                    return Err(ApiError::invalid(format!(
                        "multiple containers match the id prefix {n}: use more characters"
                    )));
                }
                return Ok(c.clone());
            }
        }
        Err(no_such_container(name))
    }

    /// Every container handle.
    pub fn all(&self) -> Vec<Arc<Container>> {
        let t = self.table.read().unwrap_or_else(|e| e.into_inner());
        t.by_id.values().cloned().collect()
    }

    /// Whether a container uses image `id` (kept by image prune and refused by rmi).
    pub fn image_users(&self, image_id: &str) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|c| c.with_record(|r| r.image_id == image_id))
            .map(|c| c.id.clone())
            .collect()
    }

    /// Writes the record durably (one commit).
    fn persist(&self, c: &Container) -> Result<(), ApiError> {
        let rec = c.record();
        self.store.put(CONTAINERS, &rec.id, &rec).map_err(internal)
    }

    /// Persists, logging instead of failing (state changes seen by a background task).
    fn persist_logged(&self, c: &Container) {
        if let Err(e) = self.persist(c) {
            tracing::error!(id = %c.id, "cannot record the container state: {}", e.message);
        }
    }

    /// Publishes a container event with Docker's attributes (name, image, labels, extra).
    fn event(&self, c: &Container, action: &str, extra: &[(&str, String)]) {
        let (name, image, labels) = c.with_record(|r| {
            (
                r.name.clone(),
                r.image_name.clone(),
                r.config.labels.clone(),
            )
        });
        let mut attrs: BTreeMap<String, String> = labels;
        attrs.insert("name".into(), name);
        attrs.insert("image".into(), image);
        for (k, v) in extra {
            attrs.insert((*k).to_string(), v.clone());
        }
        self.events.publish("container", action, &c.id, attrs);
    }

    /// How to spawn a shim for container `rec` in `state_dir`: the runtime's fields filled in,
    /// stdio, log and exec mode left for the caller (a container's start or an exec).
    fn shim_spawn(&self, rec: &ContainerRecord, state_dir: &Path) -> ShimSpawn {
        ShimSpawn {
            id: rec.id.clone(),
            runtime: self
                .runtime
                .runtimes
                .get(&rec.runtime)
                .cloned()
                .unwrap_or_default(),
            runtime_name: rec.runtime.clone(),
            runtime_root: self.paths.runtime_root(&rec.runtime),
            bundle: self.paths.bundle(&rec.id),
            state_dir: state_dir.to_path_buf(),
            tty: false,
            stdin: false,
            stdin_once: false,
            log: None,
            cgroup_path: None,
            exec: None,
            create_timeout: SHIM_CREATE_TIMEOUT,
        }
    }

    fn driver(&self, runtime: &str) -> Result<RuntimeDriver, ApiError> {
        let path = self.runtime.runtimes.get(runtime).ok_or_else(|| {
            ApiError::invalid(format!(
                "unknown runtime {runtime:?}: register it with pouchd --add-runtime {runtime}=PATH"
            ))
        })?;
        Ok(RuntimeDriver::new(
            runtime,
            path.clone(),
            self.paths.runtime_root(runtime),
        ))
    }
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

pub(crate) fn no_such_container(name: &str) -> ApiError {
    ApiError::not_found(format!("No such container: {name}"))
}

/// Now in RFC 3339 with nanoseconds (Docker's time format).
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Removes a path, file or directory tree, ignoring absence.
pub(crate) fn remove_path(p: &Path) {
    let r = if p.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    };
    if let Err(e) = r {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %p.display(), "cannot remove: {e}");
        }
    }
}
