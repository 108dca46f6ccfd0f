//! Storage flags of `create`/`run` beyond `-v`: `--mount` (docker's CSV syntax, `opts/mount.go`)
//! into `HostConfig.Mounts`, and Pouch's `--disk-quota` / `--quota-id` into `Config.DiskQuota`
//! and `Config.QuotaID`.

use std::collections::BTreeMap;
use std::path::Path;

use pouch_api::container::{BindOptions, Mount, MountDriver, TmpfsOptions, VolumeOptions};

use super::host::clean_path;
use super::parse::{csv_fields, ram_in_bytes};

const NONRECURSIVE: &str = "bind-nonrecursive is deprecated, use bind-recursive=disabled instead";

/// Go's `strconv.ParseBool`.
fn go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `k=v` into `map` (docker's `setValueOnMap`: an empty key is ignored).
fn set_on_map(map: &mut BTreeMap<String, String>, text: &str) {
    let (k, v) = text.split_once('=').unwrap_or((text, ""));
    if !k.is_empty() {
        map.insert(k.to_string(), v.to_string());
    }
}

/// `--mount type=bind|volume|tmpfs,source=..,target=..,readonly,...` (docker's
/// `MountOpt.Set`; the type defaults to `volume`). Returns the reason docker prints after
/// `invalid argument "V" for "--mount" flag: `.
pub fn parse_mount(text: &str) -> Result<Mount, String> {
    let fields = csv_fields(text)?;
    let mut m = Mount {
        kind: "volume".into(),
        ..Default::default()
    };
    let mut volume: Option<VolumeOptions> = None;
    let mut bind: Option<BindOptions> = None;
    let mut tmpfs: Option<TmpfsOptions> = None;
    for field in &fields {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k.to_lowercase(), v),
            None => {
                match field.to_lowercase().as_str() {
                    "readonly" | "ro" => m.read_only = true,
                    "volume-nocopy" => volume.get_or_insert_with(Default::default).no_copy = true,
                    "bind-nonrecursive" => return Err(NONRECURSIVE.into()),
                    _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
                }
                continue;
            }
        };
        let invalid = || format!("invalid value for {key}: {val}");
        match key.as_str() {
            "type" => m.kind = val.to_lowercase(),
            "source" | "src" => {
                m.source = val.to_string();
                if val == "." || val.starts_with("./") {
                    if let Ok(abs) = std::path::absolute(Path::new(val)) {
                        m.source = clean_path(&abs);
                    }
                }
            }
            "target" | "dst" | "destination" => m.target = val.to_string(),
            "readonly" | "ro" => m.read_only = go_bool(val).ok_or_else(invalid)?,
            "consistency" => m.consistency = val.to_lowercase(),
            "bind-propagation" => {
                bind.get_or_insert_with(Default::default).propagation = val.to_lowercase()
            }
            "bind-nonrecursive" => return Err(NONRECURSIVE.into()),
            "bind-recursive" => {
                let b = bind.get_or_insert_with(Default::default);
                match val {
                    "enabled" => {}
                    "disabled" => b.non_recursive = true,
                    "writable" => b.read_only_non_recursive = true,
                    "readonly" => b.read_only_force_recursive = true,
                    _ => {
                        return Err(format!(
                            "invalid value for {key}: {val} (must be \"enabled\", \"disabled\", \
                             \"writable\", or \"readonly\")"
                        ))
                    }
                }
            }
            "volume-subpath" => volume.get_or_insert_with(Default::default).subpath = val.into(),
            "volume-nocopy" => {
                volume.get_or_insert_with(Default::default).no_copy =
                    go_bool(val).ok_or_else(|| format!("invalid value for volume-nocopy: {val}"))?
            }
            "volume-label" => {
                set_on_map(&mut volume.get_or_insert_with(Default::default).labels, val)
            }
            "volume-driver" => {
                volume
                    .get_or_insert_with(Default::default)
                    .driver_config
                    .get_or_insert_with(MountDriver::default)
                    .name = val.to_string()
            }
            "volume-opt" => set_on_map(
                &mut volume
                    .get_or_insert_with(Default::default)
                    .driver_config
                    .get_or_insert_with(MountDriver::default)
                    .options,
                val,
            ),
            "tmpfs-size" => {
                tmpfs.get_or_insert_with(Default::default).size_bytes =
                    ram_in_bytes(val).map_err(|_| invalid())?
            }
            "tmpfs-mode" => {
                tmpfs.get_or_insert_with(Default::default).mode =
                    u32::from_str_radix(val, 8).map_err(|_| invalid())?
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if m.kind.is_empty() {
        return Err("type is required".into());
    }
    if m.target.is_empty() {
        return Err("target is required".into());
    }
    for (set, prefix, kind) in [
        (volume.is_some(), "volume", "volume"),
        (bind.is_some(), "bind", "bind"),
        (tmpfs.is_some(), "tmpfs", "tmpfs"),
    ] {
        if set && m.kind != kind {
            return Err(format!(
                "cannot mix '{prefix}-*' options with mount type '{}'",
                m.kind
            ));
        }
    }
    let requires = |option: &str, other: &str| {
        Err(format!(
            "option '{option}' requires '{other}' to be specified in conjunction"
        ))
    };
    if let Some(b) = &bind {
        if b.read_only_non_recursive && !m.read_only {
            return requires("bind-recursive=writable", "readonly");
        }
        if b.read_only_force_recursive {
            if !m.read_only {
                return requires("bind-recursive=readonly", "readonly");
            }
            if b.propagation != "rprivate" {
                return requires("bind-recursive=readonly", "bind-propagation=rprivate");
            }
        }
    }
    m.volume_options = volume;
    m.bind_options = bind;
    m.tmpfs_options = tmpfs;
    Ok(m)
}

/// `--disk-quota` values (Pouch's `parseDiskQuota`): `SIZE` limits the root filesystem
/// (`/`), `PATH=SIZE` the volume mounted at PATH, where PATH may be a regular expression
/// (`.*=1g`). The size is checked here; the daemon applies it. On failure, the value and the
/// reason.
pub fn parse_disk_quota(values: &[String]) -> Result<BTreeMap<String, String>, (String, String)> {
    let mut out = BTreeMap::new();
    for value in values {
        let fail = |reason: String| (value.clone(), reason);
        let parts: Vec<&str> = value.split('=').collect();
        let (path, size) = match parts.as_slice() {
            [size] => ("/", *size),
            [path, size] if !path.is_empty() => (*path, *size),
            _ => {
                return Err(fail(format!(
                    "invalid format for disk quota: give SIZE or PATH=SIZE, not {value:?}"
                )))
            }
        };
        ram_in_bytes(size).map_err(|e| fail(format!("disk quota of {path}: {e}")))?;
        out.insert(path.to_string(), size.to_string());
    }
    Ok(out)
}

/// `--quota-id`: an integer (`-1` lets pouchd allocate one).
pub fn validate_quota_id(text: &str) -> Result<String, String> {
    text.trim()
        .parse::<i64>()
        .map(|id| id.to_string())
        .map_err(|_| "the quota id must be an integer (-1 allocates one)".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_like_docker() {
        let m = parse_mount("type=bind,source=/tmp,target=/host,readonly").unwrap();
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            serde_json::json!({"Type": "bind", "Source": "/tmp", "Target": "/host", "ReadOnly": true})
        );
        let m = parse_mount("src=data,dst=/data").unwrap();
        assert_eq!((m.kind.as_str(), m.source.as_str()), ("volume", "data"));
        assert_eq!(m.target, "/data");
        assert!(!m.read_only);
        let m = parse_mount(
            "type=volume,source=v,destination=/v,volume-nocopy,volume-opt=size=1g,volume-label=a=b,ro=false",
        )
        .unwrap();
        let vo = m.volume_options.unwrap();
        assert!(vo.no_copy);
        assert_eq!(vo.labels["a"], "b");
        assert_eq!(vo.driver_config.unwrap().options["size"], "1g");
        let m = parse_mount("type=tmpfs,target=/run,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
        let t = m.tmpfs_options.unwrap();
        assert_eq!((t.size_bytes, t.mode), (64 << 20, 0o1770));
        let m = parse_mount("type=bind,src=/a,target=/b,bind-propagation=rshared").unwrap();
        assert_eq!(m.bind_options.unwrap().propagation, "rshared");
        let m = parse_mount("type=bind,src=./x/../y,target=/b").unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(m.source, format!("{}/y", cwd.display()));
        let m = parse_mount(r#"type=volume,target=/d,"volume-opt=o=size=1g,uid=1""#).unwrap();
        assert_eq!(
            m.volume_options.unwrap().driver_config.unwrap().options["o"],
            "size=1g,uid=1"
        );
    }

    #[test]
    fn mount_errors_like_docker() {
        for (text, want) in [
            ("type=bind,source=/a", "target is required"),
            ("type=,target=/a", "type is required"),
            ("type=bind,target=/a,bogus=1", "unexpected key 'bogus' in 'bogus=1'"),
            ("type=bind,target=/a,nokv", "invalid field 'nokv' must be a key=value pair"),
            ("type=bind,target=/a,ro=maybe", "invalid value for ro: maybe"),
            ("type=tmpfs,target=/a,tmpfs-size=x", "invalid value for tmpfs-size: x"),
            ("type=tmpfs,target=/a,tmpfs-mode=9", "invalid value for tmpfs-mode: 9"),
            (
                "type=bind,target=/a,volume-nocopy",
                "cannot mix 'volume-*' options with mount type 'bind'",
            ),
            (
                "type=volume,target=/a,bind-propagation=shared",
                "cannot mix 'bind-*' options with mount type 'volume'",
            ),
            (
                "target=/a,tmpfs-size=1m",
                "cannot mix 'tmpfs-*' options with mount type 'volume'",
            ),
            (
                "type=bind,src=/a,target=/a,bind-recursive=readonly,ro",
                "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction",
            ),
        ] {
            assert_eq!(parse_mount(text).unwrap_err(), want, "{text}");
        }
    }

    #[test]
    fn disk_quotas() {
        let q = parse_disk_quota(&["10g".into(), "/data=5g".into(), ".*=1g".into()]).unwrap();
        assert_eq!(
            serde_json::to_value(&q).unwrap(),
            serde_json::json!({"/": "10g", "/data": "5g", ".*": "1g"})
        );
        let (value, reason) = parse_disk_quota(&["a=b=c".into()]).unwrap_err();
        assert_eq!(value, "a=b=c");
        assert!(reason.contains("PATH=SIZE"), "{reason}");
        assert!(parse_disk_quota(&["=1g".into()]).is_err());
        assert!(parse_disk_quota(&["".into()]).is_err());
        let (_, reason) = parse_disk_quota(&["/data=lots".into()]).unwrap_err();
        assert_eq!(reason, "disk quota of /data: invalid size: 'lots'");
        assert_eq!(validate_quota_id("-1").unwrap(), "-1");
        assert_eq!(validate_quota_id("1000").unwrap(), "1000");
        assert!(validate_quota_id("x").is_err());
    }
}
