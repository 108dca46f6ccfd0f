//! A container's network: the mode and networks chosen at create (`plan_networks`), the
//! netns, interfaces and published ports set up at start (`attach_network`) and torn down
//! at exit (`detach_network`), connect/disconnect while it runs, and the generated
//! `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`. A start may be pinned to the
//! addresses and host ports the container had before (`NetworkPins`, used by `upgrade`).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pouch_api::container::{
    ContainerConfig, ContainerCreateBody, EndpointSettings, HostConfig, PortBinding as ApiBinding,
    PortMap,
};
use pouch_api::ApiError;
use pouch_network::firewall::Proto;
use pouch_network::manager::{AttachRequest, NetworkRecord, PortRequest};
use pouch_runtime::spec::NetNs;

use super::{internal, Container, Containers};
use crate::networks::{endpoint_request, net_error};

/// Addresses and host ports one start must take again: `upgrade` restarts a container and
/// keeps what it had. Set on the container before the start; the start's `attach_network`
/// takes them (so they apply to that start only). A pinned address that another container
/// took meanwhile fails the start, as a taken `--ip` does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct NetworkPins {
    /// Network name → the address the container had there.
    pub addresses: BTreeMap<String, Ipv4Addr>,
    /// Published ports as they were bound.
    pub ports: Vec<PinnedPort>,
}

/// One published port as it was bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PinnedPort {
    pub proto: Proto,
    pub container_port: u16,
    /// `None`: all addresses.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
}

impl NetworkPins {
    /// What a running container holds now: its endpoints' addresses and its bound ports.
    pub fn of(rec: &super::record::ContainerRecord) -> NetworkPins {
        let addresses = rec
            .endpoints
            .iter()
            .filter_map(|(net, es)| Some((net.clone(), es.ip_address.parse().ok()?)))
            .collect();
        let mut ports = Vec::new();
        for (key, bindings) in &rec.ports {
            let Ok((container_port, proto)) = parse_port_key(key) else {
                continue;
            };
            for b in bindings.iter().flatten() {
                let host_ip = match b.host_ip.as_str() {
                    "" | "0.0.0.0" => None,
                    ip => match ip.parse() {
                        Ok(ip) => Some(ip),
                        Err(_) => continue,
                    },
                };
                if let Ok(host_port) = b.host_port.parse() {
                    ports.push(PinnedPort {
                        proto,
                        container_port,
                        host_ip,
                        host_port,
                    });
                }
            }
        }
        NetworkPins { addresses, ports }
    }

    /// Takes the pinned host port of `req`'s container port within `lo..=hi` (`0, 0`: any).
    fn take_port(&mut self, req: &PortRequest, lo: u16, hi: u16) -> Option<u16> {
        let i = self.ports.iter().position(|p| {
            p.proto == req.proto
                && p.container_port == req.container_port
                && p.host_ip == req.host_ip
                && ((lo == 0 && hi == 0) || (lo..=hi).contains(&p.host_port))
        })?;
        Some(self.ports.remove(i).host_port)
    }
}

/// What the spec needs from the network: the namespace and where the three files are.
pub(super) struct NetworkSetup {
    pub netns: NetNs,
    pub files_dir: PathBuf,
}

/// The modes that are not networks.
fn is_special(mode: &str) -> bool {
    matches!(mode, "host" | "none") || mode.starts_with("container:")
}

