//! Links, addresses and routes over netlink (rtnetlink; never the `ip` tool): the daemon's
//! bridges, a container endpoint's veth pair or macvlan (created with its container end
//! already in the container's namespace, then addressed and routed there), deleting links,
//! sysctls under /proc/sys, and the MAC address helpers. See docs/networking-contract.md.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo, LinkMessage, MacVlanMode,
};
use rtnetlink::{
    Handle, LinkBridge, LinkBridgePort, LinkMacVlan, LinkMessageBuilder, LinkUnspec, LinkVeth,
    RouteMessageBuilder,
};

pub use crate::ipam::Ipv4Net;
use crate::netns::{self, NetnsError};

/// The kernel's limit on an interface name (IFNAMSIZ - 1).
const MAX_IFNAME: usize = 15;

/// Errors from link, address, route and sysctl changes; each names the object.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("open a netlink connection: {0}; pouchd needs root (CAP_NET_ADMIN)")]
    Connect(io::Error),
    #[error("{op} {name}: {source}{}", hint(.source))]
    Netlink {
        op: &'static str,
        name: String,
        source: io::Error,
    },
    #[error("{what} {name} not found: {todo}")]
    NotFound {
        what: &'static str,
        name: String,
        todo: &'static str,
    },
    #[error("link {name} exists and is a {kind}, not a bridge: choose another bridge name or delete that link")]
    NotBridge { name: String, kind: String },
    #[error(
        "invalid interface name {name:?}: use 1 to 15 characters without '/', ':' or whitespace"
    )]
    BadName { name: String },
    #[error("invalid macvlan mode {mode:?}: use bridge, private, vepa or passthru")]
    BadMode { mode: String },
    #[error(
        "invalid sysctl {key:?}: give a dotted name under /proc/sys such as net.ipv4.ip_forward"
    )]
    BadSysctl { key: String },
    #[error("write sysctl {key} = {value} ({path}): {source}")]
    Sysctl {
        key: String,
        value: String,
        path: PathBuf,
        source: io::Error,
    },
    #[error("start a runtime for netlink in network namespace {netns}: {source}")]
    Runtime { netns: PathBuf, source: io::Error },
    #[error(transparent)]
    Netns(#[from] NetnsError),
}

/// What to do, by errno, appended to a netlink error.
fn hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(17) => {
            "; a link or address with that name exists: remove the leftover or choose another name"
        }
        Some(1) | Some(13) => "; pouchd needs root (CAP_NET_ADMIN)",
        Some(19) => "; the link is gone: check it with `ip link`",
        Some(22) => "; the kernel refused the settings (MTU above the parent's? name in use?)",
        Some(101) => "; the gateway is not reachable from the interface's subnet: check the network's gateway",
        Some(95) => "; the kernel lacks the driver: load the module (veth, bridge, macvlan)",
        _ => "",
    }
}

fn nl_io(e: rtnetlink::Error) -> io::Error {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

fn is_errno(e: &rtnetlink::Error, errno: i32) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m) if m.raw_code() == -errno)
}

const ENODEV: i32 = 19;
const EEXIST: i32 = 17;

fn nl_err<'a>(op: &'static str, name: &'a str) -> impl FnOnce(rtnetlink::Error) -> LinkError + 'a {
    move |e| LinkError::Netlink {
        op,
        name: name.to_string(),
        source: nl_io(e),
    }
}

fn check_name(name: &str) -> Result<(), LinkError> {
    let bad = name.is_empty()
        || name.len() > MAX_IFNAME
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c == '\0');
    if bad {
        return Err(LinkError::BadName {
            name: name.to_string(),
        });
    }
    Ok(())
}

/// The configuration of a container's interface, applied inside its namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfaceConfig {
    pub netns: PathBuf,
    pub ifname: String,
    pub address: Ipv4Net,
    pub gateway: Option<Ipv4Addr>,
    pub mac: [u8; 6],
    pub mtu: u32,
}

/// A bridge endpoint: host end `host_name` on `bridge`, container end per `iface`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VethSpec {
    pub host_name: String,
    pub bridge: String,
    pub iface: IfaceConfig,
}

/// A macvlan endpoint on the host interface `parent` (`mode`: bridge, private, vepa,
/// passthru; empty means bridge).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacvlanSpec {
    pub parent: String,
    pub mode: String,
    pub iface: IfaceConfig,
}

