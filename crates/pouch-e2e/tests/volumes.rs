//! Volumes with the `pouch` CLI: `volume create/ls/inspect/rm/prune` with their flags and
//! filters, volume events and `system df -v`; named volumes outliving containers, `:ro` and
//! `readonly`, bind mounts (live, read-only, missing sources), `--volumes-from`, tmpfs mounts
//! and the tmpfs driver, the image's content copied into new volumes (and `nocopy`),
//! anonymous volumes (`rm -v`, prune), volumes in use, and the errors of bad mounts.
//! The docker CLI's side is in `volumes_docker.rs`.

use std::path::Path;

use pouch_e2e::setup::{self, Cleanup};
use pouch_e2e::{fixtures, CmdOutput, Daemon, Must};
use serde_json::Value;

/// `pouch volume inspect <name>`, the first object.
#[track_caller]
fn vinspect(d: &Daemon, name: &str) -> Value {
    let o = d.pouch(&["volume", "inspect", name]);
    let v: Value = serde_json::from_str(o.ok().out()).unwrap_or_else(|e| panic!("{e}: {o}"));
    v[0].clone()
}

/// The names `volume ls -q` prints with `filters`, sorted.
#[track_caller]
fn vls(d: &Daemon, filters: &[&str]) -> Vec<String> {
    let mut args = vec!["volume", "ls", "-q"];
    for f in filters {
        args.extend(["-f", f]);
    }
    let mut names: Vec<String> = d
        .pouch(&args)
        .ok()
        .out()
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    names
}

fn now() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

#[track_caller]
fn read_only(o: &CmdOutput) {
    o.fails().says("Read-only file system");
}

