use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use base64::Engine as _;
use tar::{EntryType, Header};

use super::*;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A host dir with `root/` (the container root) and `outside/` next to it.
struct Fixture {
    _dir: tempfile::TempDir,
    base: PathBuf,
    root: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_path_buf();
    let root = base.join("root");
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
    fs::create_dir_all(root.join("d/sub")).unwrap();
    fs::write(root.join("d/a"), "A").unwrap();
    fs::set_permissions(root.join("d/a"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::write(root.join("d/sub/b"), "B").unwrap();
    symlink("a", root.join("d/l")).unwrap();
    fs::hard_link(root.join("d/a"), root.join("d/h")).unwrap();
    fs::create_dir_all(base.join("outside")).unwrap();
    fs::write(base.join("outside/secret"), "host secret").unwrap();
    Fixture {
        _dir: dir,
        base,
        root,
    }
}

/// Entries of a tar: name → (type, content or link target).
fn entries(tar: &[u8]) -> BTreeMap<String, (EntryType, String)> {
    let mut out = BTreeMap::new();
    let mut a = tar::Archive::new(tar);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let kind = e.header().entry_type();
        let extra = match kind {
            EntryType::Symlink | EntryType::Link => {
                String::from_utf8(e.link_name_bytes().unwrap().into_owned()).unwrap()
            }
            _ => {
                let mut s = String::new();
                e.read_to_string(&mut s).unwrap();
                s
            }
        };
        out.insert(name, (kind, extra));
    }
    out
}

fn names(tar: &[u8]) -> Vec<String> {
    entries(tar).into_keys().collect()
}

/// A tar built from (raw name, type, content or link target, mode).
fn build(items: &[(&str, EntryType, &str, u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, data, mode) in items {
        let mut h = Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(*mode);
        h.set_uid(1234);
        h.set_gid(5678);
        h.set_mtime(1_600_000_000);
        let name_field = &mut h.as_old_mut().name;
        name_field.fill(0);
        name_field[..name.len()].copy_from_slice(name.as_bytes());
        let body: &[u8] = match kind {
            EntryType::Symlink | EntryType::Link => {
                let f = &mut h.as_old_mut().linkname;
                f.fill(0);
                f[..data.len()].copy_from_slice(data.as_bytes());
                &[]
            }
            _ => data.as_bytes(),
        };
        h.set_size(body.len() as u64);
        h.set_cksum();
        b.append(&h, body).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn path_helpers() {
    assert_eq!(container_abs("etc/hosts"), "/etc/hosts");
    assert_eq!(container_abs("/tmp/"), "/tmp/");
    assert_eq!(container_abs("/tmp/."), "/tmp/.");
    assert_eq!(container_abs("/tmp/./"), "/tmp/./");
    assert_eq!(container_abs("/"), "/");
    assert_eq!(container_abs("."), "/.");
    assert_eq!(container_abs("/a/../../b"), "/b");
    assert_eq!(split("/etc/hosts"), ("/etc/", "hosts"));
    assert_eq!(split("/tmp/"), ("/tmp/", ""));
    assert_eq!(go_base("/"), "/");
    assert_eq!(go_base("/tmp/"), "tmp");
    assert_eq!(go_base("/tmp/."), ".");
    assert_eq!(format_mtime(1_700_000_000, 0), "2023-11-14T22:13:20Z");
    assert_eq!(
        format_mtime(1_700_000_000, 120_000_000),
        "2023-11-14T22:13:20.12Z"
    );
}

#[test]
fn stat_file_dir_and_symlink() {
    let f = fixture();
    let st = stat_path(&f.root, "/etc/hosts").unwrap();
    assert_eq!(st.name, "hosts");
    assert_eq!(st.size, 20);
    assert_eq!(st.mode & 0o777, 0o644 & st.mode);
    assert_eq!(st.link_target, "");
    let st = stat_path(&f.root, "/d").unwrap();
    assert_eq!(st.mode & (1 << 31), 1 << 31, "directory bit");
    let st = stat_path(&f.root, "/").unwrap();
    assert_eq!(st.name, "/");
    let st = stat_path(&f.root, "/d/l").unwrap();
    assert_eq!(st.mode & (1 << 27), 1 << 27, "symlink bit");
    assert_eq!(st.link_target, "/d/a");
    // A trailing slash follows a final symlink to a directory.
    symlink("/d", f.root.join("dl")).unwrap();
    let st = stat_path(&f.root, "/dl/").unwrap();
    assert_eq!(st.name, "dl");
    assert_eq!(st.mode & (1 << 31), 1 << 31);
    // A dangling link reports its target made absolute.
    symlink("nowhere", f.root.join("d/dangling")).unwrap();
    assert_eq!(
        stat_path(&f.root, "/d/dangling").unwrap().link_target,
        "/d/nowhere"
    );
    let err = stat_path(&f.root, "/x").unwrap_err();
    assert!(matches!(err, ArchiveError::NotFound { .. }));
    assert_eq!(err.to_string(), "no such file or directory: /x");
    assert!(matches!(
        stat_path(&f.root, "/etc/hosts/x").unwrap_err(),
        ArchiveError::NotFound { .. }
    ));
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(header_value(&stat_path(&f.root, "/etc/hosts").unwrap()))
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
    assert_eq!(v["name"], "hosts");
    assert_eq!(v["size"], 20);
    assert!(v["mtime"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn symlinks_resolve_inside_the_root() {
    let f = fixture();
    // Relative and absolute links that would leave the root on the host.
    symlink("../../../../../outside", f.root.join("escape")).unwrap();
    symlink("/", f.root.join("abs")).unwrap();
    symlink("../outside", f.root.join("d/up")).unwrap();
    assert!(matches!(
        stat_path(&f.root, "/escape/secret").unwrap_err(),
        ArchiveError::NotFound { .. }
    ));
    let mut out = Vec::new();
    assert!(get_archive(&f.root, "/escape/secret", &mut out).is_err());
    // The same names inside the root are what a container sees.
    fs::create_dir_all(f.root.join("outside")).unwrap();
    fs::write(f.root.join("outside/secret"), "container file").unwrap();
    for p in ["/escape/secret", "/abs/outside/secret", "/d/up/secret"] {
        let mut out = Vec::new();
        get_archive(&f.root, p, &mut out).unwrap();
        assert_eq!(
            entries(&out)["secret"],
            (EntryType::Regular, "container file".to_string()),
            "{p}"
        );
    }
    assert_eq!(
        stat_path(&f.root, "/escape").unwrap().link_target,
        "/outside"
    );
    // Extraction through the same links stays inside too.
    put_archive(
        &f.root,
        "/escape",
        false,
        &mut &build(&[("new", EntryType::Regular, "x", 0o644)])[..],
    )
    .unwrap();
    assert!(f.root.join("outside/new").exists());
    assert!(!f.base.join("outside/new").exists());
    assert_eq!(
        fs::read_to_string(f.base.join("outside/secret")).unwrap(),
        "host secret"
    );
}

#[test]
fn get_archive_names_like_docker() {
    let f = fixture();
    let mut out = Vec::new();
    let st = get_archive(&f.root, "/etc/hosts", &mut out).unwrap();
    assert_eq!(st.name, "hosts");
    assert_eq!(
        entries(&out),
        BTreeMap::from([(
            "hosts".to_string(),
            (EntryType::Regular, "127.0.0.1 localhost\n".to_string())
        )])
    );

    let mut out = Vec::new();
    get_archive(&f.root, "/d", &mut out).unwrap();
    let e = entries(&out);
    assert_eq!(
        e.keys().cloned().collect::<Vec<_>>(),
        ["d/", "d/a", "d/h", "d/l", "d/sub/", "d/sub/b"]
    );
    assert_eq!(e["d/a"], (EntryType::Regular, "A".to_string()));
    assert_eq!(e["d/h"], (EntryType::Link, "d/a".to_string()));
    assert_eq!(e["d/l"], (EntryType::Symlink, "a".to_string()));
    let mut a = tar::Archive::new(&out[..]);
    for entry in a.entries().unwrap() {
        let entry = entry.unwrap();
        if entry.path_bytes().as_ref() == b"d/a" {
            assert_eq!(entry.header().mode().unwrap(), 0o640);
        }
    }

    let mut out = Vec::new();
    get_archive(&f.root, "/d/.", &mut out).unwrap();
    assert_eq!(names(&out), ["./", "a", "h", "l", "sub/", "sub/b"]);

    // A symlink is archived as itself, renamed as asked.
    let mut out = Vec::new();
    get_archive(&f.root, "/d/l", &mut out).unwrap();
    assert_eq!(entries(&out)["l"], (EntryType::Symlink, "a".to_string()));
    // A trailing slash on a link to a directory archives the directory under the link's
    // name.
    symlink("d", f.root.join("dl")).unwrap();
    let mut out = Vec::new();
    get_archive(&f.root, "/dl/", &mut out).unwrap();
    assert!(names(&out).contains(&"dl/sub/b".to_string()));

    let mut out = Vec::new();
    get_archive(&f.root, "/", &mut out).unwrap();
    let n = names(&out);
    assert!(n.contains(&"/etc/hosts".to_string()), "{n:?}");
}

#[test]
fn long_names_round_trip() {
    let f = fixture();
    let long_dir = "x".repeat(120);
    let long_file = "y".repeat(200);
    fs::create_dir_all(f.root.join("d").join(&long_dir)).unwrap();
    fs::write(f.root.join("d").join(&long_dir).join(&long_file), "deep").unwrap();
    symlink(
        &long_file,
        f.root.join("d").join(&long_dir).join("z".repeat(150)),
    )
    .unwrap();
    let mut out = Vec::new();
    get_archive(&f.root, "/d", &mut out).unwrap();
    let e = entries(&out);
    assert_eq!(
        e[&format!("d/{long_dir}/{long_file}")],
        (EntryType::Regular, "deep".to_string())
    );
    assert_eq!(
        e[&format!("d/{long_dir}/{}", "z".repeat(150))],
        (EntryType::Symlink, long_file.clone())
    );
}

#[test]
fn put_extracts_with_metadata() {
    let f = fixture();
    fs::create_dir(f.root.join("dst")).unwrap();
    let tar = build(&[
        ("top/", EntryType::Directory, "", 0o750),
        ("top/f", EntryType::Regular, "hello", 0o4755),
        ("top/l", EntryType::Symlink, "f", 0o777),
        ("top/h", EntryType::Link, "top/f", 0o4755),
        ("top/p", EntryType::Fifo, "", 0o600),
        ("implied/dir/g", EntryType::Regular, "g", 0o600),
    ]);
    put_archive(&f.root, "/dst", true, &mut &tar[..]).unwrap();
    let top = f.root.join("dst/top");
    assert_eq!(fs::read_to_string(top.join("f")).unwrap(), "hello");
    let m = fs::metadata(top.join("f")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o4755);
    assert_eq!(m.mtime(), 1_600_000_000);
    assert_eq!(fs::read_link(top.join("l")).unwrap(), Path::new("f"));
    assert_eq!(fs::metadata(top.join("h")).unwrap().ino(), m.ino());
    assert!(fs::symlink_metadata(top.join("p"))
        .unwrap()
        .file_type()
        .is_fifo());
    let dm = fs::metadata(&top).unwrap();
    assert_eq!(dm.mode() & 0o7777, 0o750);
    assert_eq!(dm.mtime(), 1_600_000_000);
    assert_eq!(
        fs::metadata(f.root.join("dst/implied/dir")).unwrap().mode() & 0o777,
        0o755
    );
    if is_root() {
        assert_eq!((m.uid(), m.gid()), (1234, 5678));
    }
    // copyUIDGID: every entry gets the given owner.
    if is_root() {
        extract(
            &f.root,
            "/dst",
            &ExtractOptions {
                owner: Some((7, 8)),
                ..Default::default()
            },
            &mut &build(&[("owned", EntryType::Regular, "", 0o644)])[..],
        )
        .unwrap();
        let m = fs::metadata(f.root.join("dst/owned")).unwrap();
        assert_eq!((m.uid(), m.gid()), (7, 8));
    }
}

#[test]
fn put_refuses_hostile_entries() {
    let f = fixture();
    let cases: &[(&str, Vec<u8>)] = &[
        (
            "dot-dot",
            build(&[("../../outside/evil", EntryType::Regular, "x", 0o644)]),
        ),
        ("device", build(&[("null", EntryType::Char, "", 0o666)])),
        (
            "climbing symlink",
            build(&[("up", EntryType::Symlink, "../../../outside", 0o777)]),
        ),
        (
            "hard link out",
            build(&[("h", EntryType::Link, "../outside/secret", 0o644)]),
        ),
        (
            "hard link to a missing file",
            build(&[("h", EntryType::Link, "nothing", 0o644)]),
        ),
    ];
    for (what, tar) in cases {
        let err = put_archive(&f.root, "/d", false, &mut &tar[..]).unwrap_err();
        assert!(matches!(err, ArchiveError::Refused { .. }), "{what}: {err}");
        assert_eq!(
            ApiError::from(err).kind,
            pouch_api::ErrorKind::InvalidArgument
        );
    }
    assert_eq!(
        fs::read_dir(f.base.join("outside")).unwrap().count(),
        1,
        "nothing written outside the root"
    );
    // An absolute symlink in the tar, then a file through it: lands inside the root.
    let tar = build(&[
        ("etc-link", EntryType::Symlink, "/etc", 0o777),
        ("etc-link/passwd-test", EntryType::Regular, "x", 0o644),
    ]);
    put_archive(&f.root, "/d", false, &mut &tar[..]).unwrap();
    assert!(f.root.join("etc/passwd-test").exists());
    assert!(!Path::new("/etc/passwd-test").exists());
    // A symlink made by the container where a file is extracted is replaced, not followed.
    symlink("/etc/hosts", f.root.join("d/victim")).unwrap();
    put_archive(
        &f.root,
        "/d",
        false,
        &mut &build(&[("victim", EntryType::Regular, "new", 0o600)])[..],
    )
    .unwrap();
    assert_eq!(fs::read_to_string(f.root.join("d/victim")).unwrap(), "new");
    assert_eq!(
        fs::read_to_string(f.root.join("etc/hosts")).unwrap(),
        "127.0.0.1 localhost\n"
    );
}

#[test]
fn put_target_and_overwrite_rules() {
    let f = fixture();
    let tar = build(&[("a", EntryType::Regular, "x", 0o644)]);
    assert!(matches!(
        put_archive(&f.root, "/etc/hosts", false, &mut &tar[..]).unwrap_err(),
        ArchiveError::NotDirectory { .. }
    ));
    assert!(matches!(
        put_archive(&f.root, "/missing", false, &mut &tar[..]).unwrap_err(),
        ArchiveError::NotFound { .. }
    ));
    // d/sub is a directory, d/a a file.
    let file_over_dir = build(&[("sub", EntryType::Regular, "x", 0o644)]);
    let dir_over_file = build(&[("a", EntryType::Directory, "", 0o755)]);
    let err = put_archive(&f.root, "/d", true, &mut &file_over_dir[..]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot overwrite directory /d/sub with non-directory (remove it first)"
    );
    assert!(matches!(
        put_archive(&f.root, "/d", true, &mut &dir_over_file[..]).unwrap_err(),
        ArchiveError::Overwrite { .. }
    ));
    // Without the flag, Docker replaces.
    put_archive(&f.root, "/d", false, &mut &file_over_dir[..]).unwrap();
    assert_eq!(fs::read_to_string(f.root.join("d/sub")).unwrap(), "x");
    put_archive(&f.root, "/d", false, &mut &dir_over_file[..]).unwrap();
    assert!(f.root.join("d/a").is_dir());
    // Directories merge.
    let tar = build(&[
        ("etc/", EntryType::Directory, "", 0o755),
        ("etc/new", EntryType::Regular, "n", 0o644),
    ]);
    put_archive(&f.root, "/", true, &mut &tar[..]).unwrap();
    assert!(f.root.join("etc/hosts").exists() && f.root.join("etc/new").exists());
    // Garbage is a read error.
    let err = put_archive(&f.root, "/d", false, &mut &[1u8; 1024][..]).unwrap_err();
    assert!(matches!(err, ArchiveError::Read(_)), "{err}");
}

#[test]
fn round_trip_and_export() {
    let f = fixture();
    let mut out = Vec::new();
    get_archive(&f.root, "/d", &mut out).unwrap();
    fs::create_dir(f.root.join("copy")).unwrap();
    put_archive(&f.root, "/copy", true, &mut &out[..]).unwrap();
    let mut again = Vec::new();
    get_archive(&f.root, "/copy/d", &mut again).unwrap();
    assert_eq!(entries(&out), entries(&again));
    assert_eq!(
        fs::metadata(f.root.join("copy/d/a")).unwrap().mode() & 0o777,
        0o640
    );

    let mut out = Vec::new();
    export(&f.root, &mut out).unwrap();
    let n = names(&out);
    assert!(n.contains(&"etc/".to_string()));
    assert!(n.contains(&"etc/hosts".to_string()));
    assert!(n.contains(&"copy/d/sub/b".to_string()));
    assert!(!n.iter().any(|n| n.starts_with('/') || n.starts_with("./")));
}
