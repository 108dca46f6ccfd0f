//! `delete`: removes a container's state directory and cgroups (after killing it with
//! `--force`, or when it was only created). With `--force`, a container that does not exist is
//! not an error (runc's behaviour), and unreadable state is removed as it is.

use libcontainer::container::ContainerStatus;

use super::{load, runtime_error, status_name, validate_id, CommandError};
use crate::cli::Globals;

pub fn delete(args: liboci_cli::Delete, globals: &Globals) -> Result<(), CommandError> {
    let id = &args.container_id;
    validate_id(id)?;
    let mut container = match load(&globals.root, id) {
        Ok(container) => container,
        Err(CommandError::NotFound { .. }) if args.force => {
            // a create that died early may leave a directory without state.json
            let _ = std::fs::remove_dir_all(globals.root.join(id));
            return Ok(());
        }
        Err(CommandError::Runtime { .. }) if args.force => {
            let dir = globals.root.join(id);
            return std::fs::remove_dir_all(&dir).map_err(|e| CommandError::Runtime {
                verb: "delete",
                id: id.clone(),
                message: format!("cannot remove the unreadable state {}: {e}", dir.display()),
            });
        }
        Err(e) => return Err(e),
    };
    let status = container.status();
    if !args.force
        && matches!(
            status,
            ContainerStatus::Running | ContainerStatus::Paused | ContainerStatus::Creating
        )
    {
        return Err(CommandError::StillRunning {
            id: id.clone(),
            status: status_name(status),
        });
    }
    container
        .delete(args.force)
        .map_err(|e| runtime_error("delete", id, &e))
}
