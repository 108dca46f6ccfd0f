//! `pouch network connect [--ip IP] [--alias A] NETWORK CONTAINER` and `pouch network
//! disconnect [-f] NETWORK CONTAINER`, with the bodies docker CLI 28 sends.

use std::collections::BTreeMap;

use pouch_api::container::{EndpointIpamConfig, EndpointSettings};
use pouch_api::network::{NetworkConnectRequest, NetworkDisconnectRequest};
use pouch_client::Client;

#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long)]
    pub ip6: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long)]
    pub alias: Vec<String>,
    /// Add link to another container
    #[arg(long)]
    pub link: Vec<String>,
    /// Add a link-local address for the container
    #[arg(long)]
    pub link_local_ip: Vec<String>,
    /// driver options for the network
    #[arg(long)]
    pub driver_opt: Vec<String>,
    /// The network
    pub network: String,
    /// The container
    pub container: String,
}

#[derive(Debug, clap::Args)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    pub force: bool,
    /// The network
    pub network: String,
    /// The container
    pub container: String,
}

/// The connect body: `IPAMConfig` always present, `Aliases` and `DriverOpts` as given (empty,
/// not null), `Links` null when none, as docker sends them.
pub fn connect_request(args: &ConnectArgs) -> anyhow::Result<NetworkConnectRequest> {
    let mut driver_opts = BTreeMap::new();
    for opt in &args.driver_opt {
        match opt.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                driver_opts.insert(k.trim().to_string(), v.trim().to_string());
            }
            _ => anyhow::bail!("invalid key/value pair format in driver options"),
        }
    }
    for (ip, v6, flag) in [(&args.ip, false, "--ip"), (&args.ip6, true, "--ip6")] {
        if let Some(ip) = ip {
            let ok = match ip.parse::<std::net::IpAddr>() {
                Ok(addr) => addr.is_ipv6() == v6,
                Err(_) => false,
            };
            if !ok {
                let family = if v6 { "IPv6" } else { "IPv4" };
                anyhow::bail!(
                    "invalid argument {ip:?} for \"{flag}\" flag: {ip} is not an {family} address"
                );
            }
        }
    }
    Ok(NetworkConnectRequest {
        container: args.container.clone(),
        endpoint_config: Some(EndpointSettings {
            ipam_config: Some(EndpointIpamConfig {
                ipv4_address: args.ip.clone().unwrap_or_default(),
                ipv6_address: args.ip6.clone().unwrap_or_default(),
                link_local_ips: (!args.link_local_ip.is_empty())
                    .then(|| args.link_local_ip.clone()),
            }),
            links: (!args.link.is_empty()).then(|| args.link.clone()),
            aliases: Some(args.alias.clone()),
            driver_opts: Some(driver_opts),
            ..Default::default()
        }),
    })
}

pub async fn run_connect(client: &Client, args: ConnectArgs) -> anyhow::Result<()> {
    let req = connect_request(&args)?;
    client.network_connect(&args.network, &req).await?;
    Ok(())
}

pub async fn run_disconnect(client: &Client, args: DisconnectArgs) -> anyhow::Result<()> {
    let req = NetworkDisconnectRequest {
        container: args.container.clone(),
        force: args.force,
    };
    client.network_disconnect(&args.network, &req).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::parse_args;

    fn request(argv: &[&str]) -> anyhow::Result<NetworkConnectRequest> {
        connect_request(&parse_args("connect", argv).unwrap())
    }

    #[test]
    fn connect_body_like_docker() {
        let req = request(&["--ip", "10.9.0.5", "--alias", "x", "mynet", "web"]).unwrap();
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["Container"], "web");
        let ep = &v["EndpointConfig"];
        assert_eq!(
            ep["IPAMConfig"],
            serde_json::json!({"IPv4Address": "10.9.0.5"})
        );
        assert_eq!(ep["Aliases"], serde_json::json!(["x"]));
        assert_eq!(ep["Links"], serde_json::Value::Null);
        assert_eq!(ep["DriverOpts"], serde_json::json!({}));
        let req = request(&["mynet", "web"]).unwrap();
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["EndpointConfig"]["IPAMConfig"], serde_json::json!({}));
        assert_eq!(v["EndpointConfig"]["Aliases"], serde_json::json!([]));
        assert!(request(&["--ip", "fd00::1", "n", "c"]).is_err());
        assert!(request(&["--ip6", "10.0.0.1", "n", "c"]).is_err());
        assert!(request(&["--driver-opt", "novalue", "n", "c"]).is_err());
    }
}
