//! `pouch exec [-d -i -t -u -e --env-file -w --privileged --detach-keys] CONTAINER CMD...`:
//! creates an exec and either starts it detached or pumps its streams, then exits with its
//! exit code (read with `GET /exec/{id}/json` after the output ended).

use std::path::PathBuf;

use pouch_api::container::{ExecConfig, ExecStartConfig};
use pouch_client::Client;

use super::container_opts::{host_env, kv, parse};
use super::streamer::{self, StreamEnd, StreamOptions};
use super::{ExitStatus, StatusError};
use crate::terminal::{self, TtyTarget};

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// Set environment variables
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long)]
    pub env_file: Vec<PathBuf>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// The container, then the command and its arguments
    #[arg(
        required = true,
        num_args = 2..,
        trailing_var_arg = true,
        value_name = "CONTAINER COMMAND [ARG...]"
    )]
    pub args: Vec<String>,
}

impl ExecArgs {
    /// The exec create body (docker's `parseExec`).
    pub fn config(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
        console: Option<(u16, u16)>,
    ) -> Result<ExecConfig, StatusError> {
        let usage = |e: String| StatusError::usage("exec", e);
        let mut env = Vec::new();
        for file in &self.env_file {
            env.extend(kv::parse_kv_file(file, lookup).map_err(|e| usage(e.to_string()))?);
        }
        for e in &self.env {
            env.push(kv::validate_env(e, lookup).map_err(|reason| {
                usage(format!(
                    "invalid argument \"{e}\" for \"-e, --env\" flag: {reason}"
                ))
            })?);
        }
        if let Some(keys) = &self.detach_keys {
            parse::detach_keys_to_bytes(keys).map_err(|reason| {
                usage(format!(
                    "invalid argument \"{keys}\" for \"--detach-keys\" flag: {reason}"
                ))
            })?;
        }
        let attach = !self.detach;
        Ok(ExecConfig {
            user: self.user.clone().unwrap_or_default(),
            privileged: self.privileged,
            tty: self.tty,
            console_size: match console {
                Some((rows, cols)) if self.tty => Some([u64::from(rows), u64::from(cols)]),
                _ => None,
            },
            attach_stdin: attach && self.interactive,
            attach_stdout: attach,
            attach_stderr: attach,
            detach: self.detach,
            detach_keys: self.detach_keys.clone().unwrap_or_default(),
            env: (!env.is_empty()).then_some(env),
            working_dir: self.workdir.clone().unwrap_or_default(),
            cmd: Some(self.args[1..].to_vec()),
        })
    }
}

pub async fn run(client: &Client, args: ExecArgs) -> anyhow::Result<()> {
    let container = &args.args[0];
    let config = args.config(&host_env, terminal::size())?;
    // "No such container" takes precedence over the tty check, as in docker.
    client.container_inspect(container, false).await?;
    if !config.detach && config.tty && config.attach_stdin && !super::stdin_is_terminal() {
        anyhow::bail!("the input device is not a TTY");
    }
    let exec_id = client.exec_create(container, &config).await?;
    if exec_id.is_empty() {
        anyhow::bail!("exec ID empty");
    }
    let start = ExecStartConfig {
        detach: config.detach,
        tty: config.tty,
        console_size: config.console_size,
    };
    let Some(conn) = client.exec_start(&exec_id, &start).await? else {
        return Ok(());
    };
    let stream_options = StreamOptions {
        stdin: config.attach_stdin,
        tty: config.tty,
        detach_keys: args.detach_keys.clone(),
    };
    let resize = (config.tty && super::stdin_is_terminal())
        .then(|| terminal::monitor_size(client, TtyTarget::Exec(exec_id.clone())));
    let end = streamer::stream(conn, &stream_options).await;
    if let Some(r) = resize {
        r.abort();
    }
    if end? == StreamEnd::Detached {
        anyhow::bail!("read escape sequence");
    }
    let inspect = match client.exec_inspect(&exec_id).await {
        Ok(i) => i,
        // The daemon is gone: docker reports status -1 (255).
        Err(e) if !e.is_daemon_error() => return Err(ExitStatus(-1).into()),
        Err(e) => return Err(e.into()),
    };
    match inspect.exit_code.unwrap_or(0) {
        0 => Ok(()),
        code => Err(ExitStatus(code as i32).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        args: ExecArgs,
    }

    fn config(argv: &[&str]) -> ExecConfig {
        let mut full = vec!["exec"];
        full.extend_from_slice(argv);
        Harness::try_parse_from(full)
            .unwrap()
            .args
            .config(&|k| (k == "H").then(|| "v".into()), Some((30, 100)))
            .unwrap()
    }

    #[test]
    fn interactive_tty_exec_body_like_docker() {
        let c = config(&["-it", "web", "sh"]);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["Tty"], true);
        assert_eq!(v["AttachStdin"], true);
        assert_eq!(v["AttachStdout"], true);
        assert_eq!(v["AttachStderr"], true);
        assert_eq!(v["Detach"], false);
        assert_eq!(v["ConsoleSize"], serde_json::json!([30, 100]));
        assert_eq!(v["Cmd"], serde_json::json!(["sh"]));
        assert_eq!(v["Env"], serde_json::Value::Null);
    }

    #[test]
    fn detached_exec_attaches_nothing() {
        let c = config(&["-d", "-e", "A=1", "-e", "H", "-u", "1:2", "web", "ls", "-l"]);
        assert!(c.detach && !c.attach_stdin && !c.attach_stdout && !c.attach_stderr);
        assert_eq!(c.env.unwrap(), ["A=1", "H=v"]);
        assert_eq!(c.user, "1:2");
        assert_eq!(c.cmd.unwrap(), ["ls", "-l"]);
        assert!(c.console_size.is_none());
    }

    #[test]
    fn needs_a_command() {
        assert!(Harness::try_parse_from(["exec", "web"]).is_err());
    }
}
