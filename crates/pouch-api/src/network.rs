//! Docker's network objects (`/networks` endpoints): the inspect and list answer
//! ([`Network`] with its [`Ipam`] and attached [`NetworkContainer`]s), the create, connect
//! and disconnect bodies and the create and prune answers.
//!
//! Inputs accept absent and `null` fields (the docker CLI sends `"ConfigFrom":null`,
//! `"Options":null`, ...); outputs follow Docker 1.44's shapes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::container::{de_null_default, EndpointSettings};

/// One address pool of a network: `{"Subnet","IPRange","Gateway","AuxiliaryAddresses"}`,
/// empty fields left out as Docker does.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamConfig {
    /// `a.b.c.d/n`.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub subnet: String,
    /// `a.b.c.d/n` inside the subnet: where container addresses are taken from.
    #[serde(
        rename = "IPRange",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub ip_range: String,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub gateway: String,
    #[serde(
        rename = "AuxiliaryAddresses",
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub aux_addresses: BTreeMap<String, String>,
}

/// A network's IP address management: `{"Driver":"default","Options":null,"Config":[...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipam {
    /// `default` (the only IPAM driver); empty in a create body means `default`.
    #[serde(deserialize_with = "de_null_default")]
    pub driver: String,
    /// `null` when none were given (Docker's default bridge shows `null`).
    pub options: Option<BTreeMap<String, String>>,
    #[serde(deserialize_with = "de_null_default")]
    pub config: Vec<IpamConfig>,
}

/// `ConfigFrom`: the config-only network a network takes its configuration from.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConfigReference {
    #[serde(deserialize_with = "de_null_default")]
    pub network: String,
}

/// A container attached to a network, as `Network.Containers[<container id>]` shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworkContainer {
    /// The container's name, without the leading `/`.
    #[serde(rename = "Name", deserialize_with = "de_null_default")]
    pub name: String,
    #[serde(rename = "EndpointID", deserialize_with = "de_null_default")]
    pub endpoint_id: String,
    /// `02:42:ac:12:00:02`.
    #[serde(rename = "MacAddress", deserialize_with = "de_null_default")]
    pub mac_address: String,
    /// `a.b.c.d/n`.
    #[serde(rename = "IPv4Address", deserialize_with = "de_null_default")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address", deserialize_with = "de_null_default")]
    pub ipv6_address: String,
}

/// `GET /networks/{id}` answer and `GET /networks` item.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Network {
    #[serde(deserialize_with = "de_null_default")]
    pub name: String,
    /// 64 hex digits.
    #[serde(rename = "Id", deserialize_with = "de_null_default")]
    pub id: String,
    /// RFC 3339 with nanoseconds.
    #[serde(deserialize_with = "de_null_default")]
    pub created: String,
    /// Always `local`.
    #[serde(deserialize_with = "de_null_default")]
    pub scope: String,
    /// `bridge`, `macvlan`, `host` or `null`.
    #[serde(deserialize_with = "de_null_default")]
    pub driver: String,
    #[serde(rename = "EnableIPv6", deserialize_with = "de_null_default")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM", deserialize_with = "de_null_default")]
    pub ipam: Ipam,
    #[serde(deserialize_with = "de_null_default")]
    pub internal: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub attachable: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub ingress: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub config_from: ConfigReference,
    #[serde(deserialize_with = "de_null_default")]
    pub config_only: bool,
    /// Container id -> its endpoint on this network.
    #[serde(deserialize_with = "de_null_default")]
    pub containers: BTreeMap<String, NetworkContainer>,
    /// Driver options (`com.docker.network.bridge.name`, `parent`, ...).
    #[serde(deserialize_with = "de_null_default")]
    pub options: BTreeMap<String, String>,
    #[serde(deserialize_with = "de_null_default")]
    pub labels: BTreeMap<String, String>,
}

/// `POST /networks/create` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkCreateRequest {
    #[serde(deserialize_with = "de_null_default")]
    pub name: String,
    /// Sent by clients below API 1.44; a duplicate name is refused either way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_duplicate: Option<bool>,
    /// Empty means `bridge`.
    #[serde(deserialize_with = "de_null_default")]
    pub driver: String,
    #[serde(deserialize_with = "de_null_default")]
    pub scope: String,
    #[serde(rename = "EnableIPv6", deserialize_with = "de_null_default")]
    pub enable_ipv6: bool,
    /// `null` means the default driver and a pool subnet.
    #[serde(rename = "IPAM")]
    pub ipam: Option<Ipam>,
    #[serde(deserialize_with = "de_null_default")]
    pub internal: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub attachable: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub ingress: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub config_only: bool,
    pub config_from: Option<ConfigReference>,
    #[serde(deserialize_with = "de_null_default")]
    pub options: BTreeMap<String, String>,
    #[serde(deserialize_with = "de_null_default")]
    pub labels: BTreeMap<String, String>,
}

