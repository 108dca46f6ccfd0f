//! `pouch start [-a] [-i] [--detach-keys] CONTAINER...`. Without `-a`/`-i`, starts each
//! container and prints its name, reporting failures at the end as docker does. With them,
//! one container: attach, wait, start, pump the streams, exit with the container's status.

use pouch_client::{AttachOptions, Client};

use super::streamer::{self, StreamEnd, StreamOptions};
use super::{describe, ExitStatus, Reported};
use crate::terminal::{self, TtyTarget};

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// Containers to start
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub async fn run(client: &Client, args: StartArgs) -> anyhow::Result<()> {
    if args.attach || args.interactive {
        if args.containers.len() > 1 {
            anyhow::bail!("you cannot start and attach multiple containers at once");
        }
        return start_attached(client, &args).await;
    }
    let mut errors = Vec::new();
    let mut failed = Vec::new();
    for name in &args.containers {
        match client.container_start(name).await {
            Ok(()) => println!("{name}"),
            Err(e) if !e.is_daemon_error() => return Err(e.into()),
            Err(e) => {
                errors.push(describe(&e));
                failed.push(name.clone());
            }
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    errors.push(format!(
        "Error: failed to start containers: {}",
        failed.join(", ")
    ));
    Err(Reported(errors.join("\n")).into())
}

async fn start_attached(client: &Client, args: &StartArgs) -> anyhow::Result<()> {
    let c = client.container_inspect(&args.containers[0], false).await?;
    if c.state.running {
        return Ok(());
    }
    let id = c.id.clone();
    let tty = c.config.tty;
    let stdin = args.interactive && c.config.open_stdin;
    let options = AttachOptions {
        stdin,
        stdout: true,
        stderr: true,
        stream: true,
        logs: false,
        detach_keys: args.detach_keys.clone(),
    };
    let conn = client.container_attach(&id, options).await?;
    let stream_options = StreamOptions {
        stdin,
        tty,
        detach_keys: args.detach_keys.clone(),
    };
    let pump = tokio::spawn(async move { streamer::stream(conn, &stream_options).await });
    let condition = if c.host_config.auto_remove {
        "removed"
    } else {
        "next-exit"
    };
    let wait = match client.container_wait(&id, Some(condition)).await {
        Ok(w) => w,
        Err(e) => {
            streamer::cancel(pump).await;
            return Err(e.into());
        }
    };
    let proxy = (!tty).then(|| terminal::proxy_signals(client, &id));
    if let Err(e) = client.container_start(&id).await {
        streamer::cancel(pump).await;
        if let Some(p) = proxy {
            p.abort();
        }
        return Err(e.into());
    }
    let resize = (tty && super::stdout_is_terminal())
        .then(|| terminal::monitor_size(client, TtyTarget::Container(id.clone())));
    let end = pump
        .await
        .map_err(|e| anyhow::anyhow!("stream pump failed: {e}"))?;
    if let Some(r) = resize {
        r.abort();
    }
    if let Some(p) = proxy {
        p.abort();
    }
    if end? == StreamEnd::Detached {
        return Ok(());
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
