//! Container shapes of the Docker Engine API 1.44: the create body (config, host config,
//! networking config), inspect and list answers, exec, events, stats, archive path stat and
//! the small answers (wait, top, update, prune, changes).
//!
//! Every input struct accepts absent fields and `null` fields (the docker CLI sends
//! `"Env":null`, `"Binds":null`, ...); outputs follow Docker's shapes, with `null` for unset
//! slices where Docker emits it.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

mod archive;
mod events;
mod exec;
mod host;
mod inspect;
mod network;
mod stats;
#[cfg(test)]
mod tests;

pub use archive::{go_file_mode, PathStat};
pub use events::{EventActor, EventMessage};
pub use exec::{ExecConfig, ExecInspect, ExecProcessConfig, ExecStartConfig};
pub use host::{
    BindOptions, ContainerUpdate, DeviceMapping, HostConfig, LogConfig, Mount, MountDriver,
    Resources, RestartPolicy, ThrottleDevice, TmpfsOptions, Ulimit, VolumeOptions, WeightDevice,
};
pub use inspect::{
    ContainerInspect, ContainerState, ContainerSummary, MountPoint, Port, SummaryHostConfig,
    SummaryNetworkSettings,
};
pub use network::{
    Address, EndpointIpamConfig, EndpointSettings, NetworkSettings, NetworkingConfig, PortBinding,
    PortMap,
};
pub use stats::{
    BlkioStatEntry, BlkioStats, ContainerStats, CpuStats, CpuUsage, MemoryStats, NetworkStats,
    PidsStats, StorageStats, ThrottlingData,
};

/// Docker's zero time, shown for `StartedAt`/`FinishedAt` when unset.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Deserializes `null` as the type's default (absent fields are handled by `#[serde(default)]`).
pub fn de_null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Deserializes Docker's `strslice.StrSlice`: `null`, a single string, or an array of strings.
pub fn de_strslice<'de, D>(d: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StrSlice {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<StrSlice>::deserialize(d)? {
        None => None,
        Some(StrSlice::One(s)) => Some(vec![s]),
        Some(StrSlice::Many(v)) => Some(v),
    })
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

pub(crate) fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Docker's container `Config` (the part of the create body that is not `HostConfig`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    #[serde(deserialize_with = "de_null_default")]
    pub hostname: String,
    #[serde(deserialize_with = "de_null_default")]
    pub domainname: String,
    #[serde(deserialize_with = "de_null_default")]
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    /// Keys like `80/tcp`, values `{}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    #[serde(deserialize_with = "de_strslice")]
    pub cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "de_null_default")]
    pub args_escaped: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub image: String,
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(deserialize_with = "de_null_default")]
    pub working_dir: String,
    #[serde(deserialize_with = "de_strslice")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "de_null_default")]
    pub network_disabled: bool,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub mac_address: String,
    pub on_build: Option<Vec<String>>,
    #[serde(deserialize_with = "de_null_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub stop_signal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_strslice"
    )]
    pub shell: Option<Vec<String>>,
    /// Pouch: disk quotas, `{"/": "10g"}`, `{"/data": "5g"}`, `{".*": "1g"}`.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub disk_quota: BTreeMap<String, String>,
    /// Pouch: the project quota id (`-1` allocates one, empty or `0` none).
    #[serde(
        rename = "QuotaID",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub quota_id: String,
    /// Pouch: do not generate `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "de_null_default")]
    pub disable_network_files: bool,
    /// Pouch: a rich container (an init as PID 1, the environment in /etc/profile.d).
    #[serde(skip_serializing_if = "is_false", deserialize_with = "de_null_default")]
    pub rich: bool,
    /// Pouch: the rich container's init: `dumb-init` (default), `sbin-init` or `systemd`.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub rich_mode: String,
    /// Pouch: a command run inside a rich container before its main process, on every start.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub init_script: String,
    /// Pouch: the 64-hex id the caller wants the container to have (create only).
    #[serde(
        rename = "SpecificID",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub specific_id: String,
}

/// Pouch's `POST /containers/{id}/upgrade` body: the new image and, optionally, a new
/// entrypoint and command (otherwise the new image's).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerUpgradeConfig {
    #[serde(deserialize_with = "de_null_default")]
    pub image: String,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_strslice"
    )]
    pub cmd: Option<Vec<String>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_strslice"
    )]
    pub entrypoint: Option<Vec<String>>,
}

/// `POST /containers/create` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerCreateBody {
    #[serde(flatten)]
    pub config: ContainerConfig,
    pub host_config: Option<HostConfig>,
    pub networking_config: Option<NetworkingConfig>,
}

/// `POST /containers/create` answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerCreateResponse {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(deserialize_with = "de_null_default")]
    pub warnings: Vec<String>,
}

/// The error of a `POST /containers/{id}/wait` answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitExitError {
    #[serde(deserialize_with = "de_null_default")]
    pub message: String,
}

/// `POST /containers/{id}/wait` answer: `{"StatusCode":0,"Error":null}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitResponse {
    pub status_code: i64,
    pub error: Option<WaitExitError>,
}

/// `GET /containers/{id}/top` answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerTopResponse {
    #[serde(deserialize_with = "de_null_default")]
    pub titles: Vec<String>,
    #[serde(deserialize_with = "de_null_default")]
    pub processes: Vec<Vec<String>>,
}

/// `POST /containers/{id}/update` answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerUpdateResponse {
    #[serde(deserialize_with = "de_null_default")]
    pub warnings: Vec<String>,
}

/// `POST /containers/prune` answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerPruneResponse {
    pub containers_deleted: Option<Vec<String>>,
    pub space_reclaimed: u64,
}

/// `{"Id": ...}` answer (exec create).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct IdResponse {
    #[serde(rename = "Id", deserialize_with = "de_null_default")]
    pub id: String,
}

/// `GET /containers/{id}/changes` item. `Kind`: 0 modified, 1 added, 2 deleted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerChange {
    #[serde(deserialize_with = "de_null_default")]
    pub path: String,
    pub kind: u8,
}

impl ContainerChange {
    pub const MODIFIED: u8 = 0;
    pub const ADDED: u8 = 1;
    pub const DELETED: u8 = 2;
}
