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

mod config;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pouch_api::container::{ContainerConfig, ContainerUpgradeConfig, MountPoint};
use pouch_api::{ApiError, ErrorKind};

use super::create::spec_error;
use super::mounts::{Planned, VolumeUndo};
use super::network::NetworkPins;
use super::quota::DiskQuota;
use super::record::{ContainerRecord, Status};
use super::{fault, internal, Container, Containers};
use config::{new_volumes, upgraded_config};

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

#[cfg(test)]
mod tests {
    use super::*;

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
