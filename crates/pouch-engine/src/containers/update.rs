//! `update` (resources, live through the runtime when the container runs; restart policy,
//! disk quota, env and labels), `rename`, `resize` and `top`.

use std::sync::Arc;

use pouch_api::container::{
    ContainerTopResponse, ContainerUpdate, ContainerUpdateResponse, Resources,
};
use pouch_api::ApiError;
use pouch_runtime::shim::ShimClient;

use super::create::{spec_error, validate_restart};
use super::names::validate_name;
use super::record::Status;
use super::{internal, Containers};

impl Containers {
    pub async fn update(
        self: &Arc<Self>,
        name: &str,
        update: ContainerUpdate,
    ) -> Result<ContainerUpdateResponse, ApiError> {
        let c = self.get(name)?;
        let _op = c.op.lock().await;
        let mut rec = c.record();
        let old_mem = rec.host_config.resources.memory;
        merge_resources(&mut rec.host_config.resources, &update.resources);
        let r = &rec.host_config.resources;
        if update.resources.memory > 0
            && update.resources.memory_swap == 0
            && r.memory_swap > 0
            && r.memory > r.memory_swap
        {
            return Err(ApiError::invalid(format!(
                "invalid --memory {}: memory limit should be smaller than the already set memoryswap limit {} (update --memory-swap at the same time)",
                r.memory, r.memory_swap
            )));
        }
        if let Some(p) = update.restart_policy.filter(|p| !p.name.is_empty()) {
            rec.host_config.restart_policy = p;
            validate_restart(&rec.host_config)?;
            if rec.host_config.auto_remove && rec.host_config.restart_policy.name != "no" {
                return Err(ApiError::invalid(
                    "cannot update the restart policy of an --rm (AutoRemove) container",
                ));
            }
        }
        if let Some(env) = &update.env {
            let mut cur = rec.config.env.clone().unwrap_or_default();
            apply_assignments(&mut cur, env, "--env")?;
            rec.config.env = Some(cur);
        }
        if let Some(labels) = &update.labels {
            let mut cur: Vec<String> = rec
                .config
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            apply_assignments(&mut cur, labels, "--label")?;
            rec.config.labels = cur
                .into_iter()
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (kv, String::new()),
                })
                .collect();
        }
        let disk_quota = self.check_update_quota(&update.disk_quota)?;
        let warnings = pouch_runtime::spec::validate(&rec.config, &rec.host_config)
            .map_err(|e| spec_error(&e.to_string(), e.is_invalid_argument()))?;
        let linux = pouch_runtime::spec::linux_resources(&rec.host_config.resources)
            .map_err(|e| spec_error(&e.to_string(), e.is_invalid_argument()))?;
        if rec.state.status.is_alive() {
            let json = serde_json::to_value(&linux).map_err(internal)?;
            self.driver(&rec.runtime)?
                .update(&c.id, &json)
                .await
                .map_err(|e| {
                    let msg = e.to_string();
                    if old_mem != rec.host_config.resources.memory && msg.contains("device or resource busy") {
                        ApiError::invalid(format!("cannot update container {name}: the memory limit is below the current usage ({msg})"))
                    } else {
                        ApiError::internal(format!("cannot update container {name}: {msg}"))
                    }
                })?;
        }
        if let Some(dq) = &disk_quota {
            self.apply_update_quota(&mut rec, dq, &update.disk_quota)?;
        }
        if update.env.is_some() {
            // Login shells of a rich container read the environment from its profile file,
            // later execs from the spec's process.
            self.write_profile_env(&c.id, &rec.config)?;
            if rec.state.status.is_alive() {
                self.rewrite_spec_env(&c.id, &rec.config)?;
            }
        }
        c.with_record(|r| {
            r.host_config = rec.host_config.clone();
            r.config.disk_quota = rec.config.disk_quota.clone();
            r.config.env = rec.config.env.clone();
            r.config.labels = rec.config.labels.clone();
        });
        self.persist(&c)?;
        self.event(&c, "update", &[]);
        Ok(ContainerUpdateResponse { warnings })
    }

    /// Puts the config's environment into the bundle's spec, which execs start from.
    fn rewrite_spec_env(
        &self,
        id: &str,
        config: &pouch_api::container::ContainerConfig,
    ) -> Result<(), ApiError> {
        let path = self.paths.bundle(id).join("config.json");
        let mut spec = oci_spec::runtime::Spec::load(&path)
            .map_err(|e| internal(format!("cannot read the spec of container {id}: {e}")))?;
        let env = pouch_runtime::spec::process_env(config)
            .map_err(|e| spec_error(&e.to_string(), e.is_invalid_argument()))?;
        if let Some(p) = spec.process_mut() {
            p.set_env(Some(env));
        }
        let json = serde_json::to_vec_pretty(&spec).map_err(internal)?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, &json)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| internal(format!("cannot write the spec of container {id}: {e}")))
    }

    pub fn rename(&self, name: &str, new_name: &str) -> Result<(), ApiError> {
        let c = self.get(name)?;
        let new = validate_name(new_name).map_err(ApiError::invalid)?;
        let old = c.name();
        if old == new {
            return Err(ApiError::invalid(format!(
                "renaming a container with the same name as its current name: {new}"
            )));
        }
        {
            let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
            if let Some(other) = t.names.get(&new) {
                return Err(ApiError::conflict(format!(
                    "Conflict. The container name \"/{new}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                )));
            }
            t.names.remove(&old);
            t.names.insert(new.clone(), c.id.clone());
        }
        c.with_record(|r| r.name = new.clone());
        if let Err(e) = self.persist(&c) {
            let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
            t.names.remove(&new);
            t.names.insert(old.clone(), c.id.clone());
            c.with_record(|r| r.name = old);
            return Err(e);
        }
        self.event(&c, "rename", &[("oldName", format!("/{old}"))]);
        Ok(())
    }

    pub async fn resize(&self, name: &str, height: u16, width: u16) -> Result<(), ApiError> {
        let c = self.get(name)?;
        if !c.status().is_alive() {
            return Err(ApiError::conflict(format!(
                "cannot resize container {name}: it is not running"
            )));
        }
        ShimClient::new(&self.paths.state_dir(&c.id))
            .resize(height, width)
            .await
            .map_err(|e| ApiError::internal(format!("cannot resize container {name}: {e}")))
    }

    pub async fn top(
        &self,
        name: &str,
        ps_args: Option<&str>,
    ) -> Result<ContainerTopResponse, ApiError> {
        let c = self.get(name)?;
        let rec = c.record();
        if !rec.state.status.is_alive() {
            return Err(ApiError::conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        let mut pids = pouch_runtime::cgroups::pids(&super::start::cgroups_path(
            &rec.host_config.resources.cgroup_parent,
            &c.id,
        ));
        if pids.is_empty() && rec.state.status == Status::Running {
            pids.push(rec.state.pid as i32);
        }
        let args = ps_args.map(str::to_string);
        let (titles, processes) =
            tokio::task::spawn_blocking(move || pouch_runtime::proc::top(&pids, args.as_deref()))
                .await
                .map_err(internal)?
                .map_err(|e| ApiError::invalid(e.to_string()))?;
        Ok(ContainerTopResponse { titles, processes })
    }
}

/// Pouch's update rule for env and labels ([`crate::edits`]); a bad entry is a 400 naming
/// `flag`.
fn apply_assignments(
    cur: &mut Vec<String>,
    changes: &[String],
    flag: &str,
) -> Result<(), ApiError> {
    crate::edits::apply(cur, changes).map_err(|change| {
        ApiError::invalid(format!(
            "invalid {flag} {change:?}: want KEY=VALUE to set, or KEY to remove"
        ))
    })
}

/// Docker's update rule: a field the request sets (non-zero) replaces the container's.
fn merge_resources(cur: &mut Resources, new: &Resources) {
    macro_rules! take {
        ($($f:ident),*) => { $( if new.$f != 0 { cur.$f = new.$f; } )* };
    }
    take!(
        cpu_shares,
        memory,
        nano_cpus,
        blkio_weight,
        cpu_period,
        cpu_quota,
        cpu_realtime_period,
        cpu_realtime_runtime,
        kernel_memory,
        kernel_memory_tcp,
        memory_reservation,
        memory_swap
    );
    if new.nano_cpus != 0 {
        cur.cpu_period = 0;
        cur.cpu_quota = 0;
    }
    if new.cpu_quota != 0 || new.cpu_period != 0 {
        cur.nano_cpus = 0;
    }
    if !new.cpuset_cpus.is_empty() {
        cur.cpuset_cpus = new.cpuset_cpus.clone();
    }
    if !new.cpuset_mems.is_empty() {
        cur.cpuset_mems = new.cpuset_mems.clone();
    }
    if new.pids_limit.is_some_and(|p| p != 0) {
        cur.pids_limit = new.pids_limit;
    }
    if new.memory_swappiness.is_some() {
        cur.memory_swappiness = new.memory_swappiness;
    }
    if new.oom_kill_disable.is_some() {
        cur.oom_kill_disable = new.oom_kill_disable;
    }
}

#[cfg(test)]
mod tests {
    use super::apply_assignments;

    #[test]
    fn assignments_set_empty_and_remove() {
        let mut cur = vec!["A=1".to_string(), "B=2".to_string()];
        apply_assignments(
            &mut cur,
            &["A=3".into(), "B".into(), "C=".into(), "D".into()],
            "--env",
        )
        .unwrap();
        assert_eq!(cur, ["A=3", "C="]);
        assert!(apply_assignments(&mut cur, &["=x".into()], "--env").is_err());
    }
}
