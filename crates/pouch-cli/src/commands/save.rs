//! `pouch save [-o FILE] IMAGE...`: writes the daemon's tar archive to a file (through a
//! temporary file renamed into place) or to stdout when that is not a terminal.

use std::path::{Path, PathBuf};

use anyhow::Context;
use futures_util::StreamExt;
use pouch_client::{ByteStream, Client};
use tokio::io::AsyncWriteExt;

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Images to save
    #[arg(required = true)]
    pub images: Vec<String>,
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

/// Refuses to write a tar archive to a terminal, as docker does (`save`, `export`).
pub(crate) fn refuse_terminal(output: Option<&Path>) -> anyhow::Result<()> {
    if output.is_none() && super::stdout_is_terminal() {
        anyhow::bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    Ok(())
}

/// Writes an archive to `output` (through a temporary file renamed into place, so a failure
/// leaves no partial file) or to stdout.
pub(crate) async fn write_archive(
    stream: ByteStream,
    output: Option<&Path>,
    default_name: &str,
) -> anyhow::Result<()> {
    let Some(path) = output else {
        return copy(stream, &mut tokio::io::stdout()).await;
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| default_name.into());
    let tmp = dir.join(format!(".{name}.pouch-tmp.{}", std::process::id()));
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

pub async fn run(client: &Client, args: SaveArgs) -> anyhow::Result<()> {
    refuse_terminal(args.output.as_deref())?;
    let stream = client.save(&args.images).await?;
    write_archive(stream, args.output.as_deref(), "image.tar").await
}
