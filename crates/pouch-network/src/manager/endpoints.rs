//! The container side: `attach` at start (netns, one interface per network, leases,
//! published ports, the embedded DNS server), `detach` at exit, and `connect`/`disconnect`
//! of a running container. Every step undoes what it did when a later one fails.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use pouch_api::container::EndpointSettings;
use serde::{Deserialize, Serialize};

use super::{internal, Live, NetworkError, NetworkManager, NetworkRecord, State, PORT_MAPS};
use crate::dns::DnsServer;
use crate::firewall::Proto;
use crate::ipam::{all_leases, choose, Ipv4Net, Lease, LEASES};
use crate::link::{format_mac, mac_for, IfaceConfig, MacvlanSpec, VethSpec};
use crate::ports::{reserve, PortReservation};

/// A port to publish: `-p [host_ip:]host_port:container_port/proto` (host_port 0 = any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    pub proto: Proto,
    pub container_port: u16,
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
}

/// A published port as set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    pub proto: Proto,
    pub container_port: u16,
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    /// The bridge the container is reached through.
    pub device: String,
}

/// What an endpoint asks for (`--ip`, `--mac-address`, `--network-alias`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointRequest {
    pub ip: Option<Ipv4Addr>,
    pub mac: Option<[u8; 6]>,
    pub aliases: Vec<String>,
}

/// A container's network at start.
#[derive(Debug, Clone)]
pub struct AttachRequest {
    pub container_id: String,
    pub name: String,
    /// Networks by name or id, in order: the first gets `eth0` and the default route.
    pub networks: Vec<(String, EndpointRequest)>,
    pub ports: Vec<PortRequest>,
    /// `--dns`: where the embedded resolver forwards other names.
    pub dns: Vec<IpAddr>,
}

/// What `attach` set up.
#[derive(Debug, Clone)]
pub struct Attached {
    pub netns: PathBuf,
    /// Network name → Docker's endpoint settings.
    pub endpoints: Vec<(String, EndpointSettings)>,
    pub ports: Vec<PortBinding>,
    /// The container should use 127.0.0.11 (it is on a user network).
    pub embedded_dns: bool,
}

/// Things to undo when an attach fails half-way.
#[derive(Default)]
struct Undo {
    host_links: Vec<String>,
    netns: Option<PathBuf>,
}

impl NetworkManager {
    /// Docker's endpoint settings of a lease.
    pub fn endpoint_settings(
        &self,
        net: &NetworkRecord,
        lease: &Lease,
        names: &[String],
    ) -> EndpointSettings {
        EndpointSettings {
            aliases: (!lease.aliases.is_empty()).then(|| lease.aliases.clone()),
            mac_address: lease.mac.clone(),
            network_id: net.id.clone(),
            endpoint_id: lease.endpoint_id.clone(),
            gateway: self
                .route_gateway(net)
                .map(|g| g.to_string())
                .unwrap_or_default(),
            ip_address: lease.ip.to_string(),
            ip_prefix_len: net.subnet.map(|s| s.prefix as i64).unwrap_or(0),
            dns_names: (!net.builtin).then(|| names.to_vec()),
            ..Default::default()
        }
    }

    /// Names a container answers to on user networks: its name, short id and aliases.
    pub(super) fn dns_names(cid: &str, name: &str, aliases: &[String]) -> Vec<String> {
        let mut v = vec![name.to_string(), cid[..12].to_string()];
        v.extend(aliases.iter().cloned());
        v
    }

