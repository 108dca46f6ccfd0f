//! The network manager: network records (table `networks`), the built-in `bridge`, `host`
//! and `none` networks, bridge devices, the firewall model, and (in `endpoints`) the
//! container side: netns, interfaces, leases, published ports and DNS; `restore` reconciles
//! all of it with what survived a daemon restart.

mod endpoints;
mod records;
mod restore;

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

use pouch_store::Store;
use tokio::sync::Mutex;

use crate::dns::{DnsRegistry, DnsServer};
use crate::firewall::{BridgeRules, Firewall, FirewallModel, PortRule};
use crate::ipam::{IpamError, Ipv4Net, Lease, Pool};
use crate::link::Netlink;
use crate::ports::PortReservation;

pub use endpoints::{AttachRequest, Attached, EndpointRequest, PortBinding, PortRequest};
pub use records::{CreateNetwork, NetworkRecord, NETWORKS};
pub use restore::RestoreContainer;

/// Published ports of running containers, keyed by container id.
pub const PORT_MAPS: &str = "port_maps";

/// The daemon's bridge flags (`--bridge-name`, `--bip`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    pub name: String,
    /// The bridge's address and the default network's subnet.
    pub bip: Ipv4Net,
    /// Where containers' addresses come from (inside `bip`).
    pub fixed_cidr: Option<Ipv4Net>,
    /// The containers' default route, when not the bridge's address.
    pub default_gateway: Option<Ipv4Addr>,
    pub mtu: u32,
    pub ip_forward: bool,
    pub ip_masq: bool,
    /// `false`: leave the firewall alone (no NAT, no published ports).
    pub iptables: bool,
    /// The nftables table (`ip pouch`); two daemons on one host need two tables.
    pub firewall_table: String,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            name: "p0".into(),
            bip: Ipv4Net::new(Ipv4Addr::new(192, 168, 5, 1), 24),
            fixed_cidr: None,
            default_gateway: None,
            mtu: 1500,
            ip_forward: true,
            ip_masq: true,
            iptables: true,
            firewall_table: "pouch".into(),
        }
    }
}

/// What the manager needs to open.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// Netns files go to `<exec_root>/netns/<container id>`.
    pub exec_root: PathBuf,
    pub bridge: BridgeConfig,
    /// The nftables table (`pouch`; tests use their own).
    pub table: String,
}

/// Why a network operation failed; `kind` says whose fault it is.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("network {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Ipam(#[from] IpamError),
    #[error("{0}")]
    Internal(String),
}

/// The HTTP-ish class of a [`NetworkError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    NotFound,
    Conflict,
    Invalid,
    Forbidden,
    Internal,
}

impl NetworkError {
    pub fn class(&self) -> ErrorClass {
        match self {
            NetworkError::NotFound(_) => ErrorClass::NotFound,
            NetworkError::Conflict(_) => ErrorClass::Conflict,
            NetworkError::Invalid(_) => ErrorClass::Invalid,
            NetworkError::Forbidden(_) => ErrorClass::Forbidden,
            NetworkError::Ipam(e) => match e {
                IpamError::InUse { .. } => ErrorClass::Conflict,
                IpamError::Store(_) => ErrorClass::Internal,
                IpamError::NoSubnet | IpamError::Exhausted { .. } => ErrorClass::Forbidden,
                _ => ErrorClass::Invalid,
            },
            NetworkError::Internal(_) => ErrorClass::Internal,
        }
    }
}

pub(crate) fn internal(e: impl std::fmt::Display) -> NetworkError {
    NetworkError::Internal(e.to_string())
}

/// A running container's network state in memory.
struct Live {
    netns: PathBuf,
    leases: Vec<Lease>,
    ports: Vec<PortBinding>,
    /// Held for their `Drop`: the host ports stay taken while the container runs.
    _reservations: Vec<PortReservation>,
    dns: Option<DnsServer>,
    /// For DNS registrations on networks connected later.
    names: Vec<String>,
    /// The container's `--dns` servers (the embedded resolver's upstreams).
    upstreams: Vec<std::net::IpAddr>,
}

/// Everything behind the manager's lock.
#[derive(Default)]
struct State {
    networks: BTreeMap<String, NetworkRecord>,
    live: HashMap<String, Live>,
}

/// The network manager; one per daemon.
pub struct NetworkManager {
    store: Arc<Store>,
    cfg: ManagerConfig,
    netlink: tokio::sync::OnceCell<Netlink>,
    firewall: Arc<Firewall>,
    dns: Arc<DnsRegistry>,
    state: Mutex<State>,
    forward_drops: std::sync::Mutex<Vec<String>>,
}

impl NetworkManager {
    /// Opens the manager: loads the records and makes the built-in networks. Devices and
    /// the firewall are set up by [`Self::init`] (async, at daemon start).
    pub fn new(store: Arc<Store>, cfg: ManagerConfig) -> Result<Arc<Self>, NetworkError> {
        let firewall = Arc::new(Firewall::new(&cfg.table));
        let mgr = NetworkManager {
            store,
            netlink: tokio::sync::OnceCell::new(),
            firewall,
            dns: Arc::new(DnsRegistry::default()),
            state: Mutex::new(State::default()),
            forward_drops: std::sync::Mutex::new(Vec::new()),
            cfg,
        };
        let networks = mgr.load_records()?;
        mgr.state.try_lock().map_err(internal)?.networks = networks;
        Ok(Arc::new(mgr))
    }

