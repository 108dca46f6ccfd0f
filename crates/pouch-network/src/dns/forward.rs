//! Relaying a query the registry cannot answer to the upstream nameservers: each in turn,
//! over the transport the client used (UDP, or TCP with 2-byte length framing), up to
//! [`UPSTREAM_TIMEOUT`] each; an upstream that fails, times out, or answers SERVFAIL or
//! REFUSED makes way for the next (as Docker's resolver does). The answer's bytes are
//! relayed unchanged: the query went out with the client's id, so the answer has it too.
//!
//! Sockets to ordinary upstreams are opened in the daemon's network namespace (no thread
//! per query). A loopback upstream (`--dns 127.0.0.1`) means the container's own loopback,
//! as in Docker, so its socket is opened inside the container's namespace.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{timeout, timeout_at, Instant};
use tracing::debug;

/// How long one upstream has to answer.
pub(crate) const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// An upstream nameserver and, for a loopback one, the namespace its loopback is in.
#[derive(Clone, Debug)]
pub(crate) struct Upstream {
    pub addr: SocketAddr,
    pub netns: Option<PathBuf>,
}

/// What an upstream's message means for the query.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// The answer to relay.
    Relay,
    /// Not an answer to this query (another id, not a response): keep waiting.
    Ignore,
    /// SERVFAIL or REFUSED: ask the next upstream.
    Next,
}

fn verdict(query: &[u8], reply: &[u8]) -> Verdict {
    if reply.len() < 12 || reply[..2] != query[..2] || reply[2] & 0x80 == 0 {
        return Verdict::Ignore;
    }
    match reply[3] & 0x0f {
        2 | 5 => Verdict::Next,
        _ => Verdict::Relay,
    }
}

fn unspecified(addr: &SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    }
}

fn timed_out(up: &Upstream) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no answer from {} within {:?}", up.addr, UPSTREAM_TIMEOUT),
    )
}

/// Asks each upstream over UDP; the first usable answer, or `None`.
pub(crate) async fn udp(upstreams: &[Upstream], query: &[u8]) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    for up in upstreams {
        match udp_one(up, query, &mut buf).await {
            Ok(Some(n)) => {
                buf.truncate(n);
                return Some(buf);
            }
            Ok(None) => debug!("dns upstream {} (udp) failed the query", up.addr),
            Err(e) => debug!("dns upstream {} (udp): {e}", up.addr),
        }
    }
    None
}

async fn udp_one(up: &Upstream, query: &[u8], buf: &mut [u8]) -> io::Result<Option<usize>> {
    let sock = udp_socket(up).await?;
    sock.connect(up.addr).await?;
    sock.send(query).await?;
    let deadline = Instant::now() + UPSTREAM_TIMEOUT;
    loop {
        let n = timeout_at(deadline, sock.recv(buf))
            .await
            .map_err(|_| timed_out(up))??;
        match verdict(query, &buf[..n]) {
            Verdict::Relay => return Ok(Some(n)),
            Verdict::Next => return Ok(None),
            Verdict::Ignore => continue,
        }
    }
}

async fn udp_socket(up: &Upstream) -> io::Result<UdpSocket> {
    let local = unspecified(&up.addr);
    let Some(netns) = &up.netns else {
        return UdpSocket::bind(local).await;
    };
    let std = crate::netns::run_in_async(netns, move || {
        let s = std::net::UdpSocket::bind(local)?;
        s.set_nonblocking(true)?;
        Ok::<_, io::Error>(s)
    })
    .await
    .map_err(io::Error::other)??;
    UdpSocket::from_std(std)
}

/// Asks each upstream over TCP; the first usable answer, or `None`.
pub(crate) async fn tcp(upstreams: &[Upstream], query: &[u8]) -> Option<Vec<u8>> {
    for up in upstreams {
        match timeout(UPSTREAM_TIMEOUT, tcp_one(up, query)).await {
            Ok(Ok(Some(reply))) => return Some(reply),
            Ok(Ok(None)) => debug!("dns upstream {} (tcp) failed the query", up.addr),
            Ok(Err(e)) => debug!("dns upstream {} (tcp): {e}", up.addr),
            Err(_) => debug!("dns upstream {} (tcp): {}", up.addr, timed_out(up)),
        }
    }
    None
}

async fn tcp_one(up: &Upstream, query: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let mut stream = tcp_connect(up).await?;
    let len = u16::try_from(query.len()).map_err(io::Error::other)?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed).await?;
    let n = stream.read_u16().await?;
    let mut reply = vec![0u8; usize::from(n)];
    stream.read_exact(&mut reply).await?;
    Ok((verdict(query, &reply) == Verdict::Relay).then_some(reply))
}

