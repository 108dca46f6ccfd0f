//! User networks: create/ls/inspect/rm/prune with the `pouch` CLI, name and alias resolution
//! through the embedded DNS server, isolation between networks, internal networks, `--ip`,
//! connect/disconnect on a running container, network events, the macvlan driver on a veth
//! parent, and the same with the docker CLI.

use std::process::Command;
use std::time::Duration;

use pouch_e2e::netenv::{http_get, http_sh, Outside};
use pouch_e2e::{free_port, require_docker_cli, setup, wait_for};

fn ip_of(d: &pouch_e2e::Daemon, c: &str, net: &str) -> String {
    let v = d.container(c);
    v["NetworkSettings"]["Networks"][net]["IPAddress"]
        .as_str()
        .unwrap_or_else(|| panic!("{c} on {net}: {v}"))
        .to_string()
}

#[test]
fn user_networks_dns_and_isolation() {
    let Some(bins) = setup::e2e("user_networks_dns_and_isolation") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["pull", "busybox"]).ok();
    let (sa, sb, si) = (d.net().subnet(0), d.net().subnet(1), d.net().subnet(2));
    let since = chrono_now();
    let id = d.pouch(&[
        "network", "create", "--subnet", &sa, "--label", "team=a", "neta",
    ]);
    let id = id.ok().out().trim().to_string();
    assert_eq!(id.len(), 64, "network create prints the id: {id}");
    let (gw_b, range_b) = (sb.replace(".0/24", ".254"), sb.replace(".0/24", ".128/25"));
    d.pouch(&[
        "network",
        "create",
        "--subnet",
        &sb,
        "--gateway",
        &gw_b,
        "--ip-range",
        &range_b,
        "netb",
    ])
    .ok();
    d.pouch(&["network", "create", "--internal", "--subnet", &si, "neti"])
        .ok();
    d.pouch(&["network", "create", "--subnet", &sa, "clash"])
        .fails()
        .says("overlaps");
    d.pouch(&["network", "create", "neta"])
        .fails()
        .says("already exists");
    let ls = d.pouch(&["network", "ls"]);
    for n in ["bridge", "host", "none", "neta", "netb", "neti"] {
        ls.ok().says(n);
    }
    d.pouch(&["network", "ls", "-q", "-f", "label=team=a"])
        .ok()
        .says(&id[..12]);
    let inspect = d.pouch(&["network", "inspect", "neta"]);
    let v: serde_json::Value = serde_json::from_str(inspect.ok().out()).unwrap();
    assert_eq!(v[0]["IPAM"]["Config"][0]["Subnet"], sa.as_str(), "{v}");
    let gw_a = sa.replace(".0/24", ".1");
    assert_eq!(v[0]["IPAM"]["Config"][0]["Gateway"], gw_a.as_str(), "{v}");
    assert_eq!(v[0]["Driver"], "bridge");

    d.pouch(&[
        "run",
        "-d",
        "--name",
        "a1",
        "--network",
        "neta",
        "--network-alias",
        "web",
        "busybox",
        "sleep",
        "600",
    ])
    .ok();
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "a2",
        "--network",
        "neta",
        "busybox",
        "sleep",
        "600",
    ])
    .ok();
    let a1 = ip_of(&d, "a1", "neta");
    assert!(a1.starts_with(&sa.replace("0/24", "")), "{a1} in {sa}");
    // Names and aliases resolve on the network, through 127.0.0.11.
    d.pouch(&["exec", "a2", "cat", "/etc/resolv.conf"])
        .ok()
        .says("nameserver 127.0.0.11");
    d.pouch(&["exec", "a2", "ping", "-c", "1", "-W", "3", "a1"])
        .ok();
    d.pouch(&["exec", "a2", "nslookup", "a1.neta", "127.0.0.11"])
        .ok()
        .says(&a1);
    d.pouch(&["exec", "a2", "nslookup", "web", "127.0.0.11"])
        .ok()
        .says(&a1);
    d.pouch(&["exec", "a2", "nslookup", "A1", "127.0.0.11"])
        .ok()
        .says(&a1);
    d.pouch(&["exec", "a2", "nslookup", "nosuchname", "127.0.0.11"])
        .fails();
    // Another network neither reaches nor resolves it.
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "b1",
        "--network",
        "netb",
        "busybox",
        "sleep",
        "600",
    ])
    .ok();
    let b1 = d.container("b1")["NetworkSettings"]["Networks"]["netb"].clone();
    assert_eq!(b1["Gateway"], gw_b.as_str(), "{b1}");
    let host: u8 = b1["IPAddress"]
        .as_str()
        .unwrap()
        .rsplit('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(host >= 128, "--ip-range .128/25 gave {b1}");
    d.pouch(&["exec", "b1", "ping", "-c", "1", "-W", "2", &a1])
        .fails();
    d.pouch(&["exec", "b1", "nslookup", "a1", "127.0.0.11"])
        .fails();
    // connect: now it does; disconnect: not any more.
    d.pouch(&["network", "connect", "--alias", "bee", "neta", "b1"])
        .ok();
    d.pouch(&["exec", "b1", "ping", "-c", "1", "-W", "3", "a1"])
        .ok();
    d.pouch(&["exec", "a1", "ping", "-c", "1", "-W", "3", "bee"])
        .ok();
    let nets = d.container("b1")["NetworkSettings"]["Networks"].clone();
    assert!(
        nets.get("neta").is_some() && nets.get("netb").is_some(),
        "{nets}"
    );
    d.pouch(&["network", "inspect", "-f", "{{len .Containers}}", "neta"])
        .ok()
        .says("3");
    d.pouch(&["network", "disconnect", "neta", "b1"]).ok();
    d.pouch(&["exec", "b1", "ping", "-c", "1", "-W", "2", &a1])
        .fails();
    d.pouch(&["exec", "b1", "ip", "-o", "link"]).ok();
    // --ip: inside the subnet, once.
    let fixed = sa.replace("0/24", "50");
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "fixed",
        "--network",
        "neta",
        "--ip",
        &fixed,
        "busybox",
        "sleep",
        "600",
    ])
    .ok();
    assert_eq!(ip_of(&d, "fixed", "neta"), fixed);
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "fixed2",
        "--network",
        "neta",
        "--ip",
        &fixed,
        "busybox",
        "sleep",
        "600",
    ])
    .fails()
    .says("already in use");
    d.pouch(&[
        "run",
        "--rm",
        "--network",
        "neta",
        "--ip",
        "10.9.9.9",
        "busybox",
        "true",
    ])
    .fails()
    .says("not in the subnet");
    // Internal: peers yes, the way out no.
    let out = Outside::new();
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "i1",
        "--network",
        "neti",
        "busybox",
        "sleep",
        "600",
    ])
    .ok();
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "i2",
        "--network",
        "neti",
        "busybox",
        "sleep",
        "600",
    ])
    .ok();
    d.pouch(&["exec", "i2", "ping", "-c", "1", "-W", "3", "i1"])
        .ok();
    d.pouch(&["exec", "i1", "ping", "-c", "1", "-W", "2", &out.addr])
        .fails();
    d.pouch(&[
        "run",
        "--rm",
        "--network",
        "neta",
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "3",
        &out.host_addr,
    ])
    .ok();
    // Removal rules.
    d.pouch(&["network", "rm", "neta"])
        .fails()
        .says("active endpoints");
    d.pouch(&["network", "rm", "bridge"])
        .fails()
        .says("pre-defined");
    d.pouch(&["rm", "-f", "a1", "a2", "b1", "fixed", "fixed2", "i1", "i2"])
        .ok();
    d.pouch(&["network", "rm", "neta"]).ok();
    d.pouch(&["network", "inspect", "neta"])
        .fails()
        .says("not found");
    d.pouch(&["network", "prune", "-f"])
        .ok()
        .says("netb")
        .says("neti");
    let ls = d.pouch(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(ls.ok().out().lines().count(), 3, "{}", ls.out());
    let events = d.pouch(&[
        "events",
        "--since",
        &since,
        "--until",
        &(chrono_now().parse::<u64>().unwrap() + 1).to_string(),
        "--filter",
        "type=network",
    ]);
    for action in ["create", "connect", "disconnect", "destroy"] {
        events.ok().says(&format!("network {action}"));
    }
}

