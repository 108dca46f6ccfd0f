//! Live restore at daemon start: reconnect to every shim that is alive, record the exit of
//! containers that ended while pouchd was away (from the shim's exit file), and start
//! `always` / `unless-stopped` containers that are down (after a host reboot).

use std::sync::Arc;

use pouch_runtime::shim::{read_exit_file, ExitStatus, ShimClient};

use pouch_network::manager::RestoreContainer;

use super::record::Status;
use super::{now_rfc3339, Container, Containers};

impl Containers {
    /// Runs once when the engine opens (inside the tokio runtime): asks every shim whether
    /// its container still runs, sets up the host network and gives the running containers
    /// their network state back (removing the leftovers of the others), then reconnects,
    /// records exits and restarts.
    pub async fn restore(self: &Arc<Self>) {
        let mut probed = Vec::new();
        for c in self.all() {
            let alive = if c.status().is_alive() {
                let client = ShimClient::new(&self.paths.state_dir(&c.id));
                matches!(client.state().await, Ok(st) if st.running)
            } else {
                false
            };
            probed.push((c, alive));
        }
        if let Err(e) = self.network.init().await {
            tracing::error!("cannot set up the host network: {e}");
        }
        let running: Vec<RestoreContainer> = probed
            .iter()
            .filter(|(_, alive)| *alive)
            .map(|(c, _)| RestoreContainer {
                id: c.id.clone(),
                name: c.name(),
                dns: c.with_record(|r| super::network::dns_servers(&r.host_config)),
            })
            .collect();
        if let Err(e) = self.network.restore(&running).await {
            tracing::warn!("cannot restore the containers' networks: {e}");
        }
        for (c, alive) in probed {
            match c.status() {
                Status::Running | Status::Paused => self.reconnect(&c, alive).await,
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

    async fn reconnect(self: &Arc<Self>, c: &Arc<Container>, alive: bool) {
        let dir = self.paths.state_dir(&c.id);
        if alive {
            tracing::info!(id = %c.id, "reconnected to a running container");
            self.monitor(c.clone(), dir);
            return;
        }
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
