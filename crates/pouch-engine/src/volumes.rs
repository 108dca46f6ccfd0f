//! Volumes in the engine: the `/volumes` API over the volume manager (create, list with
//! Docker's filters, inspect, remove, prune), `system df`'s volume list, volume events
//! (`create`, `destroy`, `prune`; `mount` and `unmount` come from the containers), and the
//! opening of the manager (the container manager gets it too, and recounts the volumes the
//! containers hold mounted).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pouch_api::volume::{
    UsageData, Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse, SCOPE_LOCAL,
};
use pouch_api::{ApiError, Filters};
use pouch_volume::{VolumeManager, VolumeRecord};

use crate::containers::Containers;
use crate::{Engine, EngineConfig};

/// Opens the volume manager of an engine (`<home>/volumes`, tmpfs volumes under
/// `<exec-root>/volumes`).
pub(crate) fn open(
    config: &EngineConfig,
    store: Arc<pouch_store::Store>,
    quota: Option<Arc<dyn pouch_quota::Quota>>,
) -> Result<Arc<VolumeManager>, pouch_volume::VolumeError> {
    Ok(Arc::new(VolumeManager::new(
        store,
        config.home_dir.join("volumes"),
        quota,
        config.exec_root.clone(),
    )?))
}

/// `true`, `1` → true; `false`, `0` → false (Docker's boolean filter values).
fn bool_filter(key: &str, v: &str) -> Result<bool, ApiError> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::invalid(format!(
            "invalid filter '{key}={v}': use true or false"
        ))),
    }
}

fn labels_match(filters: &[String], labels: &BTreeMap<String, String>) -> bool {
    filters.iter().all(|f| match f.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(f.as_str()),
    })
}

impl Engine {
    /// Docker's `Volume` of a record.
    fn volume_api(&self, rec: &VolumeRecord, usage: Option<UsageData>) -> Volume {
        Volume {
            created_at: rec.created_at.clone(),
            driver: rec.driver.clone(),
            labels: rec.labels.clone(),
            mountpoint: self.volumes.mountpoint(rec).display().to_string(),
            name: rec.name.clone(),
            options: rec.options.clone(),
            scope: SCOPE_LOCAL.to_string(),
            status: None,
            usage_data: usage,
        }
    }

    fn volume_event(&self, action: &str, name: &str, attrs: &[(&str, String)]) {
        let attrs = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        self.containers
            .events
            .publish("volume", action, name, attrs);
    }

