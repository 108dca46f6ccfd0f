//! Root tests of the embedded resolver: a real namespace, a real server on 127.0.0.11:53
//! inside it, and clients inside it (our sockets and busybox's nslookup); upstreams are
//! small responders run by the test, inside the namespace and on the host.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use super::message::testing::{a_records, parse, query, upstream_answer};
use super::message::TTL;
use super::{DnsError, DnsRegistry, DnsServer, DNS_ADDRESS};
use crate::netns;

const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(DNS_ADDRESS), 53);
const WEB: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 2);
const OTHER: Ipv4Addr = Ipv4Addr::new(172, 19, 0, 5);
const EXTERNAL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 77);

fn is_root(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    eprintln!("skipping {test}: needs root (network namespaces)");
    false
}

/// A namespace at a temp path, removed with its directory even when the test fails.
struct TestNs {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestNs {
    fn new() -> TestNs {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ns");
        netns::create(&path).unwrap();
        TestNs { path, _dir: dir }
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let _ = netns::remove(&self.path);
    }
}

/// A UDP responder answering every query with EXTERNAL (or `rcode`); stops when dropped.
struct FakeUpstream {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeUpstream {
    fn serve(sock: std::net::UdpSocket, rcode: ResponseCode) -> FakeUpstream {
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !flag.load(Ordering::Relaxed) {
                if let Ok((n, peer)) = sock.recv_from(&mut buf) {
                    let _ = sock.send_to(&upstream_answer(&buf[..n], EXTERNAL, rcode), peer);
                }
            }
        });
        FakeUpstream {
            stop,
            thread: Some(thread),
        }
    }

