//! Rendering of JSON progress streams (pull, push, load, import).
//!
//! On a terminal every layer id gets its own line, redrawn in place with indicatif's
//! `MultiProgress` (`<id>: Downloading [====>   ] 1.2MB/3.4MB`, then `<id>: Pull complete`);
//! lines without an id are appended below in arrival order, as docker draws them. Elsewhere the
//! output is a plain log: one line per status change of an id, never one per progress tick.
//! An error line in the stream ends the display with [`ProgressError::Stream`].

use std::collections::HashMap;
use std::io::{self, Write};

use futures_util::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pouch_api::progress::JsonMessage;
use pouch_client::{ClientError, JsonStream};

use crate::output::human_size;

#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    /// The daemon reported a failure inside the stream.
    #[error("{0}")]
    Stream(String),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("cannot write progress output: {0}")]
    Io(#[from] io::Error),
}

/// docker's `JSONProgress.String()`: a 50-column bar only when the terminal is wider than
/// 110 columns, then `current/total` in decimal units.
pub fn docker_progress(current: i64, total: i64, width: u16) -> String {
    if current <= 0 && total <= 0 {
        return String::new();
    }
    if total <= 0 {
        return format!("{:>8}", human_size(current));
    }
    let percentage = (((current as f64 / total as f64) * 100.0) as i64 / 2).clamp(0, 50) as usize;
    let bar = if width > 110 {
        format!(
            "[{}>{}] ",
            "=".repeat(percentage),
            " ".repeat(50 - percentage)
        )
    } else {
        String::new()
    };
    let numbers = if current > total {
        format!("{:>8}", human_size(current))
    } else {
        format!("{:>8}/{}", human_size(current), human_size(total))
    };
    bar + &numbers
}

/// The text of one message without its id prefix: status, then the progress for `width`.
fn body_text(m: &JsonMessage, width: u16) -> String {
    let mut text = m.status.clone().unwrap_or_default();
    let progress = match &m.progress_detail {
        Some(d) if d.current.is_some() || d.total.is_some() => {
            docker_progress(d.current.unwrap_or(0), d.total.unwrap_or(0), width)
        }
        _ => m.progress.clone().unwrap_or_default(),
    };
    if !progress.is_empty() {
        text.push(' ');
        text.push_str(&progress);
    }
    text
}

/// The width of the terminal on stdout (80 when it cannot be read).
fn terminal_width() -> u16 {
    match rustix::termios::tcgetwinsize(std::io::stdout()) {
        Ok(size) if size.ws_col > 0 => size.ws_col,
        _ => 80,
    }
}

fn is_progress_tick(m: &JsonMessage) -> bool {
    m.progress.as_deref().is_some_and(|p| !p.is_empty())
        || m.progress_detail
            .as_ref()
            .is_some_and(|d| d.current.is_some())
}

fn error_of(m: &JsonMessage) -> Option<String> {
    if let Some(d) = &m.error_detail {
        if !d.message.is_empty() {
            return Some(d.message.clone());
        }
    }
    m.error.clone().filter(|e| !e.is_empty())
}

/// Plain-log state: the last status printed per id.
#[derive(Default)]
pub struct PlainLog {
    last_status: HashMap<String, String>,
}

impl PlainLog {
    /// The lines to print for a message (none for a repeated progress tick).
    pub fn lines(&mut self, m: &JsonMessage) -> Vec<String> {
        if let Some(stream) = &m.stream {
            return stream
                .trim_end_matches('\n')
                .split('\n')
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
        }
        let status = m.status.clone().unwrap_or_default();
        match m.id.as_deref().filter(|i| !i.is_empty()) {
            Some(id) => {
                if self.last_status.get(id) == Some(&status) && is_progress_tick(m) {
                    return Vec::new();
                }
                self.last_status.insert(id.to_string(), status.clone());
                vec![format!("{id}: {status}")]
            }
            None if status.is_empty() => Vec::new(),
            None => vec![status],
        }
    }
}

/// Terminal state: one bar (line) per id, plus finished lines for id-less messages.
struct TermDisplay {
    multi: MultiProgress,
    by_id: HashMap<String, ProgressBar>,
    all: Vec<ProgressBar>,
    style: ProgressStyle,
    width: u16,
}

impl TermDisplay {
    fn new() -> TermDisplay {
        let style = ProgressStyle::with_template("{wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        TermDisplay {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            by_id: HashMap::new(),
            all: Vec::new(),
            style,
            width: terminal_width(),
        }
    }

