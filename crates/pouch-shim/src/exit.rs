//! How the process ended: the exit code from its wait status, the OOM verdict from its memory
//! cgroup's `oom_kill` counter (v1 `memory.oom_control`, v2 `memory.events`), and the `exit`
//! file (written to `exit.tmp`, then renamed, so readers never see half of it).

use std::io;
use std::path::Path;

use pouch_runtime::shim::protocol::{ExitStatus, EXIT_FILE};

/// The exit code Docker reports for a raw wait status: the status, or 128 + the signal that
/// ended the process.
pub fn exit_code(raw: i32) -> i64 {
    let signal = raw & 0x7f;
    if signal == 0 {
        i64::from((raw >> 8) & 0xff)
    } else {
        // Stopped or continued statuses are not requested (no WUNTRACED/WCONTINUED).
        128 + i64::from(signal)
    }
}

/// Whether the memory cgroup at `cgroup_path` (relative to the controllers, under
/// `cgroup_root`, normally /sys/fs/cgroup) counted an OOM kill. Checks v1, then v2.
pub fn oom_killed(cgroup_root: &Path, cgroup_path: &str) -> bool {
    let rel = cgroup_path.trim_start_matches('/');
    let candidates = [
        cgroup_root
            .join("memory")
            .join(rel)
            .join("memory.oom_control"),
        cgroup_root.join(rel).join("memory.events"),
    ];
    candidates.iter().any(|file| {
        std::fs::read_to_string(file)
            .ok()
            .and_then(|text| oom_kill_count(&text))
            .is_some_and(|n| n > 0)
    })
}

/// The `oom_kill N` counter of a `memory.oom_control` or `memory.events` file.
pub fn oom_kill_count(text: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("oom_kill"), Some(n)) => n.parse().ok(),
            _ => None,
        }
    })
}

/// Writes `<state_dir>/exit` atomically.
pub fn write_exit_file(state_dir: &Path, status: &ExitStatus) -> io::Result<()> {
    let tmp = state_dir.join(format!("{EXIT_FILE}.tmp"));
    let data = serde_json::to_vec(status).map_err(io::Error::other)?;
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, state_dir.join(EXIT_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_status_or_128_plus_signal() {
        assert_eq!(exit_code(3 << 8), 3);
        assert_eq!(exit_code(255 << 8), 255);
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(9), 137);
        assert_eq!(exit_code(15 | 0x80), 143); // core dumped
    }

    #[test]
    fn reads_both_oom_counter_formats() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        let v2 = "low 0\nhigh 0\nmax 4\noom 1\noom_kill 0\noom_group_kill 0\n";
        assert_eq!(oom_kill_count(v1), Some(2));
        assert_eq!(oom_kill_count(v2), Some(0));
        assert_eq!(oom_kill_count("under_oom 0\n"), None);
    }

    #[test]
    fn oom_is_found_under_v1_or_v2_layouts() {
        let root = tempfile::tempdir().expect("tempdir");
        let v1 = root.path().join("memory/pouch/a");
        std::fs::create_dir_all(&v1).expect("mkdir");
        std::fs::write(v1.join("memory.oom_control"), "under_oom 0\noom_kill 1\n").expect("w");
        let v2 = root.path().join("pouch/b");
        std::fs::create_dir_all(&v2).expect("mkdir");
        std::fs::write(v2.join("memory.events"), "oom 0\noom_kill 0\n").expect("w");
        assert!(oom_killed(root.path(), "/pouch/a"));
        assert!(!oom_killed(root.path(), "pouch/b"));
        assert!(!oom_killed(root.path(), "pouch/missing"));
    }

    #[test]
    fn exit_file_is_the_wait_answer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let status = ExitStatus {
            exit_code: 3,
            oom_killed: false,
            exited_at: "2026-11-27T10:00:00.123456789Z".into(),
        };
        write_exit_file(dir.path(), &status).expect("write");
        let text = std::fs::read_to_string(dir.path().join("exit")).expect("read");
        assert_eq!(
            text,
            r#"{"exit_code":3,"oom_killed":false,"exited_at":"2026-11-27T10:00:00.123456789Z"}"#
        );
        assert!(!dir.path().join("exit.tmp").exists());
    }
}
