//! `-p/--publish` and `--expose` values (go-connections' `nat.ParsePortSpec` and friends):
//! `[ip:][hostPort:]containerPort[/proto]` with ranges, into `80/tcp` -> binding.

use std::net::IpAddr;

use pouch_api::container::PortBinding;

/// One `containerPort/proto -> binding` of a `-p` spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// `80/tcp`.
    pub port: String,
    pub binding: PortBinding,
}

/// go-connections' `ParsePortRange`: `80` or `8000-8010`.
fn parse_port_range(text: &str) -> Result<(u16, u16), ()> {
    if text.is_empty() {
        return Err(());
    }
    match text.split_once('-') {
        None => {
            let p = text.parse::<u16>().map_err(|_| ())?;
            Ok((p, p))
        }
        Some((a, b)) => {
            let start = a.parse::<u16>().map_err(|_| ())?;
            let end = b.parse::<u16>().map_err(|_| ())?;
            if end < start {
                return Err(());
            }
            Ok((start, end))
        }
    }
}

/// go-connections' `SplitProtoPort`: `80/udp` -> (`udp`, `80`), `80` -> (`tcp`, `80`).
fn split_proto_port(raw: &str) -> (String, String) {
    let parts: Vec<&str> = raw.split('/').collect();
    if raw.is_empty() || parts[0].is_empty() {
        return (String::new(), String::new());
    }
    if parts.len() == 1 || parts[1].is_empty() {
        return ("tcp".into(), parts[0].to_string());
    }
    (parts[1].to_string(), parts[0].to_string())
}

/// `-p [ip:][hostPort:]containerPort[/proto]` with ranges (go-connections' `ParsePortSpec`).
pub fn parse_port_spec(raw: &str) -> Result<Vec<PortMapping>, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let (mut ip, host_port, container) = match n {
        1 => (String::new(), "", parts[0]),
        2 => (String::new(), parts[0], parts[1]),
        3 => (parts[0].to_string(), parts[1], parts[2]),
        _ => (parts[..n - 2].join(":"), parts[n - 2], parts[n - 1]),
    };
    let (proto, container) = split_proto_port(container);
    if ip.starts_with('[') {
        match ip.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            Some(inner) => ip = inner.to_string(),
            None => return Err(format!("invalid IP address {ip}")),
        }
    }
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    if container.is_empty() {
        return Err(format!("no port specified: {raw}<empty>"));
    }
    let (start, end) =
        parse_port_range(&container).map_err(|_| format!("invalid containerPort: {container}"))?;
    let (host_start, host_end) = if host_port.is_empty() {
        (0, 0)
    } else {
        parse_port_range(host_port).map_err(|_| format!("invalid hostPort: {host_port}"))?
    };
    if !host_port.is_empty() && (end - start) != (host_end - host_start) && end != start {
        return Err(format!(
            "invalid ranges specified for container and host Ports: {container} and {host_port}"
        ));
    }
    let proto = proto.to_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let mut out = Vec::new();
    for i in 0..=(end - start) {
        let mut hp = String::new();
        if !host_port.is_empty() {
            hp = (u32::from(host_start) + u32::from(i)).to_string();
        }
        if start == end && host_start != host_end {
            hp = format!("{hp}-{host_end}");
        }
        out.push(PortMapping {
            port: format!("{}/{proto}", start + i),
            binding: PortBinding {
                host_ip: ip.clone(),
                host_port: hp,
            },
        });
    }
    Ok(out)
}

/// `-p` in the long form `target=80,published=8080,protocol=udp` to the short one
/// (`8080:80/udp`), as docker's `convertToStandardNotation`; other values unchanged.
pub fn standard_notation(raw: &str) -> Result<String, String> {
    if !raw.contains('=') {
        return Ok(raw.to_string());
    }
    let mut params = std::collections::BTreeMap::from([("protocol", "tcp")]);
    for param in raw.split(',') {
        match param.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                params.insert(k, v);
            }
            _ => {
                return Err(format!(
                    "invalid publish opts format (should be name=value but got '{param}')"
                ))
            }
        }
    }
    let get = |k: &str| params.get(k).copied().unwrap_or_default();
    Ok(format!(
        "{}:{}/{}",
        get("published"),
        get("target"),
        get("protocol")
    ))
}

/// `--expose 80[-90][/proto]`: the ports it names (`80/tcp`, ...).
pub fn parse_expose(raw: &str) -> Result<Vec<String>, String> {
    if raw.contains(':') {
        return Err(format!("invalid port format for --expose: {raw}"));
    }
    let (proto, port) = split_proto_port(raw);
    let (start, end) =
        parse_port_range(&port).map_err(|_| format!("invalid range format for --expose: {raw}"))?;
    let proto = proto.to_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(port: &str, ip: &str, host: &str) -> PortMapping {
        PortMapping {
            port: port.into(),
            binding: PortBinding {
                host_ip: ip.into(),
                host_port: host.into(),
            },
        }
    }

    #[test]
    fn publish_specs() {
        assert_eq!(parse_port_spec("80").unwrap(), [mapping("80/tcp", "", "")]);
        assert_eq!(
            parse_port_spec("8080:80").unwrap(),
            [mapping("80/tcp", "", "8080")]
        );
        assert_eq!(
            parse_port_spec("127.0.0.1:8080:80/udp").unwrap(),
            [mapping("80/udp", "127.0.0.1", "8080")]
        );
        assert_eq!(
            parse_port_spec("127.0.0.1::80").unwrap(),
            [mapping("80/tcp", "127.0.0.1", "")]
        );
        assert_eq!(
            parse_port_spec("[::1]:8080:80").unwrap(),
            [mapping("80/tcp", "::1", "8080")]
        );
        assert_eq!(
            parse_port_spec("8000-8001:80-81").unwrap(),
            [mapping("80/tcp", "", "8000"), mapping("81/tcp", "", "8001")]
        );
        assert_eq!(
            parse_port_spec("8000-8010:80").unwrap(),
            [mapping("80/tcp", "", "8000-8010")]
        );
        assert_eq!(
            parse_port_spec("8000-8002:80-81").unwrap_err(),
            "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"
        );
        assert_eq!(
            parse_port_spec("abc").unwrap_err(),
            "invalid containerPort: abc"
        );
        assert_eq!(parse_port_spec("x:80").unwrap_err(), "invalid hostPort: x");
        assert_eq!(
            parse_port_spec("80/icmp").unwrap_err(),
            "invalid proto: icmp"
        );
        assert_eq!(
            parse_port_spec("1.2.3:80:80").unwrap_err(),
            "invalid IP address: 1.2.3"
        );
        assert_eq!(
            parse_port_spec("8080:").unwrap_err(),
            "no port specified: 8080:<empty>"
        );
        assert_eq!(
            standard_notation("target=80,published=8080").unwrap(),
            "8080:80/tcp"
        );
        assert_eq!(
            standard_notation("published=53,target=53,protocol=udp,mode=host").unwrap(),
            "53:53/udp"
        );
        assert_eq!(standard_notation("8080:80").unwrap(), "8080:80");
        assert!(standard_notation("target=80,x").is_err());
        assert_eq!(parse_expose("80").unwrap(), ["80/tcp"]);
        assert_eq!(
            parse_expose("7000-7001/udp").unwrap(),
            ["7000/udp", "7001/udp"]
        );
        assert!(parse_expose("1:2").is_err());
    }
}
