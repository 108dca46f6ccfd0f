//! Unit tests of the layer unpacker and packer: a normal layer, compression round trips,
//! every hostile case (refused, with nothing outside the layer changed) and pack/unpack.

use super::*;
use std::io::Cursor;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

const MTIME: u64 = 1_600_000_000;

fn is_root(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        true
    } else {
        eprintln!("skipping {test}: needs root (mknod, trusted.* xattrs, chown)");
        false
    }
}

/// Builds layer tars entry by entry, writing names raw so hostile ones get through.
struct Layer(tar::Builder<Vec<u8>>);

impl Layer {
    fn new() -> Layer {
        Layer(tar::Builder::new(Vec::new()))
    }

    #[allow(clippy::too_many_arguments)]
    fn raw(
        &mut self,
        kind: EntryType,
        name: &[u8],
        link: &[u8],
        data: &[u8],
        mode: u32,
        uid: u64,
        size: Option<u64>,
    ) -> &mut Self {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size.unwrap_or(data.len() as u64));
        h.set_mode(mode);
        h.set_mtime(MTIME);
        h.set_uid(uid);
        h.set_gid(uid);
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name);
        old.linkname[..link.len()].copy_from_slice(link);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.raw(
            EntryType::Directory,
            name.as_bytes(),
            b"",
            b"",
            mode,
            0,
            None,
        )
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.raw(
            EntryType::Regular,
            name.as_bytes(),
            b"",
            data,
            0o644,
            0,
            None,
        )
    }

    fn owned_file(&mut self, name: &str, data: &[u8], mode: u32, uid: u64) -> &mut Self {
        self.raw(
            EntryType::Regular,
            name.as_bytes(),
            b"",
            data,
            mode,
            uid,
            None,
        )
    }

    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        let (n, t) = (name.as_bytes(), target.as_bytes());
        self.raw(EntryType::Symlink, n, t, b"", 0o777, 0, None)
    }

    fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        let (n, t) = (name.as_bytes(), target.as_bytes());
        self.raw(EntryType::Link, n, t, b"", 0o644, 0, None)
    }

    fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        self.0
            .append_pax_extensions(records.iter().copied())
            .unwrap();
        self
    }

    fn bytes(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.0, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

/// A root holding `layer` (the unpack destination) and `outside` (which must never
/// change), so that an escape from `layer` lands somewhere we can see.
struct Sandbox {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    dest: PathBuf,
    outside: PathBuf,
}

fn sandbox() -> Sandbox {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let dest = root.join("layer");
    let outside = root.join("outside");
    fs::create_dir(&dest).unwrap();
    fs::create_dir_all(outside.join("sub")).unwrap();
    fs::write(outside.join("keep"), b"keep").unwrap();
    Sandbox {
        _tmp: tmp,
        root,
        dest,
        outside,
    }
}

type Listing = Vec<(PathBuf, u64, i64, i64, u32, u32)>;

impl Sandbox {
    /// Everything under the root except the layer, with sizes, mtimes, modes, owners.
    fn outside_state(&self) -> Listing {
        fn walk(p: &Path, skip: &Path, out: &mut Listing) {
            let m = fs::symlink_metadata(p).unwrap();
            out.push((
                p.to_path_buf(),
                m.len(),
                m.mtime(),
                m.mtime_nsec(),
                m.mode(),
                m.uid(),
            ));
            if m.is_dir() {
                let mut names: Vec<_> = fs::read_dir(p)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect();
                names.sort();
                for n in names.iter().filter(|n| n.as_path() != skip) {
                    walk(n, skip, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &self.dest, &mut out);
        out
    }

    /// Empties the layer directory (not following links) for the next case.
    fn clear(&self) {
        for e in fs::read_dir(&self.dest).unwrap() {
            remove_existing(&e.unwrap().path()).unwrap();
        }
    }

    fn unpack(&self, tar: &[u8], opts: &UnpackOptions) -> Result<UnpackStats, ImageError> {
        self.clear();
        unpack_layer(Cursor::new(tar), &self.dest, "sha256:test", opts)
    }

    /// Unpacks `tar`, expects a refusal whose reason contains `reason`, and checks that
    /// nothing outside the layer changed.
    fn refused(&self, tar: &[u8], opts: &UnpackOptions, reason: &str) {
        let before = self.outside_state();
        match self.unpack(tar, opts) {
            Err(ImageError::HostileLayer {
                reason: r, layer, ..
            }) => {
                assert!(r.contains(reason), "reason {r:?} lacks {reason:?}");
                assert_eq!(layer, "sha256:test");
            }
            other => panic!("expected a refusal ({reason}), got {other:?}"),
        }
        assert_eq!(
            before,
            self.outside_state(),
            "something outside the layer changed"
        );
    }
}

fn lstat(p: &Path) -> fs::Metadata {
    fs::symlink_metadata(p).unwrap()
}

fn xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let n = rustix::fs::lgetxattr(p, name, &mut buf[..]).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// A layer with one of everything, as docker would write it.
fn normal_layer() -> Vec<u8> {
    let long = format!("usr/share/{}/file", "d".repeat(120));
    let mut l = Layer::new();
    l.dir("./", 0o755)
        .dir("etc/", 0o755)
        .owned_file("etc/hosts", b"127.0.0.1 localhost\n", 0o640, 1000)
        // Like the file's own header: the link's owner and mode apply to the inode.
        .raw(
            EntryType::Link,
            b"etc/hosts.bak",
            b"etc/hosts",
            b"",
            0o640,
            1000,
            None,
        )
        .dir("bin/", 0o755)
        .owned_file("bin/su", b"#!/bin/true\n", 0o4755, 0)
        .symlink("bin/sh", "busybox")
        .symlink("lib64", "/lib")
        .symlink("usr/lib/up", "../../etc/hosts")
        .raw(EntryType::Fifo, b"run/initctl", b"", b"", 0o600, 0, None)
        .dir("var/", 0o755)
        .file("var/.wh.cache", b"")
        .file("tmp/gone", b"soon gone")
        .file("tmp/.wh.gone", b"")
        .dir("opt/", 0o755)
        .file("opt/.wh..wh..opq", b"")
        .file("opt/kept", b"kept")
        .file("opt/.wh..wh.plnk", b"")
        .file("/abs/file", b"abs");
    l.pax(&[
        ("SCHILY.xattr.user.pouch", b"v1"),
        ("mtime", b"1600000000.5"),
    ])
    .file("etc/xattr", b"x");
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o644);
    l.0.append_data(&mut h, &long, &b"long"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(EntryType::Symlink);
    h.set_size(0);
    l.0.append_link(&mut h, "usr/longlink", format!("/{}", "t".repeat(150)))
        .unwrap();
    l.bytes()
}

fn check_normal(d: &Path) {
    let hosts = lstat(&d.join("etc/hosts"));
    assert_eq!(
        fs::read(d.join("etc/hosts")).unwrap(),
        b"127.0.0.1 localhost\n"
    );
    assert_eq!(hosts.mode() & 0o7777, 0o640);
    assert_eq!((hosts.uid(), hosts.gid()), (1000, 1000));
    assert_eq!(hosts.mtime(), MTIME as i64);
    assert_eq!(lstat(&d.join("etc/hosts.bak")).ino(), hosts.ino());
    assert_eq!(lstat(&d.join("bin/su")).mode() & 0o7777, 0o4755);
    assert_eq!(
        fs::read_link(d.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(fs::read_link(d.join("lib64")).unwrap(), Path::new("/lib"));
    assert_eq!(lstat(&d.join("lib64")).mtime(), MTIME as i64);
    assert_eq!(
        fs::read_link(d.join("usr/lib/up")).unwrap(),
        Path::new("../../etc/hosts")
    );
    assert!(lstat(&d.join("run/initctl")).file_type().is_fifo());
    for wh in ["var/cache", "tmp/gone"] {
        let m = lstat(&d.join(wh));
        assert!(m.file_type().is_char_device(), "{wh} is not a whiteout");
        assert_eq!(m.rdev(), 0);
    }
    assert!(!d.join("var/.wh.cache").exists());
    assert!(!d.join("tmp/.wh.gone").exists());
    assert!(pouch_sys::is_opaque(&d.join("opt")));
    assert!(!pouch_sys::is_opaque(&d.join("etc")));
    assert!(!d.join("opt/.wh..wh..opq").exists());
    assert!(!d.join("opt/.wh..wh.plnk").exists());
    assert_eq!(fs::read(d.join("opt/kept")).unwrap(), b"kept");
    assert_eq!(fs::read(d.join("abs/file")).unwrap(), b"abs");
    assert_eq!(xattr(&d.join("etc/xattr"), "user.pouch").unwrap(), b"v1");
    assert_eq!(lstat(&d.join("etc/xattr")).mtime(), MTIME as i64);
    let long = d.join(format!("usr/share/{}/file", "d".repeat(120)));
    assert_eq!(fs::read(long).unwrap(), b"long");
    assert_eq!(
        fs::read_link(d.join("usr/longlink")).unwrap(),
        PathBuf::from(format!("/{}", "t".repeat(150)))
    );
    // Directory times survive the entries created in them later.
    assert_eq!(lstat(&d.join("etc")).mtime(), MTIME as i64);
    assert_eq!(lstat(&d.join("var")).mtime(), MTIME as i64);
    // Missing parents were created as 0755 directories.
    assert_eq!(lstat(&d.join("run")).mode() & 0o7777, 0o755);
}

#[test]
fn normal_layer_becomes_an_overlay_layer() {
    if !is_root("normal_layer_becomes_an_overlay_layer") {
        return;
    }
    let s = sandbox();
    let stats = s
        .unpack(&normal_layer(), &UnpackOptions::default())
        .unwrap();
    check_normal(&s.dest);
    // pack_layer keeps whole seconds only (as docker does), so this is checked here.
    assert_eq!(lstat(&s.dest.join("etc/xattr")).mtime_nsec(), 500_000_000);
    let content = [20, 12, 9, 0, 4, 3, 1, 4].iter().sum::<u64>();
    assert_eq!(stats.size, content);
    assert!(stats.entries >= 22, "{stats:?}");
}

#[test]
fn compressed_layers_unpack_through_decompress() {
    let mut l = Layer::new();
    let tar = l.dir("a/", 0o755).file("a/f", b"data").bytes();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::stream::encode_all(&tar[..], 3).unwrap();
    for blob in [tar.clone(), gz, zst] {
        let s = sandbox();
        let r = crate::decompress::decompress(Box::new(Cursor::new(blob))).unwrap();
        let stats = unpack_layer(r, &s.dest, "l", &UnpackOptions::default()).unwrap();
        assert_eq!(
            stats,
            UnpackStats {
                size: 4,
                entries: 2
            }
        );
        assert_eq!(fs::read(s.dest.join("a/f")).unwrap(), b"data");
    }
}

#[test]
fn dot_dot_is_refused() {
    let s = sandbox();
    let why = "path escapes the layer root through '..'";
    s.refused(
        &Layer::new().file("../escape", b"x").bytes(),
        &Default::default(),
        why,
    );
    s.refused(
        &Layer::new().file("a/../../escape", b"x").bytes(),
        &Default::default(),
        why,
    );
    s.refused(
        &Layer::new().dir("../escape/", 0o755).bytes(),
        &Default::default(),
        why,
    );
    s.refused(
        &Layer::new().symlink("..", "/").bytes(),
        &Default::default(),
        why,
    );
    assert!(!s.root.join("escape").exists());
}

#[test]
fn absolute_paths_stay_inside_the_layer() {
    let s = sandbox();
    let name = format!("pouch-unpack-test-{}", std::process::id());
    let host = Path::new("/etc").join(&name);
    let tar = Layer::new()
        .file(&format!("/etc/{name}"), b"inside")
        .bytes();
    let before = s.outside_state();
    s.unpack(&tar, &Default::default()).unwrap();
    assert_eq!(fs::read(s.dest.join("etc").join(&name)).unwrap(), b"inside");
    assert!(!host.exists());
    assert_eq!(before, s.outside_state());
}

#[test]
fn writing_through_a_symlink_is_refused() {
    let s = sandbox();
    let out = s.outside.to_str().unwrap();
    let why = "parent \"link\" is a symlink: writing through it would leave the layer";
    for last in ["link/pwned", "link/sub/pwned", "link/keep"] {
        let tar = Layer::new().symlink("link", out).file(last, b"x").bytes();
        s.refused(&tar, &Default::default(), why);
    }
    let tar = Layer::new()
        .symlink("link", out)
        .dir("link/newdir/", 0o755)
        .bytes();
    s.refused(&tar, &Default::default(), why);
    // A whiteout or opaque marker through the link would delete or mark outside files.
    let tar = Layer::new()
        .symlink("link", out)
        .file("link/.wh.keep", b"")
        .bytes();
    s.refused(&tar, &Default::default(), why);
    let tar = Layer::new()
        .symlink("link", out)
        .file("link/.wh..wh..opq", b"")
        .bytes();
    s.refused(&tar, &Default::default(), why);
    let tar = Layer::new()
        .file("f", b"x")
        .symlink("link", out)
        .hardlink("link/hard", "f")
        .bytes();
    s.refused(&tar, &Default::default(), why);
    assert_eq!(fs::read(s.outside.join("keep")).unwrap(), b"keep");
}

#[test]
fn a_symlink_at_the_entry_path_is_replaced_not_followed() {
    let s = sandbox();
    let keep = s.outside.join("keep");
    let tar = Layer::new()
        .symlink("f", keep.to_str().unwrap())
        .file("f", b"mine")
        .symlink("d", s.outside.to_str().unwrap())
        .dir("d/", 0o700)
        .bytes();
    let before = s.outside_state();
    s.unpack(&tar, &Default::default()).unwrap();
    assert_eq!(before, s.outside_state());
    assert!(lstat(&s.dest.join("f")).is_file());
    assert_eq!(fs::read(s.dest.join("f")).unwrap(), b"mine");
    assert!(lstat(&s.dest.join("d")).is_dir());
    assert_eq!(fs::read(&keep).unwrap(), b"keep");
}

#[test]
fn deferred_directory_times_do_not_follow_a_later_symlink() {
    let s = sandbox();
    let tar = Layer::new()
        .dir("d/", 0o755)
        .dir("d/sub/", 0o755)
        .symlink("d", s.outside.to_str().unwrap())
        .bytes();
    let before = s.outside_state();
    s.unpack(&tar, &Default::default()).unwrap();
    assert_eq!(before, s.outside_state());
    assert!(lstat(&s.dest.join("d")).file_type().is_symlink());
}

#[test]
fn symlinks_climbing_above_the_root_are_refused() {
    let s = sandbox();
    let why = "climbs above the layer root";
    s.refused(
        &Layer::new().symlink("up", "../../..").bytes(),
        &Default::default(),
        why,
    );
    s.refused(
        &Layer::new().symlink("a/b/up", "../../../x").bytes(),
        &Default::default(),
        why,
    );
    s.refused(
        &Layer::new().symlink("a/up", "x/../../..").bytes(),
        &Default::default(),
        why,
    );
    // Staying inside is fine, and so is an absolute target.
    let ok = Layer::new()
        .symlink("a/b/in", "../../x")
        .symlink("a/abs", "/../../etc")
        .bytes();
    s.unpack(&ok, &Default::default()).unwrap();
}

#[test]
fn hard_links_outside_or_to_missing_entries_are_refused() {
    let s = sandbox();
    s.refused(
        &Layer::new().hardlink("x", "../../etc/passwd").bytes(),
        &Default::default(),
        "hard link target \"../../etc/passwd\" is outside the layer",
    );
    s.refused(
        &Layer::new().hardlink("x", "/etc/passwd").bytes(),
        &Default::default(),
        "hard link target \"/etc/passwd\" was not unpacked",
    );
    s.refused(
        &Layer::new()
            .symlink("s", "/etc/passwd")
            .hardlink("x", "s")
            .bytes(),
        &Default::default(),
        "was not unpacked as a regular file",
    );
    s.refused(
        &Layer::new().dir("d/", 0o755).hardlink("x", "d").bytes(),
        &Default::default(),
        "was not unpacked as a regular file",
    );
    s.refused(
        &Layer::new().file("x", b"1").hardlink("x", "x").bytes(),
        &Default::default(),
        "points to itself",
    );
    // The target's parent replaced by a symlink after the file was unpacked.
    let tar = Layer::new()
        .file("d/f", b"1")
        .symlink("d", s.outside.to_str().unwrap())
        .hardlink("x", "d/keep")
        .bytes();
    s.refused(&tar, &Default::default(), "was not unpacked");
    let tar = Layer::new()
        .file("d/f", b"1")
        .symlink("d", s.outside.to_str().unwrap())
        .hardlink("x", "d/f")
        .bytes();
    s.refused(&tar, &Default::default(), "is reached through \"d\"");
}

#[test]
fn absolute_hard_link_targets_resolve_inside_the_layer() {
    let s = sandbox();
    let tar = Layer::new()
        .file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
        .hardlink("passwd.link", "/etc/passwd")
        .bytes();
    s.unpack(&tar, &Default::default()).unwrap();
    assert_eq!(
        lstat(&s.dest.join("passwd.link")).ino(),
        lstat(&s.dest.join("etc/passwd")).ino()
    );
    assert_ne!(
        lstat(&s.dest.join("passwd.link")).ino(),
        lstat(Path::new("/etc/passwd")).ino()
    );
}

#[test]
fn devices_need_allow_devices() {
    let s = sandbox();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(EntryType::Char);
    h.set_mode(0o666);
    h.set_size(0);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    b.append_data(&mut h, "dev/null", io::empty()).unwrap();
    let tar = b.into_inner().unwrap();
    s.refused(
        &tar,
        &Default::default(),
        "device nodes are not allowed in image layers",
    );
    let blk = Layer::new()
        .raw(EntryType::Block, b"dev/sda", b"", b"", 0o660, 0, None)
        .bytes();
    s.refused(&blk, &Default::default(), "device nodes are not allowed");
    if !is_root("devices_need_allow_devices (allowed part)") {
        return;
    }
    let opts = UnpackOptions {
        allow_devices: true,
        ..Default::default()
    };
    s.unpack(&tar, &opts).unwrap();
    let m = lstat(&s.dest.join("dev/null"));
    assert!(m.file_type().is_char_device());
    assert_eq!(
        (rustix::fs::major(m.rdev()), rustix::fs::minor(m.rdev())),
        (1, 3)
    );
    assert_eq!(m.mode() & 0o7777, 0o666);
}

#[test]
fn size_limits_are_enforced() {
    let s = sandbox();
    let tib = 1u64 << 40;
    let tar = Layer::new()
        .raw(EntryType::Regular, b"huge", b"", b"", 0o644, 0, Some(tib))
        .bytes();
    s.refused(
        &tar,
        &Default::default(),
        "entry size 1099511627776 exceeds the limit of 68719476736 bytes",
    );
    assert!(!s.dest.join("huge").exists());
    let opts = UnpackOptions {
        max_total_size: 10,
        ..Default::default()
    };
    let tar = Layer::new()
        .file("a", b"12345678")
        .file("b", b"12345678")
        .bytes();
    s.refused(
        &tar,
        &opts,
        "the layer's content would pass the limit of 10 bytes",
    );
    assert!(s.dest.join("a").exists());
    assert!(!s.dest.join("b").exists());
    let opts = UnpackOptions {
        max_entry_size: 4,
        ..Default::default()
    };
    let tar = Layer::new().file("c", b"12345").bytes();
    s.refused(&tar, &opts, "entry size 5 exceeds the limit of 4 bytes");
}

#[test]
fn overlay_xattrs_from_the_layer_are_refused() {
    let s = sandbox();
    for name in ["trusted.overlay.opaque", "trusted.overlay.redirect"] {
        let key = format!("SCHILY.xattr.{name}");
        let tar = Layer::new().pax(&[(&key, b"y")]).dir("d/", 0o755).bytes();
        s.refused(&tar, &Default::default(), "is reserved for overlayfs");
        assert!(!s.dest.join("d").exists());
    }
}

#[test]
fn nul_and_absurd_lengths_are_refused() {
    let s = sandbox();
    let tar = Layer::new()
        .pax(&[("path", b"a\0b")])
        .file("x", b"")
        .bytes();
    s.refused(&tar, &Default::default(), "nul byte");
    let long = "a/".repeat(2100);
    let tar = Layer::new()
        .pax(&[("path", long.as_bytes())])
        .file("x", b"")
        .bytes();
    s.refused(&tar, &Default::default(), "over the limit of 4096");
    let name = "n".repeat(300);
    let tar = Layer::new()
        .pax(&[("path", name.as_bytes())])
        .file("x", b"")
        .bytes();
    s.refused(&tar, &Default::default(), "over the limit of 255");
    let tar = Layer::new().file(".wh..", b"").bytes();
    s.refused(&tar, &Default::default(), "whiteout does not name a file");
    let tar = Layer::new()
        .pax(&[("linkpath", b"a\0b")])
        .symlink("s", "x")
        .bytes();
    s.refused(&tar, &Default::default(), "nul byte");
}

#[test]
fn pack_then_unpack_round_trips() {
    if !is_root("pack_then_unpack_round_trips") {
        return;
    }
    let a = sandbox();
    a.unpack(&normal_layer(), &Default::default()).unwrap();
    let mut packed = Vec::new();
    let n = pack_layer(&a.dest, &mut packed).unwrap();
    assert_eq!(n, packed.len() as u64);
    let mut again = Vec::new();
    pack_layer(&a.dest, &mut again).unwrap();
    assert!(packed == again, "pack_layer is not deterministic");

    let mut names = Vec::new();
    let mut ar = tar::Archive::new(&packed[..]);
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        names.push(String::from_utf8_lossy(&e.path_bytes()).into_owned());
    }
    for want in ["var/.wh.cache", "tmp/.wh.gone", "opt/.wh..wh..opq", "etc/"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.trim_end_matches('/').to_string());
    assert_eq!(names.len(), sorted.len());

    let b = sandbox();
    b.unpack(&packed, &Default::default()).unwrap();
    check_normal(&b.dest);
}
