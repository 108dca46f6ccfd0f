//! `pouch logs [-f] [--tail N] [--since T] [--until T] [-t] CONTAINER`: the container's log,
//! demultiplexed to stdout and stderr (raw when the container has a tty, which inspect tells).
//! `--since`/`--until` take durations (`10m`), RFC 3339 times or unix timestamps and are
//! turned into unix seconds here, as the docker client does.

use futures_util::StreamExt;
use pouch_client::{demux_stream, Client, DemuxError, LogsOptions, StreamKind};
use tokio::io::AsyncWriteExt;

use super::time::timestamp_now;

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long)]
    pub until: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show extra details provided to logs (accepted; the json-file log has none to add)
    #[arg(long)]
    pub details: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// The container
    pub container: String,
}

/// The options sent to the daemon, relative times resolved against the local clock.
pub fn options(args: &LogsArgs) -> anyhow::Result<LogsOptions> {
    let since = match args.since.as_deref() {
        Some(s) if !s.is_empty() => Some(timestamp_now(s)?),
        _ => None,
    };
    let until = match args.until.as_deref() {
        Some(u) if !u.is_empty() => Some(timestamp_now(u)?),
        _ => None,
    };
    Ok(LogsOptions {
        follow: args.follow,
        stdout: true,
        stderr: true,
        timestamps: args.timestamps,
        since,
        until,
        tail: Some(args.tail.clone()),
    })
}

pub async fn run(client: &Client, args: LogsArgs) -> anyhow::Result<()> {
    super::quiet_broken_pipe(run_inner(client, args).await)
}

async fn run_inner(client: &Client, args: LogsArgs) -> anyhow::Result<()> {
    let c = client.container_inspect(&args.container, false).await?;
    let opts = options(&args)?;
    let body = client.container_logs(&c.id, &opts).await?;
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    if c.config.tty {
        let mut body = body;
        while let Some(chunk) = body.next().await {
            stdout.write_all(&chunk?).await?;
            stdout.flush().await?;
        }
        return Ok(());
    }
    let mut frames = demux_stream(body);
    while let Some(frame) = frames.next().await {
        let frame = frame?;
        match frame.kind {
            StreamKind::Stdin | StreamKind::Stdout => {
                stdout.write_all(&frame.payload).await?;
                stdout.flush().await?;
            }
            StreamKind::Stderr => {
                stderr.write_all(&frame.payload).await?;
                stderr.flush().await?;
            }
            StreamKind::System => {
                return Err(DemuxError::System(
                    String::from_utf8_lossy(&frame.payload).into_owned(),
                )
                .into())
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        logs: LogsArgs,
    }

    #[test]
    fn flags_become_docker_query_values() {
        let cli = Cli::try_parse_from(["logs", "-f", "-t", "--tail", "5", "web"]).unwrap();
        let o = options(&cli.logs).unwrap();
        assert!(o.follow && o.timestamps && o.stdout && o.stderr);
        assert_eq!(o.tail.as_deref(), Some("5"));
        assert_eq!(o.since, None);

        let cli = Cli::try_parse_from(["logs", "--since", "1700000000", "--until", "10m", "web"])
            .unwrap();
        let o = options(&cli.logs).unwrap();
        assert_eq!(o.tail.as_deref(), Some("all"));
        assert_eq!(o.since.as_deref(), Some("1700000000"));
        let until: i64 = o.until.unwrap().parse().unwrap();
        let expected = chrono::Utc::now().timestamp() - 600;
        assert!((until - expected).abs() <= 2, "{until} vs {expected}");

        let cli = Cli::try_parse_from(["logs", "--since", "soon", "web"]).unwrap();
        assert!(options(&cli.logs).is_err());
    }
}
