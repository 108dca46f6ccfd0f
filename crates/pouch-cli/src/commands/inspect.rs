//! `pouch inspect` / `pouch image inspect` / `pouch container inspect`: the daemon's JSON as a
//! 4-space indented array, or one line per object through a `--format` template. Without
//! `--type`, each name is looked up as a container, an image, a network, then a volume
//! (docker's order);
//! a name that is neither is `Error: No such object: NAME`.

use std::future::Future;

use bytes::Bytes;
use pouch_client::{Client, ClientError};

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
pub struct ContainerInspectArgs {
    /// Format the output using the given Go template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
    /// Containers to inspect
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Format the output using the given Go template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short, long)]
    pub size: bool,
    /// Return JSON for the specified type: container, image, network or volume
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Names or IDs of containers or images
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// The output for the objects found: the JSON array, or the template rendered for each.
pub fn render(raws: &[Bytes], template: Option<&Template>) -> anyhow::Result<String> {
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

/// What kind of object a name is looked up as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Container,
    Image,
    Network,
    Volume,
    /// Container, then image, network, volume.
    Any,
}

/// A container's inspect JSON, fields in Docker's order (the typed answer re-serialized:
/// untyped JSON would come back with its keys sorted).
async fn container_raw(client: &Client, name: &str, size: bool) -> Result<Bytes, ClientError> {
    let c = client.container_inspect(name, size).await?;
    serde_json::to_vec(&c)
        .map(Bytes::from)
        .map_err(|source| ClientError::Decode {
            what: "container inspect".into(),
            source,
        })
}

async fn lookup(client: &Client, name: &str, kind: Kind, size: bool) -> Result<Bytes, ClientError> {
    match kind {
        Kind::Container => container_raw(client, name, size).await,
        Kind::Image => client.image_inspect_raw(name).await,
        Kind::Network => client.network_inspect_raw(name).await,
        Kind::Volume => client.volume_inspect_raw(name).await,
        Kind::Any => {
            // Docker's order: container, image, network, volume.
            match container_raw(client, name, size).await {
                Err(e) if e.is_not_found() => {}
                other => return other,
            }
            match client.image_inspect_raw(name).await {
                Err(e) if e.is_not_found() => {}
                other => return other,
            }
            match client.network_inspect_raw(name).await {
                Err(e) if e.is_not_found() => {}
                other => return other,
            }
            client.volume_inspect_raw(name).await
        }
    }
}

/// Looks each name up with `inspect_raw`, prints what was found ([`render`] with `format`),
/// then fails with one line for each name the daemon refused (`Error: No such object: NAME`
/// for one not found when `no_such_object`, else docker's `Error response from daemon`).
pub async fn print_each<'a, F, Fut>(
    names: &'a [String],
    format: Option<&str>,
    no_such_object: bool,
    mut inspect_raw: F,
) -> anyhow::Result<()>
where
    F: FnMut(&'a str) -> Fut,
    Fut: Future<Output = Result<Bytes, ClientError>>,
{
    let template = format.map(Template::parse).transpose()?;
    let mut raws = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        match inspect_raw(name).await {
            Ok(raw) => raws.push(raw),
            Err(e) if no_such_object && e.is_not_found() => {
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

async fn inspect(
    client: &Client,
    names: &[String],
    format: Option<&str>,
    kind: Kind,
    size: bool,
) -> anyhow::Result<()> {
    print_each(names, format, kind == Kind::Any, |name| {
        lookup(client, name, kind, size)
    })
    .await
}

pub async fn run_image(client: &Client, args: ImageInspectArgs) -> anyhow::Result<()> {
    inspect(
        client,
        &args.names,
        args.format.as_deref(),
        Kind::Image,
        false,
    )
    .await
}

pub async fn run_container(client: &Client, args: ContainerInspectArgs) -> anyhow::Result<()> {
    inspect(
        client,
        &args.names,
        args.format.as_deref(),
        Kind::Container,
        args.size,
    )
    .await
}

pub async fn run(client: &Client, args: InspectArgs) -> anyhow::Result<()> {
    let kind = match args.kind.as_deref() {
        None | Some("") => Kind::Any,
        Some("container") => Kind::Container,
        Some("image") => Kind::Image,
        Some("network") => Kind::Network,
        Some("volume") => Kind::Volume,
        Some(other) => anyhow::bail!(
            "{other:?} is not a valid value for --type: use container, image, network or volume"
        ),
    };
    inspect(client, &args.names, args.format.as_deref(), kind, args.size).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::container::ContainerInspect;

    #[test]
    fn json_array_like_docker() {
        let raws = vec![
            Bytes::from_static(br#"{"Id":"sha256:a","RepoTags":["x:1"],"Config":{}}"#),
            Bytes::from_static(br#"{"Id":"sha256:b","RepoTags":[]}"#),
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

    #[test]
    fn container_json_keeps_dockers_field_order() {
        let c = ContainerInspect {
            id: "abc".into(),
            name: "/web".into(),
            ..Default::default()
        };
        let raw = Bytes::from(serde_json::to_vec(&c).unwrap());
        let text = render(std::slice::from_ref(&raw), None).unwrap();
        let id = text.find("\"Id\"").unwrap();
        let created = text.find("\"Created\"").unwrap();
        let state = text.find("\"State\"").unwrap();
        assert!(id < created && created < state, "{text}");
        let t = Template::parse("{{.Name}} {{.State.Running}}").unwrap();
        assert_eq!(render(&[raw], Some(&t)).unwrap(), "/web false\n");
    }
}