impl Containers {
    /// Checks the network mode and the endpoints of a create body, and returns the mode as
    /// stored (`default` becomes `bridge`, `container:<name>` becomes `container:<id>`) with
    /// the endpoints by network name.
    pub(super) async fn plan_networks(
        &self,
        body: &ContainerCreateBody,
    ) -> Result<(String, BTreeMap<String, EndpointSettings>), ApiError> {
        let host = body.host_config.clone().unwrap_or_default();
        let mut mode = match host.network_mode.as_str() {
            "" | "default" => "bridge".to_string(),
            m => m.to_string(),
        };
        let requested: BTreeMap<String, EndpointSettings> = body
            .networking_config
            .as_ref()
            .map(|n| n.endpoints_config.clone())
            .unwrap_or_default();
        if let Some(target) = mode.strip_prefix("container:") {
            let t = self.get(target).map_err(|_| {
                ApiError::not_found(format!(
                    "invalid --network container:{target}: no such container"
                ))
            })?;
            let conflicts = [
                ("--hostname", !body.config.hostname.is_empty()),
                ("--dns", host.dns.as_ref().is_some_and(|d| !d.is_empty())),
                (
                    "--add-host",
                    host.extra_hosts.as_ref().is_some_and(|d| !d.is_empty()),
                ),
                (
                    "--publish",
                    !host.port_bindings.is_empty() || host.publish_all_ports,
                ),
                ("--mac-address", !body.config.mac_address.is_empty()),
            ];
            if let Some((flag, _)) = conflicts.iter().find(|(_, set)| *set) {
                return Err(ApiError::invalid(format!(
                    "conflicting options: {flag} and the network mode container:{target}"
                )));
            }
            mode = format!("container:{}", t.id);
            return Ok((mode, BTreeMap::new()));
        }
        if is_special(&mode) {
            return Ok((mode, BTreeMap::new()));
        }
        let primary = self.network.get(&mode).await.map_err(net_error)?;
        if mode != primary.name && !primary.id.starts_with(&mode) {
            mode = primary.name.clone();
        }
        let mut out = BTreeMap::new();
        let mut want = requested
            .get(&mode)
            .or_else(|| requested.get(&primary.name))
            .or_else(|| requested.get("default"))
            .cloned()
            .unwrap_or_default();
        if want.mac_address.is_empty() && !body.config.mac_address.is_empty() {
            want.mac_address = body.config.mac_address.clone();
        }
        endpoint_request(&self.network, &primary, &want)?;
        out.insert(primary.name.clone(), want);
        for (key, s) in &requested {
            if key == &mode || key == &primary.name || key == "default" {
                continue;
            }
            let n = self.network.get(key).await.map_err(net_error)?;
            if n.driver == "host" || n.driver == "null" {
                return Err(ApiError::invalid(format!(
                    "container cannot be connected to network {} together with {}",
                    n.name, primary.name
                )));
            }
            endpoint_request(&self.network, &n, s)?;
            out.insert(n.name.clone(), s.clone());
        }
        Ok((primary.name, out))
    }

    /// Sets up the network of a starting container and writes its network files.
    pub(super) async fn attach_network(
        &self,
        c: &Arc<Container>,
    ) -> Result<NetworkSetup, ApiError> {
        let rec = c.record();
        let mut pins = c
            .net_pins
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default();
        let bundle = self.paths.bundle(&c.id);
        let mode = rec.host_config.network_mode.clone();
        match mode.as_str() {
            "host" => {
                return Ok(NetworkSetup {
                    netns: NetNs::Host,
                    files_dir: bundle,
                })
            }
            "none" => {
                return Ok(NetworkSetup {
                    netns: NetNs::None,
                    files_dir: bundle,
                })
            }
            _ => {}
        }
        if let Some(target) = mode.strip_prefix("container:") {
            let t = self.get(target).map_err(|_| {
                ApiError::not_found(format!(
                    "cannot join the network of container {target}: it no longer exists"
                ))
            })?;
            let pid = t.with_record(|r| r.state.status.is_alive().then_some(r.state.pid));
            let Some(pid) = pid.filter(|p| *p > 0) else {
                return Err(ApiError::conflict(format!(
                    "cannot join the network of container {}: it is not running (start it first)",
                    t.name()
                )));
            };
            return Ok(NetworkSetup {
                netns: NetNs::Path(PathBuf::from(format!("/proc/{pid}/ns/net"))),
                files_dir: self.paths.bundle(&t.id),
            });
        }
        // The primary network first: it gets eth0 and the default route.
        let mut asked = rec.networks.clone();
        if asked.is_empty() {
            // A record from before networks were recorded: its mode names the network.
            let m = if mode == "default" {
                "bridge"
            } else {
                mode.as_str()
            };
            asked.insert(m.to_string(), EndpointSettings::default());
        }
        let mode = if mode == "default" {
            "bridge".to_string()
        } else {
            mode
        };
        let mut networks = Vec::new();
        let mut order: Vec<(&String, &EndpointSettings)> = asked.iter().collect();
        order.sort_by_key(|(name, _)| **name != mode);
        for (name, s) in order {
            let net = self.network.get(name).await.map_err(net_error)?;
            let mut req = endpoint_request(&self.network, &net, s)?;
            if req.ip.is_none() {
                req.ip = pins.addresses.get(&net.name).copied();
            }
            networks.push((net.id.clone(), req));
        }
        let ports = port_requests(&rec.host_config, &rec.config, &mut pins)?;
        let attached = self
            .network
            .attach(AttachRequest {
                container_id: c.id.clone(),
                name: rec.name.clone(),
                networks,
                ports,
                dns: dns_servers(&rec.host_config),
            })
            .await
            .map_err(net_error)?;
        let mut endpoints = BTreeMap::new();
        for (name, mut es) in attached.endpoints {
            if let Some(a) = asked.get(&name) {
                es.ipam_config = a.ipam_config.clone();
                if es.aliases.is_none() {
                    es.aliases = a.aliases.clone();
                }
            }
            endpoints.insert(name, es);
        }
        let own_ip = endpoints
            .get(&mode)
            .or_else(|| endpoints.values().next())
            .and_then(|e| e.ip_address.parse::<Ipv4Addr>().ok());
        let ports_map = port_map(&rec.host_config, &rec.config, &attached.ports);
        c.with_record(|r| {
            r.endpoints = endpoints;
            r.ports = ports_map;
        });
        if !rec.config.disable_network_files {
            let written = self.link_hosts(&rec).and_then(|links| {
                let mut host = rec.host_config.clone();
                host.extra_hosts.get_or_insert_with(Vec::new).extend(links);
                write_network_files(&bundle, &rec.config, &host, own_ip, attached.embedded_dns)
            });
            if let Err(e) = written {
                self.detach_network(c).await;
                return Err(e);
            }
        }
        Ok(NetworkSetup {
            netns: NetNs::Path(attached.netns),
            files_dir: bundle,
        })
    }

