//! `pouch-init`: the `--init` process of a container, PID 1 inside it (like tini).
//!
//! Usage: `pouch-init -- cmd args...`. It blocks every signal, spawns the command, then reads
//! its signals from a signalfd: SIGCHLD reaps every exited child (orphans of the container are
//! reparented to it), any other signal is forwarded to the command. It exits with the command's
//! exit code, or 128 + the signal that killed it. When the command cannot be run it prints
//! `pouch-init: cannot run <cmd>: <error>` and exits 127 (126 when the file is not executable).
//!
//! std's `Command` resets the dispositions of the child but not its signal mask, and changing
//! the mask between fork and exec (`pre_exec`) needs `unsafe`. So the child is pouch-init itself
//! again, `pouch-init --exec-child -- cmd args...`, which unblocks every signal and execs the
//! command in place: the command starts with an empty mask and no signal is lost meanwhile.
//!
//! Signals the kernel sends to the whole foreground process group of a terminal (ctrl-c,
//! SIGWINCH, hang-up) reach the command directly, since it shares pouch-init's group; those
//! (si_code SI_KERNEL) are not forwarded a second time.
//!
//! The binary is linked statically (build.rs) because images may have no libc at all.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use nix::errno::Errno;
use nix::sys::signal::SigSet;
use nix::sys::signalfd::{SfdFlags, SignalFd};
use rustix::process::{Pid, WaitOptions};
use rustix_libc_wrappers::process::SignalExt;

/// `si_code` of a signal sent by the kernel (tty line discipline, hang-up, rlimits).
const SI_KERNEL: i32 = 0x80;
const SIGCHLD: u32 = 17;

const USAGE: &str = "usage: pouch-init [--version] -- command [args...]";
/// The hidden flag of the child side: unblock signals, then exec the command.
const EXEC_CHILD: &str = "--exec-child";

#[derive(Debug, PartialEq)]
enum Mode {
    Init(Vec<OsString>),
    ExecChild(Vec<OsString>),
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let code = match parse_args(args) {
        Ok(Some(Mode::Init(command))) => run(command),
        Ok(Some(Mode::ExecChild(command))) => exec_child(command),
        Ok(None) => return,
        Err(message) => {
            eprintln!("pouch-init: {message}\n{USAGE}");
            2
        }
    };
    std::process::exit(code);
}

