//! One embedded resolver per container: UDP and TCP sockets on 127.0.0.11:53 bound inside
//! the container's network namespace (on a short-lived thread that joined it; a socket
//! keeps the namespace it was made in), then served by tasks on the daemon's tokio runtime.
//! No thread per server. Dropping the server aborts its tasks, which closes the sockets and
//! cancels the queries in flight.

use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::timeout;
use tracing::{debug, warn};

use super::forward::{self, Upstream};
use super::message::{self, Action, Transport};
use super::{DnsError, DnsRegistry, DNS_ADDRESS};

/// Queries being forwarded at once per server; more get SERVFAIL (Docker allows 1024).
const MAX_IN_FLIGHT: usize = 1024;
/// TCP clients served at once per server; more are closed on accept.
const MAX_TCP_CLIENTS: usize = 128;
/// How long a TCP client may stay silent, or take to send a query or read an answer.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// The port of the embedded server and of the upstreams.
const DNS_PORT: u16 = 53;

/// State shared by a server's tasks.
struct Shared {
    registry: Arc<DnsRegistry>,
    networks: RwLock<Vec<String>>,
    upstreams: Vec<Upstream>,
    turn: AtomicUsize,
}

impl Shared {
    fn handle(&self, query: &[u8], transport: Transport) -> Action {
        let networks = self.networks.read().unwrap_or_else(PoisonError::into_inner);
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        message::handle(query, transport, &self.registry, &networks, turn)
    }
}

/// Docker's embedded resolver for one container; dropping it stops serving.
pub struct DnsServer {
    shared: Arc<Shared>,
    tasks: Vec<AbortHandle>,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer")
            .field(
                "networks",
                &*self
                    .shared
                    .networks
                    .read()
                    .unwrap_or_else(PoisonError::into_inner),
            )
            .field("upstreams", &self.shared.upstreams)
            .finish()
    }
}

impl DnsServer {
    /// Binds 127.0.0.11:53 (udp and tcp) inside the netns and serves on the current tokio
    /// runtime: A queries for names in `networks` (also the name with a search-domain-less
    /// trailing dot) from the registry; everything else is forwarded to `upstreams` (port 53)
    /// and the answer relayed; NXDOMAIN/SERVFAIL as appropriate.
    ///
    /// A loopback upstream is the container's own loopback (as `--dns 127.0.0.1` means in
    /// Docker); the others are reached from the daemon's namespace.
    pub async fn start(
        netns: &Path,
        networks: Vec<String>,
        registry: Arc<DnsRegistry>,
        upstreams: Vec<IpAddr>,
    ) -> Result<DnsServer, DnsError> {
        let path = netns.to_path_buf();
        let (udp, tcp) = crate::netns::run_in_async(netns, move || bind(&path)).await??;
        let runtime = |proto: &'static str| {
            let netns = netns.to_path_buf();
            move |source| DnsError::Runtime {
                netns,
                proto,
                source,
            }
        };
        let udp = UdpSocket::from_std(udp).map_err(runtime("udp"))?;
        let tcp = TcpListener::from_std(tcp).map_err(runtime("tcp"))?;
        let upstreams = upstreams
            .into_iter()
            .map(|ip| Upstream {
                addr: SocketAddr::new(ip, DNS_PORT),
                netns: ip.is_loopback().then(|| netns.to_path_buf()),
            })
            .collect();
        let shared = Arc::new(Shared {
            registry,
            networks: RwLock::new(networks),
            upstreams,
            turn: AtomicUsize::new(0),
        });
        let tasks = vec![
            tokio::spawn(serve_udp(Arc::new(udp), shared.clone())).abort_handle(),
            tokio::spawn(serve_tcp(tcp, shared.clone())).abort_handle(),
        ];
        Ok(DnsServer { shared, tasks })
    }

    /// Replaces the networks whose names this server answers (in order of preference).
    pub fn set_networks(&self, networks: Vec<String>) {
        *self
            .shared
            .networks
            .write()
            .unwrap_or_else(PoisonError::into_inner) = networks;
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Binds both sockets; runs on a thread inside the container's namespace.
fn bind(netns: &Path) -> Result<(std::net::UdpSocket, std::net::TcpListener), DnsError> {
    let addr = SocketAddr::V4(SocketAddrV4::new(DNS_ADDRESS, DNS_PORT));
    let err = |proto: &'static str| {
        let netns: PathBuf = netns.to_path_buf();
        move |source| DnsError::Bind {
            netns,
            proto,
            addr,
            source,
        }
    };
    let udp = std::net::UdpSocket::bind(addr).map_err(err("udp"))?;
    udp.set_nonblocking(true).map_err(err("udp"))?;
    let tcp = std::net::TcpListener::bind(addr).map_err(err("tcp"))?;
    tcp.set_nonblocking(true).map_err(err("tcp"))?;
    Ok((udp, tcp))
}

