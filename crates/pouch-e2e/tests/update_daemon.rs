//! `pouch updatedaemon` and `POST /daemon/update` end to end: labels and debug logging
//! changed live (seen by `pouch info`, `docker info`, the log and the `daemon reload`
//! event), registry mirrors and insecure registries changed live (seen by the next pull),
//! refusals that change nothing, the config file as the update leaves it, a restart with the
//! same command line that keeps the values, and the keys a command-line flag fixes.
//!
//! The daemons get their registry settings from their config file (not from flags), so that
//! the updates may change them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{SystemTime, UNIX_EPOCH};

use pouch_e2e::{fixtures, http, setup, Binaries, Daemon, DaemonOptions, Must, Registry};
use serde_json::{json, Value};

/// A daemon started with `opts` whose config file holds `config`: it is started once (the
/// harness writes an empty config file), given the file, and restarted on it.
fn daemon_with_config(bins: &Binaries, opts: DaemonOptions, config: Value) -> Daemon {
    let mut d = Daemon::start(bins, opts).must("start pouchd");
    std::fs::write(config_path(&d), format!("{config:#}\n")).unwrap();
    d.restart_with_env(&[])
        .must("restart pouchd on its config file");
    d
}

fn config_path(d: &Daemon) -> std::path::PathBuf {
    d.root().join("config.json")
}

/// The config file, parsed.
fn config_file(d: &Daemon) -> Value {
    let text = std::fs::read_to_string(config_path(d)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("config file is not json ({e}): {text}"))
}

/// `GET /v1.44/info` over raw HTTP.
fn info(d: &Daemon) -> Value {
    let (status, body) = http::call(&d.socket(), "GET", "/v1.44/info", "");
    assert_eq!(status, 200, "{body}");
    http::json(&body)
}

/// `docker info --format <template>`, or `None` without the docker CLI.
fn docker_info(d: &Daemon, template: &str) -> Option<String> {
    pouch_e2e::daemon::docker_cli()?;
    let o = d.docker(&["info", "--format", template]);
    o.ok();
    Some(o.out().to_string())
}

/// A registry with busybox pushed as `repo:latest`: a name docker.io does not serve, so a
/// pull of it works only through the registry (as a mirror, or by its address).
fn registry_with(repo: &str) -> Registry {
    let reg = Registry::start(Default::default()).must("start docker-registry");
    reg.push(repo, "latest", fixtures::busybox())
        .must("push busybox");
    reg
}

