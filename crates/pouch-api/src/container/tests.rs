//! Wire-format tests: what real clients send, and Docker's key spellings.

use serde_json::{json, Value};

use super::*;

/// The body docker CLI 28 sends for `docker run --rm busybox echo hi`.
const DOCKER_RUN_BODY: &str = r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,
"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,
"Env":null,"Cmd":["echo","hi"],"Image":"busybox","Volumes":null,"WorkingDir":"",
"Entrypoint":null,"OnBuild":null,"Labels":{},
"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":null},
"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},
"AutoRemove":true,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"Annotations":null,
"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],
"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,
"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,
"SecurityOpt":null,"StorageOpt":null,"Tmpfs":null,"UTSMode":"","UsernsMode":"","ShmSize":0,
"Sysctls":null,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"",
"BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],
"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,
"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],
"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,
"MemorySwappiness":null,"OomKillDisable":null,"PidsLimit":null,"Ulimits":null,"CpuCount":0,
"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"Mounts":null,"MaskedPaths":null,
"ReadonlyPaths":null,"Init":null},
"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,
"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"",
"EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"",
"GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}"#;

#[test]
fn docker_cli_run_body_deserializes() {
    let body: ContainerCreateBody = serde_json::from_str(DOCKER_RUN_BODY).unwrap();
    assert_eq!(body.config.image, "busybox");
    assert_eq!(
        body.config.cmd,
        Some(vec!["echo".to_string(), "hi".to_string()])
    );
    assert_eq!(body.config.env, None);
    assert!(body.config.attach_stdout && body.config.attach_stderr);
    let hc = body.host_config.as_ref().unwrap();
    assert!(hc.auto_remove);
    assert_eq!(hc.network_mode, "default");
    assert_eq!(hc.restart_policy.name, "no");
    assert_eq!(hc.binds, None);
    assert!(hc.log_config.config.is_empty());
    assert_eq!(hc.console_size, [0, 0]);
    assert_eq!(hc.resources.pids_limit, None);
    assert_eq!(hc.resources.memory_swappiness, None);
    assert!(hc.resources.ulimits.is_empty());
    assert_eq!(hc.mounts, None);
    let nc = body.networking_config.as_ref().unwrap();
    let ep = &nc.endpoints_config["default"];
    assert_eq!(ep.ipam_config, None);
    assert_eq!(ep.aliases, None);

    // What we emit reads back the same.
    let again: ContainerCreateBody =
        serde_json::from_value(serde_json::to_value(&body).unwrap()).unwrap();
    assert_eq!(again, body);
}

