//! `pouch volume create [-d DRIVER] [-o KEY=VALUE]... [--label KEY=VALUE]... [NAME]`: creates
//! a volume (or finds the same-named one) and prints its name.

use pouch_api::volume::VolumeCreateRequest;
use pouch_client::Client;

use crate::commands::container_opts::kv::{kv_map, validate_label};

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(long, value_parser = validate_label)]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    /// Specify volume name
    #[arg(long, hide = true)]
    pub name: Option<String>,
    /// The volume's name (generated when not given)
    #[arg(value_name = "VOLUME")]
    pub volume: Option<String>,
}

/// The create body from the flags, or the error docker gives for a name given twice.
pub fn request(args: &CreateArgs) -> anyhow::Result<VolumeCreateRequest> {
    let name = match (&args.name, &args.volume) {
        (Some(_), Some(_)) => anyhow::bail!(
            "conflicting options: cannot specify a volume-name through both --name and as a \
             positional arg"
        ),
        (Some(n), None) | (None, Some(n)) => n.clone(),
        (None, None) => String::new(),
    };
    Ok(VolumeCreateRequest {
        driver: args.driver.clone(),
        driver_opts: kv_map(&args.opt),
        labels: kv_map(&args.label),
        name,
    })
}

pub async fn run(client: &Client, args: CreateArgs) -> anyhow::Result<()> {
    let req = request(&args)?;
    let volume = client.volume_create(&req).await?;
    println!("{}", volume.name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::parse_args;

    fn parse(argv: &[&str]) -> Result<CreateArgs, clap::Error> {
        parse_args("create", argv)
    }

    #[test]
    fn body_like_the_docker_cli() {
        let a = parse(&["--label", "a=b", "myvol"]).unwrap();
        assert_eq!(
            serde_json::to_string(&request(&a).unwrap()).unwrap(),
            r#"{"Driver":"local","Labels":{"a":"b"},"Name":"myvol"}"#
        );
        let a = parse(&[
            "-d",
            "tmpfs",
            "-o",
            "size=10m",
            "-o",
            "mode=1777",
            "--label",
            "k",
        ])
        .unwrap();
        let req = request(&a).unwrap();
        assert_eq!(req.driver, "tmpfs");
        assert_eq!(req.driver_opts["size"], "10m");
        assert_eq!(req.driver_opts["mode"], "1777");
        assert_eq!(req.labels["k"], "");
        assert_eq!(req.name, "");
        let a = parse(&["--opt", "o=uid=1000,gid=1000", "--name", "v2"]).unwrap();
        let req = request(&a).unwrap();
        assert_eq!(req.driver_opts["o"], "uid=1000,gid=1000");
        assert_eq!(req.name, "v2");
    }

    #[test]
    fn name_twice_or_bad_label_is_an_error() {
        let a = parse(&["--name", "a", "b"]).unwrap();
        let e = request(&a).unwrap_err().to_string();
        assert!(e.starts_with("conflicting options"), "{e}");
        assert!(parse(&["--label", "=x"]).is_err());
        assert!(parse(&["a", "b"]).is_err());
    }
}
