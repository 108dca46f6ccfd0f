//! Interoperability with skopeo (containers/image): it must read what save writes, as a
//! docker-archive and as an OCI archive, and load must read what it writes in both forms.

use crate::manager::testutil;
use std::path::Path;
use std::process::Command;

const SKOPEO: &str = "/usr/bin/skopeo";

fn skopeo(args: &[&str]) -> String {
    let out = Command::new(SKOPEO)
        .args(["--insecure-policy", "--tmpdir", "/tmp"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn skopeo_reads_saved_archives_and_load_reads_skopeo_archives() {
    if !Path::new(SKOPEO).exists() {
        eprintln!("skipping: {SKOPEO} is not installed (apt-get install skopeo)");
        return;
    }
    let t = testutil::manager();
    let gz = testutil::gzip(&testutil::rootfs_tar(&[("etc/hi", "hi")]));
    let id = t
        .mgr
        .import(
            &mut gz.as_slice(),
            Some("interop:1"),
            "",
            &["CMD [\"sh\"]".into()],
        )
        .unwrap();
    let saved = t.dir.path().join("saved.tar");
    let mut out = std::fs::File::create(&saved).unwrap();
    t.mgr.save(&["interop:1".to_string()], &mut out).unwrap();
    drop(out);
    let saved_s = saved.display().to_string();

    let info: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--config",
        &format!("docker-archive:{saved_s}"),
    ]))
    .unwrap();
    assert_eq!(info["config"]["Cmd"][0], "sh");
    // As Docker and containerd write it, ref.name is the tag alone.
    let info: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", &format!("oci-archive:{saved_s}:1")])).unwrap();
    assert_eq!(info["Layers"].as_array().unwrap().len(), 1);

    for (kind, file) in [("oci-archive", "oci.tar"), ("docker-archive", "docker.tar")] {
        let dest = t.dir.path().join(file).display().to_string();
        skopeo(&[
            "copy",
            &format!("docker-archive:{saved_s}"),
            &format!("{kind}:{dest}:copied:2"),
        ]);
        let fresh = testutil::manager();
        let mut input = std::fs::File::open(&dest).unwrap();
        let names = fresh.mgr.load(&mut input, &|_| {}).unwrap();
        assert_eq!(names, vec!["copied:2".to_string()], "{kind}");
        let rec = fresh.mgr.resolve("copied:2").unwrap();
        if kind == "docker-archive" {
            assert_eq!(rec.id, id);
        }
        // (Converting to OCI rewrites the config, so the id changes; its content not.)
        let config = fresh.mgr.inspect("copied:2").unwrap().config.unwrap();
        assert_eq!(config.cmd, Some(vec!["sh".to_string()]), "{kind}");
        let dirs = fresh.mgr.rootfs_layers("copied:2").unwrap();
        assert_eq!(
            std::fs::read_to_string(dirs[0].join("etc/hi")).unwrap(),
            "hi"
        );
    }
}
