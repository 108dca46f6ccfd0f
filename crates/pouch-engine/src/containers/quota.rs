//! Disk quota of containers (Pouch's `DiskQuota` and `QuotaID`): parsing and checking them
//! at create (`check_disk_quota`), setting the limits once the container's read-write layer
//! and mounts exist (`apply_disk_quota`; `apply_disk_quota_at` for `upgrade`'s new layer),
//! and `update --disk-quota` on a live container (`check_update_quota`,
//! `apply_update_quota`).
//!
//! Keys: `/` (or `""`) is the root filesystem (the container's read-write layer, a quota
//! directory made by the snapshotter), an absolute path is the mount point there (its
//! source must be a local volume made as a quota directory), and a key with `*`, `^` or `$`
//! is a pattern matched against the whole path (`.*` = the root filesystem and every mount
//! point; Pouch's regular expressions, limited to `.`, `*`, `^` and `$`). An exact key beats
//! a pattern. A named path that cannot carry a limit is an error; a pattern skips it. With
//! no quota back end any quota request is an error, never a silent no-op.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pouch_api::container::{ContainerConfig, MountPoint};
use pouch_api::ApiError;
use pouch_quota::Quota;

use super::record::ContainerRecord;
use super::Containers;

/// A container's parsed disk quota request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DiskQuota {
    /// Exact paths → bytes (0 = no limit).
    paths: BTreeMap<String, u64>,
    /// Patterns → bytes, in key order.
    patterns: Vec<(String, u64)>,
    /// `QuotaID` > 0: the project id to give the container's quota directories.
    pub quota_id: Option<u32>,
    /// `QuotaID` was given (`-1` asks for a new id; that too needs a back end).
    id_requested: bool,
}

impl DiskQuota {
    /// Whether anything was asked for.
    pub(crate) fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.patterns.is_empty() && !self.id_requested
    }

    fn has_limits(&self) -> bool {
        !self.paths.is_empty() || !self.patterns.is_empty()
    }

    /// The limit for path `dest` and whether it was named exactly.
    fn size_for(&self, dest: &str) -> Option<(u64, bool)> {
        if let Some(b) = self.paths.get(dest) {
            return Some((*b, true));
        }
        // A specific pattern before the catch-all `.*`.
        self.patterns
            .iter()
            .filter(|(p, _)| p != ".*")
            .chain(self.patterns.iter().filter(|(p, _)| p == ".*"))
            .find(|(p, _)| pattern_matches(p, dest))
            .map(|(_, b)| (*b, false))
    }
}

/// Whether `key` is a pattern rather than a path.
fn is_pattern(key: &str) -> bool {
    key.contains(['*', '^', '$'])
}

/// Full match of `text` by a pattern of literal characters, `.` (any one), `c*` (any number
/// of c), `^` and `$` (anchors; the match is always whole).
fn pattern_matches(pattern: &str, text: &str) -> bool {
    fn here(p: &[u8], t: &[u8]) -> bool {
        match p {
            [] => t.is_empty(),
            [b'$'] => t.is_empty(),
            [c, b'*', rest @ ..] => {
                let mut t = t;
                loop {
                    if here(rest, t) {
                        return true;
                    }
                    match t.split_first() {
                        Some((h, tail)) if *c == b'.' || c == h => t = tail,
                        _ => return false,
                    }
                }
            }
            [c, rest @ ..] => match t.split_first() {
                Some((h, tail)) if *c == b'.' || c == h => here(rest, tail),
                _ => false,
            },
        }
    }
    let p = pattern.strip_prefix('^').unwrap_or(pattern);
    here(p.as_bytes(), text.as_bytes())
}

/// A mount point without a trailing slash (`/` stays).
fn normalize(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    }
}

