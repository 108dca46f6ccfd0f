//! Container networking: network namespaces (`netns`), links, addresses and routes over
//! netlink (`link`), the nftables table `ip pouch` for NAT, isolation and published ports
//! (`firewall`), host port reservations (`ports`), address management (`ipam`), the
//! embedded DNS resolver on 127.0.0.11 (`dns`), the generated `/etc/hosts`,
//! `/etc/resolv.conf` and `/etc/hostname` (`files`), and the network manager that ties them
//! together (`manager`). See docs/networking-contract.md.

pub mod dns;
pub mod files;
pub mod firewall;
pub mod ipam;
pub mod link;
pub mod manager;
pub mod netns;
pub mod ports;
