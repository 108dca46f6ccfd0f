//! `pouch login [-u USER] [-p PASS | --password-stdin] [SERVER]`: checks the credentials with
//! the daemon (`POST /auth`), then stores them in `~/.pouch/config.json`. Missing values are
//! prompted for on a terminal (the password without echo).

use std::io::{self, BufRead, Read, Write};

use pouch_api::system::AuthConfig;
use pouch_client::Client;
use rustix::termios::{self, LocalModes, OptionalActions};

use crate::credentials::{self, CredentialStore};

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// Registry server (default: Docker Hub)
    pub server: Option<String>,
}

fn prompt_line(prompt: &str) -> anyhow::Result<String> {
    print!("{prompt}");
    io::stdout().flush()?;
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads a line from the terminal with echo turned off.
fn prompt_secret(prompt: &str) -> anyhow::Result<String> {
    let stdin = io::stdin();
    let saved = termios::tcgetattr(&stdin)?;
    let mut quiet = saved.clone();
    quiet.local_modes -= LocalModes::ECHO;
    termios::tcsetattr(&stdin, OptionalActions::Now, &quiet)?;
    let line = prompt_line(prompt);
    termios::tcsetattr(&stdin, OptionalActions::Now, &saved)?;
    println!();
    line
}

pub async fn run(client: &Client, args: LoginArgs) -> anyhow::Result<()> {
    let key = credentials::server_key(args.server.as_deref().unwrap_or(""));
    let terminal = super::stdin_is_terminal();
    let mut username = args.username.clone().filter(|u| !u.trim().is_empty());
    let mut password = args.password.clone();
    if password.is_some() {
        if args.password_stdin {
            anyhow::bail!("--password and --password-stdin are mutually exclusive");
        }
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    if args.password_stdin {
        if username.is_none() {
            anyhow::bail!("must provide --username with --password-stdin");
        }
        let mut text = String::new();
        io::stdin().read_to_string(&mut text)?;
        password = Some(text.trim_end_matches(['\r', '\n']).to_string());
    }
    if username.is_none() || password.is_none() {
        if !terminal {
            anyhow::bail!("cannot perform an interactive login from a non-TTY device");
        }
        if username.is_none() {
            let u = prompt_line("Username: ")?;
            if u.trim().is_empty() {
                anyhow::bail!("username is required");
            }
            username = Some(u.trim().to_string());
        }
        if password.is_none() {
            password = Some(prompt_secret("Password: ")?);
        }
    }
    let username = username.unwrap_or_default();
    let password = password.unwrap_or_default();
    if password.is_empty() {
        anyhow::bail!("password is required");
    }
    let config = AuthConfig {
        username: username.clone(),
        password: password.clone(),
        serveraddress: key.clone(),
        ..Default::default()
    };
    let response = client.auth(&config).await?;
    let path = credentials::default_path()?;
    let mut store = CredentialStore::load(&path)?;
    store.store(&key, &username, &password, &response.identity_token);
    store.save()?;
    println!("Login Succeeded");
    Ok(())
}