/// `POST /networks/create` answer (`201`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkCreateResponse {
    #[serde(rename = "Id", deserialize_with = "de_null_default")]
    pub id: String,
    #[serde(deserialize_with = "de_null_default")]
    pub warning: String,
}

/// `POST /networks/{id}/connect` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkConnectRequest {
    /// Container id or name.
    #[serde(deserialize_with = "de_null_default")]
    pub container: String,
    /// `--ip` (`IPAMConfig.IPv4Address`), `--alias` (`Aliases`), `MacAddress`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_config: Option<EndpointSettings>,
}

/// `POST /networks/{id}/disconnect` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkDisconnectRequest {
    /// Container id or name.
    #[serde(deserialize_with = "de_null_default")]
    pub container: String,
    #[serde(deserialize_with = "de_null_default")]
    pub force: bool,
}

/// `POST /networks/prune` answer: `{"NetworksDeleted":null}` when nothing was removed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkPruneResponse {
    pub networks_deleted: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    /// `docker network create --subnet 10.9.0.0/24 --gateway 10.9.0.1 --ip-range
    /// 10.9.0.128/25 -o com.docker.network.bridge.name=br9 --label a=b --internal mynet`
    /// as docker CLI 28 sends it at API 1.44.
    const DOCKER_CREATE: &str = r#"{"Driver":"bridge","Scope":"","IPAM":{"Driver":"default",
