//! The network flags of `create`/`run` into `HostConfig.NetworkMode` and
//! `NetworkingConfig.EndpointsConfig`, as docker CLI 28 builds them (`parseNetworkOpts`):
//! `--network NAME` or its long form `--network name=N,alias=A,ip=I,ip6=I,mac-address=M,
//! driver-opt=K=V,link-local-ip=I` (repeatable), and the flags that apply to the first
//! network: `--network-alias`, `--link`, `--ip`, `--ip6`, `--mac-address`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use pouch_api::container::{EndpointIpamConfig, EndpointSettings};

use super::parse::{csv_fields, valid_mac};
use super::{flag_err, OptsError};

/// One `--network` value (docker's `NetworkAttachmentOpts`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkAttachment {
    pub target: String,
    pub aliases: Vec<String>,
    pub links: Vec<String>,
    pub ipv4: String,
    pub ipv6: String,
    pub mac: String,
    pub link_local_ips: Vec<String>,
    pub driver_opts: BTreeMap<String, String>,
}

/// The flags that concern networking, as given.
#[derive(Debug, Clone, Copy)]
pub struct NetworkFlags<'a> {
    pub networks: &'a [String],
    pub aliases: &'a [String],
    pub links: &'a [String],
    pub ip: Option<&'a str>,
    pub ip6: Option<&'a str>,
    pub mac: Option<&'a str>,
}

/// Docker's `NetworkMode.IsUserDefined`.
pub fn is_user_defined(mode: &str) -> bool {
    !matches!(mode, "default" | "bridge" | "host" | "none") && !mode.starts_with("container:")
}

/// Docker's test for the long syntax: some `\w+=\w+` anywhere in the value.
fn is_long_syntax(value: &str) -> bool {
    let b = value.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    (1..b.len().saturating_sub(1)).any(|i| b[i] == b'=' && word(b[i - 1]) && word(b[i + 1]))
}

/// Parses one `--network` value (docker's `NetworkOpt.Set`; the long form is
/// case-insensitive, as docker's is).
pub fn parse_network(value: &str) -> Result<NetworkAttachment, String> {
    if !is_long_syntax(value) {
        return Ok(NetworkAttachment {
            target: value.to_string(),
            ..Default::default()
        });
    }
    let mut n = NetworkAttachment::default();
    for field in csv_fields(value)? {
        let lower = field.to_lowercase();
        let (key, val) = match lower.split_once('=') {
            Some((k, v)) if !k.is_empty() => (k.trim(), v.trim()),
            _ => return Err(format!("invalid field {field}")),
        };
        match key {
            "name" => n.target = val.to_string(),
            "alias" => n.aliases.push(val.to_string()),
            "ip" => n.ipv4 = val.to_string(),
            "ip6" => n.ipv6 = val.to_string(),
            "mac-address" => n.mac = val.to_string(),
            "link-local-ip" => n.link_local_ips.push(val.to_string()),
            "driver-opt" => match val.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    n.driver_opts
                        .insert(k.trim().to_string(), v.trim().to_string());
                }
                _ => return Err("invalid key value pair format in driver options".into()),
            },
            _ => return Err(format!("invalid field key {key}")),
        }
    }
    if n.target.is_empty() {
        return Err("network name not specified".into());
    }
    Ok(n)
}

fn check_ipv4(text: &str, flag: &'static str) -> Result<(), OptsError> {
    text.parse::<Ipv4Addr>()
        .map(|_| ())
        .map_err(|_| flag_err(flag, text)(format!("{text} is not an IPv4 address")))
}

fn check_ipv6(text: &str, flag: &'static str) -> Result<(), OptsError> {
    text.parse::<Ipv6Addr>()
        .map(|_| ())
        .map_err(|_| flag_err(flag, text)(format!("{text} is not an IPv6 address")))
}

