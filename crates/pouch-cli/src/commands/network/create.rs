//! `pouch network create [OPTIONS] NETWORK`: builds docker's create body (the IPAM pools from
//! `--subnet`, `--ip-range`, `--gateway` and `--aux-address`, checked and paired as docker's
//! `createIPAMConfig` does) and prints the new network's id.

use std::net::IpAddr;

use pouch_api::network::{Ipam, IpamConfig, NetworkCreateRequest};
use pouch_client::Client;

use crate::commands::container_opts::kv::{kv_map, validate_label};

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Driver to manage the Network (bridge, macvlan)
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Set driver specific options (e.g. com.docker.network.bridge.name=br0, parent=eth0)
    #[arg(short, long)]
    pub opt: Vec<String>,
    /// Set metadata on a network
    #[arg(long)]
    pub label: Vec<String>,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Enable manual container attachment
    #[arg(long)]
    pub attachable: bool,
    /// Enable or disable IPv6 address assignment
    #[arg(
        long,
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true,
        action = clap::ArgAction::Set
    )]
    pub ipv6: Option<bool>,
    /// IP Address Management Driver
    #[arg(long, default_value = "default")]
    pub ipam_driver: String,
    /// Set IPAM driver specific options
    #[arg(long)]
    pub ipam_opt: Vec<String>,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long, value_delimiter = ',')]
    pub subnet: Vec<String>,
    /// Allocate container ip from a sub-range
    #[arg(long, value_delimiter = ',')]
    pub ip_range: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long, value_delimiter = ',')]
    pub gateway: Vec<String>,
    /// Auxiliary IPv4 or IPv6 addresses used by Network driver (NAME=IP)
    #[arg(long)]
    pub aux_address: Vec<String>,
    /// The network's name
    pub name: String,
}

/// An `a.b.c.d/n` (or IPv6) network: its address and prefix length.
fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (ip, prefix) = text.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some((ip, prefix))
}

fn bits(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

/// Docker's `subnetMatches`: whether `data` (an address or a CIDR, whose address counts) lies
/// in `subnet`. A bad subnet is an error; bad data matches nothing.
fn subnet_matches(subnet: &str, data: &str) -> Result<bool, String> {
    let (net, prefix) = parse_cidr(subnet)
        .ok_or_else(|| format!("invalid subnet: invalid CIDR address: {subnet}"))?;
    let ip = if data.contains('/') {
        parse_cidr(data)
            .map(|(ip, _)| ip)
            .ok_or_else(|| format!("invalid CIDR address: {data}"))?
    } else {
        match data.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => return Ok(false),
        }
    };
    let ((n, width), (a, other)) = (bits(net), bits(ip));
    if width != other {
        return Ok(false);
    }
    let shift = width - u32::from(prefix);
    let mask = if shift >= 128 {
        0
    } else {
        (u128::MAX << shift) & if width == 32 { 0xffff_ffff } else { u128::MAX }
    };
    Ok(n & mask == a & mask)
}

/// Docker's `createIPAMConfig`: one pool per subnet (not overlapping), each range, gateway and
/// auxiliary address placed in the subnet that holds it.
pub fn ipam_config(args: &CreateArgs) -> Result<Ipam, String> {
    if args.subnet.len() < args.ip_range.len() || args.subnet.len() < args.gateway.len() {
        return Err("every ip-range or gateway must have a corresponding subnet".into());
    }
    let mut pools: Vec<IpamConfig> = Vec::new();
    for s in &args.subnet {
        if parse_cidr(s).is_none() {
            return Err(format!("invalid subnet: invalid CIDR address: {s}"));
        }
        for p in &pools {
            if subnet_matches(s, &p.subnet)? || subnet_matches(&p.subnet, s)? {
                return Err("multiple overlapping subnet configuration is not supported".into());
            }
        }
        pools.push(IpamConfig {
            subnet: s.clone(),
            ..Default::default()
        });
    }
    for r in &args.ip_range {
        let mut matched = false;
        for p in pools.iter_mut() {
            if !subnet_matches(&p.subnet, r)? {
                continue;
            }
            if !p.ip_range.is_empty() {
                return Err(format!(
                    "cannot configure multiple ranges ({r}, {}) on the same subnet ({})",
                    p.ip_range, p.subnet
                ));
            }
            p.ip_range = r.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for range {r}"));
        }
    }
    for g in &args.gateway {
        let mut matched = false;
        for p in pools.iter_mut() {
            if !subnet_matches(&p.subnet, g)? {
                continue;
            }
            if !p.gateway.is_empty() {
                return Err(format!(
                    "cannot configure multiple gateways ({g}, {}) for the same subnet ({})",
                    p.gateway, p.subnet
                ));
            }
            p.gateway = g.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for gateway {g}"));
        }
    }
    for (key, addr) in kv_map(&args.aux_address) {
        let mut matched = false;
        for p in pools.iter_mut() {
            if subnet_matches(&p.subnet, &addr)? {
                p.aux_addresses.insert(key.clone(), addr.clone());
                matched = true;
            }
        }
        if !matched {
            return Err(format!("no matching subnet for aux-address {addr}"));
        }
    }
    Ok(Ipam {
        driver: args.ipam_driver.clone(),
        options: Some(kv_map(&args.ipam_opt)),
        config: pools,
    })
}

