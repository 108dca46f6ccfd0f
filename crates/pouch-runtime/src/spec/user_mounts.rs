//! The user's mounts in the spec: the container's resolved mounts (the `MountPoint`s the
//! engine made at create from `--volume`, `--mount`, `--volumes-from` and image `VOLUME`s,
//! Docker's inspect `Mounts`: a bind of the source, a host path or a volume's data, at the
//! destination, read-only or not, with its propagation; a tmpfs for a tmpfs mount, sized by
//! its `--mount` options) and `--tmpfs path[:opts]` (Docker's default `noexec,nosuid,nodev`,
//! a user flag replacing its opposite). The engine checks `--volume` and `--mount` at create;
//! `check` covers `--tmpfs`. Destinations are absolute, cleaned and unique.

use std::collections::BTreeSet;

use oci_spec::runtime::Mount;
use pouch_api::container::{HostConfig, MountPoint};

use super::mounts::mount;
use super::SpecError;

/// Options `--tmpfs` mounts get unless the user says otherwise.
const TMPFS_DEFAULTS: [&str; 3] = ["noexec", "nosuid", "nodev"];

/// Mount flags `--tmpfs` accepts, with the flag each one cancels.
const TMPFS_FLAGS: [(&str, &str); 20] = [
    ("ro", "rw"),
    ("rw", "ro"),
    ("exec", "noexec"),
    ("noexec", "exec"),
    ("suid", "nosuid"),
    ("nosuid", "suid"),
    ("dev", "nodev"),
    ("nodev", "dev"),
    ("sync", "async"),
    ("async", "sync"),
    ("atime", "noatime"),
    ("noatime", "atime"),
    ("diratime", "nodiratime"),
    ("nodiratime", "diratime"),
    ("relatime", "norelatime"),
    ("norelatime", "relatime"),
    ("strictatime", "nostrictatime"),
    ("nostrictatime", "strictatime"),
    ("mand", "nomand"),
    ("nomand", "mand"),
];

/// `key=value` options `--tmpfs` passes to the kernel.
const TMPFS_DATA: [&str; 8] = [
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
    "huge",
];

const PROPAGATIONS: [&str; 6] = [
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

/// A mount the user asked for, with the flag and value it came from (for error messages).
#[derive(Debug)]
pub struct UserMount {
    pub flag: &'static str,
    pub raw: String,
    pub mount: Mount,
}

use pouch_api::paths::clean_absolute as clean_destination;

fn destination(flag: &str, raw: &str, dest: &str) -> Result<String, SpecError> {
    match clean_destination(dest) {
        Some(d) if d == "/" => Err(SpecError::invalid(flag, raw, "the destination can't be /")),
        Some(d) => Ok(d),
        None => Err(SpecError::invalid(
            flag,
            raw,
            format!("the destination {dest} must be an absolute path"),
        )),
    }
}

/// Merges `--tmpfs` options over the defaults: a user flag replaces its opposite.
fn tmpfs_options(flag: &str, raw: &str, opts: &str) -> Result<Vec<String>, SpecError> {
    let mut out: Vec<String> = TMPFS_DEFAULTS.iter().map(|s| s.to_string()).collect();
    for o in opts.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        if let Some((key, _)) = o.split_once('=') {
            if !TMPFS_DATA.contains(&key) {
                return Err(SpecError::invalid(
                    flag,
                    raw,
                    format!("unknown option {key}"),
                ));
            }
            out.retain(|x| !x.starts_with(&format!("{key}=")));
        } else if let Some((_, opposite)) = TMPFS_FLAGS.iter().find(|(f, _)| *f == o) {
            out.retain(|x| x != opposite && x != o);
        } else {
            return Err(SpecError::invalid(flag, raw, format!("unknown option {o}")));
        }
        out.push(o.to_string());
    }
    Ok(out)
}

