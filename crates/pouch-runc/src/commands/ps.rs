//! `ps`: the container's processes from its cgroup: `--format json` prints the host pids as a
//! JSON array, `table` (the default) filters `ps -ef` (or `ps <options>`) to them.

use std::io::Write;

use libcgroups::common::{CgroupConfig, CgroupManager};
use libcontainer::error::LibcontainerError;

use super::{load, runtime_error, CommandError};
use crate::cli::Globals;

pub fn ps(args: liboci_cli::Ps, globals: &Globals) -> Result<(), CommandError> {
    let id = &args.container_id;
    if args.format != "json" && args.format != "table" {
        return Err(CommandError::PsFormat {
            id: id.clone(),
            format: args.format.clone(),
        });
    }
    let container = load(&globals.root, id)?;
    let cgroup_path = container
        .spec()
        .map_err(|e| runtime_error("ps", id, &e))?
        .cgroup_path;
    let manager = libcgroups::common::create_cgroup_manager(CgroupConfig {
        cgroup_path,
        systemd_cgroup: container.systemd(),
        container_name: id.clone(),
    })
    .map_err(|e| runtime_error("ps", id, &LibcontainerError::CgroupCreate(e)))?;
    let mut pids: Vec<i32> = manager
        .get_all_pids()
        .map_err(|e| runtime_error("ps", id, &LibcontainerError::CgroupManager(e)))?
        .iter()
        .map(|pid| pid.as_raw())
        .collect();
    pids.sort_unstable();
    pids.dedup();

    let mut out = std::io::stdout().lock();
    if args.format == "json" {
        let text = serde_json::to_string(&pids).unwrap_or_default();
        return writeln!(out, "{text}").map_err(CommandError::Stdout);
    }
    let options = if args.ps_options.is_empty() {
        vec!["-ef".to_string()]
    } else {
        args.ps_options.clone()
    };
    let output = std::process::Command::new("ps")
        .args(&options)
        .output()
        .map_err(|source| CommandError::PsRun {
            id: id.clone(),
            source,
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    let table = filter_table(&text, &pids).map_err(|message| CommandError::Runtime {
        verb: "ps",
        id: id.clone(),
        message,
    })?;
    out.write_all(table.as_bytes())
        .map_err(CommandError::Stdout)
}

/// The header of a `ps` table and the rows whose PID column is one of `pids`.
fn filter_table(text: &str, pids: &[i32]) -> Result<String, String> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let column = header
        .split_whitespace()
        .position(|name| name == "PID")
        .ok_or_else(|| format!("no PID column in ps's output {header:?}"))?;
    let mut table = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(column)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            table.push_str(line);
            table.push('\n');
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_keeps_the_containers_rows() {
        let text = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 init\nroot 42 1 0 10:01 ? 00:00:00 sleep 100\n";
        assert_eq!(
            filter_table(text, &[42]).expect("table"),
            "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:01 ? 00:00:00 sleep 100\n"
        );
        assert!(filter_table("USER X\n", &[1]).is_err());
    }
}
