//! Volumes with the `pouch` CLI: `volume create/ls/inspect/rm/prune` with their flags and
//! filters, volume events and `system df -v`; named volumes outliving containers, `:ro` and
//! `readonly`, bind mounts (live, read-only, missing sources), `--volumes-from`, tmpfs mounts
//! and the tmpfs driver, the image's content copied into new volumes (and `nocopy`),
//! anonymous volumes (`rm -v`, `--rm`, prune), volumes in use, and the errors of bad mounts.
//! The docker CLI's side is in `volumes_docker.rs`.

use std::path::{Path, PathBuf};

use pouch_e2e::setup::{self, Cleanup};
use pouch_e2e::{fixtures, CmdOutput, Daemon, Must};
use serde_json::{json, Value};

/// `pouch <line>`, the line split on spaces (no argument here has one).
fn p(d: &Daemon, line: &str) -> CmdOutput {
    d.pouch(&line.split_whitespace().collect::<Vec<_>>())
}

/// `pouch <line> sh -c <script>`.
fn psh(d: &Daemon, line: &str, script: &str) -> CmdOutput {
    let mut args: Vec<&str> = line.split_whitespace().collect();
    args.extend(["sh", "-c", script]);
    d.pouch(&args)
}

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

#[track_caller]
fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

#[track_caller]
fn read_only(o: CmdOutput) {
    o.fails().says("Read-only file system");
}

#[track_caller]
fn out_is(o: CmdOutput, want: &str) {
    assert_eq!(o.ok().out(), want, "{o}");
}

