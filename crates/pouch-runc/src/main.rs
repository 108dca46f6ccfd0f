//! `pouch-runc`: Pouch's own OCI runtime, a runc-compatible command line on youki's
//! `libcontainer`. It is the second runtime pouchd registers (Debian's crun refuses this
//! host's hybrid cgroup layout). pouch-shim runs `create` and `exec --detach`; pouchd runs
//! `start`, `state`, `kill`, `delete`, `pause`, `resume`, `update` and `ps`.
//!
//! Single-threaded on purpose: libcontainer clone()s the calling process and is not safe in a
//! multi-threaded one. At start the binary re-executes itself from a sealed memfd (pentacle),
//! so a container cannot overwrite it through /proc/<pid>/exe (CVE-2019-5736).
//!
//! Exit status: 0 on success, 1 on an error (written to stderr and to `--log`), or the
//! process's exit code for `run` and `exec` without `--detach`.

mod cli;
mod commands;
mod log;

use clap::Parser;

use crate::cli::{Command, Globals, Opts};
use crate::commands::CommandError;

fn main() {
    if let Err(e) = pentacle::ensure_sealed() {
        eprintln!("pouch-runc: cannot re-execute from a sealed copy of /proc/self/exe: {e}");
        std::process::exit(1);
    }
    let opts = Opts::parse();
    if opts.version {
        print_version();
        return;
    }
    let globals = match Globals::from_opts(&opts.global) {
        Ok(globals) => globals,
        Err(msg) => {
            eprintln!("pouch-runc: {msg}");
            std::process::exit(2);
        }
    };
    let log = log::Log::open(globals.log.as_deref(), globals.log_json).install(globals.debug);
    let Some(command) = opts.command else {
        log.error("no command given: see pouch-runc --help");
        std::process::exit(2);
    };
    match dispatch(command, &globals) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            log.error(&e.to_string());
            std::process::exit(1);
        }
    }
}

/// Runs one subcommand; the exit code on success.
fn dispatch(command: Command, globals: &Globals) -> Result<i32, CommandError> {
    use commands::*;
    let done = |result: Result<(), CommandError>| result.map(|()| 0);
    match command {
        Command::Create(args) => done(create::create(args, globals)),
        Command::Start(args) => done(start::start(args, globals)),
        Command::State(args) => done(state::state(args, globals)),
        Command::Kill(args) => done(kill::kill(args, globals)),
        Command::Delete(args) => done(delete::delete(args, globals)),
        Command::Exec(args) => exec::exec(args, globals),
        Command::Pause(args) => done(pause::pause(args, globals)),
        Command::Resume(args) => done(resume::resume(args, globals)),
        Command::Update(args) => done(update::update(args, globals)),
        Command::Ps(args) => done(ps::ps(args, globals)),
        Command::Run(args) => run::run(args, globals),
    }
}

fn print_version() {
    println!("pouch-runc version {}", env!("CARGO_PKG_VERSION"));
    println!("libcontainer: 0.7 (youki)");
    println!("spec: {}", libcontainer::oci_spec::runtime::VERSION);
}
