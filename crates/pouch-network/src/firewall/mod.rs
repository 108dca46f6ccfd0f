//! The nftables table `ip pouch`: NAT for bridge networks (masquerade, hairpin, localhost),
//! published ports (DNAT from the host's addresses and from the host itself) and the
//! forward-chain isolation between our bridges and of internal networks.
//!
//! The whole table is a function of a [`FirewallModel`]: [`Firewall::apply`] replaces it in
//! one atomic `nft -j -f -` batch (add table, delete table, add table, chains and rules), so
//! the kernel never sees a half-written table and nothing of an older model survives. The
//! JSON comes from the `nftables` crate's types (`rules.rs`); we run `nft` ourselves so its
//! error output lands in our errors. Calls are blocking: async callers use `spawn_blocking`
//! and serialize their applies (the last apply wins).

mod rules;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ipam::Ipv4Net;

/// Where `nft` is looked for before `PATH`.
const NFT_PATHS: [&str; 4] = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/bin/nft"];

/// The longest interface name the kernel accepts (IFNAMSIZ - 1).
const MAX_IFNAME: usize = 15;

/// A transport protocol of a published port.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Proto {
    type Err = String;

    fn from_str(s: &str) -> Result<Proto, String> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            _ => Err(format!("invalid protocol {s:?}: use tcp or udp")),
        }
    }
}

/// Everything the table holds: our bridges and the published ports of running containers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallModel {
    pub bridges: Vec<BridgeRules>,
    pub ports: Vec<PortRule>,
}

/// One bridge network: its device, its subnet, whether its traffic leaving through other
/// interfaces is masqueraded, and whether it is internal (no traffic in or out).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BridgeRules {
    pub device: String,
    pub subnet: Ipv4Net,
    pub masquerade: bool,
    pub internal: bool,
}

/// One published port: `host_ip:host_port` (every local address when `host_ip` is `None` or
/// 0.0.0.0) is translated to `container_ip:container_port` on the bridge `device`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortRule {
    pub proto: Proto,
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
    pub device: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error(
        "nft not found in /usr/sbin, /sbin, /usr/bin, /bin or PATH: install the nftables package"
    )]
    NftMissing,
    #[error("cannot run {program} for table ip {table}: {source}")]
    Spawn {
        program: PathBuf,
        table: String,
        source: std::io::Error,
    },
    #[error("nft failed {action} table ip {table}: {stderr}")]
    Nft {
        action: &'static str,
        table: String,
        stderr: String,
    },
    #[error("cannot read the output of nft listing table ip {table}: {source}")]
    Output {
        table: String,
        source: serde_json::Error,
    },
    #[error("invalid device name {device:?} in the firewall model of table ip {table}: give 1 to 15 characters")]
    InvalidDevice { table: String, device: String },
}

/// Our nftables table (`ip <table>`, `pouch` in the daemon).
#[derive(Clone, Debug)]
pub struct Firewall {
    table: String,
    nft: Option<PathBuf>,
}

