//! Docker's mount syntax, checked: `--volume` (`HostConfig.Binds`:
//! `[source:]destination[:mode]`, where an absolute source is a host path, another a volume
//! name and none an anonymous volume; modes `ro`/`rw`, `z`/`Z`, `nocopy`, a bind
//! propagation, a consistency, at most one of each), `--mount` (`HostConfig.Mounts` of type
//! `bind`, `volume` or `tmpfs`) and `--volumes-from container[:ro|rw]`. Errors name the flag
//! and the value (`invalid --volume a:b: ...`) and are the user's (HTTP 400).

use std::collections::BTreeMap;
use std::path::Path;

use pouch_api::container::Mount;

use crate::options::validate_name;
use crate::VolumeError;

const PROPAGATIONS: [&str; 6] = [
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];
const CONSISTENCIES: [&str; 4] = ["consistent", "cached", "delegated", "default"];

/// What a mount puts at its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// A host path.
    Bind,
    /// A named or anonymous volume.
    Volume,
    /// A tmpfs of the container's own (`--mount type=tmpfs`).
    Tmpfs,
}

impl MountKind {
    /// Docker's `Type` word.
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

/// One mount a create body asks for, checked but not resolved (volumes not created yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// The flag it came from (`--volume`, `--mount`) and its text, for error messages.
    pub flag: &'static str,
    pub raw: String,
    pub kind: MountKind,
    /// The host path of a bind, the name of a volume (empty: an anonymous volume).
    pub source: String,
    /// Cleaned, absolute, not `/`.
    pub destination: String,
    pub rw: bool,
    /// Docker's `Mode`: the options of a `--volume` as given (empty for `--mount`).
    pub mode: String,
    /// The propagation of a bind (`rprivate` unless given); empty for the others.
    pub propagation: String,
    /// A bind that is not recursive (`--mount ...,bind-nonrecursive`).
    pub non_recursive: bool,
    /// Copy the image's content into the volume when it is empty (not `nocopy`).
    pub copy_data: bool,
    /// The volume driver asked for; empty: an existing volume's, or `local` for a new one.
    pub driver: String,
    /// Options and labels of a volume created for this mount (`--mount volume-opt=...`).
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// A missing bind source is created as a directory (`--volume` does, as Docker;
    /// `--mount` only with `bind-create-mountpoint`).
    pub create_source: bool,
}

fn invalid(flag: &str, raw: &str, reason: impl std::fmt::Display) -> VolumeError {
    VolumeError::Invalid(format!("invalid {flag} {raw}: {reason}"))
}

pub use pouch_api::paths::clean_absolute as clean_destination;

fn destination(flag: &str, raw: &str, dest: &str) -> Result<String, VolumeError> {
    match clean_destination(dest) {
        Some(d) if d == "/" => Err(invalid(flag, raw, "destination can't be '/'")),
        Some(d) => Ok(d),
        None if dest.is_empty() => Err(invalid(flag, raw, "the destination is missing")),
        None => Err(invalid(
            flag,
            raw,
            format!("invalid mount path: '{dest}' mount path must be absolute"),
        )),
    }
}

/// The parts of a `--volume` mode, each at most once.
#[derive(Default)]
struct Mode<'a> {
    ro: bool,
    nocopy: bool,
    propagation: Option<&'a str>,
}

fn parse_mode(mode: &str) -> Option<Mode<'_>> {
    let mut m = Mode::default();
    let (mut rw, mut label, mut prop, mut copy, mut consistency) = (0, 0, 0, 0, 0);
    for o in mode.split(',') {
        match o {
            "ro" | "rw" => {
                rw += 1;
                m.ro = o == "ro";
            }
            "z" | "Z" => label += 1,
            "nocopy" => {
                copy += 1;
                m.nocopy = true;
            }
            p if PROPAGATIONS.contains(&p) => {
                prop += 1;
                m.propagation = Some(p);
            }
            c if CONSISTENCIES.contains(&c) => consistency += 1,
            _ => return None,
        }
    }
    ([rw, label, prop, copy, consistency].iter().all(|n| *n <= 1)).then_some(m)
}

