//! The project-quota back end (ext4 with the `project` feature mounted with `prjquota`, xfs
//! with `pquota`): a quota directory carries a project id with the inherit flag, so every
//! file made inside is charged to that project, and the project's block hard limit is the
//! directory's limit. Ids are allocated from `FIRST_ID` up, skipping ids the filesystem
//! already accounts; a caller may also choose one (`QuotaID`), which then is shared by every
//! directory given it. The few kernel calls are behind `ProjectSys` (`KernelProject` calls
//! pouch-sys), so the logic here is tested over a fake.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use pouch_sys::SysError;

use crate::{io_err, Quota, QuotaError};

/// The first project id Pouch hands out (ids below are left to the administrator).
pub const FIRST_ID: u32 = 1 << 24;

/// The kernel calls of project quota.
pub trait ProjectSys: Send + Sync + std::fmt::Debug {
    /// Whether project quota is enforced on the filesystem holding `path`.
    fn enforced(&self, path: &Path) -> Result<bool, SysError>;
    /// The project id of `dir` and whether it carries the inherit flag.
    fn project(&self, dir: &Path) -> Result<(u32, bool), SysError>;
    fn set_project(&self, dir: &Path, id: u32, inherit: bool) -> Result<(), SysError>;
    /// (limit, used) bytes of project `id` on the filesystem holding `path`.
    fn usage(&self, path: &Path, id: u32) -> Result<(u64, u64), SysError>;
    /// Sets the limit of project `id` (0 removes it).
    fn set_project_limit(&self, path: &Path, id: u32, bytes: u64) -> Result<(), SysError>;
    /// The first id `>= from` the filesystem accounts (has usage or a limit).
    fn next_id(&self, path: &Path, from: u32) -> Result<Option<u32>, SysError>;
}

/// The real kernel, through `pouch_sys::quota`.
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelProject;

impl ProjectSys for KernelProject {
    fn enforced(&self, path: &Path) -> Result<bool, SysError> {
        let st = pouch_sys::quota::project_quota_state(path)?;
        Ok(st.accounting && st.enforced)
    }
    fn project(&self, dir: &Path) -> Result<(u32, bool), SysError> {
        pouch_sys::quota::project_id(dir)
    }
    fn set_project(&self, dir: &Path, id: u32, inherit: bool) -> Result<(), SysError> {
        pouch_sys::quota::set_project_id(dir, id, inherit)
    }
    fn usage(&self, path: &Path, id: u32) -> Result<(u64, u64), SysError> {
        let u = pouch_sys::quota::project_quota(path, id)?;
        Ok((u.limit_bytes, u.used_bytes))
    }
    fn set_project_limit(&self, path: &Path, id: u32, bytes: u64) -> Result<(), SysError> {
        pouch_sys::quota::set_project_limit(path, id, bytes)
    }
    fn next_id(&self, path: &Path, from: u32) -> Result<Option<u32>, SysError> {
        pouch_sys::quota::next_project_id(path, from)
    }
}

/// Project quota over the filesystem holding the home dir.
#[derive(Debug)]
pub struct ProjectQuota<S: ProjectSys> {
    sys: S,
    home: PathBuf,
    /// The next id to try when allocating.
    next: Mutex<u32>,
}

impl<S: ProjectSys> ProjectQuota<S> {
    /// The back end for the filesystem holding `home`, or `None` when project quota is not
    /// enforced there.
    pub fn open(home: &Path, sys: S) -> Result<Option<ProjectQuota<S>>, QuotaError> {
        if !sys.enforced(home)? {
            return Ok(None);
        }
        // Start past the highest id already in use from FIRST_ID up.
        let mut next = FIRST_ID;
        while let Some(id) = sys.next_id(home, next)? {
            if id < next || id == u32::MAX {
                break;
            }
            next = id + 1;
        }
        Ok(Some(ProjectQuota {
            sys,
            home: home.to_path_buf(),
            next: Mutex::new(next),
        }))
    }

    /// A project id no directory uses yet.
    fn allocate(&self, path: &Path) -> Result<u32, QuotaError> {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let id = *next;
            if id == u32::MAX {
                return Err(QuotaError::NoFreeId {
                    path: path.display().to_string(),
                });
            }
            *next = id + 1;
            // An id chosen by a user (QuotaID) may sit above the counter: skip it.
            if self.sys.next_id(&self.home, id)? != Some(id) {
                return Ok(id);
            }
        }
    }

    /// The project id of a quota directory (an error naming it when it is none).
    fn id_of(&self, path: &Path) -> Result<u32, QuotaError> {
        match self.sys.project(path) {
            Ok((id, true)) if id != 0 => Ok(id),
            _ => Err(QuotaError::NotQuotaDir {
                path: path.display().to_string(),
            }),
        }
    }
}

