//! A container's mounts, as Docker's `registerMountPoints` and
//! `createContainerOSSpecificSettings` make them: `--volumes-from` first (each mount of the
//! other container, read-only with `:ro`), then `--volume` (`HostConfig.Binds`) and
//! `--mount` (`HostConfig.Mounts`), which replace a `--volumes-from` mount at the same
//! destination but not each other or a `--tmpfs` ("duplicate mount point"), then anonymous
//! volumes for the `Config.Volumes` (`-v /path`, image `VOLUME`s) nothing else covers.
//!
//! `plan_mounts` checks everything before the create allocates anything (400s naming the
//! flag); `make_mounts` then creates missing named and anonymous volumes, mounts every
//! volume (counted by the volume manager: a tmpfs volume is mounted by its first user),
//! creates missing `--volume` host dirs (as Docker), and copies the image's content into
//! empty volumes unless `nocopy`. The result is the record's `mounts` (inspect `Mounts`),
//! which the OCI spec is built from at every start. `release_mounts` undoes it at remove
//! (`rm -v`, and `--rm` containers, also remove their anonymous volumes).

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pouch_api::container::{ContainerConfig, HostConfig, MountPoint};
use pouch_api::ApiError;
use pouch_volume::{MountKind, MountSpec, VolumeError, VolumeManager};
use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};

use super::record::ContainerRecord;
use super::{fault, internal, Containers};

/// One mount of a create body, checked, not yet made.
pub(super) enum Planned {
    /// `--volume` or `--mount`.
    Spec(MountSpec),
    /// An anonymous volume for a `Config.Volumes` entry (`-v /path`, an image `VOLUME`).
    Anonymous(MountSpec),
    /// A mount of another container (`--volumes-from`), with its new read-write setting.
    From(MountPoint),
}

/// Mounts by destination, in the order they were first given.
#[derive(Default)]
struct Plan {
    items: Vec<Planned>,
    /// Destination → index in `items`.
    at: BTreeMap<String, usize>,
}

impl Plan {
    /// Adds a mount, replacing one at the same destination.
    fn put(&mut self, dest: String, p: Planned) {
        match self.at.get(&dest) {
            Some(i) => self.items[*i] = p,
            None => {
                self.at.insert(dest, self.items.len());
                self.items.push(p);
            }
        }
    }
}

/// What `make_mounts` made: undone if the create fails, announced (events) if it succeeds.
#[derive(Default)]
pub(super) struct VolumeUndo {
    /// Volumes created for this container, with their driver.
    created: Vec<(String, String)>,
    /// Volumes mounted for this container (one entry per use).
    mounted: Vec<String>,
}

fn volume_error(e: VolumeError) -> ApiError {
    ApiError::from(e)
}

fn duplicate(flag: &str, raw: &str, dest: &str) -> ApiError {
    ApiError::invalid(format!(
        "invalid {flag} {raw}: duplicate mount point: {dest}"
    ))
}

impl Containers {
    /// Checks the mounts of a create body and orders them (see the module doc). Errors are
    /// 400s naming the flag, 404 for a `--volumes-from` container that does not exist, 409
    /// for a named volume that exists with another driver.
    pub(super) fn plan_mounts(
        &self,
        config: &ContainerConfig,
        host: &HostConfig,
    ) -> Result<Vec<Planned>, ApiError> {
        let vm = &self.volumes;
        let mut plan = Plan::default();
        let tmpfs: BTreeSet<String> = host
            .tmpfs
            .keys()
            .filter_map(|d| pouch_volume::clean_destination(d))
            .collect();

        for raw in host.volumes_from.iter().flatten() {
            let (name, rw) = pouch_volume::parse_volumes_from(raw).map_err(volume_error)?;
            let other = self.get(&name)?;
            for mut m in other.record().mounts {
                m.rw = m.rw && rw;
                // Docker copies neither the mode nor the copy-up of another's mount.
                m.mode.clear();
                plan.put(m.destination.clone(), Planned::From(m));
            }
        }

        let mut explicit: BTreeSet<String> = BTreeSet::new();
        let binds = host
            .binds
            .iter()
            .flatten()
            .map(|b| pouch_volume::parse_bind(b, &host.volume_driver));
        let mounts = host.mounts.iter().flatten().map(pouch_volume::parse_mount);
        for spec in binds.chain(mounts) {
            let spec = spec.map_err(volume_error)?;
            if !explicit.insert(spec.destination.clone()) || tmpfs.contains(&spec.destination) {
                return Err(duplicate(spec.flag, &spec.raw, &spec.destination));
            }
            if spec.kind == MountKind::Volume {
                self.check_volume(vm, &spec)?;
            }
            plan.put(spec.destination.clone(), Planned::Spec(spec));
        }

        for dest in config.volumes.iter().flat_map(|v| v.keys()) {
            let spec = pouch_volume::parse_bind(dest, &host.volume_driver).map_err(volume_error)?;
            if spec.kind != MountKind::Volume || !spec.source.is_empty() {
                return Err(ApiError::invalid(format!(
                    "invalid volume {dest}: a container path is expected (use --volume to mount a host path or a named volume)"
                )));
            }
            if plan.at.contains_key(&spec.destination) || tmpfs.contains(&spec.destination) {
                continue;
            }
            self.check_volume(vm, &spec)?;
            plan.put(spec.destination.clone(), Planned::Anonymous(spec));
        }
        Ok(plan.items)
    }

