//! `pouch port CONTAINER [PRIVATE_PORT[/PROTO]]`: the published ports of a container, read
//! from inspect's `NetworkSettings.Ports` (`80/tcp -> 0.0.0.0:8080`), naturally sorted.

use pouch_api::container::PortMap;
use pouch_client::Client;

use super::format::{join_host_port, natural_cmp};
use super::Reported;

#[derive(Debug, clap::Args)]
pub struct PortArgs {
    /// The container
    pub container: String,
    /// Only this private port (PORT or PORT/PROTO, tcp by default)
    pub port: Option<String>,
}

/// Why a port query failed, in docker's words.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PortError {
    #[error("Error: invalid port ({0}): give a number from 0 to 65535, optionally with /tcp, /udp or /sctp")]
    Invalid(String),
    #[error("Error: No public port '{port}' published for {container}")]
    NotPublished { port: String, container: String },
}

/// The output lines for `ports`, sorted as docker sorts them.
pub fn lines(
    ports: &PortMap,
    container: &str,
    wanted: Option<&str>,
) -> Result<Vec<String>, PortError> {
    let mut out = Vec::new();
    match wanted {
        Some(spec) => {
            let (port, proto) = match spec.split_once('/') {
                Some((p, proto)) => (p, proto),
                None => (spec, "tcp"),
            };
            let proto = if proto.is_empty() { "tcp" } else { proto };
            if port.parse::<u16>().is_err() {
                return Err(PortError::Invalid(port.to_string()));
            }
            // docker: an exposed port without bindings is "not published" too
            let Some(Some(bindings)) = ports
                .get(&format!("{port}/{proto}"))
                .filter(|b| b.as_ref().is_some_and(|b| !b.is_empty()))
            else {
                return Err(PortError::NotPublished {
                    port: spec.to_string(),
                    container: container.to_string(),
                });
            };
            for b in bindings {
                out.push(join_host_port(&b.host_ip, &b.host_port));
            }
        }
        None => {
            for (private, bindings) in ports {
                for b in bindings.iter().flatten() {
                    out.push(format!(
                        "{private} -> {}",
                        join_host_port(&b.host_ip, &b.host_port)
                    ));
                }
            }
        }
    }
    out.sort_by(|a, b| natural_cmp(a, b));
    Ok(out)
}

pub async fn run(client: &Client, args: PortArgs) -> anyhow::Result<()> {
    let c = client.container_inspect(&args.container, false).await?;
    let out = lines(
        &c.network_settings.ports,
        &args.container,
        args.port.as_deref(),
    )
    .map_err(|e| Reported(e.to_string()))?;
    for line in out {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::container::PortBinding;

    fn binding(ip: &str, port: &str) -> PortBinding {
        PortBinding {
            host_ip: ip.into(),
            host_port: port.into(),
        }
    }

    #[test]
    fn all_and_one_port() {
        let mut ports = PortMap::new();
        ports.insert(
            "80/tcp".into(),
            Some(vec![binding("0.0.0.0", "8080"), binding("::", "8080")]),
        );
        ports.insert("443/udp".into(), Some(vec![binding("0.0.0.0", "9443")]));
        ports.insert("9000/tcp".into(), None);
        ports.insert("9001/tcp".into(), Some(vec![]));
        assert_eq!(
            lines(&ports, "web", None).unwrap(),
            [
                "80/tcp -> 0.0.0.0:8080",
                "80/tcp -> [::]:8080",
                "443/udp -> 0.0.0.0:9443"
            ]
        );
        assert_eq!(
            lines(&ports, "web", Some("80")).unwrap(),
            ["0.0.0.0:8080", "[::]:8080"]
        );
        assert_eq!(
            lines(&ports, "web", Some("443/udp")).unwrap(),
            ["0.0.0.0:9443"]
        );
        assert_eq!(
            lines(&ports, "web", Some("9000")).unwrap_err().to_string(),
            "Error: No public port '9000' published for web"
        );
        assert_eq!(
            lines(&ports, "web", Some("9001")).unwrap_err().to_string(),
            "Error: No public port '9001' published for web"
        );
        assert_eq!(
            lines(&ports, "web", Some("81/tcp"))
                .unwrap_err()
                .to_string(),
            "Error: No public port '81/tcp' published for web"
        );
        assert!(matches!(
            lines(&ports, "web", Some("http")),
            Err(PortError::Invalid(_))
        ));
    }
}