    /// On `addr`, port 53, inside the namespace.
    fn in_netns(ns: &Path, addr: Ipv4Addr, rcode: ResponseCode) -> FakeUpstream {
        let sock = netns::run_in(ns, move || std::net::UdpSocket::bind((addr, 53)))
            .unwrap()
            .unwrap();
        FakeUpstream::serve(sock, rcode)
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends `q` to 127.0.0.11:53 over UDP from inside the namespace; the answer.
async fn ask_udp(ns: &Path, q: Vec<u8>) -> Message {
    let bytes = netns::run_in_async(ns, move || {
        let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
        s.set_read_timeout(Some(Duration::from_secs(8)))?;
        s.send_to(&q, SERVER)?;
        let mut buf = vec![0u8; 65535];
        let n = s.recv(&mut buf)?;
        buf.truncate(n);
        Ok::<_, std::io::Error>(buf)
    })
    .await
    .unwrap()
    .expect("an answer from the embedded dns server over udp");
    parse(&bytes)
}

/// Sends each query over one TCP connection to 127.0.0.11:53 from inside the namespace.
async fn ask_tcp(ns: &Path, queries: Vec<Vec<u8>>) -> Vec<Message> {
    let answers = netns::run_in_async(ns, move || {
        let mut s = std::net::TcpStream::connect_timeout(&SERVER, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(8)))?;
        let mut answers = Vec::new();
        for q in queries {
            s.write_all(&(q.len() as u16).to_be_bytes())?;
            s.write_all(&q)?;
            let mut len = [0u8; 2];
            s.read_exact(&mut len)?;
            let mut a = vec![0u8; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut a)?;
            answers.push(a);
        }
        Ok::<_, std::io::Error>(answers)
    })
    .await
    .unwrap()
    .expect("answers from the embedded dns server over tcp");
    answers.iter().map(|a| parse(a)).collect()
}

fn registry() -> Arc<DnsRegistry> {
    let r = Arc::new(DnsRegistry::default());
    r.add("n1", "web", WEB);
    r.add("n2", "other", OTHER);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_server_answers_names_inside_the_namespace() {
    if !is_root("dns_server_answers_names_inside_the_namespace") {
        return;
    }
    let ns = TestNs::new();
    let upstream = FakeUpstream::in_netns(&ns.path, Ipv4Addr::LOCALHOST, ResponseCode::NoError);
    let server = DnsServer::start(
        &ns.path,
        vec!["n1".into()],
        registry(),
        vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
    )
    .await
    .unwrap();

    for (id, name) in [(1, "web"), (2, "WEB."), (3, "Web")] {
        let m = ask_udp(&ns.path, query(id, name, RecordType::A)).await;
        assert_eq!(m.metadata.id, id);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(a_records(&m), vec![WEB], "{name}");
        assert_eq!(m.answers[0].ttl, TTL);
    }
    let m = ask_udp(&ns.path, query(4, "web", RecordType::AAAA)).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());

    // `other` is on a network the server does not answer for: forwarded to the upstream.
    let m = ask_udp(&ns.path, query(5, "other", RecordType::A)).await;
    assert_eq!(m.metadata.id, 5);
    assert_eq!(a_records(&m), vec![EXTERNAL]);
    server.set_networks(vec!["n1".into(), "n2".into()]);
    let m = ask_udp(&ns.path, query(6, "other", RecordType::A)).await;
    assert_eq!(a_records(&m), vec![OTHER]);

    // TCP, two queries on one connection.
    let answers = ask_tcp(
        &ns.path,
        vec![
            query(7, "web", RecordType::A),
            query(8, "other.", RecordType::A),
        ],
    )
    .await;
    assert_eq!(answers[0].metadata.id, 7);
    assert_eq!(a_records(&answers[0]), vec![WEB]);
    assert_eq!(a_records(&answers[1]), vec![OTHER]);

    // A real client: busybox's nslookup inside the namespace.
    let out = tokio::process::Command::new("nsenter")
        .arg(format!("--net={}", ns.path.display()))
        .args(["/bin/busybox", "nslookup", "web", "127.0.0.11"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("Address: {WEB}")),
        "nslookup web: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Dropping the server frees 127.0.0.11:53 in the namespace.
    drop(server);
    let mut freed = false;
    for _ in 0..100 {
        let bound = netns::run_in_async(&ns.path, || std::net::UdpSocket::bind(SERVER).is_ok())
            .await
            .unwrap();
        if bound {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        freed,
        "127.0.0.11:53 is still bound after the server was dropped"
    );
    drop(upstream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_server_servfails_when_no_upstream_answers() {
    if !is_root("dns_server_servfails_when_no_upstream_answers") {
        return;
    }
    let ns = TestNs::new();
    let reg = registry();

    // No upstream at all.
    let server = DnsServer::start(&ns.path, vec!["n1".into()], reg.clone(), vec![])
        .await
        .unwrap();
    let m = ask_udp(&ns.path, query(21, "example.com", RecordType::A)).await;
    assert_eq!(m.metadata.id, 21);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(m.queries[0].name().to_ascii(), "example.com.");
    // A second server on the same address fails with a clear error.
    let again = DnsServer::start(&ns.path, vec![], reg.clone(), vec![]).await;
    assert!(matches!(again, Err(DnsError::Bind { .. })), "{again:?}");
    drop(server);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // One upstream refuses (nothing on 127.0.0.2:53), one answers SERVFAIL, one never
    // answers (127.0.0.4:53 bound, udp and tcp, but never read): SERVFAIL after its timeout.
    let silent = (Ipv4Addr::new(127, 0, 0, 4), 53);
    let _silent = netns::run_in(&ns.path, move || {
        (
            std::net::UdpSocket::bind(silent).unwrap(),
            std::net::TcpListener::bind(silent).unwrap(),
        )
    })
    .unwrap();
    let failing = FakeUpstream::in_netns(
        &ns.path,
        Ipv4Addr::new(127, 0, 0, 3),
        ResponseCode::ServFail,
    );
    let server = DnsServer::start(
        &ns.path,
        vec!["n1".into()],
        reg.clone(),
        vec![
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)),
            IpAddr::V4(silent.0),
        ],
    )
    .await
    .unwrap();
    let m = ask_udp(&ns.path, query(22, "example.com", RecordType::A)).await;
    assert_eq!(m.metadata.id, 22);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    let m = &ask_tcp(&ns.path, vec![query(23, "example.com", RecordType::A)]).await[0];
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    // Names of the registry are still answered.
    assert_eq!(
        a_records(&ask_udp(&ns.path, query(24, "web", RecordType::A)).await),
        vec![WEB]
    );
    drop(server);
    drop(failing);
}

/// The first global IPv4 address of the host, for an upstream reached from the daemon's
/// namespace.
fn host_address() -> Option<Ipv4Addr> {
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)?
        .split('/')
        .next()?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_server_forwards_from_the_daemon_namespace() {
    if !is_root("dns_server_forwards_from_the_daemon_namespace") {
        return;
    }
    let Some(ip) = host_address() else {
        eprintln!("skipping dns_server_forwards_from_the_daemon_namespace: no global ipv4 address");
        return;
    };
    let Ok(sock) = std::net::UdpSocket::bind((ip, 53)) else {
        eprintln!("skipping dns_server_forwards_from_the_daemon_namespace: {ip}:53 is taken");
        return;
    };
    let upstream = FakeUpstream::serve(sock, ResponseCode::NoError);
    let ns = TestNs::new();
    let server = DnsServer::start(
        &ns.path,
        vec!["n1".into()],
        registry(),
        vec![IpAddr::V4(ip)],
    )
    .await
    .unwrap();
    // The namespace has only lo: the answer can only have come through the daemon's side.
    let m = ask_udp(&ns.path, query(31, "example.com", RecordType::A)).await;
    assert_eq!(m.metadata.id, 31);
    assert_eq!(a_records(&m), vec![EXTERNAL]);
    drop(server);
    drop(upstream);
}