/// `Ok(None)` when the arguments asked for the version or the usage, already printed.
fn parse_args(args: Vec<OsString>) -> Result<Option<Mode>, String> {
    let mut args = args.into_iter();
    let mut child = false;
    let command: Vec<OsString> = match args.next() {
        None => return Err("no command given".to_string()),
        Some(first) => match first.to_str() {
            Some("--") => args.collect(),
            Some(EXEC_CHILD) if args.next().is_some_and(|a| a == "--") => {
                child = true;
                args.collect()
            }
            Some("--version" | "-V") => {
                println!("pouch-init {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            Some("--help" | "-h") => {
                println!("{USAGE}");
                return Ok(None);
            }
            Some(flag) if flag.starts_with('-') => {
                return Err(format!("unknown option {flag:?}"));
            }
            _ => std::iter::once(first).chain(args).collect(),
        },
    };
    if command.is_empty() {
        return Err("no command given after --".to_string());
    }
    Ok(Some(if child {
        Mode::ExecChild(command)
    } else {
        Mode::Init(command)
    }))
}

/// The child side: runs in the process pouch-init spawned, with every signal still blocked.
/// Returns only when the command cannot be executed.
fn exec_child(command: Vec<OsString>) -> i32 {
    if let Err(e) = SigSet::all().thread_unblock() {
        eprintln!("pouch-init: cannot unblock signals: {e}");
        return 1;
    }
    let e = Command::new(&command[0]).args(&command[1..]).exec();
    eprintln!(
        "pouch-init: cannot run {}: {e}",
        command[0].to_string_lossy()
    );
    let not_executable = e.kind() == ErrorKind::PermissionDenied
        || e.raw_os_error() == Some(Errno::ENOEXEC as i32)
        || e.raw_os_error() == Some(Errno::EISDIR as i32);
    if not_executable {
        126
    } else {
        127
    }
}

/// This very binary, to run as the child: /proc/self/exe, else argv[0] when it is a path.
fn self_exe() -> Option<PathBuf> {
    if let Ok(exe) = std::env::current_exe() {
        return Some(exe);
    }
    let argv0 = PathBuf::from(std::env::args_os().next()?);
    argv0.components().nth(1).is_some().then_some(argv0)
}

/// Runs the command to its end and returns pouch-init's exit code.
fn run(command: Vec<OsString>) -> i32 {
    let all = SigSet::all();
    if let Err(e) = all.thread_block() {
        eprintln!("pouch-init: cannot block signals: {e}");
        return 1;
    }
    let signals = match SignalFd::with_flags(&all, SfdFlags::SFD_CLOEXEC) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("pouch-init: cannot create a signalfd: {e}");
            return 1;
        }
    };
    // Outside a pid namespace (tests, `docker run --init` under another init) orphans must
    // still come to us; as PID 1 of a namespace this is a no-op.
    if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
        eprintln!("pouch-init: cannot become a child subreaper: {e}");
    }

    let Some(exe) = self_exe() else {
        eprintln!(
            "pouch-init: cannot run {}: cannot find the pouch-init executable (is /proc mounted?)",
            command[0].to_string_lossy()
        );
        return 127;
    };
    let spawned = Command::new(&exe)
        .arg0(&command[0])
        .args([OsString::from(EXEC_CHILD), OsString::from("--")])
        .args(&command)
        .spawn();
    let child = match spawned {
        Ok(child) => child,
        Err(e) => {
            eprintln!(
                "pouch-init: cannot run {}: cannot run {}: {e}",
                command[0].to_string_lossy(),
                exe.display()
            );
            return 127;
        }
    };
    let Some(child) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) else {
        eprintln!("pouch-init: the child has an invalid pid {}", child.id());
        return 1;
    };

    loop {
        let info = match signals.read_signal() {
            Ok(Some(info)) => info,
            Ok(None) | Err(Errno::EINTR) => continue,
            Err(e) => {
                eprintln!("pouch-init: cannot read signals: {e}");
                return 1;
            }
        };
        if info.ssi_signo == SIGCHLD {
            if let Some(code) = reap(child) {
                return code;
            }
        } else if info.ssi_code != SI_KERNEL {
            forward(child, info.ssi_signo);
        }
    }
}

/// Reaps every exited child; returns the command's exit code once it is among them.
fn reap(child: Pid) -> Option<i32> {
    let mut code = None;
    loop {
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some((pid, status))) => {
                if pid == child {
                    code = status
                        .exit_status()
                        .or_else(|| status.terminating_signal().map(|sig| 128 + sig));
                }
            }
            Ok(None) => break,
            Err(e) if e == rustix::io::Errno::INTR => continue,
            Err(e) if e == rustix::io::Errno::CHILD => break,
            Err(e) => {
                eprintln!("pouch-init: cannot reap children: {e}");
                break;
            }
        }
    }
    code
}

fn forward(child: Pid, signo: u32) {
    let Some(signal) = i32::try_from(signo)
        .ok()
        .and_then(rustix::process::Signal::from_raw)
    else {
        eprintln!("pouch-init: cannot forward signal {signo}: unknown to libc");
        return;
    };
    match rustix::process::kill_process(child, signal) {
        Ok(()) => {}
        // the command has exited; its SIGCHLD is on its way
        Err(e) if e == rustix::io::Errno::SRCH => {}
        Err(e) => eprintln!("pouch-init: cannot forward signal {signo}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn parses_the_command_after_the_separator() {
        assert_eq!(
            parse_args(args(&["--", "sh", "-c", "exit 7"])).unwrap(),
            Some(Mode::Init(args(&["sh", "-c", "exit 7"])))
        );
        assert_eq!(
            parse_args(args(&["sleep", "1"])).unwrap(),
            Some(Mode::Init(args(&["sleep", "1"])))
        );
        assert_eq!(
            parse_args(args(&["--exec-child", "--", "sleep", "1"])).unwrap(),
            Some(Mode::ExecChild(args(&["sleep", "1"])))
        );
    }

    #[test]
    fn rejects_a_missing_command_and_unknown_options() {
        assert_eq!(parse_args(args(&[])).unwrap_err(), "no command given");
        assert_eq!(
            parse_args(args(&["--"])).unwrap_err(),
            "no command given after --"
        );
        assert_eq!(
            parse_args(args(&["-g", "--", "sh"])).unwrap_err(),
            "unknown option \"-g\""
        );
    }
}
