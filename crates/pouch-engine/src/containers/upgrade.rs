//! `upgrade` (Pouch's image hot upgrade): a container gets a fresh root filesystem from a new
//! image and the config merged from it, and keeps its id, name, addresses, published ports,
//! volumes and disk quota; a running container restarts on the new image.
//!
//! Order: everything is checked first (the image, the merged config, the command); the new
//! read-write snapshot is made (`rw-<id>new`, with the disk quota) while the container still
//! runs; then the container stops (a stop the restart policy ignores), its rootfs is
//! unmounted, `rw-<id>` moves aside to `rw-<id>old` and the new snapshot takes its place, the
//! overlay of the new image is mounted, anonymous volumes are made for new `VOLUME`s, the
//! record changes, and the container starts again on the addresses and host ports it had
//! (`NetworkPins`). A failure at any step after the checks puts it all back in reverse
//! order: the old snapshot, mount, record and state (running again if it ran), and removes
//! the new snapshot. Only after a success is the old snapshot removed. See docs/upgrade.md.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pouch_api::container::{ContainerConfig, ContainerUpgradeConfig, MountPoint};
use pouch_api::image::ImageConfig;
use pouch_api::{ApiError, ErrorKind};

use super::create::spec_error;
use super::mounts::{Planned, VolumeUndo};
use super::network::NetworkPins;
use super::quota::DiskQuota;
use super::record::{ContainerRecord, Status};
use super::{fault, internal, Container, Containers};

/// Why an upgrade was refused or failed, naming the container and the images.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error("no image given: name the new image of container {0} (pouch upgrade --image IMAGE)")]
    NoImage(String),
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("cannot upgrade container {name}: it is {status}{hint}")]
    State {
        name: String,
        status: &'static str,
        hint: &'static str,
    },
    #[error(
        "cannot upgrade container {0}: it runs with --rm and would be removed when stopped; \
         recreate it instead"
    )]
    AutoRemove(String),
    #[error(
        "container {name} already has image {image} ({id}): nothing to upgrade; pull or \
         build a new image first"
    )]
    SameImage {
        name: String,
        image: String,
        id: String,
    },
    #[error(
        "no command specified: image {0} has no default command; give one after the \
         container name"
    )]
    NoCommand(String),
    /// A step failed; `outcome` says where the container is now.
    #[error("upgrade of {name} to {image} failed at {step}: {reason}; {outcome}")]
    Failed {
        name: String,
        image: String,
        step: Step,
        reason: String,
        outcome: String,
        /// The kind of the step's error (a bad command is the client's fault).
        kind: ErrorKind,
    },
}

impl From<UpgradeError> for ApiError {
    fn from(e: UpgradeError) -> ApiError {
        let kind = match &e {
            UpgradeError::NoImage(_)
            | UpgradeError::SameImage { .. }
            | UpgradeError::NoCommand(_) => ErrorKind::InvalidArgument,
            UpgradeError::NoSuchImage(_) => ErrorKind::NotFound,
            UpgradeError::State { .. } | UpgradeError::AutoRemove(_) => ErrorKind::Conflict,
            UpgradeError::Failed { kind, .. } => *kind,
        };
        ApiError::new(kind, e.to_string())
    }
}

/// The steps of an upgrade after the checks, as its errors name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Snapshot,
    Stop,
    Rootfs,
    Record,
    Start,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Snapshot => "snapshot",
            Step::Stop => "stop",
            Step::Rootfs => "rootfs",
            Step::Record => "record",
            Step::Start => "start",
        })
    }
}

/// What the new image gives the container, worked out before anything changes.
struct Target {
    image_name: String,
    image_id: String,
    config: ContainerConfig,
    path: String,
    args: Vec<String>,
    /// Lower dirs of the new rootfs overlay, top-most first.
    lower_dirs: Vec<PathBuf>,
    quota: DiskQuota,
    /// Anonymous volumes for the new image's `VOLUME`s that no mount covers.
    volumes: Vec<Planned>,
}

