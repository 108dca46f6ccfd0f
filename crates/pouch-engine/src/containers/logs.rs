//! `docker logs`: the reader of Docker's json-file logs that the shim writes
//! (`<id>-json.log`, rotated to `.1`, `.2` ..., higher is older). Each line is
//! `{"log":"hi\n","stream":"stdout","time":"<RFC 3339 nano>"}`. The reader applies `tail`
//! across the rotated files, filters by stream, `since` and `until`, prefixes timestamps,
//! frames each entry as the API sends it (8-byte header without a tty, raw with one) and, with
//! `follow`, keeps reading appended lines, following rotation, until the container stops.
//!
//! File reads are blocking, so the reader runs on a blocking thread and hands chunks to the
//! caller through a channel; it polls for new lines every 50 ms.

use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use pouch_api::ApiError;
use serde::Deserialize;
use tokio::sync::mpsc;

/// A point in time: unix seconds and nanoseconds.
pub type Timestamp = (i64, u32);

/// How often a following reader looks for new lines.
const POLL: Duration = Duration::from_millis(50);
/// Chunks queued for a slow client before the reader waits.
const CHANNEL: usize = 256;
const READ_BUF: usize = 64 * 1024;

/// What `GET /containers/{id}/logs` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogsOptions {
    /// Keep streaming new lines until the container stops.
    pub follow: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Prefix each entry with its time (RFC 3339, nine fraction digits).
    pub timestamps: bool,
    /// Only entries at or after this time.
    pub since: Option<Timestamp>,
    /// Only entries at or before this time; a follow ends when it passes.
    pub until: Option<Timestamp>,
    /// The last N entries; `None` = all.
    pub tail: Option<usize>,
}

impl LogsOptions {
    /// Docker's check: at least one of stdout and stderr.
    pub fn check(&self) -> Result<(), LogsError> {
        if !self.stdout && !self.stderr {
            return Err(LogsError::NoStream);
        }
        Ok(())
    }
}

/// Why a logs request is invalid.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error(
        "invalid time value {value:?}: give unix seconds (1700000000 or 1700000000.123456789) \
         or an RFC 3339 time"
    )]
    Time { value: String },
    #[error("you must choose at least one stream: set stdout or stderr")]
    NoStream,
}

impl From<LogsError> for ApiError {
    fn from(e: LogsError) -> ApiError {
        ApiError::invalid(e.to_string())
    }
}

/// Parses a `since`/`until` value as clients send it: `1700000000`, `1700000000.123456789`
/// (the CLI converts durations and dates to this form), or an RFC 3339 time. Empty (and
/// Docker's `0`) means unset.
pub fn parse_time_arg(s: &str) -> Result<Option<Timestamp>, LogsError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || LogsError::Time {
        value: s.to_string(),
    };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(Some((t.timestamp(), t.timestamp_subsec_nanos())));
    }
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    if frac.len() > 9 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    if secs == 0 && nanos == 0 {
        return Ok(None);
    }
    Ok(Some((secs, nanos)))
}

/// Parses `tail`: a count, or `all`/empty/negative/garbage for everything (as Docker does).
pub fn parse_tail(s: &str) -> Option<usize> {
    s.trim().parse::<usize>().ok()
}

/// Formats a time as Docker's log timestamps: `2026-11-27T10:00:00.123456789Z`.
pub fn format_timestamp(t: Timestamp) -> String {
    match chrono::DateTime::from_timestamp(t.0, t.1) {
        Some(d) => d.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string(),
        None => pouch_api::container::ZERO_TIME.to_string(),
    }
}