#[test]
fn volume_commands_events_and_df() {
    let Some(bins) = setup::e2e("volume_commands_events_and_df") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    p(&d, "pull busybox").ok();
    let since = now();

    // create: positional name, --name, no name; -d, -o, --label.
    out_is(
        p(&d, "volume create -d local --label tier=db --label k pos1"),
        "pos1",
    );
    let c = p(
        &d,
        "volume create --name byname -o type=tmpfs -o device=tmpfs -o o=size=1m",
    );
    out_is(c, "byname");
    let anon = p(&d, "volume create").ok().out().to_string();
    assert!(
        anon.len() == 64 && anon.chars().all(|c| c.is_ascii_hexdigit()),
        "{anon}"
    );
    // The same name again is the same volume; with another driver it is an error.
    out_is(p(&d, "volume create pos1"), "pos1");
    p(&d, "volume create -d tmpfs pos1")
        .fails()
        .says("already exists");

    let v = vinspect(&d, "pos1");
    let mp = d.home().join("volumes/pos1/_data");
    assert_eq!(v["Mountpoint"], mp.display().to_string(), "{v}");
    assert!(mp.is_dir(), "{}", mp.display());
    assert_eq!(
        (&v["Driver"], &v["Scope"]),
        (&json!("local"), &json!("local")),
        "{v}"
    );
    assert_eq!(v["Labels"], json!({"tier": "db", "k": ""}), "{v}");
    let v = vinspect(&d, "byname");
    let opts = json!({"type": "tmpfs", "device": "tmpfs", "o": "size=1m"});
    assert_eq!(v["Options"], opts, "{v}");
    p(&d, "volume inspect nosuchvol")
        .fails()
        .says("no such volume");

    // Bad input; nothing is created.
    p(&d, "volume create -o colour=red badopt")
        .fails()
        .says("colour");
    p(&d, "volume create -d tmpfs -o device=x badopt2")
        .fails()
        .says("device");
    p(&d, "volume create bad$name")
        .fails()
        .says("invalid characters");
    p(&d, "volume create -d nfs nfsvol").fails().says("nfs");

    // ls and its filters.
    let mut all = vec![anon.clone(), "byname".into(), "pos1".into()];
    all.sort();
    assert_eq!(vls(&d, &[]), all);
    p(&d, "volume ls")
        .ok()
        .says("DRIVER")
        .says("VOLUME NAME")
        .says("pos1");
    assert_eq!(vls(&d, &["name=pos"]), ["pos1"]);
    assert_eq!(vls(&d, &["label=tier=db"]), ["pos1"]);
    assert_eq!(vls(&d, &["label=k"]), ["pos1"]);
    assert!(vls(&d, &["label=tier=web"]).is_empty());
    p(&d, "volume ls -f colour=red").fails().says("colour");

    // A container writes 12345 bytes: pos1 is used (not dangling), df -v shows the size.
    psh(
        &d,
        "run --name writer -v pos1:/d busybox",
        "head -c 12345 /dev/zero > /d/blob",
    )
    .ok();
    let id = d.container("writer")["Id"].as_str().unwrap().to_string();
    assert_eq!(std::fs::metadata(mp.join("blob")).unwrap().len(), 12345);
    assert_eq!(vls(&d, &["dangling=false"]), ["pos1"]);
    let mut dangling = vec![anon.clone(), "byname".into()];
    dangling.sort();
    assert_eq!(vls(&d, &["dangling=true"]), dangling);
    let df = p(&d, "system df -v");
    let row = df.ok().stdout.lines().find(|l| l.starts_with("pos1 "));
    let cols: Vec<&str> = row.unwrap_or_default().split_whitespace().collect();
    assert_eq!(cols, ["pos1", "1", "12.35kB"], "NAME LINKS SIZE: {df}");
    p(&d, "system df").ok().says("Local Volumes");

    // In use (by a stopped container): refused, naming the container; -f does not help.
    p(&d, "volume rm pos1")
        .fails()
        .says("volume is in use")
        .says(&id);
    p(&d, "volume rm -f pos1").fails().says("volume is in use");
    p(&d, "volume rm nosuchvol").fails().says("no such volume");
    p(&d, "volume rm -f nosuchvol").ok();
    p(&d, "rm writer").ok();
    out_is(p(&d, "volume rm pos1"), "pos1");
    assert!(!mp.parent().unwrap().exists(), "data of pos1 left behind");

    // prune: the anonymous volume only; -a: every unused one.
    p(&d, "volume create keepme").ok();
    let pr = p(&d, "volume prune -f");
    pr.ok()
        .says("Deleted Volumes")
        .says(&anon)
        .says("Total reclaimed space");
    assert_eq!(vls(&d, &[]), ["byname", "keepme"]);
    p(&d, "volume prune -f -a")
        .ok()
        .says("byname")
        .says("keepme");
    assert!(vls(&d, &[]).is_empty());

    // events: create, mount, unmount, destroy of pos1, and the pruned one's destroy.
    let until = now();
    let ev = p(
        &d,
        &format!("events --since {since} --until {until} --filter type=volume"),
    );
    let lines: Vec<&str> = ev.ok().stdout.lines().collect();
    let find = |action: &str| {
        let what = format!("volume {action} pos1");
        let line = lines.iter().find(|l| l.contains(&what));
        line.unwrap_or_else(|| panic!("no `{what}` event: {ev}"))
            .to_string()
    };
    assert!(find("create").contains("driver=local"), "{ev}");
    let mount = find("mount");
    let by = format!("container={id}");
    assert!(
        mount.contains(&by) && mount.contains("destination=/d"),
        "{mount}"
    );
    assert!(find("unmount").contains(&by), "{ev}");
    find("destroy");
    let destroyed = format!("volume destroy {anon}");
    assert!(lines.iter().any(|l| l.contains(&destroyed)), "{ev}");
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
    // Dropped after the daemon, whose containers bind-mount these paths.
    let mut cleanup = Cleanup::default();
    let (_reg, d) = setup::busybox_mirror(&bins);
    p(&d, "pull busybox").ok();

    // A named volume outlives its containers.
    psh(
        &d,
        "run --rm -v keep:/data busybox",
        "echo persisted > /data/f",
    )
    .ok();
    assert_eq!(vls(&d, &[]), ["keep"], "--rm keeps named volumes");
    out_is(
        p(&d, "run --rm -v keep:/data busybox cat /data/f"),
        "persisted",
    );
    assert_eq!(read(&d.home().join("volumes/keep/_data/f")), "persisted\n");

    // :ro and readonly refuse writes, still read.
    read_only(psh(
        &d,
        "run --rm -v keep:/data:ro busybox",
        "echo x > /data/g",
    ));
    let ro = "--mount type=volume,source=keep,target=/d,readonly";
    read_only(p(&d, &format!("run --rm {ro} busybox touch /d/g")));
    out_is(
        p(&d, &format!("run --rm {ro} busybox cat /d/f")),
        "persisted",
    );
    p(&d, &format!("create --name holder {ro} busybox")).ok();
    let m = &d.container("holder")["Mounts"][0];
    let got = (&m["Type"], &m["Name"], &m["Destination"], &m["RW"]);
    assert_eq!(
        got,
        (
            &json!("volume"),
            &json!("keep"),
            &json!("/d"),
            &json!(false)
        ),
        "{m}"
    );
    let holder = d.container("holder")["Id"].as_str().unwrap().to_string();
    p(&d, "volume rm keep")
        .fails()
        .says("volume is in use")
        .says(&holder);

    // Bind mounts: host changes show live; the container's writes reach the host.
    let host = PathBuf::from(format!("/tmp/pouch-e2e-vol-{}", setup::unique_tag()));
    cleanup.add(&host);
    std::fs::create_dir_all(&host).unwrap();
    let bind = format!("{}:/h", host.display());
    p(
        &d,
        &format!("run -d --name binder -v {bind} busybox sleep 1000"),
    )
    .ok();
    std::fs::write(host.join("late"), "written after start\n").unwrap();
    out_is(p(&d, "exec binder cat /h/late"), "written after start");
    psh(&d, "exec binder", "echo from-container > /h/back").ok();
    assert_eq!(read(&host.join("back")), "from-container\n");
    read_only(p(&d, &format!("run --rm -v {bind}:ro busybox touch /h/x")));
    let out = p(&d, &format!("run --rm -v {bind}:ro busybox cat /h/late"));
    out_is(out, "written after start");
    let mb = format!(
        "--mount type=bind,source={},target=/hb,readonly",
        host.display()
    );
    read_only(p(&d, &format!("run --rm {mb} busybox touch /hb/x")));
    // -v creates a missing host dir; --mount type=bind refuses it.
    let made = host.join("made/by/v");
    p(
        &d,
        &format!("run --rm -v {}:/m busybox true", made.display()),
    )
    .ok();
    assert!(made.is_dir(), "-v creates {}", made.display());
    let missing = host.join("missing");
    let mm = format!("--mount type=bind,source={},target=/x", missing.display());
    let r = p(&d, &format!("run --rm {mm} busybox true"));
    r.fails().says("bind source path does not exist");
    assert!(!missing.exists());

    // Bad mounts are refused before anything is created.
    let before = vls(&d, &[]);
    let dup = p(&d, "run --rm -v dupa:/d -v dupb:/d busybox true");
    dup.fails().says("duplicate mount point");
    let dup = p(&d, "run --rm -v dupa:/d --tmpfs /d busybox true");
    dup.fails().says("duplicate mount point");
    let dup = p(
        &d,
        "run --rm -v dupa:/d --mount type=tmpfs,target=/d busybox true",
    );
    dup.fails().says("duplicate mount point");
    let bad = p(&d, "run --rm -v bad$name:/d busybox true");
    bad.fails().says("invalid characters");
    let opt = "--mount type=volume,source=optvol,target=/d,volume-opt=colour=red";
    p(&d, &format!("run --rm {opt} busybox true"))
        .fails()
        .says("colour");
    assert_eq!(vls(&d, &[]), before, "a refused run created volumes");

    // --volumes-from: the same volume and bind; `:ro` makes them read-only.
    p(
        &d,
        &format!("run -d --name src -v shared:/s -v {bind} busybox sleep 1000"),
    )
    .ok();
    let out = psh(
        &d,
        "run --rm --volumes-from src busybox",
        "echo via > /s/f && cat /h/late",
    );
    out_is(out, "written after start");
    out_is(p(&d, "exec src cat /s/f"), "via");
    read_only(p(&d, "run --rm --volumes-from src:ro busybox touch /s/g"));
    read_only(p(&d, "run --rm --volumes-from src:ro busybox touch /h/g"));
    out_is(
        p(&d, "run --rm --volumes-from src:ro busybox cat /s/f"),
        "via",
    );
    let r = p(&d, "run --rm --volumes-from nosuch busybox true");
    r.fails().says("nosuch");
}