/// Parses `DiskQuota` and `QuotaID` (400s naming the bad value).
pub(crate) fn parse(
    disk_quota: &BTreeMap<String, String>,
    quota_id: &str,
) -> Result<DiskQuota, ApiError> {
    let mut dq = DiskQuota::default();
    for (key, value) in disk_quota {
        let bytes = pouch_quota::parse_size(value)
            .map_err(|e| ApiError::invalid(format!("invalid disk quota {key}={value}: {e}")))?;
        let key = key.trim();
        if is_pattern(key) {
            if key.contains(['[', ']', '(', ')', '{', '}', '+', '?', '|', '\\'])
                || key.starts_with('*')
            {
                return Err(ApiError::invalid(format!(
                    "invalid disk quota path {key:?}: patterns may use only '.', '*', '^' and '$' (like .* or /data.*)"
                )));
            }
            dq.patterns.push((key.to_string(), bytes));
        } else if key.is_empty() || key.starts_with('/') {
            dq.paths.insert(normalize(key).to_string(), bytes);
        } else {
            return Err(ApiError::invalid(format!(
                "invalid disk quota path {key:?}: give / for the root filesystem, an absolute mount point like /data, or a pattern like .*"
            )));
        }
    }
    match quota_id.trim() {
        "" | "0" => {}
        "-1" => dq.id_requested = true,
        v => {
            let id = v.parse::<u32>().ok().filter(|i| *i > 0).ok_or_else(|| {
                ApiError::invalid(format!(
                    "invalid quota id {v:?}: give a positive number, or -1 to let pouchd allocate one"
                ))
            })?;
            dq.quota_id = Some(id);
            dq.id_requested = true;
        }
    }
    Ok(dq)
}

/// The error for a quota request on a home dir without a back end.
fn not_supported(home: &Path) -> ApiError {
    ApiError::invalid(format!(
        "disk quota is not supported: the home dir {} is on {} without project quota or btrfs",
        home.display(),
        crate::host::backing_filesystem(home)
    ))
}

/// The quota directory behind a volume mount: the volume's data dir or its parent
/// (`<volumes>/<name>` holding `_data`). `None` for anything else.
fn volume_quota_dir(q: &dyn Quota, m: &MountPoint) -> Option<PathBuf> {
    if m.kind != "volume" || m.source.is_empty() {
        return None;
    }
    let src = Path::new(&m.source);
    if q.is_quota_dir(src) {
        return Some(src.to_path_buf());
    }
    let parent = src.parent()?;
    (src.file_name()? == "_data" && q.is_quota_dir(parent)).then(|| parent.to_path_buf())
}

/// Sets the limits of `dq` on the root filesystem's quota dir `rootfs_dir` and on the quota
/// dirs of `mounts` (see the module header for which ones).
fn apply_limits(
    q: &dyn Quota,
    container: &str,
    rootfs_dir: &Path,
    dq: &DiskQuota,
    mounts: &[MountPoint],
) -> Result<(), ApiError> {
    let set = |dir: &Path, what: &str, bytes: u64| {
        q.set_limit(dir, bytes).map_err(|e| {
            ApiError::internal(format!(
                "cannot set the disk quota of {what} of container {container}: {e}"
            ))
        })
    };
    for key in dq.paths.keys() {
        if key != "/" && !mounts.iter().any(|m| normalize(&m.destination) == key) {
            return Err(ApiError::invalid(format!(
                "invalid disk quota path {key}: container {container} has no mount at {key}"
            )));
        }
    }
    if let Some((bytes, exact)) = dq.size_for("/") {
        if q.is_quota_dir(rootfs_dir) {
            set(rootfs_dir, "the root filesystem", bytes)?;
        } else if exact {
            return Err(ApiError::invalid(format!(
                "cannot limit the root filesystem of container {container}: it was created before disk quota was available (recreate it)"
            )));
        }
    }
    for m in mounts {
        let dest = normalize(&m.destination);
        let Some((bytes, exact)) = dq.size_for(dest) else {
            continue;
        };
        match volume_quota_dir(q, m) {
            Some(dir) => set(&dir, &format!("the volume at {dest}"), bytes)?,
            None if exact => {
                return Err(ApiError::invalid(format!(
                    "cannot limit {dest} of container {container}: only a local volume made with disk quota support can carry a quota, and {} is not one",
                    m.source
                )))
            }
            None => {
                tracing::debug!(container, dest, "no disk quota: the mount cannot carry one")
            }
        }
    }
    Ok(())
}

impl Containers {
    /// Checks `DiskQuota` and `QuotaID` of a create body before anything is allocated: bad
    /// values and requests the home dir cannot enforce are 400s. The result goes to
    /// `Snapshotter::create_rw_with_quota_id` (`quota_id`) and `apply_disk_quota`.
    pub(crate) fn check_disk_quota(&self, config: &ContainerConfig) -> Result<DiskQuota, ApiError> {
        let dq = parse(&config.disk_quota, &config.quota_id)?;
        if dq.is_empty() {
            return Ok(dq);
        }
        let q = self
            .snapshots
            .quota()
            .ok_or_else(|| not_supported(&self.paths.home))?;
        if let (Some(id), "btrfs") = (dq.quota_id, q.backend()) {
            return Err(ApiError::invalid(format!(
                "invalid quota id {id}: the home dir {} is on btrfs, where every container gets a qgroup of its own; leave the quota id out",
                self.paths.home.display()
            )));
        }
        Ok(dq)
    }