/// Docker's `applyContainerOptions`: the single-network flags go to `n` (the first network),
/// refusing a value given both ways.
fn apply_flags(n: &mut NetworkAttachment, f: &NetworkFlags) -> Result<(), OptsError> {
    let conflict = |what: &str| {
        Err(OptsError::Invalid(format!(
            "conflicting options: cannot specify both {what}"
        )))
    };
    if !n.aliases.is_empty() && !f.aliases.is_empty() {
        return conflict("--network-alias and per-network alias");
    }
    if !n.links.is_empty() && !f.links.is_empty() {
        return conflict("--link and per-network links");
    }
    if !n.ipv4.is_empty() && f.ip.is_some() {
        return conflict("--ip and per-network IPv4 address");
    }
    if !n.ipv6.is_empty() && f.ip6.is_some() {
        return conflict("--ip6 and per-network IPv6 address");
    }
    if !n.mac.is_empty() && f.mac.is_some() {
        return conflict("--mac-address and per-network MAC address");
    }
    if !f.aliases.is_empty() {
        n.aliases = f.aliases.to_vec();
    }
    // On a user-defined network `--link` is an endpoint alias; on the default bridge it is
    // a legacy link (HostConfig.Links only).
    if is_user_defined(&n.target) && !f.links.is_empty() {
        n.links = f.links.to_vec();
    }
    if let Some(ip) = f.ip {
        n.ipv4 = ip.to_string();
    }
    if let Some(ip) = f.ip6 {
        n.ipv6 = ip.to_string();
    }
    if let Some(mac) = f.mac {
        n.mac = mac.to_string();
    }
    Ok(())
}

/// Docker's `parseNetworkAttachmentOpt`.
fn endpoint(n: NetworkAttachment) -> Result<EndpointSettings, OptsError> {
    if n.target.trim().is_empty() {
        return Err(OptsError::Invalid("no name set for network".into()));
    }
    if !is_user_defined(&n.target) {
        if !n.aliases.is_empty() {
            return Err(OptsError::Invalid(
                "network-scoped aliases are only supported for user-defined networks".into(),
            ));
        }
        if !n.links.is_empty() {
            return Err(OptsError::Invalid(
                "links are only supported for user-defined networks".into(),
            ));
        }
    }
    if !n.ipv4.is_empty() {
        check_ipv4(&n.ipv4, "--ip")?;
    }
    if !n.ipv6.is_empty() {
        check_ipv6(&n.ipv6, "--ip6")?;
    }
    if !n.mac.is_empty() && !valid_mac(&n.mac) {
        return Err(OptsError::Invalid(format!(
            "{} is not a valid mac address",
            n.mac
        )));
    }
    let has_ipam = !n.ipv4.is_empty() || !n.ipv6.is_empty() || !n.link_local_ips.is_empty();
    Ok(EndpointSettings {
        ipam_config: has_ipam.then(|| EndpointIpamConfig {
            ipv4_address: n.ipv4,
            ipv6_address: n.ipv6,
            link_local_ips: (!n.link_local_ips.is_empty()).then_some(n.link_local_ips),
        }),
        links: (!n.links.is_empty()).then_some(n.links),
        aliases: (!n.aliases.is_empty()).then_some(n.aliases),
        mac_address: n.mac,
        driver_opts: (!n.driver_opts.is_empty()).then_some(n.driver_opts),
        ..Default::default()
    })
}

/// `HostConfig.NetworkMode` (the first network, `default` when none) and the endpoints.
/// With no `--network` the `default` endpoint is always sent; a single `--network` without
/// endpoint options sends none (the daemon makes it), as docker does.
pub fn network_config(
    f: &NetworkFlags,
) -> Result<(String, BTreeMap<String, EndpointSettings>), OptsError> {
    let mut endpoints = BTreeMap::new();
    let attachments = f
        .networks
        .iter()
        .map(|v| parse_network(v).map_err(flag_err("--network", v)))
        .collect::<Result<Vec<_>, _>>()?;
    if attachments.is_empty() {
        let mut n = NetworkAttachment {
            target: "default".into(),
            ..Default::default()
        };
        apply_flags(&mut n, f)?;
        endpoints.insert("default".to_string(), endpoint(n)?);
        return Ok(("default".into(), endpoints));
    }
    let mode = attachments[0].target.clone();
    let single = attachments.len() == 1;
    let (mut user_defined, mut builtin) = (false, false);
    for (i, mut n) in attachments.into_iter().enumerate() {
        if is_user_defined(&n.target) {
            user_defined = true;
        } else {
            builtin = true;
        }
        if i == 0 {
            apply_flags(&mut n, f)?;
        }
        let target = n.target.clone();
        let ep = endpoint(n)?;
        if endpoints.contains_key(&target) {
            return Err(OptsError::Invalid(format!(
                "network {target:?} is specified multiple times"
            )));
        }
        if i == 0 && single && ep == EndpointSettings::default() {
            continue;
        }
        endpoints.insert(target, ep);
    }
    if user_defined && builtin {
        return Err(OptsError::Invalid(
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
                .into(),
        ));
    }
    Ok((mode, endpoints))
}

