//! `pouch attach [--no-stdin] [--detach-keys] [--sig-proxy] CONTAINER`: connects the terminal
//! to a running container's streams and exits with its status once it stops (docker's
//! checks and messages for stopped, paused and restarting containers).

use pouch_client::{AttachOptions, Client};

use super::streamer::{self, StreamEnd, StreamOptions};
use super::ExitStatus;
use crate::terminal::{self, TtyTarget};

#[derive(Debug, clap::Args)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// Proxy all received signals to the process
    #[arg(
        long,
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true,
        action = clap::ArgAction::Set
    )]
    pub sig_proxy: bool,
    /// The container to attach to
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// Docker's refusals for containers that cannot be attached to.
fn check_state(state: &pouch_api::container::ContainerState) -> anyhow::Result<()> {
    if !state.running {
        anyhow::bail!("You cannot attach to a stopped container, start it first");
    }
    if state.paused {
        anyhow::bail!("You cannot attach to a paused container, unpause it first");
    }
    if state.restarting {
        anyhow::bail!("You cannot attach to a restarting container, wait until it is running");
    }
    Ok(())
}

pub async fn run(client: &Client, args: AttachArgs) -> anyhow::Result<()> {
    let c = client.container_inspect(&args.container, false).await?;
    check_state(&c.state)?;
    let tty = c.config.tty;
    let stdin = !args.no_stdin && c.config.open_stdin;
    if tty && stdin && !super::stdin_is_terminal() {
        anyhow::bail!("the input device is not a TTY");
    }
    let proxy = (args.sig_proxy && !tty).then(|| terminal::proxy_signals(client, &args.container));
    let options = AttachOptions {
        stdin,
        stdout: true,
        stderr: true,
        stream: true,
        logs: false,
        detach_keys: args.detach_keys.clone(),
    };
    let conn = client.container_attach(&args.container, options).await?;
    let wait = client.container_wait(&args.container, None).await?;
    // The container may have stopped between the check and the attach.
    let c = client.container_inspect(&args.container, false).await?;
    check_state(&c.state)?;
    let resize = (tty && super::stdout_is_terminal())
        .then(|| terminal::monitor_size(client, TtyTarget::Container(c.id.clone())));
    let stream_options = StreamOptions {
        stdin,
        tty,
        detach_keys: args.detach_keys.clone(),
    };
    let end = streamer::stream(conn, &stream_options).await;
    if let Some(r) = resize {
        r.abort();
    }
    if let Some(p) = proxy {
        p.abort();
    }
    if end? == StreamEnd::Detached {
        anyhow::bail!("read escape sequence");
    }
    let answer = wait.result().await?;
    if let Some(e) = answer.error.filter(|e| !e.message.is_empty()) {
        anyhow::bail!("{}", e.message);
    }
    match answer.status_code {
        0 => Ok(()),
        status => Err(ExitStatus(status as i32).into()),
    }
}