    /// Checks the volume a mount names (or will create): an existing volume must have the
    /// driver asked for; a new one's driver and options must be valid.
    fn check_volume(&self, vm: &VolumeManager, spec: &MountSpec) -> Result<(), ApiError> {
        if !spec.source.is_empty() {
            match vm.get(&spec.source) {
                Ok(rec) if spec.driver.is_empty() || rec.driver == spec.driver => return Ok(()),
                Ok(rec) => {
                    return Err(volume_error(VolumeError::Conflict {
                        name: rec.name,
                        existing: rec.driver,
                    }))
                }
                Err(VolumeError::NotFound(_)) => {}
                Err(e) => return Err(volume_error(e)),
            }
        }
        vm.check_options(&spec.driver, &spec.driver_opts)
            .map_err(|e| ApiError::invalid(format!("invalid {} {}: {e}", spec.flag, spec.raw)))
    }

    /// Makes the planned mounts of container `id` whose root filesystem is mounted at
    /// `rootfs`, recording in `undo` what to take back if the create fails.
    pub(super) fn make_mounts(
        &self,
        plan: Vec<Planned>,
        rootfs: &Path,
        undo: &mut VolumeUndo,
    ) -> Result<Vec<MountPoint>, ApiError> {
        let vm = &self.volumes;
        let mut out = Vec::with_capacity(plan.len());
        for p in plan {
            let (spec, relabel) = match p {
                Planned::From(mut m) => {
                    if m.kind == "volume" {
                        let source = vm.mount(&m.name).map_err(volume_error)?;
                        undo.mounted.push(m.name.clone());
                        m.source = source.display().to_string();
                    }
                    out.push(m);
                    continue;
                }
                Planned::Spec(spec) => (spec, true),
                Planned::Anonymous(spec) => (spec, false),
            };
            let mut m = MountPoint {
                kind: spec.kind.as_str().to_string(),
                destination: spec.destination.clone(),
                mode: spec.mode.clone(),
                rw: spec.rw,
                propagation: spec.propagation.clone(),
                ..Default::default()
            };
            match spec.kind {
                MountKind::Bind => {
                    let source = Path::new(&spec.source);
                    if spec.create_source && !source.exists() {
                        std::fs::create_dir_all(source).map_err(|e| {
                            internal(format!(
                                "cannot create the bind source {} of {} {}: {e}",
                                spec.source, spec.flag, spec.raw
                            ))
                        })?;
                    }
                    m.source = spec.source.clone();
                }
                MountKind::Tmpfs => {}
                MountKind::Volume => {
                    let existing = match spec.source.as_str() {
                        "" => None,
                        name => match vm.get(name) {
                            Ok(rec) => Some(rec),
                            Err(VolumeError::NotFound(_)) => None,
                            Err(e) => return Err(volume_error(e)),
                        },
                    };
                    let rec = match existing {
                        Some(rec) => rec,
                        None => {
                            let name = Some(spec.source.as_str()).filter(|n| !n.is_empty());
                            let rec = vm
                                .create(
                                    name,
                                    &spec.driver,
                                    spec.driver_opts.clone(),
                                    spec.labels.clone(),
                                    name.is_none(),
                                )
                                .map_err(volume_error)?;
                            undo.created.push((rec.name.clone(), rec.driver.clone()));
                            rec
                        }
                    };
                    let source = vm.mount(&rec.name).map_err(volume_error)?;
                    undo.mounted.push(rec.name.clone());
                    let image = image_path(rootfs, &spec.destination);
                    if let Some((path, false)) = &image {
                        return Err(ApiError::invalid(format!(
                            "invalid {} {}: cannot mount volume over existing file, file exists {}",
                            spec.flag,
                            spec.raw,
                            path.display()
                        )));
                    }
                    if let Some((path, true)) = image {
                        if spec.copy_data && vm.is_empty(&rec.name) {
                            pouch_volume::copy_up(&path, &source).map_err(|e| {
                                internal(format!(
                                    "cannot copy the image's {} into volume {}: {e}",
                                    spec.destination, rec.name
                                ))
                            })?;
                        }
                    }
                    if relabel && m.mode.is_empty() && rec.driver == "local" {
                        // Docker's default relabel mode of the local volumes it is given.
                        m.mode = "z".to_string();
                    }
                    m.name = rec.name;
                    m.driver = rec.driver;
                    m.source = source.display().to_string();
                }
            }
            out.push(m);
        }
        fault::check("create.volumes")?;
        Ok(out)
    }