#[test]
fn minimal_body_and_string_cmd() {
    let body: ContainerCreateBody =
        serde_json::from_str(r#"{"Image":"busybox","Cmd":"echo hi","Entrypoint":null}"#).unwrap();
    assert_eq!(body.config.cmd, Some(vec!["echo hi".to_string()]));
    assert_eq!(body.config.entrypoint, None);
    assert_eq!(body.host_config, None);
    let body: ContainerCreateBody = serde_json::from_str("{}").unwrap();
    assert_eq!(body, ContainerCreateBody::default());
}

#[test]
fn null_strings_and_maps_read_as_empty() {
    let cfg: ContainerConfig =
        serde_json::from_str(r#"{"Hostname":null,"Labels":null,"WorkingDir":null}"#).unwrap();
    assert_eq!(cfg.hostname, "");
    assert!(cfg.labels.is_empty());
    let hc: HostConfig = serde_json::from_str(
        r#"{"LogConfig":null,"PortBindings":null,"RestartPolicy":null,"ConsoleSize":null,
            "Memory":null,"Ulimits":null,"Tmpfs":null,"CpusetCpus":null}"#,
    )
    .unwrap();
    assert_eq!(hc, HostConfig::default());
}

#[test]
fn host_config_flattens_resources() {
    let hc: HostConfig = serde_json::from_str(
        r#"{"Memory":1048576,"PidsLimit":100,"Ulimits":[{"Name":"nofile","Soft":1024,"Hard":2048}],
            "BlkioDeviceReadIOps":[{"Path":"/dev/sda","Rate":10}],"Init":true,
            "PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}],"443/tcp":null}}"#,
    )
    .unwrap();
    assert_eq!(hc.resources.memory, 1 << 20);
    assert_eq!(hc.resources.pids_limit, Some(100));
    assert_eq!(hc.resources.init, Some(true));
    assert_eq!(hc.resources.ulimits[0].hard, 2048);
    assert_eq!(hc.resources.blkio_device_read_iops[0].rate, 10);
    assert_eq!(
        hc.port_bindings["80/tcp"].as_ref().unwrap()[0].host_port,
        "8080"
    );
    assert_eq!(hc.port_bindings["443/tcp"], None);
    let v = serde_json::to_value(&hc).unwrap();
    assert_eq!(v["Memory"], json!(1048576));
    assert_eq!(v["UTSMode"], json!(""));
    assert_eq!(v["ContainerIDFile"], json!(""));
    assert!(v.get("KernelMemoryTCP").is_none());
    assert!(v.get("Mounts").is_none());
    assert_eq!(v["Binds"], Value::Null);
}

#[test]
fn update_body_keeps_null_pids_limit_and_restart_policy() {
    let up: ContainerUpdate = serde_json::from_str(
        r#"{"CpuShares":512,"PidsLimit":null,"RestartPolicy":{"Name":"always","MaximumRetryCount":0}}"#,
    )
    .unwrap();
    assert_eq!(up.resources.cpu_shares, 512);
    assert_eq!(up.resources.pids_limit, None);
    assert_eq!(up.restart_policy.unwrap().name, "always");
    let up: ContainerUpdate = serde_json::from_str(r#"{"Memory":0}"#).unwrap();
    assert_eq!(up.restart_policy, None);
}

#[test]
fn wait_response_error_is_null_or_object() {
    let ok = WaitResponse {
        status_code: 0,
        error: None,
    };
    assert_eq!(
        serde_json::to_string(&ok).unwrap(),
        r#"{"StatusCode":0,"Error":null}"#
    );
    let failed = WaitResponse {
        status_code: 125,
        error: Some(WaitExitError {
            message: "container removed".into(),
        }),
    };
    assert_eq!(
        serde_json::to_value(&failed).unwrap(),
        json!({"StatusCode":125,"Error":{"Message":"container removed"}})
    );
    let back: WaitResponse = serde_json::from_str(r#"{"StatusCode":3}"#).unwrap();
    assert_eq!(
        back,
        WaitResponse {
            status_code: 3,
            error: None
        }
    );
}

#[test]
fn key_spellings() {
    let st = serde_json::to_value(ContainerState::default()).unwrap();
    assert_eq!(st["OOMKilled"], json!(false));
    assert_eq!(st["StartedAt"], json!(ZERO_TIME));
    assert_eq!(st["FinishedAt"], json!(ZERO_TIME));

    let ep = serde_json::to_value(EndpointSettings::default()).unwrap();
    for key in [
        "IPAMConfig",
        "NetworkID",
        "EndpointID",
        "IPAddress",
        "IPPrefixLen",
        "IPv6Gateway",
        "GlobalIPv6Address",
        "GlobalIPv6PrefixLen",
        "DNSNames",
        "MacAddress",
        "DriverOpts",
    ] {
        assert!(ep.get(key).is_some(), "EndpointSettings lacks {key}: {ep}");
    }

    let ns = serde_json::to_value(NetworkSettings::default()).unwrap();
    for key in [
        "SandboxID",
        "LinkLocalIPv6Address",
        "SecondaryIPAddresses",
        "IPAddress",
    ] {
        assert!(ns.get(key).is_some(), "NetworkSettings lacks {key}");
    }

    let ex = serde_json::to_value(ExecInspect::default()).unwrap();
    assert!(ex.get("ID").is_some() && ex.get("ContainerID").is_some());
    assert_eq!(ex["ExitCode"], Value::Null);
    assert!(ex["ProcessConfig"].get("entrypoint").is_some());
    assert!(ex["ProcessConfig"].get("arguments").is_some());

    let inspect = serde_json::to_value(ContainerInspect::default()).unwrap();
    assert!(inspect.get("Id").is_some() && inspect.get("ExecIDs").is_some());
    assert!(inspect.get("SizeRw").is_none() && inspect.get("SizeRootFs").is_none());
    assert_eq!(inspect["State"]["Status"], json!(""));

    let mp = MountPoint {
        kind: "bind".into(),
        rw: true,
        ..Default::default()
    };
    let mp = serde_json::to_value(mp).unwrap();
    assert_eq!(mp["RW"], json!(true));
    assert_eq!(mp["Type"], json!("bind"));
    assert!(mp.get("Name").is_none() && mp.get("Driver").is_none());

    let port = Port {
        private_port: 80,
        kind: "tcp".into(),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(port).unwrap(),
        json!({"PrivatePort":80,"Type":"tcp"})
    );
    let summary = serde_json::to_value(ContainerSummary::default()).unwrap();
    assert!(summary.get("ImageID").is_some() && summary.get("SizeRw").is_none());
}

#[test]
fn event_message_keys() {
    let ev = EventMessage {
        status: "start".into(),
        id: "abc".into(),
        from: "busybox".into(),
        kind: "container".into(),
        action: "start".into(),
        actor: EventActor {
            id: "abc".into(),
            attributes: [("name".into(), "web".into())].into(),
        },
        scope: "local".into(),
        time: 1,
        time_nano: 1_000_000_000,
    };
    assert_eq!(
        serde_json::to_value(&ev).unwrap(),
        json!({"status":"start","id":"abc","from":"busybox","Type":"container","Action":"start",
               "Actor":{"ID":"abc","Attributes":{"name":"web"}},"scope":"local","time":1,
               "timeNano":1_000_000_000i64})
    );
    let net = EventMessage {
        kind: "network".into(),
        ..Default::default()
    };
    let v = serde_json::to_value(net).unwrap();
    assert!(v.get("status").is_none() && v.get("id").is_none() && v.get("from").is_none());
}

#[test]
fn exec_bodies_from_the_cli() {
    let cfg: ExecConfig = serde_json::from_str(
        r#"{"User":"","Privileged":false,"Tty":true,"ConsoleSize":[24,80],"AttachStdin":true,
            "AttachStderr":true,"AttachStdout":true,"Detach":false,"DetachKeys":"","Env":null,
            "WorkingDir":"","Cmd":["sh"]}"#,
    )
    .unwrap();
    assert_eq!(cfg.console_size, Some([24, 80]));
    assert_eq!(cfg.cmd, Some(vec!["sh".to_string()]));
    let start: ExecStartConfig =
        serde_json::from_str(r#"{"Detach":false,"Tty":true,"ConsoleSize":null}"#).unwrap();
    assert!(start.tty && start.console_size.is_none());
}

#[test]
fn stats_shape() {
    let s = ContainerStats {
        name: "/web".into(),
        ..Default::default()
    };
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["preread"], json!(ZERO_TIME));
    assert!(v["cpu_stats"]["cpu_usage"].get("total_usage").is_some());
    assert!(v["cpu_stats"].get("throttling_data").is_some());
    assert_eq!(v["blkio_stats"]["io_service_bytes_recursive"], Value::Null);
    assert!(v["memory_stats"].get("usage").is_some());
    assert!(v.get("networks").is_none());
    let back: ContainerStats = serde_json::from_value(v).unwrap();
    assert_eq!(back, s);
}