#[test]
fn labels_and_debug_change_live() {
    let Some(bins) = setup::e2e("labels_and_debug_change_live") else {
        return;
    };
    let d = daemon_with_config(
        &bins,
        DaemonOptions::default(),
        json!({"label": ["from-file=1"]}),
    );
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(info(&d)["Labels"], json!(["from-file=1"]));

    d.pouch(&["updatedaemon", "--label", "zone=eu", "--label", "rack=r1"])
        .ok();
    d.pouch(&["info"])
        .ok()
        .says(" Labels:\n  from-file=1\n  zone=eu\n  rack=r1\n");
    if let Some(labels) = docker_info(&d, "{{json .Labels}}") {
        assert_eq!(labels, r#"["from-file=1","zone=eu","rack=r1"]"#);
    }
    // KEY removes, KEY=VALUE replaces in place
    d.pouch(&["updatedaemon", "--label", "from-file", "--label", "zone=us"])
        .ok();
    assert_eq!(info(&d)["Labels"], json!(["zone=us", "rack=r1"]));
    if let Some(labels) = docker_info(&d, "{{json .Labels}}") {
        assert_eq!(labels, r#"["zone=us","rack=r1"]"#);
    }
    assert_eq!(config_file(&d), json!({"label": ["zone=us", "rack=r1"]}));

    // debug on: /info says so and the log has debug lines; off again: neither
    assert_eq!(info(&d)["Debug"], false);
    d.pouch(&["image", "inspect", "nosuch-before"]).fails();
    d.pouch(&["updatedaemon", "--debug"]).ok();
    assert_eq!(info(&d)["Debug"], true);
    if let Some(debug) = docker_info(&d, "{{.Debug}}") {
        assert_eq!(debug, "true");
    }
    d.pouch(&["image", "inspect", "nosuch-during"]).fails();
    d.pouch(&["updatedaemon", "--debug=false"]).ok();
    assert_eq!(info(&d)["Debug"], false);
    d.pouch(&["image", "inspect", "nosuch-after"]).fails();
    let log = d.log();
    let logged = |name: &str| log.lines().any(|l| l.contains("DEBUG") && l.contains(name));
    assert!(
        logged("nosuch-during"),
        "no debug line while debug was on:\n{log}"
    );
    assert!(!logged("nosuch-before") && !logged("nosuch-after"), "{log}");
    assert_eq!(
        config_file(&d),
        json!({"label": ["zone=us", "rack=r1"], "debug": false})
    );

    // every update announced itself as Docker's daemon reload event
    let until = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let (status, body) = http::call(
        &d.socket(),
        "GET",
        &format!(
            "/v1.44/events?since={before}&until={until}&filters=%7B%22type%22%3A%5B%22daemon%22%5D%7D"
        ),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let events: Vec<Value> = body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 4, "{body}");
    let id = info(&d)["ID"].clone();
    for ev in &events {
        assert_eq!(
            (&ev["Type"], &ev["Action"]),
            (&json!("daemon"), &json!("reload"))
        );
        assert_eq!(ev["Actor"]["ID"], id);
    }
    assert_eq!(
        events[0]["Actor"]["Attributes"]["labels"],
        r#"["from-file=1","zone=eu","rack=r1"]"#
    );
    assert_eq!(events[2]["Actor"]["Attributes"]["debug"], "true");
    if pouch_e2e::daemon::docker_cli().is_some() {
        d.docker(&[
            "events",
            "--since",
            &before.to_string(),
            "--until",
            &until.to_string(),
            "--filter",
            "type=daemon",
        ])
        .ok()
        .says("daemon reload");
    }
}

#[test]
fn mirrors_change_where_pulls_go_and_survive_a_restart() {
    let Some(bins) = setup::e2e("mirrors_change_where_pulls_go_and_survive_a_restart") else {
        return;
    };
    let repo = format!("e2e/bb-{}", setup::unique_tag());
    let reg = registry_with(&repo);
    let dead = format!("http://127.0.0.1:{}", pouch_e2e::dead_port());
    let mut d = daemon_with_config(
        &bins,
        DaemonOptions::default(),
        json!({"registry-mirror": [dead], "mtu": 1500}),
    );
    assert_eq!(
        info(&d)["RegistryConfig"]["Mirrors"],
        json!([format!("{dead}/")])
    );
    d.pouch(&["pull", &repo]).fails();

    // a bad mirror is refused, naming it, and nothing changes
    d.pouch(&[
        "updatedaemon",
        "--registry-mirror",
        &reg.url(),
        "--registry-mirror",
        "ftp://bad.mirror",
        "--label",
        "x=1",
    ])
    .fails()
    .says("ftp://bad.mirror");
    assert_eq!(
        info(&d)["RegistryConfig"]["Mirrors"],
        json!([format!("{dead}/")])
    );
    assert_eq!(info(&d)["Labels"], json!([]));
    assert_eq!(
        config_file(&d),
        json!({"registry-mirror": [dead], "mtu": 1500})
    );

    // the new mirror serves the next pull
    d.pouch(&[
        "updatedaemon",
        "--registry-mirror",
        &reg.url(),
        "--label",
        "mirrored=yes",
    ])
    .ok();
    let mirrors = json!([format!("{}/", reg.url())]);
    assert_eq!(info(&d)["RegistryConfig"]["Mirrors"], mirrors);
    if let Some(m) = docker_info(&d, "{{json .RegistryConfig.Mirrors}}") {
        assert_eq!(m, mirrors.to_string());
    }
    d.pouch(&["pull", &repo]).ok();
    assert_eq!(
        d.pouch(&["image", "inspect", "-f", "{{.Id}}", &repo])
            .ok()
            .out(),
        fixtures::busybox().id()
    );
    assert_eq!(
        config_file(&d),
        json!({"registry-mirror": [reg.url()], "mtu": 1500, "label": ["mirrored=yes"]})
    );

    // the same command line comes back with the updated values
    d.restart_with_env(&[]).must("restart pouchd");
    let i = info(&d);
    assert_eq!(i["RegistryConfig"]["Mirrors"], mirrors);
    assert_eq!(i["Labels"], json!(["mirrored=yes"]));
    d.pouch(&["rmi", &repo]).ok();
    d.pouch(&["pull", &repo]).ok();

    // an empty list: no mirror any more
    d.pouch(&["updatedaemon", "--clear-registry-mirrors"]).ok();
    assert_eq!(info(&d)["RegistryConfig"]["Mirrors"], json!([]));
    assert_eq!(config_file(&d)["registry-mirror"], json!([]));
    d.pouch(&["rmi", &repo]).ok();
    d.pouch(&["pull", &repo]).fails();
}

/// Accepts connections on `ip` (any port) and pipes each to `127.0.0.1:to`, for the life of
/// the test process: a plain-HTTP registry at an address that is not loopback.
fn forward(ip: &str, to: u16) -> u16 {
    let listener = TcpListener::bind((ip, 0)).expect("bind the forwarder");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let Ok(up) = TcpStream::connect(("127.0.0.1", to)) else {
                continue;
            };
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            };
            pipe(conn.try_clone().unwrap(), up.try_clone().unwrap());
            pipe(up, conn);
        }
    });
    port
}