    fn line(&mut self, text: String) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(self.style.clone());
        bar.set_message(text);
        self.all.push(bar.clone());
        bar
    }

    fn show(&mut self, m: &JsonMessage) {
        if let Some(stream) = &m.stream {
            for l in stream.trim_end_matches('\n').split('\n') {
                if !l.is_empty() {
                    self.line(l.to_string()).finish();
                }
            }
            return;
        }
        let text = body_text(m, self.width);
        match m.id.as_deref().filter(|i| !i.is_empty()) {
            Some(id) => {
                let full = format!("{id}: {text}");
                match self.by_id.get(id) {
                    Some(bar) => bar.set_message(full),
                    None => {
                        let bar = self.line(full);
                        self.by_id.insert(id.to_string(), bar);
                    }
                }
            }
            None if text.is_empty() => {}
            None => {
                // Like docker, a line without an id closes the current group of layer lines.
                self.by_id.clear();
                self.line(text).finish();
            }
        }
    }

    fn finish(&self) {
        for bar in &self.all {
            bar.finish();
        }
    }
}

/// Shows a progress stream on stdout; fails on the first error line.
pub async fn display(mut stream: JsonStream, terminal: bool) -> Result<(), ProgressError> {
    if terminal {
        let mut term = TermDisplay::new();
        let result = loop {
            match stream.next().await {
                None => break Ok(()),
                Some(Err(e)) => break Err(ProgressError::Client(e)),
                Some(Ok(m)) => {
                    if let Some(err) = error_of(&m) {
                        break Err(ProgressError::Stream(err));
                    }
                    term.show(&m);
                }
            }
        };
        term.finish();
        return result;
    }
    let mut log = PlainLog::default();
    let mut stdout = io::stdout();
    while let Some(item) = stream.next().await {
        let m = item?;
        if let Some(err) = error_of(&m) {
            return Err(ProgressError::Stream(err));
        }
        for line in log.lines(&m) {
            writeln!(stdout, "{line}")?;
        }
        stdout.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_log_prints_status_changes_only() {
        let mut log = PlainLog::default();
        let mut out = Vec::new();
        let msgs = [
            JsonMessage::with_id("Pulling from library/busybox", "latest"),
            JsonMessage::with_id("Pulling fs layer", "abc"),
            JsonMessage::progress("Downloading", "abc", 10, Some(100)),
            JsonMessage::progress("Downloading", "abc", 50, Some(100)),
            JsonMessage::progress("Downloading", "abc", 100, Some(100)),
            JsonMessage::with_id("Download complete", "abc"),
            JsonMessage::progress("Extracting", "abc", 100, Some(100)),
            JsonMessage::with_id("Pull complete", "abc"),
            JsonMessage::status("Digest: sha256:x"),
            JsonMessage::stream("Loaded image: busybox:latest\n"),
        ];
        for m in &msgs {
            out.extend(log.lines(m));
        }
        assert_eq!(
            out,
            [
                "latest: Pulling from library/busybox",
                "abc: Pulling fs layer",
                "abc: Downloading",
                "abc: Download complete",
                "abc: Extracting",
                "abc: Pull complete",
                "Digest: sha256:x",
                "Loaded image: busybox:latest",
            ]
        );
    }

    #[test]
    fn bar_text_like_docker() {
        let m = JsonMessage::progress("Downloading", "abc", 1_200_000, Some(3_400_000));
        let wide = body_text(&m, 120);
        assert_eq!(
            wide,
            format!(
                "Downloading [{}>{}]    1.2MB/3.4MB",
                "=".repeat(17),
                " ".repeat(33)
            )
        );
        assert_eq!(body_text(&m, 80), "Downloading    1.2MB/3.4MB");
        let done = JsonMessage::with_id("Pull complete", "abc");
        assert_eq!(body_text(&done, 120), "Pull complete");
        let mut no_total = JsonMessage::with_id("Downloading", "abc");
        no_total.progress_detail = Some(pouch_api::progress::ProgressDetail {
            current: Some(2000),
            total: None,
        });
        assert_eq!(body_text(&no_total, 120), "Downloading      2kB");
        assert_eq!(
            docker_progress(5, 3, 120),
            format!("[{}>] {:>8}", "=".repeat(50), "5B")
        );
        let text_only = JsonMessage {
            status: Some("Loading layer".into()),
            progress: Some("[==>  ] 1kB/2kB".into()),
            ..Default::default()
        };
        assert_eq!(body_text(&text_only, 80), "Loading layer [==>  ] 1kB/2kB");
    }

    #[test]
    fn errors_are_found_in_either_field() {
        assert_eq!(
            error_of(&JsonMessage::error("boom")).as_deref(),
            Some("boom")
        );
        let m = JsonMessage {
            error: Some("only".into()),
            ..Default::default()
        };
        assert_eq!(error_of(&m).as_deref(), Some("only"));
        assert_eq!(error_of(&JsonMessage::status("ok")), None);
    }
}