/// One rtnetlink connection in the daemon's network namespace.
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// Opens the connection and spawns its task on the current tokio runtime (call it from
    /// within one).
    pub fn new() -> Result<Netlink, LinkError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(LinkError::Connect(io::Error::other(
                "Netlink::new was called outside a tokio runtime",
            )));
        }
        let (conn, handle, _) = rtnetlink::new_connection().map_err(LinkError::Connect)?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// Creates the bridge if missing, sets its address (gateway/prefix) if missing, the MTU,
    /// and up.
    pub async fn ensure_bridge(
        &self,
        name: &str,
        gateway: Ipv4Net,
        mtu: u32,
    ) -> Result<(), LinkError> {
        check_name(name)?;
        let link = match get_link(&self.handle, name).await? {
            Some(l) => l,
            None => {
                // A MAC of its own: otherwise the bridge takes its lowest port's, which changes
                // as containers come and go and makes the gateway's ARP entry go stale.
                let mut b = LinkBridge::new(name).address(random_mac().to_vec());
                if mtu > 0 {
                    b = b.mtu(mtu);
                }
                match self.handle.link().add(b.build()).execute().await {
                    Ok(()) => {}
                    // Made meanwhile by someone else: use it.
                    Err(e) if is_errno(&e, EEXIST) => {}
                    Err(e) => return Err(nl_err("create bridge", name)(e)),
                }
                get_link(&self.handle, name)
                    .await?
                    .ok_or_else(|| LinkError::NotFound {
                        what: "bridge",
                        name: name.to_string(),
                        todo: "it vanished right after creation; retry",
                    })?
            }
        };
        let kind = link_kind(&link);
        if kind.as_ref() != Some(&InfoKind::Bridge) {
            return Err(LinkError::NotBridge {
                name: name.to_string(),
                kind: kind.map_or_else(|| "device".to_string(), |k| k.to_string()),
            });
        }
        let index = link.header.index;
        let mut set = LinkUnspec::new_with_index(index).up();
        if mtu > 0 && link_mtu(&link) != Some(mtu) {
            set = set.mtu(mtu);
        }
        self.handle
            .link()
            .set(set.build())
            .execute()
            .await
            .map_err(nl_err("set up bridge", name))?;

        let addrs: Vec<_> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_collect()
            .await
            .map_err(nl_err("list addresses of bridge", name))?;
        let has = addrs.iter().any(|a| {
            a.header.prefix_len == gateway.prefix
                && a.attributes.iter().any(|at| {
                    matches!(at, AddressAttribute::Local(IpAddr::V4(ip))
                             | AddressAttribute::Address(IpAddr::V4(ip)) if *ip == gateway.addr)
                })
        });
        if !has {
            match self
                .handle
                .address()
                .add(index, IpAddr::V4(gateway.addr), gateway.prefix)
                .execute()
                .await
            {
                Ok(()) => {}
                Err(e) if is_errno(&e, EEXIST) => {}
                Err(e) => return Err(nl_err("add address to bridge", name)(e)),
            }
        }
        Ok(())
    }

    /// Deletes a link by name; Ok when there is none.
    pub async fn delete_link(&self, name: &str) -> Result<(), LinkError> {
        check_name(name)?;
        delete_by_name(&self.handle, name).await
    }

    /// The index of link `name`, `None` when there is none.
    pub async fn link_index(&self, name: &str) -> Result<Option<u32>, LinkError> {
        check_name(name)?;
        Ok(get_link(&self.handle, name).await?.map(|l| l.header.index))
    }

    /// Deletes the link with this index; Ok when there is none. A link's index is never
    /// reused while the old one exists, so this cannot hit a newer link of the same name.
    pub async fn delete_link_index(&self, index: u32) -> Result<(), LinkError> {
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(()),
            Err(e) if is_errno(&e, ENODEV) => Ok(()),
            Err(e) => Err(nl_err("delete link", &format!("index {index}"))(e)),
        }
    }

    /// All link names in the daemon's netns (for reconciling leftovers).
    pub async fn link_names(&self) -> Result<Vec<String>, LinkError> {
        let links: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(nl_err("list links", "in the daemon's namespace"))?;
        Ok(links.iter().filter_map(link_name).collect())
    }

    /// Creates the veth pair, enslaves the host end to the bridge (hairpin mode on), moves the
    /// peer into the netns and configures it there (name, MAC, MTU, address, up, default
    /// route via the gateway when given). On any failure the pair is deleted.
    ///
    /// The peer is created directly in the container's namespace under its final name, so no
    /// temporary name or move is needed and nothing of it is ever visible on the host.
    pub async fn add_veth(&self, spec: &VethSpec) -> Result<(), LinkError> {
        let iface = &spec.iface;
        check_name(&spec.host_name)?;
        check_name(&spec.bridge)?;
        check_name(&iface.ifname)?;
        let bridge =
            get_link(&self.handle, &spec.bridge)
                .await?
                .ok_or_else(|| LinkError::NotFound {
                    what: "bridge",
                    name: spec.bridge.clone(),
                    todo: "restart pouchd to recreate it, or check the network's bridge name",
                })?;
        let ns = open_netns(&iface.netns)?;

        let mut peer = LinkUnspec::new_with_name(&iface.ifname)
            .address(iface.mac.to_vec())
            .setns_by_fd(std::os::fd::AsRawFd::as_raw_fd(&ns));
        let mut host = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(spec.host_name.clone())
            .controller(bridge.header.index)
            .up();
        if iface.mtu > 0 {
            peer = peer.mtu(iface.mtu);
            host = host.mtu(iface.mtu);
        }
        let msg = host
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())))
            .build();
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(|e| LinkError::Netlink {
                op: "create veth pair",
                name: format!(
                    "{} (bridge {}, {} in {})",
                    spec.host_name,
                    spec.bridge,
                    iface.ifname,
                    iface.netns.display()
                ),
                source: nl_io(e),
            })?;
        drop(ns);

        let done = async {
            let port = LinkBridgePort::new(0)
                .name(spec.host_name.clone())
                .hairpin(true)
                .build();
            self.handle
                .link()
                .set_port(port)
                .execute()
                .await
                .map_err(nl_err("set hairpin mode on bridge port", &spec.host_name))?;
            configure_in_netns(iface.clone()).await
        }
        .await;
        if done.is_err() {
            // Deleting the host end deletes the pair.
            let _ = delete_by_name(&self.handle, &spec.host_name).await;
        }
        done
    }

    /// Creates a macvlan on `parent` (mode bridge unless given), moves it into the netns and
    /// configures it as above. On failure nothing is left.
    ///
    /// The macvlan is created directly in the container's namespace under its final name.
    pub async fn add_macvlan(&self, spec: &MacvlanSpec) -> Result<(), LinkError> {
        let iface = &spec.iface;
        check_name(&spec.parent)?;
        check_name(&iface.ifname)?;
        let mode = macvlan_mode(&spec.mode)?;
        let parent =
            get_link(&self.handle, &spec.parent)
                .await?
                .ok_or_else(|| LinkError::NotFound {
                    what: "macvlan parent interface",
                    name: spec.parent.clone(),
                    todo: "give an existing host interface with -o parent=",
                })?;
        let ns = open_netns(&iface.netns)?;
        let mut b = LinkMacVlan::new(&iface.ifname, parent.header.index, mode)
            .address(iface.mac.to_vec())
            .setns_by_fd(std::os::fd::AsRawFd::as_raw_fd(&ns));
        if iface.mtu > 0 {
            b = b.mtu(iface.mtu);
        }
        self.handle
            .link()
            .add(b.build())
            .execute()
            .await
            .map_err(|e| LinkError::Netlink {
                op: "create macvlan",
                name: format!(
                    "{} on {} in {}",
                    iface.ifname,
                    spec.parent,
                    iface.netns.display()
                ),
                source: nl_io(e),
            })?;
        drop(ns);
        configure_in_netns(iface.clone()).await
    }
}