/// `--volume [source:]destination[:mode]` (`HostConfig.Binds`). `volume_driver` is
/// `HostConfig.VolumeDriver`, the driver of volumes it names.
pub fn parse_bind(raw: &str, volume_driver: &str) -> Result<MountSpec, VolumeError> {
    let flag = "--volume";
    let parts: Vec<&str> = raw.splitn(4, ':').collect();
    let (source, dest, mode) = match parts.as_slice() {
        [d] if !d.is_empty() => ("", *d, ""),
        [s, d] if !s.is_empty() => {
            if parse_mode(d).is_some() {
                return Err(invalid(
                    flag,
                    raw,
                    "a destination and a mode without a source: want [source:]destination[:mode]",
                ));
            }
            (*s, *d, "")
        }
        [s, d, m] if !s.is_empty() => (*s, *d, *m),
        _ => {
            return Err(invalid(
                flag,
                raw,
                "want [host-path-or-volume-name:]container-path[:options]",
            ))
        }
    };
    let m = if mode.is_empty() {
        Mode::default()
    } else {
        parse_mode(mode).ok_or_else(|| invalid(flag, raw, format!("invalid mode: {mode}")))?
    };
    let dest = destination(flag, raw, dest)?;
    let kind = if source.is_empty() || !source.starts_with('/') {
        MountKind::Volume
    } else {
        MountKind::Bind
    };
    let mut spec = MountSpec {
        flag,
        raw: raw.to_string(),
        kind,
        source: String::new(),
        destination: dest,
        rw: !m.ro,
        mode: mode.to_string(),
        propagation: String::new(),
        non_recursive: false,
        copy_data: !m.nocopy,
        driver: String::new(),
        driver_opts: BTreeMap::new(),
        labels: BTreeMap::new(),
        create_source: false,
    };
    match kind {
        MountKind::Bind => {
            if m.nocopy {
                return Err(invalid(
                    flag,
                    raw,
                    "nocopy applies to volumes, not to a host path",
                ));
            }
            spec.source = clean_destination(source).unwrap_or_else(|| source.to_string());
            spec.propagation = m.propagation.unwrap_or("rprivate").to_string();
            spec.create_source = true;
        }
        _ => {
            if let Some(p) = m.propagation {
                return Err(invalid(
                    flag,
                    raw,
                    format!("propagation {p} applies to host paths, not to volumes"),
                ));
            }
            if !source.is_empty() {
                validate_name(source).map_err(|e| invalid(flag, raw, e))?;
            }
            spec.source = source.to_string();
            spec.driver = volume_driver.to_string();
        }
    }
    Ok(spec)
}

