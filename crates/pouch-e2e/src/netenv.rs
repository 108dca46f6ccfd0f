//! Network fixtures for the end-to-end tests: an "outside host" (a network namespace joined
//! to the host by a veth pair, with no route back to container subnets, so only NAT lets
//! containers talk to it), the host's own address, plain HTTP and UDP clients, and counts
//! of links and firewall rules. Tests may run commands (`ip`, `nft`); pouchd never does.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A network namespace standing for another host, at `10.250.<n>.2/30`; the host side of its
/// veth is `10.250.<n>.1`. Removed on drop.
pub struct Outside {
    pub ns: String,
    pub host_if: String,
    /// The host's address as the outside host sees it.
    pub host_addr: String,
    /// The outside host's address.
    pub addr: String,
    servers: Vec<Child>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Outside {
    pub fn new() -> Outside {
        // Unique per process and per call: tests of one binary run at the same time.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let c = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let n = ((std::process::id() * 7 + c) % 250) as u8;
        let ns = format!("pouch-out-{n}");
        let host_if = format!("pout{n}h");
        let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        let _ = Command::new("ip")
            .args(["link", "del", &host_if])
            .stderr(Stdio::null())
            .status();
        ip(&["netns", "add", &ns]);
        ip(&[
            "link",
            "add",
            &host_if,
            "type",
            "veth",
            "peer",
            "name",
            "pouchout0",
        ]);
        ip(&["link", "set", "pouchout0", "netns", &ns]);
        let host_addr = format!("10.250.{n}.1");
        let addr = format!("10.250.{n}.2");
        ip(&["addr", "add", &format!("{host_addr}/30"), "dev", &host_if]);
        ip(&["link", "set", &host_if, "up"]);
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{addr}/30"),
            "dev",
            "pouchout0",
        ]);
        ip(&["-n", &ns, "link", "set", "pouchout0", "up"]);
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        Outside {
            ns,
            host_if,
            host_addr,
            addr,
            servers: Vec::new(),
        }
    }

    /// Runs a command inside the outside host.
    pub fn exec(&self, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .args(args)
            .output()
            .expect("ip netns exec")
    }

    /// Serves `body` over HTTP on `<addr>:<port>` (busybox httpd), until dropped.
    pub fn serve(&mut self, port: u16, body: &str) {
        let dir = std::env::temp_dir().join(format!("{}-www-{port}", self.ns));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), body).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns, "busybox", "httpd", "-f", "-p"])
            .arg(format!("{}:{port}", self.addr))
            .arg("-h")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start httpd in the outside netns");
        self.servers.push(child);
        // Ready when it answers from inside its own namespace.
        let addr = self.addr.clone();
        let ready = crate::wait_for(Duration::from_secs(10), || self.get(&addr, port));
        assert!(
            ready.is_some(),
            "httpd in {} did not come up on port {port}",
            self.ns
        );
    }

    /// `GET /` from the outside host to `host:port` (busybox nc: busybox wget crashes now and
    /// then under `ip netns exec` here): the body, or `None`.
    pub fn get(&self, host: &str, port: u16) -> Option<String> {
        use std::io::Write as _;
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns, "busybox", "nc", "-w", "3", host])
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        child
            .stdin
            .take()?
            .write_all(b"GET / HTTP/1.0\r\n\r\n")
            .ok()?;
        let out = child.wait_with_output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
    }
}

impl Default for Outside {
    fn default() -> Self {
        Outside::new()
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        for c in &mut self.servers {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .stderr(Stdio::null())
            .status();
    }
}

/// The host's first global IPv4 address (`192.0.2.2` here).
pub fn host_ip() -> String {
    let out = Command::new("ip")
        .args(["-o", "-4", "addr", "show", "scope", "global"])
        .output()
        .expect("ip addr");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| {
            !l.contains(" br-") && !l.contains(" pt") && !l.contains(" p0") && !l.contains("pout")
        })
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let i = f.iter().position(|w| *w == "inet")?;
            f.get(i + 1)?.split('/').next().map(String::from)
        })
        .expect("the host has a global IPv4 address")
}

/// `GET /` over plain HTTP/1.0: the body, or `None` when nothing answers.
pub fn http_get(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// Sends `msg` to `addr` over UDP and returns the answer, or `None` after 3 s.
pub fn udp_ask(addr: &str, msg: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    for _ in 0..6 {
        s.send_to(msg, addr).ok()?;
        let mut buf = [0u8; 512];
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            return Some(buf[..n].to_vec());
        }
    }
    None
}

/// The names of the host's links.
pub fn links() -> Vec<String> {
    let out = Command::new("ip")
        .args(["-o", "link"])
        .output()
        .expect("ip link");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .collect()
}

/// The rules of nftables table `ip <table>` (0 when it does not exist).
pub fn nft_rules(table: &str) -> usize {
    let out = Command::new("nft")
        .args(["-j", "list", "table", "ip", table])
        .output()
        .expect("nft");
    if !out.status.success() {
        return 0;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["nftables"]
        .as_array()
        .map(|a| a.iter().filter(|e| e.get("rule").is_some()).count())
        .unwrap_or(0)
}

/// The kernel's ephemeral port range.
pub fn ephemeral_range() -> (u16, u16) {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let mut it = text.split_whitespace().map(|p| p.parse::<u16>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

/// The links enslaved to `bridge` (its containers' host veths).
pub fn bridge_ports(bridge: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["-o", "link", "show", "master", bridge])
        .output()
        .expect("ip link show master");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .collect()
}

/// `true` when a link of that name (or a name starting with it) exists.
pub fn link_exists(prefix: &str) -> bool {
    links().iter().any(|l| l.starts_with(prefix))
}

/// A shell line (for `sh -c` in a busybox container) that GETs `/` from `host:port`. It
/// uses `nc`: this busybox-static's `wget` crashes in containers (glibc's static resolver
/// without its NSS libraries); its `nc` and `ping` resolve names fine.
pub fn http_sh(host: &str, port: u16) -> String {
    format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {host} {port}")
}
