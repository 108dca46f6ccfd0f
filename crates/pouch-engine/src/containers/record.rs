//! The persisted container record (table `containers`, one JSON value per container) and its
//! state machine: created → running ⇄ paused → exited (→ restarting → running), removing.

use pouch_api::container::{ContainerConfig, ContainerState, HostConfig};
use serde::{Deserialize, Serialize};

/// Go's zero time, which Docker prints for times that never happened.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The lifecycle status (Docker's `State.Status` words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// Whether a process of the container exists (running or frozen).
    pub fn is_alive(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }
}

/// The runtime state of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StateRecord {
    pub status: Status,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    pub oom_killed: bool,
    pub restart_count: i64,
    /// Stopped by the user (`stop`, `kill`): `unless-stopped` stays down, restarts stop.
    pub manually_stopped: bool,
    /// Pid of the shim, for live restore diagnostics.
    pub shim_pid: i64,
}

impl Default for StateRecord {
    fn default() -> Self {
        StateRecord {
            status: Status::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            oom_killed: false,
            restart_count: 0,
            manually_stopped: false,
            shim_pid: 0,
        }
    }
}

impl StateRecord {
    /// Docker's `State` object.
    pub fn to_api(&self) -> ContainerState {
        ContainerState {
            status: self.status.as_str().to_string(),
            running: self.status.is_alive(),
            paused: self.status == Status::Paused,
            restarting: self.status == Status::Restarting,
            oom_killed: self.oom_killed,
            dead: self.status == Status::Dead,
            pid: if self.status.is_alive() { self.pid } else { 0 },
            exit_code: self.exit_code,
            error: self.error.clone(),
            started_at: self.started_at.clone(),
            finished_at: self.finished_at.clone(),
            ..Default::default()
        }
    }
}

/// One container as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    /// Without the leading slash.
    pub name: String,
    /// RFC 3339 with nanoseconds.
    pub created: String,
    /// The image as the user named it (`busybox`).
    pub image_name: String,
    /// `sha256:<hex>`.
    pub image_id: String,
    /// The final config: image defaults merged with the create body.
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    /// The OCI runtime's registered name.
    pub runtime: String,
    /// Process path and args as Docker reports them (`Path`, `Args`).
    pub path: String,
    pub args: Vec<String>,
    pub state: StateRecord,
    /// Lower dirs of the rootfs overlay, top-most first.
    pub lower_dirs: Vec<std::path::PathBuf>,
    /// The networks the container is connected to, by network name, with the settings asked
    /// for (`--ip`, aliases, MAC); the live addresses are in `endpoints` while it runs.
    #[serde(default)]
    pub networks: std::collections::BTreeMap<String, pouch_api::container::EndpointSettings>,
    /// Live endpoints (address, gateway, MAC, host veth) while the container runs.
    #[serde(default)]
    pub endpoints: std::collections::BTreeMap<String, pouch_api::container::EndpointSettings>,
    /// Published ports as bound while it runs (`NetworkSettings.Ports`).
    #[serde(default)]
    pub ports: pouch_api::container::PortMap,
    /// The resolved mounts (volumes, binds, tmpfs), Docker's inspect `Mounts`.
    #[serde(default)]
    pub mounts: Vec<pouch_api::container::MountPoint>,
}