/// Starts reading the log at `log_path` (and its rotated files) and returns the chunks,
/// already framed for the API. The stream ends when everything asked for was sent, or with
/// `follow` when `stop` resolves (the container stopped; what is left is read first), when
/// `until` passes, or when the receiver is dropped. Must be called within a tokio runtime.
pub fn read_logs(
    log_path: PathBuf,
    tty: bool,
    opts: LogsOptions,
    stop: impl Future<Output = ()> + Send + 'static,
) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(CHANNEL);
    let stopped = Arc::new(AtomicBool::new(false));
    let watcher = if opts.follow {
        let flag = stopped.clone();
        Some(tokio::spawn(async move {
            stop.await;
            flag.store(true, Ordering::SeqCst);
        }))
    } else {
        None
    };
    tokio::task::spawn_blocking(move || {
        let mut reader = LogReader {
            path: log_path,
            tty,
            opts,
            tx,
            stopped,
        };
        if let Err(e) = reader.run() {
            tracing::warn!(path = %reader.path.display(), "reading the container log: {e}");
        }
        if let Some(w) = watcher {
            w.abort();
        }
    });
    rx
}

/// Whether the reader goes on after an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Go,
    End,
}

#[derive(Deserialize)]
struct JsonLine {
    #[serde(default)]
    log: String,
    #[serde(default)]
    stream: String,
    #[serde(default)]
    time: String,
}

/// The file being followed: the current log (rotated away while we hold it at worst).
struct Current {
    file: File,
    dev: u64,
    ino: u64,
    /// Bytes of an incomplete last line.
    partial: Vec<u8>,
    pos: u64,
}

