//! The network files a container sees: `/etc/resolv.conf` derived from the host's (Docker's
//! filtering of loopback nameservers, `--dns`, `--dns-search`, `--dns-option`, and the
//! embedded resolver's form for user networks), `/etc/hosts` (Docker's fixed lines, extra
//! hosts, the container's own name), and the upstream nameservers the embedded resolver
//! forwards to. Pure functions of their inputs; the caller reads the host's file and writes
//! the results. See docs/networking-contract.md.

use std::net::{IpAddr, Ipv4Addr};

use crate::dns::DNS_ADDRESS;

/// Docker's nameservers when the host has none but loopback ones.
const DEFAULT_NAMESERVERS: [Ipv4Addr; 2] = [Ipv4Addr::new(8, 8, 8, 8), Ipv4Addr::new(8, 8, 4, 4)];

/// The option the embedded resolver adds so single-label names are tried as they are first.
const EMBEDDED_NDOTS: &str = "ndots:0";

/// The values of a resolv.conf that Docker reads.
#[derive(Debug, Default)]
struct Parsed {
    nameservers: Vec<String>,
    /// The last `search` line's domains (later lines replace earlier ones, as in libc).
    search: Vec<String>,
    /// The last `options` line's options.
    options: Vec<String>,
}

/// The keyword and its values of a resolv.conf line; `None` for blanks and comments.
fn fields(line: &str) -> Option<(&str, Vec<&str>)> {
    let line = line.trim();
    if line.starts_with('#') || line.starts_with(';') {
        return None;
    }
    let mut words = line.split_whitespace();
    let key = words.next()?;
    Some((key, words.collect()))
}

fn parse(text: &str) -> Parsed {
    let mut p = Parsed::default();
    for (key, values) in text.lines().filter_map(fields) {
        let values = values.into_iter().map(String::from);
        match key {
            "nameserver" => p.nameservers.extend(values.take(1)),
            "search" => p.search = values.collect(),
            "options" => p.options = values.collect(),
            _ => {}
        }
    }
    p
}

