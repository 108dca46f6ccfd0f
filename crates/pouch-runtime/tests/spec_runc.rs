//! Root test: a spec from `spec::generate` for a busybox rootfs runs under the real runc, with
//! Docker's default capabilities and the default seccomp filter in force. Skips (with the
//! reason) unless run as root with /usr/sbin/runc and /bin/busybox present.

use std::path::Path;
use std::process::Command;

use pouch_api::container::{ContainerConfig, DeviceMapping, HostConfig, Resources, Ulimit};
use pouch_runtime::spec::{generate, NetNs, SpecInput};

const RUNC: &str = "/usr/sbin/runc";
const BUSYBOX: &str = "/bin/busybox";

fn skip_reason() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("needs root".into());
    }
    for p in [RUNC, BUSYBOX] {
        if !Path::new(p).exists() {
            return Some(format!("needs {p}"));
        }
    }
    None
}

/// A bundle with a busybox rootfs and the engine's files.
struct Bundle {
    dir: tempfile::TempDir,
}

impl Bundle {
    fn new() -> Bundle {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("bundle/rootfs");
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        std::fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap();
        for applet in ["sh", "grep", "unshare", "echo", "id", "ls", "touch", "cat"] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
        for f in ["hostname", "hosts", "resolv.conf"] {
            std::fs::write(dir.path().join("bundle").join(f), "spec-test\n").unwrap();
        }
        Bundle { dir }
    }

    /// Generates the spec, runs it with `runc run` and returns its stdout.
    fn run(&self, name: &str, script: &str, host: &HostConfig) -> String {
        let bundle = self.dir.path().join("bundle");
        let id = format!("pouch-spec-{name}-{}", std::process::id());
        let config = ContainerConfig {
            hostname: "spec-test".into(),
            cmd: Some(vec!["sh".into(), "-c".into(), script.into()]),
            ..Default::default()
        };
        let spec = generate(&SpecInput {
            id: &id,
            config: &config,
            host,
            mounts: &[],
            rootfs: &bundle.join("rootfs"),
            hostname_file: &bundle.join("hostname"),
            hosts_file: &bundle.join("hosts"),
            resolv_file: &bundle.join("resolv.conf"),
            init_path: None,
            cgroups_path: format!("/{id}"),
            netns: NetNs::None,
        })
        .unwrap();
        std::fs::write(
            bundle.join("config.json"),
            serde_json::to_vec_pretty(&spec).unwrap(),
        )
        .unwrap();
        let out = Command::new(RUNC)
            .arg("--root")
            .arg(self.dir.path().join("runc-root"))
            .arg("run")
            .arg("--bundle")
            .arg(&bundle)
            .arg(&id)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "runc run failed: {}\nstdout: {stdout}\nstderr: {stderr}",
            out.status
        );
        stdout
    }
}

#[test]
fn spec_runs_under_runc_with_docker_caps_and_seccomp() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping spec_runs_under_runc_with_docker_caps_and_seccomp: {why}");
        return;
    }
    let out = Bundle::new().run(
        "default",
        "grep -E '^(CapEff|Seccomp):' /proc/self/status; \
         unshare -m echo unshared 2>/dev/null || echo unshare-blocked",
        &HostConfig::default(),
    );
    assert!(out.contains("CapEff:\t00000000a80425fb"), "stdout: {out}");
    assert!(out.contains("Seccomp:\t2"), "stdout: {out}");
    assert!(out.contains("unshare-blocked"), "stdout: {out}");
}

#[test]
fn spec_runs_under_runc_with_options() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping spec_runs_under_runc_with_options: {why}");
        return;
    }
    let host = HostConfig {
        readonly_rootfs: true,
        tmpfs: [("/run".to_string(), "size=1m".to_string())].into(),
        cap_add: Some(vec!["sys_admin".into()]),
        cap_drop: Some(vec!["CAP_NET_RAW".into()]),
        resources: Resources {
            memory: 64 << 20,
            pids_limit: Some(50),
            devices: vec![DeviceMapping {
                path_on_host: "/dev/null".into(),
                path_in_container: "/dev/mynull".into(),
                cgroup_permissions: "rwm".into(),
            }],
            ulimits: vec![Ulimit {
                name: "nofile".into(),
                soft: 321,
                hard: 654,
            }],
            ..Default::default()
        },
        ..Default::default()
    };
    let out = Bundle::new().run(
        "options",
        "ulimit -n; echo hi > /dev/mynull && echo dev-ok; \
         touch /run/x && echo tmpfs-ok; touch /x 2>/dev/null || echo ro-ok; \
         grep CapEff /proc/self/status; unshare -m echo unshared; \
         cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes",
        &host,
    );
    for want in [
        "321\n", "dev-ok", "tmpfs-ok", "ro-ok", "unshared", "50\n", "67108864",
    ] {
        assert!(out.contains(want), "want {want:?} in: {out}");
    }
    // The default set minus NET_RAW (13) plus SYS_ADMIN (21).
    let want = (0xa80425fbu64 & !(1 << 13)) | (1 << 21);
    assert!(
        out.contains(&format!("CapEff:\t{want:016x}")),
        "stdout: {out}"
    );
}
