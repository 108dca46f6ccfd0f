//! `pouch upgrade` (Pouch's image hot upgrade) end to end, with two versions of one image
//! (`app:1`, `app:2`: busybox with different files, env, labels and, in 2, a `VOLUME`): a
//! running container keeps its id, name, addresses on every network (not the lowest free
//! ones), published host ports (also those `-P` picked), volume data and restart count,
//! serves the new files and loses its old rootfs; the CLI pulls a missing image first; a
//! stopped container stays stopped; `--entrypoint` and a command replace the image's. Failed
//! upgrades (an image that cannot be pulled, a missing one over raw HTTP, a command that
//! does not exist, a fault injected after the new rootfs is mounted) leave the container on
//! its old image, running, on its address, with its old files, and nothing behind. On a
//! btrfs home the disk quota moves to the new rootfs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pouch_e2e::fixtures::{self, BUSYBOX_CREATED_BY};
use pouch_e2e::image::{Compression, Format, Image, ImageSpec, Layer, LayerBuilder};
use pouch_e2e::loopfs::{self, LoopBtrfs};
use pouch_e2e::netenv::{http_get, http_sh};
use pouch_e2e::{free_port, http, setup, wait_for, Daemon, DaemonOptions, Must, Registry};
use serde_json::{json, Value};

/// The app's command: httpd on 80 and 8080 serving /app/www, and a shell that exits on
/// SIGTERM (so a stop takes a second, not the 10 s timeout).
const SERVE: &str = "trap 'exit 0' TERM; httpd -p 80 -h /app/www; httpd -p 8080 -h /app/www; \
                     while sleep 1; do :; done";

/// Version `v` of the app: busybox plus `/app/version` and `/app/www/index.html` ("v<v>"),
/// `/app/only-v<v>`, `APP_VERSION=<v>`, label `app.version=<v>`, ports 80 and 8080 exposed;
/// version 2 also declares `VOLUME /cache`.
fn app_image(v: u32) -> Image {
    let base = Layer::new(
        fixtures::busybox_rootfs_tar(),
        Compression::Gzip,
        BUSYBOX_CREATED_BY,
    );
    let text = format!("v{v}\n");
    let mut l = LayerBuilder::new();
    l.dir("app")
        .file("app/version", text.as_bytes())
        .file(&format!("app/only-v{v}"), b"x\n")
        .dir("app/www")
        .file("app/www/index.html", text.as_bytes());
    let app = Layer::new(&l.into_tar(), Compression::Gzip, "ADD app /app");
    let mut spec = ImageSpec::new(Format::Docker);
    spec.env.push(format!("APP_VERSION={v}"));
    spec.cmd = vec!["sh".into(), "-c".into(), SERVE.into()];
    spec.labels = vec![("app.version".into(), v.to_string())];
    let mut img = spec.build(vec![base, app]);
    let mut config: Value = serde_json::from_slice(&img.config).expect("config is JSON");
    config["config"]["ExposedPorts"] = json!({"80/tcp": {}, "8080/tcp": {}});
    if v == 2 {
        config["config"]["Volumes"] = json!({"/cache": {}});
    }
    img.config = serde_json::to_vec(&config).expect("serialize config");
    img.config_digest = pouch_e2e::sha256_digest(&img.config);
    let mut manifest: Value = serde_json::from_slice(&img.manifest).expect("manifest is JSON");
    manifest["config"]["digest"] = img.config_digest.clone().into();
    manifest["config"]["size"] = img.config.len().into();
    img.manifest = serde_json::to_vec_pretty(&manifest).expect("serialize manifest");
    img.manifest_digest = pouch_e2e::sha256_digest(&img.manifest);
    img
}

/// A registry with busybox, `app:1` and `app:2` (as `library/app`).
fn app_registry() -> Registry {
    let reg = setup::busybox_registry(Default::default());
    for v in [1, 2] {
        reg.push("library/app", &v.to_string(), &app_image(v))
            .must("push the app image");
    }
    reg
}