impl Current {
    fn open(path: &Path) -> io::Result<Option<Current>> {
        match File::open(path) {
            Ok(file) => {
                let m = file.metadata()?;
                Ok(Some(Current {
                    file,
                    dev: m.dev(),
                    ino: m.ino(),
                    partial: Vec::new(),
                    pos: 0,
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn seek(&mut self, pos: u64) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(pos))?;
        self.pos = pos;
        self.partial.clear();
        Ok(())
    }

    /// Whether `path` now names another file than the one held (rotation).
    fn replaced(&self, path: &Path) -> bool {
        match std::fs::metadata(path) {
            Ok(m) => m.dev() != self.dev || m.ino() != self.ino,
            Err(_) => true,
        }
    }
}

struct LogReader {
    path: PathBuf,
    tty: bool,
    opts: LogsOptions,
    tx: mpsc::Sender<Bytes>,
    stopped: Arc<AtomicBool>,
}

impl LogReader {
    fn run(&mut self) -> io::Result<()> {
        // The current file is opened first so that lines appended while the rotated files
        // are read are not lost.
        let mut current = Current::open(&self.path)?;
        let rotated = rotated_files(&self.path);
        let mut start = vec![0u64; rotated.len()];
        let mut current_start = 0u64;
        if let Some(n) = self.opts.tail {
            let mut need = n;
            if let Some(cur) = current.as_mut() {
                let (off, found) = tail_offset(&mut cur.file, need)?;
                current_start = off;
                need -= found.min(need);
            }
            for (i, p) in rotated.iter().enumerate().rev() {
                let mut f = match File::open(p) {
                    Ok(f) => f,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                if need == 0 {
                    start[i] = u64::MAX;
                    continue;
                }
                let (off, found) = tail_offset(&mut f, need)?;
                start[i] = off;
                need -= found.min(need);
            }
        }
        for (p, off) in rotated.iter().zip(start) {
            if off == u64::MAX {
                continue;
            }
            match File::open(p) {
                Ok(mut f) => {
                    f.seek(SeekFrom::Start(off))?;
                    let mut partial = Vec::new();
                    if self.drain(&mut f, &mut partial)? == Flow::End {
                        return Ok(());
                    }
                    if self.flush_partial(&mut partial) == Flow::End {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(cur) = current.as_mut() {
            cur.seek(current_start)?;
            if self.drain_current(cur)? == Flow::End {
                return Ok(());
            }
        }
        if !self.opts.follow {
            if let Some(cur) = current.as_mut() {
                self.flush_partial(&mut cur.partial);
            }
            return Ok(());
        }
        self.follow(current)
    }

    /// Streams appended lines until the container stops, `until` passes or the client goes.
    fn follow(&mut self, mut current: Option<Current>) -> io::Result<()> {
        loop {
            // Read the flag before reading: what was written before the stop is read.
            let stopping = self.stopped.load(Ordering::SeqCst);
            if self.catch_up(&mut current)? == Flow::End {
                return Ok(());
            }
            if stopping {
                return Ok(());
            }
            if let Some(until) = self.opts.until {
                if now() > until {
                    return Ok(());
                }
            }
            if self.tx.is_closed() {
                return Ok(());
            }
            std::thread::sleep(POLL);
        }
    }

    /// Reads what is new in the current file, switching to a new file after a rotation.
    fn catch_up(&mut self, current: &mut Option<Current>) -> io::Result<Flow> {
        loop {
            match current.as_mut() {
                None => {
                    *current = Current::open(&self.path)?;
                    if current.is_none() {
                        return Ok(Flow::Go);
                    }
                }
                Some(cur) => {
                    if self.drain_current(cur)? == Flow::End {
                        return Ok(Flow::End);
                    }
                    if !cur.replaced(&self.path) {
                        return Ok(Flow::Go);
                    }
                    // Rotated: finish the old file (lines written before the rename), then
                    // go on with the new one.
                    if self.drain_current(cur)? == Flow::End {
                        return Ok(Flow::End);
                    }
                    *current = Current::open(&self.path)?;
                    if current.is_none() {
                        return Ok(Flow::Go);
                    }
                }
            }
        }
    }

    /// Reads the held file to its end; a truncated file is read again from the start.
    fn drain_current(&mut self, cur: &mut Current) -> io::Result<Flow> {
        let len = cur.file.metadata()?.len();
        if len < cur.pos {
            cur.seek(0)?;
        }
        let mut partial = std::mem::take(&mut cur.partial);
        let mut counted = CountingReader {
            inner: &mut cur.file,
            n: 0,
        };
        let flow = self.drain(&mut counted, &mut partial)?;
        cur.pos += counted.n;
        cur.partial = partial;
        Ok(flow)
    }

    /// Reads `r` to its end, sending each complete line; an incomplete last line stays in
    /// `partial`.
    fn drain(&mut self, r: &mut dyn Read, partial: &mut Vec<u8>) -> io::Result<Flow> {
        let mut buf = vec![0u8; READ_BUF];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => return Ok(Flow::Go),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let mut rest = &buf[..n];
            while let Some(i) = rest.iter().position(|b| *b == b'\n') {
                let flow = if partial.is_empty() {
                    self.entry(&rest[..i])
                } else {
                    partial.extend_from_slice(&rest[..i]);
                    let line = std::mem::take(partial);
                    self.entry(&line)
                };
                if flow == Flow::End {
                    return Ok(Flow::End);
                }
                rest = &rest[i + 1..];
            }
            partial.extend_from_slice(rest);
        }
    }

    /// Sends a last line that has no newline (a complete JSON object or nothing).
    fn flush_partial(&mut self, partial: &mut Vec<u8>) -> Flow {
        if partial.is_empty() {
            return Flow::Go;
        }
        let line = std::mem::take(partial);
        self.entry(&line)
    }

    /// Filters, formats and sends one log line.
    fn entry(&mut self, line: &[u8]) -> Flow {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Flow::Go;
        }
        let Ok(entry) = serde_json::from_slice::<JsonLine>(line) else {
            tracing::debug!(path = %self.path.display(), "skipping a malformed log line");
            return Flow::Go;
        };
        let stream: u8 = if entry.stream == "stderr" { 2 } else { 1 };
        if (stream == 1 && !self.opts.stdout) || (stream == 2 && !self.opts.stderr) {
            return Flow::Go;
        }
        let time = chrono::DateTime::parse_from_rfc3339(&entry.time)
            .ok()
            .map(|t| (t.timestamp(), t.timestamp_subsec_nanos()));
        if let Some(t) = time {
            if self.opts.since.is_some_and(|since| t < since) {
                return Flow::Go;
            }
            if self.opts.until.is_some_and(|until| t > until) {
                return Flow::End;
            }
        }
        let stamp = if self.opts.timestamps {
            Some(match time {
                Some(t) => format_timestamp(t),
                None => entry.time.clone(),
            })
        } else {
            None
        };
        let payload_len = entry.log.len() + stamp.as_ref().map_or(0, |s| s.len() + 1);
        let mut out = BytesMut::with_capacity(payload_len + 8);
        if !self.tty {
            out.put_u8(stream);
            out.put_slice(&[0, 0, 0]);
            out.put_u32(payload_len as u32);
        }
        if let Some(s) = stamp {
            out.put_slice(s.as_bytes());
            out.put_u8(b' ');
        }
        out.put_slice(entry.log.as_bytes());
        match self.tx.blocking_send(out.freeze()) {
            Ok(()) => Flow::Go,
            Err(_) => Flow::End,
        }
    }
}

struct CountingReader<'a> {
    inner: &'a mut File,
    n: u64,
}

impl Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// The rotated files that exist, oldest first (`<path>.N` ... `<path>.1`).
fn rotated_files(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for i in 1.. {
        let mut p = path.as_os_str().to_os_string();
        p.push(format!(".{i}"));
        let p = PathBuf::from(p);
        if !p.exists() {
            break;
        }
        out.push(p);
    }
    out.reverse();
    out
}

/// Where the last `need` lines of `f` start, and how many lines (up to `need`) it holds.
/// A last line without its newline counts as a line.
fn tail_offset(f: &mut File, need: usize) -> io::Result<(u64, usize)> {
    let len = f.metadata()?.len();
    if need == 0 || len == 0 {
        return Ok((len, 0));
    }
    let mut end = len;
    // A trailing newline ends the last line; it does not start another one.
    let mut last = [0u8; 1];
    f.seek(SeekFrom::Start(len - 1))?;
    f.read_exact(&mut last)?;
    if last[0] == b'\n' {
        end -= 1;
    }
    let mut found = 0usize;
    let mut buf = vec![0u8; READ_BUF];
    let mut block_end = end;
    while block_end > 0 {
        let block_start = block_end.saturating_sub(READ_BUF as u64);
        let n = (block_end - block_start) as usize;
        f.seek(SeekFrom::Start(block_start))?;
        f.read_exact(&mut buf[..n])?;
        for i in (0..n).rev() {
            if buf[i] == b'\n' {
                found += 1;
                if found == need {
                    return Ok((block_start + i as u64 + 1, found));
                }
            }
        }
        block_end = block_start;
    }
    // Every line of the file: the newlines found plus the first line.
    Ok((0, found + 1))
}

fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(log: &str, stream: &str, time: &str) -> String {
        serde_json::json!({"log": log, "stream": stream, "time": time}).to_string() + "\n"
    }

    fn t(i: u32) -> String {
        format!("2026-11-27T10:00:{i:02}.000000001Z")
    }

    fn all() -> LogsOptions {
        LogsOptions {
            stdout: true,
            stderr: true,
            ..Default::default()
        }
    }

    /// Splits framed output into (stream, payload) entries.
    fn deframe(chunks: &[Bytes]) -> Vec<(u8, String)> {
        let mut data = Vec::new();
        for c in chunks {
            data.extend_from_slice(c);
        }
        let mut out = Vec::new();
        let mut rest = &data[..];
        while !rest.is_empty() {
            assert!(rest.len() >= 8, "short frame header");
            assert_eq!(&rest[1..4], &[0, 0, 0]);
            let len = u32::from_be_bytes(rest[4..8].try_into().unwrap()) as usize;
            out.push((
                rest[0],
                String::from_utf8(rest[8..8 + len].to_vec()).unwrap(),
            ));
            rest = &rest[8 + len..];
        }
        out
    }

    async fn collect(mut rx: mpsc::Receiver<Bytes>) -> Vec<Bytes> {
        let mut out = Vec::new();
        while let Some(c) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("log stream did not end")
        {
            out.push(c);
        }
        out
    }

    async fn next(rx: &mut mpsc::Receiver<Bytes>) -> Vec<(u8, String)> {
        let c = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("no chunk in time")
            .expect("stream ended early");
        deframe(&[c])
    }

    async fn read_all(path: &Path, tty: bool, opts: LogsOptions) -> Vec<Bytes> {
        collect(read_logs(path.to_path_buf(), tty, opts, async {})).await
    }

    fn write_log(path: &Path, lines: &[String]) {
        std::fs::write(path, lines.concat()).unwrap();
    }

    #[test]
    fn time_args() {
        assert_eq!(parse_time_arg("").unwrap(), None);
        assert_eq!(parse_time_arg("0").unwrap(), None);
        assert_eq!(
            parse_time_arg("1700000000").unwrap(),
            Some((1_700_000_000, 0))
        );
        assert_eq!(
            parse_time_arg("1700000000.123456789").unwrap(),
            Some((1_700_000_000, 123_456_789))
        );
        assert_eq!(
            parse_time_arg("1700000000.5").unwrap(),
            Some((1_700_000_000, 500_000_000))
        );
        assert_eq!(
            parse_time_arg("2023-11-14T22:13:20.25Z").unwrap(),
            Some((1_700_000_000, 250_000_000))
        );
        assert!(parse_time_arg("yesterday").is_err());
        assert!(parse_time_arg("1.1234567891").is_err());
        assert_eq!(parse_tail("all"), None);
        assert_eq!(parse_tail("-1"), None);
        assert_eq!(parse_tail("3"), Some(3));
        assert!(LogsOptions::default().check().is_err());
        assert!(all().check().is_ok());
    }

    #[tokio::test]
    async fn framing_streams_and_tty() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        write_log(
            &p,
            &[
                line("out\n", "stdout", &t(1)),
                line("err\n", "stderr", &t(2)),
                "not json\n".to_string(),
                line("out2\n", "stdout", &t(3)),
            ],
        );
        let got = deframe(&read_all(&p, false, all()).await);
        assert_eq!(
            got,
            vec![
                (1, "out\n".to_string()),
                (2, "err\n".to_string()),
                (1, "out2\n".to_string())
            ]
        );
        let only_err = LogsOptions {
            stdout: false,
            ..all()
        };
        assert_eq!(
            deframe(&read_all(&p, false, only_err).await),
            vec![(2, "err\n".to_string())]
        );
        let raw: Vec<u8> = read_all(&p, true, all()).await.concat();
        assert_eq!(raw, b"out\nerr\nout2\n");
    }

    #[tokio::test]
    async fn timestamps_since_until() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        write_log(
            &p,
            &(1..=5)
                .map(|i| line(&format!("{i}\n"), "stdout", &t(i)))
                .collect::<Vec<_>>(),
        );
        let base = chrono::DateTime::parse_from_rfc3339(&t(0))
            .unwrap()
            .timestamp();
        let opts = LogsOptions {
            since: Some((base + 2, 0)),
            until: Some((base + 4, 0)),
            timestamps: true,
            ..all()
        };
        let got = deframe(&read_all(&p, false, opts).await);
        assert_eq!(
            got,
            vec![
                (1, "2026-11-27T10:00:02.000000001Z 2\n".to_string()),
                (1, "2026-11-27T10:00:03.000000001Z 3\n".to_string()),
            ]
        );
    }

    #[tokio::test]
    async fn tail_across_rotated_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let mk = |r: std::ops::RangeInclusive<u32>| {
            r.map(|i| line(&format!("{i}\n"), "stdout", &t(i)))
                .collect::<Vec<_>>()
        };
        write_log(&dir.path().join("c-json.log.2"), &mk(1..=3));
        write_log(&dir.path().join("c-json.log.1"), &mk(4..=5));
        write_log(&p, &mk(6..=7));
        let texts = |v: Vec<(u8, String)>| v.into_iter().map(|(_, s)| s).collect::<String>();
        let everything = texts(deframe(&read_all(&p, false, all()).await));
        assert_eq!(everything, "1\n2\n3\n4\n5\n6\n7\n");
        for (n, want) in [
            (0, ""),
            (1, "7\n"),
            (2, "6\n7\n"),
            (3, "5\n6\n7\n"),
            (5, "3\n4\n5\n6\n7\n"),
            (100, "1\n2\n3\n4\n5\n6\n7\n"),
        ] {
            let opts = LogsOptions {
                tail: Some(n),
                ..all()
            };
            assert_eq!(
                texts(deframe(&read_all(&p, false, opts).await)),
                want,
                "tail {n}"
            );
        }
        // A file without a trailing newline and a file of one line.
        assert_eq!(tail_offset(&mut File::open(&p).unwrap(), 1).unwrap().1, 1);
        let q = dir.path().join("q");
        std::fs::write(&q, "a\nb").unwrap();
        assert_eq!(
            tail_offset(&mut File::open(&q).unwrap(), 1).unwrap(),
            (2, 1)
        );
        assert_eq!(
            tail_offset(&mut File::open(&q).unwrap(), 5).unwrap(),
            (0, 2)
        );
    }

    #[tokio::test]
    async fn missing_log_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_all(&dir.path().join("none.log"), false, all())
            .await
            .is_empty());
    }

