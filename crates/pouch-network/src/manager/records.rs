//! Network records: the built-ins, create (with its checks: name, driver, subnet overlap,
//! gateway and range inside the subnet, macvlan parent), remove, and lookups by id, id
//! prefix or name.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::{internal, NetworkError, NetworkManager};
use crate::ipam::{host_routes, pick_subnet, Ipv4Net, Lease};

/// Network records, keyed by id.
pub const NETWORKS: &str = "networks";

/// One network as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    /// `bridge`, `macvlan`, `host` or `null`.
    pub driver: String,
    pub created: String,
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<Ipv4Net>,
    /// The bridge device, or the macvlan parent.
    pub device: String,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub internal: bool,
    pub attachable: bool,
    /// `bridge`, `host` and `none`: made by the daemon, never removed.
    pub builtin: bool,
}

/// `network create` as the manager takes it.
#[derive(Debug, Clone, Default)]
pub struct CreateNetwork {
    pub name: String,
    pub driver: String,
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<Ipv4Net>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub internal: bool,
    pub attachable: bool,
}

const BRIDGE_NAME_OPT: &str = "com.docker.network.bridge.name";

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn new_id() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

impl NetworkManager {
    /// Loads the records and makes or refreshes the built-ins from the daemon's flags.
    pub(super) fn load_records(&self) -> Result<BTreeMap<String, NetworkRecord>, NetworkError> {
        let mut nets: BTreeMap<String, NetworkRecord> = self
            .store
            .list::<NetworkRecord>(NETWORKS)
            .map_err(internal)?
            .into_iter()
            .collect();
        let b = &self.cfg.bridge;
        let subnet = b.bip.trunc();
        let builtins = [
            ("bridge", "bridge", b.name.clone()),
            ("host", "host", String::new()),
            ("none", "null", String::new()),
        ];
        let mut batch = pouch_store::Batch::default();
        for (name, driver, device) in builtins {
            let existing = nets.values().find(|n| n.builtin && n.name == name).cloned();
            let mut rec = existing.clone().unwrap_or_else(|| NetworkRecord {
                id: new_id(),
                name: name.into(),
                driver: driver.into(),
                created: now(),
                subnet: None,
                gateway: None,
                ip_range: None,
                device: String::new(),
                options: BTreeMap::new(),
                labels: BTreeMap::new(),
                internal: false,
                attachable: false,
                builtin: true,
            });
            if name == "bridge" {
                rec.subnet = Some(subnet);
                rec.gateway = Some(b.bip.addr);
                rec.ip_range = b.fixed_cidr.map(|f| f.trunc());
                rec.device = device;
                rec.options = BTreeMap::from([
                    (BRIDGE_NAME_OPT.to_string(), b.name.clone()),
                    (
                        "com.docker.network.bridge.default_bridge".into(),
                        "true".into(),
                    ),
                    (
                        "com.docker.network.bridge.enable_ip_masquerade".into(),
                        b.ip_masq.to_string(),
                    ),
                    ("com.docker.network.driver.mtu".into(), b.mtu.to_string()),
                ]);
            }
            if existing.as_ref() != Some(&rec) {
                batch.put(NETWORKS, &rec.id, &rec);
            }
            nets.insert(rec.id.clone(), rec);
        }
        if !batch.is_empty() {
            self.store.write(batch).map_err(internal)?;
        }
        Ok(nets)
    }

