//! Parsers of single flag values of `create`/`run`, with the docker CLI's rules and error
//! texts (`opts/`, `go-units`): sizes, CPUs, ulimits, devices, block-I/O throttles and
//! weights, restart policies, the small validators (sysctls, extra hosts, IP addresses, DNS
//! search domains, MAC addresses, attach streams, detach keys) and Go's CSV line syntax of
//! `--mount` and `--network`. Each returns the reason text docker prints after
//! `invalid argument "V" for "F" flag: `. Env and label files are in [`super::kv`], port
//! specs in [`super::ports`].

use std::net::IpAddr;

use pouch_api::container::{DeviceMapping, RestartPolicy, ThrottleDevice, Ulimit, WeightDevice};

/// go-units' `RAMInBytes`: `^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$`, binary multipliers.
pub fn ram_in_bytes(text: &str) -> Result<i64, String> {
    let invalid = || format!("invalid size: '{text}'");
    let bytes = text.as_bytes();
    let mut i = 0;
    // Number: digits, then any number of `.digits` groups (as the regex allows).
    let start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if i == start {
        return Err(invalid());
    }
    while i < bytes.len() && bytes[i] == b'.' {
        let group = i + 1;
        let mut j = group;
        while j < bytes.len() && bytes[j].is_ascii_digit() {
            j += 1;
        }
        if j == group {
            return Err(invalid());
        }
        i = j;
    }
    let number = &text[start..i];
    if i < bytes.len() && bytes[i] == b' ' {
        i += 1;
    }
    let mut multiplier: f64 = 1.0;
    if i < bytes.len() {
        let power = match bytes[i].to_ascii_lowercase() {
            b'k' => Some(1),
            b'm' => Some(2),
            b'g' => Some(3),
            b't' => Some(4),
            b'p' => Some(5),
            _ => None,
        };
        if let Some(p) = power {
            multiplier = 1024f64.powi(p);
            i += 1;
        }
    }
    if i < bytes.len() && bytes[i].eq_ignore_ascii_case(&b'i') {
        i += 1;
    }
    if i < bytes.len() && bytes[i].eq_ignore_ascii_case(&b'b') {
        i += 1;
    }
    if i != bytes.len() {
        return Err(invalid());
    }
    // Go's ParseFloat rejects "1.2.3", which the regex lets through.
    let value: f64 = number
        .parse()
        .map_err(|_| format!("strconv.ParseFloat: parsing \"{number}\": invalid syntax"))?;
    Ok((value * multiplier) as i64)
}

/// `--memory-swap`: a size, or `-1` for unlimited swap.
pub fn mem_swap_bytes(text: &str) -> Result<i64, String> {
    if text == "-1" {
        return Ok(-1);
    }
    ram_in_bytes(text)
}

/// `--cpus`: a rational number of CPUs (`1.5`, `3/2`) to nano-CPUs, exactly (docker's
/// `ParseCPUs` on a `big.Rat`).
pub fn parse_cpus(text: &str) -> Result<i64, String> {
    let not_rational = || format!("failed to parse {text} as a rational number");
    let (num, den) = match text.split_once('/') {
        Some((n, d)) => {
            let n: i128 = n.parse().map_err(|_| not_rational())?;
            let d: i128 = d.parse().map_err(|_| not_rational())?;
            if d == 0 {
                return Err(not_rational());
            }
            (n, d)
        }
        None => decimal_fraction(text).ok_or_else(not_rational)?,
    };
    let scaled = num
        .checked_mul(1_000_000_000)
        .ok_or_else(|| "value is too precise".to_string())?;
    if scaled % den != 0 {
        return Err("value is too precise".into());
    }
    i64::try_from(scaled / den).map_err(|_| "value is too precise".to_string())
}

/// `[-+]digits[.digits]` as numerator / power-of-ten denominator.
fn decimal_fraction(text: &str) -> Option<(i128, i128)> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
        || frac_part.len() > 30
    {
        return None;
    }
    let digits = format!("{int_part}{frac_part}");
    let num: i128 = digits.parse().ok()?;
    let den = 10i128.checked_pow(frac_part.len() as u32)?;
    Some((if negative { -num } else { num }, den))
}