    #[tokio::test]
    async fn follow_append_rotate_and_stop() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        write_log(&p, &[line("a\n", "stdout", &t(1))]);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let opts = LogsOptions {
            follow: true,
            ..all()
        };
        let mut rx = read_logs(p.clone(), false, opts, async {
            let _ = stop_rx.await;
        });
        assert_eq!(next(&mut rx).await, vec![(1, "a\n".to_string())]);

        // Appended in two writes: a line is only sent once complete.
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        let l = line("b\n", "stderr", &t(2));
        f.write_all(&l.as_bytes()[..10]).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(150));
        f.write_all(&l.as_bytes()[10..]).unwrap();
        assert_eq!(next(&mut rx).await, vec![(2, "b\n".to_string())]);

        // Rotation: a last line into the old file, rename, new file.
        f.write_all(line("c\n", "stdout", &t(3)).as_bytes())
            .unwrap();
        drop(f);
        std::fs::rename(&p, dir.path().join("c-json.log.1")).unwrap();
        write_log(&p, &[line("d\n", "stdout", &t(4))]);
        assert_eq!(next(&mut rx).await, vec![(1, "c\n".to_string())]);
        assert_eq!(next(&mut rx).await, vec![(1, "d\n".to_string())]);

        // Lines written just before the stop are still sent, then the stream ends.
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(line("e\n", "stdout", &t(5)).as_bytes())
            .unwrap();
        stop_tx.send(()).unwrap();
        let rest = collect(rx).await;
        assert_eq!(deframe(&rest), vec![(1, "e\n".to_string())]);
    }

    #[tokio::test]
    async fn follow_waits_for_the_file_and_ends_at_until() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let until = now();
        let opts = LogsOptions {
            follow: true,
            until: Some((until.0 + 1, until.1)),
            ..all()
        };
        let rx = read_logs(p.clone(), true, opts, std::future::pending());
        tokio::time::sleep(Duration::from_millis(200)).await;
        let stamp = chrono::DateTime::from_timestamp(until.0, until.1)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        write_log(&p, &[line("late\n", "stdout", &stamp)]);
        let started = std::time::Instant::now();
        let got: Vec<u8> = collect(rx).await.concat();
        assert_eq!(got, b"late\n");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn dropped_receiver_ends_the_reader() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        write_log(&p, &[line("a\n", "stdout", &t(1))]);
        let opts = LogsOptions {
            follow: true,
            ..all()
        };
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let rx = read_logs(p, false, opts, async move {
            // Resolves when the reader aborts the watcher (the sender is dropped then).
            let _keep = done_tx;
            std::future::pending::<()>().await
        });
        drop(rx);
        tokio::time::timeout(Duration::from_secs(5), done_rx)
            .await
            .expect("reader did not end after the receiver was dropped")
            .unwrap_err();
    }
}
