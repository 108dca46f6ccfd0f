//! The default bridge with the `pouch` CLI: addresses from IPAM, outbound NAT to an outside
//! host (a test-made netns with no route back), published ports from the outside host,
//! the host itself (127.0.0.1 and its own address) and another container (hairpin), host-ip
//! bindings, `-P`, UDP, a port already taken, `pouch port`; then the modes (`none`, `host`,
//! `container:`) and the generated network files.

use std::time::Duration;

use pouch_e2e::netenv::{self, http_get, http_sh, Outside};
use pouch_e2e::{free_port, setup, wait_for};

const WEB: &str =
    "mkdir -p /www && echo hello-web > /www/index.html && exec httpd -f -p 80 -h /www";

#[test]
fn bridge_nat_and_published_ports() {
    let Some(bins) = setup::e2e("bridge_nat_and_published_ports") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["pull", "busybox"]).ok();
    let table = d.net().table.clone();
    let rules_before = netenv::nft_rules(&table);
    let host_ip = netenv::host_ip();
    let (p1, p2) = (free_port(), free_port());
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &format!("{p1}:80"),
        "-p",
        &format!("127.0.0.1:{p2}:80"),
        "busybox",
        "sh",
        "-c",
        WEB,
    ])
    .ok();
    let v = d.container("web");
    let ns = &v["NetworkSettings"];
    let ip = ns["Networks"]["bridge"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let prefix = d.net().prefix();
    assert!(
        ip.starts_with(&format!("{prefix}.")),
        "address {ip} from {prefix}.0/24: {ns}"
    );
    assert_eq!(ns["IPAddress"], ip.as_str(), "{ns}");
    assert_eq!(
        ns["Networks"]["bridge"]["Gateway"],
        format!("{prefix}.1"),
        "{ns}"
    );
    assert_eq!(ns["Networks"]["bridge"]["IPPrefixLen"], 24);
    assert!(ns["Networks"]["bridge"]["MacAddress"]
        .as_str()
        .unwrap()
        .starts_with("02:42:"));
    let bindings = ns["Ports"]["80/tcp"].as_array().expect("80/tcp published");
    assert!(
        bindings
            .iter()
            .any(|b| b["HostPort"].as_str() == Some(&p1.to_string())),
        "{ns}"
    );
    assert!(
        bindings
            .iter()
            .any(|b| b["HostPort"].as_str() == Some(&p2.to_string()) && b["HostIp"] == "127.0.0.1"),
        "{ns}"
    );
    // From the host through 127.0.0.1 and through its own address.
    let body = wait_for(Duration::from_secs(10), || {
        http_get(&format!("127.0.0.1:{p1}"))
    });
    assert_eq!(body.as_deref(), Some("hello-web\n"));
    assert_eq!(
        http_get(&format!("{host_ip}:{p1}")).as_deref(),
        Some("hello-web\n")
    );
    assert_eq!(
        http_get(&format!("127.0.0.1:{p2}")).as_deref(),
        Some("hello-web\n")
    );
    assert_eq!(
        http_get(&format!("{host_ip}:{p2}")),
        None,
        "bound to 127.0.0.1 only"
    );
    // From another host.
    let mut out = Outside::new();
    assert_eq!(
        out.get(&out.host_addr, p1).as_deref(),
        Some("hello-web\n"),
        "published port from the outside host"
    );
    // From another container, through the host's address (hairpin).
    d.pouch(&["run", "--rm", "busybox", "sh", "-c", &http_sh(&host_ip, p1)])
        .ok()
        .says("hello-web");
    // And from the container itself.
    d.pouch(&["exec", "web", "sh", "-c", &http_sh(&host_ip, p1)])
        .ok()
        .says("hello-web");
    // Outbound: the outside host has no route to the container subnet, so only masquerade
    // makes this work.
    out.serve(8088, "from-outside");
    d.pouch(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        &http_sh(&out.addr, 8088),
    ])
    .ok()
    .says("from-outside");
    // Containers reach each other on the bridge.
    d.pouch(&["run", "--rm", "busybox", "sh", "-c", &http_sh(&ip, 80)])
        .ok()
        .says("hello-web");

    // pouch port, -P with --expose, and a UDP port.
    let port = d.pouch(&["port", "web"]);
    port.ok()
        .says(&format!("80/tcp -> 0.0.0.0:{p1}"))
        .says(&format!("80/tcp -> 127.0.0.1:{p2}"));
    d.pouch(&["port", "web", "80/tcp"])
        .ok()
        .says(&format!("0.0.0.0:{p1}"));
    d.pouch(&[
        "run", "-d", "--name", "pall", "-P", "--expose", "7000", "--expose", "7001/udp", "busybox",
        "sleep", "300",
    ])
    .ok();
    let (lo, hi) = netenv::ephemeral_range();
    let pall = d.container("pall");
    for key in ["7000/tcp", "7001/udp"] {
        let hp: u16 = pall["NetworkSettings"]["Ports"][key][0]["HostPort"]
            .as_str()
            .unwrap_or_else(|| panic!("{key} published: {pall}"))
            .parse()
            .unwrap();
        assert!((lo..=hi).contains(&hp), "{key} got {hp}, outside {lo}-{hi}");
    }
    let udp = free_port();
    d.pouch(&[
        "run", "-d", "--name", "udp", "-p", &format!("{udp}:5353/udp"), "-v", "/:/host:ro",
        "busybox", "chroot", "/host", "python3", "-c",
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',5353))\nwhile True:\n d,a=s.recvfrom(100)\n s.sendto(b'pong:'+d,a)",
    ])
    .ok();
    let answer = netenv::udp_ask(&format!("127.0.0.1:{udp}"), b"ping");
    assert_eq!(
        answer.as_deref(),
        Some(&b"pong:ping"[..]),
        "udp port through 127.0.0.1"
    );

    // A port already taken fails the start, names the port and leaves nothing behind.
    let rules_running = netenv::nft_rules(&table);
    let bridge = d.net().bridge.clone();
    let links_running = netenv::bridge_ports(&bridge);
    let holder = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let taken = holder.local_addr().unwrap().port();
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "clash",
        "-p",
        &format!("{taken}:80"),
        "busybox",
        "sleep",
        "300",
    ])
    .fails()
    .says(&taken.to_string());
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "clash2",
        "-p",
        &format!("{p1}:80"),
        "busybox",
        "sleep",
        "300",
    ])
    .fails()
    .says(&p1.to_string());
    assert_eq!(
        netenv::nft_rules(&table),
        rules_running,
        "a failed start left rules"
    );
    assert_eq!(
        netenv::bridge_ports(&bridge),
        links_running,
        "a failed start left links"
    );
    let clash = d.container("clash");
    assert_ne!(clash["State"]["Running"], true);
    assert!(clash["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        .as_str()
        .unwrap_or("")
        .is_empty());
    drop(holder);
    d.pouch(&["start", "clash"]).ok();
    d.pouch(&["rm", "-f", "clash", "clash2", "web", "pall", "udp"])
        .ok();
    assert_eq!(
        netenv::nft_rules(&table),
        rules_before,
        "rules left after rm"
    );
    // Host veths are deleted in the background (the kernel takes 10-20 ms per veth).
    assert!(
        wait_for(Duration::from_secs(5), || netenv::bridge_ports(&bridge)
            .is_empty()
            .then_some(()))
        .is_some(),
        "veths left: {:?}",
        netenv::bridge_ports(&bridge)
    );
    assert_eq!(
        http_get(&format!("127.0.0.1:{p1}")),
        None,
        "the port still answers"
    );
}

