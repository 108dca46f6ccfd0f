//! `start`: spec → shim (which runs `runtime create`) → pending attaches connect →
//! `runtime start` → state recorded. The exit monitor then waits on the shim, records the
//! exit, removes `--rm` containers and applies the restart policy with Docker's growing
//! back-off.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pouch_api::ApiError;
use pouch_runtime::shim::{spawn_shim, ExitStatus, LogOptions, ShimClient, ShimSpawn};
use pouch_runtime::spec::SpecInput;
use tokio::sync::oneshot;

use super::create::{parse_size, spec_error};
use super::record::Status;
use super::{fault, internal, now_rfc3339, remove_path, Container, Containers};

/// How long a pending attach gets to connect before the process starts anyway.
const ATTACH_CONNECT: Duration = Duration::from_secs(5);

impl Containers {
    /// Starts a created or exited container. `NotModified` when it runs already.
    pub async fn start(self: &Arc<Self>, name: &str) -> Result<(), ApiError> {
        let c = self.get(name)?;
        let _op = c.op.lock().await;
        match c.status() {
            Status::Running => return Err(ApiError::new(pouch_api::ErrorKind::NotModified, "")),
            Status::Paused => {
                return Err(ApiError::conflict(format!(
                    "cannot start a paused container {}: unpause it instead",
                    c.name()
                )))
            }
            Status::Removing | Status::Dead => {
                return Err(ApiError::conflict(format!(
                    "cannot start container {}: it is being removed",
                    c.name()
                )))
            }
            _ => {}
        }
        c.with_record(|r| r.state.manually_stopped = false);
        let result = self.start_locked(&c).await;
        if result.is_err() && c.record().host_config.auto_remove {
            // Docker: an --rm container that cannot start is removed.
            let this = self.clone();
            let id = c.id.clone();
            tokio::spawn(async move {
                let _ = this.remove(&id, true, false).await;
            });
        }
        result
    }