    /// Finds a network by full id, name, or unique id prefix (Docker's order).
    pub(super) fn find<'a>(
        nets: &'a BTreeMap<String, NetworkRecord>,
        key: &str,
    ) -> Result<&'a NetworkRecord, NetworkError> {
        let key = if key == "default" { "bridge" } else { key };
        if let Some(n) = nets.get(key) {
            return Ok(n);
        }
        if let Some(n) = nets.values().find(|n| n.name == key) {
            return Ok(n);
        }
        let mut m = nets.values().filter(|n| n.id.starts_with(key));
        match (m.next(), m.next()) {
            (Some(n), None) if !key.is_empty() => Ok(n),
            (Some(_), Some(_)) => Err(NetworkError::Invalid(format!(
                "network {key} is ambiguous: give more of its id"
            ))),
            _ => Err(NetworkError::NotFound(key.to_string())),
        }
    }

    /// One network by id, name or id prefix.
    pub async fn get(&self, key: &str) -> Result<NetworkRecord, NetworkError> {
        let st = self.state.lock().await;
        Self::find(&st.networks, key).cloned()
    }

    /// Every network.
    pub async fn list(&self) -> Vec<NetworkRecord> {
        self.state.lock().await.networks.values().cloned().collect()
    }

    /// The endpoints on a network: (container id, lease).
    pub async fn endpoints(&self, network_id: &str) -> Vec<Lease> {
        let st = self.state.lock().await;
        st.live
            .values()
            .flat_map(|l| l.leases.iter())
            .filter(|l| l.network_id == network_id)
            .cloned()
            .collect()
    }

    /// Creates a network (and its bridge device).
    pub async fn create(&self, req: CreateNetwork) -> Result<NetworkRecord, NetworkError> {
        let mut st = self.state.lock().await;
        if !valid_name(&req.name) {
            return Err(NetworkError::Invalid(format!(
                "invalid network name {:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                req.name
            )));
        }
        if st.networks.values().any(|n| n.name == req.name) {
            return Err(NetworkError::Conflict(format!(
                "network with name {} already exists",
                req.name
            )));
        }
        let driver = if req.driver.is_empty() {
            "bridge"
        } else {
            req.driver.as_str()
        };
        if driver != "bridge" && driver != "macvlan" {
            return Err(NetworkError::NotFound(format!(
                "driver {driver} (this daemon has the bridge and macvlan drivers)"
            )));
        }
        let mut taken: Vec<Ipv4Net> = st.networks.values().filter_map(|n| n.subnet).collect();
        let subnet = match req.subnet {
            Some(s) => {
                let s = s.trunc();
                if let Some(o) = st
                    .networks
                    .values()
                    .find(|n| n.subnet.is_some_and(|x| x.overlaps(&s)))
                {
                    return Err(NetworkError::Forbidden(format!(
                        "invalid pool request: subnet {s} overlaps with network {} ({})",
                        o.name,
                        o.subnet.map(|x| x.to_string()).unwrap_or_default()
                    )));
                }
                s
            }
            None => {
                if driver == "bridge" {
                    taken.extend(host_routes());
                }
                pick_subnet(&taken)?
            }
        };
        let gateway = req.gateway.unwrap_or_else(|| subnet.first_host());
        if !subnet.contains(gateway) || gateway == subnet.network() || gateway == subnet.broadcast()
        {
            return Err(NetworkError::Invalid(format!(
                "invalid gateway {gateway}: it is not a host address in the subnet {subnet}"
            )));
        }
        if let Some(r) = req.ip_range {
            if !subnet.contains(r.network()) || r.prefix < subnet.prefix {
                return Err(NetworkError::Invalid(format!(
                    "invalid ip range {r}: it is not inside the subnet {subnet}"
                )));
            }
        }
        let id = new_id();
        let device = match driver {
            "bridge" => {
                let d = req
                    .options
                    .get(BRIDGE_NAME_OPT)
                    .cloned()
                    .unwrap_or_else(|| format!("br-{}", &id[..12]));
                if d.len() > 15 {
                    return Err(NetworkError::Invalid(format!(
                        "invalid bridge name {d}: at most 15 characters"
                    )));
                }
                if st
                    .networks
                    .values()
                    .any(|n| n.driver == "bridge" && n.device == d)
                {
                    return Err(NetworkError::Conflict(format!(
                        "bridge name {d} is already used by another network"
                    )));
                }
                d
            }
            _ => {
                let parent = req.options.get("parent").cloned().unwrap_or_default();
                if parent.is_empty() {
                    return Err(NetworkError::Invalid(
                        "the macvlan driver needs a parent interface: give -o parent=<interface>"
                            .into(),
                    ));
                }
                let links = self.nl().await?.link_names().await.map_err(internal)?;
                if !links.contains(&parent) {
                    return Err(NetworkError::Invalid(format!(
                        "invalid macvlan parent {parent}: no such interface on the host"
                    )));
                }
                let mode = req
                    .options
                    .get("macvlan_mode")
                    .map(String::as_str)
                    .unwrap_or("bridge");
                if !["bridge", "private", "vepa", "passthru"].contains(&mode) {
                    return Err(NetworkError::Invalid(format!(
                        "invalid macvlan_mode {mode}: use bridge, private, vepa or passthru"
                    )));
                }
                parent
            }
        };
        let rec = NetworkRecord {
            id: id.clone(),
            name: req.name,
            driver: driver.to_string(),
            created: now(),
            subnet: Some(subnet),
            gateway: Some(gateway),
            ip_range: req.ip_range.map(|r| r.trunc()),
            device,
            options: req.options,
            labels: req.labels,
            internal: req.internal,
            attachable: req.attachable,
            builtin: false,
        };
        if rec.driver == "bridge" {
            self.ensure_bridge(&rec).await?;
        }
        st.networks.insert(id.clone(), rec.clone());
        let stored = self.store.put(NETWORKS, &id, &rec).map_err(internal);
        let fw = match stored {
            Ok(()) => self.apply_firewall(&st).await,
            Err(e) => Err(e),
        };
        if let Err(e) = fw {
            st.networks.remove(&id);
            let _ = self.store.delete(NETWORKS, &id);
            if rec.driver == "bridge" {
                if let Ok(nl) = self.nl().await {
                    let _ = nl.delete_link(&rec.device).await;
                }
            }
            let _ = self.apply_firewall(&st).await;
            return Err(e);
        }
        Ok(rec)
    }

    /// Removes a network that no running container uses.
    pub async fn remove(&self, key: &str) -> Result<NetworkRecord, NetworkError> {
        let mut st = self.state.lock().await;
        let rec = Self::find(&st.networks, key)?.clone();
        if rec.builtin {
            return Err(NetworkError::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                rec.name
            )));
        }
        let users: Vec<&str> = st
            .live
            .iter()
            .filter(|(_, l)| l.leases.iter().any(|x| x.network_id == rec.id))
            .map(|(id, _)| id.as_str())
            .collect();
        if !users.is_empty() {
            return Err(NetworkError::Conflict(format!(
                "error while removing network: network {} id {} has active endpoints ({}): stop or disconnect them first",
                rec.name,
                rec.id,
                users.iter().map(|u| &u[..12]).collect::<Vec<_>>().join(", ")
            )));
        }
        if rec.driver == "bridge" {
            self.nl()
                .await?
                .delete_link(&rec.device)
                .await
                .map_err(internal)?;
        }
        st.networks.remove(&rec.id);
        self.store.delete(NETWORKS, &rec.id).map_err(internal)?;
        self.apply_firewall(&st).await?;
        Ok(rec)
    }
}
