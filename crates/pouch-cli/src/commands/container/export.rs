//! `pouch export [-o FILE] CONTAINER`: the container's filesystem as a tar archive, to a file
//! (written through a temporary file renamed into place) or to stdout when that is not a
//! terminal.

use std::path::{Path, PathBuf};

use anyhow::Context;
use futures_util::StreamExt;
use pouch_client::{ByteStream, Client};
use tokio::io::AsyncWriteExt;

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The container
    pub container: String,
}

async fn copy<W: tokio::io::AsyncWrite + Unpin>(
    mut stream: ByteStream,
    out: &mut W,
) -> anyhow::Result<()> {
    while let Some(chunk) = stream.next().await {
        out.write_all(&chunk?).await?;
    }
    out.flush().await?;
    Ok(())
}

async fn export_to_file(stream: ByteStream, path: &Path) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        anyhow::bail!(
            "failed to export container: invalid output path: directory {:?} does not exist",
            dir.display().to_string()
        );
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "export.tar".into());
    let tmp = dir.join(format!(".{name}.pouch-export.{}", std::process::id()));
    let result = async {
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        copy(stream, &mut file).await?;
        file.sync_all().await?;
        tokio::fs::rename(&tmp, path)
            .await
            .with_context(|| format!("cannot write {}", path.display()))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

pub async fn run(client: &Client, args: ExportArgs) -> anyhow::Result<()> {
    super::quiet_broken_pipe(run_inner(client, args).await)
}

async fn run_inner(client: &Client, args: ExportArgs) -> anyhow::Result<()> {
    if args.output.is_none() && crate::commands::stdout_is_terminal() {
        anyhow::bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    let stream = client.container_export(&args.container).await?;
    match &args.output {
        Some(path) => export_to_file(stream, path).await,
        None => copy(stream, &mut tokio::io::stdout()).await,
    }
}
