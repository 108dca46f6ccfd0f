//! The user's mounts, parsed and checked: `--volume host:container[:opts]`
//! (`HostConfig.Binds`; bind sources must exist, named volumes are not supported yet),
//! `--mount type=bind|tmpfs` (`HostConfig.Mounts`) and `--tmpfs path[:opts]` (Docker's
//! default `noexec,nosuid,nodev`, a user flag replacing its opposite). Destinations are
//! absolute, cleaned and unique.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::Mount;
use pouch_api::container::HostConfig;

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

/// Cleans an absolute container path; `None` when it is relative or climbs with `..`.
fn clean_destination(dest: &str) -> Option<String> {
    let p = Path::new(dest);
    if !p.is_absolute() {
        return None;
    }
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out.to_string_lossy().into_owned())
}

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

fn bind_source(flag: &str, raw: &str, source: &str, create: bool) -> Result<(), SpecError> {
    if !Path::new(source).is_absolute() {
        return Err(SpecError::invalid(
            flag,
            raw,
            "named volumes are not supported yet (use an absolute host path)",
        ));
    }
    if create && !Path::new(source).exists() {
        std::fs::create_dir_all(source).map_err(|e| SpecError::Io {
            what: format!("creating the bind source {source}"),
            source: e,
        })?;
    }
    if !Path::new(source).exists() {
        return Err(SpecError::invalid(
            flag,
            raw,
            format!("bind source path does not exist: {source}"),
        ));
    }
    Ok(())
}

/// `--volume host:container[:opts]` (opts: `ro`, `rw`, propagation, `z`, `Z`, `nocopy`).
fn parse_bind(raw: &str) -> Result<UserMount, SpecError> {
    let flag = "--volume";
    let parts: Vec<&str> = raw.split(':').collect();
    let (source, dest, opts) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => {
            return Err(SpecError::invalid(
                flag,
                raw,
                "want host-path:container-path[:options]",
            ))
        }
    };
    let dest = destination(flag, raw, dest)?;
    bind_source(flag, raw, source, false)?;
    let mut ro = false;
    let mut propagation = "rprivate";
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => ro = true,
            "rw" => ro = false,
            "z" | "Z" | "nocopy" => {}
            p if PROPAGATIONS.contains(&p) => propagation = p,
            other => {
                return Err(SpecError::invalid(
                    flag,
                    raw,
                    format!("unknown option {other}"),
                ))
            }
        }
    }
    let mut options = vec!["rbind"];
    if ro {
        options.push("ro");
    }
    options.push(propagation);
    Ok(UserMount {
        flag,
        raw: raw.to_string(),
        mount: mount(&dest, "bind", source, &options),
    })
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

/// `--mount type=bind|tmpfs,...` (`HostConfig.Mounts`).
fn parse_api_mount(m: &pouch_api::container::Mount) -> Result<UserMount, SpecError> {
    let flag = "--mount";
    let raw = format!("type={},source={},target={}", m.kind, m.source, m.target);
    let dest = destination(flag, &raw, &m.target)?;
    let mount = match m.kind.as_str() {
        "bind" => {
            let opts = m.bind_options.clone().unwrap_or_default();
            bind_source(flag, &raw, &m.source, opts.create_mountpoint)?;
            let mut options = vec![if opts.non_recursive { "bind" } else { "rbind" }];
            if m.read_only {
                options.push(if opts.read_only_force_recursive {
                    "rro"
                } else {
                    "ro"
                });
            }
            let propagation = if opts.propagation.is_empty() {
                "rprivate"
            } else if PROPAGATIONS.contains(&opts.propagation.as_str()) {
                opts.propagation.as_str()
            } else {
                return Err(SpecError::invalid(
                    flag,
                    &raw,
                    format!("unknown propagation {}", opts.propagation),
                ));
            };
            options.push(propagation);
            mount(&dest, "bind", &m.source, &options)
        }
        "tmpfs" => {
            let mut extra = Vec::new();
            if let Some(t) = &m.tmpfs_options {
                if t.size_bytes > 0 {
                    extra.push(format!("size={}", t.size_bytes));
                }
                if t.mode != 0 {
                    extra.push(format!("mode={:o}", t.mode & 0o7777));
                }
            }
            if m.read_only {
                extra.push("ro".to_string());
            }
            let options = tmpfs_options(flag, &raw, &extra.join(","))?;
            let refs: Vec<&str> = options.iter().map(String::as_str).collect();
            mount(&dest, "tmpfs", "tmpfs", &refs)
        }
        "volume" | "" => {
            return Err(SpecError::invalid(
                flag,
                &raw,
                "volume mounts are not supported yet (use type=bind)",
            ))
        }
        other => {
            return Err(SpecError::invalid(
                flag,
                &raw,
                format!("unsupported mount type {other}"),
            ))
        }
    };
    Ok(UserMount { flag, raw, mount })
}

/// Every user mount, checked; duplicates of a destination are refused.
pub fn user_mounts(host: &HostConfig) -> Result<Vec<UserMount>, SpecError> {
    let mut out = Vec::new();
    for b in host.binds.iter().flatten() {
        out.push(parse_bind(b)?);
    }
    for m in host.mounts.iter().flatten() {
        out.push(parse_api_mount(m)?);
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
                format!("duplicate mount point {dest}"),
            ));
        }
    }
    Ok(out)
}

/// Checks the user's mounts without building the spec (for `validate`).
pub fn check(host: &HostConfig) -> Result<(), SpecError> {
    user_mounts(host).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn spec_mounts_binds() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().to_string_lossy().into_owned();
        let m = parse_bind(&format!("{src}:/data:ro,rshared"))
            .unwrap()
            .mount;
        assert_eq!(m.destination(), Path::new("/data"));
        assert_eq!(
            m.options().as_deref().unwrap(),
            &["rbind".to_string(), "ro".into(), "rshared".into()]
        );
        let err = parse_bind("/nonexistent-pouch-src:/data").unwrap_err();
        assert!(err.to_string().contains("bind source path does not exist"));
        assert!(parse_bind("myvol:/data").unwrap_err().is_invalid_argument());
        assert!(parse_bind(&format!("{src}:data")).is_err());
        assert!(parse_bind(&format!("{src}:/")).is_err());
        assert!(parse_bind(&format!("{src}:/data:bogus")).is_err());
        assert_eq!(clean_destination("/a//b/./c/").unwrap(), "/a/b/c");
    }
}
