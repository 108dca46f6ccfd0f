//! Processes and mounts seen from /proc, for the benchmarks and the harness's clean-up:
//! memory of a process, the process list, killing what a test or a benchmark left, and
//! unmounting below a directory.

use std::fs;
use std::path::Path;

use rustix::process::{kill_process, Pid, Signal};

/// A process's memory in KiB.
#[derive(Clone, Copy)]
pub struct Mem {
    pub rss: u64,
    pub pss: u64,
}

pub fn kib_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

pub fn process_mem(pid: u32) -> Option<Mem> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    Some(Mem {
        rss: kib_field(&status, "VmRSS:")?,
        pss: kib_field(&rollup, "Pss:")?,
    })
}

pub fn daemon_rss(daemons: &[(String, u32)]) -> Option<u64> {
    if daemons.is_empty() {
        return None;
    }
    daemons
        .iter()
        .map(|(_, pid)| process_mem(*pid).map(|m| m.rss))
        .sum()
}

/// (pid, argv) of every process.
pub fn processes() -> Vec<(u32, Vec<String>)> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            let raw = fs::read(e.path().join("cmdline")).ok()?;
            let argv = raw
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>();
            (!argv.is_empty()).then_some((pid, argv))
        })
        .collect()
}

pub fn program_is(argv: &[String], name: &str) -> bool {
    argv.first()
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|n| n == name)
}

/// Pids of the `shim` processes whose command line names one of the containers `ids`.
pub fn engine_processes(shim: &str, ids: &[String]) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(_, argv)| {
            program_is(argv, shim) && argv.iter().any(|a| ids.iter().any(|id| a.contains(id)))
        })
        .map(|(pid, _)| pid)
        .collect()
}

pub fn kill(pid: u32) {
    if let Some(pid) = Pid::from_raw(pid as i32) {
        let _ = kill_process(pid, Signal::KILL);
    }
}

/// The parent pid of `pid`.
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// SIGKILLs `pids` and their children (a shim's child is its container's first process).
pub fn kill_with_children(pids: &[u32]) {
    for (pid, _) in processes() {
        if parent_of(pid).is_some_and(|p| pids.contains(&p)) {
            kill(pid);
        }
    }
    for &pid in pids {
        kill(pid);
    }
}

/// SIGKILLs every process whose command line mentions `path`, and their children.
pub fn kill_processes_mentioning(path: &Path) {
    let needle = path.display().to_string();
    let pids: Vec<u32> = processes()
        .into_iter()
        .filter(|(_, argv)| argv.iter().any(|a| a.contains(&needle)))
        .map(|(pid, _)| pid)
        .collect();
    kill_with_children(&pids);
}

/// Unmounts everything mounted below `dir`, deepest first.
pub fn unmount_below(dir: &Path) {
    let root = dir.display().to_string();
    for _ in 0..3 {
        let mut mounts: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|m| m.starts_with(&root))
            .collect();
        if mounts.is_empty() {
            return;
        }
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = pouch_sys::mount::unmount(Path::new(&m));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc() {
        assert_eq!(
            kib_field("Name:\tx\nVmRSS:\t  1234 kB\n", "VmRSS:"),
            Some(1234)
        );
        assert_eq!(kib_field("Pss_Anon: 5 kB\nPss: 7 kB\n", "Pss:"), Some(7));
        let me = std::process::id();
        assert_eq!(
            parent_of(me),
            Some(rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32))
        );
        assert!(process_mem(me).is_some_and(|m| m.rss > 0 && m.pss > 0));
    }
}
