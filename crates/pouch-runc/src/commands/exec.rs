//! `exec`: a new process in a running container, from `--process process.json` or from the
//! command line (`exec <id> <cmd>...` with `--env`, `--cwd`, `--user`, ...). With `--detach`
//! the command returns once the process runs (it is this command's child, so it is reparented
//! to the caller's subreaper); otherwise it waits and exits with the process's code.

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::ContainerStatus;
use libcontainer::syscall::syscall::SyscallType;

use super::{foreground, load, runtime_error, status_name, CommandError};
use crate::cli::Globals;

/// Returns the exit code of the process (0 with `--detach`).
pub fn exec(args: liboci_cli::Exec, globals: &Globals) -> Result<i32, CommandError> {
    let id = args.container_id.clone();
    let container = load(&globals.root, &id)?;
    let status = container.status();
    let runnable = status == ContainerStatus::Running
        || (args.ignore_paused && status == ContainerStatus::Paused);
    if !runnable {
        return Err(CommandError::NotRunning {
            id,
            status: status_name(status),
        });
    }
    let fail = |e| runtime_error("exec", &id, &e);
    let (user, group) = match args.user {
        Some((uid, gid)) => (Some(uid), gid),
        None => (None, None),
    };
    let pid = ContainerBuilder::new(id.clone(), SyscallType::default())
        .with_root_path(&globals.root)
        .map_err(fail)?
        .with_console_socket(args.console_socket.as_ref())
        .with_pid_file(args.pid_file.as_ref())
        .map_err(fail)?
        .with_preserved_fds(args.preserve_fds)
        .validate_id()
        .map_err(fail)?
        .as_tenant()
        .with_detach(args.detach)
        .with_cwd(args.cwd.as_ref())
        .with_env(args.env.clone().into_iter().collect())
        .with_process(args.process.as_ref())
        .with_no_new_privs(args.no_new_privs)
        .with_container_args(args.command.clone())
        .with_additional_gids(args.additional_gids.clone())
        .with_user(user)
        .with_group(group)
        .with_capabilities(args.cap.clone())
        .with_ignore_paused(args.ignore_paused)
        .with_sub_cgroup(args.cgroup.clone())
        .with_apparmor(args.apparmor.clone())
        .with_process_label(args.process_label.clone())
        .build()
        .map_err(fail)?;
    if args.detach {
        return Ok(0);
    }
    foreground::wait(pid).map_err(|source| CommandError::Wait {
        verb: "exec",
        id,
        source,
    })
}
