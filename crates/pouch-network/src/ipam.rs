//! Address management: IPv4 subnets (`Ipv4Net`), the pools user networks get their subnets
//! from, and the leases of addresses to containers, kept in the metadata store so an address
//! is never handed out twice, also across daemon restarts.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An IPv4 address with a prefix length: a subnet (`172.18.0.0/16`) or an interface
/// address (`172.18.0.2/16`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Ipv4Net {
        Ipv4Net { addr, prefix }
    }

    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    /// The broadcast address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    /// This net with host bits cleared.
    pub fn trunc(&self) -> Ipv4Net {
        Ipv4Net::new(self.network(), self.prefix)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }

    /// `true` when the two subnets share an address.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.network()) || other.contains(self.network())
    }

    /// The first usable host address (network + 1).
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network()).wrapping_add(1))
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = String;

    fn from_str(s: &str) -> Result<Ipv4Net, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("invalid CIDR address {s}: give it as a.b.c.d/n"))?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("invalid CIDR address {s}: {a} is not an IPv4 address"))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("invalid CIDR address {s}: prefix {p} is not 0..32"))?;
        Ok(Ipv4Net { addr, prefix })
    }
}

/// Leases, keyed `<network id>/<ip>`.
pub const LEASES: &str = "ip_leases";

/// Why an address or a subnet could not be had.
#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    #[error("invalid address {ip} for network {network}: it is not in the subnet {subnet} (choose an address inside it)")]
    OutOfSubnet {
        ip: Ipv4Addr,
        network: String,
        subnet: Ipv4Net,
    },
    #[error("invalid address {ip} for network {network}: it is the subnet's {what} address")]
    Reserved {
        ip: Ipv4Addr,
        network: String,
        what: &'static str,
    },
    #[error("address {ip} is already in use on network {network} by container {container}")]
    InUse {
        ip: Ipv4Addr,
        network: String,
        container: String,
    },
    #[error("no free address left on network {network} ({range}): remove containers or use a bigger subnet")]
    Exhausted { network: String, range: Ipv4Net },
    #[error("no free subnet left in the pools (172.18-31.0.0/16, 192.168.x.0/20): give --subnet")]
    NoSubnet,
    #[error(transparent)]
    Store(#[from] pouch_store::StoreError),
}

/// Where a network hands out addresses: its subnet, the part of it leases come from
/// (`--ip-range`, `--fixed-cidr`) and the gateway, which is never leased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub subnet: Ipv4Net,
    pub range: Ipv4Net,
    pub gateway: Ipv4Addr,
}

impl Pool {
    /// Why `ip` can never be leased in this pool, if it cannot.
    pub fn check(&self, network: &str, ip: Ipv4Addr) -> Result<(), IpamError> {
        if !self.subnet.contains(ip) {
            return Err(IpamError::OutOfSubnet {
                ip,
                network: network.to_string(),
                subnet: self.subnet.trunc(),
            });
        }
        let what = if ip == self.subnet.network() {
            "network"
        } else if ip == self.subnet.broadcast() && self.subnet.prefix < 31 {
            "broadcast"
        } else if ip == self.gateway {
            "gateway"
        } else {
            return Ok(());
        };
        Err(IpamError::Reserved {
            ip,
            network: network.to_string(),
            what,
        })
    }
}

/// Picks the first pool subnet that overlaps none of `taken` (our networks and the host's
/// routes): 172.18.0.0/16 .. 172.31.0.0/16, then 192.168.0.0/20 .. 192.168.240.0/20.
pub fn pick_subnet(taken: &[Ipv4Net]) -> Result<Ipv4Net, IpamError> {
    let b16 = (18..=31).map(|b| Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16));
    let c20 = (0..16).map(|i| Ipv4Net::new(Ipv4Addr::new(192, 168, i * 16, 0), 20));
    b16.chain(c20)
        .find(|c| !taken.iter().any(|t| t.overlaps(c)))
        .ok_or(IpamError::NoSubnet)
}

/// The host's IPv4 routes (from /proc/net/route), default route excluded.
pub fn host_routes() -> Vec<Ipv4Net> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dst = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            // The file prints the address as a host-order (little-endian) u32.
            let dst = Ipv4Addr::from(dst.to_le_bytes());
            let prefix = mask.count_ones() as u8;
            (prefix > 0).then_some(Ipv4Net::new(dst, prefix))
        })
        .collect()
}

/// One leased address and the endpoint that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub network_id: String,
    pub ip: Ipv4Addr,
    pub container: String,
    /// The interface in the container (`eth0`).
    pub ifname: String,
    /// The host end (a veth), empty for macvlan.
    pub host_if: String,
    pub mac: String,
    pub aliases: Vec<String>,
    pub endpoint_id: String,
}

impl Lease {
    pub fn key(&self) -> String {
        lease_key(&self.network_id, self.ip)
    }
}

pub fn lease_key(network_id: &str, ip: Ipv4Addr) -> String {
    format!("{network_id}/{ip}")
}

