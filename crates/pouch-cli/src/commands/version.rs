//! `pouch version`: client and server versions laid out like `docker version`.

use pouch_client::Client;
use serde_json::{json, Value};

use crate::template::{go_format, Template};

#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    /// Format the output using the given Go template
    #[arg(short, long)]
    pub format: Option<String>,
}

/// Go's GOARCH name for the running architecture.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn client_json() -> Value {
    json!({
        "Version": pouch_api::POUCH_VERSION,
        "ApiVersion": pouch_api::API_VERSION,
        "Os": std::env::consts::OS,
        "Arch": go_arch(),
    })
}

/// `Label:` padded so that values start in column 20, as docker aligns them.
fn kv(indent: &str, key: &str, value: &str) -> String {
    let label = format!("{key}:");
    let width = 20usize.saturating_sub(indent.len());
    format!("{indent}{label:<width$}{value}\n")
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => go_format(other),
    }
}

pub fn render_client(client: &Value) -> String {
    let mut out = String::from("Client:\n");
    out += &kv(" ", "Version", &text(client, "Version"));
    out += &kv(" ", "API version", &text(client, "ApiVersion"));
    out += &kv(
        " ",
        "OS/Arch",
        &format!("{}/{}", text(client, "Os"), text(client, "Arch")),
    );
    out
}

pub fn render_server(server: &Value) -> String {
    let platform = server
        .get("Platform")
        .map(|p| text(p, "Name"))
        .unwrap_or_default();
    let mut out = if platform.is_empty() {
        "Server:\n".to_string()
    } else {
        format!("Server: {platform}\n")
    };
    out += " Engine:\n";
    out += &kv("  ", "Version", &text(server, "Version"));
    let min = text(server, "MinAPIVersion");
    let api = text(server, "ApiVersion");
    let api = if min.is_empty() {
        api
    } else {
        format!("{api} (minimum version {min})")
    };
    out += &kv("  ", "API version", &api);
    for (key, label) in [
        ("GoVersion", "Go version"),
        ("GitCommit", "Git commit"),
        ("BuildTime", "Built"),
    ] {
        let v = text(server, key);
        if !v.is_empty() {
            out += &kv("  ", label, &v);
        }
    }
    out += &kv(
        "  ",
        "OS/Arch",
        &format!("{}/{}", text(server, "Os"), text(server, "Arch")),
    );
    out += &kv("  ", "Experimental", &text(server, "Experimental"));
    let kernel = text(server, "KernelVersion");
    if !kernel.is_empty() {
        out += &kv("  ", "Kernel Version", &kernel);
    }
    if let Some(Value::Array(components)) = server.get("Components") {
        for c in components {
            let name = text(c, "Name");
            if name.is_empty() || name == "Engine" || name.ends_with(" Engine") {
                continue;
            }
            out += &format!(" {name}:\n");
            out += &kv("  ", "Version", &text(c, "Version"));
            if let Some(Value::Object(details)) = c.get("Details") {
                let mut keys: Vec<&String> = details.keys().collect();
                keys.sort();
                for k in keys {
                    out += &kv("  ", k, &text(&Value::Object(details.clone()), k));
                }
            }
        }
    }
    out
}

pub async fn run(client: &Client, args: VersionArgs) -> anyhow::Result<()> {
    let template = args.format.as_deref().map(Template::parse).transpose()?;
    let client_info = client_json();
    let server = client.version().await;
    let server_json = match &server {
        Ok(v) => serde_json::to_value(v)?,
        Err(_) => Value::Null,
    };
    match template {
        Some(t) => {
            let data = json!({"Client": client_info, "Server": server_json});
            println!("{}", t.render(&data)?);
        }
        None => {
            print!("{}", render_client(&client_info));
            if server.is_ok() {
                print!("\n{}", render_server(&server_json));
            }
        }
    }
    server.map(|_| ()).map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_like_docker() {
        let c = json!({"Version": "0.1.0", "ApiVersion": "1.44", "Os": "linux", "Arch": "amd64"});
        assert_eq!(
            render_client(&c),
            "Client:\n Version:           0.1.0\n API version:       1.44\n OS/Arch:           linux/amd64\n"
        );
        let s = json!({
            "Platform": {"Name": "Pouch"},
            "Version": "0.1.0", "ApiVersion": "1.44", "MinAPIVersion": "1.24",
            "GitCommit": "", "GoVersion": "", "Os": "linux", "Arch": "amd64",
            "KernelVersion": "6.1.0", "Experimental": false,
            "Components": [
                {"Name": "Engine", "Version": "0.1.0"},
                {"Name": "runc", "Version": "1.1.12", "Details": {"GitCommit": "abc"}}
            ]
        });
        let text = render_server(&s);
        assert!(text.starts_with("Server: Pouch\n Engine:\n  Version:          0.1.0\n"));
        assert!(text.contains("  API version:      1.44 (minimum version 1.24)\n"));
        assert!(!text.contains("Git commit"));
        assert!(text.contains("  Experimental:     false\n  Kernel Version:   6.1.0\n"));
        assert!(text.ends_with(" runc:\n  Version:          1.1.12\n  GitCommit:        abc\n"));
    }
}
