//! Network cleanliness and reconciling: links, firewall rules and netns files are counted
//! before and after 50 containers with published ports; after `kill -9` of pouchd the
//! running containers keep their addresses, ports and names, a container that died while
//! the daemon was away loses its network, and leases are never handed out twice.

use std::time::Duration;

use pouch_e2e::netenv::{self, http_get, http_sh};
use pouch_e2e::{free_port, procs, setup, wait_for};

fn netns_files(d: &pouch_e2e::Daemon) -> usize {
    std::fs::read_dir(d.exec_root().join("netns"))
        .map(|r| r.count())
        .unwrap_or(0)
}

#[test]
fn fifty_containers_leave_nothing() {
    let Some(bins) = setup::e2e("fifty_containers_leave_nothing") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["pull", "busybox"]).ok();
    let table = d.net().table.clone();
    let bridge = d.net().bridge.clone();
    let (links, rules, files) = (
        netenv::bridge_ports(&bridge).len(),
        netenv::nft_rules(&table),
        netns_files(&d),
    );
    let mut names = Vec::new();
    for i in 0..50 {
        let name = format!("c{i}");
        d.pouch(&[
            "run", "-d", "--name", &name, "-p", "80", "busybox", "sleep", "600",
        ])
        .ok();
        names.push(name);
    }
    assert_eq!(
        netenv::bridge_ports(&bridge).len(),
        links + 50,
        "one host veth per container"
    );
    assert_eq!(
        netenv::nft_rules(&table),
        rules + 100,
        "two DNAT rules per port"
    );
    assert_eq!(netns_files(&d), files + 50);
    let mut args = vec!["rm", "-f"];
    args.extend(names.iter().map(String::as_str));
    d.pouch(&args).ok();
    // --rm containers clean up too.
    for _ in 0..5 {
        d.pouch(&["run", "--rm", "-p", "80", "busybox", "true"])
            .ok();
    }
    // Host veths are deleted in the background (the kernel takes 10-20 ms per veth).
    let settled = wait_for(Duration::from_secs(10), || {
        (netenv::bridge_ports(&bridge).len() == links).then_some(())
    });
    assert!(
        settled.is_some(),
        "links left: {:?}",
        netenv::bridge_ports(&bridge)
    );
    assert_eq!(netenv::nft_rules(&table), rules, "rules left");
    assert_eq!(netns_files(&d), files, "netns files left");
}

#[test]
fn network_survives_daemon_kill() {
    let Some(bins) = setup::e2e("network_survives_daemon_kill") else {
        return;
    };
    let (_reg, mut d) = setup::busybox_mirror(&bins);
    d.pouch(&["pull", "busybox"]).ok();
    let s = d.net().subnet(5);
    d.pouch(&["network", "create", "--subnet", &s, "netr"]).ok();
    let port = free_port();
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "keep",
        "--network",
        "netr",
        "-p",
        &format!("{port}:80"),
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo kept > /www/index.html && exec httpd -f -p 80 -h /www",
    ])
    .ok();
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "peer",
        "--network",
        "netr",
        "busybox",
        "sleep",
        "600",
    ])
    .ok();
    let gone_port = free_port();
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "gone",
        "--network",
        "netr",
        "-p",
        &format!("{gone_port}:80"),
        "busybox",
        "sleep",
        "600",
    ])
    .ok();
    let keep_ip = d.container("keep")["NetworkSettings"]["Networks"]["netr"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let gone = d.container("gone");
    let gone_id = gone["Id"].as_str().unwrap().to_string();
    let gone_pid = gone["State"]["Pid"].as_i64().unwrap() as u32;
    wait_for(Duration::from_secs(10), || {
        http_get(&format!("127.0.0.1:{port}"))
    })
    .expect("keep serves");

    d.kill9().expect("kill -9 pouchd");
    // While the daemon is away, "gone" dies with its shim.
    let shim = procs::parent_of(gone_pid).expect("the shim of gone");
    procs::kill_with_children(&[shim]);
    // The running container still serves on its published port.
    assert_eq!(
        http_get(&format!("127.0.0.1:{port}")).as_deref(),
        Some("kept\n")
    );
    d.restart().expect("restart pouchd");

    let v = d.container("keep");
    assert_eq!(v["State"]["Running"], true);
    assert_eq!(
        v["NetworkSettings"]["Networks"]["netr"]["IPAddress"],
        keep_ip.as_str()
    );
    assert_eq!(
        http_get(&format!("127.0.0.1:{port}")).as_deref(),
        Some("kept\n")
    );
    // Names still resolve (the DNS server came back) and the peer still reaches it.
    d.pouch(&["exec", "peer", "sh", "-c", &http_sh("keep", 80)])
        .ok()
        .says("kept");
    // The dead one lost its link, its port and its lease.
    let g = wait_for(Duration::from_secs(5), || {
        let g = d.container("gone");
        (g["State"]["Status"] == "exited").then_some(g)
    })
    .expect("gone is exited");
    assert!(
        g["NetworkSettings"]["Ports"]
            .as_object()
            .is_none_or(|p| p.is_empty()),
        "{g}"
    );
    let veth = format!("pv{}", &gone_id[..12]);
    assert!(!netenv::link_exists(&veth), "{veth} left");
    assert!(!d.exec_root().join("netns").join(&gone_id).exists());
    let holder = std::net::TcpListener::bind(("0.0.0.0", gone_port));
    assert!(
        holder.is_ok(),
        "port {gone_port} of the dead container is still held"
    );
    drop(holder);
    // A new container never gets an address in use.
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "fresh",
        "--network",
        "netr",
        "busybox",
        "sleep",
        "600",
    ])
    .ok();
    let fresh = d.container("fresh")["NetworkSettings"]["Networks"]["netr"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let peer = d.container("peer")["NetworkSettings"]["Networks"]["netr"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        fresh != keep_ip && fresh != peer,
        "{fresh} handed out twice"
    );
    // And "gone" starts again with a working network.
    d.pouch(&["start", "gone"]).ok();
    d.pouch(&["exec", "gone", "ping", "-c", "1", "-W", "3", "keep"])
        .ok();
    d.pouch(&["rm", "-f", "keep", "peer", "gone", "fresh"]).ok();
    d.pouch(&["network", "rm", "netr"]).ok();
}