#[test]
fn volume_commands_events_and_df() {
    let Some(bins) = setup::e2e("volume_commands_events_and_df") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["pull", "busybox"]).ok();
    let since = now();

    // create: positional name, --name, no name; -d, -o, --label.
    let c = d.pouch(&[
        "volume", "create", "-d", "local", "--label", "tier=db", "--label", "k", "pos1",
    ]);
    assert_eq!(c.ok().out(), "pos1");
    let c = d.pouch(&[
        "volume",
        "create",
        "--name",
        "byname",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m",
    ]);
    assert_eq!(c.ok().out(), "byname");
    let anon = d.pouch(&["volume", "create"]).ok().out().to_string();
    assert!(
        anon.len() == 64 && anon.chars().all(|c| c.is_ascii_hexdigit()),
        "{anon}"
    );
    // The same name again is the same volume; with another driver it is an error.
    assert_eq!(d.pouch(&["volume", "create", "pos1"]).ok().out(), "pos1");
    d.pouch(&["volume", "create", "-d", "tmpfs", "pos1"])
        .fails()
        .says("already exists");

    // inspect
    let v = vinspect(&d, "pos1");
    let mp = d.home().join("volumes/pos1/_data");
    assert_eq!(v["Mountpoint"], mp.display().to_string(), "{v}");
    assert!(mp.is_dir(), "{}", mp.display());
    assert_eq!(v["Driver"], "local", "{v}");
    assert_eq!(v["Scope"], "local", "{v}");
    assert_eq!(
        v["Labels"],
        serde_json::json!({"tier": "db", "k": ""}),
        "{v}"
    );
    let v = vinspect(&d, "byname");
    assert_eq!(
        v["Options"],
        serde_json::json!({"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}),
        "{v}"
    );
    d.pouch(&["volume", "inspect", "nosuchvol"])
        .fails()
        .says("no such volume");

    // Bad input: nothing is created.
    d.pouch(&["volume", "create", "-o", "colour=red", "badopt"])
        .fails()
        .says("colour");
    d.pouch(&[
        "volume", "create", "-d", "tmpfs", "-o", "device=x", "badopt2",
    ])
    .fails()
    .says("device");
    d.pouch(&["volume", "create", "bad$name"])
        .fails()
        .says("invalid characters");
    d.pouch(&["volume", "create", "-d", "nfs", "nfsvol"])
        .fails()
        .says("nfs");

    // ls and its filters.
    let mut all = vec![anon.clone(), "byname".into(), "pos1".into()];
    all.sort();
    assert_eq!(vls(&d, &[]), all);
    let table = d.pouch(&["volume", "ls"]);
    table.ok().says("DRIVER").says("VOLUME NAME").says("pos1");
    assert_eq!(vls(&d, &["name=pos"]), ["pos1"]);
    assert_eq!(vls(&d, &["label=tier=db"]), ["pos1"]);
    assert_eq!(vls(&d, &["label=k"]), ["pos1"]);
    assert!(vls(&d, &["label=tier=web"]).is_empty());
    d.pouch(&["volume", "ls", "-f", "colour=red"])
        .fails()
        .says("colour");

    // A container writes 12345 bytes: pos1 is used (not dangling), df -v shows the size.
    d.pouch(&[
        "run",
        "--name",
        "writer",
        "-v",
        "pos1:/d",
        "busybox",
        "sh",
        "-c",
        "head -c 12345 /dev/zero > /d/blob",
    ])
    .ok();
    let id = d.container("writer")["Id"].as_str().unwrap().to_string();
    assert_eq!(std::fs::metadata(mp.join("blob")).unwrap().len(), 12345);
    assert_eq!(vls(&d, &["dangling=false"]), ["pos1"]);
    let mut dangling = vec![anon.clone(), "byname".into()];
    dangling.sort();
    assert_eq!(vls(&d, &["dangling=true"]), dangling);
    let df = d.pouch(&["system", "df", "-v"]);
    let row = df
        .ok()
        .stdout
        .lines()
        .find(|l| l.starts_with("pos1 "))
        .map(str::to_string);
    let row = row.unwrap_or_else(|| panic!("no pos1 row: {df}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols, ["pos1", "1", "12.35kB"], "{df}");
    d.pouch(&["system", "df"]).ok().says("Local Volumes");

    // In use (by a stopped container): refused, naming the container; -f does not help.
    let rm = d.pouch(&["volume", "rm", "pos1"]);
    rm.fails().says("volume is in use").says(&id);
    d.pouch(&["volume", "rm", "-f", "pos1"])
        .fails()
        .says("volume is in use");
    d.pouch(&["volume", "rm", "nosuchvol"])
        .fails()
        .says("no such volume");
    d.pouch(&["volume", "rm", "-f", "nosuchvol"]).ok();
    d.pouch(&["rm", "writer"]).ok();
    assert_eq!(d.pouch(&["volume", "rm", "pos1"]).ok().out(), "pos1");
    assert!(
        !mp.exists() && !mp.parent().unwrap().exists(),
        "data of pos1 left behind"
    );

    // prune: the anonymous volume only; -a: every unused one.
    d.pouch(&["volume", "create", "keepme"]).ok();
    let p = d.pouch(&["volume", "prune", "-f"]);
    p.ok()
        .says("Deleted Volumes")
        .says(&anon)
        .says("Total reclaimed space");
    assert_eq!(vls(&d, &[]), ["byname", "keepme"]);
    let p = d.pouch(&["volume", "prune", "-f", "-a"]);
    p.ok().says("byname").says("keepme");
    assert!(vls(&d, &[]).is_empty());

    // events: create, mount, unmount, destroy of pos1, and the prune.
    let until = now();
    let ev = d.pouch(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=volume",
    ]);
    ev.ok();
    let lines: Vec<&str> = ev.stdout.lines().collect();
    let find = |action: &str| {
        lines
            .iter()
            .find(|l| l.contains(&format!("volume {action} pos1")))
            .unwrap_or_else(|| panic!("no `volume {action} pos1` event: {ev}"))
            .to_string()
    };
    assert!(find("create").contains("driver=local"), "{ev}");
    let mount = find("mount");
    assert!(
        mount.contains(&format!("container={id}")) && mount.contains("destination=/d"),
        "{mount}"
    );
    assert!(find("unmount").contains(&format!("container={id}")), "{ev}");
    find("destroy");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("volume destroy {anon}"))),
        "{ev}"
    );
    assert!(
        lines.iter().all(|l| l.contains(" volume ")),
        "only volume events: {ev}"
    );
}