fn parse_tmpfs(dest: &str, opts: &str) -> Result<UserMount, SpecError> {
    let flag = "--tmpfs";
    let raw = if opts.is_empty() {
        dest.to_string()
    } else {
        format!("{dest}:{opts}")
    };
    let d = destination(flag, &raw, dest)?;
    let options = tmpfs_options(flag, &raw, opts)?;
    let refs: Vec<&str> = options.iter().map(String::as_str).collect();
    Ok(UserMount {
        flag,
        mount: mount(&d, "tmpfs", "tmpfs", &refs),
        raw,
    })
}

/// The `--mount` entry of `host` at destination `dest` and of type `kind`, for the settings
/// a `MountPoint` does not carry (non-recursive binds, tmpfs size and mode).
fn api_mount<'a>(
    host: &'a HostConfig,
    kind: &str,
    dest: &str,
) -> Option<&'a pouch_api::container::Mount> {
    host.mounts
        .iter()
        .flatten()
        .find(|m| m.kind == kind && clean_destination(&m.target).as_deref() == Some(dest))
}

/// The spec mount of one resolved mount (`bind`, `volume` or `tmpfs`).
fn from_mount_point(host: &HostConfig, mp: &MountPoint) -> Result<UserMount, SpecError> {
    let flag = "--mount";
    let raw = format!(
        "type={},source={},target={}",
        mp.kind, mp.source, mp.destination
    );
    let dest = destination(flag, &raw, &mp.destination)?;
    let mount = match mp.kind.as_str() {
        "bind" | "volume" => {
            if mp.source.is_empty() {
                return Err(SpecError::Internal(format!(
                    "the {} mount at {dest} has no source",
                    mp.kind
                )));
            }
            let opts = api_mount(host, "bind", &dest)
                .and_then(|m| m.bind_options.clone())
                .unwrap_or_default();
            let mut options = vec![if opts.non_recursive { "bind" } else { "rbind" }];
            if !mp.rw {
                options.push(if opts.read_only_force_recursive {
                    "rro"
                } else {
                    "ro"
                });
            }
            if !mp.propagation.is_empty() {
                if !PROPAGATIONS.contains(&mp.propagation.as_str()) {
                    return Err(SpecError::invalid(
                        flag,
                        &raw,
                        format!("unknown propagation {}", mp.propagation),
                    ));
                }
                options.push(&mp.propagation);
            }
            mount(&dest, "bind", &mp.source, &options)
        }
        "tmpfs" => {
            let mut extra = Vec::new();
            if let Some(t) = api_mount(host, "tmpfs", &dest).and_then(|m| m.tmpfs_options.as_ref())
            {
                if t.size_bytes > 0 {
                    extra.push(format!("size={}", t.size_bytes));
                }
                if t.mode != 0 {
                    extra.push(format!("mode={:o}", t.mode & 0o7777));
                }
            }
            if !mp.rw {
                extra.push("ro".to_string());
            }
            let options = tmpfs_options(flag, &raw, &extra.join(","))?;
            let refs: Vec<&str> = options.iter().map(String::as_str).collect();
            mount(&dest, "tmpfs", "tmpfs", &refs)
        }
        other => {
            return Err(SpecError::Internal(format!(
                "unknown mount type {other} at {dest}"
            )))
        }
    };
    Ok(UserMount { flag, raw, mount })
}

/// Every user mount: the resolved `mounts`, then `--tmpfs`; a destination twice is refused.
pub fn user_mounts(host: &HostConfig, mounts: &[MountPoint]) -> Result<Vec<UserMount>, SpecError> {
    let mut out = Vec::new();
    for mp in mounts {
        out.push(from_mount_point(host, mp)?);
    }
    for (dest, opts) in &host.tmpfs {
        out.push(parse_tmpfs(dest, opts)?);
    }
    let mut seen = BTreeSet::new();
    for m in &out {
        let dest = m.mount.destination().to_string_lossy().into_owned();
        if !seen.insert(dest.clone()) {
            return Err(SpecError::invalid(
                m.flag,
                &m.raw,
                format!("duplicate mount point: {dest}"),
            ));
        }
    }
    Ok(out)
}