impl Firewall {
    /// A handle on table `ip <table>`; nothing is changed until [`Firewall::apply`].
    pub fn new(table: &str) -> Firewall {
        Firewall {
            table: table.to_string(),
            nft: find_nft(),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Replaces the whole table with the rules of `m` in one atomic batch (see `rules.rs`
    /// for the rule set). An empty model leaves the table with its four chains and no rules.
    /// Port rules on an internal bridge of the model are left out: like Docker, internal
    /// networks publish no ports.
    pub fn apply(&self, m: &FirewallModel) -> Result<(), FirewallError> {
        let devices = m.bridges.iter().map(|b| &b.device);
        for device in devices.chain(m.ports.iter().map(|p| &p.device)) {
            if device.is_empty() || device.len() > MAX_IFNAME {
                return Err(FirewallError::InvalidDevice {
                    table: self.table.clone(),
                    device: device.clone(),
                });
            }
        }
        let batch = rules::ruleset(&self.table, m);
        self.run_batch(&batch, "replacing")
    }

    /// Deletes the table; Ok when it does not exist.
    pub fn remove(&self) -> Result<(), FirewallError> {
        self.run_batch(&rules::removal(&self.table), "deleting")
    }

    /// Number of rules in our table (0 when the table does not exist).
    pub fn rule_count(&self) -> Result<usize, FirewallError> {
        let Some(json) = self.list()? else {
            return Ok(0);
        };
        let objects = json
            .get("nftables")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter(|o| o.get("rule").is_some()).count());
        Ok(objects.unwrap_or(0))
    }

    /// The table as `nft -j list table` prints it; `None` when it does not exist.
    pub fn list(&self) -> Result<Option<serde_json::Value>, FirewallError> {
        let out = match self.nft(&["-j", "list", "table", "ip", &self.table], None, "listing") {
            Ok(out) => out,
            Err(FirewallError::Nft { stderr, .. })
                if stderr.contains("No such file or directory") =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        serde_json::from_str(&out)
            .map(Some)
            .map_err(|source| FirewallError::Output {
                table: self.table.clone(),
                source,
            })
    }

    /// Base chains of other tables on the forward hook whose policy is drop (Docker's
    /// iptables `filter FORWARD`): each still votes on our traffic, so containers on our
    /// bridges cannot get out through them. As `family table chain`.
    pub fn foreign_forward_drops(&self) -> Result<Vec<String>, FirewallError> {
        let out = self.nft(&["-j", "list", "chains"], None, "listing chains")?;
        let v: serde_json::Value =
            serde_json::from_str(&out).map_err(|source| FirewallError::Output {
                table: self.table.clone(),
                source,
            })?;
        Ok(v["nftables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o.get("chain"))
            .filter(|c| c["hook"] == "forward" && c["policy"] == "drop")
            .filter(|c| !(c["family"] == "ip" && c["table"] == self.table.as_str()))
            .map(|c| {
                format!(
                    "{} {} {}",
                    c["family"].as_str().unwrap_or("?"),
                    c["table"].as_str().unwrap_or("?"),
                    c["name"].as_str().unwrap_or("?")
                )
            })
            .collect())
    }

    fn run_batch(
        &self,
        batch: &nftables::schema::Nftables<'_>,
        action: &'static str,
    ) -> Result<(), FirewallError> {
        let payload = serde_json::to_string(batch).map_err(|source| FirewallError::Output {
            table: self.table.clone(),
            source,
        })?;
        self.nft(&["-j", "-f", "-"], Some(&payload), action)?;
        Ok(())
    }

    /// Runs `nft args`, feeding `stdin`; returns its stdout, or its stderr as the error.
    fn nft(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        action: &'static str,
    ) -> Result<String, FirewallError> {
        let program = self.nft.as_deref().ok_or(FirewallError::NftMissing)?;
        let spawn_err = |source| FirewallError::Spawn {
            program: program.to_path_buf(),
            table: self.table.clone(),
            source,
        };
        let mut child = Command::new(program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        // A failed write (nft exited early) is reported after nft's own error, if it has one.
        let written = match (stdin, child.stdin.take()) {
            (Some(input), Some(mut pipe)) => pipe.write_all(input.as_bytes()),
            _ => Ok(()),
        };
        let out = child.wait_with_output().map_err(spawn_err)?;
        if out.status.success() {
            written.map_err(spawn_err)?;
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stderr = stderr.trim();
            return Err(FirewallError::Nft {
                action,
                table: self.table.clone(),
                stderr: if stderr.is_empty() {
                    format!("nft exited with {}", out.status)
                } else {
                    stderr.to_string()
                },
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// The `nft` binary: the usual sbin/bin places first, then `PATH`.
fn find_nft() -> Option<PathBuf> {
    let fixed = NFT_PATHS.iter().map(PathBuf::from);
    let path = std::env::var_os("PATH").unwrap_or_default();
    let searched = std::env::split_paths(&path).map(|d| d.join("nft"));
    fixed.chain(searched).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