#[test]
fn network_modes_and_files() {
    let Some(bins) = setup::e2e("network_modes_and_files") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["pull", "busybox"]).ok();
    // none: loopback only.
    let links = d.pouch(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ip",
        "-o",
        "link",
    ]);
    let names: Vec<&str> = links
        .ok()
        .out()
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .collect();
    assert_eq!(names, [" lo"], "{}", links.out());
    // host: the host's name and links.
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    d.pouch(&["run", "--rm", "--network", "host", "busybox", "hostname"])
        .ok()
        .says(host_name.trim());
    d.pouch(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "ip",
        "-o",
        "link",
    ])
    .ok()
    .says(&d.net().bridge);
    // bridge: hostname, --add-host, --dns*, --mac-address, and the files.
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "files",
        "--hostname",
        "box1",
        "--add-host",
        "db.example:10.1.2.3",
        "--dns",
        "9.9.9.9",
        "--dns-search",
        "example.com",
        "--dns-option",
        "ndots:2",
        "--mac-address",
        "02:42:aa:bb:cc:dd",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    let v = d.container("files");
    let ip = v["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        v["NetworkSettings"]["Networks"]["bridge"]["MacAddress"], "02:42:aa:bb:cc:dd",
        "{v}"
    );
    d.pouch(&["exec", "files", "hostname"]).ok().says("box1");
    let hosts = d.pouch(&["exec", "files", "cat", "/etc/hosts"]);
    hosts
        .ok()
        .says("10.1.2.3\tdb.example")
        .says(&format!("{ip}\tbox1"))
        .says("127.0.0.1\tlocalhost");
    let resolv = d.pouch(&["exec", "files", "cat", "/etc/resolv.conf"]);
    resolv
        .ok()
        .says("nameserver 9.9.9.9")
        .says("search example.com")
        .says("options ndots:2");
    d.pouch(&["exec", "files", "ip", "link", "show", "eth0"])
        .ok()
        .says("02:42:aa:bb:cc:dd");
    // The host's resolv.conf without loopback servers by default.
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let r = d.pouch(&["run", "--rm", "busybox", "cat", "/etc/resolv.conf"]);
    for line in host_resolv.lines().filter(|l| l.starts_with("nameserver")) {
        if l_is_loopback(line) {
            assert!(!r.out().contains(line), "{line} kept: {}", r.out());
        } else {
            r.ok().says(line);
        }
    }
    // --link: the linked container's address under the alias and its name.
    d.pouch(&[
        "run",
        "--rm",
        "--link",
        "files:fl",
        "busybox",
        "cat",
        "/etc/hosts",
    ])
    .ok()
    .says(&format!("{ip}\tfl files"));
    d.pouch(&[
        "run", "--rm", "--link", "files:fl", "busybox", "ping", "-c", "1", "-W", "3", "fl",
    ])
    .ok();
    d.pouch(&["run", "--rm", "--link", "nosuch:x", "busybox", "true"])
        .fails()
        .says("nosuch");
    // container:<name> shares the network namespace (same address).
    d.pouch(&[
        "run",
        "--rm",
        "--network",
        "container:files",
        "busybox",
        "ip",
        "-o",
        "-4",
        "addr",
    ])
    .ok()
    .says(&ip);
    d.pouch(&[
        "run",
        "--rm",
        "--network",
        "container:files",
        "--hostname",
        "x",
        "busybox",
        "true",
    ])
    .fails()
    .says("conflicting options");
    d.pouch(&[
        "run",
        "--rm",
        "--network",
        "container:nosuch",
        "busybox",
        "true",
    ])
    .fails()
    .says("nosuch");
    d.pouch(&["run", "--rm", "--network", "nosuchnet", "busybox", "true"])
        .fails()
        .says("network nosuchnet not found");
    // --disable-network-files: the image's own files (busybox has none).
    d.pouch(&[
        "run",
        "--rm",
        "--disable-network-files",
        "busybox",
        "sh",
        "-c",
        "test ! -e /etc/resolv.conf && test ! -e /etc/hosts && echo none",
    ])
    .ok()
    .says("none");
    // An address on the default bridge cannot be chosen (Docker's rule).
    d.pouch(&["run", "--rm", "--ip", "10.0.0.5", "busybox", "true"])
        .fails()
        .says("user defined networks only");
    d.pouch(&["rm", "-f", "files"]).ok();
}

