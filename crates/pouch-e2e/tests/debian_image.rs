//! The Debian image of the rich-container tests (`pouch_e2e::debian`): its cache (one build
//! under a lock, atomic, rebuilt when damaged), the image under pouchd (Debian 12 with
//! systemd, sshd and procps; a key login to its sshd through the ssh helpers), and systemd
//! booting it under plain runc with the settings rich containers need, sshd included.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pouch_e2e::debian;
use pouch_e2e::netenv::Outside;
use pouch_e2e::ssh::{self, SshKey};
use pouch_e2e::{setup, skip, wait_for, Must};

#[test]
fn cache_builds_once_under_a_lock_and_renames_into_place() {
    let dir = tempfile::tempdir().unwrap();
    let builds = Arc::new(AtomicUsize::new(0));
    let valid = |p: &Path| p.join("done").is_file();
    // Four builders at once: one builds (slowly), the others wait and reuse its entry.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let dir = dir.path().to_path_buf();
            let builds = builds.clone();
            std::thread::spawn(move || {
                debian::cached(&dir, "thing", valid, |work| {
                    builds.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(300));
                    fs::write(work.join("part"), "half")?;
                    fs::write(work.join("done"), "yes")?;
                    Ok(())
                })
                .unwrap()
            })
        })
        .collect();
    let results: Vec<(PathBuf, bool)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(builds.load(Ordering::SeqCst), 1, "built more than once");
    assert_eq!(results.iter().filter(|(_, built)| *built).count(), 1);
    let entry = dir.path().join("thing");
    assert!(results.iter().all(|(p, _)| *p == entry));
    assert_eq!(fs::read_to_string(entry.join("done")).unwrap(), "yes");

    // A failing build leaves neither an entry nor its build directory.
    let err = debian::cached(dir.path(), "broken", valid, |work| {
        fs::write(work.join("part"), "half")?;
        anyhow::bail!("no luck")
    })
    .unwrap_err();
    assert!(err.to_string().contains("no luck"), "{err:#}");
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n == "broken" || n.contains(".build-")),
        "{names:?}"
    );

    // A leftover build directory of a builder that died is cleared; an invalid entry is
    // rebuilt.
    fs::create_dir(dir.path().join(".thing.build-dead")).unwrap();
    fs::remove_file(entry.join("done")).unwrap();
    let (_, built) = debian::cached(dir.path(), "thing", valid, |work| {
        fs::write(work.join("done"), "again")?;
        Ok(())
    })
    .unwrap();
    assert!(built);
    assert_eq!(fs::read_to_string(entry.join("done")).unwrap(), "again");
    assert!(!dir.path().join(".thing.build-dead").exists());
    assert!(entry.metadata().unwrap().permissions().mode() & 0o777 == 0o755);
}

