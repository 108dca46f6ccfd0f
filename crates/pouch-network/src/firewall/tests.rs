//! Tests of the firewall: the document built for a model (no root), and as root the table
//! applied, read back, replaced and removed, and a real DNAT into a network namespace
//! (127.0.0.1, the host's own address and hairpin from the container itself).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nftables::schema::{NfCmd, NfListObject, NfObject};

use super::*;
use crate::ports;

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn bridge(device: &str, subnet: &str, internal: bool) -> BridgeRules {
    BridgeRules {
        device: device.to_string(),
        subnet: net(subnet),
        masquerade: !internal,
        internal,
    }
}

fn port(
    proto: Proto,
    host_ip: Option<Ipv4Addr>,
    host_port: u16,
    to: &str,
    device: &str,
) -> PortRule {
    let (ip, p) = to.split_once(':').unwrap();
    PortRule {
        proto,
        host_ip,
        host_port,
        container_ip: ip.parse().unwrap(),
        container_port: p.parse().unwrap(),
        device: device.to_string(),
    }
}

/// Rules added per chain by a built batch.
fn rules_per_chain(table: &str, m: &FirewallModel) -> Vec<(String, usize)> {
    let doc = rules::ruleset(table, m);
    let mut counts: Vec<(String, usize)> = Vec::new();
    for o in doc.objects.iter() {
        if let NfObject::CmdObject(NfCmd::Add(NfListObject::Rule(r))) = o {
            match counts.iter_mut().find(|(c, _)| *c == r.chain) {
                Some((_, n)) => *n += 1,
                None => counts.push((r.chain.to_string(), 1)),
            }
        }
    }
    counts
}

#[test]
fn proto_parses_and_displays() {
    assert_eq!("tcp".parse::<Proto>().unwrap(), Proto::Tcp);
    assert_eq!("UDP".parse::<Proto>().unwrap(), Proto::Udp);
    assert!("sctp"
        .parse::<Proto>()
        .unwrap_err()
        .contains("use tcp or udp"));
    assert_eq!(Proto::Udp.to_string(), "udp");
    assert_eq!(serde_json::to_string(&Proto::Tcp).unwrap(), "\"tcp\"");
}

#[test]
fn batch_has_the_rules_of_the_model() {
    let m = FirewallModel {
        bridges: vec![
            bridge("p0", "192.168.5.1/24", false),
            bridge("br-a", "172.18.0.0/16", false),
            bridge("br-b", "172.19.0.0/16", false),
            bridge("br-int", "172.20.0.0/16", true),
        ],
        ports: vec![
            port(Proto::Tcp, None, 8080, "192.168.5.2:80", "p0"),
            port(
                Proto::Udp,
                Some(Ipv4Addr::LOCALHOST),
                5353,
                "172.18.0.2:53",
                "br-a",
            ),
            port(
                Proto::Tcp,
                Some(Ipv4Addr::UNSPECIFIED),
                9000,
                "172.19.0.2:9000",
                "br-b",
            ),
            port(Proto::Tcp, None, 9001, "172.20.0.2:80", "br-int"),
        ],
    };
    let counts = rules_per_chain("t", &m);
    // 3 ports twice (the 4th goes to an internal network); 3 bridges x (hairpin, localhost,
    // masquerade); 1 established + 2 internal + 3 isolation.
    let want = [
        ("prerouting", 3),
        ("output", 3),
        ("postrouting", 9),
        ("forward", 6),
    ];
    let want: Vec<(String, usize)> = want.iter().map(|(c, n)| (c.to_string(), *n)).collect();
    assert_eq!(counts, want);
    // 0.0.0.0 and None both mean every local address: no `ip daddr` match.
    let json = serde_json::to_string(&rules::ruleset("t", &m)).unwrap();
    assert_eq!(json.matches("\"right\":\"127.0.0.1\"").count(), 2);
    assert!(!json.contains("0.0.0.0"));
    assert!(rules_per_chain("t", &FirewallModel::default()).is_empty());
}

