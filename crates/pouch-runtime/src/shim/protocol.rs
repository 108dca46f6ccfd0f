//! The wire format between the engine and `pouch-shim`: one JSON request line per connection
//! to `shim.sock`, one JSON answer line, and the spawn report the shim prints on stdout.
//! Kept free of tokio so the shim (a plain poll loop) links only this module.

use serde::{Deserialize, Serialize};

/// Name of the shim's socket inside its state dir.
pub const SOCKET_FILE: &str = "shim.sock";
/// Name of the console socket (tty mode) inside the state dir.
pub const CONSOLE_FILE: &str = "console.sock";
/// Name of the file the runtime writes the container's pid to.
pub const PID_FILE: &str = "pid";
/// Name of the file holding the exit status (the [`ExitStatus`] JSON).
pub const EXIT_FILE: &str = "exit";
/// Name of the runtime's JSON log inside the state dir.
pub const RUNTIME_LOG_FILE: &str = "runtime.log";
/// Name of the shim's own stderr inside the state dir.
pub const SHIM_LOG_FILE: &str = "shim.log";

/// Stream ids of Docker's multiplexed (non-tty) attach format.
pub const STREAM_STDIN: u8 = 0;
pub const STREAM_STDOUT: u8 = 1;
pub const STREAM_STDERR: u8 = 2;

/// One request line: `{"attach":{...}}`, `{"resize":{...}}`, `{"wait":{}}`,
/// `{"close_stdin":{}}` or `{"state":{}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    Attach(AttachRequest),
    Resize(ResizeRequest),
    Wait(Empty),
    CloseStdin(Empty),
    State(Empty),
}

/// The streams an attach connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AttachRequest {
    #[serde(default)]
    pub stdin: bool,
    #[serde(default)]
    pub stdout: bool,
    #[serde(default)]
    pub stderr: bool,
}

/// A terminal size in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResizeRequest {
    pub height: u16,
    pub width: u16,
}

/// The body of requests that take no arguments (`{}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Empty {}

/// `{"ok":true}`: the answer to attach (before the stream), resize and close_stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OkAnswer {
    pub ok: bool,
}

/// `{"error":"..."}`: a refused request, or a failed spawn report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorAnswer {
    pub error: String,
}

/// How the container's process ended: the wait answer and the content of the `exit` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// The exit status, or 128 + the signal number when a signal ended it.
    pub exit_code: i64,
    /// Whether the memory cgroup's oom_kill counter was above zero.
    pub oom_killed: bool,
    /// RFC 3339 UTC time with nanoseconds (Go's RFC3339Nano).
    pub exited_at: String,
}

/// The answer to `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimState {
    pub pid: u32,
    pub running: bool,
}

/// The one line the shim prints on stdout after the runtime's create (or exec) finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SpawnReport {
    Error { error: String },
    Pid { pid: u32 },
}

/// An answer line that is either an error or the expected value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Reply<T> {
    Error(ErrorAnswer),
    Value(T),
}

impl Request {
    /// The request as one line, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        to_line(self)
    }
}

/// Serializes `value` as one JSON line, newline included.
pub fn to_line<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail: no maps with non-string keys, no I/O.
    let mut line = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_the_contract_shape() {
        let attach = Request::Attach(AttachRequest {
            stdin: true,
            stdout: true,
            stderr: false,
        });
        assert_eq!(
            attach.to_line(),
            b"{\"attach\":{\"stdin\":true,\"stdout\":true,\"stderr\":false}}\n"
        );
        assert_eq!(Request::Wait(Empty {}).to_line(), b"{\"wait\":{}}\n");
        assert_eq!(
            Request::CloseStdin(Empty {}).to_line(),
            b"{\"close_stdin\":{}}\n"
        );
        let parsed: Request =
            serde_json::from_str(r#"{"resize":{"height":24,"width":80}}"#).expect("resize parses");
        assert_eq!(
            parsed,
            Request::Resize(ResizeRequest {
                height: 24,
                width: 80
            })
        );
        let parsed: Request = serde_json::from_str(r#"{"state":{}}"#).expect("state parses");
        assert_eq!(parsed, Request::State(Empty {}));
    }

    #[test]
    fn replies_tell_errors_from_values() {
        let r: Reply<ExitStatus> = serde_json::from_str(
            r#"{"exit_code":3,"oom_killed":false,"exited_at":"2026-11-27T10:00:00.123456789Z"}"#,
        )
        .expect("exit parses");
        assert!(matches!(r, Reply::Value(ExitStatus { exit_code: 3, .. })));
        let r: Reply<OkAnswer> =
            serde_json::from_str(r#"{"error":"no tty"}"#).expect("error parses");
        assert_eq!(
            r,
            Reply::Error(ErrorAnswer {
                error: "no tty".into()
            })
        );
        let r: SpawnReport = serde_json::from_str(r#"{"pid":42}"#).expect("pid parses");
        assert_eq!(r, SpawnReport::Pid { pid: 42 });
        let r: SpawnReport =
            serde_json::from_str(r#"{"error":"runtime runc: create failed: x"}"#).expect("parses");
        assert!(matches!(r, SpawnReport::Error { .. }));
    }
}