    /// Starts `c`; the caller holds its operation lock.
    pub(super) async fn start_locked(self: &Arc<Self>, c: &Arc<Container>) -> Result<(), ApiError> {
        let id = c.id.clone();
        let rec = c.record();
        let driver = self.driver(&rec.runtime)?;
        self.ensure_mounted(c)?;
        let bundle = self.paths.bundle(&id);
        let state_dir = self.paths.state_dir(&id);
        let cgroups_path = cgroups_path(&rec.host_config.resources.cgroup_parent, &id);
        let init = pouch_runtime::spec::wants_init(&rec.config, &rec.host_config);
        let net_began = Instant::now();
        let net = match self.attach_network(c).await {
            Ok(n) => n,
            Err(e) => {
                c.with_record(|r| r.state.error = e.message.clone());
                self.persist_logged(c);
                return Err(e);
            }
        };
        tracing::debug!(id = %id, ms = net_began.elapsed().as_secs_f64() * 1000.0, "network attached");
        let files = net.files_dir.clone();
        let netns = net.netns;
        let spec = {
            let input = SpecInput {
                id: &id,
                config: &rec.config,
                host: &rec.host_config,
                mounts: &rec.mounts,
                rootfs: &self.paths.rootfs(&id),
                hostname_file: &files.join("hostname"),
                hosts_file: &files.join("hosts"),
                resolv_file: &files.join("resolv.conf"),
                init_path: init.then_some(self.runtime.init_path.as_path()),
                cgroups_path: cgroups_path.clone(),
                netns,
            };
            pouch_runtime::spec::generate(&input)
                .map_err(|e| spec_error(&e.to_string(), e.is_invalid_argument()))
        };
        let written = spec.and_then(|mut spec| {
            self.lxcfs_spec(c, &rec.host_config, &rec.mounts, &mut spec)?;
            let spec_json = serde_json::to_vec_pretty(&spec).map_err(internal)?;
            std::fs::write(bundle.join("config.json"), spec_json)
                .map_err(|e| internal(format!("cannot write the container's config.json: {e}")))?;
            self.write_profile_env(&id, &rec.config)
        });
        if let Err(e) = written {
            self.detach_network(c).await;
            return Err(e);
        }
        remove_path(&state_dir);
        std::fs::create_dir_all(&state_dir).map_err(internal)?;
        // A leftover of an earlier run (daemon killed mid-way) would make `create` fail; the
        // runtime keeps its state in `<root>/<id>`, so only then is a delete needed.
        if self.paths.runtime_root(&rec.runtime).join(&id).exists() {
            let _ = driver.delete(&id, true).await;
        }

        let log = (rec.host_config.log_config.kind == "json-file").then(|| LogOptions {
            path: self.paths.log_path(&id),
            max_size: rec
                .host_config
                .log_config
                .config
                .get("max-size")
                .and_then(|s| parse_size(s)),
            max_file: rec
                .host_config
                .log_config
                .config
                .get("max-file")
                .and_then(|s| s.parse().ok())
                .unwrap_or(1),
        });
        let spawn = ShimSpawn {
            tty: rec.config.tty,
            stdin: rec.config.open_stdin,
            stdin_once: rec.config.stdin_once,
            log,
            cgroup_path: Some(cgroups_path.clone()),
            ..self.shim_spawn(&rec, &state_dir)
        };
        let started = Instant::now();
        let spawned = match fault::check("start.shim") {
            Ok(()) => spawn_shim(&self.runtime.shim_path, &spawn)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.message),
        };
        let spawned = match spawned {
            Ok(s) => s,
            Err(msg) => {
                self.start_failed(c, &driver, &cgroups_path, &state_dir, &msg)
                    .await;
                return Err(start_error(&msg));
            }
        };
        tracing::debug!(id = %id, ms = started.elapsed().as_millis() as u64, "runtime create");
        if let Err(msg) = self
            .run_initscript(&rec.name, &id, &rec.config, &driver)
            .await
        {
            let _ = driver.kill(&id, 9, true).await;
            self.start_failed(c, &driver, &cgroups_path, &state_dir, &msg)
                .await;
            return Err(ApiError::invalid(msg));
        }
        self.connect_pending_attaches(c, &state_dir).await;
        let run = match fault::check("start.runtime") {
            Ok(()) => driver.start(&id).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.message),
        };
        if let Err(msg) = run {
            let _ = driver.kill(&id, 9, true).await;
            self.start_failed(c, &driver, &cgroups_path, &state_dir, &msg)
                .await;
            return Err(start_error(&msg));
        }
        c.with_record(|r| {
            r.state.status = Status::Running;
            r.state.pid = spawned.pid as i64;
            r.state.shim_pid = spawned.shim_pid as i64;
            r.state.started_at = now_rfc3339();
            r.state.error.clear();
            r.state.oom_killed = false;
            r.state.exit_code = 0;
        });
        self.persist(c)?;
        c.notify(false);
        self.event(c, "start", &[]);
        self.monitor(c.clone(), state_dir);
        Ok(())
    }

    /// Cleans up after a failed start and records the error on the container.
    async fn start_failed(
        &self,
        c: &Container,
        driver: &pouch_runtime::driver::RuntimeDriver,
        cgroups_path: &str,
        state_dir: &Path,
        msg: &str,
    ) {
        let _ = driver.delete(&c.id, true).await;
        let _ = pouch_runtime::cgroups::remove(cgroups_path);
        remove_path(state_dir);
        self.detach_network(c).await;
        c.with_record(|r| {
            r.state.error = msg.to_string();
            r.state.exit_code = exit_code_for(msg);
            if r.state.status != Status::Created {
                r.state.status = Status::Exited;
            }
        });
        self.persist_logged(c);
        // Attaches waiting for this start give up.
        c.pending_attach
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        c.notify(false);
    }

    /// Hands the shim's state dir to every attach waiting for the start, and waits (a
    /// bounded time) until they have connected.
    async fn connect_pending_attaches(&self, c: &Container, state_dir: &Path) {
        let pending: Vec<_> =
            std::mem::take(&mut *c.pending_attach.lock().unwrap_or_else(|e| e.into_inner()));
        let mut acks = Vec::new();
        for p in pending {
            let (tx, rx) = oneshot::channel();
            if p.send((state_dir.to_path_buf(), tx)).is_ok() {
                acks.push(rx);
            }
        }
        for rx in acks {
            let _ = tokio::time::timeout(ATTACH_CONNECT, rx).await;
        }
    }

    /// Waits for the container's exit in the background and handles it.
    pub(super) fn monitor(self: &Arc<Self>, c: Arc<Container>, state_dir: PathBuf) {
        let this = self.clone();
        tokio::spawn(async move {
            let client = ShimClient::new(&state_dir);
            let status = match client.wait().await {
                Ok(s) => s,
                Err(e) => {
                    // The shim is gone: its exit file has the status if it wrote one.
                    match pouch_runtime::shim::read_exit_file(&state_dir) {
                        Ok(Some(s)) => s,
                        _ => {
                            tracing::warn!(id = %c.id, "lost the container's shim: {e}");
                            ExitStatus {
                                exit_code: 255,
                                oom_killed: false,
                                exited_at: now_rfc3339(),
                            }
                        }
                    }
                }
            };
            this.handle_exit(&c, status).await;
        });
    }

    /// Records an exit, then auto-removes or restarts as the container's policy says.
    pub(super) async fn handle_exit(self: &Arc<Self>, c: &Arc<Container>, status: ExitStatus) {
        let rec = c.record();
        if let Ok(driver) = self.driver(&rec.runtime) {
            if let Err(e) = driver.delete(&c.id, true).await {
                tracing::debug!(id = %c.id, "runtime delete after exit: {e}");
            }
        }
        self.detach_network(c).await;
        let started_at = chrono::DateTime::parse_from_rfc3339(&rec.state.started_at).ok();
        let ran_for = started_at
            .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_milliseconds())
            .unwrap_or(0);
        c.with_record(|r| {
            r.state.status = Status::Exited;
            r.state.exit_code = status.exit_code;
            r.state.oom_killed = status.oom_killed;
            r.state.finished_at = if status.exited_at.is_empty() {
                now_rfc3339()
            } else {
                status.exited_at.clone()
            };
            r.state.pid = 0;
        });
        self.persist_logged(c);
        if status.oom_killed {
            self.event(c, "oom", &[]);
        }
        self.event(c, "die", &[("exitCode", status.exit_code.to_string())]);
        c.notify(true);
        remove_path(&self.paths.state_dir(&c.id));

        let rec = c.record();
        if rec.host_config.auto_remove {
            let this = self.clone();
            let id = c.id.clone();
            tokio::spawn(async move {
                if let Err(e) = this.remove(&id, true, true).await {
                    tracing::warn!(id = %id, "auto-remove failed: {}", e.message);
                }
            });
            return;
        }
        if should_restart(&rec, status.exit_code) {
            let delay = backoff(rec.state.restart_count, ran_for);
            self.schedule_restart(c.clone(), delay);
        }
    }

    fn schedule_restart(self: &Arc<Self>, c: Arc<Container>, delay: Duration) {
        c.with_record(|r| r.state.status = Status::Restarting);
        c.notify(false);
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _op = c.op.lock().await;
            let go = c
                .with_record(|r| r.state.status == Status::Restarting && !r.state.manually_stopped);
            if !go {
                return;
            }
            c.with_record(|r| r.state.restart_count += 1);
            if let Err(e) = this.start_locked(&c).await {
                tracing::warn!(id = %c.id, "restart failed: {}", e.message);
                c.with_record(|r| {
                    if r.state.status == Status::Restarting {
                        r.state.status = Status::Exited;
                    }
                });
                this.persist_logged(&c);
                c.notify(false);
                return;
            }
            this.event(&c, "restart", &[]);
        });
    }
}