/// `true` for 127.0.0.0/8 and ::1 (with or without a zone), the nameservers that mean the
/// host's own loopback and so cannot be reached from a container.
fn is_loopback(ns: &str) -> bool {
    let addr = ns.split('%').next().unwrap_or(ns);
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

fn is_loopback_line(line: &str) -> bool {
    matches!(fields(line), Some(("nameserver", v)) if v.first().is_some_and(|ns| is_loopback(ns)))
}

/// The host's nameservers without loopback ones, or Docker's defaults when none is left.
fn host_nameservers(p: &Parsed) -> Vec<String> {
    let kept: Vec<String> = p
        .nameservers
        .iter()
        .filter(|ns| !is_loopback(ns))
        .cloned()
        .collect();
    if kept.is_empty() {
        DEFAULT_NAMESERVERS
            .iter()
            .map(|ip| ip.to_string())
            .collect()
    } else {
        kept
    }
}

/// A resolv.conf made of a search line, nameserver lines and an options line, as Docker
/// builds one (libnetwork `resolvconf.Build`): a search of `.` alone means none.
fn build(nameservers: &[String], search: &[String], options: &[String]) -> String {
    let mut out = String::new();
    let search = search.join(" ");
    if !search.trim().is_empty() && search.trim() != "." {
        out.push_str(&format!("search {search}\n"));
    }
    for ns in nameservers {
        out.push_str(&format!("nameserver {ns}\n"));
    }
    let options = options.join(" ");
    if !options.trim().is_empty() {
        out.push_str(&format!("options {options}\n"));
    }
    out
}

/// `given` when the user gave any, else `host`.
fn or_host<'a>(given: &'a [String], host: &'a [String]) -> &'a [String] {
    if given.is_empty() {
        host
    } else {
        given
    }
}

/// The host's resolv.conf without loopback nameservers (Docker's filtering; 8.8.8.8 and
/// 8.8.4.4 when none is left), with the container's --dns/--dns-search/--dns-option applied;
/// `embedded` → `nameserver 127.0.0.11` and `options ndots:0` as Docker writes for user networks.
///
/// Without overrides the host's other lines (comments, `domain`, `sortlist`) are kept; with
/// any override or `embedded` the file is rebuilt from search, nameservers and options, where
/// each value not given comes from the host. `ndots:0` is not added when an `ndots` option is
/// already there (the user's choice wins, as in Docker).
pub fn resolv_conf(
    host_resolv: &str,
    dns: &[String],
    search: &[String],
    options: &[String],
    embedded: bool,
) -> String {
    let host = parse(host_resolv);
    let overridden = !dns.is_empty() || !search.is_empty() || !options.is_empty();
    let search = or_host(search, &host.search);
    let options = or_host(options, &host.options);
    if embedded {
        let mut options = options.to_vec();
        if !options.iter().any(|o| o.starts_with("ndots:")) {
            options.push(EMBEDDED_NDOTS.to_string());
        }
        return build(&[DNS_ADDRESS.to_string()], search, &options);
    }
    if overridden {
        let nameservers = if dns.is_empty() {
            host_nameservers(&host)
        } else {
            dns.to_vec()
        };
        return build(&nameservers, search, options);
    }
    let mut out = String::new();
    for line in host_resolv.lines().filter(|l| !is_loopback_line(l)) {
        out.push_str(line);
        out.push('\n');
    }
    if host.nameservers.iter().all(|ns| is_loopback(ns)) {
        for ns in DEFAULT_NAMESERVERS {
            out.push_str(&format!("nameserver {ns}\n"));
        }
    }
    out
}

/// Docker's /etc/hosts: localhost lines, ip6 lines, extra hosts, then `<ip>\t<hostname> [alias]`.
///
/// `extra` holds `(name, ip)` pairs, the order of `--add-host name:ip` (written `ip\tname`);
/// `own` is the container's address and its hostname (with any aliases after a space).
pub fn hosts(own: Option<(Ipv4Addr, &str)>, extra: &[(String, String)]) -> String {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\n\
         ff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    for (name, ip) in extra {
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    if let Some((ip, hostname)) = own {
        out.push_str(&format!("{ip}\t{hostname}\n"));
    }
    out
}

/// Upstream nameservers of the host's resolv.conf (non-loopback).
///
/// When the host lists none but loopback ones (a local caching resolver), these are
/// Docker's defaults 8.8.8.8 and 8.8.4.4, the same servers [`resolv_conf`] then writes.
/// Nameservers that are not plain addresses are skipped.
pub fn upstreams(host_resolv: &str) -> Vec<IpAddr> {
    let kept: Vec<IpAddr> = parse(host_resolv)
        .nameservers
        .iter()
        .filter_map(|ns| ns.parse::<IpAddr>().ok())
        .filter(|ip| !is_loopback(&ip.to_string()))
        .collect();
    if kept.is_empty() {
        DEFAULT_NAMESERVERS
            .iter()
            .map(|ip| IpAddr::V4(*ip))
            .collect()
    } else {
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    const SYSTEMD: &str =
        "# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\n\
        nameserver 127.0.0.53\n\
        options edns0 trust-ad\n\
        search corp.example\n";

    const PLAIN: &str = "domain lan\n\
        search lan example.org\n\
        nameserver 192.0.2.1\n\
        nameserver 127.0.0.1\n\
        nameserver ::1\n\
        nameserver 2001:db8::53\n\
        options timeout:2\n";

    #[test]
    fn host_file_filtered_keeps_other_lines() {
        assert_eq!(
            resolv_conf(PLAIN, &[], &[], &[], false),
            "domain lan\n\
             search lan example.org\n\
             nameserver 192.0.2.1\n\
             nameserver 2001:db8::53\n\
             options timeout:2\n"
        );
    }

    #[test]
    fn only_loopback_nameservers_become_googles() {
        assert_eq!(
            resolv_conf(SYSTEMD, &[], &[], &[], false),
            "# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\n\
             options edns0 trust-ad\n\
             search corp.example\n\
             nameserver 8.8.8.8\n\
             nameserver 8.8.4.4\n"
        );
        assert_eq!(
            resolv_conf("", &[], &[], &[], false),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        // Other 127/8 addresses and an indented line are loopback too.
        assert_eq!(
            resolv_conf(
                "  nameserver 127.1.2.3\nnameserver ::1%lo\n",
                &[],
                &[],
                &[],
                false
            ),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
    }

    #[test]
    fn overrides_rebuild_the_file() {
        // --dns replaces the nameservers; search and options stay the host's.
        assert_eq!(
            resolv_conf(PLAIN, &v(&["1.1.1.1", "127.0.0.1"]), &[], &[], false),
            "search lan example.org\n\
             nameserver 1.1.1.1\n\
             nameserver 127.0.0.1\n\
             options timeout:2\n"
        );
        // --dns-search and --dns-option replace their lines; nameservers are filtered.
        assert_eq!(
            resolv_conf(
                PLAIN,
                &[],
                &v(&["a.test", "b.test"]),
                &v(&["ndots:2", "rotate"]),
                false
            ),
            "search a.test b.test\n\
             nameserver 192.0.2.1\n\
             nameserver 2001:db8::53\n\
             options ndots:2 rotate\n"
        );
        // `--dns-search .` means no search line; the loopback-only host gets the defaults.
        assert_eq!(
            resolv_conf(SYSTEMD, &[], &v(&["."]), &[], false),
            "nameserver 8.8.8.8\n\
             nameserver 8.8.4.4\n\
             options edns0 trust-ad\n"
        );
    }

    #[test]
    fn embedded_points_at_the_resolver_and_adds_ndots() {
        assert_eq!(
            resolv_conf(PLAIN, &[], &[], &[], true),
            "search lan example.org\n\
             nameserver 127.0.0.11\n\
             options timeout:2 ndots:0\n"
        );
        // --dns goes to the resolver's upstreams, not the file.
        assert_eq!(
            resolv_conf(SYSTEMD, &v(&["1.1.1.1"]), &[], &[], true),
            "search corp.example\n\
             nameserver 127.0.0.11\n\
             options edns0 trust-ad ndots:0\n"
        );
        // The user's ndots wins; --dns-search replaces the host's.
        assert_eq!(
            resolv_conf(PLAIN, &[], &v(&["x.test"]), &v(&["ndots:3"]), true),
            "search x.test\nnameserver 127.0.0.11\noptions ndots:3\n"
        );
        assert_eq!(
            resolv_conf("", &[], &[], &[], true),
            "nameserver 127.0.0.11\noptions ndots:0\n"
        );
    }

    #[test]
    fn upstreams_skip_loopback_and_fall_back() {
        assert_eq!(
            upstreams(PLAIN),
            vec![
                "192.0.2.1".parse::<IpAddr>().unwrap(),
                "2001:db8::53".parse().unwrap()
            ]
        );
        let google: Vec<IpAddr> = vec!["8.8.8.8".parse().unwrap(), "8.8.4.4".parse().unwrap()];
        assert_eq!(upstreams(SYSTEMD), google);
        assert_eq!(
            upstreams("# nameserver 10.0.0.1\nnameserver bogus\n"),
            google
        );
    }

    #[test]
    fn hosts_file_in_docker_order() {
        let extra = vec![
            ("db".to_string(), "10.1.2.3".to_string()),
            ("v6host".to_string(), "2001:db8::1".to_string()),
        ];
        assert_eq!(
            hosts(Some((Ipv4Addr::new(172, 18, 0, 2), "abc123def456")), &extra),
            "127.0.0.1\tlocalhost\n\
             ::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\n\
             ff00::0\tip6-mcastprefix\n\
             ff02::1\tip6-allnodes\n\
             ff02::2\tip6-allrouters\n\
             10.1.2.3\tdb\n\
             2001:db8::1\tv6host\n\
             172.18.0.2\tabc123def456\n"
        );
        let plain = hosts(None, &[]);
        assert_eq!(plain.lines().count(), 6);
        assert!(plain.ends_with("ff02::2\tip6-allrouters\n"));
    }
}
