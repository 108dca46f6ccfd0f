//! `create`: validate everything first, then allocate in order (name, read-write snapshot,
//! bundle dir and its files, rootfs mount, volumes and mounts (`mounts`), record) and undo
//! in reverse order on any error, so a failed create leaves nothing behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pouch_api::container::{
    ContainerConfig, ContainerCreateBody, ContainerCreateResponse, EndpointSettings, HostConfig,
};
use pouch_api::{ApiError, ErrorKind};

use super::names::{generate_name, new_id, validate_name};
use super::record::{ContainerRecord, StateRecord};
use super::{fault, internal, now_rfc3339, remove_path, Container, Containers};

/// Docker's default `/dev/shm` size.
const DEFAULT_SHM: i64 = 64 << 20;

impl Containers {
    pub async fn create(
        self: &Arc<Self>,
        name: Option<String>,
        body: ContainerCreateBody,
    ) -> Result<ContainerCreateResponse, ApiError> {
        let (mode, networks) = self.plan_networks(&body).await?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.create_blocking(name, body, mode, networks))
            .await
            .map_err(internal)?
    }

    fn create_blocking(
        &self,
        name: Option<String>,
        body: ContainerCreateBody,
        network_mode: String,
        networks: BTreeMap<String, EndpointSettings>,
    ) -> Result<ContainerCreateResponse, ApiError> {
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => Some(validate_name(&n).map_err(ApiError::invalid)?),
            None => None,
        };
        let image_name = body.config.image.trim().to_string();
        if image_name.is_empty() {
            return Err(ApiError::invalid(
                "no image given: name the image to create the container from",
            ));
        }
        let image = self.images.inspect(&image_name).map_err(|e| {
            let e = ApiError::from(e);
            if e.kind == ErrorKind::NotFound {
                ApiError::not_found(format!("No such image: {image_name}"))
            } else {
                e
            }
        })?;
        let mut host = body.host_config.clone().unwrap_or_default();
        host.network_mode = network_mode;
        defaults(&mut host, &self.runtime.default_runtime);
        validate_host(&host, &self.runtime.runtimes)?;
        let id = match body.config.specific_id.as_str() {
            "" => new_id(),
            given => validate_specific_id(given)?,
        };
        let mut config = merge_config(&body.config, image.config.as_ref(), &id);
        config.specific_id.clear();
        if pouch_runtime::spec::RichMode::of(&config)
            .is_ok_and(|m| m == Some(pouch_runtime::spec::RichMode::Systemd))
            && config.stop_signal.is_empty()
        {
            // systemd shuts down on SIGRTMIN+3; SIGTERM only re-executes it.
            config.stop_signal = pouch_runtime::spec::SYSTEMD_STOP_SIGNAL.to_string();
        }
        if host.network_mode == "host" && body.config.hostname.is_empty() {
            // Docker: a host-network container has the host's name.
            config.hostname = pouch_sys::uname().nodename;
        }
        let mut warnings = pouch_runtime::spec::validate(&config, &host)
            .map_err(|e| spec_error(&e.to_string(), e.is_invalid_argument()))?;
        let mount_plan = self.plan_mounts(&config, &host)?;
        let disk_quota = self.check_disk_quota(&config)?;
        let mut argv: Vec<String> = config.entrypoint.clone().unwrap_or_default();
        argv.extend(config.cmd.clone().unwrap_or_default());
        if argv.is_empty() {
            return Err(ApiError::invalid(
                "no command specified: give one after the image name or use an image with a default command",
            ));
        }
        let lower_dirs = {
            let mut dirs = self
                .images
                .rootfs_layers(&image.id)
                .map_err(ApiError::from)?;
            dirs.reverse();
            dirs
        };

        let mut undo = Undo::default();
        let name = self.reserve_name(name, &id)?;
        undo.name = Some(name.clone());
        let result = self
            .allocate(
                &id,
                &host,
                &config,
                &lower_dirs,
                disk_quota.quota_id,
                &mut undo,
            )
            .and_then(|()| {
                let rootfs = self.paths.rootfs(&id);
                self.make_mounts(mount_plan, &rootfs, &mut undo.volumes)
            })
            .and_then(|mounts| {
                self.apply_disk_quota(&id, &disk_quota, &mounts)?;
                Ok(mounts)
            });
        let mounts = match result {
            Ok(mounts) => mounts,
            Err(e) => {
                self.rollback(&id, undo);
                return Err(e);
            }
        };
        let rec = ContainerRecord {
            id: id.clone(),
            name: name.clone(),
            created: now_rfc3339(),
            image_name,
            image_id: image.id.clone(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            config,
            host_config: host,
            runtime: String::new(),
            state: StateRecord::default(),
            lower_dirs,
            networks,
            endpoints: Default::default(),
            ports: Default::default(),
            mounts,
        };
        let mut rec = rec;
        rec.runtime = rec.host_config.runtime.clone();
        let c = Container::new(rec);
        if let Err(e) = fault::check("create.record").and_then(|()| self.persist(&c)) {
            self.rollback(&id, undo);
            return Err(e);
        }
        {
            let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
            t.by_id.insert(id.clone(), c.clone());
        }
        self.event(&c, "create", &[]);
        self.mounts_created(&c.id, &c.with_record(|r| r.mounts.clone()), &undo.volumes);
        tracing::debug!(id = %id, name = %name, "container created");
        warnings.retain(|w| !w.is_empty());
        Ok(ContainerCreateResponse { id, warnings })
    }

    /// Reserves `name` (or a generated one) for `id`: 409 when another container has it,
    /// or has the id (`--specific-id`).
    fn reserve_name(&self, name: Option<String>, id: &str) -> Result<String, ApiError> {
        let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
        if t.by_id.contains_key(id) || t.names.values().any(|v| v == id) {
            return Err(ApiError::conflict(format!(
                "Conflict. The container id {id} is already in use: choose another --specific-id"
            )));
        }
        match name {
            Some(n) => {
                if let Some(other) = t.names.get(&n) {
                    return Err(ApiError::conflict(format!(
                        "Conflict. The container name \"/{n}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                    )));
                }
                t.names.insert(n.clone(), id.to_string());
                Ok(n)
            }
            None => {
                for attempt in 0..10 {
                    let n = generate_name(attempt);
                    if !t.names.contains_key(&n) {
                        t.names.insert(n.clone(), id.to_string());
                        return Ok(n);
                    }
                }
                Err(ApiError::internal("cannot generate a free container name"))
            }
        }
    }

    fn allocate(
        &self,
        id: &str,
        host: &HostConfig,
        config: &ContainerConfig,
        lower_dirs: &[PathBuf],
        quota_id: Option<u32>,
        undo: &mut Undo,
    ) -> Result<(), ApiError> {
        self.snapshots
            .create_rw_with_quota_id(id, quota_id)
            .map_err(internal)?;
        undo.snapshot = true;
        fault::check("create.snapshot")?;
        let bundle = self.paths.bundle(id);
        std::fs::create_dir_all(bundle.join("rootfs"))
            .map_err(|e| internal(format!("cannot create {}: {e}", bundle.display())))?;
        undo.bundle = Some(bundle.clone());
        if !config.disable_network_files {
            super::network::write_network_files(&bundle, config, host, None, false)?;
        }
        fault::check("create.bundle")?;
        self.mount_rootfs(id, lower_dirs)?;
        undo.mount = Some(bundle.join("rootfs"));
        fault::check("create.mount")
    }

    /// Undoes what `allocate` did, in reverse order.
    fn rollback(&self, id: &str, undo: Undo) {
        self.undo_mounts(&undo.volumes);
        if let Some(m) = &undo.mount {
            let _ = pouch_sys::mount::unmount(m);
        }
        if let Some(b) = &undo.bundle {
            remove_path(b);
        }
        if undo.snapshot {
            let _ = self.snapshots.remove_rw(id);
        }
        if let Some(n) = undo.name {
            let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
            if t.names.get(&n).map(String::as_str) == Some(id) {
                t.names.remove(&n);
            }
        }
    }

    /// Mounts the rootfs again if it is not mounted (after a host reboot).
    pub(super) fn ensure_mounted(&self, c: &Container) -> Result<(), ApiError> {
        let target = self.paths.rootfs(&c.id);
        if pouch_sys::mount::is_mount_point(&target) {
            return Ok(());
        }
        self.snapshots.create_rw(&c.id).map_err(internal)?;
        self.mount_rootfs(&c.id, &c.with_record(|r| r.lower_dirs.clone()))
    }

    /// Mounts the overlay of `lower_dirs` (top-most first; none: an empty dir) and the
    /// container's read-write snapshot at its rootfs (create, a remount after a reboot, and
    /// `upgrade`).
    pub(super) fn mount_rootfs(&self, id: &str, lower_dirs: &[PathBuf]) -> Result<(), ApiError> {
        let rw = self.snapshots.rw(id).map_err(internal)?;
        let lowers = if lower_dirs.is_empty() {
            let empty = self.paths.bundle(id).join("empty-lower");
            std::fs::create_dir_all(&empty).map_err(internal)?;
            vec![empty]
        } else {
            lower_dirs.to_vec()
        };
        let target = self.paths.rootfs(id);
        std::fs::create_dir_all(&target).map_err(internal)?;
        pouch_sys::mount::mount_overlay(&lowers, &rw.upper, &rw.work, &target)
            .map_err(|e| internal(format!("cannot mount the root filesystem: {e}")))
    }
}

#[derive(Default)]
struct Undo {
    name: Option<String>,
    snapshot: bool,
    bundle: Option<PathBuf>,
    mount: Option<PathBuf>,
    /// Volumes created and mounted for the container (`mounts::make_mounts`).
    volumes: super::mounts::VolumeUndo,
}

/// Checks a `--specific-id`: 64 lower-case hex digits.
fn validate_specific_id(id: &str) -> Result<String, ApiError> {
    if id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(id.to_string())
    } else {
        Err(ApiError::invalid(format!(
            "invalid --specific-id {id:?}: a container id is 64 lower-case hex digits (0-9, a-f)"
        )))
    }
}

pub(super) fn spec_error(message: &str, invalid: bool) -> ApiError {
    if invalid {
        ApiError::invalid(message.to_string())
    } else {
        ApiError::internal(message.to_string())
    }
}

/// Fills Docker's defaults into a host config.
fn defaults(host: &mut HostConfig, default_runtime: &str) {
    if host.network_mode.is_empty() {
        host.network_mode = "default".into();
    }
    if host.log_config.kind.is_empty() {
        host.log_config.kind = "json-file".into();
    }
    if host.runtime.is_empty() {
        host.runtime = default_runtime.to_string();
    }
    if host.shm_size == 0 {
        host.shm_size = DEFAULT_SHM;
    }
    if host.restart_policy.name.is_empty() {
        host.restart_policy.name = "no".into();
    }
    if host.ipc_mode.is_empty() {
        host.ipc_mode = "private".into();
    }
    // Docker: a memory limit without a swap limit allows as much swap as memory.
    let r = &mut host.resources;
    if r.memory > 0 && r.memory_swap == 0 && swap_limit_supported() {
        r.memory_swap = r.memory * 2;
    }
}

fn swap_limit_supported() -> bool {
    Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists()
        || Path::new("/sys/fs/cgroup/memory.swap.max").exists()
}

/// Checks what the spec does not: runtime, restart policy, log driver, namespace modes.
pub(super) fn validate_host(
    host: &HostConfig,
    runtimes: &std::collections::BTreeMap<String, PathBuf>,
) -> Result<(), ApiError> {
    if !runtimes.contains_key(&host.runtime) {
        let known: Vec<&str> = runtimes.keys().map(String::as_str).collect();
        return Err(ApiError::invalid(format!(
            "invalid --runtime {}: unknown runtime (registered: {}; add one with pouchd --add-runtime NAME=PATH)",
            host.runtime,
            known.join(", ")
        )));
    }
    validate_restart(host)?;
    match host.log_config.kind.as_str() {
        "json-file" => {
            for (k, v) in &host.log_config.config {
                match k.as_str() {
                    "max-size" => {
                        parse_size(v).ok_or_else(|| {
                            ApiError::invalid(format!(
                                "invalid --log-opt max-size={v}: expected a size like 10m"
                            ))
                        })?;
                    }
                    "max-file" => {
                        v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                            ApiError::invalid(format!(
                                "invalid --log-opt max-file={v}: expected a number of at least 1"
                            ))
                        })?;
                    }
                    other => {
                        return Err(ApiError::invalid(format!(
                            "unknown log opt '{other}' for json-file log driver"
                        )))
                    }
                }
            }
        }
        "none" => {}
        other => {
            return Err(ApiError::invalid(format!(
                "invalid --log-driver {other}: pouch supports json-file and none"
            )))
        }
    }
    if host.auto_remove && !matches!(host.restart_policy.name.as_str(), "" | "no") {
        return Err(ApiError::invalid(
            "conflicting options: cannot create an --rm (AutoRemove) container with a restart policy",
        ));
    }
    let modes = [
        (
            "--pid",
            host.pid_mode.as_str(),
            &["", "host", "private"][..],
        ),
        (
            "--ipc",
            host.ipc_mode.as_str(),
            &["private", "host", "shareable", "none"][..],
        ),
        (
            "--uts",
            host.uts_mode.as_str(),
            &["", "host", "private"][..],
        ),
    ];
    for (flag, value, allowed) in modes {
        if !allowed.contains(&value) {
            return Err(ApiError::invalid(format!(
                "invalid {flag} {value}: expected one of {}",
                allowed
                    .iter()
                    .filter(|a| !a.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(())
}

pub(super) fn validate_restart(host: &HostConfig) -> Result<(), ApiError> {
    let p = &host.restart_policy;
    match p.name.as_str() {
        "" | "no" | "always" | "unless-stopped" => {
            if p.maximum_retry_count != 0 {
                return Err(ApiError::invalid(
                    "invalid --restart: maximum retry count can only be used with 'on-failure'",
                ));
            }
        }
        "on-failure" => {
            if p.maximum_retry_count < 0 {
                return Err(ApiError::invalid(
                    "invalid --restart on-failure: maximum retry count cannot be negative",
                ));
            }
        }
        other => {
            return Err(ApiError::invalid(format!(
                "invalid --restart {other}: use no, always, unless-stopped or on-failure[:N]"
            )))
        }
    }
    Ok(())
}

/// `10m`, `1g`, `512k`, `100` (bytes).
pub(super) fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1u64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n: f64 = num.trim().parse().ok()?;
    (n > 0.0).then_some((n * mult as f64) as u64)
}

/// The container's config: the image's defaults with the create body on top (Docker's rules:
/// an entrypoint given clears the image's cmd; env and labels merge by key).
fn merge_config(
    body: &ContainerConfig,
    image: Option<&pouch_api::image::ImageConfig>,
    id: &str,
) -> ContainerConfig {
    let mut c = body.clone();
    if let Some(img) = image {
        let mut env: Vec<String> = img.env.clone().unwrap_or_default();
        for e in body.env.clone().unwrap_or_default() {
            let key = e.split('=').next().unwrap_or("").to_string();
            env.retain(|x| x.split('=').next() != Some(key.as_str()));
            env.push(e);
        }
        c.env = Some(env);
        if body.entrypoint.is_none() {
            c.entrypoint = img.entrypoint.clone().filter(|e| !e.is_empty());
            if body.cmd.as_ref().is_none_or(|v| v.is_empty()) {
                c.cmd = img.cmd.clone();
            }
        }
        if c.working_dir.is_empty() {
            c.working_dir = img.working_dir.clone();
        }
        if c.user.is_empty() {
            c.user = img.user.clone();
        }
        if c.stop_signal.is_empty() {
            c.stop_signal = img.stop_signal.clone().unwrap_or_default();
        }
        let mut labels = img.labels.clone().unwrap_or_default();
        labels.extend(body.labels.clone());
        c.labels = labels;
        if let Some(ports) = &img.exposed_ports {
            let mut all = ports.clone();
            all.extend(body.exposed_ports.clone().unwrap_or_default());
            c.exposed_ports = Some(all);
        }
        if let Some(vols) = &img.volumes {
            let mut all = vols.clone();
            all.extend(body.volumes.clone().unwrap_or_default());
            c.volumes = Some(all);
        }
    }
    if c.entrypoint.as_ref().is_some_and(|e| e.is_empty()) {
        c.entrypoint = None;
    }
    if c.hostname.is_empty() {
        c.hostname = id[..12].to_string();
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("abc"), None);
        assert_eq!(parse_size("0"), None);
    }

    #[test]
    fn merge_rules() {
        let img = pouch_api::image::ImageConfig {
            env: Some(vec!["PATH=/bin".into(), "A=1".into()]),
            cmd: Some(vec!["sh".into()]),
            entrypoint: Some(vec!["/init".into()]),
            working_dir: "/w".into(),
            ..Default::default()
        };
        let body = ContainerConfig {
            env: Some(vec!["A=2".into()]),
            cmd: Some(vec!["echo".into(), "hi".into()]),
            ..Default::default()
        };
        let id = "0123456789abcdef";
        let c = merge_config(&body, Some(&img), id);
        assert_eq!(c.env.unwrap(), vec!["PATH=/bin", "A=2"]);
        assert_eq!(c.entrypoint.unwrap(), vec!["/init"]);
        assert_eq!(c.cmd.unwrap(), vec!["echo", "hi"]);
        assert_eq!(c.working_dir, "/w");
        assert_eq!(c.hostname, "0123456789ab");
        let body = ContainerConfig {
            entrypoint: Some(vec!["/bin/true".into()]),
            ..Default::default()
        };
        let c = merge_config(&body, Some(&img), id);
        assert_eq!(c.entrypoint.unwrap(), vec!["/bin/true"]);
        assert!(c.cmd.is_none());
    }

    #[test]
    fn restart_policies() {
        let mut h = HostConfig::default();
        for (name, n, ok) in [
            ("no", 0, true),
            ("always", 0, true),
            ("on-failure", 3, true),
            ("unless-stopped", 0, true),
            ("always", 2, false),
            ("sometimes", 0, false),
        ] {
            h.restart_policy.name = name.into();
            h.restart_policy.maximum_retry_count = n;
            assert_eq!(validate_restart(&h).is_ok(), ok, "{name}:{n}");
        }
    }
}