/// How far the swap of the root filesystems got: what a rollback undoes.
#[derive(Default)]
struct Swap {
    unmounted: bool,
    old_aside: bool,
    new_in_place: bool,
    mounted: bool,
    volumes: VolumeUndo,
}

/// Snapshot keys of the new and the old read-write layer while an upgrade runs.
pub(super) fn new_key(id: &str) -> String {
    format!("{id}new")
}

pub(super) fn old_key(id: &str) -> String {
    format!("{id}old")
}

/// How long the exit handler of the stopped process gets to finish.
const EXIT_HANDLED: Duration = Duration::from_secs(5);

impl Containers {
    /// `POST /containers/{id}/upgrade`.
    pub async fn upgrade(
        self: &Arc<Self>,
        name: &str,
        req: ContainerUpgradeConfig,
    ) -> Result<(), ApiError> {
        let c = self.get(name)?;
        let _op = c.op.lock().await;
        let old = c.record();
        let status = old.state.status;
        let refuse = |status: &'static str, hint: &'static str| UpgradeError::State {
            name: old.name.clone(),
            status,
            hint,
        };
        match status {
            Status::Paused => return Err(refuse("paused", ": unpause it first").into()),
            Status::Removing | Status::Dead => {
                return Err(refuse(status.as_str(), ": it is being removed").into())
            }
            _ => {}
        }
        let was_running = status == Status::Running;
        if was_running && old.host_config.auto_remove {
            return Err(UpgradeError::AutoRemove(old.name.clone()).into());
        }
        let target = {
            let old = old.clone();
            self.upgrade_blocking(move |this| this.upgrade_target(&old, &req))
                .await??
        };
        let image = target.image_name.clone();
        let fail = |step: Step, e: ApiError, outcome: String| -> ApiError {
            UpgradeError::Failed {
                name: old.name.clone(),
                image: image.clone(),
                step,
                reason: e.message,
                outcome,
                kind: e.kind,
            }
            .into()
        };
        let unchanged = format!("the container is still on {}", old.image_name);

        // The new read-write layer, limited like the old one, while the container runs.
        let (id, quota) = (c.id.clone(), target.quota.clone());
        let mounts = old.mounts.clone();
        let prepared = self
            .upgrade_blocking(move |this| this.upgrade_snapshot(&id, &quota, &mounts))
            .await
            .and_then(|r| r);
        if let Err(e) = prepared {
            return Err(fail(Step::Snapshot, e, unchanged));
        }

        let pins = was_running.then(|| NetworkPins::of(&old));
        if was_running {
            if let Err(e) = self.upgrade_stop(&c).await {
                let id = c.id.clone();
                let _ = self
                    .upgrade_blocking(move |this| this.drop_snapshot(&new_key(&id)))
                    .await;
                c.with_record(|r| r.state.manually_stopped = old.state.manually_stopped);
                self.persist_logged(&c);
                return Err(fail(Step::Stop, e, unchanged));
            }
        }

        let (id, lowers) = (c.id.clone(), target.lower_dirs.clone());
        let planned = target.volumes;
        let swapped = self
            .upgrade_blocking(move |this| {
                let mut swap = Swap::default();
                let r = this.upgrade_swap(&id, &lowers, planned, &mut swap);
                (r, swap)
            })
            .await;
        let (new_mounts, swap) = match swapped {
            Ok((Ok(m), swap)) => (m, swap),
            Ok((Err(e), swap)) => {
                let outcome = self.upgrade_rollback(&c, &old, swap, pins).await;
                return Err(fail(Step::Rootfs, e, outcome));
            }
            Err(e) => {
                // The blocking task died: nothing to know about the swap, so nothing undone.
                return Err(fail(
                    Step::Rootfs,
                    e,
                    "the container may be left stopped".into(),
                ));
            }
        };

        c.with_record(|r| {
            r.image_name = target.image_name.clone();
            r.image_id = target.image_id.clone();
            r.config = target.config.clone();
            r.path = target.path.clone();
            r.args = target.args.clone();
            r.lower_dirs = target.lower_dirs.clone();
            r.mounts.extend(new_mounts.iter().cloned());
        });
        if let Err(e) = fault::check("upgrade.record").and_then(|()| self.persist(&c)) {
            let outcome = self.upgrade_rollback(&c, &old, swap, pins).await;
            return Err(fail(Step::Record, e, outcome));
        }

        if was_running {
            c.with_record(|r| r.state.manually_stopped = false);
            *c.net_pins.lock().unwrap_or_else(|e| e.into_inner()) = pins.clone();
            let started = self.start_locked(&c).await;
            c.net_pins.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Err(e) = started {
                let outcome = self.upgrade_rollback(&c, &old, swap, pins).await;
                return Err(fail(Step::Start, e, outcome));
            }
        }

        let id = c.id.clone();
        if let Err(e) = self
            .upgrade_blocking(move |this| this.drop_snapshot(&old_key(&id)))
            .await
            .and_then(|r| r)
        {
            tracing::warn!(id = %c.id, "upgrade: cannot remove the old root filesystem: {}", e.message);
        }
        self.mounts_created(&c.id, &new_mounts, &swap.volumes);
        self.event(&c, "upgrade", &[("oldImage", old.image_name.clone())]);
        tracing::info!(id = %c.id, from = %old.image_name, to = %target.image_name, "container upgraded");
        Ok(())
    }

