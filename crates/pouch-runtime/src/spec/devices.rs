//! Devices: `--device /dev/x[:/dev/y[:rwm]]` (the host node stat'ed for type, numbers and
//! mode; a directory adds every node under it), `--device-cgroup-rule`, the device cgroup's
//! default rules (deny all, then runc's default allow list), every host device for
//! `--privileged`, and the block device numbers `--blkio-weight-device` and the throttles need.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};
use pouch_api::container::DeviceMapping;

use super::SpecError;

fn rule(
    allow: bool,
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow)
        .set_typ(Some(typ))
        .set_major(major)
        .set_minor(minor)
        .set_access(Some(access.to_string()));
    r
}

/// Deny everything, then allow what every container needs: mknod of any node, null, zero,
/// full, random, urandom, tty, console, ptmx, the pts nodes and tun.
pub fn default_rules() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{A, B, C};
    let mut v = vec![
        rule(false, A, None, None, "rwm"),
        rule(true, C, None, None, "m"),
        rule(true, B, None, None, "m"),
    ];
    for (major, minor) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
    ] {
        v.push(rule(true, C, Some(major), Some(minor), "rwm"));
    }
    v.push(rule(true, C, Some(136), None, "rwm"));
    v.push(rule(true, C, Some(10), Some(200), "rwm"));
    v
}

/// The rule of `--privileged`: every device.
pub fn allow_all_rule() -> LinuxDeviceCgroup {
    rule(true, LinuxDeviceType::A, None, None, "rwm")
}

/// The device at `path` (symlinks followed), `None` when it is not a char or block node.
fn stat_device(path: &Path, container_path: &Path) -> std::io::Result<Option<LinuxDevice>> {
    let meta = std::fs::metadata(path)?;
    let ft = meta.file_type();
    let typ = if ft.is_char_device() {
        LinuxDeviceType::C
    } else if ft.is_block_device() {
        LinuxDeviceType::B
    } else {
        return Ok(None);
    };
    let rdev = meta.rdev();
    let mut d = LinuxDevice::default();
    d.set_path(container_path.to_path_buf())
        .set_typ(typ)
        .set_major(rustix::fs::major(rdev) as i64)
        .set_minor(rustix::fs::minor(rdev) as i64)
        .set_file_mode(Some(meta.mode() & 0o7777))
        .set_uid(Some(meta.uid()))
        .set_gid(Some(meta.gid()));
    Ok(Some(d))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, skip: &[&str]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        match e.file_type() {
            Ok(ft) if ft.is_dir() => walk(&path, out, skip),
            Ok(ft) if ft.is_char_device() || ft.is_block_device() => out.push(path),
            _ => {}
        }
    }
}

/// `--device`: the nodes to create and the rules that allow them.
pub fn from_mapping(m: &DeviceMapping) -> Result<Vec<(LinuxDevice, LinuxDeviceCgroup)>, SpecError> {
    let raw = if m.path_in_container.is_empty() {
        m.path_on_host.clone()
    } else {
        format!("{}:{}", m.path_on_host, m.path_in_container)
    };
    let flag = "--device";
    let perms = if m.cgroup_permissions.is_empty() {
        "rwm"
    } else {
        m.cgroup_permissions.as_str()
    };
    if !perms.chars().all(|c| "rwm".contains(c)) {
        return Err(SpecError::invalid(
            flag,
            &raw,
            format!("bad permissions {perms} (want a mix of r, w, m)"),
        ));
    }
    let host = Path::new(&m.path_on_host);
    if !host.is_absolute() {
        return Err(SpecError::invalid(
            flag,
            &raw,
            "the host path must be absolute",
        ));
    }
    let inside = if m.path_in_container.is_empty() {
        host
    } else {
        Path::new(&m.path_in_container)
    };
    if !inside.is_absolute() {
        return Err(SpecError::invalid(
            flag,
            &raw,
            "the container path must be absolute",
        ));
    }
    let with_rule = |d: LinuxDevice| {
        let r = rule(true, d.typ(), Some(d.major()), Some(d.minor()), perms);
        (d, r)
    };
    match stat_device(host, inside) {
        Ok(Some(d)) => Ok(vec![with_rule(d)]),
        Ok(None) if host.is_dir() => {
            let mut nodes = Vec::new();
            walk(host, &mut nodes, &[]);
            let mut out = Vec::new();
            for node in nodes {
                let rel = node.strip_prefix(host).unwrap_or(&node);
                if let Ok(Some(d)) = stat_device(&node, &inside.join(rel)) {
                    out.push(with_rule(d));
                }
            }
            if out.is_empty() {
                return Err(SpecError::invalid(
                    flag,
                    &raw,
                    "the directory holds no device nodes",
                ));
            }
            Ok(out)
        }
        Ok(None) => Err(SpecError::invalid(flag, &raw, "not a device node")),
        Err(e) => Err(SpecError::invalid(flag, &raw, e.to_string())),
    }
}