    /// Sets the disk quotas of container `id` once its read-write layer exists and its
    /// mounts are resolved: the root filesystem and the local volumes at its mount points.
    pub(crate) fn apply_disk_quota(
        &self,
        id: &str,
        dq: &DiskQuota,
        mounts: &[MountPoint],
    ) -> Result<(), ApiError> {
        self.apply_disk_quota_at(id, &self.snapshots.rw_quota_dir(id), dq, mounts)
    }

    /// `apply_disk_quota` with the root filesystem's quota dir at `rootfs_dir`: `upgrade`
    /// limits the container's new read-write snapshot before it takes the old one's place.
    pub(crate) fn apply_disk_quota_at(
        &self,
        id: &str,
        rootfs_dir: &Path,
        dq: &DiskQuota,
        mounts: &[MountPoint],
    ) -> Result<(), ApiError> {
        if !dq.has_limits() {
            return Ok(());
        }
        let q = self
            .snapshots
            .quota()
            .ok_or_else(|| not_supported(&self.paths.home))?;
        apply_limits(q.as_ref(), id, rootfs_dir, dq, mounts)
    }

    /// `update --disk-quota`: parses and checks the new quotas (`None` when none were given).
    pub(crate) fn check_update_quota(
        &self,
        disk_quota: &BTreeMap<String, String>,
    ) -> Result<Option<DiskQuota>, ApiError> {
        if disk_quota.is_empty() {
            return Ok(None);
        }
        let dq = parse(disk_quota, "")?;
        if self.snapshots.quota().is_none() {
            return Err(not_supported(&self.paths.home));
        }
        Ok(Some(dq))
    }

