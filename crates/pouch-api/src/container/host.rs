//! `HostConfig`, the `Resources` flattened into it (also the update body), mounts and the
//! small device, ulimit, log and restart types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::network::PortMap;
use super::{de_null_default, de_strslice, is_false, is_zero};

/// `HostConfig.RestartPolicy`. `Name`: `""`, `no`, `always`, `unless-stopped`, `on-failure`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    #[serde(deserialize_with = "de_null_default")]
    pub name: String,
    #[serde(deserialize_with = "de_null_default")]
    pub maximum_retry_count: i64,
}

/// `HostConfig.LogConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type", deserialize_with = "de_null_default")]
    pub kind: String,
    #[serde(deserialize_with = "de_null_default")]
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    #[serde(deserialize_with = "de_null_default")]
    pub name: String,
    #[serde(deserialize_with = "de_null_default")]
    pub soft: i64,
    #[serde(deserialize_with = "de_null_default")]
    pub hard: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    #[serde(deserialize_with = "de_null_default")]
    pub path_on_host: String,
    #[serde(deserialize_with = "de_null_default")]
    pub path_in_container: String,
    #[serde(deserialize_with = "de_null_default")]
    pub cgroup_permissions: String,
}

/// Bytes or operations per second for one block device.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    #[serde(deserialize_with = "de_null_default")]
    pub path: String,
    #[serde(deserialize_with = "de_null_default")]
    pub rate: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    #[serde(deserialize_with = "de_null_default")]
    pub path: String,
    #[serde(deserialize_with = "de_null_default")]
    pub weight: u16,
}

/// Cgroup resources; flattened into `HostConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    #[serde(deserialize_with = "de_null_default")]
    pub cpu_shares: i64,
    #[serde(deserialize_with = "de_null_default")]
    pub memory: i64,
    #[serde(deserialize_with = "de_null_default")]
    pub nano_cpus: i64,
    #[serde(deserialize_with = "de_null_default")]
    pub cgroup_parent: String,
    #[serde(deserialize_with = "de_null_default")]
    pub blkio_weight: i64,
    #[serde(deserialize_with = "de_null_default")]
    pub blkio_weight_device: Vec<WeightDevice>,
    #[serde(deserialize_with = "de_null_default")]
    pub blkio_device_read_bps: Vec<ThrottleDevice>,
    #[serde(deserialize_with = "de_null_default")]
    pub blkio_device_write_bps: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceReadIOps", deserialize_with = "de_null_default")]
    pub blkio_device_read_iops: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceWriteIOps", deserialize_with = "de_null_default")]
    pub blkio_device_write_iops: Vec<ThrottleDevice>,
    #[serde(deserialize_with = "de_null_default")]
    pub cpu_period: i64,
    #[serde(deserialize_with = "de_null_default")]
    pub cpu_quota: i64,
    #[serde(deserialize_with = "de_null_default")]
    pub cpu_realtime_period: i64,
    #[serde(deserialize_with = "de_null_default")]
    pub cpu_realtime_runtime: i64,
    #[serde(deserialize_with = "de_null_default")]
    pub cpuset_cpus: String,
    #[serde(deserialize_with = "de_null_default")]
    pub cpuset_mems: String,
    #[serde(deserialize_with = "de_null_default")]
    pub devices: Vec<DeviceMapping>,
    pub device_cgroup_rules: Option<Vec<String>>,
    /// Docker's `[]DeviceRequest` (GPUs); kept as JSON.
    pub device_requests: serde_json::Value,
    #[serde(skip_serializing_if = "is_zero", deserialize_with = "de_null_default")]
    pub kernel_memory: i64,
    #[serde(
        rename = "KernelMemoryTCP",
        skip_serializing_if = "is_zero",
        deserialize_with = "de_null_default"
    )]
    pub kernel_memory_tcp: i64,
    #[serde(deserialize_with = "de_null_default")]
    pub memory_reservation: i64,
    #[serde(deserialize_with = "de_null_default")]
    pub memory_swap: i64,
    pub memory_swappiness: Option<i64>,
    pub oom_kill_disable: Option<bool>,
    /// Docker has `Init` in `HostConfig` itself; the JSON is the same (flattened).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// `null` in an update means "do not change".
    pub pids_limit: Option<i64>,
    #[serde(deserialize_with = "de_null_default")]
    pub ulimits: Vec<Ulimit>,
    #[serde(deserialize_with = "de_null_default")]
    pub cpu_count: i64,
    #[serde(deserialize_with = "de_null_default")]
    pub cpu_percent: i64,
    #[serde(rename = "IOMaximumIOps", deserialize_with = "de_null_default")]
    pub io_maximum_iops: u64,
    #[serde(rename = "IOMaximumBandwidth", deserialize_with = "de_null_default")]
    pub io_maximum_bandwidth: u64,
}

