//! Rich containers with busybox: the dumb-init mode (our init as PID 1: signals forwarded,
//! orphans reaped, the command's exit status), the initscript on every start and its
//! failure, /etc/profile.d/pouchenv.sh and `pouch update -e`, `sbin-init`, the checks of the
//! flags, and the same over raw HTTP. The systemd mode with ssh is in `rich_systemd.rs`.

use std::time::Duration;

use pouch_e2e::fixtures::{busybox_rootfs_tar, BUSYBOX_CREATED_BY};
use pouch_e2e::image::{Compression, Format, ImageSpec, Layer, LayerBuilder};
use pouch_e2e::{http, setup, wait_for, Must};

/// A second from now, as `--until` takes it.
fn now_plus_one() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    (now.as_secs() + 1).to_string()
}

/// Reads a file of a running container.
fn cat(d: &pouch_e2e::Daemon, c: &str, path: &str) -> String {
    d.pouch(&["exec", c, "cat", path]).ok().out().to_string()
}

#[test]
fn dumb_init_initscript_and_profile_env() {
    let Some(bins) = setup::e2e("dumb_init_initscript_and_profile_env") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&[
        "run",
        "-d",
        "--rich",
        "--name",
        "r1",
        "-e",
        "FOO=a b",
        "-e",
        "QUOTE=it's",
        "--initscript",
        "echo ran >> /initlog; echo \"$FOO|$rich_mode\" > /initenv",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    // Our init is PID 1 and the command its child.
    assert!(
        cat(&d, "r1", "/proc/1/cmdline").starts_with("/sbin/pouch-init"),
        "PID 1 is not pouch-init"
    );
    let sleep_pid = d
        .pouch(&["exec", "r1", "sh", "-c", "pidof sleep"])
        .ok()
        .out()
        .to_string();
    assert_ne!(sleep_pid, "1");
    // The initscript ran once, inside the container, with the container's environment.
    assert_eq!(cat(&d, "r1", "/initlog"), "ran");
    assert_eq!(cat(&d, "r1", "/initenv"), "a b|true");
    // The environment for login shells.
    let profile = cat(&d, "r1", "/etc/profile.d/pouchenv.sh");
    assert!(profile.contains("export FOO='a b'"), "{profile}");
    assert!(profile.contains("export QUOTE='it'\\''s'"), "{profile}");
    assert!(profile.contains("export rich_mode='true'"), "{profile}");
    assert_eq!(
        d.pouch(&[
            "exec",
            "r1",
            "sh",
            "-c",
            "env -i sh -c '. /etc/profile.d/pouchenv.sh; echo \"$FOO/$QUOTE\"'"
        ])
        .ok()
        .out(),
        "a b/it's"
    );
    // Inspect shows the Pouch fields.
    let cfg = &d.container("r1")["Config"];
    assert_eq!(cfg["Rich"], true);
    assert_eq!(
        cfg["InitScript"],
        "echo ran >> /initlog; echo \"$FOO|$rich_mode\" > /initenv"
    );

    // Orphans are reaped by PID 1: a background child whose parent exits.
    d.pouch(&["exec", "r1", "sh", "-c", "(sleep 0.2 &) ; true"])
        .ok();
    let zombies = wait_for(Duration::from_secs(5), || {
        let ps = d
            .pouch(&["exec", "r1", "ps", "-o", "stat,comm"])
            .ok()
            .out()
            .to_string();
        (!ps.lines().any(|l| l.trim_start().starts_with('Z'))).then_some(())
    });
    assert!(zombies.is_some(), "a zombie was not reaped");

    // pouch update -e rewrites the profile and the config; an update event is sent.
    d.pouch(&["update", "-e", "FOO=c", "-e", "BAR=1", "r1"])
        .ok();
    let profile = cat(&d, "r1", "/etc/profile.d/pouchenv.sh");
    assert!(
        profile.contains("export FOO='c'") && profile.contains("export BAR='1'"),
        "{profile}"
    );
    d.pouch(&["update", "-e", "BAR", "r1"]).ok();
    let profile = cat(&d, "r1", "/etc/profile.d/pouchenv.sh");
    assert!(!profile.contains("BAR"), "{profile}");
    let env = d.container("r1")["Config"]["Env"].to_string();
    assert!(env.contains("\"FOO=c\"") && !env.contains("BAR"), "{env}");
    // New execs see the new environment.
    assert_eq!(
        d.pouch(&["exec", "r1", "sh", "-c", "echo $FOO"]).ok().out(),
        "c"
    );

    // The initscript runs again on restart.
    d.pouch(&["restart", "-t", "5", "r1"]).ok();
    assert_eq!(cat(&d, "r1", "/initlog"), "ran\nran");
    assert_eq!(cat(&d, "r1", "/initenv"), "c|true");

    // SIGTERM reaches the command through the init, which exits with its status.
    d.pouch(&["stop", "-t", "30", "r1"]).ok();
    assert_eq!(d.container("r1")["State"]["ExitCode"], 143);
    let until = now_plus_one();
    let events = d
        .pouch(&[
            "events",
            "--since",
            "0",
            "--until",
            &until,
            "--filter",
            "event=update",
        ])
        .ok()
        .out()
        .to_string();
    assert!(events.matches("container update").count() >= 2, "{events}");

    // The command's exit status is the container's.
    let out = d.pouch(&["run", "--rm", "--rich", "busybox", "sh", "-c", "exit 7"]);
    assert_eq!(out.code, Some(7), "{}", out.combined());
}

#[test]
fn failing_initscript_fails_the_start() {
    let Some(bins) = setup::e2e("failing_initscript_fails_the_start") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&[
        "run",
        "-d",
        "--rich",
        "--name",
        "bad",
        "--initscript",
        "echo broken-setup >&2; exit 3",
        "busybox",
        "sleep",
        "1000",
    ])
    .fails()
    .says("exit code 3")
    .says("broken-setup");
    let state = &d.container("bad")["State"];
    assert_eq!(state["Running"], false);
    assert!(
        state["Error"]
            .as_str()
            .unwrap_or("")
            .contains("broken-setup"),
        "{state}"
    );
    // Nothing of the process is left: no runtime state, and start fails the same way again.
    d.pouch(&["start", "bad"]).fails().says("broken-setup");
    d.pouch(&["rm", "bad"]).ok();

    // An initscript that fixes what the command needs.
    d.pouch(&[
        "run",
        "--rm",
        "--rich",
        "--initscript",
        "echo ready > /ready",
        "busybox",
        "cat",
        "/ready",
    ])
    .ok()
    .says("ready");
}