/// Answers datagrams; forwarded queries run as child tasks, aborted with this one.
async fn serve_udp(sock: Arc<UdpSocket>, shared: Arc<Shared>) {
    let mut in_flight = JoinSet::new();
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    loop {
        tokio::select! {
            received = sock.recv_from(&mut buf) => {
                let (n, peer) = match received {
                    Ok(r) => r,
                    Err(e) => {
                        debug!("embedded dns: receive: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                match shared.handle(&buf[..n], Transport::Udp) {
                    Action::Reply(reply) => {
                        let _ = sock.send_to(&reply, peer).await;
                    }
                    Action::Forward { servfail } if in_flight.len() >= MAX_IN_FLIGHT => {
                        warn!("embedded dns: more than {MAX_IN_FLIGHT} queries in flight, answering SERVFAIL");
                        let _ = sock.send_to(&servfail, peer).await;
                    }
                    Action::Forward { servfail } => {
                        let query = buf[..n].to_vec();
                        let (sock, shared) = (sock.clone(), shared.clone());
                        in_flight.spawn(async move {
                            let reply = forward::udp(&shared.upstreams, &query)
                                .await
                                .unwrap_or(servfail);
                            let _ = sock.send_to(&reply, peer).await;
                        });
                    }
                    Action::Drop => {}
                }
            }
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
        }
    }
}

/// Accepts TCP clients; each is a child task, aborted with this one.
async fn serve_tcp(listener: TcpListener, shared: Arc<Shared>) {
    let mut clients = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                match accepted {
                    Ok((stream, _)) if clients.len() < MAX_TCP_CLIENTS => {
                        clients.spawn(serve_tcp_client(stream, shared.clone()));
                    }
                    Ok(_) => debug!("embedded dns: more than {MAX_TCP_CLIENTS} tcp clients, closing one"),
                    Err(e) => {
                        debug!("embedded dns: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            Some(_) = clients.join_next(), if !clients.is_empty() => {}
        }
    }
}

/// Serves length-framed queries on one connection, one after the other, until the client
/// closes it or stays silent for [`TCP_IDLE`].
async fn serve_tcp_client(mut stream: TcpStream, shared: Arc<Shared>) {
    loop {
        let Ok(Ok(len)) = timeout(TCP_IDLE, stream.read_u16()).await else {
            return;
        };
        let mut query = vec![0u8; usize::from(len)];
        if !matches!(
            timeout(TCP_IDLE, stream.read_exact(&mut query)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        let reply = match shared.handle(&query, Transport::Tcp) {
            Action::Reply(reply) => reply,
            Action::Forward { servfail } => forward::tcp(&shared.upstreams, &query)
                .await
                .unwrap_or(servfail),
            Action::Drop => continue,
        };
        let Ok(len) = u16::try_from(reply.len()) else {
            continue;
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&reply);
        if !matches!(
            timeout(TCP_IDLE, stream.write_all(&framed)).await,
            Ok(Ok(()))
        ) {
            return;
        }
    }
}
