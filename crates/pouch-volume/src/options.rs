//! Volume names and driver options, checked as Docker's local driver checks them, plus
//! Pouch's `tmpfs` driver: `local` takes `type`, `device`, `o` (a filesystem mounted on
//! the volume's data dir at first use; `device` and `type` go together, `o` needs both)
//! and `size` (a disk quota, only where a quota back end exists); `tmpfs` takes `size`,
//! `mode`, `uid` and `gid`.

use std::collections::BTreeMap;

use crate::VolumeError;

/// The volume drivers Pouch has.
pub const DRIVERS: [&str; 2] = ["local", "tmpfs"];

const LOCAL_OPTS: [&str; 4] = ["type", "device", "o", "size"];
const TMPFS_OPTS: [&str; 4] = ["size", "mode", "uid", "gid"];

/// Docker's rule for local volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate_name(name: &str) -> Result<(), VolumeError> {
    let b = name.as_bytes();
    let ok = b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(VolumeError::Invalid(format!(
            "\"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )))
    }
}

/// Checks the driver name and its options. `quota` says whether a disk quota back end
/// exists (the local driver's `size` needs one).
pub fn check_options(
    driver: &str,
    opts: &BTreeMap<String, String>,
    quota: bool,
) -> Result<(), VolumeError> {
    let valid: &[&str] = match driver {
        "local" => &LOCAL_OPTS,
        "tmpfs" => &TMPFS_OPTS,
        other => {
            return Err(VolumeError::Invalid(format!(
                "unknown volume driver {other:?}: pouch has the local and tmpfs drivers"
            )))
        }
    };
    for key in opts.keys() {
        if !valid.contains(&key.as_str()) {
            return Err(VolumeError::Invalid(format!(
                "invalid option {key:?} for volume driver {driver}: it takes {}",
                valid.join(", ")
            )));
        }
    }
    if let Some(v) = opts.get("size") {
        let bytes = size(v)?;
        if driver == "local" && bytes > 0 && !quota {
            return Err(VolumeError::Invalid(format!(
                "invalid volume option size={v}: disk quota is not available on this host (the volumes dir must be on btrfs, or on xfs/ext4 mounted with project quota)"
            )));
        }
    }
    match driver {
        "local" => {
            for (opt, needs) in [
                ("device", &["type"][..]),
                ("type", &["device"][..]),
                ("o", &["device", "type"][..]),
            ] {
                if opts.contains_key(opt) {
                    if let Some(missing) = needs.iter().find(|n| !opts.contains_key(**n)) {
                        return Err(VolumeError::Invalid(format!(
                            "missing required option {missing:?}: volume option {opt} needs {}",
                            needs.join(" and ")
                        )));
                    }
                }
            }
            if opts.contains_key("size") && opts.contains_key("device") {
                return Err(VolumeError::Invalid(
                    "volume option size cannot be combined with device: a quota limits the volume's own directory"
                        .into(),
                ));
            }
        }
        _ => {
            if let Some(m) = opts.get("mode") {
                tmpfs_mode(m)?;
            }
            for key in ["uid", "gid"] {
                if let Some(v) = opts.get(key) {
                    v.parse::<u32>().map_err(|_| {
                        VolumeError::Invalid(format!(
                            "invalid volume option {key}={v}: expected a number"
                        ))
                    })?;
                }
            }
        }
    }
    Ok(())
}

/// A size option in bytes (Pouch's forms: `10g`, `512m`, `100`).
pub(crate) fn size(v: &str) -> Result<u64, VolumeError> {
    pouch_quota::parse_size(v)
        .map_err(|e| VolumeError::Invalid(format!("invalid volume option size={v}: {e}")))
}

fn tmpfs_mode(v: &str) -> Result<u32, VolumeError> {
    u32::from_str_radix(v, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| {
            VolumeError::Invalid(format!(
                "invalid volume option mode={v}: expected octal permission bits like 1777"
            ))
        })
}

/// The mount data of a tmpfs volume (`size=...,mode=...,uid=...,gid=...`); the options are
/// checked already.
pub(crate) fn tmpfs_data(opts: &BTreeMap<String, String>) -> Result<String, VolumeError> {
    let mut data = Vec::new();
    if let Some(v) = opts.get("size") {
        data.push(format!("size={}", size(v)?));
    }
    if let Some(v) = opts.get("mode") {
        data.push(format!("mode={:o}", tmpfs_mode(v)?));
    }
    for key in ["uid", "gid"] {
        if let Some(v) = opts.get(key) {
            data.push(format!("{key}={v}"));
        }
    }
    Ok(data.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_follow_docker() {
        for ok in ["ab", "data", "my_vol.1-x", "0abc", &"f".repeat(64)] {
            validate_name(ok).unwrap();
        }
        for bad in [
            "", "a", "-ab", "_ab", ".ab", "a/b", "a b", "a:b", "/data", "vol$",
        ] {
            let e = validate_name(bad).unwrap_err();
            assert!(matches!(e, VolumeError::Invalid(_)), "{bad}");
            assert!(e.to_string().contains("includes invalid characters"), "{e}");
        }
    }

    #[test]
    fn local_options() {
        check_options("local", &opts(&[]), false).unwrap();
        check_options(
            "local",
            &opts(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m")]),
            false,
        )
        .unwrap();
        let e = check_options("local", &opts(&[("foo", "1")]), false).unwrap_err();
        assert!(e.to_string().contains("\"foo\""), "{e}");
        assert_eq!(e.kind(), pouch_api::ErrorKind::InvalidArgument);
        let e = check_options("local", &opts(&[("type", "tmpfs")]), false).unwrap_err();
        assert!(e.to_string().contains("\"device\""), "{e}");
        let e = check_options("local", &opts(&[("o", "bind")]), false).unwrap_err();
        assert!(e.to_string().contains("missing required option"), "{e}");
        let e = check_options("local", &opts(&[("size", "10m")]), false).unwrap_err();
        assert!(e.to_string().contains("disk quota is not available"), "{e}");
        check_options("local", &opts(&[("size", "10m")]), true).unwrap();
        assert!(check_options("local", &opts(&[("size", "lots")]), true).is_err());
        let e = check_options("nfs", &opts(&[]), false).unwrap_err();
        assert!(e.to_string().contains("unknown volume driver"), "{e}");
    }

    #[test]
    fn tmpfs_options() {
        let o = opts(&[
            ("size", "1m"),
            ("mode", "1777"),
            ("uid", "1000"),
            ("gid", "5"),
        ]);
        check_options("tmpfs", &o, false).unwrap();
        assert_eq!(
            tmpfs_data(&o).unwrap(),
            "size=1048576,mode=1777,uid=1000,gid=5"
        );
        assert!(check_options("tmpfs", &opts(&[("mode", "999")]), false).is_err());
        assert!(check_options("tmpfs", &opts(&[("uid", "me")]), false).is_err());
        assert!(check_options("tmpfs", &opts(&[("device", "x")]), false).is_err());
    }
}
