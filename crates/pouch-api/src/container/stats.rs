//! `GET /containers/{id}/stats` answer, in Docker's snake_case shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{de_null_default, ZERO_TIME};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PidsStats {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BlkioStatEntry {
    pub major: u64,
    pub minor: u64,
    /// `read`, `write`, `sync`, `async`, `discard`, `total` (v1 capitalises: `Read`, ...).
    #[serde(deserialize_with = "de_null_default")]
    pub op: String,
    pub value: u64,
}

/// Block IO; cgroup v2 fills only `io_service_bytes_recursive` and `io_serviced_recursive`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BlkioStats {
    pub io_service_bytes_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_serviced_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_queue_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_service_time_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_wait_time_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_merged_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_time_recursive: Option<Vec<BlkioStatEntry>>,
    pub sectors_recursive: Option<Vec<BlkioStatEntry>>,
}

/// Windows only in Docker; always empty here.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct StorageStats {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_count_normalized: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_size_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_count_normalized: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_size_bytes: Option<u64>,
}

/// Nanoseconds of CPU time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CpuUsage {
    pub total_usage: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percpu_usage: Option<Vec<u64>>,
    pub usage_in_kernelmode: u64,
    pub usage_in_usermode: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ThrottlingData {
    pub periods: u64,
    pub throttled_periods: u64,
    /// Nanoseconds.
    pub throttled_time: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CpuStats {
    #[serde(deserialize_with = "de_null_default")]
    pub cpu_usage: CpuUsage,
    /// Host CPU time in nanoseconds (from /proc/stat).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_cpu_usage: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_cpus: Option<u32>,
    #[serde(deserialize_with = "de_null_default")]
    pub throttling_data: ThrottlingData,
}

/// Bytes. `stats` holds the cgroup's `memory.stat` keys (v2: `inactive_file`, `anon`, ...).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct MemoryStats {
    pub usage: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_usage: Option<u64>,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub stats: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failcnt: Option<u64>,
    pub limit: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworkStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// One stats sample. `read`/`preread` are RFC 3339 with nanoseconds ([`ZERO_TIME`] for the
/// first sample's `preread`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ContainerStats {
    #[serde(deserialize_with = "de_null_default")]
    pub read: String,
    #[serde(deserialize_with = "de_null_default")]
    pub preread: String,
    #[serde(deserialize_with = "de_null_default")]
    pub pids_stats: PidsStats,
    #[serde(deserialize_with = "de_null_default")]
    pub blkio_stats: BlkioStats,
    pub num_procs: u32,
    #[serde(deserialize_with = "de_null_default")]
    pub storage_stats: StorageStats,
    #[serde(deserialize_with = "de_null_default")]
    pub cpu_stats: CpuStats,
    #[serde(deserialize_with = "de_null_default")]
    pub precpu_stats: CpuStats,
    #[serde(deserialize_with = "de_null_default")]
    pub memory_stats: MemoryStats,
    /// With the leading `/`.
    #[serde(deserialize_with = "de_null_default")]
    pub name: String,
    #[serde(deserialize_with = "de_null_default")]
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<BTreeMap<String, NetworkStats>>,
}

impl Default for ContainerStats {
    fn default() -> Self {
        ContainerStats {
            read: ZERO_TIME.to_string(),
            preread: ZERO_TIME.to_string(),
            pids_stats: PidsStats::default(),
            blkio_stats: BlkioStats::default(),
            num_procs: 0,
            storage_stats: StorageStats::default(),
            cpu_stats: CpuStats::default(),
            precpu_stats: CpuStats::default(),
            memory_stats: MemoryStats::default(),
            name: String::new(),
            id: String::new(),
            networks: None,
        }
    }
}
