//! The names the embedded resolvers answer: per network id, lower-case name to addresses.
//! One registry is shared by every server; the manager adds a container's names when its
//! endpoint is attached and removes its address when the endpoint goes.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{PoisonError, RwLock};

/// Names per network: `network id -> lower-case name -> addresses`. Shared by all servers.
#[derive(Debug, Default)]
pub struct DnsRegistry {
    networks: RwLock<HashMap<String, HashMap<String, Vec<Ipv4Addr>>>>,
}

/// The registry's key for a name: lower case, without the trailing dot of a fully qualified
/// name (`Web.` and `web` are one name).
pub(crate) fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl DnsRegistry {
    /// Records that `name` resolves to `ip` on `network`. Adding the same pair twice keeps one;
    /// several addresses for one name (a shared alias) are all answered.
    pub fn add(&self, network: &str, name: &str, ip: Ipv4Addr) {
        let name = normalize(name);
        if name.is_empty() {
            return;
        }
        let mut nets = self
            .networks
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let ips = nets
            .entry(network.to_string())
            .or_default()
            .entry(name)
            .or_default();
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }

    /// Forgets `ip` on `network` under every name it has there.
    pub fn remove_ip(&self, network: &str, ip: Ipv4Addr) {
        let mut nets = self
            .networks
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(names) = nets.get_mut(network) else {
            return;
        };
        names.retain(|_, ips| {
            ips.retain(|a| *a != ip);
            !ips.is_empty()
        });
        if names.is_empty() {
            nets.remove(network);
        }
    }

    /// The addresses of `name` (any case, trailing dot or not) on the first of `networks`
    /// that knows it, as Docker's resolver answers from the first endpoint with a match.
    pub fn lookup(&self, networks: &[String], name: &str) -> Vec<Ipv4Addr> {
        let name = normalize(name);
        let nets = self.networks.read().unwrap_or_else(PoisonError::into_inner);
        networks
            .iter()
            .filter_map(|n| nets.get(n)?.get(&name))
            .find(|ips| !ips.is_empty())
            .cloned()
            .unwrap_or_default()
    }

    /// A name of `ip` on the first of `networks` that has one (for PTR queries); the
    /// alphabetically first when it has several, so answers are stable.
    pub fn name_of(&self, networks: &[String], ip: Ipv4Addr) -> Option<String> {
        let nets = self.networks.read().unwrap_or_else(PoisonError::into_inner);
        networks.iter().find_map(|n| {
            nets.get(n)?
                .iter()
                .filter(|(_, ips)| ips.contains(&ip))
                .map(|(name, _)| name)
                .min()
                .cloned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_are_case_and_dot_insensitive() {
        let r = DnsRegistry::default();
        let ip = Ipv4Addr::new(172, 18, 0, 2);
        r.add("n1", "Web", ip);
        r.add("n1", "web.", ip);
        assert_eq!(r.lookup(&nets(&["n1"]), "web"), vec![ip]);
        assert_eq!(r.lookup(&nets(&["n1"]), "WEB."), vec![ip]);
        assert!(r.lookup(&nets(&["n2"]), "web").is_empty());
        assert!(r.lookup(&nets(&["n1"]), "db").is_empty());
        assert!(r.lookup(&[], "web").is_empty());
    }

    #[test]
    fn first_network_with_the_name_wins() {
        let r = DnsRegistry::default();
        let a = Ipv4Addr::new(172, 18, 0, 2);
        let b = Ipv4Addr::new(172, 19, 0, 2);
        r.add("n1", "db", a);
        r.add("n2", "db", b);
        assert_eq!(r.lookup(&nets(&["n1", "n2"]), "db"), vec![a]);
        assert_eq!(r.lookup(&nets(&["n2", "n1"]), "db"), vec![b]);
        assert_eq!(r.lookup(&nets(&["n3", "n2"]), "db"), vec![b]);
    }

    #[test]
    fn aliases_share_a_name_and_remove_ip_drops_every_name() {
        let r = DnsRegistry::default();
        let a = Ipv4Addr::new(10, 0, 0, 2);
        let b = Ipv4Addr::new(10, 0, 0, 3);
        r.add("n", "one", a);
        r.add("n", "alias", a);
        r.add("n", "alias", b);
        r.add("n", "alias", b);
        assert_eq!(r.lookup(&nets(&["n"]), "alias"), vec![a, b]);
        assert_eq!(r.name_of(&nets(&["n"]), a).as_deref(), Some("alias"));
        r.remove_ip("n", a);
        assert!(r.lookup(&nets(&["n"]), "one").is_empty());
        assert_eq!(r.lookup(&nets(&["n"]), "alias"), vec![b]);
        assert_eq!(r.name_of(&nets(&["n"]), a), None);
        r.remove_ip("n", b);
        assert!(r.networks.read().unwrap().is_empty());
        r.remove_ip("missing", b);
    }
}