    /// `--link name[:alias]` as `/etc/hosts` entries (`alias name:ip`): the linked
    /// container must run and share a network with this one (Docker's legacy links).
    fn link_hosts(&self, rec: &super::record::ContainerRecord) -> Result<Vec<String>, ApiError> {
        let mut out = Vec::new();
        for link in rec.host_config.links.iter().flatten() {
            let (name, alias) = link
                .split_once(':')
                .unwrap_or((link.as_str(), link.as_str()));
            let name = name.trim_start_matches('/');
            let alias = alias.rsplit('/').next().unwrap_or(alias);
            let target = self.get(name).map_err(|_| {
                ApiError::invalid(format!("invalid --link {link}: no such container: {name}"))
            })?;
            let t = target.record();
            if !t.state.status.is_alive() {
                return Err(ApiError::conflict(format!(
                    "cannot link to a non running container: {name} (start it first)"
                )));
            }
            let ip = rec
                .networks
                .keys()
                .find_map(|n| t.endpoints.get(n))
                .map(|e| e.ip_address.clone())
                .filter(|ip| !ip.is_empty())
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "invalid --link {link}: {name} shares no network with this container"
                    ))
                })?;
            let names = if alias == name {
                name.to_string()
            } else {
                format!("{alias} {name}")
            };
            out.push(format!("{names}:{ip}"));
        }
        Ok(out)
    }

    /// Tears down what `attach_network` set up (the container has exited).
    pub(super) async fn detach_network(&self, c: &Container) {
        let mode = c.with_record(|r| r.host_config.network_mode.clone());
        if is_special(&mode) {
            return;
        }
        let began = std::time::Instant::now();
        self.network.detach(&c.id).await;
        tracing::debug!(id = %c.id, ms = began.elapsed().as_secs_f64() * 1000.0, "network detached");
        c.with_record(|r| {
            r.endpoints.clear();
            r.ports.clear();
        });
    }

    /// `network connect`: a running container gets the interface now, a stopped one at its
    /// next start.
    pub async fn connect_network(
        &self,
        name: &str,
        net: &NetworkRecord,
        settings: EndpointSettings,
    ) -> Result<(), ApiError> {
        let c = self.get(name)?;
        let _op = c.op.lock().await;
        let rec = c.record();
        if is_special(&rec.host_config.network_mode) || net.driver == "host" || net.driver == "null"
        {
            return Err(ApiError::new(
                pouch_api::ErrorKind::Forbidden,
                format!(
                    "container {} cannot be connected to network {}: its network mode is {}",
                    rec.name, net.name, rec.host_config.network_mode
                ),
            ));
        }
        if rec.networks.contains_key(&net.name) {
            return Err(ApiError::new(
                pouch_api::ErrorKind::Forbidden,
                format!(
                    "endpoint with name {} already exists in network {}",
                    rec.name, net.name
                ),
            ));
        }
        let req = endpoint_request(&self.network, net, &settings)?;
        let live = if rec.state.status.is_alive() {
            self.network
                .connect(&c.id, &net.id, &req)
                .await
                .map_err(net_error)?
        } else {
            None
        };
        if live.is_some() && !net.builtin && !rec.config.disable_network_files {
            // Moby rebuilds resolv.conf when the embedded resolver starts on a connect.
            write_resolv_conf(&self.paths.bundle(&c.id), &rec.host_config, true)?;
        }
        c.with_record(|r| {
            r.networks.insert(net.name.clone(), settings.clone());
            if let Some((n, mut es)) = live {
                es.ipam_config = settings.ipam_config.clone();
                r.endpoints.insert(n, es);
            }
        });
        self.persist(&c)
    }

    /// `network disconnect`.
    pub async fn disconnect_network(
        &self,
        id: &str,
        net: &NetworkRecord,
        _force: bool,
    ) -> Result<(), ApiError> {
        let c = self.get(id)?;
        let _op = c.op.lock().await;
        let rec = c.record();
        if !rec.networks.contains_key(&net.name) {
            return Err(ApiError::new(
                pouch_api::ErrorKind::Forbidden,
                format!(
                    "container {} is not connected to network {}",
                    rec.name, net.name
                ),
            ));
        }
        if rec.state.status.is_alive() {
            self.network
                .disconnect(&c.id, &net.id)
                .await
                .map_err(net_error)?;
        }
        c.with_record(|r| {
            r.networks.remove(&net.name);
            r.endpoints.remove(&net.name);
            if r.host_config.network_mode == net.name {
                if let Some(next) = r.networks.keys().next().cloned() {
                    r.host_config.network_mode = next;
                }
            }
        });
        self.persist(&c)
    }
}

