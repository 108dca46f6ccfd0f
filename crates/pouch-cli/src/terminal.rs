//! The user's terminal for `run -t`, `start -a`, `attach` and `exec -t`: raw mode on stdin
//! (restored when the guard drops, and by a panic hook if the CLI panics while raw), the
//! terminal size, and keeping a container's or exec's tty the size of ours (an initial
//! resize with retries, then one on every SIGWINCH).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use pouch_client::{Client, ClientError};
use rustix::process::Signal;
use rustix::termios::{self, OptionalActions, Termios};
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinHandle;

/// The settings to put back when the CLI panics in raw mode.
static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

/// Restores the terminal before the default panic message is printed.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_saved();
        previous(info);
    }));
}

fn restore_saved() {
    let saved = match SAVED.lock() {
        Ok(mut s) => s.take(),
        Err(poisoned) => poisoned.into_inner().take(),
    };
    if let Some(t) = saved {
        let _ = termios::tcsetattr(std::io::stdin(), OptionalActions::Now, &t);
    }
}

/// Stdin in raw mode until dropped.
#[derive(Debug)]
pub struct RawMode {
    _private: (),
}

impl RawMode {
    /// Puts stdin in raw mode (cfmakeraw, as docker's `term.MakeRaw`) when it is a terminal;
    /// `None` when it is not one.
    pub fn enable() -> std::io::Result<Option<RawMode>> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Ok(None);
        }
        let original = termios::tcgetattr(&stdin)?;
        let mut raw = original.clone();
        raw.make_raw();
        if let Ok(mut s) = SAVED.lock() {
            *s = Some(original);
        }
        termios::tcsetattr(&stdin, OptionalActions::Now, &raw)?;
        Ok(Some(RawMode { _private: () }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore_saved();
    }
}

/// The size (rows, columns) of the terminal on stdout, `None` when stdout is not a terminal
/// or reports no size.
pub fn size() -> Option<(u16, u16)> {
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    match termios::tcgetwinsize(&stdout) {
        Ok(ws) if ws.ws_row > 0 || ws.ws_col > 0 => Some((ws.ws_row, ws.ws_col)),
        _ => None,
    }
}

/// Whose tty is resized.
#[derive(Debug, Clone)]
pub enum TtyTarget {
    Container(String),
    Exec(String),
}

async fn resize_to(client: &Client, target: &TtyTarget) -> Result<(), ClientError> {
    let Some((rows, cols)) = size() else {
        return Ok(());
    };
    match target {
        TtyTarget::Container(id) => client.container_resize(id, rows, cols).await,
        TtyTarget::Exec(id) => client.exec_resize(id, rows, cols).await,
    }
}

/// Docker's `MonitorTtySize`: resizes the target now (retrying a few times, since the process
/// may not be up yet), then on every SIGWINCH until the returned task is aborted.
pub fn monitor_size(client: &Client, target: TtyTarget) -> JoinHandle<()> {
    let client = client.clone();
    tokio::spawn(async move {
        let mut winch = signal(SignalKind::window_change()).ok();
        if resize_to(&client, &target).await.is_err() {
            let mut ok = false;
            for retry in 1..=10u64 {
                tokio::time::sleep(Duration::from_millis(retry * 10)).await;
                if resize_to(&client, &target).await.is_ok() {
                    ok = true;
                    break;
                }
            }
            if !ok {
                eprintln!("failed to resize tty, using default size");
            }
        }
        let Some(winch) = winch.as_mut() else {
            return;
        };
        while winch.recv().await.is_some() {
            if let Err(e) = resize_to(&client, &target).await {
                tracing::debug!("resize after SIGWINCH failed: {e}");
            }
        }
    })
}

/// Signals the CLI forwards to the container (docker's sig-proxy), with the names sent in
/// `kill?signal=`.
const PROXIED: &[(Signal, &str)] = &[
    (Signal::HUP, "HUP"),
    (Signal::INT, "INT"),
    (Signal::QUIT, "QUIT"),
    (Signal::USR1, "USR1"),
    (Signal::USR2, "USR2"),
    (Signal::TERM, "TERM"),
    (Signal::WINCH, "WINCH"),
];

/// Docker's `ForwardAllSignals`: every signal in [`PROXIED`] the CLI receives is sent to the
/// container with `POST /containers/{id}/kill?signal=NAME` until the task is aborted; the
/// CLI itself does not die of them meanwhile.
pub fn proxy_signals(client: &Client, container: &str) -> JoinHandle<()> {
    let client = client.clone();
    let container = container.to_string();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
    let mut listeners = Vec::new();
    for &(sig, name) in PROXIED {
        match signal(SignalKind::from_raw(sig.as_raw())) {
            Ok(mut s) => {
                let tx = tx.clone();
                listeners.push(tokio::spawn(async move {
                    while s.recv().await.is_some() {
                        if tx.send(name).is_err() {
                            break;
                        }
                    }
                }));
            }
            Err(e) => tracing::debug!("cannot catch SIG{name}: {e}"),
        }
    }
    drop(tx);
    tokio::spawn(async move {
        let _abort = AbortOnDrop(listeners);
        while let Some(name) = rx.recv().await {
            if let Err(e) = client.container_kill(&container, Some(name)).await {
                tracing::debug!("forwarding SIG{name} to {container} failed: {e}");
            }
        }
    })
}

/// Aborts tasks when dropped (the listeners of an aborted proxy).
struct AbortOnDrop(Vec<JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}
