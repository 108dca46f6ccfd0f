//! Volumes with the docker CLI (API 1.44) against pouchd: `docker volume create/ls/inspect/
//! rm/prune`, `docker run` with `-v` (named, anonymous, host paths, `:ro`), `--mount`
//! (volume, bind, tmpfs), `--tmpfs`, a volume in use (409), `docker cp` into and out of a
//! volume of a running and of a never-started container, `system df -v` and volume events.

use std::path::PathBuf;

use pouch_e2e::setup::{self, Cleanup};
use pouch_e2e::{require_docker_cli, CmdOutput, Daemon};
use serde_json::{json, Value};

/// `docker <line>`, the line split on spaces (no argument here has one).
fn dk(d: &Daemon, line: &str) -> CmdOutput {
    d.docker(&line.split_whitespace().collect::<Vec<_>>())
}

/// `docker <line> sh -c <script>`.
fn dsh(d: &Daemon, line: &str, script: &str) -> CmdOutput {
    let mut args: Vec<&str> = line.split_whitespace().collect();
    args.extend(["sh", "-c", script]);
    d.docker(&args)
}

fn now() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

/// The names `docker volume ls -q` prints with `filters`, sorted.
#[track_caller]
fn vls(d: &Daemon, filters: &[&str]) -> Vec<String> {
    let mut args = vec!["volume", "ls", "-q"];
    for f in filters {
        args.extend(["--filter", f]);
    }
    let mut names: Vec<String> = d
        .docker(&args)
        .ok()
        .out()
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    names
}

#[track_caller]
fn read_only(o: CmdOutput) {
    o.fails().says("Read-only file system");
}

#[track_caller]
fn out_is(o: CmdOutput, want: &str) {
    assert_eq!(o.ok().out(), want, "{o}");
}

/// The `/proc/mounts` line of `dest` in `mounts`.
#[track_caller]
fn mount_line(mounts: &str, dest: &str) -> String {
    let l = mounts.lines().find(|l| l.split(' ').nth(1) == Some(dest));
    l.unwrap_or_else(|| panic!("{dest} not mounted: {mounts}"))
        .to_string()
}

#[test]
fn docker_volume_commands() {
    let test = "docker_volume_commands";
    let Some(bins) = setup::e2e(test) else {
        return;
    };
    if !require_docker_cli(test) {
        return;
    }
    let (_reg, d) = setup::busybox_mirror(&bins);
    dk(&d, "pull busybox").ok();
    let since = now();

    out_is(dk(&d, "volume create dv1"), "dv1");
    let opts = "--opt type=tmpfs --opt device=tmpfs --opt o=size=1m";
    let c = dk(
        &d,
        &format!("volume create --driver local --label env=test {opts} dv2"),
    );
    out_is(c, "dv2");
    let anon = dk(&d, "volume create").ok().out().to_string();
    assert_eq!(anon.len(), 64, "{anon}");
    dk(&d, "volume create -o bogus=1 dvbad")
        .fails()
        .says("bogus");
    dk(&d, "volume create bad$name")
        .fails()
        .says("invalid characters");

    let mut all = vec![anon.clone(), "dv1".into(), "dv2".into()];
    all.sort();
    assert_eq!(vls(&d, &[]), all);
    assert_eq!(vls(&d, &["label=env=test"]), ["dv2"]);
    assert_eq!(vls(&d, &["name=dv1"]), ["dv1"]);
    assert_eq!(vls(&d, &["dangling=true"]), all);
    let table = dk(&d, "volume ls");
    table.ok().says("DRIVER").says("VOLUME NAME").says("local");

    let mp = d.home().join("volumes/dv1/_data");
    let f = d.docker(&[
        "volume",
        "inspect",
        "-f",
        "{{.Mountpoint}} {{.Driver}} {{.Scope}}",
        "dv1",
    ]);
    out_is(f, &format!("{} local local", mp.display()));
    let v: Value = serde_json::from_str(dk(&d, "volume inspect dv2").ok().out()).unwrap();
    assert_eq!(v[0]["Labels"], json!({"env": "test"}), "{v}");
    let want = json!({"type": "tmpfs", "device": "tmpfs", "o": "size=1m"});
    assert_eq!(v[0]["Options"], want, "{v}");
    dk(&d, "volume inspect nosuch")
        .fails()
        .says("no such volume");

    // dv1 in use: 409, whose message the CLI shows.
    dk(&d, "create --name holder -v dv1:/data busybox").ok();
    let id = dk(&d, "inspect -f {{.Id}} holder").ok().out().to_string();
    assert_eq!(vls(&d, &["dangling=false"]), ["dv1"]);
    dk(&d, "volume rm dv1")
        .fails()
        .says("volume is in use")
        .says(&id);
    // A device volume (tmpfs) is mounted while used; the data of dv1 shows in df.
    let cmd = "head -c 2048 /dev/zero > /v/blob && grep ' /v ' /proc/mounts";
    let out = dsh(&d, "run --rm -v dv2:/v busybox", cmd);
    let line = out.ok().out();
    assert!(
        line.starts_with("tmpfs /v tmpfs") && line.contains("size=1024k"),
        "{out}"
    );
    dsh(
        &d,
        "run --rm -v dv1:/data busybox",
        "head -c 4096 /dev/zero > /data/blob",
    )
    .ok();
    let df = dk(&d, "system df -v");
    let row = df.ok().stdout.lines().find(|l| l.starts_with("dv1 "));
    let cols: Vec<&str> = row.unwrap_or_default().split_whitespace().collect();
    assert_eq!(cols, ["dv1", "1", "4.096kB"], "NAME LINKS SIZE: {df}");

    // rm -f of a missing volume is fine; prune takes the anonymous one, -a the unused rest.
    dk(&d, "volume rm -f nosuch").ok();
    dk(&d, "volume rm nosuch").fails().says("no such volume");
    dk(&d, "volume prune -f").ok().says(&anon);
    assert_eq!(vls(&d, &[]), ["dv1", "dv2"]);
    dk(&d, "volume prune -a -f").ok().says("dv2");
    assert_eq!(vls(&d, &[]), ["dv1"], "prune -a keeps a used volume");
    dk(&d, "rm holder").ok();
    out_is(dk(&d, "volume rm dv1"), "dv1");
    assert!(!mp.exists());

    let until = now();
    let ev = dk(
        &d,
        &format!("events --since {since} --until {until} --filter type=volume"),
    );
    for action in [
        "create dv1",
        "mount dv1",
        "unmount dv1",
        "destroy dv1",
        "destroy dv2",
    ] {
        ev.ok().says(&format!("volume {action}"));
    }
    ev.says(&format!("container={id}"))
        .says("destination=/data");
}

