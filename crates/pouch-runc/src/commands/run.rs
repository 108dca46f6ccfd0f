//! `run`: `create` then `start`, then (unless `--detach`) waits in the foreground and deletes
//! the container when its process exits (unless `--keep`). For manual use; pouchd uses
//! create/start through its shim.

use nix::unistd::Pid;

use super::create::{build, CreateOptions};
use super::{foreground, runtime_error, CommandError};
use crate::cli::Globals;

/// Returns the exit code of the container's process (0 with `--detach`).
pub fn run(args: liboci_cli::Run, globals: &Globals) -> Result<i32, CommandError> {
    let id = &args.container_id;
    let mut container = build(
        &CreateOptions {
            id,
            bundle: &args.bundle,
            pid_file: args.pid_file.as_deref(),
            console_socket: args.console_socket.as_deref(),
            preserve_fds: args.preserve_fds,
            no_pivot: args.no_pivot,
            detach: args.detach,
        },
        globals,
    )?;
    if let Err(e) = container.start() {
        let _ = container.delete(true);
        return Err(runtime_error("start", id, &e));
    }
    if args.detach {
        return Ok(0);
    }
    let pid = container.pid().unwrap_or(Pid::from_raw(0));
    let waited = foreground::wait(pid).map_err(|source| CommandError::Wait {
        verb: "run",
        id: id.clone(),
        source,
    });
    if !args.keep {
        if let Err(e) = container.delete(true) {
            // the process's exit code matters more than a failed cleanup (runc logs it too)
            tracing::error!("run {id}: deleting the container: {}", super::describe(&e));
        }
    }
    waited
}