    /// `update --disk-quota`: sets the limits now (running or not) and records them in the
    /// container's `DiskQuota`.
    pub(crate) fn apply_update_quota(
        &self,
        rec: &mut ContainerRecord,
        dq: &DiskQuota,
        disk_quota: &BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        self.apply_disk_quota(&rec.id, dq, &rec.mounts)?;
        for (k, v) in disk_quota {
            let k = k.trim();
            let k = if is_pattern(k) { k } else { normalize(k) };
            rec.config.disk_quota.insert(k.to_string(), v.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pouch_forms_parse() {
        let dq = parse(&map(&[("/", "10g"), ("/data/", "5g"), (".*", "1g")]), "").unwrap();
        assert_eq!(dq.size_for("/"), Some((10 << 30, true)));
        assert_eq!(dq.size_for("/data"), Some((5 << 30, true)));
        assert_eq!(dq.size_for("/other"), Some((1 << 30, false)));
        assert!(dq.quota_id.is_none() && !dq.is_empty());
        // The CLI's bare size may arrive under an empty key.
        assert_eq!(
            parse(&map(&[("", "512m")]), "").unwrap().size_for("/"),
            Some((512 << 20, true))
        );
        assert!(parse(&BTreeMap::new(), "").unwrap().is_empty());
        assert!(parse(&BTreeMap::new(), "0").unwrap().is_empty());
    }

    #[test]
    fn patterns_match_whole_paths() {
        let dq = parse(&map(&[("/data.*", "2g"), (".*", "1g")]), "").unwrap();
        assert_eq!(dq.size_for("/data"), Some((2 << 30, false)));
        assert_eq!(dq.size_for("/data2/x"), Some((2 << 30, false)));
        assert_eq!(dq.size_for("/"), Some((1 << 30, false)));
        assert_eq!(dq.size_for("/var/data"), Some((1 << 30, false)));
        assert!(pattern_matches("^/a.c$", "/abc"));
        assert!(!pattern_matches("/a", "/ab"));
        assert!(!pattern_matches("/b.*", "/a/b"));
        assert!(parse(&map(&[("/data", "1g")]), "")
            .unwrap()
            .size_for("/x")
            .is_none());
    }

    #[test]
    fn bad_values_are_400s_naming_them() {
        for (k, v, needle) in [
            ("/", "lots", "lots"),
            ("/data", "-1g", "-1g"),
            ("data", "1g", "\"data\""),
            ("/d(a|b)*", "1g", "/d(a|b)*"),
        ] {
            let e = parse(&map(&[(k, v)]), "").unwrap_err();
            assert_eq!(e.kind, pouch_api::ErrorKind::InvalidArgument, "{k}={v}");
            assert!(e.message.contains(needle), "{k}={v}: {}", e.message);
        }
        for id in ["x", "-2", "99999999999"] {
            let e = parse(&BTreeMap::new(), id).unwrap_err();
            assert!(e.message.contains(&format!("{id:?}")), "{}", e.message);
        }
    }

    #[test]
    fn quota_ids() {
        let dq = parse(&BTreeMap::new(), "1000").unwrap();
        assert_eq!(dq.quota_id, Some(1000));
        assert!(!dq.is_empty());
        let dq = parse(&BTreeMap::new(), "-1").unwrap();
        assert_eq!(dq.quota_id, None);
        assert!(!dq.is_empty(), "-1 asks for an id: it needs a back end");
    }

    #[test]
    fn no_back_end_names_the_home_and_its_filesystem() {
        let e = not_supported(Path::new("/proc"));
        assert_eq!(e.kind, pouch_api::ErrorKind::InvalidArgument);
        assert!(
            e.message
                .starts_with("disk quota is not supported: the home dir /proc is on "),
            "{}",
            e.message
        );
        assert!(e.message.ends_with(" without project quota or btrfs"));
    }

    /// Root test over a real btrfs on a loop device: the root filesystem, a volume named
    /// exactly and volumes matched by `.*` get their limits; bind mounts are skipped by
    /// patterns and refused by name.
    #[test]
    fn limits_reach_the_rootfs_and_volumes_on_btrfs() {
        let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        });
        if !root {
            eprintln!("SKIPPED limits_reach_the_rootfs_and_volumes_on_btrfs: needs root");
            return;
        }
        let fs = crate::test_btrfs::LoopBtrfs::new(300);
        let mnt = fs.mnt().to_path_buf();

        let q = pouch_quota::detect(&mnt).expect("btrfs back end");
        let rootfs = mnt.join("rw");
        q.create_dir(&rootfs, None).unwrap();
        let vol = |name: &str, dest: &str| {
            let d = mnt.join(name);
            q.create_dir(&d, None).unwrap();
            std::fs::create_dir(d.join("_data")).unwrap();
            MountPoint {
                kind: "volume".into(),
                name: name.into(),
                source: d.join("_data").display().to_string(),
                destination: dest.into(),
                ..Default::default()
            }
        };
        let bind_src = mnt.join("bind");
        std::fs::create_dir(&bind_src).unwrap();
        let bind = MountPoint {
            kind: "bind".into(),
            source: bind_src.display().to_string(),
            destination: "/host".into(),
            ..Default::default()
        };
        let mounts = vec![vol("v1", "/data"), vol("v2", "/logs/"), bind];
        let dq = parse(&map(&[("/", "10m"), ("/data", "5m"), (".*", "1m")]), "").unwrap();
        apply_limits(q.as_ref(), "c1", &rootfs, &dq, &mounts).unwrap();
        assert_eq!(q.limit(&rootfs).unwrap(), 10 << 20);
        assert_eq!(q.limit(&mnt.join("v1")).unwrap(), 5 << 20);
        assert_eq!(q.limit(&mnt.join("v2")).unwrap(), 1 << 20);

        let e = apply_limits(
            q.as_ref(),
            "c1",
            &rootfs,
            &parse(&map(&[("/host", "1m")]), "").unwrap(),
            &mounts,
        )
        .unwrap_err();
        assert!(e.message.contains("cannot limit /host"), "{}", e.message);
        let e = apply_limits(
            q.as_ref(),
            "c1",
            &rootfs,
            &parse(&map(&[("/nope", "1m")]), "").unwrap(),
            &mounts,
        )
        .unwrap_err();
        assert!(e.message.contains("has no mount at /nope"), "{}", e.message);
        // An update raising the root filesystem only.
        apply_limits(
            q.as_ref(),
            "c1",
            &rootfs,
            &parse(&map(&[("/", "50m")]), "").unwrap(),
            &mounts,
        )
        .unwrap();
        assert_eq!(q.limit(&rootfs).unwrap(), 50 << 20);
        assert_eq!(q.limit(&mnt.join("v1")).unwrap(), 5 << 20);
        for d in ["rw", "v1", "v2"] {
            q.remove_dir(&mnt.join(d)).unwrap();
        }
        drop(fs);
    }
}