    /// Sets up one interface in the container's netns and returns its lease (not yet stored).
    #[allow(clippy::too_many_arguments)]
    async fn add_endpoint(
        &self,
        st: &State,
        cid: &str,
        netns: &Path,
        index: usize,
        net: &NetworkRecord,
        req: &EndpointRequest,
        default_route: bool,
        undo: &mut Undo,
    ) -> Result<Lease, NetworkError> {
        if net.driver != "bridge" && net.driver != "macvlan" {
            return Err(NetworkError::Invalid(format!(
                "cannot connect a container to network {} (driver {}): use --network {}",
                net.name, net.driver, net.name
            )));
        }
        let pool = self
            .pool(net)
            .ok_or_else(|| internal(format!("network {} has no subnet", net.name)))?;
        // The running containers' leases are all there is: `restore` released the rest.
        let leased: BTreeMap<Ipv4Addr, String> = st
            .live
            .values()
            .flat_map(|l| l.leases.iter())
            .filter(|l| l.network_id == net.id)
            .map(|l| (l.ip, l.container.clone()))
            .collect();
        let ip = choose(&net.name, &pool, &leased, req.ip)?;
        let mac = req.mac.unwrap_or_else(|| mac_for(ip));
        let iface = IfaceConfig {
            netns: netns.to_path_buf(),
            ifname: format!("eth{index}"),
            address: Ipv4Net::new(ip, pool.subnet.prefix),
            gateway: if default_route {
                self.route_gateway(net)
            } else {
                None
            },
            mac,
            mtu: self.mtu(net),
        };
        let mut host_if = String::new();
        if net.driver == "bridge" {
            host_if = format!("pv{}{index}", &cid[..12]);
            if let Ok(nl) = self.nl().await {
                let _ = nl.delete_link(&host_if).await;
            }
            let spec = VethSpec {
                host_name: host_if.clone(),
                bridge: net.device.clone(),
                iface,
            };
            self.nl()
                .await?
                .add_veth(&spec)
                .await
                .map_err(|e| internal(format!("cannot connect to network {}: {e}", net.name)))?;
            undo.host_links.push(host_if.clone());
        } else {
            let spec = MacvlanSpec {
                parent: net.device.clone(),
                mode: net
                    .options
                    .get("macvlan_mode")
                    .cloned()
                    .unwrap_or_else(|| "bridge".into()),
                iface,
            };
            self.nl()
                .await?
                .add_macvlan(&spec)
                .await
                .map_err(|e| internal(format!("cannot connect to network {}: {e}", net.name)))?;
        }
        let endpoint_id: [u8; 32] = rand::random();
        Ok(Lease {
            network_id: net.id.clone(),
            ip,
            container: cid.to_string(),
            ifname: format!("eth{index}"),
            host_if,
            mac: format_mac(&mac),
            aliases: req.aliases.clone(),
            endpoint_id: endpoint_id.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }

    /// Reserves the host ports and returns the bindings (to the first bridge endpoint).
    fn publish(
        &self,
        st: &State,
        leases: &[Lease],
        ports: &[PortRequest],
    ) -> Result<(Vec<PortBinding>, Vec<PortReservation>), NetworkError> {
        if ports.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        if !self.cfg.bridge.iptables {
            return Err(NetworkError::Invalid(
                "cannot publish ports: pouchd runs with --iptables=false".into(),
            ));
        }
        let Some((lease, net)) = leases.iter().find_map(|l| {
            let n = st.networks.get(&l.network_id)?;
            (n.driver == "bridge").then_some((l, n))
        }) else {
            return Err(NetworkError::Invalid(
                "cannot publish ports: the container is on no bridge network".into(),
            ));
        };
        let mut out = Vec::new();
        let mut held = Vec::new();
        for p in ports {
            let (port, r) = reserve(p.proto, p.host_ip, p.host_port)
                .map_err(|e| NetworkError::Conflict(e.to_string()))?;
            held.push(r);
            out.push(PortBinding {
                proto: p.proto,
                container_port: p.container_port,
                host_ip: p.host_ip,
                host_port: port,
                container_ip: lease.ip,
                device: net.device.clone(),
            });
        }
        Ok((out, held))
    }

    /// Starts the embedded DNS server when the container is on a user network.
    /// Names outside the container's networks go to its `--dns` servers, else to the
    /// host's; a container only on internal networks resolves no outside names.
    pub(super) async fn start_dns(
        &self,
        netns: &Path,
        st: &State,
        leases: &[Lease],
        dns: &[IpAddr],
    ) -> Result<Option<DnsServer>, NetworkError> {
        let nets = user_networks(st, leases);
        if nets.is_empty() {
            return Ok(None);
        }
        let all_internal = leases
            .iter()
            .all(|l| st.networks.get(&l.network_id).is_some_and(|n| n.internal));
        let upstreams: Vec<IpAddr> = if all_internal {
            Vec::new()
        } else if !dns.is_empty() {
            dns.to_vec()
        } else {
            let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
            crate::files::upstreams(&host)
        };
        DnsServer::start(netns, nets, self.dns.clone(), upstreams)
            .await
            .map(Some)
            .map_err(|e| internal(format!("cannot start the embedded dns server: {e}")))
    }

    pub(super) fn register(&self, st: &State, leases: &[Lease], names: &[String]) {
        for l in leases {
            let Some(net) = st.networks.get(&l.network_id).filter(|n| !n.builtin) else {
                continue;
            };
            for n in names.iter().chain(l.aliases.iter()) {
                self.dns.add(&l.network_id, n, l.ip);
                // Docker also answers `<name>.<network>`.
                self.dns
                    .add(&l.network_id, &format!("{n}.{}", net.name), l.ip);
            }
        }
    }

    /// Sets up a starting container's network: a netns with one interface per network
    /// (the first with the default route), leases, published ports and DNS.
    pub async fn attach(&self, req: AttachRequest) -> Result<Attached, NetworkError> {
        let cid = req.container_id.clone();
        let mut st = self.state.lock().await;
        let mut nets = Vec::new();
        for (key, ep) in &req.networks {
            nets.push((Self::find(&st.networks, key)?.clone(), ep.clone()));
        }
        let netns = self.netns_path(&cid);
        let mut undo = Undo::default();
        let result = self.attach_steps(&st, &req, &nets, &netns, &mut undo).await;
        match result {
            Ok((leases, ports, reservations, dns)) => {
                let names = Self::dns_names(&cid, &req.name, &[]);
                self.register(&st, &leases, &names);
                let embedded = dns.is_some();
                let endpoints = leases
                    .iter()
                    .filter_map(|l| {
                        let n = st.networks.get(&l.network_id)?;
                        let mut all = names.clone();
                        all.extend(l.aliases.iter().cloned());
                        Some((n.name.clone(), self.endpoint_settings(n, l, &all)))
                    })
                    .collect();
                let had_ports = !ports.is_empty();
                st.live.insert(
                    cid.clone(),
                    Live {
                        netns: netns.clone(),
                        leases,
                        ports: ports.clone(),
                        _reservations: reservations,
                        dns,
                        names,
                        upstreams: req.dns.clone(),
                    },
                );
                if had_ports {
                    if let Err(e) = self.apply_firewall(&st).await {
                        drop(st);
                        self.detach(&cid).await;
                        return Err(e);
                    }
                }
                Ok(Attached {
                    netns,
                    endpoints,
                    ports,
                    embedded_dns: embedded,
                })
            }
            Err(e) => {
                for l in &undo.host_links {
                    if let Ok(nl) = self.nl().await {
                        let _ = nl.delete_link(l).await;
                    }
                }
                if let Some(p) = undo.netns {
                    let _ = crate::netns::remove(&p);
                }
                Err(e)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    async fn attach_steps(
        &self,
        st: &State,
        req: &AttachRequest,
        nets: &[(NetworkRecord, EndpointRequest)],
        netns: &Path,
        undo: &mut Undo,
    ) -> Result<
        (
            Vec<Lease>,
            Vec<PortBinding>,
            Vec<PortReservation>,
            Option<DnsServer>,
        ),
        NetworkError,
    > {
        let cid = &req.container_id;
        let _ = crate::netns::remove(netns);
        let p = netns.to_path_buf();
        tokio::task::spawn_blocking(move || crate::netns::create(&p))
            .await
            .map_err(internal)?
            .map_err(|e| internal(format!("cannot create the network namespace of {cid}: {e}")))?;
        undo.netns = Some(netns.to_path_buf());
        let mut leases = Vec::new();
        for (i, (net, ep)) in nets.iter().enumerate() {
            leases.push(
                self.add_endpoint(st, cid, netns, i, net, ep, i == 0, undo)
                    .await?,
            );
        }
        let (ports, reservations) = self.publish(st, &leases, &req.ports)?;
        let dns = self.start_dns(netns, st, &leases, &req.dns).await?;
        let mut batch = pouch_store::Batch::default();
        for l in &leases {
            batch.put(LEASES, &l.key(), l);
        }
        if !ports.is_empty() {
            batch.put(PORT_MAPS, cid, &ports);
        }
        if !batch.is_empty() {
            self.store.write(batch).map_err(internal)?;
        }
        Ok((leases, ports, reservations, dns))
    }

    /// Tears down a container's network after it exited: DNS, ports, interfaces, netns,
    /// leases. Also works for a container only known from the store (after a restart).
    pub async fn detach(&self, cid: &str) {
        let mut st = self.state.lock().await;
        let (leases, ports, netns) = match st.live.remove(cid) {
            Some(live) => (live.leases, live.ports, live.netns),
            None => {
                let leases: Vec<Lease> = all_leases(&self.store)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|l| l.container == cid)
                    .collect();
                let ports: Vec<PortBinding> = self
                    .store
                    .get(PORT_MAPS, cid)
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                (leases, ports, self.netns_path(cid))
            }
        };
        // Deleting a veth waits for the kernel's RCU grace periods (10-20 ms): the host ends
        // are looked up now and deleted by index in the background, so a new link of the
        // same name (a quick restart) is never hit.
        let mut indexes = Vec::new();
        for l in &leases {
            self.dns.remove_ip(&l.network_id, l.ip);
            if l.host_if.is_empty() {
                continue;
            }
            match self.nl().await {
                Ok(nl) => match nl.link_index(&l.host_if).await {
                    Ok(Some(i)) => indexes.push(i),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(container = cid, link = %l.host_if, "{e}"),
                },
                Err(e) => tracing::warn!(container = cid, "{e}"),
            }
        }
        if !indexes.is_empty() {
            if let Ok(nl) = self.nl().await {
                let nl = nl.clone();
                let cid = cid.to_string();
                tokio::spawn(async move {
                    for i in indexes {
                        if let Err(e) = nl.delete_link_index(i).await {
                            tracing::warn!(container = %cid, "cannot delete a host veth: {e}");
                        }
                    }
                });
            }
        }
        if let Err(e) = crate::netns::remove(&netns) {
            tracing::warn!(container = cid, "cannot remove netns: {e}");
        }
        let mut batch = pouch_store::Batch::default();
        for l in &leases {
            batch.delete(LEASES, &l.key());
        }
        if !ports.is_empty() {
            batch.delete(PORT_MAPS, cid);
        }
        if !batch.is_empty() {
            if let Err(e) = self.store.write(batch) {
                tracing::warn!(container = cid, "cannot release leases: {e}");
            }
        }
        if !ports.is_empty() {
            if let Err(e) = self.apply_firewall(&st).await {
                tracing::warn!(container = cid, "{e}");
            }
        }
    }

    /// Connects a running container to one more network; `Ok(None)` when the container
    /// has no live network state (not running, or in host/none/container mode).
    pub async fn connect(
        &self,
        cid: &str,
        key: &str,
        req: &EndpointRequest,
    ) -> Result<Option<(String, EndpointSettings)>, NetworkError> {
        let mut st = self.state.lock().await;
        let net = Self::find(&st.networks, key)?.clone();
        let Some(live) = st.live.get(cid) else {
            return Ok(None);
        };
        if live.leases.iter().any(|l| l.network_id == net.id) {
            return Err(NetworkError::Forbidden(format!(
                "container {} is already connected to network {}",
                &cid[..12],
                net.name
            )));
        }
        let used: Vec<&str> = live.leases.iter().map(|l| l.ifname.as_str()).collect();
        let index = (0..10)
            .find(|i| !used.contains(&format!("eth{i}").as_str()))
            .ok_or_else(|| {
                NetworkError::Invalid("a container can be on at most 10 networks".into())
            })?;
        let netns = live.netns.clone();
        let names = live.names.clone();
        let upstreams = live.upstreams.clone();
        let first = live.leases.is_empty();
        let mut undo = Undo::default();
        let lease = match self
            .add_endpoint(&st, cid, &netns, index, &net, req, first, &mut undo)
            .await
        {
            Ok(l) => l,
            Err(e) => {
                for l in &undo.host_links {
                    if let Ok(nl) = self.nl().await {
                        let _ = nl.delete_link(l).await;
                    }
                }
                return Err(e);
            }
        };
        if let Err(e) = self.store.put(LEASES, &lease.key(), &lease) {
            let _ = self.remove_interface(&netns, &lease).await;
            return Err(internal(e));
        }
        self.register(&st, std::slice::from_ref(&lease), &names);
        let mut all = names.clone();
        all.extend(lease.aliases.iter().cloned());
        let settings = self.endpoint_settings(&net, &lease, &all);
        let live = st.live.get_mut(cid).expect("checked above");
        live.leases.push(lease);
        let leases = live.leases.clone();
        let has_dns = live.dns.is_some();
        let nets = user_networks(&st, &leases);
        if has_dns {
            if let Some(d) = st.live.get(cid).and_then(|l| l.dns.as_ref()) {
                d.set_networks(nets);
            }
        } else if !nets.is_empty() {
            match self.start_dns(&netns, &st, &leases, &upstreams).await {
                Ok(d) => st.live.get_mut(cid).expect("checked above").dns = d,
                Err(e) => tracing::warn!(container = cid, "{e}"),
            }
        }
        Ok(Some((net.name.clone(), settings)))
    }

    async fn remove_interface(&self, netns: &Path, lease: &Lease) -> Result<(), NetworkError> {
        let (p, ifname) = (netns.to_path_buf(), lease.ifname.clone());
        tokio::task::spawn_blocking(move || crate::link::delete_in_netns(&p, &ifname))
            .await
            .map_err(internal)?
            .map_err(internal)
    }

    /// Disconnects a running container from a network; `Ok(false)` when it has no live
    /// endpoint there.
    pub async fn disconnect(&self, cid: &str, key: &str) -> Result<bool, NetworkError> {
        let mut st = self.state.lock().await;
        let net = Self::find(&st.networks, key)?.clone();
        let Some(live) = st.live.get_mut(cid) else {
            return Ok(false);
        };
        let Some(pos) = live.leases.iter().position(|l| l.network_id == net.id) else {
            return Ok(false);
        };
        let lease = live.leases.remove(pos);
        let netns = live.netns.clone();
        let before = live.ports.len();
        live.ports
            .retain(|p| p.device != net.device || net.driver != "bridge");
        let ports_changed = live.ports.len() != before;
        let ports = live.ports.clone();
        let leases = live.leases.clone();
        self.dns.remove_ip(&net.id, lease.ip);
        self.remove_interface(&netns, &lease).await?;
        let mut batch = pouch_store::Batch::default();
        batch.delete(LEASES, &lease.key());
        if ports_changed {
            if ports.is_empty() {
                batch.delete(PORT_MAPS, cid);
            } else {
                batch.put(PORT_MAPS, cid, &ports);
            }
        }
        self.store.write(batch).map_err(internal)?;
        let nets = user_networks(&st, &leases);
        if let Some(live) = st.live.get_mut(cid) {
            if nets.is_empty() {
                live.dns = None;
            } else if let Some(d) = &live.dns {
                d.set_networks(nets);
            }
        }
        if ports_changed {
            self.apply_firewall(&st).await?;
        }
        Ok(true)
    }
}

/// The ids of the user networks (not built-in) among the leases.
fn user_networks(st: &State, leases: &[Lease]) -> Vec<String> {
    leases
        .iter()
        .filter(|l| st.networks.get(&l.network_id).is_some_and(|n| !n.builtin))
        .map(|l| l.network_id.clone())
        .collect()
}