/// The address of container `name` on network `net`.
fn ip_on(d: &Daemon, name: &str, net: &str) -> String {
    d.container(name)["NetworkSettings"]["Networks"][net]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The host port published for `key` (`80/tcp`) of container `name`.
fn host_port(d: &Daemon, name: &str, key: &str) -> u16 {
    let v = d.container(name);
    v["NetworkSettings"]["Ports"][key][0]["HostPort"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{key} of {name} is not published: {}", v["NetworkSettings"]))
}

/// `cat` of a file in container `name` (trimmed), or the error output.
fn cat(d: &Daemon, name: &str, path: &str) -> String {
    let o = d.pouch(&["exec", name, "cat", path]);
    if o.success() {
        o.out().to_string()
    } else {
        format!("error: {}", o.stderr.trim())
    }
}

/// `rw-*` entries of the home's snapshots dir.
fn rw_snapshots(d: &Daemon) -> Vec<String> {
    let mut v: Vec<String> = d
        .snapshot_entries()
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| n.starts_with("rw-"))
        .collect();
    v.sort();
    v
}

/// Names of all volumes.
fn volumes(d: &Daemon) -> Vec<String> {
    let mut v: Vec<String> = d
        .pouch(&["volume", "ls", "-q"])
        .ok()
        .stdout
        .split_whitespace()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// The container events named `action` so far.
fn events(d: &Daemon, action: &str) -> Vec<Value> {
    let until = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let filters = format!("{{\"event\":[\"{action}\"]}}");
    let (status, body) = http::call(
        &d.socket(),
        "GET",
        &format!(
            "/events?since=0&until={until}&filters={}",
            urlencode(&filters)
        ),
        "",
    );
    assert_eq!(status, 200, "{body}");
    body.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What must not change over an upgrade, read from inspect.
fn identity(v: &Value) -> Value {
    json!({
        "Id": v["Id"],
        "Name": v["Name"],
        "Networks": v["NetworkSettings"]["Networks"]
            .as_object()
            .map(|n| n.iter().map(|(k, e)| (k.clone(), json!([e["IPAddress"], e["MacAddress"]]))).collect::<serde_json::Map<_, _>>()),
        "Ports": v["NetworkSettings"]["Ports"],
        "RestartCount": v["RestartCount"],
        "HostConfig": v["HostConfig"],
    })
}

#[test]
fn running_container_keeps_identity_network_ports_and_volumes() {
    let Some(bins) = setup::e2e("running_container_keeps_identity_network_ports_and_volumes")
    else {
        return;
    };
    let reg = app_registry();
    let d = Daemon::start(&bins, DaemonOptions::with_mirror(&reg.url())).must("start pouchd");
    d.pouch(&["pull", "app:1"]).ok();
    let subnet = d.net().subnet(0);
    d.pouch(&["network", "create", "--subnet", &subnet, "upnet"])
        .ok();
    // `first` holds the lowest addresses until web has the next ones, then goes: a start
    // that did not ask for web's addresses would get the lower ones.
    d.pouch(&["run", "-d", "--name", "first", "busybox", "sleep", "300"])
        .ok();
    d.pouch(&["network", "connect", "upnet", "first"]).ok();
    let p1 = free_port();
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "web",
        "--restart",
        "always",
        "-p",
        &format!("{p1}:80"),
        "-P",
        "-v",
        "data:/data",
        "-e",
        "MINE=1",
        "app:1",
    ])
    .ok();
    d.pouch(&["network", "connect", "upnet", "web"]).ok();
    d.pouch(&["rm", "-f", "first"]).ok();
    let before = d.container("web");
    let (bridge_ip, user_ip) = (ip_on(&d, "web", "bridge"), ip_on(&d, "web", "upnet"));
    assert!(!bridge_ip.is_empty() && !user_ip.is_empty(), "{before}");
    let p2 = host_port(&d, "web", "8080/tcp");
    assert_eq!(host_port(&d, "web", "80/tcp"), p1);
    let up = wait_for(Duration::from_secs(10), || {
        http_get(&format!("127.0.0.1:{p1}")).filter(|b| b == "v1\n")
    });
    assert!(up.is_some(), "app:1 answers on {p1}");
    d.pouch(&[
        "exec",
        "web",
        "sh",
        "-c",
        "echo kept > /data/keep; echo gone > /tmp/scratch",
    ])
    .ok();
    let id = before["Id"].as_str().unwrap().to_string();
    let v1_id = d.inspect("app:1")["Id"].as_str().unwrap().to_string();

    // app:2 is not here yet: the CLI pulls it first, as `pouch run` does.
    let o = d.pouch(&["upgrade", "--image", "app:2", "web"]);
    o.ok().says("Unable to find image 'app:2' locally");
    assert_eq!(o.out(), "web", "{o}");
    let after = d.container("web");
    assert_eq!(identity(&after), identity(&before));
    assert_eq!(ip_on(&d, "web", "bridge"), bridge_ip);
    assert_eq!(ip_on(&d, "web", "upnet"), user_ip);
    assert_eq!(after["State"]["Running"], true, "{}", after["State"]);
    assert_ne!(after["State"]["StartedAt"], before["State"]["StartedAt"]);
    let v2_id = d.inspect("app:2")["Id"].as_str().unwrap().to_string();
    assert_eq!(after["Image"], v2_id.as_str());
    assert_eq!(after["Config"]["Image"], "app:2");
    let env: Vec<&str> = after["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        env.contains(&"APP_VERSION=2") && env.contains(&"MINE=1"),
        "{env:?}"
    );
    assert!(!env.contains(&"APP_VERSION=1"), "{env:?}");
    assert_eq!(after["Config"]["Labels"]["app.version"], "2");

    // The new files, on the same ports (the fixed one and the one -P picked) and address.
    let served = wait_for(Duration::from_secs(10), || {
        http_get(&format!("127.0.0.1:{p1}")).filter(|b| b == "v2\n")
    });
    assert!(served.is_some(), "app:2 answers on {p1}");
    assert_eq!(
        http_get(&format!("127.0.0.1:{p2}")).as_deref(),
        Some("v2\n")
    );
    d.pouch(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        &http_sh(&bridge_ip, 80),
    ])
    .ok()
    .says("v2");
    assert_eq!(cat(&d, "web", "/app/version"), "v2");
    assert_eq!(cat(&d, "web", "/app/only-v2"), "x");
    assert!(
        cat(&d, "web", "/app/only-v1").starts_with("error"),
        "the old image's file"
    );
    assert!(
        cat(&d, "web", "/tmp/scratch").starts_with("error"),
        "the rootfs is a fresh one"
    );
    assert_eq!(cat(&d, "web", "/data/keep"), "kept", "the volume's data");
    // The new image's VOLUME got an anonymous volume; the named one is still mounted.
    let mounts = after["Mounts"].as_array().unwrap();
    let dests: Vec<&str> = mounts
        .iter()
        .filter_map(|m| m["Destination"].as_str())
        .collect();
    assert!(
        dests.contains(&"/data") && dests.contains(&"/cache"),
        "{mounts:?}"
    );
    assert_eq!(volumes(&d).len(), 2, "data and the anonymous /cache");

    // One read-write snapshot, one upgrade event, the old image free to go.
    assert_eq!(rw_snapshots(&d), [format!("rw-{id}")]);
    let ev = events(&d, "upgrade");
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["Actor"]["Attributes"]["image"], "app:2");
    assert_eq!(ev[0]["Actor"]["Attributes"]["name"], "web");
    assert_eq!(ev[0]["Actor"]["ID"], id.as_str());
    d.pouch(&["rmi", "app:1"]).ok();
    assert!(!d
        .pouch(&["images", "-q", "--no-trunc"])
        .ok()
        .stdout
        .contains(&v1_id));
    // The stop for the upgrade was not a crash: `--restart always` did not count it.
    std::thread::sleep(Duration::from_millis(1500));
    let later = d.container("web");
    assert_eq!(later["RestartCount"], 0);
    assert_eq!(later["State"]["Running"], true);
}

