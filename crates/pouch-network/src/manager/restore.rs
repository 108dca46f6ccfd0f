//! Reconciling at daemon start: running containers get their network state back (leases,
//! port reservations, DNS server); leftovers of containers that are gone (leases, port
//! maps, `pv*` links, netns files) are removed; the firewall table is rebuilt.

use std::collections::{BTreeMap, HashSet};

use super::{internal, Live, NetworkError, NetworkManager, PortBinding, PORT_MAPS};
use crate::ipam::{all_leases, Lease, LEASES};
use crate::ports::reserve;

/// A container that is running after the daemon restarted.
#[derive(Debug, Clone)]
pub struct RestoreContainer {
    pub id: String,
    pub name: String,
    /// Its `--dns` servers.
    pub dns: Vec<std::net::IpAddr>,
}

impl NetworkManager {
    /// Restores the running containers' network state and removes everything else.
    pub async fn restore(&self, running: &[RestoreContainer]) -> Result<(), NetworkError> {
        let mut st = self.state.lock().await;
        let mut by_container: BTreeMap<String, Vec<Lease>> = BTreeMap::new();
        for l in all_leases(&self.store)? {
            by_container.entry(l.container.clone()).or_default().push(l);
        }
        let port_maps: BTreeMap<String, Vec<PortBinding>> = self
            .store
            .list::<Vec<PortBinding>>(PORT_MAPS)
            .map_err(internal)?
            .into_iter()
            .collect();
        let mut batch = pouch_store::Batch::default();
        for c in running {
            let netns = self.netns_path(&c.id);
            if !netns.exists() {
                // Nothing to give back: its leases are released with the leftovers below.
                continue;
            }
            let leases = by_container.remove(&c.id).unwrap_or_default();
            let ports = port_maps.get(&c.id).cloned().unwrap_or_default();
            if leases.is_empty() && ports.is_empty() {
                continue;
            }
            let mut reservations = Vec::new();
            for p in &ports {
                match reserve(p.proto, p.host_ip, p.host_port) {
                    Ok((_, r)) => reservations.push(r),
                    Err(e) => {
                        tracing::warn!(container = %c.id, "port {} not reserved again: {e}", p.host_port)
                    }
                }
            }
            let names = Self::dns_names(&c.id, &c.name, &[]);
            self.register(&st, &leases, &names);
            let dns = match self.start_dns(&netns, &st, &leases, &c.dns).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(container = %c.id, "{e}");
                    None
                }
            };
            st.live.insert(
                c.id.clone(),
                Live {
                    netns,
                    leases,
                    ports,
                    _reservations: reservations,
                    dns,
                    names,
                    upstreams: c.dns.clone(),
                },
            );
        }
        // What is left belongs to containers that are gone or stopped.
        for (cid, leases) in &by_container {
            for l in leases {
                if !l.host_if.is_empty() {
                    if let Ok(nl) = self.nl().await {
                        let _ = nl.delete_link(&l.host_if).await;
                    }
                }
                batch.delete(LEASES, &l.key());
            }
            tracing::info!(container = %cid, "released the network of a container that is gone");
        }
        for cid in port_maps.keys() {
            if !st.live.contains_key(cid) {
                batch.delete(PORT_MAPS, cid);
            }
        }
        if !batch.is_empty() {
            self.store.write(batch).map_err(internal)?;
        }
        let live_links: HashSet<String> = st
            .live
            .values()
            .flat_map(|l| l.leases.iter().map(|x| x.host_if.clone()))
            .collect();
        let bridges: HashSet<&str> = st
            .networks
            .values()
            .filter(|n| n.driver == "bridge")
            .map(|n| n.device.as_str())
            .collect();
        for name in self.nl().await?.link_names().await.map_err(internal)? {
            // Only our own leftovers: a `pv` veth enslaved to one of our bridges.
            let master = std::fs::read_link(format!("/sys/class/net/{name}/master"))
                .ok()
                .and_then(|p| p.file_name().map(|f| f.to_string_lossy().to_string()));
            let ours = master.is_some_and(|m| bridges.contains(m.as_str()));
            if name.starts_with("pv") && name.len() == 15 && ours && !live_links.contains(&name) {
                tracing::info!(link = %name, "removing a leftover link");
                if let Ok(nl) = self.nl().await {
                    let _ = nl.delete_link(&name).await;
                }
            }
        }
        if let Ok(dir) = std::fs::read_dir(self.cfg.exec_root.join("netns")) {
            for e in dir.flatten() {
                let id = e.file_name().to_string_lossy().to_string();
                if !st.live.contains_key(&id) {
                    let _ = crate::netns::remove(&e.path());
                }
            }
        }
        self.apply_firewall(&st).await
    }
}
