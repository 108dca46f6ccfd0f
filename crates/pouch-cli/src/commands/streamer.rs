//! Pumps a hijacked attach/exec connection, as docker's `hijackedIOStreamer`: the user's stdin
//! goes to the container (stdin in raw mode with a tty, the detach keys caught here, the
//! write side half-closed at EOF so the container sees its stdin end), the container's output
//! goes to stdout, or to stdout and stderr after demultiplexing when there is no tty. The
//! pump ends when the output ends, or when the user types the detach keys (with a tty; they
//! are recognised here, as docker's CLI does, and also passed on so the daemon ends the
//! session as a detach rather than as stdin's end).

use std::io;

use pouch_client::{demux_copy, HijackedStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};

use super::container_opts::parse::detach_keys_to_bytes;
use crate::terminal::RawMode;

/// Docker's default detach sequence, ctrl-p ctrl-q.
const DEFAULT_DETACH_KEYS: [u8; 2] = [16, 17];

/// How long a detach waits for the daemon to close the session.
const DETACH_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// How to pump one connection.
#[derive(Debug, Clone, Default)]
pub struct StreamOptions {
    /// Send the user's stdin.
    pub stdin: bool,
    /// The container (or exec) has a tty: raw output, raw terminal, detach keys caught here.
    pub tty: bool,
    /// `--detach-keys` (docker's syntax); the default when `None` or invalid.
    pub detach_keys: Option<String>,
}

/// How the pump ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The container closed its output.
    Finished,
    /// The user typed the detach keys; the container keeps running.
    Detached,
}

/// Finds the detach sequence in what the user types, holding back a partial match until it
/// is decided (docker's `term.EscapeProxy`, for reads of any size).
#[derive(Debug)]
pub struct EscapeScanner {
    keys: Vec<u8>,
    matched: usize,
}

impl EscapeScanner {
    pub fn new(keys: Vec<u8>) -> EscapeScanner {
        EscapeScanner { keys, matched: 0 }
    }

    /// The bytes to forward for `input`, and whether the sequence is now complete (bytes
    /// after it are dropped).
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        if self.keys.is_empty() {
            return (input.to_vec(), false);
        }
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if b != self.keys[self.matched] && self.matched > 0 {
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (out, true);
                }
            } else {
                out.push(b);
            }
        }
        (out, false)
    }

    /// The held-back partial match (sent when stdin ends).
    pub fn pending(&self) -> &[u8] {
        &self.keys[..self.matched]
    }
}

enum InputEnd {
    Eof,
    Detached,
}

async fn pump_stdin(
    mut writer: WriteHalf<HijackedStream>,
    mut scanner: Option<EscapeScanner>,
) -> io::Result<InputEnd> {
    let mut stdin = tokio::io::stdin();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = stdin.read(&mut buf).await?;
        if n == 0 {
            if let Some(s) = &scanner {
                writer.write_all(s.pending()).await?;
            }
            writer.flush().await?;
            writer.shutdown().await?;
            return Ok(InputEnd::Eof);
        }
        let (out, detached) = match scanner.as_mut() {
            Some(s) => s.feed(&buf[..n]),
            None => (buf[..n].to_vec(), false),
        };
        writer.write_all(&out).await?;
        if detached {
            // The keys go on to the daemon too: it detaches the session itself and closes it,
            // so our closing the socket is not taken for the end of the container's stdin.
            if let Some(s) = &scanner {
                writer.write_all(&s.keys).await?;
            }
            writer.flush().await?;
            return Ok(InputEnd::Detached);
        }
        writer.flush().await?;
    }
}

async fn pump_output(mut reader: ReadHalf<HijackedStream>, tty: bool) -> anyhow::Result<()> {
    let mut stdout = tokio::io::stdout();
    if tty {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            stdout.write_all(&buf[..n]).await?;
            stdout.flush().await?;
        }
    }
    let mut stderr = tokio::io::stderr();
    demux_copy(reader, &mut stdout, &mut stderr).await?;
    Ok(())
}