#[test]
fn invalid_device_is_refused() {
    let fw = Firewall::new("pouch_test_invalid");
    let m = FirewallModel {
        bridges: vec![bridge("a-very-long-device-name", "10.1.0.0/16", false)],
        ports: vec![],
    };
    let e = fw.apply(&m).unwrap_err().to_string();
    assert!(
        e.contains("invalid device name \"a-very-long-device-name\""),
        "{e}"
    );
}

#[test]
fn missing_nft_says_what_to_install() {
    let fw = Firewall {
        table: "pouch_test_nonft".to_string(),
        nft: None,
    };
    let e = fw.apply(&FirewallModel::default()).unwrap_err().to_string();
    assert!(e.ends_with("install the nftables package"), "{e}");
    assert!(fw.rule_count().is_err());
}

/// A table name of our own per test, never `pouch`.
fn test_table(what: &str) -> String {
    format!("pouch_test_{what}_{:x}", suffix())
}

fn suffix() -> u32 {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    (nanos ^ std::process::id().rotate_left(16) ^ N.fetch_add(0x9e37, Ordering::Relaxed))
        & 0xff_ffff
}

fn can_run(test: &str) -> bool {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipping {test}: needs root (nftables)");
        return false;
    }
    if find_nft().is_none() {
        eprintln!("skipping {test}: nft not found (apt-get install nftables)");
        return false;
    }
    true
}

/// Removes the test table even when the test fails.
struct TableGuard(Firewall);

impl Drop for TableGuard {
    fn drop(&mut self) {
        let _ = self.0.remove();
    }
}