#[test]
fn tmpfs_mounts_and_tmpfs_volumes() {
    let Some(bins) = setup::e2e("tmpfs_mounts_and_tmpfs_volumes") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    p(&d, "pull busybox").ok();
    p(&d, "volume create -d tmpfs -o size=2m tv").ok();
    let v = vinspect(&d, "tv");
    assert_eq!(v["Driver"], "tmpfs", "{v}");
    let tv_mp = d.exec_root().join("volumes/tv");
    assert_eq!(v["Mountpoint"], tv_mp.display().to_string(), "{v}");

    let mounts = "--tmpfs /t --mount type=tmpfs,target=/m,tmpfs-size=1m -v tv:/v";
    p(
        &d,
        &format!("run -d --name tm1 {mounts} busybox sleep 1000"),
    )
    .ok();
    let o = p(&d, "exec tm1 cat /proc/mounts");
    let mounts = o.ok().stdout.clone();
    let line = |dest: &str| {
        let l = mounts.lines().find(|l| l.split(' ').nth(1) == Some(dest));
        l.unwrap_or_else(|| panic!("{dest} not mounted: {mounts}"))
            .to_string()
    };
    assert!(line("/t").starts_with("tmpfs /t tmpfs "), "{mounts}");
    assert!(line("/m").starts_with("tmpfs /m tmpfs ") && line("/m").contains("size=1024k"));
    assert!(line("/v").starts_with("tmpfs /v tmpfs ") && line("/v").contains("size=2048k"));
    // df sees the size (1 MiB = 1024 1K-blocks), and a write over it fails.
    let df = p(&d, "exec tm1 df -k /m");
    let blocks = df
        .ok()
        .stdout
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(1));
    assert_eq!(blocks, Some("1024"), "{df}");
    psh(&d, "exec tm1", "head -c 2000000 /dev/zero > /m/big").fails();

    let script = "rm /m/big && echo a > /t/a && echo b > /m/b && echo c > /v/c";
    psh(&d, "exec tm1", script).ok();
    assert_eq!(
        read(&tv_mp.join("c")),
        "c\n",
        "the tmpfs volume is at its Mountpoint"
    );
    p(&d, "stop -t 1 tm1").ok();
    p(&d, "start tm1").ok();
    let left = p(&d, "exec tm1 find /t /m -mindepth 1");
    out_is(left, "");
    // The tmpfs volume lives as long as a container holds it (pouch mounts volumes from
    // create to remove), and is empty after its last user.
    p(&d, "rm -f tm1").ok();
    out_is(p(&d, "run --rm -v tv:/v busybox ls -A /v"), "");
    p(&d, "volume rm tv").ok();
    assert!(!tv_mp.exists(), "{} left behind", tv_mp.display());
}