/// Ulimit names docker accepts.
const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// Go's `strconv.ParseInt(s, 0, 64)`: decimal, `0x`, `0o`/`0`, `0b` prefixes and a sign.
fn parse_go_int(text: &str) -> Option<i64> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let body = body.replace('_', "");
    let lower = body.to_ascii_lowercase();
    let value = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if lower.len() > 1 && lower.starts_with('0') {
        i64::from_str_radix(&lower[1..], 8).ok()?
    } else {
        lower.parse().ok()?
    };
    Some(if negative { -value } else { value })
}

/// `--ulimit name=soft[:hard]` (go-units `ParseUlimit`).
pub fn parse_ulimit(text: &str) -> Result<Ulimit, String> {
    let (name, limits) = text
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {text}"))?;
    if !ULIMIT_NAMES.contains(&name) {
        return Err(format!("invalid ulimit type: {name}"));
    }
    let parts: Vec<&str> = limits.split(':').collect();
    if parts.len() > 2 {
        return Err(format!(
            "too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`"
        ));
    }
    let number = |s: &str| {
        parse_go_int(s).ok_or_else(|| format!("strconv.ParseInt: parsing \"{s}\": invalid syntax"))
    };
    let soft = number(parts[0])?;
    let hard = match parts.get(1) {
        Some(h) => number(h)?,
        None => soft,
    };
    if hard != -1 && soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

/// `r`, `w`, `m`, each at most once.
fn valid_device_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return false;
    }
    let mut seen = [false; 3];
    for c in mode.chars() {
        let i = match c {
            'r' => 0,
            'w' => 1,
            'm' => 2,
            _ => return false,
        };
        if seen[i] {
            return false;
        }
        seen[i] = true;
    }
    true
}

/// `--device host[:container][:perms]` (docker's `validateDevice` then `parseDevice`).
pub fn parse_device(text: &str) -> Result<DeviceMapping, String> {
    // Validation, as the flag's validator does it.
    if text.matches(':').count() > 2 {
        return Err(format!("bad format for path: {text}"));
    }
    let split: Vec<&str> = text.splitn(3, ':').collect();
    if split[0].is_empty() {
        return Err(format!("bad format for path: {text}"));
    }
    let container_path = match split.len() {
        1 => split[0],
        2 if valid_device_mode(split[1]) => split[0],
        2 => split[1],
        _ => {
            if !valid_device_mode(split[2]) {
                return Err(format!("bad mode specified: {}", split[2]));
            }
            split[1]
        }
    };
    if !container_path.starts_with('/') {
        return Err(format!("{container_path} is not an absolute path"));
    }
    // Mapping.
    let mut permissions = "rwm".to_string();
    let mut dst = String::new();
    if split.len() == 3 {
        permissions = split[2].to_string();
    }
    if split.len() >= 2 {
        if valid_device_mode(split[1]) {
            permissions = split[1].to_string();
        } else {
            dst = split[1].to_string();
        }
    }
    let src = split[0].to_string();
    if dst.is_empty() {
        dst = src.clone();
    }
    Ok(DeviceMapping {
        path_on_host: src,
        path_in_container: dst,
        cgroup_permissions: permissions,
    })
}

fn device_and_value(text: &str) -> Result<(&str, &str), String> {
    match text.split_once(':') {
        Some((k, v)) if !k.is_empty() => {
            if !k.starts_with("/dev/") {
                return Err(format!("bad format for device path: {text}"));
            }
            Ok((k, v))
        }
        _ => Err(format!("bad format: {text}")),
    }
}

/// `--device-read-bps /dev/sda:1mb` (a size per second).
pub fn parse_throttle_bps(text: &str) -> Result<ThrottleDevice, String> {
    let (path, value) = device_and_value(text)?;
    let rate = ram_in_bytes(value).map_err(|_| {
        format!(
            "invalid rate for device: {text}. The correct format is <device-path>:<number>[<unit>]. \
             Number must be a positive integer. Unit is optional and can be kb, mb, or gb"
        )
    })?;
    Ok(ThrottleDevice {
        path: path.to_string(),
        rate: rate as u64,
    })
}