/// A random locally administered unicast MAC.
fn random_mac() -> [u8; 6] {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let r = h.finish().to_le_bytes();
    [(r[0] & 0xfe) | 0x02, r[1], r[2], r[3], r[4], r[5]]
}

fn open_netns(path: &Path) -> Result<std::fs::File, LinkError> {
    std::fs::File::open(path).map_err(|source| {
        LinkError::Netns(NetnsError::Enter {
            path: path.to_path_buf(),
            source,
        })
    })
}

fn macvlan_mode(mode: &str) -> Result<MacVlanMode, LinkError> {
    Ok(match mode {
        "" | "bridge" => MacVlanMode::Bridge,
        "private" => MacVlanMode::Private,
        "vepa" => MacVlanMode::Vepa,
        "passthru" => MacVlanMode::Passthrough,
        _ => {
            return Err(LinkError::BadMode {
                mode: mode.to_string(),
            })
        }
    })
}

fn link_name(l: &LinkMessage) -> Option<String> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}

fn link_mtu(l: &LinkMessage) -> Option<u32> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::Mtu(m) => Some(*m),
        _ => None,
    })
}

fn link_kind(l: &LinkMessage) -> Option<InfoKind> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
            LinkInfo::Kind(k) => Some(k.clone()),
            _ => None,
        }),
        _ => None,
    })
}