/// `--mount type=bind|volume|tmpfs,...` (`HostConfig.Mounts`). A bind source must exist
/// unless `bind-create-mountpoint` is set.
pub fn parse_mount(m: &Mount) -> Result<MountSpec, VolumeError> {
    let flag = "--mount";
    let mut raw = format!("type={}", m.kind);
    if !m.source.is_empty() {
        raw.push_str(&format!(",source={}", m.source));
    }
    raw.push_str(&format!(",target={}", m.target));
    if m.read_only {
        raw.push_str(",readonly");
    }
    let kind = match m.kind.as_str() {
        "bind" => MountKind::Bind,
        "volume" => MountKind::Volume,
        "tmpfs" => MountKind::Tmpfs,
        "" => {
            return Err(invalid(
                flag,
                &raw,
                "the type is missing: use bind, volume or tmpfs",
            ))
        }
        other => {
            return Err(invalid(
                flag,
                &raw,
                format!("mount type {other} is not supported: use bind, volume or tmpfs"),
            ))
        }
    };
    if m.target.is_empty() {
        return Err(invalid(flag, &raw, "the target is missing"));
    }
    let dest = destination(flag, &raw, &m.target)?;
    let not_for = |what: &str| {
        invalid(
            flag,
            &raw,
            format!("{what} options do not apply to a {} mount", kind.as_str()),
        )
    };
    if m.bind_options.is_some() && kind != MountKind::Bind {
        return Err(not_for("bind"));
    }
    if m.volume_options.is_some() && kind != MountKind::Volume {
        return Err(not_for("volume"));
    }
    if m.tmpfs_options.is_some() && kind != MountKind::Tmpfs {
        return Err(not_for("tmpfs"));
    }
    let mut spec = MountSpec {
        flag,
        raw: raw.clone(),
        kind,
        source: String::new(),
        destination: dest,
        rw: !m.read_only,
        mode: String::new(),
        propagation: String::new(),
        non_recursive: false,
        copy_data: true,
        driver: String::new(),
        driver_opts: BTreeMap::new(),
        labels: BTreeMap::new(),
        create_source: false,
    };
    match kind {
        MountKind::Bind => {
            if m.source.is_empty() {
                return Err(invalid(flag, &raw, "a bind mount needs a source"));
            }
            let source = clean_destination(&m.source).ok_or_else(|| {
                invalid(
                    flag,
                    &raw,
                    format!(
                        "invalid mount path: '{}' mount path must be absolute",
                        m.source
                    ),
                )
            })?;
            let opts = m.bind_options.clone().unwrap_or_default();
            spec.propagation = match opts.propagation.as_str() {
                "" => "rprivate".to_string(),
                p if PROPAGATIONS.contains(&p) => p.to_string(),
                p => return Err(invalid(flag, &raw, format!("unknown propagation {p}"))),
            };
            spec.non_recursive = opts.non_recursive;
            spec.create_source = opts.create_mountpoint;
            if !spec.create_source && !Path::new(&source).exists() {
                return Err(invalid(
                    flag,
                    &raw,
                    format!("bind source path does not exist: {source}"),
                ));
            }
            spec.source = source;
        }
        MountKind::Volume => {
            if !m.source.is_empty() {
                validate_name(&m.source).map_err(|e| invalid(flag, &raw, e))?;
            }
            spec.source = m.source.clone();
            if let Some(v) = &m.volume_options {
                if !v.subpath.is_empty() {
                    return Err(invalid(flag, &raw, "volume-subpath is not supported"));
                }
                spec.copy_data = !v.no_copy;
                spec.labels = v.labels.clone();
                if let Some(d) = &v.driver_config {
                    spec.driver = d.name.clone();
                    spec.driver_opts = d.options.clone();
                }
            }
        }
        MountKind::Tmpfs => {
            if !m.source.is_empty() {
                return Err(invalid(flag, &raw, "a tmpfs mount takes no source"));
            }
            if let Some(t) = &m.tmpfs_options {
                if t.size_bytes < 0 {
                    return Err(invalid(flag, &raw, "tmpfs-size must not be negative"));
                }
                if t.mode > 0o7777 {
                    return Err(invalid(
                        flag,
                        &raw,
                        format!("tmpfs-mode {:o} is not permission bits", t.mode),
                    ));
                }
            }
        }
    }
    Ok(spec)
}

