//! `remove` (and `prune`): kill if forced, then free everything the container holds in
//! reverse order of its creation: runtime state, rootfs mount, read-write snapshot, bundle
//! (with its log), shim state, record, name, and last its volumes (`mounts::release_mounts`:
//! unmounted, anonymous ones removed with `-v`).

use std::sync::Arc;
use std::time::Duration;

use pouch_api::container::ContainerPruneResponse;
use pouch_api::{ApiError, Filters};
use pouch_store::CONTAINERS;

use super::record::Status;
use super::{internal, remove_path, Containers};

impl Containers {
    pub async fn remove(
        self: &Arc<Self>,
        name: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), ApiError> {
        let c = self.get(name)?;
        let _op = c.op.lock().await;
        let status = c.status();
        if status == Status::Removing {
            return Err(ApiError::conflict(format!(
                "removal of container {name} is already in progress"
            )));
        }
        if status.is_alive() || status == Status::Restarting {
            if !force {
                let what = if status == Status::Paused {
                    "paused"
                } else {
                    "running"
                };
                return Err(ApiError::conflict(format!(
                    "cannot remove container \"/{}\": container is {what}: stop the container before removing or force remove",
                    c.name()
                )));
            }
            c.with_record(|r| r.state.manually_stopped = true);
            if status.is_alive() {
                self.stop_locked(&c, Some("SIGKILL".into()), Some(0))
                    .await?;
            }
        }
        let mut w = c.watch();
        let _ = tokio::time::timeout(Duration::from_secs(5), w.wait_for(|o| !o.status.is_alive()))
            .await;
        c.with_record(|r| r.state.status = Status::Removing);
        c.notify(false);
        let rec = c.record();
        if let Ok(driver) = self.driver(&rec.runtime) {
            let _ = driver.delete(&c.id, true).await;
        }
        let _ = pouch_runtime::cgroups::remove(&super::start::cgroups_path(
            &rec.host_config.resources.cgroup_parent,
            &c.id,
        ));
        let this = self.clone();
        let id = c.id.clone();
        tokio::task::spawn_blocking(move || this.free_files(&id))
            .await
            .map_err(internal)??;
        self.store.delete(CONTAINERS, &c.id).map_err(internal)?;
        {
            let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
            t.by_id.remove(&c.id);
            if t.names.get(&rec.name) == Some(&c.id) {
                t.names.remove(&rec.name);
            }
        }
        let execs: Vec<String> =
            std::mem::take(&mut *c.execs.lock().unwrap_or_else(|e| e.into_inner()));
        {
            let mut all = self.execs.lock().unwrap_or_else(|e| e.into_inner());
            for e in execs {
                all.remove(&e);
            }
        }
        // Docker: `rm -v`, and the removal of an `--rm` container, take its anonymous
        // volumes too; before `removed` is observed, so `run --rm` returns after them.
        self.release_mounts(&c.id, &rec, volumes || rec.host_config.auto_remove)
            .await;
        c.observed.send_modify(|o| o.removed = true);
        self.event(&c, "destroy", &[]);
        Ok(())
    }

    /// Unmounts the rootfs and removes the snapshot, bundle and state dirs (blocking).
    fn free_files(&self, id: &str) -> Result<(), ApiError> {
        let rootfs = self.paths.rootfs(id);
        pouch_sys::mount::unmount(&rootfs)
            .map_err(|e| internal(format!("cannot unmount the container's root: {e}")))?;
        self.snapshots.remove_rw(id).map_err(internal)?;
        // What an upgrade interrupted by a daemon crash may have left (`rw-<id>new/old`).
        for key in [super::upgrade::new_key(id), super::upgrade::old_key(id)] {
            if !self.snapshots.rw(&key).is_ok_and(|rw| rw.dir.exists()) {
                continue;
            }
            if let Err(e) = self.snapshots.remove_rw(&key) {
                tracing::warn!(id, "cannot remove the upgrade snapshot {key}: {e}");
            }
        }
        remove_path(&self.paths.bundle(id));
        remove_path(&self.paths.state_dir(id));
        Ok(())
    }

    /// `POST /containers/prune`: removes stopped containers (`until`, `label` filters).
    pub async fn prune(
        self: &Arc<Self>,
        filters: &Filters,
    ) -> Result<ContainerPruneResponse, ApiError> {
        filters.check_keys(&["until", "label", "label!"])?;
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for c in self.all() {
            let rec = c.record();
            if !matches!(
                rec.state.status,
                Status::Exited | Status::Created | Status::Dead
            ) {
                continue;
            }
            if !crate::prune::matches(filters, &rec.created, &rec.config.labels)? {
                continue;
            }
            let size = self.snapshots.rw_usage(&c.id);
            if self.remove(&c.id, false, false).await.is_ok() {
                deleted.push(c.id.clone());
                reclaimed += size;
            }
        }
        Ok(ContainerPruneResponse {
            containers_deleted: (!deleted.is_empty()).then_some(deleted),
            space_reclaimed: reclaimed,
        })
    }
}