#[test]
fn macvlan_on_a_veth_parent() {
    let Some(bins) = setup::e2e("macvlan_on_a_veth_parent") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["pull", "busybox"]).ok();
    let parent = format!("pmv{}", std::process::id() % 10000);
    let _ = Command::new("ip").args(["link", "del", &parent]).status();
    assert!(Command::new("ip")
        .args([
            "link",
            "add",
            &parent,
            "type",
            "veth",
            "peer",
            "name",
            &format!("{parent}p")
        ])
        .status()
        .unwrap()
        .success());
    struct Del(String);
    impl Drop for Del {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["link", "del", &self.0]).status();
        }
    }
    let _del = Del(parent.clone());
    // Both ends up: a veth without its peer has no carrier, nor do macvlans on it.
    for dev in [parent.clone(), format!("{parent}p")] {
        Command::new("ip")
            .args(["link", "set", &dev, "up"])
            .status()
            .unwrap();
    }
    let s = d.net().subnet(3);
    d.pouch(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "--subnet",
        &s,
        "-o",
        "parent=nosuchdev",
        "mvbad",
    ])
    .fails()
    .says("nosuchdev");
    d.pouch(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "--subnet",
        &s,
        "-o",
        &format!("parent={parent}"),
        "mv",
    ])
    .ok();
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "m1",
        "--network",
        "mv",
        "busybox",
        "sleep",
        "600",
    ])
    .ok();
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "m2",
        "--network",
        "mv",
        "busybox",
        "sleep",
        "600",
    ])
    .ok();
    let m1 = ip_of(&d, "m1", "mv");
    let m1_id = d.container("m1")["Id"].as_str().unwrap().to_string();
    let netns = d.exec_root().join("netns").join(&m1_id);
    let details = Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .args(["ip", "-d", "link", "show", "eth0"])
        .output()
        .unwrap();
    let details = String::from_utf8_lossy(&details.stdout);
    assert!(details.contains("macvlan mode bridge"), "{details}");
    assert!(
        pouch_e2e::netenv::bridge_ports(&d.net().bridge).is_empty(),
        "a macvlan container has no veth"
    );
    d.pouch(&["exec", "m2", "ping", "-c", "1", "-W", "3", &m1])
        .ok();
    d.pouch(&["exec", "m2", "ping", "-c", "1", "-W", "3", "m1"])
        .ok();
    d.pouch(&["rm", "-f", "m1", "m2"]).ok();
    d.pouch(&["network", "rm", "mv"]).ok();
}