/// The container's `--dns` servers that are addresses.
pub(super) fn dns_servers(host: &HostConfig) -> Vec<std::net::IpAddr> {
    host.dns
        .iter()
        .flatten()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Splits `80/tcp` into port and protocol.
fn parse_port_key(key: &str) -> Result<(u16, Proto), ApiError> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let bad = || ApiError::invalid(format!("invalid port {key}: expected PORT[/tcp|udp]"));
    let proto = match proto {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        "sctp" => {
            return Err(ApiError::invalid(format!(
                "invalid port {key}: sctp is not supported"
            )))
        }
        _ => return Err(bad()),
    };
    Ok((port.parse().map_err(|_| bad())?, proto))
}

/// A host port: a number, empty (any), or a range `a-b` (the first free one).
fn host_port(text: &str, key: &str) -> Result<(u16, u16), ApiError> {
    if text.is_empty() {
        return Ok((0, 0));
    }
    let bad = || ApiError::invalid(format!("invalid host port {text} for {key}"));
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
            if a > b {
                return Err(bad());
            }
            Ok((a, b))
        }
        None => {
            let p = text.parse().map_err(|_| bad())?;
            Ok((p, p))
        }
    }
}

/// A port to publish, with its key (`80/tcp`) and the range its host port is chosen from
/// (`None`: fixed; `(0, 0)`: any).
struct Wanted<'a> {
    req: PortRequest,
    key: &'a str,
    choose: Option<(u16, u16)>,
}