fn listing(fw: &Firewall) -> String {
    let out = Command::new(find_nft().unwrap())
        .args(["list", "table", "ip", fw.table()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn chains(fw: &Firewall) -> Vec<String> {
    let json = fw.list().unwrap().expect("the table exists");
    let objects = json["nftables"].as_array().unwrap().clone();
    objects
        .iter()
        .filter_map(|o| o.get("chain"))
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn apply_reads_back_replaces_and_removes() {
    if !can_run("apply_reads_back_replaces_and_removes") {
        return;
    }
    let fw = TableGuard(Firewall::new(&test_table("apply")));
    let fw = &fw.0;
    assert_eq!(fw.rule_count().unwrap(), 0, "no table yet");
    let m = FirewallModel {
        bridges: vec![bridge("pfwtest0", "10.213.7.0/24", false)],
        ports: vec![
            port(Proto::Tcp, None, 18080, "10.213.7.2:80", "pfwtest0"),
            port(
                Proto::Udp,
                Some(Ipv4Addr::LOCALHOST),
                15353,
                "10.213.7.3:53",
                "pfwtest0",
            ),
        ],
    };
    fw.apply(&m).unwrap();
    // 2 ports x (prerouting, output) + hairpin + localhost + masquerade.
    assert_eq!(fw.rule_count().unwrap(), 7);
    let text = listing(fw);
    for want in [
        "type nat hook prerouting priority dstnat; policy accept;",
        "type nat hook output priority -100; policy accept;",
        "type nat hook postrouting priority srcnat; policy accept;",
        "type filter hook forward priority filter; policy accept;",
        "tcp dport 18080 fib daddr type local dnat to 10.213.7.2:80",
        "ip daddr 127.0.0.1 udp dport 15353 fib daddr type local dnat to 10.213.7.3:53",
        "ct status dnat ip saddr 10.213.7.0/24 oifname \"pfwtest0\" masquerade",
        "ip saddr 127.0.0.0/8 oifname \"pfwtest0\" masquerade",
        "ip saddr 10.213.7.0/24 oifname != \"pfwtest0\" masquerade",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert_eq!(text.matches("dnat to 10.213.7.2:80").count(), 2, "{text}");

    // Applying again is idempotent; a smaller model leaves nothing of the old one.
    fw.apply(&m).unwrap();
    assert_eq!(fw.rule_count().unwrap(), 7);
    let smaller = FirewallModel {
        bridges: m.bridges.clone(),
        ports: vec![m.ports[1].clone()],
    };
    fw.apply(&smaller).unwrap();
    assert_eq!(fw.rule_count().unwrap(), 5);
    let text = listing(fw);
    assert!(!text.contains("18080"), "{text}");
    assert!(text.contains("udp dport 15353"), "{text}");

    fw.apply(&FirewallModel::default()).unwrap();
    assert_eq!(fw.rule_count().unwrap(), 0);
    assert_eq!(
        chains(fw),
        ["prerouting", "output", "postrouting", "forward"]
    );

    fw.remove().unwrap();
    assert!(fw.list().unwrap().is_none());
    assert_eq!(fw.rule_count().unwrap(), 0);
    fw.remove().unwrap();
}

#[test]
fn nft_errors_carry_its_message() {
    if !can_run("nft_errors_carry_its_message") {
        return;
    }
    let e = Firewall::new("two words")
        .rule_count()
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("nft failed listing table ip two words: Error: syntax error"),
        "{e}"
    );
}

#[test]
fn forward_chain_isolates_bridges_and_internal_networks() {
    if !can_run("forward_chain_isolates_bridges_and_internal_networks") {
        return;
    }
    let fw = TableGuard(Firewall::new(&test_table("fwd")));
    let fw = &fw.0;
    let m = FirewallModel {
        bridges: vec![
            bridge("pfwa", "10.213.8.0/24", false),
            bridge("pfwb", "10.213.9.0/24", false),
            bridge("pfwc", "10.213.10.0/24", false),
            bridge("pfwi", "10.213.11.0/24", true),
        ],
        ports: vec![],
    };
    fw.apply(&m).unwrap();
    let text = listing(fw);
    let forward = text.split("chain forward").nth(1).unwrap();
    let lines: Vec<&str> = forward
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        &lines[2..9],
        [
            "ct state established,related accept",
            "iifname \"pfwi\" oifname != \"pfwi\" drop",
            "oifname \"pfwi\" iifname != \"pfwi\" drop",
            "iifname \"pfwa\" oifname { \"pfwb\", \"pfwc\" } drop",
            "iifname \"pfwb\" oifname { \"pfwa\", \"pfwc\" } drop",
            "iifname \"pfwc\" oifname { \"pfwa\", \"pfwb\" } drop",
            "}",
        ],
        "{text}"
    );
    // The internal network is not masqueraded.
    assert!(!text.contains("10.213.11.0/24"), "{text}");
    // One ordinary bridge drops nothing, so the forward chain stays empty.
    fw.apply(&FirewallModel {
        bridges: vec![m.bridges[0].clone()],
        ports: vec![],
    })
    .unwrap();
    assert_eq!(fw.rule_count().unwrap(), 3);
}

#[test]
fn apply_with_fifty_ports_is_timed() {
    if !can_run("apply_with_fifty_ports_is_timed") {
        return;
    }
    let fw = TableGuard(Firewall::new(&test_table("fifty")));
    let fw = &fw.0;
    let m = FirewallModel {
        bridges: vec![bridge("pfwtest1", "10.213.12.0/24", false)],
        ports: (0..50)
            .map(|i| {
                port(
                    Proto::Tcp,
                    None,
                    20000 + i,
                    &format!("10.213.12.{}:80", 2 + i),
                    "pfwtest1",
                )
            })
            .collect(),
    };
    fw.apply(&m).unwrap();
    let start = Instant::now();
    fw.apply(&m).unwrap();
    let once = start.elapsed();
    eprintln!("one apply of 50 port rules and 1 bridge (103 rules) took {once:?}");
    assert_eq!(fw.rule_count().unwrap(), 103);
}

/// A bridge, a netns with a veth on it and busybox httpd inside, torn down on drop.
struct Lab {
    ns: String,
    bridge: String,
    subnet_octet: u8,
    httpd: Option<Child>,
    fw: Firewall,
    forward_was: Option<String>,
    _www: tempfile::TempDir,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("the ip command (iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Lab {
    fn new() -> Lab {
        let sfx = suffix();
        let octet = (sfx % 200 + 20) as u8;
        let www = tempfile::tempdir().unwrap();
        let cgi = www.path().join("cgi-bin");
        std::fs::create_dir(&cgi).unwrap();
        let script =
            "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' \"$REMOTE_ADDR\"\n";
        std::fs::write(cgi.join("ip"), script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(cgi.join("ip"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut lab = Lab {
            ns: format!("pfw{sfx:06x}"),
            bridge: format!("pfwb{sfx:06x}"),
            subnet_octet: octet,
            httpd: None,
            fw: Firewall::new(&test_table("dnat")),
            forward_was: None,
            _www: www,
        };
        let forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
        if forward.trim() != "1" {
            std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").unwrap();
            lab.forward_was = Some(forward);
        }
        let (host, peer) = (format!("pfwh{sfx:06x}"), format!("pfwp{sfx:06x}"));
        let gw = format!("{}/24", lab.gateway());
        let addr = format!("{}/24", lab.container());
        let ns = lab.ns.clone();
        let br = lab.bridge.clone();
        ip(&["netns", "add", &ns]);
        ip(&["link", "add", &br, "type", "bridge"]);
        ip(&["addr", "add", &gw, "dev", &br]);
        ip(&["link", "set", &br, "up"]);
        ip(&["link", "add", &host, "type", "veth", "peer", "name", &peer]);
        ip(&["link", "set", &host, "master", &br, "up"]);
        // As `link::add_veth` does; with br_netfilter loaded, hairpin NAT needs it.
        ip(&[
            "link",
            "set",
            &host,
            "type",
            "bridge_slave",
            "hairpin",
            "on",
        ]);
        ip(&["link", "set", &peer, "netns", &ns]);
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        ip(&["-n", &ns, "addr", "add", &addr, "dev", &peer]);
        ip(&["-n", &ns, "link", "set", &peer, "up"]);
        ip(&[
            "-n",
            &ns,
            "route",
            "add",
            "default",
            "via",
            &lab.gateway().to_string(),
        ]);
        let localnet = format!("/proc/sys/net/ipv4/conf/{br}/route_localnet");
        std::fs::write(localnet, "1").unwrap();
        let home = lab._www.path().to_str().unwrap().to_string();
        let httpd = Command::new("ip")
            .args([
                "netns", "exec", &ns, "busybox", "httpd", "-f", "-p", "80", "-h", &home,
            ])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        lab.httpd = Some(httpd);
        // Direct (routed, no NAT) until the server answers.
        let direct = SocketAddr::from((lab.container(), 80));
        let deadline = Instant::now() + Duration::from_secs(10);
        while get(direct, "/cgi-bin/ip").is_err() {
            assert!(
                Instant::now() < deadline,
                "busybox httpd did not start in {ns}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        lab
    }

    fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 214, self.subnet_octet, 1)
    }

    fn container(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 214, self.subnet_octet, 2)
    }

    fn bridge_rules(&self) -> BridgeRules {
        bridge(
            &self.bridge,
            &format!("10.214.{}.0/24", self.subnet_octet),
            false,
        )
    }

    /// An HTTP/1.0 GET from inside the netns (busybox nc; its wget crashes on this host).
    fn get_inside(&self, addr: SocketAddr, path: &str) -> Result<String, String> {
        let (host, port) = (addr.ip().to_string(), addr.port().to_string());
        let mut nc = Command::new("ip")
            .args([
                "netns", "exec", &self.ns, "busybox", "nc", "-w", "5", &host, &port,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let request = format!("GET {path} HTTP/1.0\r\nHost: pouch\r\n\r\n");
        nc.stdin
            .take()
            .unwrap()
            .write_all(request.as_bytes())
            .unwrap();
        let out = nc.wait_with_output().unwrap();
        let resp = String::from_utf8_lossy(&out.stdout);
        match resp.split_once("\r\n\r\n") {
            Some((_, body)) if out.status.success() => Ok(unmap(body)),
            _ => Err(format!("{resp}{}", String::from_utf8_lossy(&out.stderr))),
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut c) = self.httpd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.fw.remove();
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        if let Some(v) = self.forward_was.take() {
            let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", v);
        }
    }
}

/// An HTTP/1.0 GET; returns the body.
fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: pouch\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    Ok(unmap(body))
}

/// httpd listens on an IPv6 socket: `[::ffff:10.0.0.1]` is 10.0.0.1.
fn unmap(body: &str) -> String {
    let body = body.trim();
    let body = body
        .strip_prefix("[::ffff:")
        .and_then(|b| b.strip_suffix(']'))
        .unwrap_or(body);
    body.to_string()
}

/// The host's first global IPv4 address, if it has one.
fn host_address() -> Option<Ipv4Addr> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| {
        let cidr = l.split_whitespace().skip_while(|w| *w != "inet").nth(1)?;
        let ip: Ipv4Addr = cidr.split('/').next()?.parse().ok()?;
        (!ip.octets().starts_with(&[10, 214])).then_some(ip)
    })
}

#[test]
fn dnat_reaches_a_server_in_a_netns() {
    if !can_run("dnat_reaches_a_server_in_a_netns") {
        return;
    }
    let lab = Lab::new();
    let (p1, _r1) = ports::reserve(Proto::Tcp, None, 0).unwrap();
    let (p2, _r2) = ports::reserve(Proto::Tcp, Some(Ipv4Addr::LOCALHOST), 0).unwrap();
    let to = format!("{}:80", lab.container());
    let m = FirewallModel {
        bridges: vec![lab.bridge_rules()],
        ports: vec![
            port(Proto::Tcp, None, p1, &to, &lab.bridge),
            port(Proto::Tcp, Some(Ipv4Addr::LOCALHOST), p2, &to, &lab.bridge),
        ],
    };
    lab.fw.apply(&m).unwrap();
    let gw = lab.gateway().to_string();

    // From the host through lo: DNAT in output, source masqueraded to the bridge address.
    let local = SocketAddr::from((Ipv4Addr::LOCALHOST, p1));
    assert_eq!(get(local, "/cgi-bin/ip").unwrap(), gw);
    let local2 = SocketAddr::from((Ipv4Addr::LOCALHOST, p2));
    assert_eq!(get(local2, "/cgi-bin/ip").unwrap(), gw);

    if let Some(host) = host_address() {
        // The host's own address: DNAT in output, the source stays the host's address.
        let addr = SocketAddr::from((host, p1));
        assert_eq!(get(addr, "/cgi-bin/ip").unwrap(), host.to_string());
        // A rule restricted to 127.0.0.1 does not answer on the host's address: the
        // reservation holds the port without listening, so the connection is refused.
        assert!(get(SocketAddr::from((host, p2)), "/").is_err());
        // Hairpin: the container reaches itself through the host's address (prerouting
        // DNAT, masqueraded so the answer comes back through the host).
        assert_eq!(lab.get_inside(addr, "/cgi-bin/ip").unwrap(), gw);
    } else {
        eprintln!("no global IPv4 address on this host: host-address and hairpin cases skipped");
    }

    // Without the port rules the ports are closed again.
    lab.fw
        .apply(&FirewallModel {
            bridges: vec![lab.bridge_rules()],
            ports: vec![],
        })
        .unwrap();
    assert!(get(local, "/cgi-bin/ip").is_err());
}

#[test]
fn a_foreign_forward_drop_policy_is_reported() {
    if !can_run("a_foreign_forward_drop_policy_is_reported") {
        return;
    }
    let ours = Firewall::new(&test_table("fwdours"));
    let theirs = test_table("fwdtheirs");
    // Policy drop, but an accept rule first: detected, and harmless to the other tests.
    let script = format!(
        "table ip {theirs} {{\n chain FORWARD {{\n type filter hook forward priority 0; policy drop;\n accept\n }}\n}}\n"
    );
    let status = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(script.as_bytes())?;
            c.wait()
        });
    assert!(status.unwrap().success());
    let found = ours.foreign_forward_drops();
    let _ = Command::new("nft")
        .args(["delete", "table", "ip", &theirs])
        .status();
    let found = found.unwrap();
    assert!(found.contains(&format!("ip {theirs} FORWARD")), "{found:?}");
    assert!(!found.iter().any(|c| c.contains(ours.table())), "{found:?}");
}
