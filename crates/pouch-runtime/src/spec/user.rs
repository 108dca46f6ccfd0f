//! `--user` and `--group-add` resolved against the container's own `/etc/passwd` and
//! `/etc/group` (read through the rootfs, symlinks kept inside it), with the rules of
//! libcontainer's `GetExecUser` that Docker uses: `""`, `name`, `uid`, `name:group`,
//! `uid:gid`; a numeric uid or gid needs no entry; without an explicit group the user's
//! supplementary groups come from `/etc/group`.

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use super::SpecError;

/// The largest id Docker accepts (`int32` max).
const MAX_ID: u32 = i32::MAX as u32;

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
}

struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// Resolves `path` (absolute, as seen inside the container) to a host path under `root`,
/// following symlinks as the container would: absolute targets and `..` never leave `root`.
pub fn resolve_in_root(root: &Path, path: &Path) -> PathBuf {
    let mut pending: Vec<PathBuf> = path
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(PathBuf::from(p)),
            Component::ParentDir => Some(PathBuf::from("..")),
            _ => None,
        })
        .collect();
    let mut resolved = PathBuf::new(); // relative to root
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part.as_os_str() == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        let host = root.join(&candidate);
        match std::fs::symlink_metadata(&host) {
            Ok(meta) if meta.file_type().is_symlink() && links < 40 => {
                links += 1;
                let Ok(target) = std::fs::read_link(&host) else {
                    resolved = candidate;
                    continue;
                };
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(p) => pending.push(PathBuf::from(p)),
                        Component::ParentDir => pending.push(PathBuf::from("..")),
                        _ => {}
                    }
                }
            }
            _ => resolved = candidate,
        }
    }
    root.join(resolved)
}

fn read_db(rootfs: &Path, file: &str) -> Result<String, SpecError> {
    let path = resolve_in_root(rootfs, Path::new(file));
    match std::fs::read_to_string(&path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(SpecError::Io {
            what: format!("reading {file} of the container"),
            source: e,
        }),
    }
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.trim().parse().ok()?,
                gid: f.get(3)?.trim().parse().ok()?,
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.trim().parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn numeric(flag: &str, raw: &str, s: &str) -> Result<Option<u32>, SpecError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match s.parse::<u32>() {
        Ok(n) if n <= MAX_ID => Ok(Some(n)),
        _ => Err(SpecError::invalid(
            flag,
            raw,
            format!("ids must be between 0 and {MAX_ID}"),
        )),
    }
}