#[test]
fn image_content_and_anonymous_volumes() {
    let Some(bins) = setup::e2e("image_content_and_anonymous_volumes") else {
        return;
    };
    let (reg, d) = setup::busybox_mirror(&bins);
    let img = fixtures::busybox_with_volume();
    reg.push("library/voldata", "latest", img)
        .must("push voldata");
    p(&d, "pull busybox").ok();
    p(&d, "pull voldata").ok();
    let vol_dir = |name: &str| d.home().join("volumes").join(name).join("_data");

    // The image's VOLUME gets an anonymous volume with the image's content.
    out_is(p(&d, "run --name a1 voldata cat /data/hello"), "from-image");
    let m = d.container("a1")["Mounts"].clone();
    assert_eq!(m.as_array().map(Vec::len), Some(1), "{m}");
    let got = (&m[0]["Type"], &m[0]["Destination"]);
    assert_eq!(got, (&json!("volume"), &json!("/data")), "{m}");
    let anon1 = m[0]["Name"].as_str().unwrap().to_string();
    assert_eq!(anon1.len(), 64, "{m}");
    assert_eq!(read(&vol_dir(&anon1).join("sub/inner")), "inner\n");
    let labels = &vinspect(&d, &anon1)["Labels"];
    assert!(
        labels.get("com.docker.volume.anonymous").is_some(),
        "{labels}"
    );
    // `-v /path` is anonymous too.
    p(&d, "create --name a2 -v /extra voldata").ok();
    let m2 = d.container("a2")["Mounts"].clone();
    let names = m2
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap());
    let mut anon2: Vec<String> = names.map(String::from).collect();
    anon2.sort();
    assert_eq!(anon2.len(), 2, "/data and /extra: {m2}");
    assert_eq!(vls(&d, &[]).len(), 3);
    // rm -v removes a1's anonymous volume; plain rm keeps a2's, dangling; prune removes them.
    p(&d, "rm -v a1").ok();
    assert!(!vls(&d, &[]).contains(&anon1) && !vol_dir(&anon1).exists());
    p(&d, "rm a2").ok();
    assert_eq!(vls(&d, &["dangling=true"]), anon2);
    p(&d, "volume prune -f")
        .ok()
        .says(&anon2[0])
        .says(&anon2[1]);
    assert!(vls(&d, &[]).is_empty());
    // --rm removes them too; as Docker, they are gone when `run --rm` returns.
    p(&d, "run --rm -v /extra voldata true").ok();
    assert!(vls(&d, &[]).is_empty(), "--rm left anonymous volumes");

    // A new named volume gets the image's content; no anonymous volume under it.
    p(&d, "run --rm -v newvol:/data voldata true").ok();
    assert_eq!(vls(&d, &[]), ["newvol"]);
    assert_eq!(read(&vol_dir("newvol").join("hello")), "from-image\n");
    assert_eq!(read(&vol_dir("newvol").join("sub/inner")), "inner\n");
    p(&d, "run --rm -v etcvol:/etc busybox true").ok();
    assert!(read(&vol_dir("etcvol").join("passwd")).starts_with("root:x:0:0"));
    // So does an empty volume made with `volume create`.
    p(&d, "volume create made").ok();
    out_is(
        p(&d, "run --rm -v made:/data voldata cat /data/hello"),
        "from-image",
    );
    // nocopy and volume-nocopy turn it off.
    out_is(p(&d, "run --rm -v v2:/data:nocopy voldata ls -A /data"), "");
    let nocopy = "--mount type=volume,source=v3,target=/data,volume-nocopy";
    out_is(p(&d, &format!("run --rm {nocopy} voldata ls -A /data")), "");
    assert!(std::fs::read_dir(vol_dir("v3")).unwrap().next().is_none());
    // A volume with content keeps it.
    psh(
        &d,
        "run --rm -v pre:/data busybox",
        "echo mine > /data/hello",
    )
    .ok();
    let out = psh(
        &d,
        "run --rm -v pre:/data voldata",
        "cat /data/hello; ls /data",
    );
    assert_eq!(
        out.ok().out(),
        "mine\nhello",
        "an existing volume was overwritten"
    );
}
