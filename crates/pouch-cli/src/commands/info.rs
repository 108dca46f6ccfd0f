//! `pouch info`: a human summary of `GET /info`, laid out like `docker info`.

use pouch_client::Client;
use serde_json::Value;

use crate::output::bytes_size;
use crate::template::{go_format, Template};

#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// Format the output using the given Go template
    #[arg(short, long)]
    pub format: Option<String>,
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => go_format(other),
    }
}

fn int(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => go_format(other),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The registries to list as insecure: the CIDRs plus every index marked not secure.
fn insecure_registries(registry: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Value::Object(indexes)) = registry.get("IndexConfigs") {
        for (name, index) in indexes {
            if index.get("Secure") == Some(&Value::Bool(false)) {
                out.push(name.clone());
            }
        }
    }
    out.extend(strings(registry.get("InsecureRegistryCIDRs")));
    out
}

/// The `Server:` part of `pouch info` (warnings are returned separately, for stderr).
pub fn render(info: &Value) -> (String, Vec<String>) {
    let mut out = String::from("Server:\n");
    let mut line = |indent: &str, key: &str, value: String| {
        out.push_str(&format!("{indent}{key}: {value}\n"));
    };
    line(" ", "Containers", int(info, "Containers").to_string());
    line("  ", "Running", int(info, "ContainersRunning").to_string());
    line("  ", "Paused", int(info, "ContainersPaused").to_string());
    line("  ", "Stopped", int(info, "ContainersStopped").to_string());
    line(" ", "Images", int(info, "Images").to_string());
    line(" ", "Server Version", text(info, "ServerVersion"));
    line(" ", "Storage Driver", text(info, "Driver"));
    if let Some(Value::Array(pairs)) = info.get("DriverStatus") {
        for pair in pairs {
            if let Some([k, v]) = pair.as_array().map(Vec::as_slice) {
                let k = k.as_str().unwrap_or_default();
                line("  ", k, v.as_str().unwrap_or_default().to_string());
            }
        }
    }
    line(" ", "Logging Driver", text(info, "LoggingDriver"));
    line(" ", "Cgroup Driver", text(info, "CgroupDriver"));
    line(" ", "Cgroup Version", text(info, "CgroupVersion"));
    let default_runtime = text(info, "DefaultRuntime");
    if let Some(Value::Object(runtimes)) = info.get("Runtimes") {
        if !runtimes.is_empty() {
            let names: Vec<&str> = runtimes.keys().map(String::as_str).collect();
            line(" ", "Runtimes", names.join(" "));
        }
    }
    if !default_runtime.is_empty() {
        line(" ", "Default Runtime", default_runtime);
    }
    line(" ", "Kernel Version", text(info, "KernelVersion"));
    line(" ", "Operating System", text(info, "OperatingSystem"));
    line(" ", "OSType", text(info, "OSType"));
    line(" ", "Architecture", text(info, "Architecture"));
    line(" ", "CPUs", int(info, "NCPU").to_string());
    line(" ", "Total Memory", bytes_size(int(info, "MemTotal")));
    line(" ", "Name", text(info, "Name"));
    line(" ", "ID", text(info, "ID"));
    let mut root = text(info, "PouchRootDir");
    if root.is_empty() {
        root = text(info, "DockerRootDir");
    }
    line(" ", "Pouch Root Dir", root);
    line(" ", "Debug Mode", text(info, "Debug"));
    line(" ", "Experimental", text(info, "ExperimentalBuild"));
    let labels = strings(info.get("Labels"));
    if !labels.is_empty() {
        out.push_str(" Labels:\n");
        for l in labels {
            out.push_str(&format!("  {l}\n"));
        }
    }
    let registry = info.get("RegistryConfig").cloned().unwrap_or(Value::Null);
    let insecure = insecure_registries(&registry);
    if !insecure.is_empty() {
        out.push_str(" Insecure Registries:\n");
        for r in insecure {
            out.push_str(&format!("  {r}\n"));
        }
    }
    let mirrors = strings(registry.get("Mirrors"));
    if !mirrors.is_empty() {
        out.push_str(" Registry Mirrors:\n");
        for m in mirrors {
            out.push_str(&format!("  {m}\n"));
        }
    }
    let listen = strings(info.get("ListenAddresses"));
    if !listen.is_empty() {
        out.push_str(" Listen Addresses:\n");
        for l in listen {
            out.push_str(&format!("  {l}\n"));
        }
    }
    out.push_str(&format!(
        " Live Restore Enabled: {}\n",
        text(info, "LiveRestoreEnabled")
    ));
    (out, strings(info.get("Warnings")))
}

pub async fn run(client: &Client, args: InfoArgs) -> anyhow::Result<()> {
    let template = args.format.as_deref().map(Template::parse).transpose()?;
    let info = client.info_json().await;
    if let Some(t) = template {
        let info = info?;
        println!("{}", t.render(&info)?);
        return Ok(());
    }
    println!("Client:");
    println!(" Version:    {}", pouch_api::POUCH_VERSION);
    println!();
    let info = info?;
    let (text, warnings) = render(&info);
    print!("{text}");
    for w in warnings {
        eprintln!("{w}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summary_lines() {
        let info = json!({
            "Containers": 3, "ContainersRunning": 1, "ContainersPaused": 0, "ContainersStopped": 2,
            "Images": 5, "ServerVersion": "0.1.0", "Driver": "overlayfs",
            "DriverStatus": [["Backing Filesystem", "extfs"]],
            "CgroupDriver": "cgroupfs", "CgroupVersion": "1", "KernelVersion": "6.1.0",
            "OperatingSystem": "Debian GNU/Linux 12 (bookworm)", "OSType": "linux",
            "Architecture": "x86_64", "NCPU": 2, "MemTotal": 4103779328i64,
            "PouchRootDir": "/var/lib/pouch", "Debug": false, "ExperimentalBuild": false,
            "RegistryConfig": {
                "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                "IndexConfigs": {"127.0.0.1:5000": {"Name": "127.0.0.1:5000", "Secure": false},
                                 "docker.io": {"Name": "docker.io", "Secure": true}},
                "Mirrors": ["http://127.0.0.1:5000/"]
            },
            "Warnings": ["WARNING: no swap limit support"]
        });
        let (text, warnings) = render(&info);
        for expected in [
            "Server:\n Containers: 3\n  Running: 1\n  Paused: 0\n  Stopped: 2\n Images: 5\n",
            " Storage Driver: overlayfs\n  Backing Filesystem: extfs\n",
            " Cgroup Driver: cgroupfs\n Cgroup Version: 1\n",
            " Kernel Version: 6.1.0\n Operating System: Debian GNU/Linux 12 (bookworm)\n OSType: linux\n Architecture: x86_64\n CPUs: 2\n Total Memory: 3.822GiB\n",
            " Pouch Root Dir: /var/lib/pouch\n",
            " Insecure Registries:\n  127.0.0.1:5000\n  127.0.0.0/8\n Registry Mirrors:\n  http://127.0.0.1:5000/\n",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert_eq!(warnings, ["WARNING: no swap limit support"]);
    }
}
