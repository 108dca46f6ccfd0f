//! `resume`: thaws a paused container.

use super::{load, runtime_error, status_name, CommandError};
use crate::cli::Globals;

pub fn resume(args: liboci_cli::Resume, globals: &Globals) -> Result<(), CommandError> {
    let id = &args.container_id;
    let mut container = load(&globals.root, id)?;
    if !container.can_resume() {
        return Err(CommandError::NotPaused {
            id: id.clone(),
            status: status_name(container.status()),
        });
    }
    container
        .resume()
        .map_err(|e| runtime_error("resume", id, &e))
}
