//! `pouch create [OPTIONS] IMAGE [COMMAND] [ARG...]`: creates a container and prints its id.
//! Also the creation step `run` shares: the `--pull` policy, pulling a missing image with its
//! progress on stderr ("Unable to find image 'busybox:latest' locally"), and the warnings.

use futures_util::StreamExt;
use pouch_api::container::ContainerCreateResponse;
use pouch_api::reference::Reference;
use pouch_client::Client;

use super::container_opts::{host_env, ContainerOpts, CreateRequest};
use super::StatusError;
use crate::progress::{PlainLog, ProgressError};
use crate::terminal;

#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
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

/// When to pull the image (`--pull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    Missing,
    Never,
}

impl PullPolicy {
    pub fn parse(text: &str) -> Result<PullPolicy, String> {
        match text {
            "always" => Ok(PullPolicy::Always),
            "missing" | "" => Ok(PullPolicy::Missing),
            "never" => Ok(PullPolicy::Never),
            _ => Err(format!(
                "invalid pull option: '{text}': must be one of \"always\", \"missing\" or \"never\""
            )),
        }
    }
}

/// The create request for `command` (`create` or `run`); usage errors end with status 125.
pub fn build_request(
    opts: &ContainerOpts,
    args: &[String],
    command: &str,
) -> Result<(CreateRequest, PullPolicy), StatusError> {
    let pull = PullPolicy::parse(&opts.pull).map_err(|e| StatusError::usage(command, e))?;
    let request = opts
        .build(args, &host_env, terminal::size())
        .map_err(|e| StatusError::usage(command, e))?;
    Ok((request, pull))
}

/// Pulls `image` (tag `latest` by default) showing the progress on stderr, as `docker run`
/// and `docker create` do.
pub(crate) async fn pull_image(
    client: &Client,
    reference: &Reference,
    quiet: bool,
) -> anyhow::Result<()> {
    let auth = super::registry_auth(&reference.registry)?;
    let tag = match &reference.digest {
        Some(d) => d.clone(),
        None => reference.tag_or_latest().to_string(),
    };
    let mut stream = client
        .pull(&reference.full_repo(), &tag, auth.as_ref())
        .await?;
    let mut log = PlainLog::default();
    while let Some(item) = stream.next().await {
        let m = item.map_err(ProgressError::Client)?;
        if let Some(err) = m
            .error_detail
            .as_ref()
            .map(|d| d.message.clone())
            .filter(|s| !s.is_empty())
            .or_else(|| m.error.clone())
        {
            return Err(ProgressError::Stream(err).into());
        }
        if !quiet {
            for line in log.lines(&m) {
                eprintln!("{line}");
            }
        }
    }
    Ok(())
}

/// Creates the container, pulling its image first with `--pull always`, or after a
/// "no such image" answer with `--pull missing`; prints the daemon's warnings on stderr.
pub async fn create_container(
    client: &Client,
    request: &CreateRequest,
    pull: PullPolicy,
    quiet: bool,
) -> anyhow::Result<ContainerCreateResponse> {
    let image = &request.body.config.image;
    if pull == PullPolicy::Always {
        pull_image(client, &Reference::parse(image)?, quiet).await?;
    }
    let name = request.name.as_deref();
    let created = match client.container_create(name, &request.body).await {
        Ok(c) => c,
        Err(e) if e.is_not_found() && pull == PullPolicy::Missing => {
            // Only a reference can be pulled; an id that is not found stays an error.
            let Ok(reference) = Reference::parse(image) else {
                return Err(e.into());
            };
            eprintln!("Unable to find image '{}' locally", reference.familiar());
            pull_image(client, &reference, quiet).await?;
            client.container_create(name, &request.body).await?
        }
        Err(e) => return Err(e.into()),
    };
    for warning in &created.warnings {
        eprintln!("WARNING: {warning}");
    }
    Ok(created)
}

pub async fn run(client: &Client, args: CreateArgs) -> anyhow::Result<()> {
    let (request, pull) = build_request(&args.opts, &args.args, "create")?;
    let created = create_container(client, &request, pull, args.opts.quiet).await?;
    println!("{}", created.id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policies() {
        assert_eq!(PullPolicy::parse("always"), Ok(PullPolicy::Always));
        assert_eq!(PullPolicy::parse("missing"), Ok(PullPolicy::Missing));
        assert_eq!(PullPolicy::parse("never"), Ok(PullPolicy::Never));
        assert!(PullPolicy::parse("sometimes").is_err());
    }
}