#[test]
fn entrypoint_command_and_stopped_containers() {
    let Some(bins) = setup::e2e("entrypoint_command_and_stopped_containers") else {
        return;
    };
    let reg = app_registry();
    let d = Daemon::start(&bins, DaemonOptions::with_mirror(&reg.url())).must("start pouchd");
    d.pouch(&["pull", "app:1"]).ok();
    d.pouch(&["pull", "app:2"]).ok();

    // A stopped container stays stopped, with the new entrypoint and command.
    d.pouch(&["run", "-d", "--name", "stopped", "app:1"]).ok();
    d.pouch(&["stop", "stopped"]).ok();
    let before = d.container("stopped");
    d.pouch(&[
        "upgrade",
        "--image",
        "app:2",
        "--entrypoint",
        "/bin/cat",
        "stopped",
        "/app/version",
    ])
    .ok();
    let v = d.container("stopped");
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["StartedAt"], before["State"]["StartedAt"]);
    assert_eq!(v["Config"]["Entrypoint"], json!(["/bin/cat"]));
    assert_eq!(v["Config"]["Cmd"], json!(["/app/version"]));
    assert_eq!(v["Path"], "/bin/cat");
    assert_eq!(v["Args"], json!(["/app/version"]));
    d.pouch(&["start", "-a", "stopped"]).ok().says("v2");

    // A command alone replaces the image's (app has no entrypoint); the env is app:1's.
    d.pouch(&[
        "upgrade",
        "--image",
        "app:1",
        "stopped",
        "sh",
        "-c",
        "echo $APP_VERSION; cat /app/version",
    ])
    .ok();
    let v = d.container("stopped");
    assert_eq!(v["Config"]["Entrypoint"], Value::Null);
    assert_eq!(v["Config"]["Cmd"][0], "sh");
    let o = d.pouch(&["start", "-a", "stopped"]);
    assert_eq!(o.ok().out(), "1\nv1");

    // A created container stays created, and takes the new image's command.
    d.pouch(&["create", "--name", "made", "app:1", "true"]).ok();
    d.pouch(&["upgrade", "--image", "app:2", "made"]).ok();
    let v = d.container("made");
    assert_eq!(v["State"]["Status"], "created");
    assert_eq!(v["Config"]["Cmd"], json!(["sh", "-c", SERVE]));
    assert_eq!(v["Config"]["Image"], "app:2");

    // Refusals that change nothing: the same image, a paused container, an unknown one.
    d.pouch(&["upgrade", "--image", "app:2", "made"])
        .fails()
        .says("already has image app:2")
        .says("nothing to upgrade");
    d.pouch(&["run", "-d", "--name", "frozen", "app:1"]).ok();
    d.pouch(&["pause", "frozen"]).ok();
    d.pouch(&["upgrade", "--image", "app:2", "frozen"])
        .fails()
        .says("cannot upgrade container frozen: it is paused: unpause it first");
    assert_eq!(d.container("frozen")["Config"]["Image"], "app:1");
    d.pouch(&["unpause", "frozen"]).ok();
    d.pouch(&["upgrade", "--image", "app:2", "nosuch"])
        .fails()
        .says("No such container: nosuch");
    d.pouch(&["upgrade", "app:2"]).fails();
}

