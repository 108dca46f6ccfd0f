//! `kill`: a signal to the container's process, or with `--all` to every process in its
//! cgroup. libcontainer marks the container stopped after any signal; a created or paused
//! container that survives a signal other than SIGKILL keeps its status here.

use libcontainer::container::ContainerStatus;
use libcontainer::signal::Signal;

use super::{load, runtime_error, status_name, CommandError};
use crate::cli::{Globals, Kill};

pub fn kill(args: Kill, globals: &Globals) -> Result<(), CommandError> {
    let id = &args.container_id;
    let signal = parse_signal(&args.signal)?;
    let is_kill = signal_number(&args.signal) == Some(9);
    let mut container = load(&globals.root, id)?;
    let before = container.status();
    let stopped_all = args.all && before == ContainerStatus::Stopped;
    if !(container.can_kill() || stopped_all) {
        return Err(CommandError::NotRunning {
            id: id.clone(),
            status: status_name(before),
        });
    }
    container
        .kill(signal, args.all)
        .map_err(|e| runtime_error("kill", id, &e))?;
    if !is_kill && matches!(before, ContainerStatus::Created | ContainerStatus::Paused) {
        container
            .set_status(before)
            .save()
            .map_err(|e| runtime_error("kill", id, &e))?;
    }
    Ok(())
}

/// A signal by name (`KILL`, `SIGKILL`, any case) or number (1 to 31).
pub fn parse_signal(text: &str) -> Result<Signal, CommandError> {
    let bad = || CommandError::Signal(text.to_string());
    match text.trim().parse::<i32>() {
        Ok(n) => Signal::try_from(n).map_err(|_| bad()),
        Err(_) => Signal::try_from(text.trim()).map_err(|_| bad()),
    }
}

/// The number of a signal given as text, for the SIGKILL check.
fn signal_number(text: &str) -> Option<i32> {
    let upper = text.trim().to_ascii_uppercase();
    match upper.as_str() {
        "KILL" | "SIGKILL" => Some(9),
        other => other.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        for good in ["KILL", "sigkill", "9", "TERM", "SIGUSR1", "15", "31"] {
            assert!(parse_signal(good).is_ok(), "{good}");
        }
        for bad in ["", "0", "99", "SIGNOPE", "-9"] {
            assert!(parse_signal(bad).is_err(), "{bad:?}");
        }
        assert_eq!(signal_number("sigkill"), Some(9));
        assert_eq!(signal_number("TERM"), None);
    }
}
