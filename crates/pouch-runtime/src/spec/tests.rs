//! Unit tests of `generate` and `exec_process` against a small fake rootfs.

use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, LinuxSeccompAction, Mount, PosixRlimitType};
use pouch_api::container::{DeviceMapping, MountPoint, Resources, Ulimit};

use super::seccomp::tests::action_for;
use super::user::tests::fake_rootfs;
use super::*;

pub(super) struct Fixture {
    pub(super) root: tempfile::TempDir,
    files: tempfile::TempDir,
    /// The container's resolved mounts.
    pub(super) mounts: Vec<MountPoint>,
}

impl Fixture {
    pub(super) fn new() -> Fixture {
        let files = tempfile::tempdir().unwrap();
        for f in ["hostname", "hosts", "resolv.conf"] {
            std::fs::write(files.path().join(f), "x\n").unwrap();
        }
        Fixture {
            root: fake_rootfs(),
            files,
            mounts: Vec::new(),
        }
    }

    pub(super) fn generate(
        &self,
        config: &ContainerConfig,
        host: &HostConfig,
    ) -> Result<Spec, SpecError> {
        self.generate_with(config, host, None, NetNs::New)
    }

    fn generate_with(
        &self,
        config: &ContainerConfig,
        host: &HostConfig,
        init: Option<&Path>,
        netns: NetNs,
    ) -> Result<Spec, SpecError> {
        let f = self.files.path();
        generate(&SpecInput {
            id: "abc123",
            config,
            host,
            mounts: &self.mounts,
            rootfs: self.root.path(),
            hostname_file: &f.join("hostname"),
            hosts_file: &f.join("hosts"),
            resolv_file: &f.join("resolv.conf"),
            init_path: init,
            cgroups_path: "/pouch/abc123".to_string(),
            netns,
        })
    }
}

pub(super) fn sh() -> ContainerConfig {
    ContainerConfig {
        hostname: "abc123".into(),
        cmd: Some(vec!["sh".into()]),
        env: Some(vec!["FOO=bar".into(), "PATH=/bin".into()]),
        ..Default::default()
    }
}

fn find_mount<'a>(spec: &'a Spec, dest: &str) -> Option<&'a Mount> {
    spec.mounts()
        .iter()
        .flatten()
        .find(|m| m.destination() == Path::new(dest))
}

fn opts(m: &Mount) -> Vec<String> {
    m.options().clone().unwrap_or_default()
}

fn ns_types(spec: &Spec) -> Vec<LinuxNamespaceType> {
    let linux = spec.linux().as_ref().unwrap();
    linux
        .namespaces()
        .iter()
        .flatten()
        .map(|n| n.typ())
        .collect()
}

