//! `pouch export [-o FILE] CONTAINER`: the container's filesystem as a tar archive, to a file
//! (written through a temporary file renamed into place) or to stdout when that is not a
//! terminal.

use std::path::{Path, PathBuf};

use pouch_client::Client;

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The container
    pub container: String,
}

/// Docker's check before it asks for the archive: the output's directory must exist.
fn check_output_dir(path: &Path) -> anyhow::Result<()> {
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
    Ok(())
}

pub async fn run(client: &Client, args: ExportArgs) -> anyhow::Result<()> {
    super::quiet_broken_pipe(run_inner(client, args).await)
}

async fn run_inner(client: &Client, args: ExportArgs) -> anyhow::Result<()> {
    crate::commands::save::refuse_terminal(args.output.as_deref())?;
    if let Some(path) = &args.output {
        check_output_dir(path)?;
    }
    let stream = client.container_export(&args.container).await?;
    crate::commands::save::write_archive(stream, args.output.as_deref(), "export.tar").await
}