/// The cgroup path given to the runtime (`/pouch/<id>`, or under `--cgroup-parent`).
pub(super) fn cgroups_path(parent: &str, id: &str) -> String {
    let parent = parent.trim_matches('/');
    if parent.is_empty() {
        format!("/pouch/{id}")
    } else {
        format!("/{parent}/{id}")
    }
}

/// Whether the restart policy restarts after this exit.
fn should_restart(rec: &super::ContainerRecord, exit_code: i64) -> bool {
    if rec.state.manually_stopped {
        return false;
    }
    let p = &rec.host_config.restart_policy;
    match p.name.as_str() {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            exit_code != 0
                && (p.maximum_retry_count == 0 || rec.state.restart_count < p.maximum_retry_count)
        }
        _ => false,
    }
}

/// Docker's back-off: 100 ms doubling at each restart, reset when the container ran 10 s or
/// more, capped at one minute.
fn backoff(restart_count: i64, ran_for_ms: i64) -> Duration {
    if ran_for_ms >= 10_000 {
        return Duration::from_millis(100);
    }
    let exp = restart_count.clamp(0, 10) as u32;
    Duration::from_millis((100u64 << exp).min(60_000))
}

/// Docker's exit code for a process that could not start: 127 not found, 126 not runnable.
fn exit_code_for(msg: &str) -> i64 {
    let m = msg.to_ascii_lowercase();
    if m.contains("executable file not found") || m.contains("no such file or directory") {
        127
    } else if m.contains("permission denied") {
        126
    } else {
        128
    }
}

/// The API error of a failed start: a bad command is the client's fault (400), as Docker.
fn start_error(msg: &str) -> ApiError {
    let m = msg.to_ascii_lowercase();
    if m.contains("executable file not found")
        || m.contains("no such file or directory")
        || m.contains("permission denied")
        || m.contains("not a directory")
    {
        ApiError::invalid(msg.to_string())
    } else {
        ApiError::internal(msg.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_resets() {
        assert_eq!(backoff(0, 0), Duration::from_millis(100));
        assert_eq!(backoff(1, 0), Duration::from_millis(200));
        assert_eq!(backoff(3, 500), Duration::from_millis(800));
        assert_eq!(backoff(20, 0), Duration::from_millis(60_000));
        assert_eq!(backoff(5, 12_000), Duration::from_millis(100));
    }

    #[test]
    fn cgroup_paths() {
        assert_eq!(cgroups_path("", "abc"), "/pouch/abc");
        assert_eq!(cgroups_path("/mine/", "abc"), "/mine/abc");
    }

    #[test]
    fn start_exit_codes() {
        assert_eq!(
            exit_code_for("exec: \"nope\": executable file not found in $PATH"),
            127
        );
        assert_eq!(exit_code_for("exec /x: permission denied"), 126);
        assert_eq!(exit_code_for("something else"), 128);
    }
}