/// `--volumes-from container[:ro|rw]`: the container and whether its mounts stay
/// writable (`rw`, the default, keeps each mount's own setting).
pub fn parse_volumes_from(raw: &str) -> Result<(String, bool), VolumeError> {
    let flag = "--volumes-from";
    let (name, mode) = match raw.split_once(':') {
        Some((n, m)) => (n, m),
        None => (raw, ""),
    };
    if name.is_empty() {
        return Err(invalid(flag, raw, "name a container"));
    }
    if mode.is_empty() {
        return Ok((name.to_string(), true));
    }
    let m = parse_mode(mode).ok_or_else(|| invalid(flag, raw, format!("invalid mode: {mode}")))?;
    if m.propagation.is_some() {
        return Err(invalid(
            flag,
            raw,
            "--volumes-from does not support propagation mode",
        ));
    }
    Ok((name.to_string(), !m.ro))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::container::{BindOptions, MountDriver, TmpfsOptions, VolumeOptions};

    #[test]
    fn binds_named_anonymous_and_host() {
        let v = parse_bind("data:/srv/./data/", "").unwrap();
        assert_eq!(v.kind, MountKind::Volume);
        assert_eq!(
            (v.source.as_str(), v.destination.as_str()),
            ("data", "/srv/data")
        );
        assert!(v.rw && v.copy_data && v.mode.is_empty() && v.propagation.is_empty());

        let v = parse_bind("data:/d:ro,nocopy", "tmpfs").unwrap();
        assert!(!v.rw && !v.copy_data);
        assert_eq!((v.mode.as_str(), v.driver.as_str()), ("ro,nocopy", "tmpfs"));

        let a = parse_bind("/data", "").unwrap();
        assert_eq!(a.kind, MountKind::Volume);
        assert!(a.source.is_empty());

        let b = parse_bind("/tmp:/host-tmp:ro,rshared,Z", "").unwrap();
        assert_eq!(b.kind, MountKind::Bind);
        assert_eq!(b.source, "/tmp");
        assert!(!b.rw && b.create_source);
        assert_eq!(b.propagation, "rshared");
        assert_eq!(b.mode, "ro,rshared,Z");
        assert_eq!(parse_bind("/tmp:/x", "").unwrap().propagation, "rprivate");
    }

    #[test]
    fn bad_binds_name_the_flag() {
        for (raw, want) in [
            ("/tmp:/x:bogus", "invalid mode: bogus"),
            ("/tmp:/x:ro,rw", "invalid mode: ro,rw"),
            ("/tmp:x", "must be absolute"),
            ("/tmp:/", "destination can't be '/'"),
            ("/x:ro", "without a source"),
            ("a:b:c:d", "want [host-path-or-volume-name:]"),
            ("", "want"),
            ("./rel:/x", "includes invalid characters"),
            ("data:/x:rshared", "applies to host paths"),
            ("/tmp:/x:nocopy", "nocopy applies to volumes"),
        ] {
            let e = parse_bind(raw, "").unwrap_err();
            assert_eq!(e.kind(), pouch_api::ErrorKind::InvalidArgument, "{raw}");
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("invalid --volume {raw}:")),
                "{msg}"
            );
            assert!(msg.contains(want), "{raw}: {msg}");
        }
    }

    #[test]
    fn api_mounts() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().to_string_lossy().into_owned();
        let m = parse_mount(&Mount {
            kind: "bind".into(),
            source: src.clone(),
            target: "/data".into(),
            read_only: true,
            bind_options: Some(BindOptions {
                propagation: "rslave".into(),
                non_recursive: true,
                ..Default::default()
            }),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(m.kind, MountKind::Bind);
        assert!(!m.rw && m.non_recursive && !m.create_source);
        assert_eq!(m.propagation, "rslave");

        let e = parse_mount(&Mount {
            kind: "bind".into(),
            source: "/nonexistent-pouch-src".into(),
            target: "/x".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e
            .to_string()
            .contains("bind source path does not exist: /nonexistent-pouch-src"));

        let v = parse_mount(&Mount {
            kind: "volume".into(),
            source: "cache".into(),
            target: "/cache".into(),
            volume_options: Some(VolumeOptions {
                no_copy: true,
                labels: [("a".to_string(), "b".to_string())].into(),
                driver_config: Some(MountDriver {
                    name: "tmpfs".into(),
                    options: [("size".to_string(), "1m".to_string())].into(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(v.kind, MountKind::Volume);
        assert!(!v.copy_data);
        assert_eq!(v.driver, "tmpfs");
        assert_eq!(v.driver_opts["size"], "1m");
        assert_eq!(v.labels["a"], "b");

        let anon = parse_mount(&Mount {
            kind: "volume".into(),
            target: "/anon".into(),
            ..Default::default()
        })
        .unwrap();
        assert!(anon.source.is_empty());

        let t = parse_mount(&Mount {
            kind: "tmpfs".into(),
            target: "/run".into(),
            tmpfs_options: Some(TmpfsOptions {
                size_bytes: 1 << 20,
                mode: 0o1777,
            }),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(t.kind, MountKind::Tmpfs);

        for (m, want) in [
            (
                Mount {
                    kind: "tmpfs".into(),
                    source: "x".into(),
                    target: "/t".into(),
                    ..Default::default()
                },
                "takes no source",
            ),
            (
                Mount {
                    kind: "volume".into(),
                    target: "/t".into(),
                    bind_options: Some(BindOptions::default()),
                    ..Default::default()
                },
                "bind options do not apply",
            ),
            (
                Mount {
                    kind: "npipe".into(),
                    target: "/t".into(),
                    ..Default::default()
                },
                "not supported",
            ),
            (
                Mount {
                    kind: "volume".into(),
                    source: "bad name".into(),
                    target: "/t".into(),
                    ..Default::default()
                },
                "invalid characters",
            ),
            (
                Mount {
                    kind: "bind".into(),
                    source: src.clone(),
                    ..Default::default()
                },
                "target is missing",
            ),
        ] {
            let e = parse_mount(&m).unwrap_err().to_string();
            assert!(e.starts_with("invalid --mount type="), "{e}");
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn volumes_from() {
        assert_eq!(parse_volumes_from("db").unwrap(), ("db".to_string(), true));
        assert_eq!(
            parse_volumes_from("db:ro").unwrap(),
            ("db".to_string(), false)
        );
        assert_eq!(
            parse_volumes_from("db:rw").unwrap(),
            ("db".to_string(), true)
        );
        assert!(parse_volumes_from("db:bogus").is_err());
        assert!(parse_volumes_from("db:rshared").is_err());
        assert!(parse_volumes_from(":ro").is_err());
    }
}