/// `--device-read-iops /dev/sda:1000`.
pub fn parse_throttle_iops(text: &str) -> Result<ThrottleDevice, String> {
    let (path, value) = device_and_value(text)?;
    let rate: u64 = value.parse().map_err(|_| {
        format!(
            "invalid rate for device: {text}. The correct format is <device-path>:<number>. \
             Number must be a positive integer"
        )
    })?;
    Ok(ThrottleDevice {
        path: path.to_string(),
        rate,
    })
}

/// `--blkio-weight-device /dev/sda:500` (10 to 1000, or 0).
pub fn parse_weight_device(text: &str) -> Result<WeightDevice, String> {
    let (path, value) = device_and_value(text)?;
    let weight: u16 = value
        .parse()
        .map_err(|_| format!("invalid weight for device: {text}"))?;
    if weight > 0 && !(10..=1000).contains(&weight) {
        return Err(format!("invalid weight for device: {text}"));
    }
    Ok(WeightDevice {
        path: path.to_string(),
        weight,
    })
}

/// `--restart no|always|unless-stopped|on-failure[:N]` (docker's `ParseRestartPolicy`; the
/// daemon validates the name).
pub fn parse_restart_policy(text: &str) -> Result<RestartPolicy, String> {
    if text.is_empty() {
        return Ok(RestartPolicy::default());
    }
    let (name, count) = match text.split_once(':') {
        Some(("", _)) => {
            return Err("invalid restart policy format: no policy provided before colon".into())
        }
        Some((n, c)) => (n, c),
        None => (text, ""),
    };
    let mut policy = RestartPolicy {
        name: name.to_string(),
        maximum_retry_count: 0,
    };
    if !count.is_empty() {
        policy.maximum_retry_count = count.parse().map_err(|_| {
            "invalid restart policy format: maximum retry count must be an integer".to_string()
        })?;
    }
    Ok(policy)
}

/// `--sysctl`: namespaced kernel parameters only.
pub fn validate_sysctl(text: &str) -> Result<(String, String), String> {
    const VALID: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let not_allowed = || format!("sysctl '{text}' is not allowed");
    let (k, v) = text.split_once('=').ok_or_else(not_allowed)?;
    if k.is_empty() {
        return Err(not_allowed());
    }
    if VALID.contains(&k) || k.starts_with("net.") || k.starts_with("fs.mqueue.") {
        Ok((k.to_string(), v.to_string()))
    } else {
        Err(not_allowed())
    }
}

/// `--dns`: an IP address.
pub fn validate_ip(text: &str) -> Result<String, String> {
    text.trim()
        .parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| format!("IP address is not correctly formatted: {text}"))
}

/// `--add-host host:ip` or `host=ip` (`host-gateway` allowed), sent as `host:ip` with the
/// address in canonical form (the daemon does not check it again).
pub fn validate_extra_host(text: &str) -> Result<String, String> {
    let (k, v) = text
        .split_once('=')
        .or_else(|| text.split_once(':'))
        .filter(|(k, _)| !k.is_empty() && !k.contains(':'))
        .ok_or_else(|| format!("bad format for add-host: {text:?}"))?;
    if v == "host-gateway" {
        return Ok(format!("{k}:{v}"));
    }
    let mut ip = v;
    if ip.len() > 2 && ip.starts_with('[') && ip.ends_with(']') {
        ip = &ip[1..ip.len() - 1];
    }
    match ip.trim().parse::<IpAddr>() {
        Ok(addr) => Ok(format!("{k}:{addr}")),
        Err(_) => Err(format!("invalid IP address in add-host: {ip:?}")),
    }
}

/// `--dns-search`: a domain name (a trailing dot dropped) or `.` (docker's
/// `ValidateDNSSearch`).
pub fn validate_dns_search(text: &str) -> Result<String, String> {
    let val = text.trim_matches(' ');
    if val == "." {
        return Ok(val.to_string());
    }
    let invalid = || format!("{val} is not a valid domain");
    if !val.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(invalid());
    }
    let name = val.trim_end_matches(char::is_whitespace);
    let name = name.strip_suffix('.').unwrap_or(name);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.len() < 255 && name.split('.').all(label_ok) {
        Ok(name.to_string())
    } else {
        Err(invalid())
    }
}

