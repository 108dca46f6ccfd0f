//! Live restore at daemon start: reconnect to every shim that is alive, record the exit of
//! containers that ended while pouchd was away (from the shim's exit file), and start
//! `always` / `unless-stopped` containers that are down (after a host reboot).

use std::sync::Arc;

use pouch_runtime::shim::{read_exit_file, ExitStatus, ShimClient};

use super::record::Status;
use super::{now_rfc3339, Container, Containers};

impl Containers {
    /// Runs once when the engine opens (inside the tokio runtime).
    pub async fn restore(self: &Arc<Self>) {
        for c in self.all() {
            let status = c.status();
            match status {
                Status::Running | Status::Paused => self.reconnect(&c).await,
                Status::Restarting => {
                    c.with_record(|r| r.state.status = Status::Exited);
                    self.persist_logged(&c);
                    c.notify(false);
                    self.restart_if_wanted(&c).await;
                }
                Status::Removing => {
                    // Removal was cut short: finish it.
                    c.with_record(|r| r.state.status = Status::Dead);
                    let _ = self.remove(&c.id, true, false).await;
                }
                Status::Exited => self.restart_if_wanted(&c).await,
                _ => {}
            }
        }
    }

    async fn reconnect(self: &Arc<Self>, c: &Arc<Container>) {
        let dir = self.paths.state_dir(&c.id);
        let client = ShimClient::new(&dir);
        match client.state().await {
            Ok(st) if st.running => {
                tracing::info!(id = %c.id, pid = st.pid, "reconnected to a running container");
                self.monitor(c.clone(), dir);
            }
            _ => {
                let status = read_exit_file(&dir).ok().flatten().unwrap_or(ExitStatus {
                    exit_code: 255,
                    oom_killed: false,
                    exited_at: now_rfc3339(),
                });
                tracing::info!(
                    id = %c.id,
                    code = status.exit_code,
                    "container exited while the daemon was down"
                );
                self.handle_exit(c, status).await;
            }
        }
    }

    /// Starts `always` containers, and `unless-stopped` ones the user did not stop.
    async fn restart_if_wanted(self: &Arc<Self>, c: &Arc<Container>) {
        let rec = c.record();
        let wanted = match rec.host_config.restart_policy.name.as_str() {
            // Docker: a stopped `always` container comes back when the daemon starts.
            "always" => true,
            "unless-stopped" => !rec.state.manually_stopped,
            _ => false,
        };
        if !wanted {
            return;
        }
        c.with_record(|r| r.state.manually_stopped = false);
        let _op = c.op.lock().await;
        if let Err(e) = self.start_locked(c).await {
            tracing::warn!(id = %c.id, "cannot start the container at daemon start: {}", e.message);
        }
    }
}
