//! Network shapes of a container: the create body's `NetworkingConfig`, per-network endpoint
//! settings, inspect's `NetworkSettings` and port bindings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::de_null_default;

/// One host binding of a container port.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    #[serde(deserialize_with = "de_null_default")]
    pub host_ip: String,
    #[serde(deserialize_with = "de_null_default")]
    pub host_port: String,
}

/// `"80/tcp"` -> bindings (`null` when exposed but not published).
pub type PortMap = BTreeMap<String, Option<Vec<PortBinding>>>;

/// `EndpointSettings.IPAMConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EndpointIpamConfig {
    #[serde(
        rename = "IPv4Address",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub ipv4_address: String,
    #[serde(
        rename = "IPv6Address",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub ipv6_address: String,
    #[serde(rename = "LinkLocalIPs", skip_serializing_if = "Option::is_none")]
    pub link_local_ips: Option<Vec<String>>,
}

/// A container's settings on one network (create body and inspect).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    #[serde(rename = "Links")]
    pub links: Option<Vec<String>>,
    #[serde(rename = "Aliases")]
    pub aliases: Option<Vec<String>>,
    #[serde(rename = "MacAddress", deserialize_with = "de_null_default")]
    pub mac_address: String,
    #[serde(rename = "DriverOpts")]
    pub driver_opts: Option<BTreeMap<String, String>>,
    #[serde(rename = "NetworkID", deserialize_with = "de_null_default")]
    pub network_id: String,
    #[serde(rename = "EndpointID", deserialize_with = "de_null_default")]
    pub endpoint_id: String,
    #[serde(rename = "Gateway", deserialize_with = "de_null_default")]
    pub gateway: String,
    #[serde(rename = "IPAddress", deserialize_with = "de_null_default")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen", deserialize_with = "de_null_default")]
    pub ip_prefix_len: i64,
    #[serde(rename = "IPv6Gateway", deserialize_with = "de_null_default")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address", deserialize_with = "de_null_default")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen", deserialize_with = "de_null_default")]
    pub global_ipv6_prefix_len: i64,
    #[serde(rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
}

/// The create body's `NetworkingConfig`: network name -> endpoint settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    #[serde(deserialize_with = "de_null_default")]
    pub endpoints_config: BTreeMap<String, EndpointSettings>,
}

/// A secondary address in `NetworkSettings`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Address {
    #[serde(deserialize_with = "de_null_default")]
    pub addr: String,
    #[serde(deserialize_with = "de_null_default")]
    pub prefix_len: i64,
}

/// Inspect's `NetworkSettings`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworkSettings {
    #[serde(rename = "Bridge", deserialize_with = "de_null_default")]
    pub bridge: String,
    #[serde(rename = "SandboxID", deserialize_with = "de_null_default")]
    pub sandbox_id: String,
    #[serde(rename = "SandboxKey", deserialize_with = "de_null_default")]
    pub sandbox_key: String,
    #[serde(rename = "Ports", deserialize_with = "de_null_default")]
    pub ports: PortMap,
    #[serde(rename = "HairpinMode", deserialize_with = "de_null_default")]
    pub hairpin_mode: bool,
    #[serde(rename = "LinkLocalIPv6Address", deserialize_with = "de_null_default")]
    pub link_local_ipv6_address: String,
    #[serde(
        rename = "LinkLocalIPv6PrefixLen",
        deserialize_with = "de_null_default"
    )]
    pub link_local_ipv6_prefix_len: i64,
    #[serde(rename = "SecondaryIPAddresses")]
    pub secondary_ip_addresses: Option<Vec<Address>>,
    #[serde(rename = "SecondaryIPv6Addresses")]
    pub secondary_ipv6_addresses: Option<Vec<Address>>,
    #[serde(rename = "EndpointID", deserialize_with = "de_null_default")]
    pub endpoint_id: String,
    #[serde(rename = "Gateway", deserialize_with = "de_null_default")]
    pub gateway: String,
    #[serde(rename = "GlobalIPv6Address", deserialize_with = "de_null_default")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen", deserialize_with = "de_null_default")]
    pub global_ipv6_prefix_len: i64,
    #[serde(rename = "IPAddress", deserialize_with = "de_null_default")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen", deserialize_with = "de_null_default")]
    pub ip_prefix_len: i64,
    #[serde(rename = "IPv6Gateway", deserialize_with = "de_null_default")]
    pub ipv6_gateway: String,
    #[serde(rename = "MacAddress", deserialize_with = "de_null_default")]
    pub mac_address: String,
    #[serde(rename = "Networks", deserialize_with = "de_null_default")]
    pub networks: BTreeMap<String, EndpointSettings>,
}