    /// Takes back what `make_mounts` did for a create that failed (blocking).
    pub(super) fn undo_mounts(&self, undo: &VolumeUndo) {
        if undo.mounted.is_empty() && undo.created.is_empty() {
            return;
        }
        let vm = &self.volumes;
        for name in &undo.mounted {
            if let Err(e) = vm.unmount(name) {
                tracing::warn!(volume = %name, "cannot unmount after a failed create: {e}");
            }
        }
        for (name, _) in &undo.created {
            if let Err(e) = vm.remove(name) {
                tracing::warn!(volume = %name, "cannot remove after a failed create: {e}");
            }
        }
    }

    /// Publishes the volume events of a create that succeeded: `create` for each new
    /// volume, `mount` for each volume mount.
    pub(super) fn mounts_created(&self, id: &str, mounts: &[MountPoint], undo: &VolumeUndo) {
        for (name, driver) in &undo.created {
            let attrs = BTreeMap::from([("driver".to_string(), driver.clone())]);
            self.events.publish("volume", "create", name, attrs);
        }
        for m in mounts {
            if m.kind != "volume" {
                continue;
            }
            let attrs = BTreeMap::from([
                ("driver".to_string(), m.driver.clone()),
                ("container".to_string(), id.to_string()),
                ("destination".to_string(), m.destination.clone()),
                ("read/write".to_string(), m.rw.to_string()),
                ("propagation".to_string(), m.propagation.clone()),
            ]);
            self.events.publish("volume", "mount", &m.name, attrs);
        }
    }

    /// Releases the volumes of a removed container (it is out of the table already): each
    /// volume mount is unmounted (`unmount` event); with `remove_anonymous`, its anonymous
    /// volumes no other container uses are removed (`destroy` event). Failures are logged:
    /// the container is gone either way.
    pub(super) async fn release_mounts(
        self: &Arc<Self>,
        id: &str,
        rec: &ContainerRecord,
        remove_anonymous: bool,
    ) {
        let names: Vec<(String, String)> = rec
            .mounts
            .iter()
            .filter(|m| m.kind == "volume")
            .map(|m| (m.name.clone(), m.driver.clone()))
            .collect();
        if names.is_empty() {
            return;
        }
        let this = self.clone();
        let id = id.to_string();
        let done = tokio::task::spawn_blocking(move || {
            let vm = &this.volumes;
            for (name, driver) in &names {
                if let Err(e) = vm.unmount(name) {
                    tracing::warn!(volume = %name, "cannot unmount: {e}");
                }
                let attrs = BTreeMap::from([
                    ("driver".to_string(), driver.clone()),
                    ("container".to_string(), id.clone()),
                ]);
                this.events.publish("volume", "unmount", name, attrs);
            }
            if !remove_anonymous {
                return;
            }
            let distinct: BTreeSet<&(String, String)> = names.iter().collect();
            for (name, driver) in distinct {
                let anonymous = vm.get(name).map(|r| r.anonymous).unwrap_or(false);
                if !anonymous || !this.volume_users(name).is_empty() {
                    continue;
                }
                match vm.remove(name) {
                    Ok(()) => {
                        let attrs = BTreeMap::from([("driver".to_string(), driver.clone())]);
                        this.events.publish("volume", "destroy", name, attrs);
                    }
                    Err(e) => tracing::warn!(volume = %name, "cannot remove: {e}"),
                }
            }
        })
        .await;
        if let Err(e) = done {
            tracing::warn!("releasing volumes failed: {e}");
        }
    }

    /// The ids of the containers (in any state) that use volume `name`.
    pub(crate) fn volume_users(&self, name: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .all()
            .into_iter()
            .filter(|c| {
                c.with_record(|r| {
                    r.mounts
                        .iter()
                        .any(|m| m.kind == "volume" && m.name == name)
                })
            })
            .map(|c| c.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Mounts again, at engine open, the volumes the containers use, so the volume
    /// manager's counts of users are right and tmpfs volumes are back after a reboot.
    pub(crate) fn restore_volume_mounts(&self, vm: &VolumeManager) {
        for c in self.all() {
            for m in c.with_record(|r| r.mounts.clone()) {
                if m.kind != "volume" {
                    continue;
                }
                if let Err(e) = vm.mount(&m.name) {
                    tracing::warn!(id = %c.id, volume = %m.name, "cannot mount the volume: {e}");
                }
            }
        }
    }
}

/// The host path of container path `dest` in the root filesystem at `rootfs`, resolved as
/// inside the container (symlinks cannot lead out of it), and whether it is a directory;
/// `None` when it does not exist.
fn image_path(rootfs: &Path, dest: &str) -> Option<(PathBuf, bool)> {
    let root = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let fd = rustix::fs::openat2(
        &root,
        dest,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .ok()?;
    let st = rustix::fs::fstat(&fd).ok()?;
    let path = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
    Some((
        path,
        FileType::from_raw_mode(st.st_mode) == FileType::Directory,
    ))
}
