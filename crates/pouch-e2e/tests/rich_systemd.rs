//! A rich container in systemd mode, on a real Debian image (debootstrap, cached by the
//! harness) with systemd and openssh-server: systemd boots as PID 1, `ssh` from the host to
//! the container's IP logs in, a login shell sees the container's environment, `systemctl`
//! shows a running system, and `pouch stop` shuts systemd down cleanly within its timeout.

use std::time::{Duration, Instant};

use pouch_e2e::debian;
use pouch_e2e::ssh::{self, SshKey};
use pouch_e2e::{setup, wait_for, Must};

#[test]
fn systemd_boots_and_ssh_logs_in() {
    let Some(bins) = setup::e2e("systemd_boots_and_ssh_logs_in") else {
        return;
    };
    if !debian::require_debootstrap("systemd_boots_and_ssh_logs_in") {
        return;
    }
    let (_reg, d) = debian::debian_mirror(&bins);
    let key = SshKey::generate().must("ssh key");
    let keys = key.authorized_keys_dir().must("authorized_keys");
    let mount = format!("{}:/root/.ssh:ro", keys.path().display());
    d.pouch(&[
        "run",
        "-d",
        "--rich",
        "--rich-mode",
        "systemd",
        "--name",
        "vm",
        "-e",
        "GREETING=from pouch",
        "--initscript",
        "echo prepared > /etc/pouch-prepared",
        "-v",
        &mount,
        debian::IMAGE,
    ])
    .ok();
    let v = d.container("vm");
    assert_eq!(v["Config"]["StopSignal"], "SIGRTMIN+3");
    // Docker's capabilities, no more: systemd needs none beyond them here.
    let caps = d
        .pouch(&["exec", "vm", "grep", "CapBnd", "/proc/1/status"])
        .ok()
        .out()
        .to_string();
    assert!(caps.ends_with("00000000a80425fb"), "{caps}");
    assert_eq!(v["Config"]["RichMode"], "systemd");
    // systemd is PID 1 and reaches running (or degraded: a unit that needs real hardware).
    assert_eq!(
        d.pouch(&["exec", "vm", "cat", "/proc/1/comm"]).ok().out(),
        "systemd"
    );
    let state = wait_for(Duration::from_secs(90), || {
        let out = d.pouch(&["exec", "vm", "systemctl", "is-system-running"]);
        let s = out.stdout.trim().to_string();
        matches!(s.as_str(), "running" | "degraded").then_some(s)
    });
    let failed = d
        .pouch(&[
            "exec",
            "vm",
            "systemctl",
            "--failed",
            "--no-legend",
            "--plain",
        ])
        .stdout
        .clone();
    assert!(
        state.is_some(),
        "systemd did not reach running; failed units: {failed}\n{}",
        d.pouch(&["logs", "vm"]).combined()
    );
    println!("systemd state: {state:?}; failed units: {failed:?}");

    // ssh from the host to the container's address.
    let ip = debian::container_ip(&d, "vm").expect("the container has an address");
    ssh::wait_for_ssh(&ip, &key.private, Duration::from_secs(60)).must("ssh login");
    let out = ssh::ssh(
        &ip,
        &key.private,
        "cat /proc/1/comm; systemctl is-active ssh",
    );
    assert_eq!(out.ok().out(), "systemd\nactive", "{out}");
    // A login shell sees the container's environment (/etc/profile.d/pouchenv.sh).
    let out = ssh::ssh(&ip, &key.private, "bash -lc 'echo $GREETING'");
    assert_eq!(out.ok().out(), "from pouch");
    // The initscript ran inside the container before systemd.
    let out = ssh::ssh(&ip, &key.private, "cat /etc/pouch-prepared");
    assert_eq!(out.ok().out(), "prepared");
    // systemctl shows a running system with its units.
    let out = ssh::ssh(
        &ip,
        &key.private,
        "systemctl list-units --type=service --state=running --no-legend --plain",
    );
    assert!(out.ok().out().contains("ssh.service"), "{out}");

    // pouch stop: SIGRTMIN+3 makes systemd halt; it exits well before the timeout.
    let began = Instant::now();
    d.pouch(&["stop", "-t", "60", "vm"]).ok();
    let took = began.elapsed();
    let v = d.container("vm");
    assert_eq!(v["State"]["Running"], false);
    let code = v["State"]["ExitCode"].as_i64().unwrap_or(-1);
    assert_ne!(code, 137, "systemd had to be killed (took {took:?})");
    println!("pouch stop of systemd took {took:?}, exit code {code}");
    assert_eq!(code, 0, "systemd's exit after halt");
    d.pouch(&["rm", "vm"]).ok();
}