/// `POST /containers/{id}/update` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerUpdate {
    #[serde(flatten)]
    pub resources: Resources,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    /// Pouch: new disk quotas (`{"/": "20g"}`), applied live.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub disk_quota: BTreeMap<String, String>,
    /// Pouch: `A=1` sets A, `A=` sets it empty, `A` removes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Pouch: `k=v` sets label k, `k` removes it.
    #[serde(rename = "Label", skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct BindOptions {
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub propagation: String,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "de_null_default")]
    pub non_recursive: bool,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "de_null_default")]
    pub create_mountpoint: bool,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "de_null_default")]
    pub read_only_non_recursive: bool,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "de_null_default")]
    pub read_only_force_recursive: bool,
}

/// A volume driver and its options.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountDriver {
    #[serde(deserialize_with = "de_null_default")]
    pub name: String,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeOptions {
    #[serde(skip_serializing_if = "is_false", deserialize_with = "de_null_default")]
    pub no_copy: bool,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_config: Option<MountDriver>,
    /// API 1.45; accepted so newer clients are not refused.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub subpath: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    #[serde(skip_serializing_if = "is_zero", deserialize_with = "de_null_default")]
    pub size_bytes: i64,
    /// Go `os.FileMode` (permission bits).
    #[serde(
        skip_serializing_if = "is_zero_u32",
        deserialize_with = "de_null_default"
    )]
    pub mode: u32,
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

/// `HostConfig.Mounts` item. `Type`: `bind`, `volume`, `tmpfs`, `npipe`, `cluster`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
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
    pub source: String,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub target: String,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "de_null_default")]
    pub read_only: bool,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub consistency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BindOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<VolumeOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
}

/// Docker's `HostConfig` (create body, inspect).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    #[serde(rename = "ContainerIDFile", deserialize_with = "de_null_default")]
    pub container_id_file: String,
    #[serde(deserialize_with = "de_null_default")]
    pub log_config: LogConfig,
    #[serde(deserialize_with = "de_null_default")]
    pub network_mode: String,
    #[serde(deserialize_with = "de_null_default")]
    pub port_bindings: PortMap,
    #[serde(deserialize_with = "de_null_default")]
    pub restart_policy: RestartPolicy,
    #[serde(deserialize_with = "de_null_default")]
    pub auto_remove: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub volume_driver: String,
    pub volumes_from: Option<Vec<String>>,
    /// `[height, width]`.
    #[serde(deserialize_with = "de_null_default")]
    pub console_size: [u64; 2],
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub annotations: BTreeMap<String, String>,
    #[serde(deserialize_with = "de_strslice")]
    pub cap_add: Option<Vec<String>>,
    #[serde(deserialize_with = "de_strslice")]
    pub cap_drop: Option<Vec<String>>,
    #[serde(deserialize_with = "de_null_default")]
    pub cgroupns_mode: String,
    pub dns: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub extra_hosts: Option<Vec<String>>,
    pub group_add: Option<Vec<String>>,
    #[serde(deserialize_with = "de_null_default")]
    pub ipc_mode: String,
    #[serde(deserialize_with = "de_null_default")]
    pub cgroup: String,
    pub links: Option<Vec<String>>,
    #[serde(deserialize_with = "de_null_default")]
    pub oom_score_adj: i64,
    #[serde(deserialize_with = "de_null_default")]
    pub pid_mode: String,
    #[serde(deserialize_with = "de_null_default")]
    pub privileged: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub publish_all_ports: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub readonly_rootfs: bool,
    pub security_opt: Option<Vec<String>>,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub storage_opt: BTreeMap<String, String>,
    /// Target path -> mount options (`"rw,size=64m"`).
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub tmpfs: BTreeMap<String, String>,
    #[serde(rename = "UTSMode", deserialize_with = "de_null_default")]
    pub uts_mode: String,
    #[serde(deserialize_with = "de_null_default")]
    pub userns_mode: String,
    #[serde(deserialize_with = "de_null_default")]
    pub shm_size: i64,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub sysctls: BTreeMap<String, String>,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub runtime: String,
    #[serde(deserialize_with = "de_null_default")]
    pub isolation: String,
    #[serde(flatten)]
    pub resources: Resources,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<Mount>>,
    pub masked_paths: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
    /// Pouch: bind lxcfs's /proc files over the container's (pouchd needs `--enable-lxcfs`).
    #[serde(skip_serializing_if = "is_false", deserialize_with = "de_null_default")]
    pub enable_lxcfs: bool,
}
