//! Inspect (`GET /containers/{id}/json`) and list (`GET /containers/json`) answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::network::{EndpointSettings, NetworkSettings};
use super::{de_null_default, ContainerConfig, HostConfig, ZERO_TIME};
use crate::image::GraphDriver;

/// Inspect's `State`. Times are RFC 3339 with nanoseconds, [`ZERO_TIME`] when unset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerState {
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited` or `dead`.
    #[serde(deserialize_with = "de_null_default")]
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    #[serde(deserialize_with = "de_null_default")]
    pub error: String,
    #[serde(deserialize_with = "de_null_default")]
    pub started_at: String,
    #[serde(deserialize_with = "de_null_default")]
    pub finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<serde_json::Value>,
}

impl Default for ContainerState {
    fn default() -> Self {
        ContainerState {
            status: String::new(),
            running: false,
            paused: false,
            restarting: false,
            oom_killed: false,
            dead: false,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.to_string(),
            finished_at: ZERO_TIME.to_string(),
            health: None,
        }
    }
}

/// A mount as inspect and list show it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountPoint {
    /// `bind`, `volume`, `tmpfs`.
    #[serde(
        rename = "Type",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub kind: String,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub name: String,
    #[serde(deserialize_with = "de_null_default")]
    pub source: String,
    #[serde(deserialize_with = "de_null_default")]
    pub destination: String,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub driver: String,
    #[serde(deserialize_with = "de_null_default")]
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub propagation: String,
}

/// `GET /containers/{id}/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerInspect {
    #[serde(rename = "Id", deserialize_with = "de_null_default")]
    pub id: String,
    /// RFC 3339 with nanoseconds.
    #[serde(deserialize_with = "de_null_default")]
    pub created: String,
    #[serde(deserialize_with = "de_null_default")]
    pub path: String,
    #[serde(deserialize_with = "de_null_default")]
    pub args: Vec<String>,
    #[serde(deserialize_with = "de_null_default")]
    pub state: ContainerState,
    /// The image id (`sha256:...`).
    #[serde(deserialize_with = "de_null_default")]
    pub image: String,
    #[serde(deserialize_with = "de_null_default")]
    pub resolv_conf_path: String,
    #[serde(deserialize_with = "de_null_default")]
    pub hostname_path: String,
    #[serde(deserialize_with = "de_null_default")]
    pub hosts_path: String,
    #[serde(deserialize_with = "de_null_default")]
    pub log_path: String,
    /// With the leading `/`.
    #[serde(deserialize_with = "de_null_default")]
    pub name: String,
    pub restart_count: i64,
    #[serde(deserialize_with = "de_null_default")]
    pub driver: String,
    #[serde(deserialize_with = "de_null_default")]
    pub platform: String,
    #[serde(deserialize_with = "de_null_default")]
    pub mount_label: String,
    #[serde(deserialize_with = "de_null_default")]
    pub process_label: String,
    #[serde(deserialize_with = "de_null_default")]
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    #[serde(deserialize_with = "de_null_default")]
    pub host_config: HostConfig,
    #[serde(deserialize_with = "de_null_default")]
    pub graph_driver: GraphDriver,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    #[serde(deserialize_with = "de_null_default")]
    pub mounts: Vec<MountPoint>,
    #[serde(deserialize_with = "de_null_default")]
    pub config: ContainerConfig,
    #[serde(deserialize_with = "de_null_default")]
    pub network_settings: NetworkSettings,
}

/// A published or exposed port in a list item.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Port {
    #[serde(
        rename = "IP",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub ip: String,
    pub private_port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_port: Option<u16>,
    /// `tcp`, `udp`, `sctp`.
    #[serde(rename = "Type", deserialize_with = "de_null_default")]
    pub kind: String,
}

/// The list item's `HostConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct SummaryHostConfig {
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub network_mode: String,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub annotations: BTreeMap<String, String>,
}

/// The list item's `NetworkSettings`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct SummaryNetworkSettings {
    #[serde(deserialize_with = "de_null_default")]
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// `GET /containers/json` item.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerSummary {
    #[serde(rename = "Id", deserialize_with = "de_null_default")]
    pub id: String,
    /// With the leading `/`.
    #[serde(deserialize_with = "de_null_default")]
    pub names: Vec<String>,
    /// The image as the user named it.
    #[serde(deserialize_with = "de_null_default")]
    pub image: String,
    #[serde(rename = "ImageID", deserialize_with = "de_null_default")]
    pub image_id: String,
    #[serde(deserialize_with = "de_null_default")]
    pub command: String,
    /// Unix seconds.
    pub created: i64,
    #[serde(deserialize_with = "de_null_default")]
    pub ports: Vec<Port>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    #[serde(deserialize_with = "de_null_default")]
    pub labels: BTreeMap<String, String>,
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited`, `dead`.
    #[serde(deserialize_with = "de_null_default")]
    pub state: String,
    /// Human text: `Up 2 minutes`, `Exited (0) 3 seconds ago`.
    #[serde(deserialize_with = "de_null_default")]
    pub status: String,
    #[serde(deserialize_with = "de_null_default")]
    pub host_config: SummaryHostConfig,
    #[serde(deserialize_with = "de_null_default")]
    pub network_settings: SummaryNetworkSettings,
    #[serde(deserialize_with = "de_null_default")]
    pub mounts: Vec<MountPoint>,
}