/// The ports to publish: `PortBindings`, and with `-P` every exposed port not bound. A
/// host port to be chosen (empty or a range) is the pinned one when `pins` has it.
fn port_requests(
    host: &HostConfig,
    config: &ContainerConfig,
    pins: &mut NetworkPins,
) -> Result<Vec<PortRequest>, ApiError> {
    let mut wanted: Vec<Wanted> = Vec::new();
    for (key, bindings) in &host.port_bindings {
        let (port, proto) = parse_port_key(key)?;
        for b in bindings.iter().flatten() {
            let host_ip = match b.host_ip.as_str() {
                "" | "0.0.0.0" => None,
                ip if ip.contains(':') => continue,
                ip => Some(ip.parse::<Ipv4Addr>().map_err(|_| {
                    ApiError::invalid(format!("invalid host ip {ip} for port {key}"))
                })?),
            };
            let (lo, hi) = host_port(&b.host_port, key)?;
            let req = PortRequest {
                proto,
                container_port: port,
                host_ip,
                host_port: lo,
            };
            let choose = (lo != hi || lo == 0).then_some((lo, hi));
            wanted.push(Wanted { req, key, choose });
        }
    }
    if host.publish_all_ports {
        for key in config.exposed_ports.iter().flat_map(|e| e.keys()) {
            if host
                .port_bindings
                .get(key)
                .is_some_and(|b| b.as_ref().is_some_and(|v| !v.is_empty()))
            {
                continue;
            }
            let (port, proto) = parse_port_key(key)?;
            let req = PortRequest {
                proto,
                container_port: port,
                host_ip: None,
                host_port: 0,
            };
            let choose = Some((0, 0));
            wanted.push(Wanted { req, key, choose });
        }
    }
    // A fixed port's pin is its own: no chosen port may take it.
    for w in wanted.iter().filter(|w| w.choose.is_none()) {
        pins.take_port(&w.req, w.req.host_port, w.req.host_port);
    }
    let mut out = Vec::with_capacity(wanted.len());
    for Wanted {
        mut req,
        key,
        choose,
    } in wanted
    {
        if let Some((lo, hi)) = choose {
            req.host_port = match pins.take_port(&req, lo, hi) {
                Some(p) => p,
                None if lo != hi => first_free(req.proto, req.host_ip, lo, hi, key)?,
                None => 0,
            };
        }
        out.push(req);
    }
    Ok(out)
}

/// The first port of `lo..=hi` that is free on the host now.
fn first_free(
    proto: Proto,
    ip: Option<Ipv4Addr>,
    lo: u16,
    hi: u16,
    key: &str,
) -> Result<u16, ApiError> {
    (lo..=hi)
        .find(|p| pouch_network::ports::reserve(proto, ip, *p).is_ok())
        .ok_or_else(|| {
            ApiError::conflict(format!(
                "no free host port in {lo}-{hi} for {key}: choose another range"
            ))
        })
}

/// Docker's `NetworkSettings.Ports`: every exposed or published port, with the bindings
/// made (null for ports exposed but not published).
fn port_map(
    host: &HostConfig,
    config: &ContainerConfig,
    bound: &[pouch_network::manager::PortBinding],
) -> PortMap {
    let mut map = PortMap::new();
    for key in config.exposed_ports.iter().flat_map(|e| e.keys()) {
        map.insert(key.clone(), None);
    }
    for key in host.port_bindings.keys() {
        map.entry(key.clone()).or_insert(None);
    }
    for b in bound {
        let key = format!("{}/{}", b.container_port, b.proto);
        let entry = map.entry(key).or_insert(None).get_or_insert_with(Vec::new);
        entry.push(ApiBinding {
            host_ip: b
                .host_ip
                .map(|i| i.to_string())
                .unwrap_or_else(|| "0.0.0.0".into()),
            host_port: b.host_port.to_string(),
        });
    }
    map
}

/// Writes `hostname`, `hosts` and `resolv.conf` into `dir` (the bundle).
pub(super) fn write_network_files(
    dir: &Path,
    config: &ContainerConfig,
    host: &HostConfig,
    own_ip: Option<Ipv4Addr>,
    embedded_dns: bool,
) -> Result<(), ApiError> {
    let w = |name: &str, text: String| {
        std::fs::write(dir.join(name), text)
            .map_err(|e| internal(format!("cannot write {name} of the container: {e}")))
    };
    let host_net = host.network_mode == "host";
    let hostname = if host_net {
        pouch_sys::uname().nodename
    } else {
        config.hostname.clone()
    };
    w("hostname", format!("{hostname}\n"))?;
    let mut extra = Vec::new();
    for e in host.extra_hosts.clone().unwrap_or_default() {
        let (name, ip) = e
            .split_once(':')
            .or_else(|| e.split_once('='))
            .ok_or_else(|| {
                ApiError::invalid(format!("invalid --add-host {e}: expected host:ip"))
            })?;
        extra.push((name.to_string(), ip.to_string()));
    }
    let hosts = if host_net {
        let mut h = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        for (name, ip) in &extra {
            h.push_str(&format!("{ip}\t{name}\n"));
        }
        h
    } else {
        pouch_network::files::hosts(own_ip.map(|ip| (ip, hostname.as_str())), &extra)
    };
    w("hosts", hosts)?;
    write_resolv_conf(dir, host, embedded_dns)
}