/// The create body docker CLI 28 sends for these flags.
pub fn request(args: &CreateArgs) -> anyhow::Result<NetworkCreateRequest> {
    let ipam = ipam_config(args).map_err(anyhow::Error::msg)?;
    for l in &args.label {
        validate_label(l).map_err(|reason| {
            anyhow::anyhow!("invalid argument {l:?} for \"--label\" flag: {reason}")
        })?;
    }
    Ok(NetworkCreateRequest {
        name: args.name.clone(),
        check_duplicate: None,
        driver: args.driver.clone(),
        scope: String::new(),
        enable_ipv6: args.ipv6.unwrap_or(false),
        ipam: Some(ipam),
        internal: args.internal,
        attachable: args.attachable,
        ingress: false,
        config_only: false,
        config_from: None,
        options: kv_map(&args.opt),
        labels: kv_map(&args.label),
    })
}

pub async fn run(client: &Client, args: CreateArgs) -> anyhow::Result<()> {
    let req = request(&args)?;
    let resp = client.network_create(&req).await?;
    if !resp.warning.is_empty() {
        eprintln!("{}", resp.warning);
    }
    println!("{}", resp.id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::parse_args;

    fn args(argv: &[&str]) -> CreateArgs {
        parse_args("create", argv).unwrap()
    }

    #[test]
    fn body_like_docker() {
        let req = request(&args(&[
            "--subnet",
            "10.9.0.0/24",
            "--gateway",
            "10.9.0.1",
            "--ip-range",
            "10.9.0.128/25",
            "-o",
            "com.docker.network.bridge.name=br9",
            "--label",
            "a=b",
            "--internal",
            "mynet",
        ]))
        .unwrap();
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "Name": "mynet", "Driver": "bridge", "Scope": "", "EnableIPv6": false,
                "IPAM": {"Driver": "default", "Options": {}, "Config": [
                    {"Subnet": "10.9.0.0/24", "IPRange": "10.9.0.128/25", "Gateway": "10.9.0.1"}
                ]},
                "Internal": true, "Attachable": false, "Ingress": false, "ConfigOnly": false,
                "ConfigFrom": null, "Options": {"com.docker.network.bridge.name": "br9"},
                "Labels": {"a": "b"}
            })
        );
        let req = request(&args(&[
            "-d",
            "macvlan",
            "-o",
            "parent=eth0",
            "--ipv6",
            "n",
        ]))
        .unwrap();
        assert_eq!(req.driver, "macvlan");
        assert!(req.enable_ipv6);
        assert!(req.ipam.unwrap().config.is_empty());
        assert!(!request(&args(&["--ipv6=false", "n"])).unwrap().enable_ipv6);
    }

    #[test]
    fn pools_pair_like_docker() {
        let ipam = ipam_config(&args(&[
            "--subnet",
            "10.1.0.0/16,10.2.0.0/16",
            "--gateway",
            "10.2.0.254",
            "--gateway",
            "10.1.0.1",
            "--aux-address",
            "host=10.1.0.5",
            "n",
        ]))
        .unwrap();
        assert_eq!(ipam.config[0].gateway, "10.1.0.1");
        assert_eq!(ipam.config[0].aux_addresses["host"], "10.1.0.5");
        assert_eq!(ipam.config[1].gateway, "10.2.0.254");
        for (argv, want) in [
            (
                &["--gateway", "10.0.0.1", "n"][..],
                "every ip-range or gateway must have a corresponding subnet",
            ),
            (
                &["--subnet", "10.0.0.0/8", "--subnet", "10.1.0.0/16", "n"][..],
                "multiple overlapping subnet configuration is not supported",
            ),
            (
                &["--subnet", "10.0.0.0/24", "--gateway", "10.0.1.1", "n"][..],
                "no matching subnet for gateway 10.0.1.1",
            ),
            (
                &["--subnet", "10.0.0.0/24", "--ip-range", "10.0.1.0/25", "n"][..],
                "no matching subnet for range 10.0.1.0/25",
            ),
            (
                &["--subnet", "10.0.0/24", "n"][..],
                "invalid subnet: invalid CIDR address: 10.0.0/24",
            ),
        ] {
            assert_eq!(ipam_config(&args(argv)).unwrap_err(), want, "{argv:?}");
        }
    }

    #[test]
    fn subnet_matching() {
        assert!(subnet_matches("10.0.0.0/8", "10.255.0.1").unwrap());
        assert!(!subnet_matches("10.0.0.0/8", "11.0.0.1").unwrap());
        assert!(subnet_matches("0.0.0.0/0", "1.2.3.4").unwrap());
        assert!(subnet_matches("172.18.0.0/16", "172.18.5.0/24").unwrap());
        assert!(!subnet_matches("172.18.0.0/16", "fd00::1").unwrap());
        assert!(subnet_matches("fd00::/64", "fd00::1").unwrap());
        assert!(!subnet_matches("fd00::/64", "fd01::1").unwrap());
        assert!(!subnet_matches("10.0.0.0/8", "bogus").unwrap());
        assert!(subnet_matches("10.0.0.0/33", "10.0.0.1").is_err());
    }
}