/// Resolves `user` (`""`, `name`, `uid`, `name:group`, `uid:gid`, ...) and `group_add` (names
/// or numbers) against the rootfs's `/etc/passwd` and `/etc/group`. Returns
/// `(uid, gid, additional_gids)`.
pub fn resolve_user(
    rootfs: &Path,
    user: &str,
    group_add: &[String],
) -> Result<(u32, u32, Vec<u32>), SpecError> {
    let passwd = parse_passwd(&read_db(rootfs, "/etc/passwd")?);
    let (user_arg, group_arg) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let group_arg = group_arg.filter(|g| !g.is_empty());

    // The user: by name or number; a number needs no entry, a name does.
    let mut uid = 0;
    let mut gid = 0;
    let mut matched_name: Option<String> = None;
    let user_num = numeric("--user", user, user_arg)?;
    let entry = if user_arg.is_empty() {
        passwd.iter().find(|e| e.uid == 0)
    } else {
        match user_num {
            Some(n) => passwd.iter().find(|e| e.uid == n),
            None => passwd.iter().find(|e| e.name == user_arg),
        }
    };
    match (entry, user_num) {
        (Some(e), _) => {
            uid = e.uid;
            gid = e.gid;
            matched_name = Some(e.name.clone());
        }
        (None, Some(n)) => uid = n,
        (None, None) if user_arg.is_empty() => {}
        (None, None) => {
            return Err(SpecError::UnknownUser {
                user: user_arg.to_string(),
            })
        }
    }

    let needs_groups = group_arg.is_some() || matched_name.is_some() || !group_add.is_empty();
    let groups = if needs_groups {
        parse_group(&read_db(rootfs, "/etc/group")?)
    } else {
        Vec::new()
    };

    // The primary group: explicit (name or number), else the passwd entry's; supplementary
    // groups only in the implicit form.
    let mut additional: Vec<u32> = Vec::new();
    match group_arg {
        Some(g) => {
            let by_num = numeric("--user", user, g)?;
            let found = match by_num {
                Some(n) => groups
                    .iter()
                    .find(|e| e.gid == n)
                    .map(|e| e.gid)
                    .or(Some(n)),
                None => groups.iter().find(|e| e.name == g).map(|e| e.gid),
            };
            gid = found.ok_or_else(|| SpecError::UnknownGroup {
                group: g.to_string(),
            })?;
        }
        None => {
            if let Some(name) = &matched_name {
                additional.extend(
                    groups
                        .iter()
                        .filter(|e| e.members.iter().any(|m| m == name))
                        .map(|e| e.gid),
                );
            }
        }
    }

    for g in group_add {
        let g = g.trim();
        let found = match groups.iter().find(|e| e.name == g) {
            Some(e) => Some(e.gid),
            None => numeric("--group-add", g, g)?,
        };
        let found = found.ok_or_else(|| SpecError::UnknownGroup {
            group: g.to_string(),
        })?;
        additional.push(found);
    }
    let mut seen = std::collections::BTreeSet::new();
    additional.retain(|g| seen.insert(*g));
    Ok((uid, gid, additional))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A rootfs with a small passwd/group, `/etc/group` reached through an absolute symlink.
    pub(crate) fn fake_rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(
            etc.join("passwd"),
            "root:x:0:0:root:/root:/bin/sh\n\
             daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
             bob:x:1000:1000:Bob:/home/bob:/bin/sh\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("usr/share")).unwrap();
        std::fs::write(
            dir.path().join("usr/share/group"),
            "root:x:0:\nwheel:x:10:root,bob\naudio:x:29:bob\nbob:x:1000:\nstaff:x:50:\n",
        )
        .unwrap();
        std::os::unix::fs::symlink("/usr/share/group", etc.join("group")).unwrap();
        dir
    }

    #[test]
    fn spec_user_names_and_numbers() {
        let root = fake_rootfs();
        let r = root.path();
        assert_eq!(resolve_user(r, "", &[]).unwrap(), (0, 0, vec![10]));
        assert_eq!(
            resolve_user(r, "bob", &[]).unwrap(),
            (1000, 1000, vec![10, 29])
        );
        assert_eq!(
            resolve_user(r, "1000", &[]).unwrap(),
            (1000, 1000, vec![10, 29])
        );
        assert_eq!(
            resolve_user(r, "bob:staff", &[]).unwrap(),
            (1000, 50, vec![])
        );
        assert_eq!(resolve_user(r, "daemon:0", &[]).unwrap(), (1, 0, vec![]));
        // Numbers without entries are allowed.
        assert_eq!(resolve_user(r, "4242", &[]).unwrap(), (4242, 0, vec![]));
        assert_eq!(
            resolve_user(r, "4242:4343", &[]).unwrap(),
            (4242, 4343, vec![])
        );
        // --group-add by name and number.
        assert_eq!(
            resolve_user(r, "daemon", &["staff".into(), "777".into()]).unwrap(),
            (1, 1, vec![50, 777])
        );
    }

    #[test]
    fn spec_user_unknown_names_are_invalid() {
        let root = fake_rootfs();
        let r = root.path();
        let err = resolve_user(r, "alice", &[]).unwrap_err();
        assert!(err.is_invalid_argument());
        assert_eq!(
            err.to_string(),
            "unable to find user alice: no matching entries in /etc/passwd"
        );
        let err = resolve_user(r, "bob:nogroup", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unable to find group nogroup: no matching entries in /etc/group"
        );
        assert!(resolve_user(r, "bob", &["video".into()]).is_err());
        let err = resolve_user(r, "99999999999", &[]).unwrap_err();
        assert!(err.to_string().starts_with("invalid --user 99999999999:"));
    }

    #[test]
    fn spec_user_without_passwd_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(resolve_user(dir.path(), "", &[]).unwrap(), (0, 0, vec![]));
        assert_eq!(
            resolve_user(dir.path(), "12:34", &[]).unwrap(),
            (12, 34, vec![])
        );
        assert!(resolve_user(dir.path(), "bob", &[]).is_err());
    }

    #[test]
    fn spec_user_symlinks_stay_in_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", dir.path().join("a/up")).unwrap();
        let p = resolve_in_root(dir.path(), Path::new("/a/up/passwd"));
        assert_eq!(p, dir.path().join("etc/passwd"));
    }
}