#[test]
fn spec_default_busybox_sh() {
    let fx = Fixture::new();
    let spec = fx.generate(&sh(), &HostConfig::default()).unwrap();
    let p = spec.process().as_ref().unwrap();
    assert_eq!(p.args().as_deref().unwrap(), &["sh".to_string()]);
    assert_eq!(
        p.env().as_deref().unwrap(),
        &[
            "PATH=/bin".to_string(),
            "HOSTNAME=abc123".into(),
            "FOO=bar".into()
        ]
    );
    assert_eq!(p.cwd(), Path::new("/"));
    assert_eq!(p.terminal(), Some(false));
    assert_eq!(p.user().uid(), 0);
    assert_eq!(p.user().additional_gids().as_deref(), Some(&[10][..]));
    assert_eq!(p.no_new_privileges(), None);
    let caps = p.capabilities().as_ref().unwrap();
    assert_eq!(caps.bounding().as_ref().unwrap().len(), 14);
    assert_eq!(caps.effective(), caps.bounding());
    assert_eq!(caps.permitted(), caps.bounding());
    assert!(caps.inheritable().as_ref().unwrap().is_empty());
    assert_eq!(caps::CapSet::from_oci(caps).mask(), 0xa80425fb);

    assert_eq!(spec.hostname().as_deref(), Some("abc123"));
    let root = spec.root().as_ref().unwrap();
    assert_eq!(root.path(), fx.root.path());
    assert_eq!(root.readonly(), Some(false));

    let linux = spec.linux().as_ref().unwrap();
    assert_eq!(
        linux.masked_paths().as_ref().unwrap().len(),
        MASKED_PATHS.len()
    );
    assert!(linux
        .masked_paths()
        .as_ref()
        .unwrap()
        .contains(&"/proc/kcore".to_string()));
    assert_eq!(linux.readonly_paths().as_ref().unwrap().len(), 5);
    assert_eq!(
        linux.cgroups_path().as_deref(),
        Some(Path::new("/pouch/abc123"))
    );
    let ns = ns_types(&spec);
    for t in [
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
    ] {
        assert!(ns.contains(&t), "{t:?}");
    }
    assert_eq!(ns.contains(&LinuxNamespaceType::Cgroup), host::cgroup_v2());

    let sec = linux
        .seccomp()
        .as_ref()
        .expect("the default profile applies");
    assert_eq!(
        action_for(sec, "read", None),
        LinuxSeccompAction::ScmpActAllow
    );
    for blocked in ["unshare", "mount", "keyctl"] {
        assert_eq!(
            action_for(sec, blocked, None),
            LinuxSeccompAction::ScmpActErrno
        );
    }
    let rules = linux
        .resources()
        .as_ref()
        .unwrap()
        .devices()
        .as_ref()
        .unwrap();
    assert_eq!(rules.len(), 13);
    assert!(linux.devices().as_ref().unwrap().is_empty());

    for dest in [
        "/proc",
        "/dev",
        "/dev/pts",
        "/sys",
        "/sys/fs/cgroup",
        "/dev/mqueue",
    ] {
        assert!(find_mount(&spec, dest).is_some(), "{dest}");
    }
    assert!(opts(find_mount(&spec, "/sys").unwrap()).contains(&"ro".to_string()));
    let shm = find_mount(&spec, "/dev/shm").unwrap();
    assert!(opts(shm).contains(&"size=67108864".to_string()));
    let resolv = find_mount(&spec, "/etc/resolv.conf").unwrap();
    assert_eq!(resolv.typ().as_deref(), Some("bind"));
    assert!(!opts(resolv).contains(&"ro".to_string()));
    assert!(find_mount(&spec, "/etc/hosts").is_some());
    assert!(find_mount(&spec, "/etc/hostname").is_some());
    // It serialises to a config.json runc reads.
    let json = serde_json::to_value(&spec).unwrap();
    assert_eq!(json["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(json["process"]["user"]["uid"], 0);
}

#[test]
fn spec_privileged_has_every_cap_and_no_confinement() {
    let fx = Fixture::new();
    let host = HostConfig {
        privileged: true,
        ..Default::default()
    };
    let spec = fx.generate(&sh(), &host).unwrap();
    let caps = spec
        .process()
        .as_ref()
        .unwrap()
        .capabilities()
        .as_ref()
        .unwrap();
    assert_eq!(caps::CapSet::from_oci(caps), caps::CapSet::host_all());
    let linux = spec.linux().as_ref().unwrap();
    assert!(linux.seccomp().is_none());
    assert!(linux.masked_paths().as_ref().unwrap().is_empty());
    assert!(linux.readonly_paths().as_ref().unwrap().is_empty());
    assert!(opts(find_mount(&spec, "/sys").unwrap()).contains(&"rw".to_string()));
    let rules = linux
        .resources()
        .as_ref()
        .unwrap()
        .devices()
        .as_ref()
        .unwrap();
    assert_eq!(rules.len(), 1);
    assert!(rules[0].allow());
    assert!(linux
        .devices()
        .iter()
        .flatten()
        .any(|d| d.path() == Path::new("/dev/null")));
}

#[test]
fn spec_cap_add_all_and_drop() {
    let fx = Fixture::new();
    let host = HostConfig {
        cap_add: Some(vec!["ALL".into()]),
        cap_drop: Some(vec!["NET_RAW".into()]),
        ..Default::default()
    };
    let spec = fx.generate(&sh(), &host).unwrap();
    let caps = spec
        .process()
        .as_ref()
        .unwrap()
        .capabilities()
        .as_ref()
        .unwrap();
    let set = caps::CapSet::from_oci(caps);
    assert!(set.contains("SYS_ADMIN"));
    assert!(!set.contains("NET_RAW"));
    // With CAP_SYS_ADMIN the profile lets mount through; it is still applied.
    let sec = spec.linux().as_ref().unwrap().seccomp().as_ref().unwrap();
    assert_eq!(
        action_for(sec, "mount", None),
        LinuxSeccompAction::ScmpActAllow
    );
    let host = HostConfig {
        cap_drop: Some(vec!["chown".into(), "CAP_KILL".into()]),
        security_opt: Some(vec![
            "seccomp=unconfined".into(),
            "no-new-privileges".into(),
        ]),
        ..Default::default()
    };
    let spec = fx.generate(&sh(), &host).unwrap();
    let p = spec.process().as_ref().unwrap();
    assert_eq!(
        p.capabilities()
            .as_ref()
            .unwrap()
            .bounding()
            .as_ref()
            .unwrap()
            .len(),
        12
    );
    assert_eq!(p.no_new_privileges(), Some(true));
    assert!(spec.linux().as_ref().unwrap().seccomp().is_none());
}

#[test]
fn spec_user_group_add_and_tty() {
    let fx = Fixture::new();
    let config = ContainerConfig {
        user: "bob".into(),
        tty: true,
        working_dir: "/home/bob".into(),
        entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
        cmd: Some(vec!["id".into()]),
        ..Default::default()
    };
    let host = HostConfig {
        group_add: Some(vec!["staff".into()]),
        console_size: [40, 120],
        ..Default::default()
    };
    let spec = fx.generate(&config, &host).unwrap();
    let p = spec.process().as_ref().unwrap();
    assert_eq!(
        p.args().as_deref().unwrap(),
        &["/bin/sh", "-c", "id"].map(String::from)
    );
    assert_eq!((p.user().uid(), p.user().gid()), (1000, 1000));
    assert_eq!(
        p.user().additional_gids().as_deref(),
        Some(&[10, 29, 50][..])
    );
    assert_eq!(p.terminal(), Some(true));
    assert_eq!(p.console_size().unwrap().width(), 120);
    assert!(p
        .env()
        .as_ref()
        .unwrap()
        .contains(&"TERM=xterm".to_string()));
    assert!(p
        .env()
        .as_ref()
        .unwrap()
        .contains(&format!("PATH={DEFAULT_PATH}")));
    assert_eq!(p.cwd(), Path::new("/home/bob"));
    let bad = ContainerConfig {
        user: "nobody-here".into(),
        ..sh()
    };
    let err = fx.generate(&bad, &HostConfig::default()).unwrap_err();
    assert!(err.is_invalid_argument());
    assert!(err.to_string().contains("unable to find user nobody-here"));
    let none = ContainerConfig::default();
    assert!(matches!(
        fx.generate(&none, &HostConfig::default()),
        Err(SpecError::NoCommand)
    ));
}

#[test]
fn spec_tmpfs_device_ulimits_readonly() {
    let fx = Fixture::new();
    let host = HostConfig {
        readonly_rootfs: true,
        tmpfs: [("/run".to_string(), "size=64k".to_string())].into(),
        shm_size: 1 << 20,
        resources: Resources {
            devices: vec![DeviceMapping {
                path_on_host: "/dev/null".into(),
                path_in_container: "/dev/mynull".into(),
                cgroup_permissions: "rw".into(),
            }],
            ulimits: vec![Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048,
            }],
            pids_limit: Some(100),
            ..Default::default()
        },
        ..Default::default()
    };
    let spec = fx.generate(&sh(), &host).unwrap();
    assert_eq!(spec.root().as_ref().unwrap().readonly(), Some(true));
    let run = find_mount(&spec, "/run").unwrap();
    assert_eq!(run.typ().as_deref(), Some("tmpfs"));
    assert_eq!(opts(run), vec!["noexec", "nosuid", "nodev", "size=64k"]);
    assert!(opts(find_mount(&spec, "/dev/shm").unwrap()).contains(&"size=1048576".to_string()));
    assert!(opts(find_mount(&spec, "/etc/hosts").unwrap()).contains(&"ro".to_string()));
    let linux = spec.linux().as_ref().unwrap();
    let dev = &linux.devices().as_ref().unwrap()[0];
    assert_eq!(dev.path(), Path::new("/dev/mynull"));
    assert_eq!((dev.major(), dev.minor()), (1, 3));
    let res = linux.resources().as_ref().unwrap();
    assert!(res.devices().iter().flatten().any(|r| r.allow()
        && r.major() == Some(1)
        && r.minor() == Some(3)
        && r.access().as_deref() == Some("rw")));
    assert_eq!(res.pids().unwrap().limit(), 100);
    let rl = spec.process().as_ref().unwrap().rlimits().clone().unwrap();
    assert_eq!(rl.len(), 1);
    assert_eq!(rl[0].typ(), PosixRlimitType::RlimitNofile);
    assert_eq!((rl[0].soft(), rl[0].hard()), (1024, 2048));
}

#[test]
fn spec_mounts_come_from_the_resolved_mount_points() {
    let mut fx = Fixture::new();
    let mp = |kind: &str, source: &str, dest: &str, rw: bool, propagation: &str| MountPoint {
        kind: kind.into(),
        source: source.into(),
        destination: dest.into(),
        rw,
        propagation: propagation.into(),
        ..Default::default()
    };
    fx.mounts = vec![
        mp("volume", "/v/data/_data", "/data/sub", true, ""),
        mp("bind", "/srv/www", "/data", false, "rslave"),
        mp("bind", "/srv/hosts", "/etc/hosts", true, "rprivate"),
        mp("tmpfs", "", "/scratch", false, ""),
    ];
    // Binds are not parsed again: a bad one left in the host config changes nothing.
    let host = HostConfig {
        binds: Some(vec!["not-a-bind".into()]),
        ..Default::default()
    };
    let spec = fx.generate(&sh(), &host).unwrap();
    let data = find_mount(&spec, "/data").unwrap();
    assert_eq!(data.typ().as_deref(), Some("bind"));
    assert_eq!(data.source().as_deref(), Some(Path::new("/srv/www")));
    assert_eq!(opts(data), vec!["rbind", "ro", "rslave"]);
    let sub = find_mount(&spec, "/data/sub").unwrap();
    assert_eq!(sub.source().as_deref(), Some(Path::new("/v/data/_data")));
    assert_eq!(opts(sub), vec!["rbind"]);
    let dests: Vec<&Path> = spec
        .mounts()
        .iter()
        .flatten()
        .map(|m| m.destination().as_path())
        .collect();
    let pos = |d: &str| dests.iter().position(|x| *x == Path::new(d)).unwrap();
    assert!(pos("/data") < pos("/data/sub"), "a parent is mounted first");
    let hosts: Vec<&Mount> = spec
        .mounts()
        .iter()
        .flatten()
        .filter(|m| m.destination() == Path::new("/etc/hosts"))
        .collect();
    assert_eq!(
        hosts.len(),
        1,
        "the user's /etc/hosts replaces the engine's"
    );
    assert_eq!(hosts[0].source().as_deref(), Some(Path::new("/srv/hosts")));
    let scratch = find_mount(&spec, "/scratch").unwrap();
    assert_eq!(scratch.typ().as_deref(), Some("tmpfs"));
    assert_eq!(opts(scratch), vec!["noexec", "nosuid", "nodev", "ro"]);
    let linux = spec.linux().as_ref().unwrap();
    assert_eq!(linux.rootfs_propagation().as_deref(), Some("rslave"));

    fx.mounts
        .push(mp("volume", "/v/x/_data", "/scratch", true, ""));
    let err = fx.generate(&sh(), &host).unwrap_err();
    assert!(
        err.to_string().contains("duplicate mount point: /scratch"),
        "{err}"
    );
}

#[test]
fn spec_host_modes_init_and_sysctls() {
    let fx = Fixture::new();
    let config = ContainerConfig {
        domainname: "example.org".into(),
        ..sh()
    };
    let host = HostConfig {
        pid_mode: "host".into(),
        ipc_mode: "host".into(),
        uts_mode: "host".into(),
        annotations: [("org.example.k".to_string(), "v".to_string())].into(),
        sysctls: [("net.ipv4.ip_forward".to_string(), "1".to_string())].into(),
        ..Default::default()
    };
    let init = Path::new("/usr/bin/true");
    let spec = fx
        .generate_with(
            &config,
            &host,
            Some(init),
            NetNs::Path("/run/netns/x".into()),
        )
        .unwrap();
    let ns = ns_types(&spec);
    assert!(!ns.contains(&LinuxNamespaceType::Pid));
    assert!(!ns.contains(&LinuxNamespaceType::Ipc));
    assert!(!ns.contains(&LinuxNamespaceType::Uts));
    assert!(spec.hostname().is_none());
    let linux = spec.linux().as_ref().unwrap();
    let net = linux
        .namespaces()
        .iter()
        .flatten()
        .find(|n| n.typ() == LinuxNamespaceType::Network)
        .unwrap();
    assert_eq!(net.path().as_deref(), Some(Path::new("/run/netns/x")));
    let sysctl = linux.sysctl().as_ref().unwrap();
    assert_eq!(sysctl["net.ipv4.ip_forward"], "1");
    assert!(!sysctl.contains_key("kernel.domainname"));
    let shm = find_mount(&spec, "/dev/shm").unwrap();
    assert_eq!(shm.source().as_deref(), Some(Path::new("/dev/shm")));
    let p = spec.process().as_ref().unwrap();
    assert_eq!(
        p.args().as_deref().unwrap(),
        &[INIT_PATH, "--", "sh"].map(String::from)
    );
    let init_mount = find_mount(&spec, INIT_PATH).unwrap();
    assert!(opts(init_mount).contains(&"ro".to_string()));
    assert_eq!(spec.annotations().as_ref().unwrap()["org.example.k"], "v");

    let err = fx
        .generate_with(&config, &host, None, NetNs::Host)
        .unwrap_err();
    assert!(err
        .to_string()
        .starts_with("invalid --sysctl net.ipv4.ip_forward=1"));
}