/// The link called `name`, or None.
async fn get_link(handle: &Handle, name: &str) -> Result<Option<LinkMessage>, LinkError> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(l) => Ok(l),
        Err(e) if is_errno(&e, ENODEV) => Ok(None),
        Err(e) => Err(nl_err("look up link", name)(e)),
    }
}

/// Deletes the link called `name` in the handle's namespace; Ok when there is none.
async fn delete_by_name(handle: &Handle, name: &str) -> Result<(), LinkError> {
    let msg = LinkUnspec::new_with_name(name).build();
    match handle.link().del_with_message(msg).execute().await {
        Ok(()) => Ok(()),
        Err(e) if is_errno(&e, ENODEV) => Ok(()),
        Err(e) => Err(nl_err("delete link", name)(e)),
    }
}

/// Runs `f` with a netlink handle inside the namespace at `netns`: on a fresh thread that has
/// joined it, with its own connection on a current-thread runtime.
async fn with_netns_handle<T, F, Fut>(netns: &Path, f: F) -> Result<T, LinkError>
where
    T: Send + 'static,
    F: FnOnce(Handle) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, LinkError>>,
{
    let p = netns.to_path_buf();
    netns::run_in_async(netns, move || block_on_handle(&p, f)).await?
}

fn block_on_handle<T, F, Fut>(netns: &Path, f: F) -> Result<T, LinkError>
where
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = Result<T, LinkError>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|source| LinkError::Runtime {
            netns: netns.to_path_buf(),
            source,
        })?;
    rt.block_on(async {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(LinkError::Connect)?;
        tokio::spawn(conn);
        f(handle).await
    })
}

/// Inside the interface's namespace: address, up, default route. On failure the interface is
/// deleted there (a veth's host end goes with it).
async fn configure_in_netns(iface: IfaceConfig) -> Result<(), LinkError> {
    let netns = iface.netns.clone();
    with_netns_handle(&netns, move |h| async move {
        let r = configure(&h, &iface).await;
        if r.is_err() {
            let _ = delete_by_name(&h, &iface.ifname).await;
        }
        r
    })
    .await
}

async fn configure(h: &Handle, iface: &IfaceConfig) -> Result<(), LinkError> {
    let name = &iface.ifname;
    let link = get_link(h, name)
        .await?
        .ok_or_else(|| LinkError::NotFound {
            what: "interface",
            name: format!("{name} in {}", iface.netns.display()),
            todo: "it vanished from the container's namespace; restart the container",
        })?;
    let index = link.header.index;
    h.address()
        .add(index, IpAddr::V4(iface.address.addr), iface.address.prefix)
        .execute()
        .await
        .map_err(nl_err("add address to", name))?;
    h.link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(nl_err("set up", name))?;
    if let Some(gw) = iface.gateway {
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .gateway(gw)
            .output_interface(index)
            .build();
        h.route()
            .add(route)
            .execute()
            .await
            .map_err(nl_err("add default route via the gateway on", name))?;
    }
    Ok(())
}