fn l_is_loopback(line: &str) -> bool {
    let ns = line.trim_start_matches("nameserver").trim();
    ns.starts_with("127.") || ns == "::1"
}

#[test]
fn daemon_bridge_flags() {
    let Some(bins) = setup::e2e("daemon_bridge_flags") else {
        return;
    };
    let reg = setup::busybox_registry(Default::default());
    // --fixed-cidr, --default-gateway, --mtu and --ip-masq=false on the default bridge.
    let slot = pouch_e2e::daemon::NetSlot::next();
    let prefix = slot.prefix();
    let mut opts = pouch_e2e::DaemonOptions::with_mirror(&reg.url());
    opts.net = Some(slot);
    opts.extra_args = vec![
        "--mtu".into(),
        "1400".into(),
        "--ip-masq=false".into(),
        "--fixed-cidr".into(),
        format!("{prefix}.128/25"),
        "--default-gateway".into(),
        format!("{prefix}.254"),
    ];
    let d = pouch_e2e::Daemon::start(&bins, opts).expect("start pouchd");
    d.pouch(&["pull", "busybox"]).ok();
    let route = d.pouch(&["run", "--rm", "busybox", "ip", "route"]);
    route.ok().says(&format!("default via {prefix}.254"));
    let addr = d.pouch(&[
        "run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0",
    ]);
    let a = addr.ok().out().to_string();
    let host: u8 = a
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|ip| ip.split('/').next())
        .and_then(|ip| ip.rsplit('.').next())
        .and_then(|h| h.parse().ok())
        .unwrap_or_else(|| panic!("no address: {a}"));
    assert!(host >= 128, "--fixed-cidr .128/25 gave .{host}");
    d.pouch(&["run", "--rm", "busybox", "ip", "link", "show", "eth0"])
        .ok()
        .says("mtu 1400");
    let v = d.pouch(&["network", "inspect", "bridge"]);
    v.ok().says(&format!("{prefix}.128/25"));
    // Without masquerade the outside host cannot answer (it has no route back).
    let mut out = Outside::new();
    out.serve(8089, "outside");
    d.pouch(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        &http_sh(&out.addr, 8089),
    ])
    .fails();
    drop(d);

    // --iptables=false: no table, and -p is refused with a reason.
    let mut opts = pouch_e2e::DaemonOptions::with_mirror(&reg.url());
    opts.extra_args = vec!["--iptables=false".into()];
    let d = pouch_e2e::Daemon::start(&bins, opts).expect("start pouchd");
    d.pouch(&["pull", "busybox"]).ok();
    assert_eq!(netenv::nft_rules(&d.net().table), 0);
    d.pouch(&["run", "--rm", "-p", "80", "busybox", "true"])
        .fails()
        .says("--iptables=false");
    d.pouch(&["run", "--rm", "busybox", "true"]).ok();
    // Bad flags stop pouchd with a message naming them.
    let bad = pouch_e2e::DaemonOptions {
        extra_args: vec!["--fixed-cidr".into(), "172.99.0.0/24".into()],
        ..Default::default()
    };
    let err = pouch_e2e::Daemon::start(&bins, bad)
        .err()
        .expect("pouchd refuses");
    assert!(err.to_string().contains("--fixed-cidr"), "{err:#}");
}