    /// Sets up the host side: IP forwarding, every bridge device, the firewall table.
    pub async fn init(&self) -> Result<(), NetworkError> {
        if self.cfg.bridge.ip_forward {
            crate::link::set_sysctl("net.ipv4.ip_forward", "1").map_err(internal)?;
        }
        let st = self.state.lock().await;
        for n in st.networks.values() {
            if n.driver == "bridge" {
                self.ensure_bridge(n).await?;
            }
        }
        self.apply_firewall(&st).await?;
        let drops = if self.cfg.bridge.iptables {
            self.firewall.foreign_forward_drops().unwrap_or_default()
        } else {
            Vec::new()
        };
        *self.forward_drops.lock().unwrap_or_else(|e| e.into_inner()) = drops.clone();
        for chain in drops {
            tracing::warn!(
                "the firewall chain {chain} drops forwarded traffic by default: containers on \
                 pouch's bridges cannot reach other networks or published ports through it \
                 (a dockerd left it behind? set its policy to accept: nft chain {chain} '{{ policy accept; }}')"
            );
        }
        Ok(())
    }

    /// Other tables' forward chains with a drop policy, as found at start (reported in
    /// `info` and the log).
    pub fn forward_drops(&self) -> Vec<String> {
        self.forward_drops
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The daemon's netlink connection, opened on first use (inside the runtime).
    pub(crate) async fn nl(&self) -> Result<&Netlink, NetworkError> {
        self.netlink
            .get_or_try_init(|| async { Netlink::new() })
            .await
            .map_err(|e| internal(format!("cannot open a netlink connection: {e}")))
    }

    /// The pool a network hands addresses out of (bridge and macvlan networks).
    fn pool(&self, n: &NetworkRecord) -> Option<Pool> {
        let subnet = n.subnet?;
        let gateway = n.gateway.unwrap_or_else(|| subnet.first_host());
        Some(Pool {
            subnet,
            range: n.ip_range.unwrap_or(subnet),
            gateway,
        })
    }

    /// Why `ip` can never be leased on `n` (outside the subnet, its network, broadcast or
    /// gateway address), if it cannot; whether it is free is known only at attach.
    pub fn check_address(&self, n: &NetworkRecord, ip: Ipv4Addr) -> Result<(), NetworkError> {
        match self.pool(n) {
            Some(pool) => Ok(pool.check(&n.name, ip)?),
            None => Err(NetworkError::Invalid(format!(
                "network {} hands out no addresses (driver {})",
                n.name, n.driver
            ))),
        }
    }

    /// The default route containers on `n` get (the bridge's address, or
    /// `--default-gateway` on the default bridge). Internal networks get none.
    fn route_gateway(&self, n: &NetworkRecord) -> Option<Ipv4Addr> {
        if n.internal {
            return None;
        }
        if n.builtin {
            return Some(
                self.cfg
                    .bridge
                    .default_gateway
                    .unwrap_or(self.cfg.bridge.bip.addr),
            );
        }
        n.gateway.or_else(|| n.subnet.map(|s| s.first_host()))
    }

    fn mtu(&self, n: &NetworkRecord) -> u32 {
        n.options
            .get("com.docker.network.driver.mtu")
            .and_then(|m| m.parse().ok())
            .unwrap_or(self.cfg.bridge.mtu)
    }

    /// Creates a bridge network's device with its gateway address, and lets 127.0.0.1 reach
    /// published ports on it.
    async fn ensure_bridge(&self, n: &NetworkRecord) -> Result<(), NetworkError> {
        let (Some(subnet), Some(gw)) = (n.subnet, n.gateway) else {
            return Err(internal(format!("network {} has no subnet", n.name)));
        };
        self.nl()
            .await?
            .ensure_bridge(&n.device, Ipv4Net::new(gw, subnet.prefix), self.mtu(n))
            .await
            .map_err(|e| {
                internal(format!(
                    "cannot set up bridge {} of network {}: {e}",
                    n.device, n.name
                ))
            })?;
        if self.cfg.bridge.iptables {
            let key = format!("net.ipv4.conf.{}.route_localnet", n.device);
            crate::link::set_sysctl(&key, "1").map_err(internal)?;
        }
        Ok(())
    }

    /// Rebuilds the firewall table from the networks and the running containers' ports.
    async fn apply_firewall(&self, st: &State) -> Result<(), NetworkError> {
        if !self.cfg.bridge.iptables {
            return Ok(());
        }
        let bridges = st
            .networks
            .values()
            .filter(|n| n.driver == "bridge")
            .filter_map(|n| {
                Some(BridgeRules {
                    device: n.device.clone(),
                    subnet: n.subnet?,
                    masquerade: !n.internal && (!n.builtin || self.cfg.bridge.ip_masq),
                    internal: n.internal,
                })
            })
            .collect();
        let ports = st
            .live
            .values()
            .flat_map(|l| l.ports.iter())
            .map(|p| PortRule {
                proto: p.proto,
                host_ip: p.host_ip,
                host_port: p.host_port,
                container_ip: p.container_ip,
                container_port: p.container_port,
                device: p.device.clone(),
            })
            .collect();
        let model = FirewallModel { bridges, ports };
        let fw = self.firewall.clone();
        tokio::task::spawn_blocking(move || fw.apply(&model))
            .await
            .map_err(internal)?
            .map_err(|e| internal(format!("cannot update the firewall: {e}")))
    }

    /// The netns file of a container.
    pub fn netns_path(&self, container_id: &str) -> PathBuf {
        self.cfg.exec_root.join("netns").join(container_id)
    }
}
