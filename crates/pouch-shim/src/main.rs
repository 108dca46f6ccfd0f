//! `pouch-shim`, the per-container (and per-exec) supervisor (docs/containers-contract.md, "The
//! shim"): detaches from pouchd (`setsid`), becomes the child subreaper, runs the runtime's
//! create or exec with the container's stdio, reports `{"pid":N}` or `{"error":...}` on stdout,
//! then serves `shim.sock` in a single-threaded poll loop until the process exits and its exit
//! is recorded. No async runtime: its memory is the per-container cost of the engine.
//!
//! Modules: `args` (command line), `runtime` (the runtime's create/exec), `console` (sockets,
//! pty master), `stdio` (pipes and pty), `server` (the loop), `conn` (one client), `log`
//! (json-file), `exit` (exit code, OOM, exit file), `clock` (timestamps).

mod args;
mod clock;
mod conn;
mod console;
mod exit;
mod log;
mod runtime;
mod server;
mod stdio;

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;

use pouch_runtime::shim::protocol::{to_line, SpawnReport, SOCKET_FILE};
use rustix::process::{getpid, pidfd_open, Pid, PidfdFlags};

use crate::args::Args;
use crate::console::{bind_here, ConsoleSocket};
use crate::log::{JsonLog, LogError};
use crate::runtime::{Outputs, RuntimeError};
use crate::server::{Server, Setup};

/// Why the shim could not get the process started; the message goes into the report.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("pouch-shim for {subject}: cannot {what}: {source}")]
    Setup {
        subject: String,
        what: String,
        source: io::Error,
    },
}

fn main() -> ExitCode {
    let args = match args::parse(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("pouch-shim: {e}");
            report(&SpawnReport::Error {
                error: format!("pouch-shim: {e}"),
            });
            return ExitCode::FAILURE;
        }
    };
    let setup = match start(&args) {
        Ok(setup) => setup,
        Err(e) => {
            eprintln!("{e}");
            // Clean up first: whoever reads the report may look at the state dir at once.
            let _ = std::fs::remove_file(args.state_dir.join(SOCKET_FILE));
            report(&SpawnReport::Error {
                error: e.to_string(),
            });
            return ExitCode::FAILURE;
        }
    };
    report(&SpawnReport::Pid { pid: setup.pid });
    // Nobody reads stdout after the report; pouchd may even be gone.
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(null.as_fd());
    }
    let exit = Server::new(setup).serve();
    eprintln!(
        "pouch-shim: {} exited with {}{} at {}",
        args.subject(),
        exit.exit_code,
        if exit.oom_killed { " (oom killed)" } else { "" },
        exit.exited_at
    );
    ExitCode::SUCCESS
}

/// Steps 1 to 3 of the contract: session, subreaper, sockets, stdio, the runtime's create.
fn start(args: &Args) -> Result<Setup, StartError> {
    let setup_err = |what: &str| {
        let what = what.to_owned();
        move |source: io::Error| StartError::Setup {
            subject: args.subject(),
            what,
            source,
        }
    };
    // Fails only when already a group leader, which a spawned shim is not.
    if let Err(e) = rustix::process::setsid() {
        eprintln!("pouch-shim: setsid: {e}");
    }
    rustix::process::set_child_subreaper(Some(getpid()))
        .map_err(|e| setup_err("become the child subreaper")(e.into()))?;
    std::fs::create_dir_all(&args.state_dir).map_err(setup_err("create the state dir"))?;
    std::env::set_current_dir(&args.state_dir).map_err(setup_err("enter the state dir"))?;
    let listener = bind_here(SOCKET_FILE).map_err(setup_err("bind shim.sock"))?;
    // Opened before the runtime runs, so a bad log path fails before a container exists.
    let log = match (&args.log, &args.exec) {
        (Some(log), None) => Some(JsonLog::open(&log.path, log.max_size, log.max_file)?),
        _ => None,
    };

    let (mut io, mut runtime_stdio) =
        stdio::prepare(args.tty, args.stdin).map_err(setup_err("create the stdio pipes"))?;
    let console = if args.tty {
        Some(ConsoleSocket::bind(&args.state_dir).map_err(setup_err("bind console.sock"))?)
    } else {
        None
    };
    let own_output = runtime_stdio.own_output.take();
    let created = {
        let outputs = Outputs {
            fds: match &own_output {
                Some(fd) => vec![fd.as_fd()],
                None => io.sources.iter().map(|s| s.fd.as_fd()).collect(),
            },
            // Without a tty an exec's output is already the process's: keep it for attach.
            live: args.tty || args.exec.is_none(),
        };
        runtime::run(args, runtime_stdio, console.as_ref(), &outputs)?
    };
    drop(console);
    drop(own_output);
    if let Some(master) = created.master {
        io.set_master(master, args.stdin)
            .map_err(setup_err("take the pty master"))?;
    }
    let pidfd = match Pid::from_raw(created.pid as i32) {
        Some(pid) => match pidfd_open(pid, PidfdFlags::empty()) {
            Ok(fd) => Some(fd),
            Err(e) => {
                eprintln!(
                    "pouch-shim: pidfd_open {}: {e}; polling instead",
                    created.pid
                );
                None
            }
        },
        None => None,
    };
    Ok(Setup {
        subject: args.subject(),
        state_dir: args.state_dir.clone(),
        stdin_once: args.stdin_once,
        cgroup_path: args.cgroup_path.clone(),
        listener,
        pid: created.pid,
        pidfd,
        io,
        log,
        keep_early_output: args.exec.is_some(),
    })
}

/// Writes the one report line on stdout.
fn report(report: &SpawnReport) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(&to_line(report));
    let _ = out.flush();
}