#[test]
fn named_bind_and_shared_mounts() {
    let Some(bins) = setup::e2e("named_bind_and_shared_mounts") else {
        return;
    };
    // Dropped after the daemon (whose containers bind-mount these paths).
    let mut cleanup = Cleanup::default();
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["pull", "busybox"]).ok();

    // A named volume outlives its containers.
    d.pouch(&[
        "run",
        "--rm",
        "-v",
        "keep:/data",
        "busybox",
        "sh",
        "-c",
        "echo persisted > /data/f",
    ])
    .ok();
    assert_eq!(vls(&d, &[]), ["keep"], "--rm keeps named volumes");
    let out = d.pouch(&[
        "run",
        "--rm",
        "-v",
        "keep:/data",
        "busybox",
        "cat",
        "/data/f",
    ]);
    assert_eq!(out.ok().out(), "persisted");
    assert_eq!(read(&d.home().join("volumes/keep/_data/f")), "persisted\n");

    // :ro and readonly refuse writes, still read.
    read_only(&d.pouch(&[
        "run",
        "--rm",
        "-v",
        "keep:/data:ro",
        "busybox",
        "sh",
        "-c",
        "echo x > /data/g",
    ]));
    let mount_ro = "type=volume,source=keep,target=/d,readonly";
    read_only(&d.pouch(&[
        "run", "--rm", "--mount", mount_ro, "busybox", "touch", "/d/g",
    ]));
    let out = d.pouch(&["run", "--rm", "--mount", mount_ro, "busybox", "cat", "/d/f"]);
    assert_eq!(out.ok().out(), "persisted");
    d.pouch(&["create", "--name", "holder", "--mount", mount_ro, "busybox"])
        .ok();
    let m = &d.container("holder")["Mounts"][0];
    assert_eq!(
        (&m["Type"], &m["Name"], &m["Destination"], &m["RW"]),
        (
            &"volume".into(),
            &"keep".into(),
            &"/d".into(),
            &false.into()
        ),
        "{m}"
    );
    let holder = d.container("holder")["Id"].as_str().unwrap().to_string();
    d.pouch(&["volume", "rm", "keep"])
        .fails()
        .says("volume is in use")
        .says(&holder);

    // Bind mounts: host changes show live; the container's writes reach the host.
    let tag = setup::unique_tag();
    let host = std::path::PathBuf::from(format!("/tmp/pouch-e2e-vol-{tag}"));
    cleanup.add(&host);
    std::fs::create_dir_all(&host).unwrap();
    let bind = format!("{}:/h", host.display());
    d.pouch(&[
        "run", "-d", "--name", "binder", "-v", &bind, "busybox", "sleep", "1000",
    ])
    .ok();
    std::fs::write(host.join("late"), "written after start\n").unwrap();
    assert_eq!(
        d.pouch(&["exec", "binder", "cat", "/h/late"]).ok().out(),
        "written after start"
    );
    d.pouch(&[
        "exec",
        "binder",
        "sh",
        "-c",
        "echo from-container > /h/back",
    ])
    .ok();
    assert_eq!(read(&host.join("back")), "from-container\n");
    let bind_ro = format!("{bind}:ro");
    read_only(&d.pouch(&["run", "--rm", "-v", &bind_ro, "busybox", "touch", "/h/x"]));
    let out = d.pouch(&["run", "--rm", "-v", &bind_ro, "busybox", "cat", "/h/late"]);
    assert_eq!(out.ok().out(), "written after start");
    let mount_bind = format!("type=bind,source={},target=/hb,readonly", host.display());
    read_only(&d.pouch(&[
        "run",
        "--rm",
        "--mount",
        &mount_bind,
        "busybox",
        "touch",
        "/hb/x",
    ]));
    // -v creates a missing host dir; --mount type=bind refuses it.
    let made = host.join("made/by/v");
    let v_made = format!("{}:/m", made.display());
    d.pouch(&["run", "--rm", "-v", &v_made, "busybox", "true"])
        .ok();
    assert!(made.is_dir(), "-v creates {}", made.display());
    let missing = host.join("missing");
    let mount_missing = format!("type=bind,source={},target=/x", missing.display());
    let r = d.pouch(&["run", "--rm", "--mount", &mount_missing, "busybox", "true"]);
    r.fails().says("bind source path does not exist");
    assert!(!missing.exists());

    // Bad mounts are refused before anything is created.
    let before = vls(&d, &[]);
    let dup = d.pouch(&[
        "run", "--rm", "-v", "dupa:/d", "-v", "dupb:/d", "busybox", "true",
    ]);
    dup.fails().says("duplicate mount point");
    let dup = d.pouch(&[
        "run", "--rm", "-v", "dupa:/d", "--tmpfs", "/d", "busybox", "true",
    ]);
    dup.fails().says("duplicate mount point");
    d.pouch(&["run", "--rm", "-v", "bad$name:/d", "busybox", "true"])
        .fails()
        .says("invalid characters");
    let opt = "type=volume,source=optvol,target=/d,volume-opt=colour=red";
    d.pouch(&["run", "--rm", "--mount", opt, "busybox", "true"])
        .fails()
        .says("colour");
    assert_eq!(vls(&d, &[]), before, "a refused run created volumes");

    // --volumes-from: the same volume and bind; `:ro` makes them read-only.
    d.pouch(&[
        "run",
        "-d",
        "--name",
        "src",
        "-v",
        "shared:/s",
        "-v",
        &bind,
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    let cmd = "echo via-from > /s/f && cat /h/late";
    let out = d.pouch(&[
        "run",
        "--rm",
        "--volumes-from",
        "src",
        "busybox",
        "sh",
        "-c",
        cmd,
    ]);
    assert_eq!(out.ok().out(), "written after start");
    assert_eq!(
        d.pouch(&["exec", "src", "cat", "/s/f"]).ok().out(),
        "via-from"
    );
    read_only(&d.pouch(&[
        "run",
        "--rm",
        "--volumes-from",
        "src:ro",
        "busybox",
        "touch",
        "/s/g",
    ]));
    read_only(&d.pouch(&[
        "run",
        "--rm",
        "--volumes-from",
        "src:ro",
        "busybox",
        "touch",
        "/h/g",
    ]));
    let out = d.pouch(&[
        "run",
        "--rm",
        "--volumes-from",
        "src:ro",
        "busybox",
        "cat",
        "/s/f",
    ]);
    assert_eq!(out.ok().out(), "via-from");
    d.pouch(&["run", "--rm", "--volumes-from", "nosuch", "busybox", "true"])
        .fails()
        .says("nosuch");
}

#[test]
fn tmpfs_mounts_and_tmpfs_volumes() {
    let Some(bins) = setup::e2e("tmpfs_mounts_and_tmpfs_volumes") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["pull", "busybox"]).ok();
    d.pouch(&["volume", "create", "-d", "tmpfs", "-o", "size=2m", "tv"])
        .ok();
    let v = vinspect(&d, "tv");
    assert_eq!(v["Driver"], "tmpfs", "{v}");
    let tv_mp = d.exec_root().join("volumes/tv");
    assert_eq!(v["Mountpoint"], tv_mp.display().to_string(), "{v}");

    d.pouch(&[
        "run",
        "-d",
        "--name",
        "tm1",
        "--tmpfs",
        "/t",
        "--mount",
        "type=tmpfs,target=/m,tmpfs-size=1m",
        "-v",
        "tv:/v",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    let mounts = d
        .pouch(&["exec", "tm1", "cat", "/proc/mounts"])
        .ok()
        .stdout
        .clone();
    let line = |dest: &str| {
        mounts
            .lines()
            .find(|l| l.split(' ').nth(1) == Some(dest))
            .unwrap_or_else(|| panic!("{dest} not mounted: {mounts}"))
            .to_string()
    };
    assert!(line("/t").starts_with("tmpfs /t tmpfs "), "{mounts}");
    assert!(line("/m").contains("size=1024k"), "{mounts}");
    assert!(
        line("/v").starts_with("tmpfs /v tmpfs ") && line("/v").contains("size=2048k"),
        "{mounts}"
    );
    // df sees the size too (1 MiB = 1024 1K-blocks).
    let df = d.pouch(&["exec", "tm1", "df", "-k", "/m"]);
    let blocks = df
        .ok()
        .stdout
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(1))
        .map(str::to_string);
    assert_eq!(blocks.as_deref(), Some("1024"), "{df}");
    // Over its size, a write fails.
    let big = d.pouch(&[
        "exec",
        "tm1",
        "sh",
        "-c",
        "head -c 2000000 /dev/zero > /m/big",
    ]);
    big.fails();

    d.pouch(&[
        "exec",
        "tm1",
        "sh",
        "-c",
        "echo a > /t/a && echo b > /m/b && echo c > /v/c",
    ])
    .ok();
    assert_eq!(
        read(&tv_mp.join("c")),
        "c\n",
        "the tmpfs volume is at its Mountpoint"
    );
    d.pouch(&["stop", "-t", "1", "tm1"]).ok();
    d.pouch(&["start", "tm1"]).ok();
    let ls = d.pouch(&["exec", "tm1", "find", "/t", "/m", "-mindepth", "1"]);
    assert_eq!(
        ls.ok().out(),
        "",
        "the container's tmpfs mounts are new at each start"
    );
    // The tmpfs volume lives as long as a container holds it (pouch mounts volumes from
    // create to remove), then its content is gone.
    d.pouch(&["rm", "-f", "tm1"]).ok();
    let ls = d.pouch(&["run", "--rm", "-v", "tv:/v", "busybox", "ls", "-A", "/v"]);
    assert_eq!(
        ls.ok().out(),
        "",
        "the tmpfs volume is empty after its last user"
    );
    assert_eq!(vls(&d, &[]), ["tv"]);
    d.pouch(&["volume", "rm", "tv"]).ok();
    assert!(!tv_mp.exists(), "{} left behind", tv_mp.display());
}

#[test]
fn image_content_and_anonymous_volumes() {
    let Some(bins) = setup::e2e("image_content_and_anonymous_volumes") else {
        return;
    };
    let (reg, d) = setup::busybox_mirror(&bins);
    reg.push("library/voldata", "latest", fixtures::busybox_with_volume())
        .must("push voldata");
    d.pouch(&["pull", "busybox"]).ok();
    d.pouch(&["pull", "voldata"]).ok();
    let vol_dir = |name: &str| d.home().join("volumes").join(name).join("_data");

    // The image's VOLUME gets an anonymous volume with the image's content.
    let out = d.pouch(&["run", "--name", "a1", "voldata", "cat", "/data/hello"]);
    assert_eq!(out.ok().out(), "from-image");
    let m = d.container("a1")["Mounts"].clone();
    assert_eq!(m.as_array().map(Vec::len), Some(1), "{m}");
    assert_eq!(
        (&m[0]["Type"], &m[0]["Destination"]),
        (&"volume".into(), &"/data".into()),
        "{m}"
    );
    let anon1 = m[0]["Name"].as_str().unwrap().to_string();
    assert_eq!(anon1.len(), 64, "{m}");
    assert_eq!(read(&vol_dir(&anon1).join("sub/inner")), "inner\n");
    assert!(vinspect(&d, &anon1)["Labels"]
        .get("com.docker.volume.anonymous")
        .is_some());
    // `-v /path` is anonymous too.
    d.pouch(&["create", "--name", "a2", "-v", "/extra", "voldata"])
        .ok();
    let m2 = d.container("a2")["Mounts"].clone();
    let anon2: Vec<String> = m2
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(anon2.len(), 2, "/data and /extra: {m2}");
    assert_eq!(vls(&d, &[]).len(), 3);
    // rm -v removes a1's anonymous volume; plain rm keeps a2's, dangling; prune removes them.
    d.pouch(&["rm", "-v", "a1"]).ok();
    assert!(!vls(&d, &[]).contains(&anon1) && !vol_dir(&anon1).exists());
    d.pouch(&["rm", "a2"]).ok();
    let mut expect = anon2.clone();
    expect.sort();
    assert_eq!(vls(&d, &["dangling=true"]), expect);
    let p = d.pouch(&["volume", "prune", "-f"]);
    p.ok().says(&anon2[0]).says(&anon2[1]);
    assert!(vls(&d, &[]).is_empty());
    // --rm removes the anonymous volumes too; a named volume over the VOLUME leaves none.
    d.pouch(&["run", "--rm", "-v", "/extra", "voldata", "true"])
        .ok();
    let left = vls(&d, &[]);
    let t0 = std::time::Instant::now();
    let gone = pouch_e2e::wait_for(std::time::Duration::from_secs(10), || {
        vls(&d, &[]).is_empty().then_some(())
    });
    eprintln!("PROBE left={left:?} gone={gone:?} after {:?}", t0.elapsed());
    assert!(left.is_empty(), "--rm left anonymous volumes");

    // A new named volume gets the image's content (as from `-v newvol:/etc` of busybox).
    d.pouch(&["run", "--rm", "-v", "newvol:/data", "voldata", "true"])
        .ok();
    assert_eq!(
        vls(&d, &[]),
        ["newvol"],
        "no anonymous volume under a named one"
    );
    assert_eq!(read(&vol_dir("newvol").join("hello")), "from-image\n");
    assert_eq!(read(&vol_dir("newvol").join("sub/inner")), "inner\n");
    d.pouch(&["run", "--rm", "-v", "etcvol:/etc", "busybox", "true"])
        .ok();
    assert!(read(&vol_dir("etcvol").join("passwd")).starts_with("root:x:0:0"));
    // So does an empty volume made with `volume create`.
    d.pouch(&["volume", "create", "made"]).ok();
    let out = d.pouch(&[
        "run",
        "--rm",
        "-v",
        "made:/data",
        "voldata",
        "cat",
        "/data/hello",
    ]);
    assert_eq!(out.ok().out(), "from-image");
    // nocopy and volume-nocopy turn it off.
    let out = d.pouch(&[
        "run",
        "--rm",
        "-v",
        "v2:/data:nocopy",
        "voldata",
        "ls",
        "-A",
        "/data",
    ]);
    assert_eq!(out.ok().out(), "");
    let nocopy = "type=volume,source=v3,target=/data,volume-nocopy";
    let out = d.pouch(&[
        "run", "--rm", "--mount", nocopy, "voldata", "ls", "-A", "/data",
    ]);
    assert_eq!(out.ok().out(), "");
    assert!(std::fs::read_dir(vol_dir("v3")).unwrap().next().is_none());
    // A volume with content keeps it.
    let cmd = "echo mine > /data/hello";
    d.pouch(&["run", "--rm", "-v", "pre:/data", "busybox", "sh", "-c", cmd])
        .ok();
    let out = d.pouch(&[
        "run",
        "--rm",
        "-v",
        "pre:/data",
        "voldata",
        "sh",
        "-c",
        "cat /data/hello; ls /data",
    ]);
    assert_eq!(
        out.ok().out(),
        "mine\nhello",
        "an existing volume was overwritten"
    );
}