#[test]
fn ssh_key_and_authorized_keys_dir() {
    if !pouch_e2e::require_root("ssh_key_and_authorized_keys_dir") {
        return;
    }
    let key = SshKey::generate().must("generate a key");
    let public = key.public_key().unwrap();
    assert!(public.starts_with("ssh-ed25519 "), "{public}");
    assert_eq!(
        fs::metadata(&key.private).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let dir = key.authorized_keys_dir().unwrap();
    let d = fs::metadata(dir.path()).unwrap();
    let f = fs::metadata(dir.path().join("authorized_keys")).unwrap();
    assert_eq!(d.permissions().mode() & 0o777, 0o700);
    assert_eq!(f.permissions().mode() & 0o777, 0o600);
    assert_eq!((d.uid(), d.gid(), f.uid(), f.gid()), (0, 0, 0, 0));
    assert_eq!(
        fs::read_to_string(dir.path().join("authorized_keys")).unwrap(),
        format!("{public}\n")
    );
    // Nothing listens on this port: the wait gives up at its deadline with the reason.
    let port = pouch_e2e::dead_port();
    let t = Instant::now();
    let err = ssh::wait_for_port("127.0.0.1", port, Duration::from_millis(500)).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(err.to_string().contains(&port.to_string()), "{err:#}");
}

#[test]
fn debian_image_under_pouchd_with_an_ssh_login() {
    let test = "debian_image_under_pouchd_with_an_ssh_login";
    let Some(bins) = setup::e2e(test) else {
        return;
    };
    if !debian::require_debootstrap(test) {
        return;
    }
    let layer = debian::rootfs_layer().must("build or reuse the Debian layer");
    eprintln!(
        "debian-rich layer {} ({} MB zstd, {} MB tar): {} in {:.1}s (recorded build {:.1}s)",
        layer.info.digest,
        layer.info.size >> 20,
        layer.info.tar_size >> 20,
        if layer.built { "built" } else { "reused" },
        layer.seconds,
        layer.info.build_seconds
    );
    let t = Instant::now();
    debian::image().must("load the image");
    eprintln!(
        "image loaded and verified: {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let (_reg, d) = debian::debian_mirror(&bins);
    eprintln!(
        "registry + push + pouchd: {:.1}s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let v = d.pouch(&["run", "--rm", debian::IMAGE, "cat", "/etc/debian_version"]);
    eprintln!(
        "first run (pull included): {:.1}s",
        t.elapsed().as_secs_f64()
    );
    assert!(v.ok().out().starts_with("12."), "{v}");
    let check = format!(
        "test -x {} && test -x {} && test -x /usr/bin/systemctl && command -v free ps ip >/dev/null \
         && test -s /etc/ssh/ssh_host_ed25519_key && test ! -s /etc/machine-id && echo fine",
        debian::SYSTEMD,
        debian::SSHD
    );
    d.pouch(&["run", "--rm", debian::IMAGE, "sh", "-c", &check])
        .ok()
        .says("fine");

    // sshd alone (no systemd) with the key bind-mounted at /root/.ssh: a key login works,
    // another key is refused.
    let key = SshKey::generate().must("generate a key");
    let auth = key.authorized_keys_dir().must("authorized_keys dir");
    let volume = format!("{}:/root/.ssh", auth.path().display());
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "sshd",
        "-v",
        &volume,
        debian::IMAGE,
        "sh",
        "-c",
        "mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e",
    ])
    .ok();
    let ip = debian::container_ip(&d, "sshd").expect("sshd container has an address");
    ssh::wait_for_ssh(&ip, &key.private, Duration::from_secs(30)).must("ssh login");
    let out = ssh::ssh(&ip, &key.private, "cat /etc/debian_version; id -u");
    assert!(
        out.ok().out().starts_with("12.") && out.out().ends_with('0'),
        "{out}"
    );
    let other = SshKey::generate().must("generate a second key");
    let refused = ssh::ssh(&ip, &other.private, "true");
    assert_eq!(refused.code, Some(255), "{refused}");
    assert!(refused.stderr.contains("Permission denied"), "{refused}");
    d.pouch(&["rm", "-f", "sshd"]).ok();
}

/// A runc container made by hand, deleted (and its network namespace removed) on drop.
struct RuncBox {
    id: String,
    bundle: tempfile::TempDir,
    _outside: Outside,
}

impl Drop for RuncBox {
    fn drop(&mut self) {
        let _ = Command::new("runc")
            .args(["delete", "-f", &self.id])
            .output();
        pouch_e2e::procs::unmount_below(self.bundle.path());
    }
}

fn runc(args: &[&str]) -> pouch_e2e::CmdOutput {
    let mut c = Command::new("runc");
    c.args(args);
    pouch_e2e::cmd::run(c, None, Duration::from_secs(60))
}

#[test]
fn systemd_boots_the_image_under_plain_runc() {
    let test = "systemd_boots_the_image_under_plain_runc";
    if !pouch_e2e::require_root(test) || !debian::require_debootstrap(test) {
        return;
    }
    if runc(&["--version"]).code != Some(0) {
        skip(test, "runc is not installed");
        return;
    }
    let bundle = tempfile::Builder::new()
        .prefix("pouch-e2e-runc-debian-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let t = Instant::now();
    let rootfs = bundle.path().join("rootfs");
    debian::extract_rootfs(&rootfs).must("unpack the Debian rootfs");
    eprintln!("unpacked the rootfs in {:.1}s", t.elapsed().as_secs_f64());
    let key = SshKey::generate().must("generate a key");
    let ssh_dir = rootfs.join("root/.ssh");
    fs::create_dir_all(&ssh_dir).unwrap();
    fs::set_permissions(&ssh_dir, fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(ssh_dir.join("authorized_keys"), key.public_key().unwrap()).unwrap();
    fs::set_permissions(
        ssh_dir.join("authorized_keys"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();

    let outside = Outside::new();
    let id = format!("pouch-e2e-debian-{}", setup::unique_tag());
    let mut c = Command::new("runc");
    c.arg("spec").current_dir(bundle.path());
    assert!(c.status().unwrap().success(), "runc spec");
    let config = bundle.path().join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&fs::read(&config).unwrap()).unwrap();
    systemd_spec(&mut spec, &id, &outside.ns);
    fs::write(&config, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let log = bundle.path().join("runc.log");
    let b = RuncBox {
        id: id.clone(),
        bundle,
        _outside: outside,
    };
    let mut c = Command::new("runc");
    c.args(["run", "-d", &id])
        .current_dir(b.bundle.path())
        .stdout(fs::File::create(&log).unwrap())
        .stderr(fs::File::create(log.with_extension("err")).unwrap());
    let t = Instant::now();
    assert!(c.status().unwrap().success(), "runc run -d {id}");

    // systemd reaches "running" (nothing failed), with sshd among its services.
    let state = wait_for(Duration::from_secs(60), || {
        let s = runc(&["exec", &id, "systemctl", "is-system-running"]);
        let out = s.out().to_string();
        matches!(out.as_str(), "running" | "degraded").then_some(out)
    });
    let failed = runc(&["exec", &id, "systemctl", "--failed", "--no-legend"]);
    assert_eq!(state.as_deref(), Some("running"), "{failed}");
    eprintln!("systemd running after {:.1}s", t.elapsed().as_secs_f64());
    assert_eq!(
        runc(&["exec", &id, "systemctl", "is-active", "ssh"]).out(),
        "active"
    );
    assert_eq!(
        runc(&["exec", &id, "systemd-detect-virt", "-c"]).out(),
        "pouch"
    );

    // A key login from the host over the veth, to a shell whose PID 1 is systemd.
    let ip = b._outside.addr.clone();
    ssh::wait_for_ssh(&ip, &key.private, Duration::from_secs(30)).must("ssh login");
    let out = ssh::ssh(&ip, &key.private, "cat /proc/1/comm; free -m | head -1");
    assert!(out.ok().stdout.starts_with("systemd\n"), "{out}");
    assert!(out.stdout.contains("total"), "{out}");

    // SIGRTMIN+3 (37) halts it cleanly.
    runc(&["kill", &id, "37"]).ok();
    let stopped = wait_for(Duration::from_secs(30), || {
        let s = runc(&["state", &id]);
        (!s.success() || s.stdout.contains("\"stopped\"")).then_some(())
    });
    assert!(stopped.is_some(), "systemd did not halt on SIGRTMIN+3");
}

/// Turns `runc spec`'s default into a systemd container: systemd as PID 1 with
/// `container=pouch`, Docker's default capabilities (no CAP_SYS_ADMIN), a writable root,
/// tmpfs on /run, /run/lock and /tmp, a cgroup namespace with /sys/fs/cgroup mounted
/// read-write, and the network namespace `netns`.
fn systemd_spec(spec: &mut serde_json::Value, id: &str, netns: &str) {
    use serde_json::json;
    let caps = json!([
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE"
    ]);
    let p = &mut spec["process"];
    p["terminal"] = json!(false);
    p["args"] = json!([debian::SYSTEMD]);
    p["env"]
        .as_array_mut()
        .unwrap()
        .push(json!("container=pouch"));
    p["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
    p["noNewPrivileges"] = json!(false);
    spec["root"] = json!({"path": "rootfs", "readonly": false});
    spec["hostname"] = json!("debian-rich");
    let mounts = spec["mounts"].as_array_mut().unwrap();
    mounts.retain(|m| m["destination"] != "/sys/fs/cgroup");
    mounts.push(
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
        "options": ["nosuid", "noexec", "nodev", "relatime", "rw"]}),
    );
    for (dest, opts) in [
        ("/run", json!(["nosuid", "nodev", "mode=755"])),
        (
            "/run/lock",
            json!(["nosuid", "nodev", "noexec", "mode=755"]),
        ),
        ("/tmp", json!(["nosuid", "nodev", "mode=1777"])),
    ] {
        mounts.push(
            json!({"destination": dest, "type": "tmpfs", "source": "tmpfs",
            "options": opts}),
        );
    }
    spec["linux"]["namespaces"] = json!([
        {"type": "pid"},
        {"type": "network", "path": format!("/var/run/netns/{netns}")},
        {"type": "ipc"},
        {"type": "uts"},
        {"type": "mount"},
        {"type": "cgroup"}
    ]);
    spec["linux"]["cgroupsPath"] = json!(format!("/{id}"));
}
