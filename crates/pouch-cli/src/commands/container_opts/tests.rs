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
    // a single --network without endpoint options sends no endpoint (docker 28)
    assert_eq!(
        v["NetworkingConfig"]["EndpointsConfig"],
        serde_json::json!({})
    );
}

#[test]
fn dns_and_hosts_like_docker() {
    let v = serde_json::to_value(build(&["busybox"]).unwrap()).unwrap();
    let hc = &v["HostConfig"];
    assert_eq!(hc["Dns"], serde_json::json!([]));
    assert_eq!(hc["DnsOptions"], serde_json::json!([]));
    assert_eq!(hc["DnsSearch"], serde_json::json!([]));
    assert_eq!(hc["ExtraHosts"], serde_json::Value::Null);
    assert_eq!(hc["Links"], serde_json::Value::Null);
    assert!(hc.get("Mounts").is_none());
    let body = build(&[
        "--dns",
        "8.8.8.8",
        "--dns-option",
        "ndots:2",
        "--dns-search",
        "example.com.",
        "--add-host",
        "db:10.0.0.2",
        "-P",
        "-p",
        "target=53,published=5353,protocol=udp",
        "busybox",
    ])
    .unwrap();
    let v = serde_json::to_value(&body).unwrap();
    let hc = &v["HostConfig"];
    assert_eq!(hc["Dns"], serde_json::json!(["8.8.8.8"]));
    assert_eq!(hc["DnsOptions"], serde_json::json!(["ndots:2"]));
    assert_eq!(hc["DnsSearch"], serde_json::json!(["example.com"]));
    assert_eq!(hc["ExtraHosts"], serde_json::json!(["db:10.0.0.2"]));
    assert_eq!(hc["PublishAllPorts"], true);
    assert_eq!(
        hc["PortBindings"],
        serde_json::json!({"53/udp": [{"HostIp": "", "HostPort": "5353"}]})
    );
    assert_eq!(v["ExposedPorts"], serde_json::json!({"53/udp": {}}));
    assert!(build(&["--dns-search", "1bad", "busybox"]).is_err());
    assert!(build(&["--dns", "nope", "busybox"]).is_err());
}

#[test]
fn network_flags_go_to_the_endpoint() {
    // docker's run has no --alias (that is `network connect`'s flag)
    assert!(Harness::try_parse_from(["run", "--alias", "x", "busybox"]).is_err());
    let body = build(&[
        "--network",
        "mynet",
        "--ip",
        "10.9.0.5",
        "--network-alias",
        "web",
        "--net-alias",
        "www",
        "--mac-address",
        "02:42:0a:09:00:05",
        "--link",
        "db:database",
        "busybox",
    ])
    .unwrap();
    let v = serde_json::to_value(&body).unwrap();
    assert_eq!(v["HostConfig"]["NetworkMode"], "mynet");
    assert_eq!(v["HostConfig"]["Links"], serde_json::json!(["db:database"]));
    assert!(
        v.get("MacAddress").is_none(),
        "API 1.44 has it per endpoint"
    );
    let ep = &v["NetworkingConfig"]["EndpointsConfig"]["mynet"];
    assert_eq!(
        ep["IPAMConfig"],
        serde_json::json!({"IPv4Address": "10.9.0.5"})
    );
    assert_eq!(ep["Aliases"], serde_json::json!(["web", "www"]));
    assert_eq!(ep["Links"], serde_json::json!(["db:database"]));
    assert_eq!(ep["MacAddress"], "02:42:0a:09:00:05");

    // no --network: the flags go to "default"; --link stays a legacy link there
    let body = build(&["--ip", "192.168.5.9", "--link", "db", "busybox"]).unwrap();
    let v = serde_json::to_value(&body).unwrap();
    assert_eq!(v["HostConfig"]["NetworkMode"], "default");
    assert_eq!(v["HostConfig"]["Links"], serde_json::json!(["db"]));
    let ep = &v["NetworkingConfig"]["EndpointsConfig"]["default"];
    assert_eq!(ep["IPAMConfig"]["IPv4Address"], "192.168.5.9");
    assert_eq!(ep["Links"], serde_json::Value::Null);

    // the long form, and two networks
    let body = build(&[
        "--network",
        "name=a,alias=x,ip=10.1.0.2",
        "--network",
        "b",
        "busybox",
    ])
    .unwrap();
    let nc = body.networking_config.unwrap();
    assert_eq!(body.host_config.unwrap().network_mode, "a");
    assert_eq!(nc.endpoints_config.len(), 2);
    assert_eq!(
        nc.endpoints_config["a"]
            .ipam_config
            .as_ref()
            .unwrap()
            .ipv4_address,
        "10.1.0.2"
    );
    assert_eq!(nc.endpoints_config["b"], Default::default());

    let e = build(&["--network-alias", "x", "busybox"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "network-scoped aliases are only supported for user-defined networks"
    );
    let e = build(&["--mac-address", "xx", "busybox"]).unwrap_err();
    assert_eq!(e.to_string(), "xx is not a valid mac address");
    assert!(build(&["--ip", "10.0.0", "busybox"]).is_err());
    assert!(build(&["--link", "a:b:c", "busybox"]).is_err());
}

#[test]
fn mounts_and_disk_quota() {
    let body = build(&[
        "--mount",
        "type=bind,source=/tmp,target=/host,readonly",
        "--mount",
        "type=volume,src=data,dst=/data,volume-nocopy",
        "--mount",
        "type=tmpfs,target=/run,tmpfs-size=1m",
        "--disk-quota",
        "10g",
        "--disk-quota",
        "/data=5g",
        "--disk-quota",
        ".*=1g",
        "--quota-id",
        "-1",
        "--disable-network-files",
        "busybox",
    ])
    .unwrap();
    let v = serde_json::to_value(&body).unwrap();
    assert_eq!(
        v["HostConfig"]["Mounts"],
        serde_json::json!([
            {"Type": "bind", "Source": "/tmp", "Target": "/host", "ReadOnly": true},
            {"Type": "volume", "Source": "data", "Target": "/data",
             "VolumeOptions": {"NoCopy": true}},
            {"Type": "tmpfs", "Target": "/run", "TmpfsOptions": {"SizeBytes": 1048576}}
        ])
    );
    assert_eq!(
        v["DiskQuota"],
        serde_json::json!({"/": "10g", "/data": "5g", ".*": "1g"})
    );
    assert_eq!(v["QuotaID"], "-1");
    assert_eq!(v["DisableNetworkFiles"], true);

    let e = build(&["--mount", "type=bind,source=/a", "busybox"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid argument \"type=bind,source=/a\" for \"--mount\" flag: target is required"
    );
    let e = build(&["--disk-quota", "/data=lots", "busybox"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid argument \"/data=lots\" for \"--disk-quota\" flag: disk quota of /data: invalid size: 'lots'"
    );
    assert!(build(&["--quota-id", "x", "busybox"]).is_err());
}
