//! The engine: the one interface front ends (the HTTP router, later CRI) use. It opens the
//! metadata store and the subsystems under the home dir, and answers in API shapes
//! (`pouch_api`) with `ApiError`s, so front ends never see a subsystem's types. It wraps
//! the image manager (`images`), the container manager (`containers`) and host facts
//! (`system`).

pub mod containers;
mod daemon;
mod edits;
mod host;
mod images;
mod networks;
mod prune;
mod system;
#[cfg(test)]
mod test_btrfs;
mod volumes;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pouch_image::manager::{ImageManager, ImageManagerConfig};
use pouch_store::Store;
use tokio_util::sync::CancellationToken;

pub use containers::api::LogStream;
pub use containers::{
    AttachOptions, AttachSession, EventsOptions, ListOptions, LogsOptions, RuntimeConfig,
    WaitHandle,
};
pub use daemon::{DaemonChange, DaemonError, DaemonHooks};

/// The default bridge and firewall flags, and the subnet type they use.
pub use pouch_network::ipam::Ipv4Net;
pub use pouch_network::manager::BridgeConfig;

/// Where images are pulled from (mirrors, insecure registries); front ends name it through
/// the engine.
pub use pouch_image::registry::RegistryConfig;

/// Everything the engine needs to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Persistent state (`--home-dir`, default /var/lib/pouch).
    pub home_dir: PathBuf,
    /// Runtime state (`--exec-root`, default /run/pouch).
    pub exec_root: PathBuf,
    pub registry: RegistryConfig,
    /// Layers downloaded at once per pull.
    pub max_concurrent_downloads: usize,
    pub debug: bool,
    /// What the daemon listens on, as given (`unix:///var/run/pouchd.sock`), for `/info`.
    pub listen_addresses: Vec<String>,
    /// OCI runtimes, shim and init.
    pub runtime: RuntimeConfig,
    /// The default bridge and firewall flags.
    pub network: pouch_network::manager::BridgeConfig,
    /// The daemon's labels (`--label key=value`), shown by `/info`.
    pub labels: Vec<String>,
    /// Whether containers may use lxcfs, and where it is mounted.
    pub lxcfs: LxcfsConfig,
}

/// `--enable-lxcfs` and `--lxcfs-home`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LxcfsConfig {
    pub enabled: bool,
    /// Where lxcfs is mounted (default /var/lib/lxcfs).
    pub home: PathBuf,
}

impl Default for LxcfsConfig {
    fn default() -> LxcfsConfig {
        LxcfsConfig {
            enabled: false,
            home: PathBuf::from("/var/lib/lxcfs"),
        }
    }
}

/// Why the engine could not open.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot create directory {path}: {source} (check the path and permissions)")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("engine id file {path}: {source} (remove it to get a new id)")]
    Id {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] pouch_store::StoreError),
    #[error("cannot open the image store: {0}")]
    Images(#[from] pouch_image::ImageError),
    #[error("cannot open the containers: {0}")]
    Containers(#[from] pouch_api::ApiError),
    #[error("cannot open the networks: {0}")]
    Network(String),
    #[error("cannot open the volumes: {0}")]
    Volumes(#[from] pouch_volume::VolumeError),
    #[error(transparent)]
    Lxcfs(#[from] containers::lxcfs::LxcfsError),
}

/// The engine: shared by every request (`Arc<Engine>`).
pub struct Engine {
    config: EngineConfig,
    id: String,
    images: Arc<ImageManager>,
    containers: Arc<containers::Containers>,
    network: Arc<pouch_network::manager::NetworkManager>,
    volumes: Arc<pouch_volume::VolumeManager>,
    /// The disk quota back end under the home dir (`None`: quota requests are refused).
    pub(crate) quota: Option<Arc<dyn pouch_quota::Quota>>,
    /// The labels and debug flag as `pouch updatedaemon` left them (`daemon.rs`).
    daemon: daemon::DaemonState,
    shutdown: CancellationToken,
}

impl Engine {
    /// Opens the metadata store (`<home>/pouch.redb`) and the image manager.
    pub fn open(config: EngineConfig) -> Result<Arc<Engine>, EngineError> {
        for dir in [&config.home_dir, &config.exec_root] {
            std::fs::create_dir_all(dir).map_err(|source| EngineError::Dir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        if config.lxcfs.enabled {
            containers::lxcfs::Lxcfs::new(config.lxcfs.clone()).check()?;
        }
        let id = engine_id(&config.home_dir)?;
        let store = Arc::new(Store::open(&config.home_dir.join("pouch.redb"))?);
        let images = ImageManager::open(
            ImageManagerConfig {
                home: config.home_dir.clone(),
                registry: config.registry.clone(),
                max_concurrent_downloads: config.max_concurrent_downloads.max(1),
            },
            store.clone(),
        )?;
        let network = pouch_network::manager::NetworkManager::new(
            store.clone(),
            pouch_network::manager::ManagerConfig {
                exec_root: config.exec_root.clone(),
                bridge: config.network.clone(),
                table: config.network.firewall_table.clone(),
            },
        )
        .map_err(|e| EngineError::Network(e.to_string()))?;
        let quota = pouch_quota::detect(&config.home_dir);
        tracing::info!(
            backend = quota.as_ref().map_or("none", |q| q.backend()),
            "disk quota"
        );
        let volumes = volumes::open(&config, store.clone(), quota.clone())?;
        let containers = containers::Containers::open(
            store,
            images.clone(),
            network.clone(),
            volumes.clone(),
            containers::Paths {
                home: config.home_dir.clone(),
                exec_root: config.exec_root.clone(),
            },
            config.runtime.clone(),
            quota.clone(),
            config.lxcfs.clone(),
        )?;
        // Mount again the volumes the containers use, so the counts of users are right (and
        // tmpfs volumes are back after a reboot).
        containers.restore_volume_mounts(&volumes);
        tracing::debug!(home = %config.home_dir.display(), id = %id, "engine opened");
        Ok(Arc::new(Engine {
            daemon: daemon::DaemonState::new(&config),
            config,
            id,
            images,
            containers,
            volumes,
            network,
            quota,
            shutdown: CancellationToken::new(),
        }))
    }

    /// The configuration the engine opened with (the live labels, debug flag and registry
    /// settings, which `update_daemon` changes, are `daemon_labels`, `debug` and
    /// `registry_config`).
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The stable id of this engine (persisted in `<home>/engine-id`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A token for one long operation (pull, push): cancelled when the engine shuts down,
    /// and cancellable on its own (a client that went away).
    pub fn operation_token(&self) -> CancellationToken {
        self.shutdown.child_token()
    }

    /// Cancels every running pull and push (SIGTERM).
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }
}

/// Reads `<home>/engine-id`, creating it with a fresh uuid from the kernel the first time.
fn engine_id(home: &Path) -> Result<String, EngineError> {
    let path = home.join("engine-id");
    let err = |source| EngineError::Id {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let id = std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .map_err(err)?
        .trim()
        .to_string();
    let tmp = home.join("engine-id.tmp");
    std::fs::write(&tmp, format!("{id}\n")).map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_id_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let a = engine_id(dir.path()).unwrap();
        assert_eq!(a.len(), 36, "uuid form: {a}");
        assert_eq!(engine_id(dir.path()).unwrap(), a);
        std::fs::write(dir.path().join("engine-id"), "").unwrap();
        assert_ne!(engine_id(dir.path()).unwrap(), a);
    }
}