/// Pumps `conn` until the output ends or the user detaches.
pub async fn stream(conn: HijackedStream, options: &StreamOptions) -> anyhow::Result<StreamEnd> {
    let _raw = if options.stdin && options.tty {
        RawMode::enable()
            .map_err(|e| anyhow::anyhow!("unable to set IO streams as raw terminal: {e}"))?
    } else {
        None
    };
    let (reader, mut writer) = conn.split();
    let mut output = tokio::spawn(pump_output(reader, options.tty));
    if !options.stdin {
        // Nothing to send: tell the daemon at once, as docker does.
        if let Err(e) = writer.shutdown().await {
            tracing::debug!("cannot half-close the attach connection: {e}");
        }
        return finish_output(output.await);
    }
    let scanner = options.tty.then(|| {
        let keys = options
            .detach_keys
            .as_deref()
            .and_then(|k| detach_keys_to_bytes(k).ok())
            .unwrap_or_else(|| DEFAULT_DETACH_KEYS.to_vec());
        EscapeScanner::new(keys)
    });
    let mut input = tokio::spawn(pump_stdin(writer, scanner));
    tokio::select! {
        out = &mut output => {
            input.abort();
            finish_output(out)
        }
        inp = &mut input => {
            match inp {
                Ok(Ok(InputEnd::Detached)) => {
                    // Let the daemon act on the keys and close; then go regardless.
                    if tokio::time::timeout(DETACH_GRACE, &mut output).await.is_err() {
                        output.abort();
                    }
                    Ok(StreamEnd::Detached)
                }
                Ok(Ok(InputEnd::Eof)) => finish_output(output.await),
                Ok(Err(e)) => {
                    // The container may be gone already; its output tells.
                    tracing::debug!("error sending stdin: {e}");
                    finish_output(output.await)
                }
                Err(e) => Err(anyhow::anyhow!("stdin pump failed: {e}")),
            }
        }
    }
}

/// Stops a pump running in its own task and waits until it is gone (so a raw terminal is
/// restored before the command goes on to report an error).
pub async fn cancel(pump: tokio::task::JoinHandle<anyhow::Result<StreamEnd>>) {
    pump.abort();
    let _ = pump.await;
}

fn finish_output(
    joined: Result<anyhow::Result<()>, tokio::task::JoinError>,
) -> anyhow::Result<StreamEnd> {
    match joined {
        Ok(Ok(())) => Ok(StreamEnd::Finished),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(anyhow::anyhow!("output pump failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_sequence_in_one_read_or_keystrokes() {
        let mut s = EscapeScanner::new(vec![16, 17]);
        assert_eq!(s.feed(b"ls\r\x10\x11after"), (b"ls\r".to_vec(), true));

        let mut s = EscapeScanner::new(vec![16, 17]);
        assert_eq!(s.feed(b"\x10"), (vec![], false));
        assert_eq!(s.pending(), b"\x10");
        assert_eq!(s.feed(b"\x11"), (vec![], true));
    }

    #[test]
    fn partial_matches_are_given_back() {
        let mut s = EscapeScanner::new(vec![16, 17]);
        assert_eq!(s.feed(b"\x10"), (vec![], false));
        assert_eq!(s.feed(b"x"), (b"\x10x".to_vec(), false));
        // A repeated first key restarts the match instead of being lost.
        assert_eq!(s.feed(b"\x10\x10"), (b"\x10".to_vec(), false));
        assert_eq!(s.feed(b"\x11"), (vec![], true));

        let mut s = EscapeScanner::new(vec![b'a', b'b', b'c']);
        assert_eq!(s.feed(b"abx"), (b"abx".to_vec(), false));
        assert_eq!(s.feed(b"aabc"), (b"a".to_vec(), true));

        let mut s = EscapeScanner::new(vec![]);
        assert_eq!(s.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }
}