/// Checks `--tmpfs` without building the spec (for `validate`; the engine checks
/// `--volume` and `--mount` when it resolves them).
pub fn check(host: &HostConfig) -> Result<(), SpecError> {
    user_mounts(host, &[]).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::container::{BindOptions, Mount as ApiMount, TmpfsOptions};
    use std::path::Path;

    #[test]
    fn spec_mounts_tmpfs_options_merge() {
        assert_eq!(
            tmpfs_options("--tmpfs", "/run", "").unwrap(),
            vec!["noexec", "nosuid", "nodev"]
        );
        assert_eq!(
            tmpfs_options("--tmpfs", "/run:exec,size=64m", "exec,size=64m").unwrap(),
            vec!["nosuid", "nodev", "exec", "size=64m"]
        );
        let err = tmpfs_options("--tmpfs", "/run:bogus", "bogus").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid --tmpfs /run:bogus: unknown option bogus"
        );
    }

    fn mp(kind: &str, source: &str, dest: &str, rw: bool, propagation: &str) -> MountPoint {
        MountPoint {
            kind: kind.into(),
            source: source.into(),
            destination: dest.into(),
            rw,
            propagation: propagation.into(),
            ..Default::default()
        }
    }

    #[test]
    fn spec_mounts_from_mount_points() {
        let host = HostConfig {
            mounts: Some(vec![
                ApiMount {
                    kind: "tmpfs".into(),
                    target: "/scratch/".into(),
                    tmpfs_options: Some(TmpfsOptions {
                        size_bytes: 1 << 20,
                        mode: 0o1777,
                    }),
                    ..Default::default()
                },
                ApiMount {
                    kind: "bind".into(),
                    source: "/srv".into(),
                    target: "/srv".into(),
                    bind_options: Some(BindOptions {
                        non_recursive: true,
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        };
        let mounts = [
            mp("bind", "/host/data", "/data", false, "rshared"),
            mp("volume", "/v/vol/_data", "/vol", true, ""),
            mp("tmpfs", "", "/scratch", true, ""),
            mp("bind", "/srv", "/srv", true, "rprivate"),
        ];
        let got = user_mounts(&host, &mounts).unwrap();
        let opts = |i: usize| got[i].mount.options().clone().unwrap();
        assert_eq!(
            got[0].mount.source().as_deref(),
            Some(Path::new("/host/data"))
        );
        assert_eq!(opts(0), vec!["rbind", "ro", "rshared"]);
        assert_eq!(got[1].mount.typ().as_deref(), Some("bind"));
        assert_eq!(got[1].mount.destination(), Path::new("/vol"));
        assert_eq!(opts(1), vec!["rbind"]);
        assert_eq!(got[2].mount.typ().as_deref(), Some("tmpfs"));
        assert_eq!(
            opts(2),
            vec!["noexec", "nosuid", "nodev", "size=1048576", "mode=1777"]
        );
        assert_eq!(opts(3), vec!["bind", "rprivate"]);

        let dup = HostConfig {
            tmpfs: [("/data".to_string(), String::new())].into(),
            ..Default::default()
        };
        let err = user_mounts(&dup, &mounts[..1]).unwrap_err();
        assert!(err.is_invalid_argument());
        assert!(
            err.to_string().contains("duplicate mount point: /data"),
            "{err}"
        );
        let err = user_mounts(&host, &[mp("volume", "", "/x", true, "")]).unwrap_err();
        assert!(
            !err.is_invalid_argument(),
            "a volume without a source is ours"
        );
        assert!(user_mounts(&host, &[mp("bind", "/a", "rel", true, "")]).is_err());
        assert_eq!(clean_destination("/a//b/./c/").unwrap(), "/a/b/c");
    }

    #[test]
    fn spec_mounts_check_covers_tmpfs_only() {
        let host = HostConfig {
            binds: Some(vec!["anything:goes".into()]),
            tmpfs: [("/run".to_string(), "size=1m".to_string())].into(),
            ..Default::default()
        };
        check(&host).unwrap();
        let bad = HostConfig {
            tmpfs: [("run".to_string(), String::new())].into(),
            ..Default::default()
        };
        assert!(check(&bad)
            .unwrap_err()
            .to_string()
            .starts_with("invalid --tmpfs run"));
    }
}