#[test]
fn insecure_registries_change_how_pulls_connect() {
    let Some(bins) = setup::e2e("insecure_registries_change_how_pulls_connect") else {
        return;
    };
    let repo = format!("e2e/bb-{}", setup::unique_tag());
    let reg = registry_with(&repo);
    let ip = pouch_e2e::netenv::host_ip();
    let port: u16 = reg.host().rsplit_once(':').unwrap().1.parse().unwrap();
    let addr = format!("{ip}:{}", forward(&ip, port));
    let image = format!("{addr}/{repo}");
    let d = daemon_with_config(
        &bins,
        DaemonOptions::default(),
        json!({"insecure-registry": ["10.99.0.0/16"]}),
    );
    // not insecure: https to a plain-HTTP registry fails
    d.pouch(&["pull", &image]).fails();

    d.pouch(&["updatedaemon", "--insecure-registry", "10.0.0.0/99"])
        .fails()
        .says("10.0.0.0/99");
    d.pouch(&["updatedaemon", "--insecure-registry", &addr])
        .ok();
    let r = &info(&d)["RegistryConfig"];
    assert_eq!(r["IndexConfigs"][&addr]["Secure"], false, "{r}");
    assert!(
        !r["InsecureRegistryCIDRs"]
            .as_array()
            .unwrap()
            .contains(&json!("10.99.0.0/16")),
        "the list was replaced: {r}"
    );
    if let Some(secure) = docker_info(
        &d,
        &format!("{{{{(index .RegistryConfig.IndexConfigs \"{addr}\").Secure}}}}"),
    ) {
        assert_eq!(secure, "false");
    }
    d.pouch(&["pull", &image]).ok();
    assert_eq!(config_file(&d), json!({"insecure-registry": [addr]}));

    d.pouch(&["updatedaemon", "--clear-insecure-registries"])
        .ok();
    assert!(info(&d)["RegistryConfig"]["IndexConfigs"]
        .get(&addr)
        .is_none());
    d.pouch(&["rmi", &image]).ok();
    d.pouch(&["pull", &image]).fails();
}

#[test]
fn settings_given_as_flags_cannot_be_updated() {
    let Some(bins) = setup::e2e("settings_given_as_flags_cannot_be_updated") else {
        return;
    };
    let opts = DaemonOptions {
        debug: true,
        extra_args: vec!["--label".into(), "fixed=1".into()],
        ..DaemonOptions::default()
    };
    let d = Daemon::start(&bins, opts).must("start pouchd");
    d.pouch(&["updatedaemon", "--label", "x=y"])
        .fails()
        .says("--label was given on pouchd's command line")
        .says(&format!(
            "into the config file {}",
            config_path(&d).display()
        ));
    d.pouch(&[
        "updatedaemon",
        "--debug=false",
        "--insecure-registry",
        "10.0.0.0/8",
    ])
    .fails()
    .says("--debug was given on pouchd's command line");
    let i = info(&d);
    assert_eq!(i["Labels"], json!(["fixed=1"]));
    assert_eq!(i["Debug"], true);
    assert!(!i["RegistryConfig"]["InsecureRegistryCIDRs"]
        .as_array()
        .unwrap()
        .contains(&json!("10.0.0.0/8")));
    assert_eq!(std::fs::read_to_string(config_path(&d)).unwrap(), "{}\n");
    // what no flag fixes still changes
    d.pouch(&["updatedaemon", "--insecure-registry", "10.0.0.0/8"])
        .ok();
    assert_eq!(
        config_file(&d),
        json!({"insecure-registry": ["10.0.0.0/8"]})
    );
    // the CLI refuses to send nothing
    d.pouch(&["updatedaemon"]).fails().says("nothing to update");
}

#[test]
fn raw_http_on_both_paths() {
    let Some(bins) = setup::e2e("raw_http_on_both_paths") else {
        return;
    };
    let d = Daemon::start(&bins, DaemonOptions::default()).must("start pouchd");
    let sock = d.socket();
    for (path, label) in [("/daemon/update", "a=1"), ("/v1.44/daemon/update", "b=2")] {
        let body = json!({"Labels": [label], "RegistryMirrors": ["http://127.0.0.1:5999"]});
        let (status, answer) = http::call(&sock, "POST", path, &body.to_string());
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(answer, "", "{path}: no body");
    }
    let i = info(&d);
    assert_eq!(i["Labels"], json!(["a=1", "b=2"]));
    assert_eq!(
        i["RegistryConfig"]["Mirrors"],
        json!(["http://127.0.0.1:5999/"])
    );
    for (body, says) in [
        (
            r#"{"RegistryMirrors": ["ftp://x.example"]}"#,
            "ftp://x.example",
        ),
        (r#"{"InsecureRegistries": ["10.0.0.0/99"]}"#, "10.0.0.0/99"),
        (r#"{"Labels": ["=v"]}"#, "\"=v\""),
        (
            r#"{"ImageProxy": "http://p"}"#,
            "unknown field \"ImageProxy\"",
        ),
        (r#"{"Debug": 1}"#, "invalid daemon update"),
    ] {
        let (status, answer) = http::call(&sock, "POST", "/v1.44/daemon/update", body);
        assert_eq!(status, 400, "{body}: {answer}");
        let message = http::json(&answer)["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.contains(says), "{body}: {answer}");
    }
    let after = info(&d);
    assert_eq!(after["Labels"], i["Labels"]);
    assert_eq!(after["RegistryConfig"], i["RegistryConfig"]);
    assert_eq!(
        config_file(&d),
        json!({"label": ["a=1", "b=2"], "registry-mirror": ["http://127.0.0.1:5999"]})
    );
}
