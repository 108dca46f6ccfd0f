//! `create`: sets the container up from its bundle and leaves its process waiting for `start`
//! (runc's detached create). Without `--console-socket` the process gets this command's stdio;
//! with one, the pty master is sent there. Also applies what libcontainer leaves out of a
//! create: the memory cgroup's `disableOOMKiller`.

use std::path::Path;

use libcgroups::common::{CgroupConfig, CgroupManager, ControllerOpt};
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::Container;
use libcontainer::error::LibcontainerError;
use libcontainer::oci_spec::runtime::{LinuxResourcesBuilder, Spec};
use libcontainer::syscall::syscall::SyscallType;

use super::{ensure_root, record_init, runtime_error, validate_id, CommandError};
use crate::cli::Globals;

/// What `create` and `run` pass to libcontainer.
pub struct CreateOptions<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    pub preserve_fds: i32,
    pub no_pivot: bool,
    pub detach: bool,
}

pub fn create(args: liboci_cli::Create, globals: &Globals) -> Result<(), CommandError> {
    build(
        &CreateOptions {
            id: &args.container_id,
            bundle: &args.bundle,
            pid_file: args.pid_file.as_deref(),
            console_socket: args.console_socket.as_deref(),
            preserve_fds: args.preserve_fds,
            no_pivot: args.no_pivot,
            detach: true,
        },
        globals,
    )
    .map(drop)
}

/// Creates the container; its process is this process's child, waiting for `start`.
pub fn build(opts: &CreateOptions<'_>, globals: &Globals) -> Result<Container, CommandError> {
    let id = opts.id;
    validate_id(id)?;
    if !opts.bundle.join("config.json").is_file() {
        return Err(CommandError::Runtime {
            verb: "create",
            id: id.to_string(),
            message: format!(
                "no config.json in the bundle {}: give the bundle directory with --bundle",
                opts.bundle.display()
            ),
        });
    }
    ensure_root(&globals.root)?;
    let fail = |e: LibcontainerError| match e {
        LibcontainerError::Exist => CommandError::Exists {
            id: id.to_string(),
            root: globals.root.clone(),
        },
        e => runtime_error("create", id, &e),
    };
    let container = ContainerBuilder::new(id.to_string(), SyscallType::default())
        .with_root_path(&globals.root)
        .map_err(fail)?
        .with_pid_file(opts.pid_file)
        .map_err(fail)?
        .with_console_socket(opts.console_socket)
        .with_preserved_fds(opts.preserve_fds)
        .validate_id()
        .map_err(fail)?
        .as_init(opts.bundle)
        .with_systemd(false)
        .with_detach(opts.detach)
        .with_no_pivot(opts.no_pivot)
        .build()
        .map_err(fail)?;
    if let Some(pid) = container.pid() {
        record_init(&container.root, pid.as_raw());
    }
    if let Err(e) = disable_oom_killer(&container, opts.bundle) {
        let mut container = container;
        let _ = container.delete(true);
        return Err(e);
    }
    Ok(container)
}

/// libcontainer applies the cgroup resources with the OOM killer always enabled; a spec with
/// `linux.resources.memory.disableOOMKiller` gets it disabled here, before `start`.
fn disable_oom_killer(container: &Container, bundle: &Path) -> Result<(), CommandError> {
    let id = container.id();
    let Ok(spec) = Spec::load(bundle.join("config.json")) else {
        return Ok(());
    };
    let memory = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| *r.memory());
    let Some(memory) = memory.filter(|m| m.disable_oom_killer() == Some(true)) else {
        return Ok(());
    };
    let resources = LinuxResourcesBuilder::default()
        .memory(memory)
        .build()
        .map_err(|e| CommandError::Runtime {
            verb: "create",
            id: id.to_string(),
            message: format!("disabling the OOM killer: {e}"),
        })?;
    let cgroup_path = container
        .spec()
        .map_err(|e| runtime_error("create", id, &e))?
        .cgroup_path;
    let manager = libcgroups::common::create_cgroup_manager(CgroupConfig {
        cgroup_path,
        systemd_cgroup: container.systemd(),
        container_name: id.to_string(),
    })
    .map_err(|e| runtime_error("create", id, &LibcontainerError::CgroupCreate(e)))?;
    manager
        .apply(&ControllerOpt {
            resources: &resources,
            disable_oom_killer: true,
            oom_score_adj: None,
            freezer_state: None,
        })
        .map_err(|e| runtime_error("create", id, &LibcontainerError::CgroupManager(e)))
}
