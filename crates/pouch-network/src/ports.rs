//! Host port reservations for published ports: a socket bound to the host address and port
//! (TCP without listening, UDP) holds the port for the container while its DNAT rule is in
//! place, so no other program can take it and a second container asking for it gets a clear
//! "already in use". SO_REUSEADDR stays off, so a port some program listens on is refused.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::OwnedFd;

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use crate::firewall::Proto;

/// A bound (not listening) socket holding a host port; dropping it frees the port.
#[derive(Debug)]
pub struct PortReservation {
    proto: Proto,
    ip: Ipv4Addr,
    port: u16,
    _socket: OwnedFd,
}

impl PortReservation {
    pub fn proto(&self) -> Proto {
        self.proto
    }

    /// The bound address (0.0.0.0 for every address).
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("port {port}/{proto} is already in use on the host ({}:{port}): choose another host port", display_ip(*.ip))]
    InUse {
        proto: Proto,
        ip: Option<Ipv4Addr>,
        port: u16,
    },
    /// What was being reserved (`8080/tcp on 0.0.0.0`) and why it failed.
    #[error("cannot reserve host port {0}: {1}")]
    Io(String, #[source] io::Error),
}

fn display_ip(ip: Option<Ipv4Addr>) -> Ipv4Addr {
    ip.unwrap_or(Ipv4Addr::UNSPECIFIED)
}

struct What(Proto, Ipv4Addr, u16);

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} on {}", self.2, self.0, self.1)
    }
}

/// Binds host_ip:port (0.0.0.0 when None; port 0 picks one from the kernel's ephemeral range)
/// and returns the port and the reservation. Dropping the reservation frees the port.
pub fn reserve(
    proto: Proto,
    ip: Option<Ipv4Addr>,
    port: u16,
) -> Result<(u16, PortReservation), PortError> {
    let addr = display_ip(ip);
    let io_err = |e: Errno| PortError::Io(What(proto, addr, port).to_string(), e.into());
    let kind = match proto {
        Proto::Tcp => SocketType::STREAM,
        Proto::Udp => SocketType::DGRAM,
    };
    let socket = rustix::net::socket_with(AddressFamily::INET, kind, SocketFlags::CLOEXEC, None)
        .map_err(io_err)?;
    rustix::net::sockopt::set_socket_reuseaddr(&socket, false).map_err(io_err)?;
    match rustix::net::bind(&socket, &SocketAddrV4::new(addr, port)) {
        Ok(()) => {}
        Err(Errno::ADDRINUSE) => return Err(PortError::InUse { proto, ip, port }),
        Err(e) => return Err(io_err(e)),
    }
    let bound = rustix::net::getsockname(&socket).map_err(io_err)?;
    let bound = SocketAddrV4::try_from(bound).map_err(io_err)?;
    let reservation = PortReservation {
        proto,
        ip: addr,
        port: bound.port(),
        _socket: socket,
    };
    Ok((bound.port(), reservation))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ephemeral_range() -> (u16, u16) {
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
        let mut it = range.split_whitespace().map(|n| n.parse::<u16>().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    }

    #[test]
    fn tcp_port_is_held_until_dropped() {
        let lo = Some(Ipv4Addr::LOCALHOST);
        let (port, r) = reserve(Proto::Tcp, lo, 0).unwrap();
        let (min, max) = ephemeral_range();
        assert!((min..=max).contains(&port), "{port} not in {min}-{max}");
        assert_eq!(
            (r.proto(), r.ip(), r.port()),
            (Proto::Tcp, Ipv4Addr::LOCALHOST, port)
        );

        let e = reserve(Proto::Tcp, lo, port).unwrap_err();
        assert!(matches!(e, PortError::InUse { proto: Proto::Tcp, port: p, .. } if p == port));
        assert_eq!(
            e.to_string(),
            format!("port {port}/tcp is already in use on the host (127.0.0.1:{port}): choose another host port")
        );
        // Every address (0.0.0.0) includes 127.0.0.1.
        let e = reserve(Proto::Tcp, None, port).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("port {port}/tcp is already in use on the host (0.0.0.0:{port}): choose another host port")
        );
        // Not listening: nothing answers on it.
        assert!(std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err());
        // UDP is another port space.
        let (udp, _u) = reserve(Proto::Udp, lo, port).unwrap();
        assert_eq!(udp, port);

        drop(r);
        let (again, _r) = reserve(Proto::Tcp, lo, port).unwrap();
        assert_eq!(again, port);
    }

    #[test]
    fn udp_port_is_held_until_dropped() {
        let (port, r) = reserve(Proto::Udp, None, 0).unwrap();
        let (min, max) = ephemeral_range();
        assert!((min..=max).contains(&port), "{port} not in {min}-{max}");
        let e = reserve(Proto::Udp, None, port).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("port {port}/udp is already in use on the host (0.0.0.0:{port}): choose another host port")
        );
        assert!(std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_err());
        drop(r);
        assert!(std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok());
    }

    #[test]
    fn port_of_a_listening_program_is_in_use() {
        // std sets SO_REUSEADDR on listeners; a listening socket still refuses our bind.
        let listener = std::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let e = reserve(Proto::Tcp, None, port).unwrap_err();
        assert!(matches!(e, PortError::InUse { .. }), "{e}");
        let e = reserve(Proto::Tcp, Some(Ipv4Addr::LOCALHOST), port).unwrap_err();
        assert!(matches!(e, PortError::InUse { .. }), "{e}");
    }

    #[test]
    fn address_not_on_the_host_is_an_io_error() {
        let nonlocal = std::fs::read_to_string("/proc/sys/net/ipv4/ip_nonlocal_bind").unwrap();
        if nonlocal.trim() != "0" {
            eprintln!("skipping address_not_on_the_host_is_an_io_error: ip_nonlocal_bind is on");
            return;
        }
        let e = reserve(Proto::Tcp, Some(Ipv4Addr::new(198, 51, 100, 77)), 8080).unwrap_err();
        assert!(matches!(e, PortError::Io(..)), "{e}");
        assert!(
            e.to_string()
                .starts_with("cannot reserve host port 8080/tcp on 198.51.100.77: "),
            "{e}"
        );
    }
}
