//! The `/networks` API over the network manager: create, list (with Docker's filters),
//! inspect, remove, prune, connect and disconnect, with network events. Connecting a
//! stopped container only records the network; a running one gets the interface now.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use pouch_api::container::EndpointSettings;
use pouch_api::network::{
    ConfigReference, Ipam, IpamConfig, Network, NetworkConnectRequest, NetworkContainer,
    NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest, NetworkPruneResponse,
};
use pouch_api::{ApiError, ErrorKind, Filters};
use pouch_network::ipam::Ipv4Net;
use pouch_network::manager::{
    CreateNetwork, ErrorClass, NetworkError, NetworkManager, NetworkRecord,
};

use crate::Engine;

/// A network error as the API reports it.
pub(crate) fn net_error(e: NetworkError) -> ApiError {
    let kind = match e.class() {
        ErrorClass::NotFound => ErrorKind::NotFound,
        ErrorClass::Conflict => ErrorKind::Conflict,
        ErrorClass::Invalid => ErrorKind::InvalidArgument,
        ErrorClass::Forbidden => ErrorKind::Forbidden,
        ErrorClass::Internal => ErrorKind::Internal,
    };
    ApiError::new(kind, e.to_string())
}

fn parse_net(what: &str, s: &str) -> Result<Option<Ipv4Net>, ApiError> {
    if s.is_empty() {
        return Ok(None);
    }
    if s.contains(':') {
        return Err(ApiError::invalid(format!(
            "invalid {what} {s}: IPv6 networks are not supported"
        )));
    }
    s.parse()
        .map(Some)
        .map_err(|e: String| ApiError::invalid(format!("invalid {what}: {e}")))
}

fn parse_ip(what: &str, s: &str) -> Result<Option<Ipv4Addr>, ApiError> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| ApiError::invalid(format!("invalid {what} {s}: not an IPv4 address")))
}

impl Engine {
    /// Docker's `Network` of a record, with the running containers on it.
    async fn network_api(&self, n: &NetworkRecord) -> Network {
        let mut containers = BTreeMap::new();
        for l in self.network.endpoints(&n.id).await {
            let name = self
                .containers
                .get(&l.container)
                .map(|c| c.name())
                .unwrap_or_default();
            containers.insert(
                l.container.clone(),
                NetworkContainer {
                    name,
                    endpoint_id: l.endpoint_id.clone(),
                    mac_address: l.mac.clone(),
                    ipv4_address: format!("{}/{}", l.ip, n.subnet.map(|s| s.prefix).unwrap_or(32)),
                    ipv6_address: String::new(),
                },
            );
        }
        let config = match n.subnet {
            Some(s) => vec![IpamConfig {
                subnet: s.to_string(),
                ip_range: n.ip_range.map(|r| r.to_string()).unwrap_or_default(),
                gateway: n.gateway.map(|g| g.to_string()).unwrap_or_default(),
                aux_addresses: BTreeMap::new(),
            }],
            None => Vec::new(),
        };
        Network {
            name: n.name.clone(),
            id: n.id.clone(),
            created: n.created.clone(),
            scope: "local".into(),
            driver: n.driver.clone(),
            enable_ipv6: false,
            ipam: Ipam {
                driver: "default".into(),
                options: None,
                config,
            },
            internal: n.internal,
            attachable: n.attachable,
            ingress: false,
            config_from: ConfigReference::default(),
            config_only: false,
            containers,
            options: n.options.clone(),
            labels: n.labels.clone(),
        }
    }

    fn network_event(&self, action: &str, n: &NetworkRecord, container: Option<&str>) {
        let mut attrs = BTreeMap::from([
            ("name".to_string(), n.name.clone()),
            ("type".to_string(), n.driver.clone()),
        ]);
        if let Some(c) = container {
            attrs.insert("container".into(), c.to_string());
        }
        self.containers
            .events
            .publish("network", action, &n.id, attrs);
    }

