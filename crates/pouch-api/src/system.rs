//! System shapes: version, info, auth, disk usage.

use serde::{Deserialize, Serialize};

use crate::image::ImageSummary;
use crate::volume::Volume;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Platform {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ComponentVersion {
    pub name: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// `GET /version`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Version {
    pub platform: Platform,
    pub components: Vec<ComponentVersion>,
    pub version: String,
    pub api_version: String,
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    pub git_commit: String,
    pub go_version: String,
    pub os: String,
    pub arch: String,
    pub kernel_version: String,
    pub experimental: bool,
    pub build_time: String,
}

/// `GET /info`: the fields Docker clients read, with real host figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Info {
    #[serde(rename = "ID")]
    pub id: String,
    pub containers: i64,
    pub containers_running: i64,
    pub containers_paused: i64,
    pub containers_stopped: i64,
    pub images: i64,
    pub driver: String,
    pub driver_status: Vec<[String; 2]>,
    pub plugins: serde_json::Value,
    pub memory_limit: bool,
    pub swap_limit: bool,
    pub cpu_cfs_period: bool,
    pub cpu_cfs_quota: bool,
    #[serde(rename = "CPUShares")]
    pub cpu_shares: bool,
    #[serde(rename = "CPUSet")]
    pub cpu_set: bool,
    pub pids_limit: bool,
    #[serde(rename = "IPv4Forwarding")]
    pub ipv4_forwarding: bool,
    pub debug: bool,
    #[serde(rename = "NFd")]
    pub nfd: i64,
    pub n_goroutines: i64,
    pub system_time: String,
    pub logging_driver: String,
    pub cgroup_driver: String,
    pub cgroup_version: String,
    pub n_events_listener: i64,
    pub kernel_version: String,
    pub operating_system: String,
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    pub architecture: String,
    #[serde(rename = "NCPU")]
    pub ncpu: i64,
    pub mem_total: i64,
    pub index_server_address: String,
    pub registry_config: serde_json::Value,
    pub docker_root_dir: String,
    /// Pouch's name for the same directory.
    pub pouch_root_dir: String,
    pub http_proxy: String,
    #[serde(rename = "HttpsProxy")]
    pub https_proxy: String,
    pub no_proxy: String,
    pub name: String,
    pub labels: Vec<String>,
    pub experimental_build: bool,
    pub server_version: String,
    pub runtimes: serde_json::Value,
    pub default_runtime: String,
    pub swarm: serde_json::Value,
    pub live_restore_enabled: bool,
    pub isolation: String,
    pub init_binary: String,
    pub security_options: Vec<String>,
    pub warnings: Vec<String>,
    pub listen_addresses: Vec<String>,
}

/// `POST /auth` body (the lower-case keys clients send).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AuthConfig {
    #[serde(alias = "Username", skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(alias = "Password", skip_serializing_if = "String::is_empty")]
    pub password: String,
    #[serde(alias = "Auth", skip_serializing_if = "String::is_empty")]
    pub auth: String,
    #[serde(alias = "Email", skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(alias = "ServerAddress", skip_serializing_if = "String::is_empty")]
    pub serveraddress: String,
    #[serde(alias = "IdentityToken", skip_serializing_if = "String::is_empty")]
    pub identitytoken: String,
    #[serde(alias = "RegistryToken", skip_serializing_if = "String::is_empty")]
    pub registrytoken: String,
}

/// `POST /auth` answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct AuthResponse {
    pub status: String,
    pub identity_token: String,
}

/// `GET /system/df`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct SystemDf {
    pub layers_size: i64,
    pub images: Vec<ImageSummary>,
    pub containers: Vec<serde_json::Value>,
    /// Every volume, with its `UsageData`.
    pub volumes: Vec<Volume>,
    pub build_cache: Vec<serde_json::Value>,
}

/// Pouch's `POST /daemon/update` body: what to change in the running daemon. A field left
/// out is left alone; every change is also written to pouchd's config file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DaemonUpdateConfig {
    /// `k=v` sets the daemon label k, `k` removes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// The new list of docker.io mirrors (replaces the old one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_mirrors: Option<Vec<String>>,
    /// The new list of insecure registries (replaces the old one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure_registries: Option<Vec<String>>,
    /// Debug logging on or off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debug: Option<bool>,
}