async fn tcp_connect(up: &Upstream) -> io::Result<TcpStream> {
    let addr = up.addr;
    let Some(netns) = &up.netns else {
        return TcpStream::connect(addr).await;
    };
    let std = crate::netns::run_in_async(netns, move || {
        let s = std::net::TcpStream::connect_timeout(&addr, UPSTREAM_TIMEOUT)?;
        s.set_nonblocking(true)?;
        Ok::<_, io::Error>(s)
    })
    .await
    .map_err(io::Error::other)??;
    TcpStream::from_std(std)
}

#[cfg(test)]
mod tests {
    use super::super::message::testing::{a_records, parse, query, upstream_answer};
    use super::*;
    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::RecordType;

    fn up(addr: SocketAddr) -> Upstream {
        Upstream { addr, netns: None }
    }

    /// A UDP upstream on 127.0.0.1 that answers every query with `rcode` (and 192.0.2.7).
    fn udp_upstream(rcode: ResponseCode) -> SocketAddr {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = s.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = s.recv_from(&mut buf) {
                let answer = upstream_answer(&buf[..n], Ipv4Addr::new(192, 0, 2, 7), rcode);
                let _ = s.send_to(&answer, peer);
            }
        });
        addr
    }

    /// A port on 127.0.0.1 where nothing listens (bound, then closed).
    fn closed_port() -> SocketAddr {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }

    #[test]
    fn verdicts() {
        let q = query(0x4242, "x", RecordType::A);
        let ok = upstream_answer(&q, Ipv4Addr::LOCALHOST, ResponseCode::NoError);
        assert_eq!(verdict(&q, &ok), Verdict::Relay);
        let nx = upstream_answer(&q, Ipv4Addr::LOCALHOST, ResponseCode::NXDomain);
        assert_eq!(verdict(&q, &nx), Verdict::Relay);
        for rcode in [ResponseCode::ServFail, ResponseCode::Refused] {
            assert_eq!(
                verdict(&q, &upstream_answer(&q, Ipv4Addr::LOCALHOST, rcode)),
                Verdict::Next
            );
        }
        let other = query(0x4243, "x", RecordType::A);
        let wrong_id = upstream_answer(&other, Ipv4Addr::LOCALHOST, ResponseCode::NoError);
        assert_eq!(verdict(&q, &wrong_id), Verdict::Ignore);
        assert_eq!(verdict(&q, &q), Verdict::Ignore);
        assert_eq!(verdict(&q, &q[..5]), Verdict::Ignore);
    }

    #[tokio::test]
    async fn udp_skips_dead_and_failing_upstreams() {
        let failing = udp_upstream(ResponseCode::ServFail);
        let good = udp_upstream(ResponseCode::NoError);
        let q = query(0x0102, "example.com", RecordType::A);
        let reply = udp(&[up(closed_port()), up(failing), up(good)], &q)
            .await
            .expect("the third upstream answers");
        let m = parse(&reply);
        assert_eq!(m.metadata.id, 0x0102);
        assert_eq!(a_records(&m), vec![Ipv4Addr::new(192, 0, 2, 7)]);
        assert_eq!(udp(&[up(closed_port()), up(failing)], &q).await, None);
        assert_eq!(udp(&[], &q).await, None);
    }

    #[tokio::test]
    async fn udp_gives_up_on_a_silent_upstream_after_the_timeout() {
        // Bound but never answering.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let q = query(3, "example.com", RecordType::A);
        let started = std::time::Instant::now();
        assert_eq!(udp(&[up(silent.local_addr().unwrap())], &q).await, None);
        assert!(started.elapsed() >= UPSTREAM_TIMEOUT);
    }

    #[tokio::test]
    async fn tcp_frames_the_query_and_the_answer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let n = s.read_u16().await.unwrap();
            let mut q = vec![0u8; usize::from(n)];
            s.read_exact(&mut q).await.unwrap();
            let a = upstream_answer(&q, Ipv4Addr::new(192, 0, 2, 9), ResponseCode::NoError);
            s.write_all(&(a.len() as u16).to_be_bytes()).await.unwrap();
            s.write_all(&a).await.unwrap();
        });
        let q = query(77, "example.com", RecordType::A);
        let reply = tcp(&[up(closed_port()), up(addr)], &q).await.unwrap();
        assert_eq!(a_records(&parse(&reply)), vec![Ipv4Addr::new(192, 0, 2, 9)]);
        server.await.unwrap();
    }
}
