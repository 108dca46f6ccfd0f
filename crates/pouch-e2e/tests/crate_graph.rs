//! Enforces the crate table of the architecture: which workspace crate may depend on which.
//! Reads `cargo metadata`, so a new edge fails here until the table (and the design) allow it.

use std::collections::BTreeMap;
use std::process::Command;

fn allowed() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        ("pouch-api", &[][..]),
        ("pouch-sys", &[][..]),
        ("pouch-store", &["pouch-api"][..]),
        ("pouch-quota", &["pouch-sys"][..]),
        ("pouch-snapshot", &["pouch-sys", "pouch-quota"][..]),
        (
            "pouch-network",
            &["pouch-api", "pouch-sys", "pouch-store"][..],
        ),
        (
            "pouch-volume",
            &["pouch-api", "pouch-sys", "pouch-store", "pouch-quota"][..],
        ),
        (
            "pouch-image",
            &["pouch-api", "pouch-sys", "pouch-store", "pouch-snapshot"][..],
        ),
        ("pouch-runtime", &["pouch-api", "pouch-sys"][..]),
        // the shim links only the runtime crate's protocol module
        ("pouch-shim", &["pouch-runtime", "pouch-sys"][..]),
        ("pouch-init", &[][..]),
        // our own OCI runtime (youki's libcontainer); a binary of its own
        ("pouch-runc", &[][..]),
        (
            "pouch-engine",
            &[
                "pouch-api",
                "pouch-sys",
                "pouch-store",
                "pouch-snapshot",
                "pouch-image",
                "pouch-runtime",
                "pouch-network",
                "pouch-volume",
                "pouch-quota",
            ][..],
        ),
        ("pouchd", &["pouch-engine", "pouch-api", "pouch-sys"][..]),
        ("pouch-client", &["pouch-api"][..]),
        ("pouch-cli", &["pouch-client", "pouch-api"][..]),
        // the test harness drives binaries; it may read low-level helpers to inspect results
        ("pouch-e2e", &["pouch-api", "pouch-sys"][..]),
    ])
}

#[test]
fn workspace_dependencies_follow_the_architecture() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let members: Vec<String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    let table = allowed();
    for pkg in meta["packages"].as_array().unwrap() {
        let name = pkg["name"].as_str().unwrap();
        let allowed = table
            .get(name)
            .unwrap_or_else(|| panic!("crate {name} is not in the architecture table: add it"));
        for dep in pkg["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            if dep["kind"].as_str() == Some("dev") || !members.iter().any(|m| m == dep_name) {
                continue;
            }
            assert!(
                allowed.contains(&dep_name),
                "crate {name} depends on {dep_name}, which the architecture does not allow"
            );
        }
    }
}