    pub async fn create_network(
        &self,
        req: NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse, ApiError> {
        if req.enable_ipv6 {
            return Err(ApiError::invalid(
                "IPv6 networks are not supported: leave out --ipv6",
            ));
        }
        if let Some(ipam) = &req.ipam {
            if !ipam.driver.is_empty() && ipam.driver != "default" {
                return Err(ApiError::invalid(format!(
                    "ipam driver {} is not supported: use the default driver",
                    ipam.driver
                )));
            }
            if ipam.config.len() > 1 {
                return Err(ApiError::invalid(
                    "a network takes one IPv4 subnet: give --subnet once",
                ));
            }
        }
        let cfg = req
            .ipam
            .as_ref()
            .and_then(|i| i.config.first().cloned())
            .unwrap_or_default();
        let subnet = parse_net("subnet", &cfg.subnet)?;
        let ip_range = parse_net("ip range", &cfg.ip_range)?;
        let gateway = parse_ip("gateway", &cfg.gateway)?;
        if subnet.is_none() && (ip_range.is_some() || gateway.is_some()) {
            return Err(ApiError::invalid(
                "--gateway and --ip-range need --subnet: give the subnet too",
            ));
        }
        let rec = self
            .network
            .create(CreateNetwork {
                name: req.name.clone(),
                driver: req.driver.clone(),
                subnet,
                gateway,
                ip_range,
                options: req.options.clone(),
                labels: req.labels.clone(),
                internal: req.internal,
                attachable: req.attachable,
            })
            .await
            .map_err(net_error)?;
        self.network_event("create", &rec, None);
        Ok(NetworkCreateResponse {
            id: rec.id,
            warning: String::new(),
        })
    }

    /// Networks matching Docker's filters (`driver`, `id`, `label`, `name`, `scope`, `type`,
    /// `dangling`).
    pub async fn list_networks(&self, filters: &Filters) -> Result<Vec<Network>, ApiError> {
        filters.check_keys(&["driver", "id", "label", "name", "scope", "type", "dangling"])?;
        let mut out = Vec::new();
        for n in self.network.list().await {
            let api = self.network_api(&n).await;
            if network_matches(&api, n.builtin, filters) {
                out.push(api);
            }
        }
        Ok(out)
    }

    pub async fn inspect_network(&self, key: &str) -> Result<Network, ApiError> {
        let n = self.network.get(key).await.map_err(net_error)?;
        Ok(self.network_api(&n).await)
    }

    pub async fn remove_network(&self, key: &str) -> Result<(), ApiError> {
        let rec = self.network.remove(key).await.map_err(net_error)?;
        self.network_event("destroy", &rec, None);
        Ok(())
    }

    /// Removes the user networks no running container uses (filters `until`, `label`).
    pub async fn prune_networks(
        &self,
        filters: &Filters,
    ) -> Result<NetworkPruneResponse, ApiError> {
        filters.check_keys(&["until", "label", "label!"])?;
        let mut deleted = Vec::new();
        for n in self.network.list().await {
            if n.builtin || !self.network.endpoints(&n.id).await.is_empty() {
                continue;
            }
            if !crate::prune::matches(filters, &n.created, &n.labels)? {
                continue;
            }
            if let Ok(rec) = self.network.remove(&n.id).await {
                self.network_event("destroy", &rec, None);
                deleted.push(rec.name);
            }
        }
        let attrs = BTreeMap::new();
        self.containers
            .events
            .publish("network", "prune", "", attrs);
        Ok(NetworkPruneResponse {
            networks_deleted: Some(deleted),
        })
    }

    pub async fn connect_network(
        &self,
        key: &str,
        req: NetworkConnectRequest,
    ) -> Result<(), ApiError> {
        let net = self.network.get(key).await.map_err(net_error)?;
        let settings = req.endpoint_config.unwrap_or_default();
        self.containers
            .connect_network(&req.container, &net, settings)
            .await?;
        let c = self.containers.get(&req.container)?;
        self.network_event("connect", &net, Some(&c.id));
        Ok(())
    }

    pub async fn disconnect_network(
        &self,
        key: &str,
        req: NetworkDisconnectRequest,
    ) -> Result<(), ApiError> {
        let net = self.network.get(key).await.map_err(net_error)?;
        let c = self.containers.get(&req.container)?;
        self.containers
            .disconnect_network(&c.id, &net, req.force)
            .await?;
        self.network_event("disconnect", &net, Some(&c.id));
        Ok(())
    }
}

fn network_matches(n: &Network, builtin: bool, f: &Filters) -> bool {
    let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
        let v = f.get(key);
        v.is_empty() || v.iter().any(|x| pred(x))
    };
    any("driver", &|d| n.driver == d)
        && any("id", &|i| n.id.starts_with(i))
        && any("name", &|x| n.name.contains(x))
        && any("scope", &|s| s == "local")
        && any("type", &|t| (t == "builtin") == builtin)
        && any("dangling", &|d| {
            (d == "true" || d == "1") == n.containers.is_empty()
        })
        && f.get("label").iter().all(|l| match l.split_once('=') {
            Some((k, v)) => n.labels.get(k).is_some_and(|x| x == v),
            None => n.labels.contains_key(l.as_str()),
        })
}

/// The endpoint a container asks for on a network, checked against it (`--ip` only on user
/// networks, inside the subnet).
pub(crate) fn endpoint_request(
    mgr: &NetworkManager,
    net: &NetworkRecord,
    s: &EndpointSettings,
) -> Result<pouch_network::manager::EndpointRequest, ApiError> {
    let ip = s
        .ipam_config
        .as_ref()
        .map(|c| c.ipv4_address.as_str())
        .unwrap_or("");
    let ip = parse_ip("--ip", ip)?;
    if let Some(ip) = ip {
        if net.builtin {
            return Err(ApiError::invalid(format!(
                "invalid --ip {ip}: user specified IP address is supported on user defined networks only"
            )));
        }
        mgr.check_address(net, ip).map_err(net_error)?;
    }
    let mac = if s.mac_address.is_empty() {
        None
    } else {
        Some(
            pouch_network::link::parse_mac(&s.mac_address).ok_or_else(|| {
                ApiError::invalid(format!(
                    "invalid --mac-address {}: give it as 02:42:ac:11:00:02",
                    s.mac_address
                ))
            })?,
        )
    };
    if !s.aliases.as_deref().unwrap_or_default().is_empty() && net.builtin {
        return Err(ApiError::invalid(
            "network-scoped aliases are supported on user defined networks only",
        ));
    }
    Ok(pouch_network::manager::EndpointRequest {
        ip,
        mac,
        aliases: s.aliases.clone().unwrap_or_default(),
    })
}