#[test]
fn failed_upgrades_put_the_container_back() {
    let Some(bins) = setup::e2e("failed_upgrades_put_the_container_back") else {
        return;
    };
    let reg = app_registry();
    let mut d = Daemon::start(&bins, DaemonOptions::with_mirror(&reg.url())).must("start pouchd");
    d.pouch(&["pull", "app:1"]).ok();
    d.pouch(&["pull", "app:2"]).ok();
    // `first` takes the lowest address, then goes (see the test above).
    d.pouch(&["run", "-d", "--name", "first", "busybox", "sleep", "300"])
        .ok();
    let p = free_port();
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &format!("{p}:80"),
        "-P",
        "app:1",
    ])
    .ok();
    d.pouch(&["rm", "-f", "first"]).ok();
    let up = wait_for(Duration::from_secs(10), || {
        http_get(&format!("127.0.0.1:{p}")).filter(|b| b == "v1\n")
    });
    assert!(up.is_some(), "app:1 answers on {p}");
    d.pouch(&["exec", "web", "sh", "-c", "echo mine > /tmp/marker"])
        .ok();
    let before = d.container("web");
    let id = before["Id"].as_str().unwrap().to_string();
    let ip = ip_on(&d, "web", "bridge");
    let p2 = host_port(&d, "web", "8080/tcp");
    let vols = volumes(&d);
    let same = |d: &Daemon, restarted: bool| {
        let v = d.container("web");
        assert_eq!(identity(&v), identity(&before));
        assert_eq!(v["State"]["Running"], true, "{}", v["State"]);
        assert_eq!(v["Config"], before["Config"]);
        assert_eq!(v["Image"], before["Image"]);
        assert_eq!(v["Mounts"], before["Mounts"]);
        assert_eq!(
            v["State"]["StartedAt"] != before["State"]["StartedAt"],
            restarted,
            "restarted: {restarted}"
        );
        assert_eq!(ip_on(d, "web", "bridge"), ip);
        let served = wait_for(Duration::from_secs(10), || {
            http_get(&format!("127.0.0.1:{p}")).filter(|b| b == "v1\n")
        });
        assert!(served.is_some(), "app:1 answers on {p} again");
        assert_eq!(
            http_get(&format!("127.0.0.1:{p2}")).as_deref(),
            Some("v1\n")
        );
        assert_eq!(cat(d, "web", "/app/version"), "v1");
        assert_eq!(
            cat(d, "web", "/tmp/marker"),
            "mine",
            "the old rootfs is back"
        );
        assert_eq!(rw_snapshots(d), [format!("rw-{id}")]);
        assert_eq!(volumes(d), vols, "no volume made or lost");
    };

    // An image the registry does not have: the CLI's pull fails, nothing changes.
    d.pouch(&["upgrade", "--image", "app:nope", "web"])
        .fails()
        .says("Unable to find image 'app:nope' locally")
        .says("app");
    same(&d, false);

    // A missing image over the API: 404 naming it, nothing changes.
    for path in [
        "/containers/web/upgrade".to_string(),
        format!("/v1.44/containers/{id}/upgrade"),
    ] {
        let (status, body) = http::call(&d.socket(), "POST", &path, r#"{"Image":"app:missing"}"#);
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(http::json(&body)["message"], "No such image: app:missing");
    }
    let (status, body) = http::call(&d.socket(), "POST", "/v1.44/containers/web/upgrade", "");
    assert_eq!(status, 400, "{body}");
    same(&d, false);

    // A command that does not exist: the start fails, app:1 runs again where it was.
    let o = d.pouch(&["upgrade", "--image", "app:2", "web", "/no/such/exe"]);
    o.fails()
        .says("upgrade of web to app:2 failed at start:")
        .says("/no/such/exe")
        .says("; the container is back on app:1");
    println!("bad command: {}", o.stderr.trim());
    same(&d, true);

    // A fault after the new rootfs and its anonymous volume are made: both are undone.
    d.restart_with_env(&[("POUCH_FAULT", "upgrade.rootfs")])
        .must("restart pouchd with a fault");
    let o = d.pouch(&["upgrade", "--image", "app:2", "web"]);
    if o.stderr.contains("injected fault") {
        o.fails()
            .says("upgrade of web to app:2 failed at rootfs: injected fault at upgrade.rootfs; the container is back on app:1");
        same(&d, true);
    } else {
        // A release build has no fault points: the upgrade simply works.
        o.ok();
        pouch_e2e::skip(
            "failed_upgrades_put_the_container_back (fault point)",
            "pouchd is a release build",
        );
        return;
    }
    d.restart_with_env(&[]).must("restart pouchd");

    // Over raw HTTP with the API version, by id: 200 and the new image.
    let (status, body) = http::call(
        &d.socket(),
        "POST",
        &format!("/v1.44/containers/{id}/upgrade"),
        r#"{"Image":"app:2","Cmd":["sh","-c","httpd -f -p 80 -h /app/www"]}"#,
    );
    assert_eq!(status, 200, "{body}");
    let v = d.container("web");
    assert_eq!(v["Config"]["Image"], "app:2");
    assert_eq!(v["Config"]["Cmd"][2], "httpd -f -p 80 -h /app/www");
    assert_eq!(ip_on(&d, "web", "bridge"), ip);
    let served = wait_for(Duration::from_secs(10), || {
        http_get(&format!("127.0.0.1:{p}")).filter(|b| b == "v2\n")
    });
    assert!(served.is_some(), "app:2 answers on {p}");
    assert_eq!(rw_snapshots(&d), [format!("rw-{id}")]);
}