#[test]
fn rich_flags_are_checked() {
    let Some(bins) = setup::e2e("rich_flags_are_checked") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["create", "--rich-mode", "systemd", "busybox"])
        .fails()
        .says("--rich");
    d.pouch(&["create", "--initscript", "true", "busybox"])
        .fails()
        .says("--initscript");
    d.pouch(&["create", "--rich", "--rich-mode", "upstart", "busybox"])
        .fails()
        .says("dumb-init, sbin-init or systemd");
    d.pouch(&[
        "create",
        "--rich",
        "--rich-mode",
        "sbin-init",
        "--init",
        "busybox",
    ])
    .fails()
    .says("drop --init");
    // busybox has no /sbin/init and no systemd: the start says so.
    d.pouch(&[
        "run",
        "--rm",
        "--rich",
        "--rich-mode",
        "sbin-init",
        "busybox",
    ])
    .fails()
    .says("no /sbin/init");
    d.pouch(&["run", "--rm", "--rich", "--rich-mode", "systemd", "busybox"])
        .fails()
        .says("no systemd");
    // Nothing was left by the refused creates.
    let all = d.pouch(&["ps", "-a", "-q"]).ok().out().to_string();
    assert!(all.is_empty(), "containers left: {all}");
}

/// busybox with /sbin/init (busybox's init) and an inittab that marks the boot.
fn busybox_init_image() -> pouch_e2e::image::Image {
    let base = Layer::new(busybox_rootfs_tar(), Compression::Gzip, BUSYBOX_CREATED_BY);
    let mut l = LayerBuilder::new();
    l.dir("sbin")
        .symlink("sbin/init", "/bin/busybox")
        .dir("etc")
        .file(
            "etc/inittab",
            b"::sysinit:/bin/sh -c 'echo booted > /booted'\n::respawn:/bin/sleep 1000\n",
        );
    let init = Layer::new(&l.into_tar(), Compression::Gzip, "ADD init /");
    ImageSpec::new(Format::Docker).build(vec![base, init])
}