/// `--link name[:alias]` (docker's `ValidateLink`), kept as given.
pub fn validate_link(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("empty string specified for links".into());
    }
    if text.splitn(3, ':').count() > 2 {
        return Err(format!("bad format for links: {text}"));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags<'a>(networks: &'a [String]) -> NetworkFlags<'a> {
        NetworkFlags {
            networks,
            aliases: &[],
            links: &[],
            ip: None,
            ip6: None,
            mac: None,
        }
    }

    #[test]
    fn long_and_short_network_values() {
        assert_eq!(parse_network("mynet").unwrap().target, "mynet");
        assert_eq!(
            parse_network("container:web").unwrap().target,
            "container:web"
        );
        let n = parse_network(
            "name=MyNet,alias=a1,alias=a2,ip=10.1.0.5,mac-address=02:42:0a:01:00:05,driver-opt=k=V",
        )
        .unwrap();
        assert_eq!(n.target, "mynet");
        assert_eq!(n.aliases, ["a1", "a2"]);
        assert_eq!(n.ipv4, "10.1.0.5");
        assert_eq!(n.mac, "02:42:0a:01:00:05");
        assert_eq!(n.driver_opts["k"], "v");
        assert_eq!(
            parse_network("alias=x").unwrap_err(),
            "network name not specified"
        );
        assert_eq!(
            parse_network("name=n,bogus=1").unwrap_err(),
            "invalid field key bogus"
        );
    }

    #[test]
    fn endpoints_like_docker() {
        let none: [String; 0] = [];
        let (mode, eps) = network_config(&flags(&none)).unwrap();
        assert_eq!(mode, "default");
        assert_eq!(eps["default"], EndpointSettings::default());

        let one = ["mynet".to_string()];
        let (mode, eps) = network_config(&flags(&one)).unwrap();
        assert_eq!(mode, "mynet");
        assert!(eps.is_empty());

        let aliases = ["web".to_string()];
        let f = NetworkFlags {
            aliases: &aliases,
            ip: Some("10.1.0.5"),
            mac: Some("02:42:0a:01:00:05"),
            ..flags(&one)
        };
        let (_, eps) = network_config(&f).unwrap();
        let ep = &eps["mynet"];
        assert_eq!(ep.aliases, Some(vec!["web".to_string()]));
        assert_eq!(ep.ipam_config.as_ref().unwrap().ipv4_address, "10.1.0.5");
        assert_eq!(ep.mac_address, "02:42:0a:01:00:05");

        let two = ["a".to_string(), "name=b,alias=x".to_string()];
        let (mode, eps) = network_config(&flags(&two)).unwrap();
        assert_eq!(mode, "a");
        assert_eq!(eps.len(), 2);
        assert_eq!(eps["b"].aliases, Some(vec!["x".to_string()]));
    }

    #[test]
    fn network_errors_like_docker() {
        let none: [String; 0] = [];
        let aliases = ["web".to_string()];
        let f = NetworkFlags {
            aliases: &aliases,
            ..flags(&none)
        };
        assert_eq!(
            network_config(&f).unwrap_err().to_string(),
            "network-scoped aliases are only supported for user-defined networks"
        );
        let mixed = ["host".to_string(), "mynet".to_string()];
        assert!(network_config(&flags(&mixed))
            .unwrap_err()
            .to_string()
            .starts_with("conflicting options: cannot attach both"));
        let twice = ["a".to_string(), "name=a".to_string()];
        assert_eq!(
            network_config(&flags(&twice)).unwrap_err().to_string(),
            "network \"a\" is specified multiple times"
        );
        let long = ["name=n,ip=10.0.0.2".to_string()];
        let f = NetworkFlags {
            ip: Some("10.0.0.3"),
            ..flags(&long)
        };
        assert_eq!(
            network_config(&f).unwrap_err().to_string(),
            "conflicting options: cannot specify both --ip and per-network IPv4 address"
        );
        let one = ["n".to_string()];
        let f = NetworkFlags {
            ip: Some("10.0.0"),
            ..flags(&one)
        };
        assert_eq!(
            network_config(&f).unwrap_err().to_string(),
            "invalid argument \"10.0.0\" for \"--ip\" flag: 10.0.0 is not an IPv4 address"
        );
        let f = NetworkFlags {
            mac: Some("zz"),
            ..flags(&one)
        };
        assert_eq!(
            network_config(&f).unwrap_err().to_string(),
            "zz is not a valid mac address"
        );
        assert_eq!(validate_link("db:alias").unwrap(), "db:alias");
        assert!(validate_link("a:b:c").is_err());
        assert!(validate_link("").is_err());
    }
}
