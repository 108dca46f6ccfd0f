//! `wait` with Docker's conditions: `not-running` (the default), `next-exit`, `removed`.
//! The handle is registered before the HTTP layer flushes its headers, so an exit between
//! the flush and the client's `start` is never missed.

use pouch_api::container::{WaitExitError, WaitResponse};
use pouch_api::ApiError;
use tokio::sync::watch;

use super::{Containers, Observed};

/// A registered wait; `wait()` resolves with Docker's answer.
pub struct WaitHandle {
    rx: watch::Receiver<Observed>,
    condition: Condition,
    exits_at_start: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    NotRunning,
    NextExit,
    Removed,
}

impl Containers {
    pub fn wait(&self, name: &str, condition: &str) -> Result<WaitHandle, ApiError> {
        let condition = match condition {
            "" | "not-running" => Condition::NotRunning,
            "next-exit" => Condition::NextExit,
            "removed" => Condition::Removed,
            other => {
                return Err(ApiError::invalid(format!(
                    "invalid condition: \"{other}\" (use not-running, next-exit or removed)"
                )))
            }
        };
        let c = self.get(name)?;
        let rx = c.watch();
        let exits_at_start = rx.borrow().exits;
        Ok(WaitHandle {
            rx,
            condition,
            exits_at_start,
        })
    }
}

impl WaitHandle {
    pub async fn wait(mut self) -> WaitResponse {
        let start = self.exits_at_start;
        let cond = self.condition;
        let done = |o: &Observed| match cond {
            Condition::NotRunning => {
                o.removed
                    || o.exits > start
                    || !(o.status.is_alive() || o.status == super::Status::Restarting)
            }
            Condition::NextExit => o.removed || o.exits > start,
            Condition::Removed => o.removed,
        };
        let code = match self.rx.wait_for(done).await {
            Ok(o) => Some(o.exit_code),
            // The container's handle is gone: it was removed.
            Err(_) => None,
        };
        let code = code.unwrap_or_else(|| self.rx.borrow().exit_code);
        WaitResponse {
            status_code: code,
            error: None::<WaitExitError>,
        }
    }
}
