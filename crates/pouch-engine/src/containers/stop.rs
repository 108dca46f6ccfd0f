//! `stop` (the stop signal, then SIGKILL after the timeout), `kill`, `restart`, `pause`
//! and `unpause`.

use std::sync::Arc;
use std::time::Duration;

use pouch_api::{ApiError, ErrorKind};
use pouch_runtime::signal::{parse_signal, signal_name};

use super::record::Status;
use super::{Container, Containers};

/// Docker's default stop timeout.
const DEFAULT_STOP_TIMEOUT: i64 = 10;

impl Containers {
    pub async fn stop(
        self: &Arc<Self>,
        name: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> Result<(), ApiError> {
        let c = self.get(name)?;
        let _op = c.op.lock().await;
        if !c.status().is_alive() {
            if c.status() == Status::Restarting {
                c.with_record(|r| {
                    r.state.manually_stopped = true;
                    r.state.status = Status::Exited;
                });
                self.persist(&c)?;
                c.notify(false);
                self.event(&c, "stop", &[]);
                return Ok(());
            }
            return Err(ApiError::new(ErrorKind::NotModified, ""));
        }
        self.stop_locked(&c, signal, timeout).await?;
        self.event(&c, "stop", &[]);
        Ok(())
    }

    /// Sends the stop signal, waits, then kills. The caller holds the operation lock.
    pub(super) async fn stop_locked(
        &self,
        c: &Arc<Container>,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> Result<(), ApiError> {
        let rec = c.record();
        let sig_text = signal
            .filter(|s| !s.is_empty())
            .or_else(|| Some(rec.config.stop_signal.clone()).filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "SIGTERM".into());
        let sig = parse_signal(&sig_text).map_err(|e| ApiError::invalid(e.to_string()))?;
        let timeout = timeout
            .or(rec.config.stop_timeout)
            .unwrap_or(DEFAULT_STOP_TIMEOUT);
        c.with_record(|r| r.state.manually_stopped = true);
        self.persist(c)?;
        let driver = self.driver(&rec.runtime)?;
        let mut watch = c.watch();
        let exits = watch.borrow().exits;
        if rec.state.status == Status::Paused {
            // A frozen process cannot handle a signal: thaw it after sending.
            let _ = driver.kill(&c.id, sig, false).await;
            let _ = driver.resume(&c.id).await;
        } else if let Err(e) = driver.kill(&c.id, sig, false).await {
            tracing::debug!(id = %c.id, "stop signal: {e}");
        }
        let exited = |w: &tokio::sync::watch::Receiver<super::Observed>| {
            let o = w.borrow();
            o.exits > exits || !o.status.is_alive()
        };
        if timeout >= 0 {
            let wait = tokio::time::timeout(
                Duration::from_secs(timeout as u64),
                watch.wait_for(|o| o.exits > exits || !o.status.is_alive()),
            )
            .await;
            if matches!(wait, Ok(Ok(_))) {
                return Ok(());
            }
        }
        if !exited(&watch) {
            self.event(c, "kill", &[("signal", "9".into())]);
            if let Err(e) = driver.kill(&c.id, 9, true).await {
                // The process may have exited on its own meanwhile: its monitor records it.
                let gone = tokio::time::timeout(
                    Duration::from_secs(2),
                    watch.wait_for(|o| o.exits > exits || !o.status.is_alive()),
                )
                .await;
                if !matches!(gone, Ok(Ok(_))) {
                    return Err(ApiError::internal(format!(
                        "cannot kill container {}: {e}",
                        c.id
                    )));
                }
            }
        }
        let _ = tokio::time::timeout(
            Duration::from_secs(30),
            watch.wait_for(|o| o.exits > exits || !o.status.is_alive()),
        )
        .await;
        Ok(())
    }

    pub async fn kill(
        self: &Arc<Self>,
        name: &str,
        signal: Option<String>,
    ) -> Result<(), ApiError> {
        let c = self.get(name)?;
        let sig_text = signal
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "SIGKILL".into());
        let sig = parse_signal(&sig_text).map_err(|e| ApiError::invalid(e.to_string()))?;
        let _op = c.op.lock().await;
        if !c.status().is_alive() {
            return Err(ApiError::conflict(format!(
                "cannot kill container: {}: container {} is not running",
                name, c.id
            )));
        }
        let rec = c.record();
        if sig == 9 || sig == 15 || sig == 2 {
            c.with_record(|r| r.state.manually_stopped = true);
            self.persist(&c)?;
        }
        let driver = self.driver(&rec.runtime)?;
        driver
            .kill(&c.id, sig, false)
            .await
            .map_err(|e| ApiError::internal(format!("cannot kill container {name}: {e}")))?;
        if rec.state.status == Status::Paused && sig == 9 {
            let _ = driver.resume(&c.id).await;
        }
        self.event(&c, "kill", &[("signal", sig.to_string())]);
        tracing::debug!(id = %c.id, signal = %signal_name(sig), "killed");
        Ok(())
    }

    pub async fn restart(
        self: &Arc<Self>,
        name: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> Result<(), ApiError> {
        let c = self.get(name)?;
        let _op = c.op.lock().await;
        if c.status().is_alive() {
            self.stop_locked(&c, signal, timeout).await?;
        }
        // The exit monitor records the exit; wait for it before starting again.
        let mut w = c.watch();
        let _ = tokio::time::timeout(Duration::from_secs(5), w.wait_for(|o| !o.status.is_alive()))
            .await;
        c.with_record(|r| r.state.manually_stopped = false);
        self.start_locked(&c).await?;
        self.event(&c, "restart", &[]);
        Ok(())
    }

    pub async fn pause(self: &Arc<Self>, name: &str, pause: bool) -> Result<(), ApiError> {
        let c = self.get(name)?;
        let _op = c.op.lock().await;
        let status = c.status();
        match (pause, status) {
            (true, Status::Running) | (false, Status::Paused) => {}
            (true, Status::Paused) => {
                return Err(ApiError::conflict(format!(
                    "container {} is already paused",
                    c.id
                )))
            }
            (false, Status::Running) => {
                return Err(ApiError::conflict(format!(
                    "container {} is not paused",
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
        let driver = self.driver(&c.record().runtime)?;
        let r = if pause {
            driver.pause(&c.id).await
        } else {
            driver.resume(&c.id).await
        };
        r.map_err(|e| {
            ApiError::internal(format!(
                "cannot {} container {name}: {e}",
                if pause { "pause" } else { "unpause" }
            ))
        })?;
        c.with_record(|r| {
            r.state.status = if pause {
                Status::Paused
            } else {
                Status::Running
            }
        });
        self.persist(&c)?;
        c.notify(false);
        self.event(&c, if pause { "pause" } else { "unpause" }, &[]);
        Ok(())
    }
}