/// Every device node of the host's `/dev` (for `--privileged`), as Docker/containerd list them.
pub fn host_devices() -> Vec<LinuxDevice> {
    let mut nodes = Vec::new();
    walk(
        Path::new("/dev"),
        &mut nodes,
        &[
            "pts",
            "shm",
            "fd",
            "mqueue",
            ".lxc",
            ".lxd-mounts",
            ".udev",
            "console",
        ],
    );
    nodes
        .into_iter()
        .filter_map(|p| stat_device(&p, &p).ok().flatten())
        .collect()
}

/// `--device-cgroup-rule 'c 1:3 mr'` (`*` for any number).
pub fn parse_cgroup_rule(raw: &str) -> Result<LinuxDeviceCgroup, SpecError> {
    let flag = "--device-cgroup-rule";
    let bad = |why: &str| SpecError::invalid(flag, raw, why.to_string());
    let parts: Vec<&str> = raw.split_whitespace().collect();
    let [typ, nums, access] = parts.as_slice() else {
        return Err(bad("want 'TYPE MAJOR:MINOR ACCESS', e.g. 'c 1:3 rwm'"));
    };
    let typ = match *typ {
        "a" => LinuxDeviceType::A,
        "b" => LinuxDeviceType::B,
        "c" => LinuxDeviceType::C,
        _ => return Err(bad("the type must be a, b or c")),
    };
    let (major, minor) = nums
        .split_once(':')
        .ok_or_else(|| bad("want MAJOR:MINOR"))?;
    let num = |s: &str| -> Result<Option<i64>, SpecError> {
        if s == "*" {
            Ok(None)
        } else {
            s.parse::<i64>()
                .map(Some)
                .map_err(|_| bad("device numbers must be numbers or *"))
        }
    };
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(bad("the access must be a mix of r, w, m"));
    }
    Ok(rule(true, typ, num(major)?, num(minor)?, access))
}

/// The (major, minor) of the block device at `path`, for the blkio flags.
pub fn block_numbers(flag: &str, path: &str) -> Result<(i64, i64), SpecError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| SpecError::invalid(flag, path, format!("no such device: {e}")))?;
    if !meta.file_type().is_block_device() {
        return Err(SpecError::invalid(flag, path, "not a block device"));
    }
    Ok((
        rustix::fs::major(meta.rdev()) as i64,
        rustix::fs::minor(meta.rdev()) as i64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(host: &str, inside: &str, perms: &str) -> DeviceMapping {
        DeviceMapping {
            path_on_host: host.into(),
            path_in_container: inside.into(),
            cgroup_permissions: perms.into(),
        }
    }

    #[test]
    fn spec_devices_stat_host_node() {
        let v = from_mapping(&mapping("/dev/null", "/dev/mynull", "rw")).unwrap();
        assert_eq!(v.len(), 1);
        let (d, r) = &v[0];
        assert_eq!(d.path(), Path::new("/dev/mynull"));
        assert_eq!(d.typ(), LinuxDeviceType::C);
        assert_eq!((d.major(), d.minor()), (1, 3));
        assert_eq!(d.file_mode(), Some(0o666));
        assert!(r.allow());
        assert_eq!(r.access().as_deref(), Some("rw"));
        assert_eq!((r.major(), r.minor()), (Some(1), Some(3)));
    }

    #[test]
    fn spec_devices_errors_name_the_flag() {
        let err = from_mapping(&mapping("/dev/pouch-nope", "", "")).unwrap_err();
        assert!(err.is_invalid_argument());
        assert!(err
            .to_string()
            .starts_with("invalid --device /dev/pouch-nope:"));
        assert!(from_mapping(&mapping("/etc/hostname", "", "")).is_err());
        assert!(from_mapping(&mapping("/dev/null", "", "rwx")).is_err());
        assert!(block_numbers("--device-read-bps", "/dev/null").is_err());
    }

    #[test]
    fn spec_devices_cgroup_rules() {
        let r = parse_cgroup_rule("c 1:* rm").unwrap();
        assert_eq!(r.typ(), Some(LinuxDeviceType::C));
        assert_eq!((r.major(), r.minor()), (Some(1), None));
        assert!(parse_cgroup_rule("x 1:3 r").is_err());
        assert!(parse_cgroup_rule("c 1-3 r").is_err());
        let rules = default_rules();
        assert!(!rules[0].allow());
        assert_eq!(rules.len(), 13);
        assert!(rules.iter().any(|r| r.to_string() == "c 136:* rwm"));
        assert!(!host_devices().is_empty());
    }
}
