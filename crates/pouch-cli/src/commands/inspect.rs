//! `pouch inspect` / `pouch image inspect`: the daemon's JSON as a 4-space indented array, or
//! one line per object through a `--format` template.

use pouch_client::Client;

use super::{describe, Reported};
use crate::output::indent_json;
use crate::template::Template;

#[derive(Debug, clap::Args)]
pub struct ImageInspectArgs {
    /// Format the output using the given Go template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Images to inspect
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub common: ImageInspectArgs,
    /// Return JSON for the specified type (only "image" exists so far)
    #[arg(long = "type")]
    pub kind: Option<String>,
}

/// The output for the objects found: the JSON array, or the template rendered for each.
pub fn render(raws: &[bytes::Bytes], template: Option<&Template>) -> anyhow::Result<String> {
    match template {
        None => {
            if raws.is_empty() {
                return Ok("[]\n".into());
            }
            let mut joined = b"[".to_vec();
            for (i, raw) in raws.iter().enumerate() {
                if i > 0 {
                    joined.push(b',');
                }
                joined.extend_from_slice(raw);
            }
            joined.push(b']');
            Ok(format!("{}\n", indent_json(&joined, "    ")))
        }
        Some(t) => {
            let mut out = String::new();
            for raw in raws {
                let value: serde_json::Value = serde_json::from_slice(raw)?;
                out.push_str(&t.render(&value)?);
                out.push('\n');
            }
            Ok(out)
        }
    }
}

async fn inspect(
    client: &Client,
    args: &ImageInspectArgs,
    object_errors: bool,
) -> anyhow::Result<()> {
    let template = args.format.as_deref().map(Template::parse).transpose()?;
    let mut raws = Vec::new();
    let mut errors = Vec::new();
    for name in &args.names {
        match client.image_inspect_raw(name).await {
            Ok(raw) => raws.push(raw),
            Err(e) if object_errors && e.is_not_found() => {
                errors.push(format!("Error: No such object: {name}"))
            }
            Err(e) if !e.is_daemon_error() => return Err(e.into()),
            Err(e) => errors.push(describe(&e)),
        }
    }
    print!("{}", render(&raws, template.as_ref())?);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Reported(errors.join("\n")).into())
    }
}

pub async fn run_image(client: &Client, args: ImageInspectArgs) -> anyhow::Result<()> {
    inspect(client, &args, false).await
}

pub async fn run(client: &Client, args: InspectArgs) -> anyhow::Result<()> {
    match args.kind.as_deref() {
        None | Some("image") => inspect(client, &args.common, args.kind.is_none()).await,
        Some(other) => anyhow::bail!("unsupported --type {other:?}: only \"image\" is supported"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_array_like_docker() {
        let raws = vec![
            bytes::Bytes::from_static(br#"{"Id":"sha256:a","RepoTags":["x:1"],"Config":{}}"#),
            bytes::Bytes::from_static(br#"{"Id":"sha256:b","RepoTags":[]}"#),
        ];
        let expected = r#"[
    {
        "Id": "sha256:a",
        "RepoTags": [
            "x:1"
        ],
        "Config": {}
    },
    {
        "Id": "sha256:b",
        "RepoTags": []
    }
]
"#;
        assert_eq!(render(&raws, None).unwrap(), expected);
        assert_eq!(render(&[], None).unwrap(), "[]\n");
        let t = Template::parse("{{.Id}} {{index .RepoTags 0}}").unwrap();
        assert!(render(&raws, Some(&t)).is_err());
        let t = Template::parse("{{.Id}}").unwrap();
        assert_eq!(render(&raws, Some(&t)).unwrap(), "sha256:a\nsha256:b\n");
    }
}