#[test]
fn docker_cli_networks_and_ports() {
    let Some(bins) = setup::e2e("docker_cli_networks_and_ports") else {
        return;
    };
    if !require_docker_cli("docker_cli_networks_and_ports") {
        return;
    }
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.docker(&["pull", "busybox"]).ok();
    let s = d.net().subnet(4);
    d.docker(&["network", "create", "--subnet", &s, "dnet"])
        .ok();
    d.docker(&["network", "ls"]).ok().says("dnet");
    let port = free_port();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "dweb",
        "--network",
        "dnet",
        "-p",
        &format!("{port}:80"),
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo docker-web > /www/index.html && exec httpd -f -p 80 -h /www",
    ])
    .ok();
    let body = wait_for(Duration::from_secs(10), || {
        http_get(&format!("127.0.0.1:{port}"))
    });
    assert_eq!(body.as_deref(), Some("docker-web\n"));
    d.docker(&["port", "dweb"])
        .ok()
        .says(&format!("80/tcp -> 0.0.0.0:{port}"));
    d.docker(&[
        "run",
        "--rm",
        "--network",
        "dnet",
        "busybox",
        "sh",
        "-c",
        &http_sh("dweb", 80),
    ])
    .ok()
    .says("docker-web");
    let v = d.docker(&["network", "inspect", "dnet"]);
    let v: serde_json::Value = serde_json::from_str(v.ok().out()).unwrap();
    let containers = v[0]["Containers"].as_object().unwrap();
    assert_eq!(containers.len(), 1, "{v}");
    assert_eq!(containers.values().next().unwrap()["Name"], "dweb");
    d.docker(&["run", "-d", "--name", "dother", "busybox", "sleep", "600"])
        .ok();
    d.docker(&["network", "connect", "dnet", "dother"]).ok();
    d.docker(&["exec", "dother", "sh", "-c", &http_sh("dweb", 80)])
        .ok()
        .says("docker-web");
    d.docker(&["network", "disconnect", "dnet", "dother"]).ok();
    d.docker(&["network", "rm", "dnet"]).fails();
    d.docker(&["rm", "-f", "dweb", "dother"]).ok();
    d.docker(&["network", "rm", "dnet"]).ok();
    d.docker(&["network", "inspect", "dnet"]).fails();
}

/// Now as unix seconds (for `events --since/--until`).
fn chrono_now() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string()
}