/// Every lease in the store.
pub fn all_leases(store: &pouch_store::Store) -> Result<Vec<Lease>, IpamError> {
    Ok(store
        .list::<Lease>(LEASES)?
        .into_iter()
        .map(|(_, l)| l)
        .collect())
}

/// The address to lease in `pool`: `want` when it is free and allowed, else the lowest
/// free one. `leased` holds the network's current leases (ip → container).
pub fn choose(
    network: &str,
    pool: &Pool,
    leased: &std::collections::BTreeMap<Ipv4Addr, String>,
    want: Option<Ipv4Addr>,
) -> Result<Ipv4Addr, IpamError> {
    if let Some(ip) = want {
        pool.check(network, ip)?;
        if let Some(c) = leased.get(&ip) {
            return Err(IpamError::InUse {
                ip,
                network: network.to_string(),
                container: c.clone(),
            });
        }
        return Ok(ip);
    }
    let start = u32::from(pool.range.network());
    let end = u32::from(pool.range.broadcast());
    (start..=end)
        .map(Ipv4Addr::from)
        .find(|ip| pool.check(network, *ip).is_ok() && !leased.contains_key(ip))
        .ok_or(IpamError::Exhausted {
            network: network.to_string(),
            range: pool.range.trunc(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn pool() -> Pool {
        Pool {
            subnet: "192.168.5.1/24".parse().unwrap(),
            range: "192.168.5.0/24".parse().unwrap(),
            gateway: Ipv4Addr::new(192, 168, 5, 1),
        }
    }

    #[test]
    fn net_math() {
        let n: Ipv4Net = "172.18.3.4/16".parse().unwrap();
        assert_eq!(n.network(), Ipv4Addr::new(172, 18, 0, 0));
        assert_eq!(n.broadcast(), Ipv4Addr::new(172, 18, 255, 255));
        assert!(n.contains(Ipv4Addr::new(172, 18, 200, 1)));
        assert!(!n.contains(Ipv4Addr::new(172, 19, 0, 1)));
        assert!(n.overlaps(&"172.18.5.0/24".parse().unwrap()));
        assert!(!n.overlaps(&"172.19.0.0/16".parse().unwrap()));
        assert_eq!(n.to_string(), "172.18.3.4/16");
        assert!("1.2.3.4".parse::<Ipv4Net>().is_err());
        assert!("1.2.3.4/33".parse::<Ipv4Net>().is_err());
    }

    #[test]
    fn choose_skips_gateway_and_leased() {
        let mut leased = BTreeMap::new();
        let p = pool();
        assert_eq!(
            choose("bridge", &p, &leased, None).unwrap(),
            Ipv4Addr::new(192, 168, 5, 2)
        );
        leased.insert(Ipv4Addr::new(192, 168, 5, 2), "c1".to_string());
        assert_eq!(
            choose("bridge", &p, &leased, None).unwrap(),
            Ipv4Addr::new(192, 168, 5, 3)
        );
        let e = choose("bridge", &p, &leased, Some(Ipv4Addr::new(192, 168, 5, 2))).unwrap_err();
        assert!(e.to_string().contains("in use"), "{e}");
        let e = choose("bridge", &p, &leased, Some(Ipv4Addr::new(10, 0, 0, 2))).unwrap_err();
        assert!(
            e.to_string().contains("not in the subnet 192.168.5.0/24"),
            "{e}"
        );
        let e = choose("bridge", &p, &leased, Some(Ipv4Addr::new(192, 168, 5, 1))).unwrap_err();
        assert!(e.to_string().contains("gateway"), "{e}");
    }

    #[test]
    fn exhausted_small_range() {
        let p = Pool {
            subnet: "10.9.0.0/24".parse().unwrap(),
            range: "10.9.0.0/30".parse().unwrap(),
            gateway: Ipv4Addr::new(10, 9, 0, 1),
        };
        let mut leased = BTreeMap::new();
        assert_eq!(
            choose("n", &p, &leased, None).unwrap(),
            Ipv4Addr::new(10, 9, 0, 2)
        );
        leased.insert(Ipv4Addr::new(10, 9, 0, 2), "a".into());
        assert_eq!(
            choose("n", &p, &leased, None).unwrap(),
            Ipv4Addr::new(10, 9, 0, 3)
        );
        leased.insert(Ipv4Addr::new(10, 9, 0, 3), "b".into());
        assert!(matches!(
            choose("n", &p, &leased, None),
            Err(IpamError::Exhausted { .. })
        ));
    }

    #[test]
    fn pick_subnet_skips_taken() {
        let taken: Vec<Ipv4Net> = vec![
            "172.18.0.0/16".parse().unwrap(),
            "172.19.1.0/24".parse().unwrap(),
        ];
        assert_eq!(
            pick_subnet(&taken).unwrap(),
            "172.20.0.0/16".parse().unwrap()
        );
    }

    #[test]
    fn host_routes_parse() {
        // Every route of the host is a valid net, and the loopback-free host has at least
        // the route of its own interface.
        let routes = host_routes();
        for r in &routes {
            assert!(r.prefix > 0 && r.prefix <= 32);
            assert_eq!(r.addr, r.network(), "{r} is not a network address");
        }
    }
}