/// One line of Go's `encoding/csv` (the syntax of `--mount` and `--network` options): fields
/// split at commas, a field in double quotes may hold commas and `""` for a quote.
pub fn csv_fields(text: &str) -> Result<Vec<String>, String> {
    if text.is_empty() {
        return Err("EOF".into());
    }
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("extraneous or missing \" in quoted-field".into()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err("extraneous or missing \" in quoted-field".into()),
            }
            continue;
        }
        loop {
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => break,
                Some('"') => return Err("bare \" in non-quoted-field".into()),
                Some(c) => field.push(c),
            }
        }
        fields.push(field);
    }
}

/// Go's `net.ParseMAC` for the 6-byte forms (`02:42:ac:11:00:02`, `02-42-ac-11-00-02`,
/// `0242.ac11.0002`).
pub fn valid_mac(text: &str) -> bool {
    let t = text.trim();
    let hex_pairs = |sep: char| {
        let parts: Vec<&str> = t.split(sep).collect();
        parts.len() == 6
            && parts
                .iter()
                .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let dotted = {
        let parts: Vec<&str> = t.split('.').collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|p| p.len() == 4 && p.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    hex_pairs(':') || hex_pairs('-') || dotted
}

/// `-a stdin|stdout|stderr` (any case), lower-cased.
pub fn validate_attach(text: &str) -> Result<String, String> {
    let lower = text.to_lowercase();
    match lower.as_str() {
        "stdin" | "stdout" | "stderr" => Ok(lower),
        _ => Err("valid streams are STDIN, STDOUT and STDERR".into()),
    }
}

/// Docker's detach-key syntax (`ctrl-p,ctrl-q`, `a,ctrl-@`) to bytes.
pub fn detach_keys_to_bytes(keys: &str) -> Result<Vec<u8>, String> {
    let mut codes = Vec::new();
    for key in keys.split(',') {
        if key.len() == 1 {
            codes.push(key.as_bytes()[0]);
            continue;
        }
        let code = key.strip_prefix("ctrl-").and_then(|k| match k.as_bytes() {
            [c @ b'a'..=b'z'] => Some(c - b'a' + 1),
            [b'@'] => Some(0),
            [b'['] => Some(27),
            [b'\\'] => Some(28),
            [b']'] => Some(29),
            [b'^'] => Some(30),
            [b'_'] => Some(31),
            _ => None,
        });
        match code {
            Some(c) => codes.push(c),
            None if key.starts_with("ctrl-") => return Err(format!("Unknown key: '{key}'")),
            None => return Err(format!("Unknown character: '{key}'")),
        }
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(ram_in_bytes("32"), Ok(32));
        assert_eq!(ram_in_bytes("32b"), Ok(32));
        assert_eq!(ram_in_bytes("1k"), Ok(1024));
        assert_eq!(ram_in_bytes("1KiB"), Ok(1024));
        assert_eq!(ram_in_bytes("64m"), Ok(64 << 20));
        assert_eq!(ram_in_bytes("64MB"), Ok(64 << 20));
        assert_eq!(ram_in_bytes("1.5g"), Ok(3 << 29));
        assert_eq!(ram_in_bytes("2 g"), Ok(2 << 30));
        assert_eq!(ram_in_bytes("1t"), Ok(1 << 40));
        assert_eq!(ram_in_bytes("abc"), Err("invalid size: 'abc'".into()));
        assert_eq!(ram_in_bytes(""), Err("invalid size: ''".into()));
        assert!(ram_in_bytes("-1").is_err());
        assert!(ram_in_bytes("1x").is_err());
        assert!(ram_in_bytes("1mm").is_err());
        assert!(ram_in_bytes("1.").is_err());
        assert_eq!(mem_swap_bytes("-1"), Ok(-1));
        assert_eq!(mem_swap_bytes("1g"), Ok(1 << 30));
    }

    #[test]
    fn cpus_are_exact_nano_cpus() {
        assert_eq!(parse_cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(parse_cpus("2"), Ok(2_000_000_000));
        assert_eq!(parse_cpus("0.001"), Ok(1_000_000));
        assert_eq!(parse_cpus(".5"), Ok(500_000_000));
        assert_eq!(parse_cpus("3/2"), Ok(1_500_000_000));
        assert_eq!(
            parse_cpus("0.0000000001"),
            Err("value is too precise".into())
        );
        assert_eq!(
            parse_cpus("abc"),
            Err("failed to parse abc as a rational number".into())
        );
        assert!(parse_cpus("1/0").is_err());
    }

    #[test]
    fn ulimits() {
        let u = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 1024, 2048));
        let u = parse_ulimit("nproc=512").unwrap();
        assert_eq!((u.soft, u.hard), (512, 512));
        let u = parse_ulimit("memlock=-1:-1").unwrap();
        assert_eq!((u.soft, u.hard), (-1, -1));
        assert_eq!(parse_ulimit("core=0x10").unwrap().soft, 16);
        assert_eq!(
            parse_ulimit("nofile").unwrap_err(),
            "invalid ulimit argument: nofile"
        );
        assert_eq!(
            parse_ulimit("bogus=1").unwrap_err(),
            "invalid ulimit type: bogus"
        );
        assert_eq!(
            parse_ulimit("nofile=2048:1024").unwrap_err(),
            "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024"
        );
        assert!(parse_ulimit("nofile=1:2:3")
            .unwrap_err()
            .starts_with("too many"));
        assert!(parse_ulimit("nofile=x").is_err());
    }

    #[test]
    fn devices() {
        let d = parse_device("/dev/fuse").unwrap();
        assert_eq!(
            (
                d.path_on_host.as_str(),
                d.path_in_container.as_str(),
                d.cgroup_permissions.as_str()
            ),
            ("/dev/fuse", "/dev/fuse", "rwm")
        );
        let d = parse_device("/dev/sda:/dev/xvda:r").unwrap();
        assert_eq!(
            (d.path_in_container.as_str(), d.cgroup_permissions.as_str()),
            ("/dev/xvda", "r")
        );
        let d = parse_device("/dev/null:rw").unwrap();
        assert_eq!(
            (d.path_in_container.as_str(), d.cgroup_permissions.as_str()),
            ("/dev/null", "rw")
        );
        assert_eq!(
            parse_device("/dev/sda:/dev/xvda:rx").unwrap_err(),
            "bad mode specified: rx"
        );
        assert_eq!(
            parse_device("/dev/sda:xvda").unwrap_err(),
            "xvda is not an absolute path"
        );
        assert!(parse_device(":/x").is_err());
        assert!(parse_device("/a:/b:r:w").is_err());
        assert!(!valid_device_mode("rr"));
    }

    #[test]
    fn block_io_values() {
        let t = parse_throttle_bps("/dev/sda:1mb").unwrap();
        assert_eq!((t.path.as_str(), t.rate), ("/dev/sda", 1 << 20));
        assert_eq!(parse_throttle_iops("/dev/sda:1000").unwrap().rate, 1000);
        assert_eq!(
            parse_throttle_bps("sda:1").unwrap_err(),
            "bad format for device path: sda:1"
        );
        assert_eq!(
            parse_throttle_bps("/dev/sda").unwrap_err(),
            "bad format: /dev/sda"
        );
        assert!(parse_throttle_bps("/dev/sda:x")
            .unwrap_err()
            .starts_with("invalid rate"));
        assert!(parse_throttle_iops("/dev/sda:1k").is_err());
        assert_eq!(parse_weight_device("/dev/sda:500").unwrap().weight, 500);
        assert_eq!(parse_weight_device("/dev/sda:0").unwrap().weight, 0);
        assert!(parse_weight_device("/dev/sda:5").is_err());
        assert!(parse_weight_device("/dev/sda:1001").is_err());
    }

    #[test]
    fn restart_policies() {
        let p = parse_restart_policy("on-failure:3").unwrap();
        assert_eq!((p.name.as_str(), p.maximum_retry_count), ("on-failure", 3));
        assert_eq!(parse_restart_policy("always").unwrap().name, "always");
        assert_eq!(parse_restart_policy("no").unwrap().name, "no");
        assert_eq!(parse_restart_policy("").unwrap(), RestartPolicy::default());
        assert_eq!(
            parse_restart_policy(":3").unwrap_err(),
            "invalid restart policy format: no policy provided before colon"
        );
        assert_eq!(
            parse_restart_policy("on-failure:x").unwrap_err(),
            "invalid restart policy format: maximum retry count must be an integer"
        );
    }

    #[test]
    fn sysctls_and_hosts() {
        assert_eq!(
            validate_sysctl("net.ipv4.ip_forward=1").unwrap(),
            ("net.ipv4.ip_forward".into(), "1".into())
        );
        assert!(validate_sysctl("kernel.shmmax=1").is_ok());
        assert_eq!(
            validate_sysctl("kernel.hostname=x").unwrap_err(),
            "sysctl 'kernel.hostname=x' is not allowed"
        );
        assert_eq!(validate_extra_host("db:10.0.0.2").unwrap(), "db:10.0.0.2");
        assert_eq!(validate_extra_host("db=::1").unwrap(), "db:::1");
        assert_eq!(validate_extra_host("db:[::1]").unwrap(), "db:::1");
        assert_eq!(
            validate_extra_host("gw:host-gateway").unwrap(),
            "gw:host-gateway"
        );
        assert_eq!(
            validate_extra_host("db=2001:DB8::0001").unwrap(),
            "db:2001:db8::1"
        );
        assert!(validate_extra_host("db").is_err());
        assert!(validate_extra_host("db:nope").is_err());
        assert_eq!(validate_ip("8.8.8.8").unwrap(), "8.8.8.8");
        assert!(validate_ip("8.8.8").is_err());
        assert_eq!(validate_attach("STDIN").unwrap(), "stdin");
        assert!(validate_attach("stdall").is_err());
    }

    #[test]
    fn detach_keys() {
        assert_eq!(detach_keys_to_bytes("ctrl-p,ctrl-q").unwrap(), [16, 17]);
        assert_eq!(
            detach_keys_to_bytes("a,ctrl-@,ctrl-_").unwrap(),
            [b'a', 0, 31]
        );
        assert_eq!(
            detach_keys_to_bytes("ctrl-1").unwrap_err(),
            "Unknown key: 'ctrl-1'"
        );
        assert_eq!(
            detach_keys_to_bytes("ab").unwrap_err(),
            "Unknown character: 'ab'"
        );
    }

    #[test]
    fn dns_search_domains() {
        assert_eq!(validate_dns_search("example.com").unwrap(), "example.com");
        assert_eq!(validate_dns_search("example.com.").unwrap(), "example.com");
        assert_eq!(validate_dns_search(".").unwrap(), ".");
        assert_eq!(validate_dns_search("a-b.c1").unwrap(), "a-b.c1");
        assert_eq!(
            validate_dns_search("1abc").unwrap_err(),
            "1abc is not a valid domain"
        );
        assert!(validate_dns_search("a..b").is_err());
        assert!(validate_dns_search("a_b").is_err());
        assert!(validate_dns_search("-a").is_err());
    }

    #[test]
    fn csv_like_go() {
        assert_eq!(csv_fields("a=1,b=2").unwrap(), ["a=1", "b=2"]);
        assert_eq!(csv_fields("a,,b,").unwrap(), ["a", "", "b", ""]);
        assert_eq!(
            csv_fields(r#""volume-opt=o=size=1g,uid=1",target=/x"#).unwrap(),
            ["volume-opt=o=size=1g,uid=1", "target=/x"]
        );
        assert_eq!(csv_fields(r#""a""b""#).unwrap(), [r#"a"b"#]);
        assert!(csv_fields(r#"a"b"#).is_err());
        assert!(csv_fields(r#""ab"#).is_err());
        assert!(csv_fields(r#""a"b"#).is_err());
        assert!(csv_fields("").is_err());
    }

    #[test]
    fn mac_addresses() {
        assert!(valid_mac("02:42:ac:11:00:02"));
        assert!(valid_mac("02-42-AC-11-00-02"));
        assert!(valid_mac("0242.ac11.0002"));
        assert!(!valid_mac("02:42:ac:11:00"));
        assert!(!valid_mac("02:42:ac:11:00:0g"));
        assert!(!valid_mac("nope"));
    }
}