    /// Runs `f` on a blocking thread (file system and mount work).
    async fn upgrade_blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Containers) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&this))
            .await
            .map_err(internal)
    }

    /// Checks the request and works out the container's new image, config and command.
    fn upgrade_target(
        &self,
        old: &ContainerRecord,
        req: &ContainerUpgradeConfig,
    ) -> Result<Target, ApiError> {
        let image_name = req.image.trim().to_string();
        if image_name.is_empty() {
            return Err(UpgradeError::NoImage(old.name.clone()).into());
        }
        let image = self.images.inspect(&image_name).map_err(|e| {
            let e = ApiError::from(e);
            if e.kind == ErrorKind::NotFound {
                UpgradeError::NoSuchImage(image_name.clone()).into()
            } else {
                e
            }
        })?;
        if image.id == old.image_id {
            return Err(UpgradeError::SameImage {
                name: old.name.clone(),
                image: image_name,
                id: image.id.chars().skip(7).take(12).collect(),
            }
            .into());
        }
        // The old image tells what of the container's config came from it; gone, it all
        // counts as set by the user.
        let old_image = self
            .images
            .inspect(&old.image_id)
            .ok()
            .and_then(|i| i.config);
        let config = upgraded_config(
            &old.config,
            old_image.as_ref(),
            image.config.as_ref(),
            req,
            &image_name,
        );
        pouch_runtime::spec::validate(&config, &old.host_config)
            .map_err(|e| spec_error(&e.to_string(), e.is_invalid_argument()))?;
        let mut argv: Vec<String> = config.entrypoint.clone().unwrap_or_default();
        argv.extend(config.cmd.clone().unwrap_or_default());
        if argv.is_empty() {
            return Err(UpgradeError::NoCommand(image_name).into());
        }
        let quota = self.check_disk_quota(&config)?;
        let mut lower_dirs = self
            .images
            .rootfs_layers(&image.id)
            .map_err(ApiError::from)?;
        lower_dirs.reverse();
        let volumes = new_volumes(old, image.config.as_ref())?;
        Ok(Target {
            image_name,
            image_id: image.id.clone(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            config,
            lower_dirs,
            quota,
            volumes,
        })
    }

    /// Makes the new read-write snapshot `rw-<id>new` with the container's disk quota.
    fn upgrade_snapshot(
        &self,
        id: &str,
        quota: &DiskQuota,
        mounts: &[MountPoint],
    ) -> Result<(), ApiError> {
        let key = new_key(id);
        // A leftover of an upgrade the daemon did not finish.
        self.drop_snapshot(&key)?;
        let rw = self
            .snapshots
            .create_rw_with_quota_id(&key, quota.quota_id)
            .map_err(internal)?;
        let limited = self
            .apply_disk_quota_at(id, &rw.dir, quota, mounts)
            .and_then(|()| fault::check("upgrade.snapshot"));
        if let Err(e) = limited {
            let _ = self.drop_snapshot(&key);
            return Err(e);
        }
        Ok(())
    }

    /// Removes read-write snapshot `key` (absent is fine).
    fn drop_snapshot(&self, key: &str) -> Result<(), ApiError> {
        self.snapshots.remove_rw(key).map_err(internal)
    }

    /// Stops a running container for the upgrade (the restart policy sees a manual stop) and
    /// waits until its exit is handled.
    async fn upgrade_stop(&self, c: &Arc<Container>) -> Result<(), ApiError> {
        fault::check("upgrade.stop")?;
        self.stop_locked(c, None, None).await?;
        let mut w = c.watch();
        let _ = tokio::time::timeout(EXIT_HANDLED, w.wait_for(|o| !o.status.is_alive())).await;
        if c.status().is_alive() {
            return Err(internal(format!("container {} did not stop", c.name())));
        }
        // The exit handler removes the shim's state dir last: the next start makes it anew.
        let state_dir = self.paths.state_dir(&c.id);
        let began = Instant::now();
        while state_dir.exists() && began.elapsed() < EXIT_HANDLED {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Puts the new read-write snapshot in the old one's place under the new image's layers
    /// and makes the new anonymous volumes; `swap` records each step done.
    fn upgrade_swap(
        &self,
        id: &str,
        lower_dirs: &[PathBuf],
        planned: Vec<Planned>,
        swap: &mut Swap,
    ) -> Result<Vec<MountPoint>, ApiError> {
        let rootfs = self.paths.rootfs(id);
        pouch_sys::mount::unmount(&rootfs)
            .map_err(|e| internal(format!("cannot unmount the old root filesystem: {e}")))?;
        swap.unmounted = true;
        let (cur, old, new) = (
            self.snapshots.rw(id).map_err(internal)?,
            self.snapshots.rw(&old_key(id)).map_err(internal)?,
            self.snapshots.rw(&new_key(id)).map_err(internal)?,
        );
        // A leftover of an upgrade the daemon did not finish.
        self.drop_snapshot(&old_key(id))?;
        rename(&cur.dir, &old.dir)?;
        swap.old_aside = true;
        rename(&new.dir, &cur.dir)?;
        swap.new_in_place = true;
        self.mount_rootfs(id, lower_dirs)?;
        swap.mounted = true;
        let mounts = self.make_mounts(planned, &rootfs, &mut swap.volumes)?;
        fault::check("upgrade.rootfs")?;
        Ok(mounts)
    }

    /// Undoes `upgrade_swap` in reverse order and removes the new snapshot (blocking).
    fn upgrade_unswap(&self, id: &str, old_lowers: &[PathBuf], swap: Swap) -> Result<(), ApiError> {
        self.undo_mounts(&swap.volumes);
        let rootfs = self.paths.rootfs(id);
        if swap.mounted {
            pouch_sys::mount::unmount(&rootfs)
                .map_err(|e| internal(format!("cannot unmount the new root filesystem: {e}")))?;
        }
        let dir = |key: &str| self.snapshots.rw(key).map(|r| r.dir).map_err(internal);
        if swap.new_in_place {
            rename(&dir(id)?, &dir(&new_key(id))?)?;
        }
        if swap.old_aside {
            rename(&dir(&old_key(id))?, &dir(id)?)?;
        }
        if swap.unmounted {
            self.mount_rootfs(id, old_lowers)?;
        }
        if let Err(e) = self.drop_snapshot(&new_key(id)) {
            tracing::warn!(
                id,
                "upgrade rollback: cannot remove the new root filesystem: {}",
                e.message
            );
        }
        Ok(())
    }

    /// Puts the container back on its old image, config, snapshot and state (running again
    /// if it ran, on its old addresses and ports when they are still free). Returns what
    /// the error says about where the container is.
    async fn upgrade_rollback(
        self: &Arc<Self>,
        c: &Arc<Container>,
        old: &ContainerRecord,
        swap: Swap,
        pins: Option<NetworkPins>,
    ) -> String {
        let (id, lowers) = (c.id.clone(), old.lower_dirs.clone());
        let unswapped = self
            .upgrade_blocking(move |this| this.upgrade_unswap(&id, &lowers, swap))
            .await
            .and_then(|r| r);
        c.with_record(|r| {
            r.image_name = old.image_name.clone();
            r.image_id = old.image_id.clone();
            r.config = old.config.clone();
            r.path = old.path.clone();
            r.args = old.args.clone();
            r.lower_dirs = old.lower_dirs.clone();
            r.mounts = old.mounts.clone();
        });
        if let Err(e) = unswapped {
            c.with_record(|r| r.state.manually_stopped = old.state.manually_stopped);
            self.persist_logged(c);
            return format!(
                "putting the container back on {} failed too: {}",
                old.image_name, e.message
            );
        }
        let Some(pins) = pins else {
            c.with_record(|r| r.state = old.state.clone());
            self.persist_logged(c);
            c.notify(false);
            return format!("the container is back on {}", old.image_name);
        };
        c.with_record(|r| r.state.manually_stopped = false);
        *c.net_pins.lock().unwrap_or_else(|e| e.into_inner()) = Some(pins);
        let mut started = self.start_locked(c).await;
        c.net_pins.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Err(e) = &started {
            // Its address or a host port was taken meanwhile: running matters more.
            tracing::warn!(id = %c.id, "upgrade rollback: cannot start on the old addresses: {}", e.message);
            started = self.start_locked(c).await;
        }
        match started {
            Ok(()) => format!("the container is back on {}", old.image_name),
            Err(e) => {
                c.with_record(|r| r.state.manually_stopped = old.state.manually_stopped);
                self.persist_logged(c);
                format!(
                    "the container is back on {} but did not start again: {}",
                    old.image_name, e.message
                )
            }
        }
    }
}

fn rename(from: &std::path::Path, to: &std::path::Path) -> Result<(), ApiError> {
    std::fs::rename(from, to).map_err(|e| {
        internal(format!(
            "cannot move {} to {}: {e}",
            from.display(),
            to.display()
        ))
    })
}

/// Anonymous volumes for the new image's `VOLUME`s that none of the container's mounts or
/// tmpfs covers (as create makes them).
fn new_volumes(
    old: &ContainerRecord,
    image: Option<&ImageConfig>,
) -> Result<Vec<Planned>, ApiError> {
    let host = &old.host_config;
    let covered: BTreeSet<String> = old
        .mounts
        .iter()
        .map(|m| m.destination.as_str())
        .chain(host.tmpfs.keys().map(String::as_str))
        .filter_map(pouch_volume::clean_destination)
        .collect();
    let mut out = Vec::new();
    for dest in image
        .and_then(|i| i.volumes.as_ref())
        .into_iter()
        .flat_map(|v| v.keys())
    {
        let spec = pouch_volume::parse_bind(dest, &host.volume_driver).map_err(ApiError::from)?;
        if spec.kind != pouch_volume::MountKind::Volume || !spec.source.is_empty() {
            return Err(ApiError::invalid(format!(
                "invalid volume {dest} in the new image: a container path is expected"
            )));
        }
        if covered.contains(&spec.destination) {
            continue;
        }
        out.push(Planned::Anonymous(spec));
    }
    Ok(out)
}

/// The key of an environment entry (`A` of `A=1`).
fn env_key(e: &str) -> &str {
    e.split('=').next().unwrap_or("")
}

/// The container's config on the new image. What came from the old image (equal to the old
/// image's value) becomes the new image's; what the user set stays. Entrypoint and command
/// follow Pouch's upgrade and Docker's create: a given entrypoint wins and drops the image's
/// command unless a command is given too; a given command alone keeps the new image's
/// entrypoint; otherwise both are the new image's. An empty entrypoint clears the image's.
fn upgraded_config(
    cur: &ContainerConfig,
    old: Option<&ImageConfig>,
    new: Option<&ImageConfig>,
    req: &ContainerUpgradeConfig,
    image_name: &str,
) -> ContainerConfig {
    let none = ImageConfig::default();
    let (old, new) = (old.unwrap_or(&none), new.unwrap_or(&none));
    let mut c = cur.clone();
    c.image = image_name.to_string();

    let old_env = old.env.clone().unwrap_or_default();
    let mut env = new.env.clone().unwrap_or_default();
    for e in cur.env.iter().flatten().filter(|e| !old_env.contains(e)) {
        env.retain(|x| env_key(x) != env_key(e));
        env.push(e.clone());
    }
    c.env = Some(env);

    let cmd = req.cmd.clone().filter(|v| !v.is_empty());
    match &req.entrypoint {
        Some(e) if e.iter().any(|s| !s.is_empty()) => {
            c.entrypoint = Some(e.clone());
            c.cmd = cmd;
        }
        Some(_) => {
            c.entrypoint = None;
            c.cmd = cmd.or_else(|| new.cmd.clone());
        }
        None => {
            c.entrypoint = new.entrypoint.clone().filter(|e| !e.is_empty());
            c.cmd = cmd.or_else(|| new.cmd.clone());
        }
    }

    let from_old = |cur: &str, old: &str, new: &str| {
        if cur == old {
            new.to_string()
        } else {
            cur.to_string()
        }
    };
    c.working_dir = from_old(&cur.working_dir, &old.working_dir, &new.working_dir);
    c.user = from_old(&cur.user, &old.user, &new.user);
    c.stop_signal = from_old(
        &cur.stop_signal,
        old.stop_signal.as_deref().unwrap_or_default(),
        new.stop_signal.as_deref().unwrap_or_default(),
    );

    let old_labels = old.labels.clone().unwrap_or_default();
    let mut labels = new.labels.clone().unwrap_or_default();
    for (k, v) in &cur.labels {
        if old_labels.get(k) != Some(v) {
            labels.insert(k.clone(), v.clone());
        }
    }
    c.labels = labels;

    let old_ports = old.exposed_ports.clone().unwrap_or_default();
    let mut ports = new.exposed_ports.clone().unwrap_or_default();
    for (k, v) in cur.exposed_ports.iter().flatten() {
        if !old_ports.contains_key(k) {
            ports.insert(k.clone(), v.clone());
        }
    }
    c.exposed_ports =
        (!ports.is_empty() || cur.exposed_ports.is_some() || new.exposed_ports.is_some())
            .then_some(ports);

    // Volumes stay mounted, so every one stays in the config, with the new image's added.
    if let Some(vols) = &new.volumes {
        let mut all = cur.volumes.clone().unwrap_or_default();
        all.extend(vols.clone());
        c.volumes = Some(all);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn img(env: &[&str], entrypoint: Option<&[&str]>, cmd: &[&str]) -> ImageConfig {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        ImageConfig {
            env: Some(v(env)),
            entrypoint: entrypoint.map(v),
            cmd: Some(v(cmd)),
            ..Default::default()
        }
    }

    fn strings(s: &[&str]) -> Option<Vec<String>> {
        Some(s.iter().map(|x| x.to_string()).collect())
    }

    #[test]
    fn env_keeps_what_the_user_set() {
        let old = img(&["PATH=/old", "V=1", "ONLY_OLD=x"], None, &["sh"]);
        let new = img(&["PATH=/new", "V=2", "ONLY_NEW=y"], None, &["sh"]);
        let cur = ContainerConfig {
            env: strings(&["PATH=/old", "V=1", "ONLY_OLD=x", "MINE=1", "V2=z"]),
            ..Default::default()
        };
        let req = ContainerUpgradeConfig::default();
        let c = upgraded_config(&cur, Some(&old), Some(&new), &req, "app:2");
        assert_eq!(
            c.env.unwrap(),
            vec!["PATH=/new", "V=2", "ONLY_NEW=y", "MINE=1", "V2=z"]
        );
        assert_eq!(c.image, "app:2");
        // A user value for a key of the image overrides the new image's too.
        let cur = ContainerConfig {
            env: strings(&["PATH=/old", "V=mine"]),
            ..Default::default()
        };
        let c = upgraded_config(&cur, Some(&old), Some(&new), &req, "app:2");
        assert_eq!(c.env.unwrap(), vec!["PATH=/new", "ONLY_NEW=y", "V=mine"]);
    }

    #[test]
    fn entrypoint_and_cmd_precedence() {
        let old = img(&[], Some(&["/old-init"]), &["old"]);
        let new = img(&[], Some(&["/init"]), &["serve"]);
        let cur = ContainerConfig {
            entrypoint: strings(&["/old-init"]),
            cmd: strings(&["user", "cmd"]),
            ..Default::default()
        };
        let run = |entrypoint: Option<&[&str]>, cmd: Option<&[&str]>| {
            let req = ContainerUpgradeConfig {
                image: "app:2".into(),
                entrypoint: entrypoint.and_then(strings),
                cmd: cmd.and_then(strings),
            };
            let c = upgraded_config(&cur, Some(&old), Some(&new), &req, "app:2");
            (c.entrypoint, c.cmd)
        };
        // Nothing given: both the new image's (the old user command does not survive).
        assert_eq!(run(None, None), (strings(&["/init"]), strings(&["serve"])));
        // A command alone keeps the new image's entrypoint.
        assert_eq!(
            run(None, Some(&["echo", "hi"])),
            (strings(&["/init"]), strings(&["echo", "hi"]))
        );
        // An entrypoint drops the image's command unless one is given.
        assert_eq!(run(Some(&["/bin/sh"]), None), (strings(&["/bin/sh"]), None));
        assert_eq!(
            run(Some(&["/bin/sh"]), Some(&["-c", "x"])),
            (strings(&["/bin/sh"]), strings(&["-c", "x"]))
        );
        // An empty entrypoint clears the image's and keeps its command.
        assert_eq!(run(Some(&[""]), None), (None, strings(&["serve"])));
    }

    #[test]
    fn image_derived_fields_follow_the_new_image() {
        let mut old = img(&[], None, &["sh"]);
        old.working_dir = "/old".into();
        old.user = "1".into();
        old.labels = Some(BTreeMap::from([
            ("v".to_string(), "1".to_string()),
            ("gone".to_string(), "x".to_string()),
        ]));
        old.exposed_ports = Some(BTreeMap::from([("80/tcp".into(), serde_json::json!({}))]));
        let mut new = img(&[], None, &["sh"]);
        new.working_dir = "/new".into();
        new.labels = Some(BTreeMap::from([("v".to_string(), "2".to_string())]));
        new.exposed_ports = Some(BTreeMap::from([("8080/tcp".into(), serde_json::json!({}))]));
        new.volumes = Some(BTreeMap::from([("/cache".into(), serde_json::json!({}))]));
        let cur = ContainerConfig {
            working_dir: "/old".into(),
            user: "me".into(),
            hostname: "keep".into(),
            labels: BTreeMap::from([
                ("v".to_string(), "1".to_string()),
                ("gone".to_string(), "x".to_string()),
                ("mine".to_string(), "y".to_string()),
            ]),
            exposed_ports: Some(BTreeMap::from([
                ("80/tcp".into(), serde_json::json!({})),
                ("9000/tcp".into(), serde_json::json!({})),
            ])),
            volumes: Some(BTreeMap::from([("/data".into(), serde_json::json!({}))])),
            disk_quota: BTreeMap::from([("/".to_string(), "10m".to_string())]),
            ..Default::default()
        };
        let req = ContainerUpgradeConfig::default();
        let c = upgraded_config(&cur, Some(&old), Some(&new), &req, "app:2");
        assert_eq!(c.working_dir, "/new");
        assert_eq!(c.user, "me", "set by the user");
        assert_eq!(c.hostname, "keep");
        let labels: Vec<(&str, &str)> = c
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(labels, [("mine", "y"), ("v", "2")]);
        let ports: Vec<&String> = c.exposed_ports.as_ref().unwrap().keys().collect();
        assert_eq!(ports, ["8080/tcp", "9000/tcp"]);
        let vols: Vec<&String> = c.volumes.as_ref().unwrap().keys().collect();
        assert_eq!(vols, ["/cache", "/data"]);
        assert_eq!(c.disk_quota, cur.disk_quota);
    }

    #[test]
    fn new_image_volumes_not_covered_get_anonymous_volumes() {
        let rec = ContainerRecord {
            id: "a".repeat(64),
            name: "web".into(),
            created: String::new(),
            image_name: "app:1".into(),
            image_id: String::new(),
            config: ContainerConfig::default(),
            host_config: pouch_api::container::HostConfig {
                tmpfs: BTreeMap::from([("/run".to_string(), String::new())]),
                ..Default::default()
            },
            runtime: String::new(),
            path: String::new(),
            args: Vec::new(),
            state: Default::default(),
            lower_dirs: Vec::new(),
            networks: Default::default(),
            endpoints: Default::default(),
            ports: Default::default(),
            mounts: vec![MountPoint {
                kind: "volume".into(),
                name: "data".into(),
                destination: "/data/".into(),
                ..Default::default()
            }],
        };
        let image = ImageConfig {
            volumes: Some(BTreeMap::from([
                ("/data".into(), serde_json::json!({})),
                ("/run".into(), serde_json::json!({})),
                ("/cache".into(), serde_json::json!({})),
            ])),
            ..Default::default()
        };
        let planned = new_volumes(&rec, Some(&image)).unwrap();
        let dests: Vec<String> = planned
            .iter()
            .map(|p| match p {
                Planned::Anonymous(s) => s.destination.clone(),
                _ => panic!("not anonymous"),
            })
            .collect();
        assert_eq!(dests, ["/cache"]);
        assert!(new_volumes(&rec, None).unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_container_and_images() {
        let e: ApiError = UpgradeError::Failed {
            name: "web".into(),
            image: "busybox:2".into(),
            step: Step::Start,
            reason: "exec: \"nope\": executable file not found in $PATH".into(),
            outcome: "the container is back on busybox:1".into(),
            kind: ErrorKind::InvalidArgument,
        }
        .into();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert_eq!(
            e.message,
            "upgrade of web to busybox:2 failed at start: exec: \"nope\": executable file not found in $PATH; the container is back on busybox:1"
        );
        let e: ApiError = UpgradeError::NoSuchImage("app:9".into()).into();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::NotFound, "No such image: app:9")
        );
        let e: ApiError = UpgradeError::State {
            name: "web".into(),
            status: "paused",
            hint: ": unpause it first",
        }
        .into();
        assert_eq!(e.kind, ErrorKind::Conflict);
        assert_eq!(
            e.message,
            "cannot upgrade container web: it is paused: unpause it first"
        );
    }
}