#[test]
fn disk_quota_moves_to_the_new_rootfs_on_btrfs() {
    let test = "disk_quota_moves_to_the_new_rootfs_on_btrfs";
    let Some(bins) = setup::e2e(test) else {
        return;
    };
    if !loopfs::require_btrfs(test) {
        return;
    }
    let fs = LoopBtrfs::new(512).must("make a loop btrfs");
    let home = fs.path().join("home");
    std::fs::create_dir(&home).expect("home dir on the loop btrfs");
    let reg = app_registry();
    let d = Daemon::start(
        &bins,
        DaemonOptions {
            mirrors: vec![reg.url()],
            home: Some(home),
            ..DaemonOptions::default()
        },
    )
    .must("start pouchd on the loop btrfs");
    d.pouch(&["pull", "app:1"]).ok();
    d.pouch(&["pull", "app:2"]).ok();
    d.pouch(&[
        "run",
        "-d",
        "--disk-quota",
        "10m",
        "--name",
        "quota",
        "app:1",
    ])
    .ok();
    let id = d.container("quota")["Id"].as_str().unwrap().to_string();
    let rel = format!("home/snapshots/rw-{id}");
    let subvol = |fs: &LoopBtrfs| {
        fs.subvolumes()
            .must("btrfs subvolume list")
            .into_iter()
            .filter(|(_, p)| p.starts_with("home/snapshots/rw-"))
            .collect::<Vec<_>>()
    };
    let before = subvol(&fs);
    assert_eq!(fs.limit_of(&rel).must("qgroup limit"), 10 << 20);

    d.pouch(&["upgrade", "--image", "app:2", "quota"]).ok();
    let after = subvol(&fs);
    assert_eq!(after.len(), 1, "only the new rootfs: {after:?}");
    assert_eq!(after[0].1, rel);
    assert_ne!(after[0].0, before[0].0, "a new subvolume");
    assert_eq!(fs.limit_of(&rel).must("qgroup limit"), 10 << 20);
    assert_eq!(
        d.container("quota")["Config"]["DiskQuota"],
        json!({"/": "10m"})
    );
    d.pouch(&[
        "exec",
        "quota",
        "sh",
        "-c",
        "dd if=/dev/zero of=/big bs=1M count=20 && sync",
    ])
    .fails()
    .says("Disk quota exceeded");
    assert_eq!(cat(&d, "quota", "/app/version"), "v2");
    d.pouch(&["rm", "-f", "quota"]).ok();
    drop(d);
    drop(fs);
}