#[test]
fn docker_run_mounts_and_cp() {
    let test = "docker_run_mounts_and_cp";
    let Some(bins) = setup::e2e(test) else {
        return;
    };
    if !require_docker_cli(test) {
        return;
    }
    // Dropped after the daemon, whose containers bind-mount these paths.
    let mut cleanup = Cleanup::default();
    let (_reg, d) = setup::busybox_mirror(&bins);
    dk(&d, "pull busybox").ok();

    // -v name: data outlives the container; :ro and --mount readonly refuse writes.
    dsh(&d, "run --rm -v data:/data busybox", "echo hi > /data/f").ok();
    out_is(
        dk(&d, "run --rm -v data:/data:ro busybox cat /data/f"),
        "hi",
    );
    read_only(dk(&d, "run --rm -v data:/data:ro busybox touch /data/x"));
    let ro = "--mount type=volume,source=data,target=/d,readonly";
    read_only(dk(&d, &format!("run --rm {ro} busybox touch /d/x")));
    let rw = "--mount type=volume,source=data,target=/d";
    out_is(dk(&d, &format!("run --rm {rw} busybox cat /d/f")), "hi");

    // Host paths: --mount type=bind, -v read-only and live; a missing --mount source.
    let host = PathBuf::from(format!("/tmp/pouch-e2e-dvol-{}", setup::unique_tag()));
    cleanup.add(&host);
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("file"), "on-host\n").unwrap();
    let bind = format!("--mount type=bind,source={},target=/h", host.display());
    out_is(
        dk(&d, &format!("run --rm {bind} busybox cat /h/file")),
        "on-host",
    );
    let v_ro = format!("-v {}:/c:ro", host.display());
    read_only(dk(&d, &format!("run --rm {v_ro} busybox touch /c/x")));
    dk(&d, &format!("run -d --name live {v_ro} busybox sleep 1000")).ok();
    std::fs::write(host.join("later"), "after-start\n").unwrap();
    out_is(dk(&d, "exec live cat /c/later"), "after-start");
    let missing = format!(
        "--mount type=bind,source={}/missing,target=/x",
        host.display()
    );
    let r = dk(&d, &format!("run --rm {missing} busybox true"));
    r.fails().says("bind source path does not exist");
    let dup = dk(&d, &format!("run --rm -v data:/h {bind} busybox true"));
    dup.fails().says("duplicate mount point");

    // tmpfs: --tmpfs with options, --mount type=tmpfs with a size.
    let t = "--tmpfs /t:size=1m --mount type=tmpfs,target=/m,tmpfs-size=2m";
    let out = dk(&d, &format!("run --rm {t} busybox cat /proc/mounts"));
    let mounts = out.ok().stdout.clone();
    let l = mount_line(&mounts, "/t");
    assert!(
        l.starts_with("tmpfs /t tmpfs") && l.contains("size=1024k"),
        "{mounts}"
    );
    assert!(mount_line(&mounts, "/m").contains("size=2048k"), "{mounts}");

    // Anonymous volumes: -v /path; rm keeps them, rm -v removes them.
    dk(&d, "run --name an1 -v /anon busybox true").ok();
    dk(&d, "run --name an2 -v /anon busybox true").ok();
    let name = |c: &str| {
        let o = d.docker(&["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", c]);
        o.ok().out().to_string()
    };
    let (a1, a2) = (name("an1"), name("an2"));
    dk(&d, "rm an1").ok();
    dk(&d, "rm -v an2").ok();
    let left = vls(&d, &[]);
    assert!(left.contains(&a1) && !left.contains(&a2), "{left:?}");

    // docker cp into and out of a volume: of a running container and of a created one.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("in.txt");
    std::fs::write(&local, "copied-in\n").unwrap();
    dk(&d, "run -d --name user -v data:/data busybox sleep 1000").ok();
    dk(&d, &format!("cp {} user:/data/x", local.display())).ok();
    out_is(
        dk(&d, "run --rm -v data:/data busybox cat /data/x"),
        "copied-in",
    );
    let back = dir.path().join("f");
    dk(&d, &format!("cp user:/data/f {}", back.display())).ok();
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "hi\n");
    dk(&d, "create --name cold -v cold:/data busybox").ok();
    dk(&d, &format!("cp {} cold:/data/y", local.display())).ok();
    out_is(
        dk(&d, "run --rm -v cold:/data busybox cat /data/y"),
        "copied-in",
    );
    let y = std::fs::read_to_string(d.home().join("volumes/cold/_data/y")).unwrap();
    assert_eq!(y, "copied-in\n");
}
