//! Tests of the whole flag set: argv in, create body out, compared with what docker sends.

use super::*;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(disable_help_flag = true)]
struct Harness {
    #[command(flatten)]
    opts: ContainerOpts,
    #[arg(required = true, num_args = 1.., trailing_var_arg = true)]
    args: Vec<String>,
}

fn build(argv: &[&str]) -> Result<ContainerCreateBody, OptsError> {
    let mut full = vec!["run"];
    full.extend_from_slice(argv);
    let h = Harness::try_parse_from(full).unwrap();
    h.opts
        .build(
            &h.args,
            &|k| (k == "FROM_HOST").then(|| "x".into()),
            Some((40, 120)),
        )
        .map(|r| r.body)
}

#[test]
fn defaults_match_what_docker_sends() {
    let body = build(&["busybox"]).unwrap();
    let v = serde_json::to_value(&body).unwrap();
    assert_eq!(v["Image"], "busybox");
    assert_eq!(v["Cmd"], serde_json::Value::Null);
    assert_eq!(v["Env"], serde_json::Value::Null);
    assert_eq!(v["AttachStdout"], true);
    assert_eq!(v["AttachStderr"], true);
    assert_eq!(v["AttachStdin"], false);
    assert_eq!(v["OpenStdin"], false);
    assert_eq!(v["StdinOnce"], false);
    let hc = &v["HostConfig"];
    assert_eq!(hc["NetworkMode"], "default");
    assert_eq!(hc["RestartPolicy"]["Name"], "no");
    assert_eq!(hc["ConsoleSize"], serde_json::json!([0, 0]));
    assert_eq!(hc["AutoRemove"], false);
    assert!(v["NetworkingConfig"]["EndpointsConfig"]["default"].is_object());
}

#[test]
fn command_after_the_image_keeps_its_flags() {
    let body = build(&["--rm", "-e", "A=1", "busybox", "ls", "-l", "-e", "x"]).unwrap();
    assert_eq!(
        body.config.cmd.unwrap(),
        ["ls", "-l", "-e", "x"].map(String::from)
    );
    assert_eq!(body.config.env.unwrap(), ["A=1"]);
    assert!(body.host_config.unwrap().auto_remove);
}

#[test]
fn interactive_tty_sets_the_stream_fields() {
    let body = build(&["-it", "busybox", "sh"]).unwrap();
    let c = &body.config;
    assert!(c.tty && c.open_stdin && c.stdin_once && c.attach_stdin);
    assert_eq!(body.host_config.unwrap().console_size, [40, 120]);
    let body = build(&["-a", "STDERR", "busybox"]).unwrap();
    assert!(!body.config.attach_stdout && body.config.attach_stderr);
    assert!(!body.config.stdin_once);
}

#[test]
fn resources_and_limits() {
    let body = build(&[
        "-m",
        "64m",
        "--memory-swap",
        "-1",
        "--cpus",
        "1.5",
        "-c",
        "512",
        "--cpu-quota",
        "-1",
        "--pids-limit",
        "-1",
        "--ulimit",
        "nofile=10:20",
        "--ulimit",
        "nofile=30:40",
        "--device",
        "/dev/fuse",
        "--device-read-bps",
        "/dev/sda:1mb",
        "--oom-score-adj",
        "-500",
        "--shm-size",
        "1g",
        "busybox",
    ])
    .unwrap();
    let hc = body.host_config.unwrap();
    let r = &hc.resources;
    assert_eq!(r.memory, 64 << 20);
    assert_eq!(r.memory_swap, -1);
    assert_eq!(r.nano_cpus, 1_500_000_000);
    assert_eq!(r.cpu_shares, 512);
    assert_eq!(r.cpu_quota, -1);
    assert_eq!(r.pids_limit, Some(-1));
    assert_eq!(r.ulimits.len(), 1);
    assert_eq!((r.ulimits[0].soft, r.ulimits[0].hard), (30, 40));
    assert_eq!(r.devices[0].path_in_container, "/dev/fuse");
    assert_eq!(r.blkio_device_read_bps[0].rate, 1 << 20);
    assert_eq!(hc.oom_score_adj, -500);
    assert_eq!(hc.shm_size, 1 << 30);
}

#[test]
fn flag_errors_read_like_docker() {
    let e = build(&["-m", "abc", "busybox"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid argument \"abc\" for \"-m, --memory\" flag: invalid size: 'abc'"
    );
    let e = build(&["--cpus", "x", "busybox"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid argument \"x\" for \"--cpus\" flag: failed to parse x as a rational number"
    );
    let e = build(&["--ulimit", "nofile", "busybox"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid argument \"nofile\" for \"--ulimit\" flag: invalid ulimit argument: nofile"
    );
    let e = build(&["--restart", "on-failure:x", "busybox"]).unwrap_err();
    assert!(e
        .to_string()
        .contains("maximum retry count must be an integer"));
    assert!(build(&["-p", "abc", "busybox"]).is_err());
    assert!(build(&["-a", "all", "busybox"]).is_err());
    assert!(build(&["--pid", "bogus", "busybox"]).is_err());
    assert!(build(&["--detach-keys", "ctrl-1", "busybox"]).is_err());
    assert!(build(&["-v", "data", "busybox"]).is_err());
}

#[test]
fn ports_volumes_env_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("env");
    std::fs::write(&env_file, "# c\nA=file\nFROM_HOST\n").unwrap();
    let env_arg = env_file.to_str().unwrap().to_string();
    let body = build(&[
        "-p",
        "8080:80",
        "-p",
        "127.0.0.1:9090:80",
        "--expose",
        "443",
        "-v",
        "/tmp:/host:ro",
        "-v",
        "/data",
        "-v",
        "myvol:/vol",
        "--env-file",
        &env_arg,
        "-e",
        "A=flag",
        "-l",
        "a=b",
        "-l",
        "flag",
        "--restart",
        "on-failure:3",
        "--entrypoint",
        "",
        "--network",
        "host",
        "busybox",
    ])
    .unwrap();
    let v = serde_json::to_value(&body).unwrap();
    assert_eq!(
        v["ExposedPorts"],
        serde_json::json!({"80/tcp": {}, "443/tcp": {}})
    );
    assert_eq!(
        v["HostConfig"]["PortBindings"]["80/tcp"],
        serde_json::json!([
            {"HostIp": "", "HostPort": "8080"},
            {"HostIp": "127.0.0.1", "HostPort": "9090"}
        ])
    );
    assert_eq!(
        v["HostConfig"]["Binds"],
        serde_json::json!(["/tmp:/host:ro", "myvol:/vol"])
    );
    assert_eq!(v["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(
        v["Env"],
        serde_json::json!(["A=file", "FROM_HOST=x", "A=flag"])
    );
    assert_eq!(v["Labels"], serde_json::json!({"a": "b", "flag": ""}));
    assert_eq!(
        v["HostConfig"]["RestartPolicy"],
        serde_json::json!({"Name": "on-failure", "MaximumRetryCount": 3})
    );
    assert_eq!(v["Entrypoint"], serde_json::json!([""]));
    assert_eq!(v["HostConfig"]["NetworkMode"], "host");
    assert!(v["NetworkingConfig"]["EndpointsConfig"]["host"].is_object());
}
