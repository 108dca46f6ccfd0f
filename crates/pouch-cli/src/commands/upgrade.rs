//! `pouch upgrade --image IMAGE [--entrypoint E] CONTAINER [COMMAND] [ARG...]`: Pouch's image
//! hot upgrade. The container keeps its id, name, addresses, ports and volumes and gets a
//! fresh root filesystem from IMAGE (pulled first when missing, with the progress on stderr as
//! `pouch run` shows it); a running container restarts on it. Prints the container's name.

use pouch_api::container::ContainerUpgradeConfig;
use pouch_api::reference::Reference;
use pouch_client::Client;

#[derive(Debug, clap::Args)]
pub struct UpgradeArgs {
    /// The new image of the container
    #[arg(long, required = true)]
    pub image: String,
    /// Overwrite the default ENTRYPOINT of the new image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// The container, then the new command and its arguments
    #[arg(
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        value_name = "CONTAINER [COMMAND] [ARG...]"
    )]
    pub args: Vec<String>,
}

impl UpgradeArgs {
    /// The request body: an empty `--entrypoint` clears the image's, as `run` does.
    fn config(&self) -> ContainerUpgradeConfig {
        let cmd = &self.args[1..];
        ContainerUpgradeConfig {
            image: self.image.clone(),
            cmd: (!cmd.is_empty()).then(|| cmd.to_vec()),
            entrypoint: self.entrypoint.as_ref().map(|e| vec![e.clone()]),
        }
    }
}

pub async fn run(client: &Client, args: UpgradeArgs) -> anyhow::Result<()> {
    let name = &args.args[0];
    match client.image_inspect(&args.image).await {
        Ok(_) => {}
        // Only a reference can be pulled; an id that is not found stays an error.
        Err(e) if e.is_not_found() => match Reference::parse(&args.image) {
            Ok(reference) => {
                eprintln!("Unable to find image '{}' locally", reference.familiar());
                super::create::pull_image(client, &reference, false).await?
            }
            Err(_) => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
    }
    client.container_upgrade(name, &args.config()).await?;
    println!("{name}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<UpgradeArgs, clap::Error> {
        crate::commands::parse_args("upgrade", argv)
    }

    #[test]
    fn flags_then_container_and_command() {
        let a = parse(&["--image", "app:2", "web", "sh", "-c", "echo --image"]).unwrap();
        let c = a.config();
        assert_eq!(c.image, "app:2");
        assert_eq!(a.args[0], "web");
        assert_eq!(c.cmd.unwrap(), ["sh", "-c", "echo --image"]);
        assert!(c.entrypoint.is_none());

        let a = parse(&["--image", "app:2", "--entrypoint", "/bin/env", "web"]).unwrap();
        let c = a.config();
        assert_eq!(c.entrypoint.unwrap(), ["/bin/env"]);
        assert!(c.cmd.is_none());
        let a = parse(&["--image=app:2", "--entrypoint=", "web"]).unwrap();
        assert_eq!(a.config().entrypoint.unwrap(), [""]);
    }

    #[test]
    fn image_and_container_are_required() {
        assert!(parse(&["web"]).is_err());
        assert!(parse(&["--image", "app:2"]).is_err());
    }
}