#[test]
fn sbin_init_runs_the_images_init() {
    let Some(bins) = setup::e2e("sbin_init_runs_the_images_init") else {
        return;
    };
    let (reg, d) = setup::busybox_mirror(&bins);
    reg.push("test/bbinit", "latest", &busybox_init_image())
        .must("push test/bbinit");
    // The registry is docker.io's mirror: test/bbinit resolves there.
    let image = "test/bbinit:latest";
    d.pouch(&["pull", image]).ok();
    d.pouch(&[
        "run",
        "-d",
        "--rich",
        "--rich-mode",
        "sbin-init",
        "--name",
        "si",
        image,
    ])
    .ok();
    // busybox's init names itself `init`; its binary is busybox behind /sbin/init.
    let cmdline = cat(&d, "si", "/proc/1/cmdline");
    assert!(
        cmdline.trim_end_matches('\0').ends_with("init"),
        "{cmdline}"
    );
    assert_eq!(
        d.pouch(&["exec", "si", "readlink", "/proc/1/exe"])
            .ok()
            .out(),
        "/bin/busybox"
    );
    let booted = wait_for(Duration::from_secs(10), || {
        let out = d.pouch(&["exec", "si", "cat", "/booted"]);
        out.success().then(|| out.out().to_string())
    });
    assert_eq!(booted.as_deref(), Some("booted"));
    let env = d
        .pouch(&["exec", "si", "cat", "/proc/1/environ"])
        .ok()
        .out()
        .to_string();
    assert!(env.contains("rich_mode_launch_manner=sbin-init"), "{env}");
    d.pouch(&["rm", "-f", "si"]).ok();
}