/// Deletes interface `ifname` inside the netns (a veth's host end goes with it). Ok when the
/// interface or the namespace file is gone.
pub fn delete_in_netns(netns: &Path, ifname: &str) -> Result<(), LinkError> {
    check_name(ifname)?;
    let p = netns.to_path_buf();
    let name = ifname.to_string();
    match netns::run_in(netns, move || {
        block_on_handle(&p, |h| async move { delete_by_name(&h, &name).await })
    }) {
        Ok(r) => r,
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Writes a sysctl under /proc/sys (`net.ipv4.ip_forward`, `net.ipv4.conf.p0.route_localnet`).
/// A key with '/' is taken as a path under /proc/sys; in a dotted key, the device of
/// `net.ipv{4,6}.{conf,neigh}.<dev>.<name>` may itself contain dots.
pub fn set_sysctl(key: &str, value: &str) -> Result<(), LinkError> {
    let path = sysctl_path(key).ok_or_else(|| LinkError::BadSysctl {
        key: key.to_string(),
    })?;
    std::fs::write(&path, value).map_err(|source| LinkError::Sysctl {
        key: key.to_string(),
        value: value.to_string(),
        path,
        source,
    })
}

fn sysctl_path(key: &str) -> Option<PathBuf> {
    let parts: Vec<String> = if key.contains('/') {
        key.split('/').map(str::to_string).collect()
    } else {
        let p: Vec<&str> = key.split('.').collect();
        let per_dev = p.len() > 5
            && p[0] == "net"
            && (p[1] == "ipv4" || p[1] == "ipv6")
            && (p[2] == "conf" || p[2] == "neigh");
        if per_dev {
            vec![
                p[0].to_string(),
                p[1].to_string(),
                p[2].to_string(),
                p[3..p.len() - 1].join("."),
                p[p.len() - 1].to_string(),
            ]
        } else {
            p.iter().map(|s| s.to_string()).collect()
        }
    };
    if parts
        .iter()
        .any(|s| s.is_empty() || s == "." || s == ".." || s.contains('\0'))
    {
        return None;
    }
    let mut path = PathBuf::from("/proc/sys");
    path.extend(parts);
    Some(path)
}

/// Docker's MAC for an address: `02:42:a:b:c:d`.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// Parses `aa:bb:cc:dd:ee:ff` (or with '-'), two hex digits per byte.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let sep = if s.contains('-') { '-' } else { ':' };
    let mut out = [0u8; 6];
    let mut n = 0;
    for part in s.split(sep) {
        if n == 6 || part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        out[n] = u8::from_str_radix(part, 16).ok()?;
        n += 1;
    }
    (n == 6).then_some(out)
}

/// `aa:bb:cc:dd:ee:ff`, lower case.
pub fn format_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hasher};
    use std::process::Command;
    use std::time::Instant;

    fn rand_u64() -> u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos(),
        );
        h.finish()
    }

    fn unique(prefix: &str) -> String {
        format!("{prefix}{:08x}", rand_u64() as u32)
    }

    /// A /24 in 10.200.0.0 - 10.250.255.0 that no host route covers.
    fn subnet() -> Ipv4Net {
        loop {
            let r = rand_u64();
            let net = Ipv4Addr::new(10, 200 + (r % 51) as u8, (r >> 8) as u8, 0);
            let routes = std::fs::read_to_string("/proc/net/route").unwrap();
            let hex = format!("{:08X}", u32::from_le_bytes(net.octets()));
            if !routes.contains(&hex) {
                return Ipv4Net::new(net, 24);
            }
        }
    }

    fn host(net: Ipv4Net, n: u8) -> Ipv4Addr {
        let o = net.addr.octets();
        Ipv4Addr::new(o[0], o[1], o[2], n)
    }

    /// Deletes the test's links and namespaces even when an assertion fails.
    #[derive(Default)]
    struct Cleanup {
        links: Vec<String>,
        netns: Vec<PathBuf>,
    }
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for l in &self.links {
                let _ = Command::new("ip").args(["link", "del", l]).output();
            }
            for n in &self.netns {
                let _ = netns::remove(n);
            }
        }
    }

    fn sys(path: String) -> String {
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .trim()
            .to_string()
    }

    /// `ip -o <args>` run inside the namespace (the child inherits the thread's netns).
    fn ip_in(ns: &Path, args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        netns::run_in(ns, move || {
            let out = Command::new("ip").arg("-o").args(&args).output().unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .unwrap()
    }

    /// `ip -o <args>` on the host.
    fn host_ip(args: &[&str]) -> String {
        let out = Command::new("ip").arg("-o").args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn ping(from: Option<&Path>, to: Ipv4Addr) -> bool {
        let run = move || {
            Command::new("/bin/busybox")
                .args(["ping", "-c", "1", "-W", "2", &to.to_string()])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        };
        match from {
            Some(ns) => netns::run_in(ns, run).unwrap(),
            None => run(),
        }
    }

    fn mounted(path: &Path) -> bool {
        pouch_sys::mount::is_mount_point(path)
    }

    fn iface(ns: &Path, net: Ipv4Net, n: u8, gateway: Option<Ipv4Addr>) -> IfaceConfig {
        IfaceConfig {
            netns: ns.to_path_buf(),
            ifname: "eth0".into(),
            address: Ipv4Net::new(host(net, n), net.prefix),
            gateway,
            mac: mac_for(host(net, n)),
            mtu: 1400,
        }
    }

    #[tokio::test]
    async fn bridge_veth_into_netns_and_back() {
        let mut c = Cleanup::default();
        let nl = Netlink::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let net = subnet();
        let gw = host(net, 1);
        let br = unique("ptst");
        c.links.push(br.clone());
        let gw_net = Ipv4Net::new(gw, 24);
        nl.ensure_bridge(&br, gw_net, 1400).await.unwrap();
        nl.ensure_bridge(&br, gw_net, 1400).await.unwrap(); // idempotent
        assert!(nl.link_names().await.unwrap().contains(&br));
        assert_eq!(sys(format!("/sys/class/net/{br}/mtu")), "1400");
        assert_eq!(sys(format!("/sys/class/net/{br}/flags")), "0x1003"); // up, broadcast, multicast
        assert_eq!(sys(format!("/sys/class/net/{br}/addr_assign_type")), "3"); // set, stays put
        let addrs = host_ip(&["-4", "addr", "show", "dev", &br]);
        assert_eq!(addrs.matches("inet ").count(), 1, "{addrs}");
        assert!(addrs.contains(&format!("inet {gw_net} ")), "{addrs}");

        let ns = dir.path().join("netns/c1");
        netns::create(&ns).unwrap();
        c.netns.push(ns.clone());
        let veth = unique("vtst");
        c.links.push(veth.clone());
        let spec = VethSpec {
            host_name: veth.clone(),
            bridge: br.clone(),
            iface: iface(&ns, net, 2, Some(gw)),
        };
        let t = Instant::now();
        nl.add_veth(&spec).await.unwrap();
        println!("add_veth took {:?}", t.elapsed());

        // Host end: on the bridge, hairpin on, up, MTU.
        let master = std::fs::read_link(format!("/sys/class/net/{veth}/master")).unwrap();
        assert_eq!(master.file_name().unwrap().to_str().unwrap(), br);
        assert_eq!(
            sys(format!("/sys/class/net/{veth}/brport/hairpin_mode")),
            "1"
        );
        assert_eq!(sys(format!("/sys/class/net/{veth}/mtu")), "1400");
        assert_eq!(sys(format!("/sys/class/net/{veth}/operstate")), "up");

        // Container end: name, MAC, MTU, address, up, default route.
        let link = ip_in(&ns, &["link", "show", "eth0"]);
        assert!(link.contains("mtu 1400"), "{link}");
        assert!(
            link.contains(",UP,") || link.contains("<UP,") || link.contains(",UP>"),
            "{link}"
        );
        let mac = format_mac(&spec.iface.mac);
        assert!(link.contains(&format!("link/ether {mac} ")), "{link}");
        assert_eq!(
            mac,
            format!("02:42:{}", {
                let o = host(net, 2).octets();
                format!("{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
            })
        );
        let a = ip_in(&ns, &["-4", "addr", "show", "dev", "eth0"]);
        assert!(a.contains(&format!("inet {}/24 ", host(net, 2))), "{a}");
        let r = ip_in(&ns, &["-4", "route", "show", "default"]);
        assert!(r.contains(&format!("default via {gw} dev eth0")), "{r}");
        assert!(
            !host_ip(&["link"]).contains(&mac),
            "the peer must not be on the host"
        );

        assert!(ping(None, host(net, 2)), "host cannot ping the container");
        assert!(ping(Some(&ns), gw), "container cannot ping its gateway");

        // A second endpoint with the same container name in the same netns fails and leaves
        // no host end.
        let veth2 = unique("vtst");
        c.links.push(veth2.clone());
        let dup = VethSpec {
            host_name: veth2.clone(),
            ..spec.clone()
        };
        let e = nl.add_veth(&dup).await.unwrap_err();
        println!("duplicate: {e}");
        assert!(!nl.link_names().await.unwrap().contains(&veth2));

        // A failure after creation (gateway outside the subnet) deletes the pair.
        let ns2 = dir.path().join("netns/c2");
        netns::create(&ns2).unwrap();
        c.netns.push(ns2.clone());
        let bad = VethSpec {
            host_name: veth2.clone(),
            bridge: br.clone(),
            iface: iface(&ns2, net, 3, Some(Ipv4Addr::new(203, 0, 113, 1))),
        };
        let e = nl.add_veth(&bad).await.unwrap_err();
        println!("bad gateway: {e}");
        assert!(!nl.link_names().await.unwrap().contains(&veth2));
        assert!(!ip_in(&ns2, &["link"]).contains("eth0"));
        // A missing bridge is named in the error.
        let e = nl
            .add_veth(&VethSpec {
                bridge: unique("pnob"),
                ..bad.clone()
            })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("bridge pnob"), "{e}");

        // Deleting the host end deletes the pair; again is fine.
        nl.delete_link(&veth).await.unwrap();
        nl.delete_link(&veth).await.unwrap();
        assert!(!nl.link_names().await.unwrap().contains(&veth));
        assert!(!ip_in(&ns, &["link"]).contains("eth0"));

        // delete_in_netns from the container side takes the host end too.
        let again = VethSpec {
            iface: iface(&ns, net, 4, None),
            ..spec.clone()
        };
        nl.add_veth(&again).await.unwrap();
        assert!(ip_in(&ns, &["-4", "route", "show", "default"]).is_empty());
        assert!(nl.link_names().await.unwrap().contains(&veth));
        let (ns_c, name_c) = (ns.clone(), "eth0");
        tokio::task::spawn_blocking(move || delete_in_netns(&ns_c, name_c))
            .await
            .unwrap()
            .unwrap();
        assert!(!nl.link_names().await.unwrap().contains(&veth));
        delete_in_netns(&ns, "eth0").unwrap();
        delete_in_netns(&dir.path().join("netns/none"), "eth0").unwrap();

        set_sysctl(&format!("net.ipv4.conf.{br}.route_localnet"), "1").unwrap();
        assert_eq!(
            sys(format!("/proc/sys/net/ipv4/conf/{br}/route_localnet")),
            "1"
        );

        // Nothing left.
        for n in [&ns, &ns2] {
            netns::remove(n).unwrap();
            assert!(!n.exists() && !mounted(n));
        }
        nl.delete_link(&br).await.unwrap();
        let names = nl.link_names().await.unwrap();
        assert!(
            !names.iter().any(|n| *n == br || *n == veth || *n == veth2),
            "{names:?}"
        );
    }

    #[tokio::test]
    async fn add_veth_is_fast() {
        let mut c = Cleanup::default();
        let nl = Netlink::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let net = subnet();
        let br = unique("ptst");
        c.links.push(br.clone());
        nl.ensure_bridge(&br, Ipv4Net::new(host(net, 1), 24), 1500)
            .await
            .unwrap();
        let mut times = Vec::new();
        for i in 0..10u8 {
            let ns = dir.path().join(format!("c{i}"));
            let t = Instant::now();
            netns::create(&ns).unwrap();
            let made = t.elapsed();
            c.netns.push(ns.clone());
            let veth = unique("vtst");
            c.links.push(veth.clone());
            let spec = VethSpec {
                host_name: veth,
                bridge: br.clone(),
                iface: iface(&ns, net, 10 + i, Some(host(net, 1))),
            };
            let t = Instant::now();
            nl.add_veth(&spec).await.unwrap();
            times.push(t.elapsed());
            println!("netns::create {made:?}, add_veth {:?}", t.elapsed());
        }
        times.sort();
        println!("add_veth median {:?}, max {:?}", times[5], times[9]);
        assert!(times[5].as_millis() < 50, "add_veth is slow: {times:?}");
        for ns in &c.netns {
            netns::remove(ns).unwrap();
        }
    }

    #[tokio::test]
    async fn macvlan_on_dummy_parent() {
        let mut c = Cleanup::default();
        let nl = Netlink::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let net = subnet();
        let parent = unique("pdum");
        c.links.push(parent.clone());
        // A dummy parent; kernels built without the dummy driver (EOPNOTSUPP) get a bridge.
        let dummy = rtnetlink::LinkDummy::new(&parent).up().build();
        match nl.handle.link().add(dummy).execute().await {
            Ok(()) => {}
            Err(e) if is_errno(&e, 95) => {
                let br = LinkBridge::new(&parent).build();
                nl.handle.link().add(br).execute().await.unwrap();
            }
            Err(e) => panic!("create parent {parent}: {e}"),
        }
        let ns = dir.path().join("m1");
        netns::create(&ns).unwrap();
        c.netns.push(ns.clone());
        let gw = host(net, 1);
        let spec = MacvlanSpec {
            parent: parent.clone(),
            mode: String::new(),
            iface: iface(&ns, net, 5, Some(gw)),
        };
        let t = Instant::now();
        nl.add_macvlan(&spec).await.unwrap();
        println!("add_macvlan took {:?}", t.elapsed());
        let link = ip_in(&ns, &["-d", "link", "show", "eth0"]);
        assert!(link.contains("macvlan mode bridge"), "{link}");
        assert!(
            link.contains(&format!("link/ether {} ", format_mac(&spec.iface.mac))),
            "{link}"
        );
        assert!(link.contains("mtu 1400"), "{link}");
        let a = ip_in(&ns, &["-4", "addr", "show", "dev", "eth0"]);
        assert!(a.contains(&format!("inet {}/24 ", host(net, 5))), "{a}");
        let r = ip_in(&ns, &["-4", "route", "show", "default"]);
        assert!(r.contains(&format!("default via {gw} dev eth0")), "{r}");
        // Not on the host.
        assert!(!host_ip(&["link"]).contains(&format_mac(&spec.iface.mac)));
        // A sibling on the same parent (bridge mode) is reachable.
        let ns3 = dir.path().join("m3");
        netns::create(&ns3).unwrap();
        c.netns.push(ns3.clone());
        nl.add_macvlan(&MacvlanSpec {
            parent: parent.clone(),
            mode: "bridge".into(),
            iface: iface(&ns3, net, 7, Some(gw)),
        })
        .await
        .unwrap();
        assert!(
            ping(Some(&ns), host(net, 7)),
            "macvlan siblings cannot ping"
        );

        // Errors: bad mode, missing parent, failure after creation leaves nothing.
        let e = nl
            .add_macvlan(&MacvlanSpec {
                mode: "nope".into(),
                ..spec.clone()
            })
            .await
            .unwrap_err();
        assert!(matches!(e, LinkError::BadMode { .. }), "{e}");
        let e = nl
            .add_macvlan(&MacvlanSpec {
                parent: unique("pnop"),
                ..spec.clone()
            })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not found"), "{e}");
        let ns2 = dir.path().join("m2");
        netns::create(&ns2).unwrap();
        c.netns.push(ns2.clone());
        let e = nl
            .add_macvlan(&MacvlanSpec {
                parent: parent.clone(),
                mode: "private".into(),
                iface: iface(&ns2, net, 6, Some(Ipv4Addr::new(203, 0, 113, 1))),
            })
            .await
            .unwrap_err();
        println!("bad gateway: {e}");
        assert!(!ip_in(&ns2, &["link"]).contains("eth0"));

        delete_in_netns(&ns, "eth0").unwrap();
        assert!(!ip_in(&ns, &["link"]).contains("eth0"));
        nl.delete_link(&parent).await.unwrap();
        assert!(!nl.link_names().await.unwrap().contains(&parent));
        for n in [&ns, &ns2, &ns3] {
            netns::remove(n).unwrap();
            assert!(!mounted(n));
        }
    }

    #[test]
    fn names_macs_sysctls() {
        assert_eq!(
            mac_for(Ipv4Addr::new(172, 17, 0, 2)),
            [0x02, 0x42, 172, 17, 0, 2]
        );
        assert_eq!(
            format_mac(&[0x02, 0x42, 0xac, 0x11, 0, 2]),
            "02:42:ac:11:00:02"
        );
        assert_eq!(
            parse_mac("02:42:AC:11:00:02"),
            Some([2, 0x42, 0xac, 0x11, 0, 2])
        );
        assert_eq!(
            parse_mac("02-42-ac-11-00-02"),
            Some([2, 0x42, 0xac, 0x11, 0, 2])
        );
        for bad in [
            "",
            "02:42:ac:11:00",
            "02:42:ac:11:00:02:03",
            "2:42:ac:11:00:02",
            "zz:42:ac:11:00:02",
            "02:42-ac:11:00:02",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
        assert!(check_name("veth1234567a0").is_ok());
        assert!(check_name("0123456789abcdef").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name("").is_err());
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward").unwrap(),
            Path::new("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            sysctl_path("net.ipv4.conf.eth0.100.route_localnet").unwrap(),
            Path::new("/proc/sys/net/ipv4/conf/eth0.100/route_localnet")
        );
        assert_eq!(
            sysctl_path("net/ipv4/conf/p0/route_localnet").unwrap(),
            Path::new("/proc/sys/net/ipv4/conf/p0/route_localnet")
        );
        assert!(sysctl_path("net.ipv4..x").is_none());
        assert!(sysctl_path("../etc/passwd").is_none());
        assert!(matches!(
            set_sysctl("net.ipv4.conf.pouch-no-such-dev.route_localnet", "1"),
            Err(LinkError::Sysctl { .. })
        ));
    }
}
