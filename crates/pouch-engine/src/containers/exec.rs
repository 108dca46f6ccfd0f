//! Execs: `create` records the config; `start` builds the process from the container's
//! spec, spawns an exec shim (`runtime exec --detach`) and returns an attach session
//! (unless detached); a monitor records the exit code. Execs live in memory only, as
//! Docker's do.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pouch_api::container::{ExecConfig, ExecInspect, ExecProcessConfig, ExecStartConfig};
use pouch_api::ApiError;
use pouch_runtime::shim::{spawn_shim, ShimClient, ShimSpawn};
use tokio::sync::watch;

use super::attach::{parse_detach_keys, AttachSession};
use super::names::new_id;
use super::record::Status;
use super::{internal, remove_path, Containers};

/// One exec.
pub struct Exec {
    pub id: String,
    pub container_id: String,
    config: ExecConfig,
    state: Mutex<ExecState>,
    done: watch::Sender<bool>,
}

#[derive(Debug, Clone, Default)]
struct ExecState {
    started: bool,
    running: bool,
    pid: i64,
    exit_code: Option<i64>,
}

impl Containers {
    pub fn create_exec(&self, name: &str, config: ExecConfig) -> Result<String, ApiError> {
        let c = self.get(name)?;
        match c.status() {
            Status::Running => {}
            Status::Paused => {
                return Err(ApiError::conflict(format!(
                    "container {} is paused, unpause the container before exec",
                    c.id
                )))
            }
            _ => {
                return Err(ApiError::conflict(format!(
                    "container {} is not running",
                    c.id
                )))
            }
        }
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(ApiError::invalid("no exec command specified"));
        }
        parse_detach_keys(&config.detach_keys)?;
        let id = new_id();
        let (done, _) = watch::channel(false);
        let exec = Arc::new(Exec {
            id: id.clone(),
            container_id: c.id.clone(),
            config,
            state: Mutex::new(ExecState::default()),
            done,
        });
        self.execs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), exec.clone());
        c.execs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(id.clone());
        let cmd = exec.config.cmd.clone().unwrap_or_default().join(" ");
        self.event(
            &c,
            &format!("exec_create: {cmd}"),
            &[("execID", id.clone())],
        );
        Ok(id)
    }

    fn get_exec(&self, id: &str) -> Result<Arc<Exec>, ApiError> {
        self.execs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))
    }

    pub async fn start_exec(
        self: &Arc<Self>,
        id: &str,
        start: ExecStartConfig,
    ) -> Result<Option<AttachSession>, ApiError> {
        let exec = self.get_exec(id)?;
        {
            let mut st = exec.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.started {
                return Err(ApiError::conflict(format!(
                    "exec instance {id} has already been started"
                )));
            }
            st.started = true;
        }
        let c = self.get(&exec.container_id)?;
        if c.status() != Status::Running {
            return Err(ApiError::conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        let rec = c.record();
        let bundle = self.paths.bundle(&c.id);
        let base = oci_spec::runtime::Spec::load(bundle.join("config.json"))
            .map_err(|e| internal(format!("cannot read the spec of container {}: {e}", c.id)))?;
        let mut cfg = exec.config.clone();
        cfg.tty = cfg.tty || start.tty;
        let process = pouch_runtime::spec::exec_process(&base, &cfg, &self.paths.rootfs(&c.id))
            .map_err(|e| super::create::spec_error(&e.to_string(), e.is_invalid_argument()))?;
        let state_dir = self.paths.exec_state_dir(&c.id, &exec.id);
        remove_path(&state_dir);
        std::fs::create_dir_all(&state_dir).map_err(internal)?;
        let process_json = state_dir.join("process.json");
        std::fs::write(
            &process_json,
            serde_json::to_vec(&process).map_err(internal)?,
        )
        .map_err(internal)?;
        let spawn = ShimSpawn {
            tty: cfg.tty,
            stdin: cfg.attach_stdin && !start.detach,
            stdin_once: true,
            exec: Some((exec.id.clone(), process_json)),
            ..self.shim_spawn(&rec, &state_dir)
        };
        let spawned = match spawn_shim(&self.runtime.shim_path, &spawn).await {
            Ok(s) => s,
            Err(e) => {
                remove_path(&state_dir);
                let mut st = exec.state.lock().unwrap_or_else(|e| e.into_inner());
                st.exit_code = Some(126);
                drop(st);
                exec.done.send_replace(true);
                let msg = e.to_string();
                return Err(
                    if msg.contains("executable file not found") || msg.contains("no such file") {
                        ApiError::invalid(msg)
                    } else {
                        ApiError::internal(msg)
                    },
                );
            }
        };
        {
            let mut st = exec.state.lock().unwrap_or_else(|e| e.into_inner());
            st.running = true;
            st.pid = spawned.pid as i64;
        }
        let cmd = cfg.cmd.clone().unwrap_or_default().join(" ");
        self.event(
            &c,
            &format!("exec_start: {cmd}"),
            &[("execID", exec.id.clone())],
        );
        let detached = start.detach || cfg.detach;
        // An attached exec's shim keeps its early output for the attacher: its state dir
        // goes when the session ends, a detached one's when the process exits.
        self.monitor_exec(exec.clone(), state_dir.clone(), detached);
        if detached {
            return Ok(None);
        }
        let mut done_rx = exec.done.subscribe();
        let dir = state_dir.clone();
        let done = Box::pin(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), done_rx.wait_for(|d| *d)).await;
            remove_path(&dir);
        });
        let keys = parse_detach_keys(&cfg.detach_keys)?;
        Ok(Some(AttachSession::for_exec(
            state_dir,
            cfg.tty,
            cfg.attach_stdin,
            cfg.attach_stdout,
            cfg.attach_stderr,
            keys,
            done,
        )))
    }

    fn monitor_exec(self: &Arc<Self>, exec: Arc<Exec>, state_dir: PathBuf, remove_dir: bool) {
        let this = self.clone();
        tokio::spawn(async move {
            let code = match ShimClient::new(&state_dir).wait().await {
                Ok(s) => s.exit_code,
                Err(_) => pouch_runtime::shim::read_exit_file(&state_dir)
                    .ok()
                    .flatten()
                    .map(|s| s.exit_code)
                    .unwrap_or(255),
            };
            {
                let mut st = exec.state.lock().unwrap_or_else(|e| e.into_inner());
                st.running = false;
                st.exit_code = Some(code);
            }
            exec.done.send_replace(true);
            if let Ok(c) = this.get(&exec.container_id) {
                this.event(
                    &c,
                    "exec_die",
                    &[("execID", exec.id.clone()), ("exitCode", code.to_string())],
                );
            }
            if remove_dir {
                remove_path(&state_dir);
            }
        });
    }

    pub fn inspect_exec(&self, id: &str) -> Result<ExecInspect, ApiError> {
        let exec = self.get_exec(id)?;
        let st = exec.state.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let cmd = exec.config.cmd.clone().unwrap_or_default();
        Ok(ExecInspect {
            can_remove: !st.running,
            detach_keys: exec.config.detach_keys.clone(),
            id: exec.id.clone(),
            running: st.running,
            exit_code: st.exit_code,
            process_config: ExecProcessConfig {
                privileged: Some(exec.config.privileged),
                user: exec.config.user.clone(),
                tty: exec.config.tty,
                entrypoint: cmd.first().cloned().unwrap_or_default(),
                arguments: cmd.iter().skip(1).cloned().collect(),
            },
            open_stdin: exec.config.attach_stdin,
            open_stderr: exec.config.attach_stderr,
            open_stdout: exec.config.attach_stdout,
            container_id: exec.container_id.clone(),
            pid: st.pid,
        })
    }

    pub async fn resize_exec(&self, id: &str, height: u16, width: u16) -> Result<(), ApiError> {
        let exec = self.get_exec(id)?;
        let dir = self.paths.exec_state_dir(&exec.container_id, &exec.id);
        ShimClient::new(&dir)
            .resize(height, width)
            .await
            .map_err(|e| ApiError::conflict(format!("cannot resize exec {id}: {e}")))
    }
}
