//! `pouch run [OPTIONS] IMAGE [COMMAND] [ARG...]`, in docker's order: create (pulling a
//! missing image), attach, wait (registered before the start, so no exit is missed), start,
//! then pump the streams and exit with the container's status. With `-d`: create, wait,
//! start, print the id. Failures to create or start end with docker's statuses: 125, or
//! 127/126 when the command is not found or cannot be executed.

use std::time::Duration;

use pouch_client::{AttachOptions, Client, ClientError, WaitFuture};

use super::container_opts::ContainerOpts;
use super::streamer::{self, StreamEnd, StreamOptions};
use super::{create, ExitStatus, StatusError};
use crate::terminal::{self, TtyTarget};

#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Proxy received signals to the process
    #[arg(
        long,
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true,
        action = clap::ArgAction::Set
    )]
    pub sig_proxy: bool,
    #[command(flatten)]
    pub opts: ContainerOpts,
    /// The image, then the command and its arguments
    #[arg(
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        value_name = "IMAGE [COMMAND] [ARG...]"
    )]
    pub args: Vec<String>,
}

/// Docker's `toStatusError`: the exit status for a failed create or start, from the text of
/// the error (the runtime's words reach us through the daemon's message).
pub fn failure_status(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
        || message.contains("system cannot find the file specified")
    {
        127
    } else if message.contains("permission denied") || message.contains("is a directory") {
        126
    } else {
        125
    }
}

/// A failed create or start of `run`, printed `pouch: <error>` with the help hint.
fn run_failure(err: anyhow::Error) -> anyhow::Error {
    if err.downcast_ref::<StatusError>().is_some() {
        return err;
    }
    let text = match err.downcast_ref::<ClientError>() {
        Some(ClientError::Api { message, .. }) => format!("Error response from daemon: {message}"),
        _ => crate::chain_text(&err),
    };
    StatusError {
        status: failure_status(&text),
        message: format!("pouch: {text}\nSee 'pouch run --help'."),
    }
    .into()
}

/// The exit status from the wait's answer (125 when the wait itself failed).
async fn exit_status(wait: WaitFuture) -> i32 {
    match wait.result().await {
        Ok(answer) => match answer.error {
            Some(e) if !e.message.is_empty() => {
                eprintln!("Error waiting for container: {}", e.message);
                125
            }
            _ => answer.status_code as i32,
        },
        Err(e) => {
            eprintln!("Error waiting for container: {e}");
            125
        }
    }
}

pub async fn run(client: &Client, args: RunArgs) -> anyhow::Result<()> {
    let (mut request, pull) = create::build_request(&args.opts, &args.args, "run")?;
    let config = &mut request.body.config;
    if args.detach {
        if !args.opts.attach.is_empty() {
            return Err(StatusError::usage(
                "run",
                "conflicting options: cannot specify both --attach and --detach",
            )
            .into());
        }
        config.attach_stdin = false;
        config.attach_stdout = false;
        config.attach_stderr = false;
        config.stdin_once = false;
    } else if config.tty && config.attach_stdin && !super::stdin_is_terminal() {
        anyhow::bail!("the input device is not a TTY");
    }
    let (stdin, stdout, stderr, tty) = (
        config.attach_stdin,
        config.attach_stdout,
        config.attach_stderr,
        config.tty,
    );
    let auto_remove = args.opts.rm;

    let created = create::create_container(client, &request, pull, args.opts.quiet)
        .await
        .map_err(run_failure)?;
    let id = created.id;

    let attached = stdin || stdout || stderr;
    let mut pump = None;
    if attached {
        let options = AttachOptions {
            stdin,
            stdout,
            stderr,
            stream: true,
            logs: false,
            detach_keys: args.opts.detach_keys.clone(),
        };
        let conn = client.container_attach(&id, options).await?;
        let stream_options = StreamOptions {
            stdin,
            tty,
            detach_keys: args.opts.detach_keys.clone(),
        };
        pump = Some(tokio::spawn(async move {
            streamer::stream(conn, &stream_options).await
        }));
    }
    let condition = if auto_remove { "removed" } else { "next-exit" };
    let wait = match client.container_wait(&id, Some(condition)).await {
        Ok(w) => w,
        Err(e) => {
            if let Some(p) = pump {
                streamer::cancel(p).await;
            }
            return Err(run_failure(e.into()));
        }
    };
    let proxy = (attached && args.sig_proxy).then(|| terminal::proxy_signals(client, &id));

    if let Err(e) = client.container_start(&id).await {
        if let Some(p) = pump {
            streamer::cancel(p).await;
        }
        if let Some(p) = proxy {
            p.abort();
        }
        if auto_remove {
            // The daemon removes the container after a failed start; wait for it, a while.
            let _ = tokio::time::timeout(Duration::from_secs(10), wait.result()).await;
        }
        return Err(run_failure(e.into()));
    }

    // Without stdout and stderr, docker prints the id and does not wait for the exit.
    let report_id = !stdout && !stderr;
    let resize = (attached && tty && super::stdout_is_terminal())
        .then(|| terminal::monitor_size(client, TtyTarget::Container(id.clone())));
    let end = match pump {
        Some(p) => p
            .await
            .map_err(|e| anyhow::anyhow!("stream pump failed: {e}"))?,
        None => Ok(StreamEnd::Finished),
    };
    if let Some(r) = resize {
        r.abort();
    }
    if let Some(p) = proxy {
        p.abort();
    }
    if report_id {
        println!("{id}");
        return end.map(|_| ());
    }
    if end? == StreamEnd::Detached {
        return Ok(());
    }
    match exit_status(wait).await {
        0 => Ok(()),
        status => Err(ExitStatus(status).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_statuses_like_docker() {
        assert_eq!(
            failure_status(
                "OCI runtime create failed: exec: \"nope\": executable file not found in $PATH"
            ),
            127
        );
        assert_eq!(failure_status("exec /x: no such file or directory"), 127);
        assert_eq!(failure_status("exec /etc: permission denied"), 126);
        assert_eq!(failure_status("No such image: x:latest"), 125);
    }

    #[test]
    fn daemon_failures_are_prefixed_and_keep_the_status() {
        let e = run_failure(
            ClientError::Api {
                status: 400,
                message: "exec: \"nope\": executable file not found in $PATH".into(),
            }
            .into(),
        );
        let s = e.downcast_ref::<StatusError>().unwrap();
        assert_eq!(s.status, 127);
        assert!(s
            .message
            .starts_with("pouch: Error response from daemon: exec:"));
        assert!(s.message.ends_with("See 'pouch run --help'."));
    }
}