impl<S: ProjectSys> Quota for ProjectQuota<S> {
    fn backend(&self) -> &'static str {
        "project"
    }

    fn create_dir(&self, path: &Path, id: Option<u32>) -> Result<u32, QuotaError> {
        match std::fs::create_dir(path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(QuotaError::Exists {
                    path: path.display().to_string(),
                })
            }
            r => r.map_err(io_err("make quota dir", path))?,
        }
        let id = match id.filter(|i| *i != 0) {
            Some(id) => Ok(id),
            None => self.allocate(path),
        };
        let set = id.and_then(|id| Ok(self.sys.set_project(path, id, true).map(|()| id)?));
        if set.is_err() {
            let _ = std::fs::remove_dir(path);
        }
        set
    }

    fn set_limit(&self, path: &Path, bytes: u64) -> Result<(), QuotaError> {
        let id = self.id_of(path)?;
        Ok(self.sys.set_project_limit(path, id, bytes)?)
    }

    fn limit(&self, path: &Path) -> Result<u64, QuotaError> {
        let id = self.id_of(path)?;
        Ok(self.sys.usage(path, id)?.0)
    }

    fn remove_dir(&self, path: &Path) -> Result<(), QuotaError> {
        if let Err(e) = path.symlink_metadata() {
            if e.kind() == std::io::ErrorKind::NotFound {
                return Ok(());
            }
            return Err(io_err("remove quota dir", path)(e));
        }
        let id = self.id_of(path).ok();
        std::fs::remove_dir_all(path).map_err(io_err("remove quota dir", path))?;
        // Drop the limit with the last directory of the project, so the id carries nothing
        // over; a shared id (QuotaID) still in use elsewhere keeps it.
        if let Some(id) = id {
            if self.sys.usage(&self.home, id)?.1 == 0 {
                self.sys.set_project_limit(&self.home, id, 0)?;
            }
        }
        Ok(())
    }

    fn is_quota_dir(&self, path: &Path) -> bool {
        path.is_dir() && self.id_of(path).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;

    /// The kernel's project quota as the back end sees it: project ids per directory (new
    /// entries inherit them), limits and usage per id.
    #[derive(Debug, Default)]
    struct Fake {
        enforced: bool,
        dirs: Mutex<HashMap<PathBuf, (u32, bool)>>,
        /// id → (limit, used)
        quotas: Mutex<BTreeMap<u32, (u64, u64)>>,
    }

    fn einval(path: &Path) -> SysError {
        SysError::Call {
            op: "fake",
            path: path.display().to_string(),
            source: std::io::Error::from_raw_os_error(22),
        }
    }

    impl ProjectSys for &Fake {
        fn enforced(&self, _: &Path) -> Result<bool, SysError> {
            Ok(self.enforced)
        }
        fn project(&self, dir: &Path) -> Result<(u32, bool), SysError> {
            if !dir.exists() {
                return Err(einval(dir));
            }
            let dirs = self.dirs.lock().unwrap();
            // Inherited from the nearest ancestor with the inherit flag, as the kernel does.
            let inherited = dir
                .ancestors()
                .skip(1)
                .find_map(|a| dirs.get(a).filter(|(_, inh)| *inh))
                .map(|(id, _)| (*id, true));
            Ok(dirs.get(dir).copied().or(inherited).unwrap_or((0, false)))
        }
        fn set_project(&self, dir: &Path, id: u32, inherit: bool) -> Result<(), SysError> {
            self.dirs
                .lock()
                .unwrap()
                .insert(dir.to_path_buf(), (id, inherit));
            self.quotas.lock().unwrap().entry(id).or_default().1 += 4096;
            Ok(())
        }
        fn usage(&self, _: &Path, id: u32) -> Result<(u64, u64), SysError> {
            Ok(self
                .quotas
                .lock()
                .unwrap()
                .get(&id)
                .copied()
                .unwrap_or_default())
        }
        fn set_project_limit(&self, _: &Path, id: u32, bytes: u64) -> Result<(), SysError> {
            let mut q = self.quotas.lock().unwrap();
            let e = q.entry(id).or_default();
            e.0 = bytes;
            if *e == (0, 0) {
                q.remove(&id);
            }
            Ok(())
        }
        fn next_id(&self, _: &Path, from: u32) -> Result<Option<u32>, SysError> {
            Ok(self
                .quotas
                .lock()
                .unwrap()
                .range(from..)
                .next()
                .map(|(id, _)| *id))
        }
    }

    impl Fake {
        /// What the kernel does when the last file of project `id` goes away.
        fn release(&self, id: u32) {
            if let Some(e) = self.quotas.lock().unwrap().get_mut(&id) {
                e.1 = 0;
            }
        }
    }

    fn enforced() -> Fake {
        Fake {
            enforced: true,
            ..Default::default()
        }
    }

    #[test]
    fn not_enforced_means_no_back_end() {
        let home = tempfile::tempdir().unwrap();
        let fake = Fake::default();
        assert!(ProjectQuota::open(home.path(), &fake).unwrap().is_none());
    }

    #[test]
    fn dirs_get_fresh_ids_and_limits() {
        let home = tempfile::tempdir().unwrap();
        let fake = enforced();
        let q = ProjectQuota::open(home.path(), &fake).unwrap().unwrap();
        assert_eq!(q.backend(), "project");
        let a = home.path().join("a");
        let b = home.path().join("b");
        let ia = q.create_dir(&a, None).unwrap();
        let ib = q.create_dir(&b, None).unwrap();
        assert_eq!(ia, FIRST_ID);
        assert_eq!(ib, FIRST_ID + 1);
        assert!(a.is_dir() && q.is_quota_dir(&a) && q.is_quota_dir(&b));
        assert!(!q.is_quota_dir(home.path()));
        assert_eq!(q.limit(&a).unwrap(), 0);
        q.set_limit(&a, 10 << 20).unwrap();
        assert_eq!(q.limit(&a).unwrap(), 10 << 20);
        assert_eq!(q.limit(&b).unwrap(), 0, "a neighbour's limit leaked");
        q.set_limit(&a, 50 << 20).unwrap();
        assert_eq!(q.limit(&a).unwrap(), 50 << 20);
        q.set_limit(&a, 0).unwrap();
        assert_eq!(q.limit(&a).unwrap(), 0);
        // A subdirectory inherits the id, so limits set through it reach the project.
        std::fs::create_dir(a.join("_data")).unwrap();
        assert!(q.is_quota_dir(&a.join("_data")));
    }

    #[test]
    fn existing_and_plain_dirs_are_refused() {
        let home = tempfile::tempdir().unwrap();
        let fake = enforced();
        let q = ProjectQuota::open(home.path(), &fake).unwrap().unwrap();
        let plain = home.path().join("plain");
        std::fs::create_dir(&plain).unwrap();
        assert!(matches!(
            q.create_dir(&plain, None),
            Err(QuotaError::Exists { .. })
        ));
        let e = q.set_limit(&plain, 1).unwrap_err();
        assert!(matches!(e, QuotaError::NotQuotaDir { .. }));
        assert!(e.to_string().contains(&plain.display().to_string()));
        assert!(q.limit(&plain).is_err());
        assert!(q
            .create_dir(&home.path().join("missing/parent"), None)
            .is_err());
    }

    #[test]
    fn chosen_ids_are_shared_and_skipped_by_allocation() {
        let home = tempfile::tempdir().unwrap();
        let fake = enforced();
        let q = ProjectQuota::open(home.path(), &fake).unwrap().unwrap();
        let (a, b, c) = (
            home.path().join("a"),
            home.path().join("b"),
            home.path().join("c"),
        );
        assert_eq!(q.create_dir(&a, Some(FIRST_ID)).unwrap(), FIRST_ID);
        assert_eq!(q.create_dir(&b, Some(FIRST_ID)).unwrap(), FIRST_ID);
        q.set_limit(&a, 5 << 20).unwrap();
        assert_eq!(q.limit(&b).unwrap(), 5 << 20, "one id, one limit");
        assert_eq!(q.create_dir(&c, None).unwrap(), FIRST_ID + 1);
    }

    #[test]
    fn allocation_starts_past_ids_in_use() {
        let home = tempfile::tempdir().unwrap();
        let fake = enforced();
        fake.quotas.lock().unwrap().insert(7, (1, 1));
        fake.quotas.lock().unwrap().insert(FIRST_ID + 4, (0, 4096));
        let q = ProjectQuota::open(home.path(), &fake).unwrap().unwrap();
        assert_eq!(
            q.create_dir(&home.path().join("a"), None).unwrap(),
            FIRST_ID + 5
        );
    }

    #[test]
    fn remove_clears_the_limit_of_a_released_id_only() {
        let home = tempfile::tempdir().unwrap();
        let fake = enforced();
        let q = ProjectQuota::open(home.path(), &fake).unwrap().unwrap();
        let (a, b) = (home.path().join("a"), home.path().join("b"));
        let id = q.create_dir(&a, Some(42)).unwrap();
        q.create_dir(&b, Some(42)).unwrap();
        q.set_limit(&a, 1 << 20).unwrap();
        std::fs::write(a.join("f"), "x").unwrap();
        q.remove_dir(&a).unwrap();
        assert!(!a.exists());
        assert_eq!(q.limit(&b).unwrap(), 1 << 20, "b still uses project 42");
        fake.release(id);
        q.remove_dir(&b).unwrap();
        assert_eq!((&fake).usage(home.path(), id).unwrap(), (0, 0));
        q.remove_dir(&b).unwrap();
        // A plain dir is removed as such.
        let plain = home.path().join("plain");
        std::fs::create_dir(&plain).unwrap();
        q.remove_dir(&plain).unwrap();
        assert!(!plain.exists());
    }
}