    /// `POST /volumes/create` (201): an existing volume of the same name (and driver, when
    /// one is given) is returned as it is, as Docker does.
    pub async fn create_volume(&self, req: VolumeCreateRequest) -> Result<Volume, ApiError> {
        let vm = self.volumes.clone();
        let rec = tokio::task::spawn_blocking(move || {
            // Docker: a volume created without a name is anonymous (pruned by default).
            let name = Some(req.name.as_str()).filter(|n| !n.is_empty());
            vm.create(
                name,
                &req.driver,
                req.driver_opts,
                req.labels,
                name.is_none(),
            )
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
        self.volume_event("create", &rec.name, &[("driver", rec.driver.clone())]);
        Ok(self.volume_api(&rec, None))
    }

    /// `GET /volumes`: filters `dangling` (not used by any container), `driver`, `label`
    /// (`key` or `key=value`) and `name` (a part of the name).
    pub fn list_volumes(&self, filters: &Filters) -> Result<VolumeListResponse, ApiError> {
        filters.check_keys(&["dangling", "driver", "label", "name"])?;
        let dangling = match filters.get("dangling").last() {
            Some(v) => Some(bool_filter("dangling", v)?),
            None => None,
        };
        let used = self.containers.used_volumes();
        let volumes = self
            .volumes
            .list()?
            .into_iter()
            .filter(|r| dangling.is_none_or(|d| d != used.contains(&r.name)))
            .filter(|r| {
                let drivers = filters.get("driver");
                drivers.is_empty() || drivers.contains(&r.driver)
            })
            .filter(|r| {
                let names = filters.get("name");
                names.is_empty() || names.iter().any(|n| r.name.contains(n.as_str()))
            })
            .filter(|r| labels_match(filters.get("label"), &r.labels))
            .map(|r| self.volume_api(&r, None))
            .collect();
        Ok(VolumeListResponse {
            volumes,
            warnings: Vec::new(),
        })
    }

    /// `GET /volumes/{name}`.
    pub fn inspect_volume(&self, name: &str) -> Result<Volume, ApiError> {
        let rec = self.volumes.get(name)?;
        Ok(self.volume_api(&rec, None))
    }

    /// `DELETE /volumes/{name}`: refused (409) while a container, in any state, uses it;
    /// `force` makes a missing volume not an error.
    pub async fn remove_volume(&self, name: &str, force: bool) -> Result<(), ApiError> {
        let rec = match self.volumes.get(name) {
            Ok(rec) => rec,
            Err(pouch_volume::VolumeError::NotFound(_)) if force => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let users = self.containers.volume_users(&rec.name);
        if !users.is_empty() {
            return Err(ApiError::conflict(format!(
                "remove {}: volume is in use - [{}]",
                rec.name,
                users.join(", ")
            )));
        }
        let vm = self.volumes.clone();
        let vname = rec.name.clone();
        tokio::task::spawn_blocking(move || vm.remove(&vname))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??;
        self.volume_event("destroy", &rec.name, &[("driver", rec.driver.clone())]);
        Ok(())
    }

    /// `POST /volumes/prune`: removes the unused anonymous volumes, or every unused volume
    /// with the filter `all=true`; `label` and `label!` narrow it.
    pub async fn prune_volumes(&self, filters: &Filters) -> Result<VolumePruneResponse, ApiError> {
        filters.check_keys(&["label", "label!", "all"])?;
        let all = match filters.get("all").last() {
            Some(v) => bool_filter("all", v)?,
            None => false,
        };
        let used = self.containers.used_volumes();
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for rec in self.volumes.list()? {
            if used.contains(&rec.name) || !(all || rec.anonymous) {
                continue;
            }
            if !crate::prune::matches(filters, &rec.created_at, &rec.labels)? {
                continue;
            }
            let vm = self.volumes.clone();
            let name = rec.name.clone();
            let removed = tokio::task::spawn_blocking(move || {
                let size = vm.usage(&name);
                vm.remove(&name).map(|()| size)
            })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
            match removed {
                Ok(size) => {
                    reclaimed += u64::try_from(size).unwrap_or(0);
                    self.volume_event("destroy", &rec.name, &[("driver", rec.driver.clone())]);
                    deleted.push(rec.name);
                }
                // Taken by a container created meanwhile.
                Err(e) => tracing::info!(volume = %rec.name, "not pruned: {e}"),
            }
        }
        self.volume_event("prune", "", &[("reclaimed", reclaimed.to_string())]);
        Ok(VolumePruneResponse {
            volumes_deleted: deleted,
            space_reclaimed: reclaimed,
        })
    }

    /// The volumes of `GET /system/df`, with `UsageData` (size by a walk, and the number of
    /// containers using each).
    pub(crate) fn volumes_disk_usage(&self) -> Result<Vec<Volume>, ApiError> {
        Ok(self
            .volumes
            .list()?
            .into_iter()
            .map(|rec| {
                let usage = UsageData {
                    size: self.volumes.usage(&rec.name),
                    ref_count: self.containers.volume_users(&rec.name).len() as i64,
                };
                self.volume_api(&rec, Some(usage))
            })
            .collect())
    }
}

impl Containers {
    /// The names of the volumes any container uses.
    pub(crate) fn used_volumes(&self) -> BTreeSet<String> {
        self.all()
            .iter()
            .flat_map(|c| c.record().mounts)
            .filter(|m| m.kind == "volume")
            .map(|m| m.name)
            .collect()
    }
}

#[cfg(test)]
mod tests;