"Options":{},"Config":[{"Subnet":"10.9.0.0/24","IPRange":"10.9.0.128/25","Gateway":"10.9.0.1"}]},
"Internal":true,"Attachable":false,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,
"Options":{"com.docker.network.bridge.name":"br9"},"Labels":{"a":"b"},"Name":"mynet"}"#;

    #[test]
    fn docker_cli_create_body() {
        let req: NetworkCreateRequest = serde_json::from_str(DOCKER_CREATE).unwrap();
        assert_eq!(req.name, "mynet");
        assert_eq!(req.driver, "bridge");
        assert!(req.internal && !req.attachable && !req.enable_ipv6);
        assert_eq!(req.check_duplicate, None);
        assert_eq!(req.config_from, None);
        let ipam = req.ipam.as_ref().unwrap();
        assert_eq!(ipam.driver, "default");
        assert_eq!(ipam.options, Some(BTreeMap::new()));
        assert_eq!(
            ipam.config,
            [IpamConfig {
                subnet: "10.9.0.0/24".into(),
                ip_range: "10.9.0.128/25".into(),
                gateway: "10.9.0.1".into(),
                aux_addresses: BTreeMap::new(),
            }]
        );
        assert_eq!(req.options["com.docker.network.bridge.name"], "br9");
        assert_eq!(req.labels["a"], "b");
        // What our client sends reads back the same.
        let again: NetworkCreateRequest =
            serde_json::from_value(serde_json::to_value(&req).unwrap()).unwrap();
        assert_eq!(again, req);
    }

    #[test]
    fn minimal_and_old_create_bodies() {
        // docker-py: only what was given; API < 1.44 clients add CheckDuplicate.
        let req: NetworkCreateRequest =
            serde_json::from_str(r#"{"Name":"n","CheckDuplicate":true,"EnableIPv6":null}"#)
                .unwrap();
        assert_eq!(req.name, "n");
        assert_eq!(req.check_duplicate, Some(true));
        assert_eq!(req.driver, "");
        assert_eq!(req.ipam, None);
        assert!(!req.enable_ipv6);
        let req: NetworkCreateRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(req, NetworkCreateRequest::default());
        let v = serde_json::to_value(NetworkCreateRequest::default()).unwrap();
        assert!(v.get("CheckDuplicate").is_none());
    }

    #[test]
    fn inspect_has_dockers_keys() {
        let mut net = Network {
            name: "mynet".into(),
            id: "a".repeat(64),
            created: "2024-01-02T03:04:05.123456789Z".into(),
            scope: "local".into(),
            driver: "bridge".into(),
            ipam: Ipam {
                driver: "default".into(),
                options: None,
                config: vec![IpamConfig {
                    subnet: "172.18.0.0/16".into(),
                    gateway: "172.18.0.1".into(),
                    ..Default::default()
                }],
            },
            ..Default::default()
        };
        net.containers.insert(
            "c".repeat(64),
            NetworkContainer {
                name: "web".into(),
                endpoint_id: "e".repeat(64),
                mac_address: "02:42:ac:12:00:02".into(),
                ipv4_address: "172.18.0.2/16".into(),
                ipv6_address: String::new(),
            },
        );
        net.options
            .insert("com.docker.network.bridge.name".into(), "br-aaaa".into());
        let v = serde_json::to_value(&net).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for k in [
            "Name",
            "Id",
            "Created",
            "Scope",
            "Driver",
            "EnableIPv6",
            "IPAM",
            "Internal",
            "Attachable",
            "Ingress",
            "ConfigFrom",
            "ConfigOnly",
            "Containers",
            "Options",
            "Labels",
        ] {
            assert!(keys.contains(&k), "{k} missing from {keys:?}");
        }
        assert_eq!(keys.len(), 15, "{keys:?}");
        assert_eq!(
            v["IPAM"],
            json!({"Driver": "default", "Options": null,
                   "Config": [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]})
        );
        assert_eq!(v["ConfigFrom"], json!({"Network": ""}));
        assert_eq!(
            v["Containers"]["c".repeat(64)],
            json!({"Name": "web", "EndpointID": "e".repeat(64),
                   "MacAddress": "02:42:ac:12:00:02", "IPv4Address": "172.18.0.2/16",
                   "IPv6Address": ""})
        );
        assert_eq!(v["Labels"], json!({}));
        let back: Network = serde_json::from_value(v).unwrap();
        assert_eq!(back, net);
    }

    /// `docker network inspect host` from Docker 28 (Config and Options null there).
    #[test]
    fn docker_inspect_with_nulls_reads() {
        let text = r#"{"Name":"host","Id":"6e1f","Created":"2024-05-01T10:00:00.1Z",
"Scope":"local","Driver":"host","EnableIPv4":true,"EnableIPv6":false,
"IPAM":{"Driver":"default","Options":null,"Config":null},"Internal":false,
"Attachable":false,"Ingress":false,"ConfigFrom":{"Network":""},"ConfigOnly":false,
"Containers":{},"Options":{},"Labels":{}}"#;
        let net: Network = serde_json::from_str(text).unwrap();
        assert_eq!(net.driver, "host");
        assert!(net.ipam.config.is_empty());
        assert_eq!(net.ipam.options, None);
        let net: Network = serde_json::from_str(r#"{"Containers":null,"Labels":null}"#).unwrap();
        assert!(net.containers.is_empty() && net.labels.is_empty());
    }

    #[test]
    fn connect_disconnect_and_answers() {
        // `docker network connect --ip 10.9.0.5 --alias x mynet web`
        let text = r#"{"Container":"web","EndpointConfig":{"IPAMConfig":{"IPv4Address":"10.9.0.5"},
"Links":null,"Aliases":["x"],"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"",
"EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"",
"GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}"#;
        let req: NetworkConnectRequest = serde_json::from_str(text).unwrap();
        assert_eq!(req.container, "web");
        let ep = req.endpoint_config.as_ref().unwrap();
        assert_eq!(ep.ipam_config.as_ref().unwrap().ipv4_address, "10.9.0.5");
        assert_eq!(ep.aliases, Some(vec!["x".to_string()]));
        let req: NetworkConnectRequest = serde_json::from_str(r#"{"Container":"web"}"#).unwrap();
        assert_eq!(req.endpoint_config, None);
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"Container": "web"})
        );

        let req: NetworkDisconnectRequest =
            serde_json::from_str(r#"{"Container":"web","Force":true}"#).unwrap();
        assert!(req.force);
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"Container": "web", "Force": true})
        );

        let created = NetworkCreateResponse {
            id: "f".repeat(64),
            warning: String::new(),
        };
        assert_eq!(
            serde_json::to_value(&created).unwrap(),
            json!({"Id": "f".repeat(64), "Warning": ""})
        );
        assert_eq!(
            serde_json::to_value(NetworkPruneResponse::default()).unwrap(),
            json!({"NetworksDeleted": null})
        );
        let pruned: NetworkPruneResponse =
            serde_json::from_str(r#"{"NetworksDeleted":["a","b"]}"#).unwrap();
        assert_eq!(
            pruned.networks_deleted,
            Some(vec!["a".to_string(), "b".to_string()])
        );
        let v: Value = serde_json::to_value(&pruned).unwrap();
        assert_eq!(v, json!({"NetworksDeleted": ["a", "b"]}));
    }
}