#[test]
fn rich_fields_and_update_over_raw_http() {
    let Some(bins) = setup::e2e("rich_fields_and_update_over_raw_http") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["pull", "busybox"]).ok();
    let sock = d.socket();
    let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let body = serde_json::json!({
        "Image": "busybox",
        "Cmd": ["sleep", "1000"],
        "Env": ["A=1"],
        "Rich": true,
        "RichMode": "dumb-init",
        "InitScript": "touch /from-initscript",
        "SpecificID": id,
    })
    .to_string();
    let (status, out) = http::call(&sock, "POST", "/v1.44/containers/create?name=raw", &body);
    assert_eq!(status, 201, "{out}");
    assert_eq!(http::json(&out)["Id"], id);
    // The same id again is a conflict; a bad one a 400 naming the field's flag.
    let (status, out) = http::call(&sock, "POST", "/containers/create", &body);
    assert_eq!(status, 409, "{out}");
    assert!(out.contains(id), "{out}");
    let bad = body.replace(id, "XYZ");
    let (status, out) = http::call(&sock, "POST", "/containers/create", &bad);
    assert_eq!(status, 400, "{out}");
    assert!(out.contains("64 lower-case hex"), "{out}");

    let (status, out) = http::call(&sock, "POST", "/containers/raw/start", "");
    assert_eq!(status, 204, "{out}");
    d.pouch(&["exec", "raw", "test", "-e", "/from-initscript"])
        .ok();
    let (status, out) = http::call(&sock, "GET", "/containers/raw/json", "");
    assert_eq!(status, 200);
    let v = http::json(&out);
    assert_eq!(v["Id"], id);
    assert_eq!(v["Config"]["Rich"], true);
    assert_eq!(v["Config"]["RichMode"], "dumb-init");

    // Pouch's update body: env, labels, restart policy at once, on the running container.
    let (status, out) = http::call(
        &sock,
        "POST",
        "/v1.44/containers/raw/update",
        r#"{"Env":["A=2","B=3"],"Label":["team=infra"],"RestartPolicy":{"Name":"always"}}"#,
    );
    assert_eq!(status, 200, "{out}");
    let v = d.container("raw");
    let env = v["Config"]["Env"].to_string();
    assert!(env.contains("A=2") && env.contains("B=3"), "{env}");
    assert_eq!(v["Config"]["Labels"]["team"], "infra");
    assert_eq!(v["HostConfig"]["RestartPolicy"]["Name"], "always");
    let profile = d
        .pouch(&["exec", "raw", "cat", "/etc/profile.d/pouchenv.sh"])
        .ok()
        .out()
        .to_string();
    assert!(profile.contains("export B='3'"), "{profile}");
    // A label removed; a bad assignment refused with nothing changed.
    let (status, _) = http::call(
        &sock,
        "POST",
        "/containers/raw/update",
        r#"{"Label":["team"]}"#,
    );
    assert_eq!(status, 200);
    assert!(d.container("raw")["Config"]["Labels"].get("team").is_none());
    let (status, out) = http::call(&sock, "POST", "/containers/raw/update", r#"{"Env":["=x"]}"#);
    assert_eq!(status, 400, "{out}");
    d.pouch(&["rm", "-f", "raw"]).ok();
}

#[test]
fn update_labels_restart_and_specific_id_with_both_clis() {
    let Some(bins) = setup::e2e("update_labels_restart_and_specific_id_with_both_clis") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    let id = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "u1",
        "--specific-id",
        id,
        "-l",
        "old=1",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok()
    .says(id);
    d.pouch(&["create", "--specific-id", id, "busybox"])
        .fails()
        .says("already in use");
    d.pouch(&["create", "--specific-id", "1234", "busybox"])
        .fails()
        .says("64 lower-case hex");
    // pouch update: labels set and removed, restart policy, env, on a running container.
    d.pouch(&[
        "update",
        "-l",
        "new=2",
        "-l",
        "old",
        "--restart",
        "on-failure:3",
        "-e",
        "Z=9",
        "u1",
    ])
    .ok();
    let v = d.container("u1");
    assert_eq!(v["Config"]["Labels"]["new"], "2");
    assert!(
        v["Config"]["Labels"].get("old").is_none(),
        "{}",
        v["Config"]["Labels"]
    );
    assert_eq!(v["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(v["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
    assert_eq!(v["State"]["Running"], true);
    assert_eq!(
        d.pouch(&["exec", "u1", "sh", "-c", "echo $Z"]).ok().out(),
        "9"
    );
    // Filters see the new label.
    assert_eq!(
        d.pouch(&["ps", "-q", "--no-trunc", "-f", "label=new=2"])
            .ok()
            .out(),
        id
    );
    // docker update, the equivalent Docker has: restart policy and resources.
    if pouch_e2e::daemon::docker_cli().is_some() {
        d.docker(&["update", "--restart", "always", "--cpu-shares", "512", "u1"])
            .ok();
        let v = d.container("u1");
        assert_eq!(v["HostConfig"]["RestartPolicy"]["Name"], "always");
        assert_eq!(v["HostConfig"]["CpuShares"], 512);
        let until = now_plus_one();
        let events = d
            .docker(&[
                "events",
                "--since",
                "0",
                "--until",
                &until,
                "--filter",
                "event=update",
            ])
            .ok()
            .out()
            .to_string();
        assert!(events.matches(" update ").count() >= 2, "{events}");
    }
    d.pouch(&["rm", "-f", "u1"]).ok();
}
