//! `start`: lets a created container's process run its program.

use libcontainer::container::ContainerStatus;

use super::{load, runtime_error, status_name, CommandError};
use crate::cli::Globals;

pub fn start(args: liboci_cli::Start, globals: &Globals) -> Result<(), CommandError> {
    let id = &args.container_id;
    let mut container = load(&globals.root, id)?;
    if container.status() != ContainerStatus::Created {
        return Err(CommandError::NotCreated {
            id: id.clone(),
            status: status_name(container.status()),
        });
    }
    container
        .start()
        .map_err(|e| runtime_error("start", id, &e))
}
