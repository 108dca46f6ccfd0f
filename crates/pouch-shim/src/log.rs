//! The container's json-file log, in Docker's format: one
//! `{"log":"...","stream":"stdout","time":"<RFC3339Nano>"}` line per output line, lines cut at
//! `\n` or 16 KiB, with size-based rotation (`.1`, `.2`, ... up to `max-file - 1`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use pouch_runtime::shim::protocol::STREAM_STDERR;

use crate::clock::rfc3339_nano;

/// The longest log entry; longer lines are cut into several entries.
pub const MAX_LINE: usize = 16 * 1024;

/// Errors writing the log (the shim reports them in shim.log and goes on).
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot open the log file {path}: {source} (check the container's log directory)")]
    Open { path: String, source: io::Error },
    #[error("cannot write the log file {path}: {source} (output is being lost; check the disk)")]
    Write { path: String, source: io::Error },
    #[error("cannot rotate the log file {path}: {source}")]
    Rotate { path: String, source: io::Error },
}

/// An open json-file log.
#[derive(Debug)]
pub struct JsonLog {
    path: PathBuf,
    max_size: Option<u64>,
    max_file: u32,
    file: File,
    size: u64,
    /// The unfinished line of stdout and of stderr.
    partial: [Vec<u8>; 2],
    /// Encoded entries waiting for one write.
    batch: Vec<u8>,
}

impl JsonLog {
    /// Opens (appends to) the log at `path`.
    pub fn open(path: &Path, max_size: Option<u64>, max_file: u32) -> Result<JsonLog, LogError> {
        let file = open_append(path).map_err(|source| LogError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(JsonLog {
            path: path.to_owned(),
            max_size: max_size.filter(|s| *s > 0),
            max_file: max_file.max(1),
            file,
            size,
            partial: [Vec::new(), Vec::new()],
            batch: Vec::new(),
        })
    }

    /// Logs output of `stream` (1 = stdout, 2 = stderr) read at `now`.
    pub fn write(&mut self, stream: u8, data: &[u8], now: SystemTime) -> Result<(), LogError> {
        let slot = usize::from(stream == STREAM_STDERR);
        let time = rfc3339_nano(now);
        let mut rest = data;
        while !rest.is_empty() {
            let room = MAX_LINE - self.partial[slot].len();
            let window = &rest[..room.min(rest.len())];
            let taken = match window.iter().position(|b| *b == b'\n') {
                Some(nl) => nl + 1,
                None => window.len(),
            };
            self.partial[slot].extend_from_slice(&rest[..taken]);
            rest = &rest[taken..];
            let line_done = self.partial[slot].last() == Some(&b'\n');
            if line_done || self.partial[slot].len() >= MAX_LINE {
                let line = std::mem::take(&mut self.partial[slot]);
                self.entry(slot, &line, &time)?;
                self.partial[slot] = line;
                self.partial[slot].clear();
            }
        }
        self.flush_batch()?;
        // Give back the memory of a long line once it is written.
        for partial in &mut self.partial {
            if partial.is_empty() && partial.capacity() > 4096 {
                *partial = Vec::new();
            }
        }
        Ok(())
    }

    /// Logs the unfinished lines (output that ended without a newline).
    pub fn finish(&mut self, now: SystemTime) -> Result<(), LogError> {
        let time = rfc3339_nano(now);
        for slot in 0..2 {
            if !self.partial[slot].is_empty() {
                let line = std::mem::take(&mut self.partial[slot]);
                self.entry(slot, &line, &time)?;
            }
        }
        self.flush_batch()
    }

    /// Encodes one entry into the batch, rotating first when it would pass the size limit.
    fn entry(&mut self, slot: usize, line: &[u8], time: &str) -> Result<(), LogError> {
        let start = self.batch.len();
        self.batch.extend_from_slice(b"{\"log\":");
        // A &str always serializes.
        let _ = serde_json::to_writer(&mut self.batch, &*String::from_utf8_lossy(line));
        self.batch.extend_from_slice(if slot == 0 {
            b",\"stream\":\"stdout\",\"time\":\""
        } else {
            b",\"stream\":\"stderr\",\"time\":\""
        });
        self.batch.extend_from_slice(time.as_bytes());
        self.batch.extend_from_slice(b"\"}\n");
        if let Some(max) = self.max_size {
            let before = self.size + start as u64;
            let len = (self.batch.len() - start) as u64;
            if before > 0 && before + len > max {
                let entry = self.batch.split_off(start);
                self.flush_batch()?;
                self.rotate()?;
                self.batch = entry;
            }
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> Result<(), LogError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.batch);
        self.size += self.batch.len() as u64;
        self.batch.clear();
        if self.batch.capacity() > 64 * 1024 {
            self.batch = Vec::new();
        }
        result.map_err(|source| LogError::Write {
            path: self.path.display().to_string(),
            source,
        })
    }

    /// Shifts `.1` .. `.(max-file - 2)` up by one, renames the current file to `.1` and starts
    /// a new one; with `max-file` 1 the current file is truncated.
    fn rotate(&mut self) -> Result<(), LogError> {
        let err = |source| LogError::Rotate {
            path: self.path.display().to_string(),
            source,
        };
        if self.max_file > 1 {
            for i in (1..self.max_file - 1).rev() {
                match std::fs::rename(numbered(&self.path, i), numbered(&self.path, i + 1)) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(err(e)),
                    _ => {}
                }
            }
            std::fs::rename(&self.path, numbered(&self.path, 1)).map_err(err)?;
            self.file = open_append(&self.path).map_err(err)?;
        } else {
            self.file.set_len(0).map_err(err)?;
        }
        self.size = 0;
        Ok(())
    }
}

fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_runtime::shim::protocol::STREAM_STDOUT;
    use std::time::{Duration, UNIX_EPOCH};

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::new(1_700_000_000, 5)
    }

    fn entries(path: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is json"))
            .collect()
    }

    #[test]
    fn lines_are_cut_at_newlines_and_partials_wait() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c-json.log");
        let mut log = JsonLog::open(&path, None, 1).expect("open");
        log.write(STREAM_STDOUT, b"hello\nwor", now())
            .expect("write");
        log.write(STREAM_STDERR, b"oops\n", now()).expect("write");
        log.write(STREAM_STDOUT, b"ld\n\xffend", now())
            .expect("write");
        let e = entries(&path);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0]["log"], "hello\n");
        assert_eq!(e[0]["stream"], "stdout");
        assert_eq!(e[0]["time"], "2023-11-14T22:13:20.000000005Z");
        assert_eq!(e[1]["log"], "oops\n");
        assert_eq!(e[1]["stream"], "stderr");
        assert_eq!(e[2]["log"], "world\n");
        log.finish(now()).expect("finish");
        let e = entries(&path);
        assert_eq!(e[3]["log"], "\u{fffd}end");
    }

    #[test]
    fn long_lines_are_cut_at_16_kib() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c-json.log");
        let mut log = JsonLog::open(&path, None, 1).expect("open");
        let mut data = vec![b'a'; MAX_LINE + 10];
        data.push(b'\n');
        log.write(STREAM_STDOUT, &data[..1000], now())
            .expect("write");
        log.write(STREAM_STDOUT, &data[1000..], now())
            .expect("write");
        let e = entries(&path);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0]["log"].as_str().map(str::len), Some(MAX_LINE));
        assert_eq!(e[1]["log"].as_str(), Some("aaaaaaaaaa\n"));
    }

    #[test]
    fn rotation_keeps_max_file_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c-json.log");
        let mut log = JsonLog::open(&path, Some(200), 3).expect("open");
        for i in 0..20 {
            log.write(STREAM_STDOUT, format!("line {i}\n").as_bytes(), now())
                .expect("write");
        }
        let current = entries(&path);
        let one = entries(&numbered(&path, 1));
        let two = entries(&numbered(&path, 2));
        assert!(!numbered(&path, 3).exists());
        assert!(std::fs::metadata(&path).expect("current").len() <= 200);
        assert_eq!(current.last().expect("entries")["log"], "line 19\n");
        // entries are contiguous across .2, .1 and the current file
        let all: Vec<_> = two.iter().chain(&one).chain(&current).collect();
        let first: usize = all[0]["log"].as_str().expect("log")[5..]
            .trim()
            .parse()
            .expect("number");
        for (k, e) in all.iter().enumerate() {
            assert_eq!(e["log"], format!("line {}\n", first + k));
        }
        assert!(first > 0, "older entries were dropped");
    }

    #[test]
    fn max_file_one_truncates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c-json.log");
        let mut log = JsonLog::open(&path, Some(150), 1).expect("open");
        for i in 0..10 {
            log.write(STREAM_STDOUT, format!("line {i}\n").as_bytes(), now())
                .expect("write");
        }
        assert!(!numbered(&path, 1).exists());
        let e = entries(&path);
        assert_eq!(e.last().expect("entries")["log"], "line 9\n");
        assert!(e.len() < 10);
    }
}
