//! Docker's embedded DNS resolver at 127.0.0.11:53 (udp and tcp) for containers on user
//! networks: the shared registry of container names per network (`registry`), what to do
//! with one DNS message (`message`), relaying to the upstream nameservers (`forward`), and
//! the per-container server (`server`). See docs/networking-contract.md.
//!
//! DNS messages are parsed and encoded with `hickory-proto` (default features off: no
//! runtime, no DNSSEC), the well-kept protocol crate of the Rust DNS projects, rather than
//! a parser of our own.

mod forward;
mod message;
mod registry;
mod server;
#[cfg(test)]
mod tests;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

pub use registry::DnsRegistry;
pub use server::DnsServer;

use crate::netns::NetnsError;

/// The address of the embedded resolver inside every container's namespace.
pub const DNS_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// Errors from starting an embedded resolver; each names the container's namespace.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("bind the embedded dns server to {addr}/{proto} in network namespace {}: {source}; is lo up there, and is nothing else listening on it?", netns.display())]
    Bind {
        netns: PathBuf,
        proto: &'static str,
        addr: SocketAddr,
        source: io::Error,
    },
    #[error("register the embedded dns {proto} socket of network namespace {} with the runtime: {source}; start the server from within the daemon's tokio runtime", netns.display())]
    Runtime {
        netns: PathBuf,
        proto: &'static str,
        source: io::Error,
    },
}
