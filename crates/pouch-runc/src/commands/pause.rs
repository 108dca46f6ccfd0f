//! `pause`: freezes every process of a running container (freezer cgroup).

use super::{load, runtime_error, status_name, CommandError};
use crate::cli::Globals;

pub fn pause(args: liboci_cli::Pause, globals: &Globals) -> Result<(), CommandError> {
    let id = &args.container_id;
    let mut container = load(&globals.root, id)?;
    if !container.can_pause() {
        return Err(CommandError::NotRunning {
            id: id.clone(),
            status: status_name(container.status()),
        });
    }
    container
        .pause()
        .map_err(|e| runtime_error("pause", id, &e))
}