/// Writes `resolv.conf` into `dir`: the host's (filtered) with the container's `--dns*`, or
/// the embedded resolver on user networks.
pub(super) fn write_resolv_conf(
    dir: &Path,
    host: &HostConfig,
    embedded_dns: bool,
) -> Result<(), ApiError> {
    let host_net = host.network_mode == "host";
    let base = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let dns = host.dns.clone().unwrap_or_default();
    let search = host.dns_search.clone().unwrap_or_default();
    let opts = host.dns_options.clone().unwrap_or_default();
    let resolv = if host_net && dns.is_empty() && search.is_empty() && opts.is_empty() {
        base
    } else {
        pouch_network::files::resolv_conf(&base, &dns, &search, &opts, embedded_dns)
    };
    std::fs::write(dir.join("resolv.conf"), resolv)
        .map_err(|e| internal(format!("cannot write resolv.conf of the container: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(ip: &str, port: &str) -> ApiBinding {
        ApiBinding {
            host_ip: ip.into(),
            host_port: port.into(),
        }
    }

    /// A record that ran with `-p 8080:80 -p 80 -p 127.0.0.1::53/udp -P` (exposing 9000) and
    /// was bound as listed: the pins give every chosen port back, and fixed ones stay fixed.
    #[test]
    fn pins_give_back_chosen_host_ports_and_addresses() {
        let mut rec = crate::containers::record::ContainerRecord {
            id: "a".repeat(64),
            name: "web".into(),
            created: String::new(),
            image_name: String::new(),
            image_id: String::new(),
            config: ContainerConfig {
                exposed_ports: Some(BTreeMap::from([
                    ("80/tcp".into(), serde_json::json!({})),
                    ("9000/tcp".into(), serde_json::json!({})),
                ])),
                ..Default::default()
            },
            host_config: HostConfig {
                publish_all_ports: true,
                port_bindings: BTreeMap::from([
                    (
                        "80/tcp".to_string(),
                        Some(vec![binding("", "8080"), binding("", "")]),
                    ),
                    (
                        "53/udp".to_string(),
                        Some(vec![binding("127.0.0.1", "5300-5310")]),
                    ),
                ]),
                ..Default::default()
            },
            runtime: String::new(),
            path: String::new(),
            args: Vec::new(),
            state: Default::default(),
            lower_dirs: Vec::new(),
            networks: Default::default(),
            endpoints: BTreeMap::from([(
                "bridge".to_string(),
                EndpointSettings {
                    ip_address: "10.9.0.7".into(),
                    ..Default::default()
                },
            )]),
            ports: BTreeMap::from([
                (
                    "80/tcp".to_string(),
                    Some(vec![
                        binding("0.0.0.0", "32770"),
                        binding("0.0.0.0", "8080"),
                    ]),
                ),
                (
                    "53/udp".to_string(),
                    Some(vec![binding("127.0.0.1", "5307")]),
                ),
                (
                    "9000/tcp".to_string(),
                    Some(vec![binding("0.0.0.0", "32771")]),
                ),
            ]),
            mounts: Vec::new(),
        };
        let mut pins = NetworkPins::of(&rec);
        assert_eq!(
            pins.addresses.get("bridge"),
            Some(&Ipv4Addr::new(10, 9, 0, 7))
        );
        assert_eq!(pins.ports.len(), 4);
        let got = port_requests(&rec.host_config, &rec.config, &mut pins).unwrap();
        let ports: Vec<(u16, Option<Ipv4Addr>, u16)> = got
            .iter()
            .map(|r| (r.container_port, r.host_ip, r.host_port))
            .collect();
        let lo = Some(Ipv4Addr::LOCALHOST);
        assert_eq!(
            ports,
            [
                (53, lo, 5307),
                (80, None, 8080),
                (80, None, 32770),
                (9000, None, 32771)
            ]
        );
        assert!(pins.ports.is_empty(), "every pin used: {pins:?}");

        // Without pins the chosen ports are left to the network manager (0).
        rec.host_config.port_bindings.remove("53/udp");
        let got =
            port_requests(&rec.host_config, &rec.config, &mut NetworkPins::default()).unwrap();
        let chosen: Vec<u16> = got.iter().map(|r| r.host_port).collect();
        assert_eq!(chosen, [8080, 0, 0]);
    }
}
