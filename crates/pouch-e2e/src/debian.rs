//! The Debian image of the rich-container tests: Debian bookworm with systemd, dbus,
//! openssh-server, iproute2 and procps, made by `debootstrap` through the machine's apt
//! mirror (no internet needed), served by the harness registry as `debian-rich:bookworm`.
//!
//! The root filesystem is built once per machine and cached outside the clone, under
//! `$POUCH_TEST_CACHE` (default `/var/cache/pouch-test`), as one zstd layer blob plus a small
//! JSON description, in a directory named after a key of the recipe (suite, packages,
//! trimming steps): a recipe change builds a new one, an unchanged recipe reuses it. Test
//! processes that want it at the same time take a file lock; the builder works in a
//! temporary directory and renames it into place when complete, so nobody sees half a cache.
//!
//! Logging in to its sshd from the host is `ssh`'s.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::cmd;
use crate::image::{Compression, Format, Image, ImageSpec, Layer};
use crate::{fixtures, Binaries, Daemon, DaemonOptions, Must, Registry, RegistryOptions};

/// The Debian release of the image.
pub const SUITE: &str = "bookworm";
/// The packages `debootstrap --variant=minbase` adds (`systemctl` talks to systemd over its
/// private socket, but logind and `busctl` want dbus; procps brings `ps` and `free`).
pub const PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "iproute2",
    "procps",
];
/// The repository the image is pushed as: a pouchd using the registry as its mirror resolves
/// `debian-rich:bookworm` to it, as `docker.io/library/debian-rich:bookworm`.
pub const REPO: &str = "library/debian-rich";
/// The tag the image is pushed as.
pub const TAG: &str = SUITE;
/// The short name tests run.
pub const IMAGE: &str = "debian-rich:bookworm";
/// systemd in the image (also reachable as `/sbin/init`).
pub const SYSTEMD: &str = "/lib/systemd/systemd";
/// The ssh daemon in the image.
pub const SSHD: &str = "/usr/sbin/sshd";
/// The tool that makes the root filesystem.
pub const DEBOOTSTRAP: &str = "/usr/sbin/debootstrap";
/// Where the built layer is cached unless `$POUCH_TEST_CACHE` says otherwise.
pub const CACHE_DIR: &str = "/var/cache/pouch-test";
/// Overrides [`CACHE_DIR`].
pub const CACHE_ENV: &str = "POUCH_TEST_CACHE";
/// Overrides the mirror found in apt's sources.
pub const MIRROR_ENV: &str = "POUCH_DEBIAN_MIRROR";

/// Bump when the trimming or image-making steps change, so old caches are not reused.
const RECIPE_VERSION: u32 = 1;
/// How long debootstrap may take (about 40 s here).
const DEBOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// Name prefix of the cache entries (directory `debian-rich-<key>`).
const CACHE_NAME: &str = "debian-rich";

/// The cache directory: `$POUCH_TEST_CACHE`, else [`CACHE_DIR`].
pub fn cache_dir() -> PathBuf {
    std::env::var_os(CACHE_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CACHE_DIR))
}

/// A short hex key of what goes into the image (suite, packages, architecture, recipe
/// version): the cache entry is `debian-rich-<key>`.
pub fn cache_key() -> String {
    let recipe = format!(
        "v{RECIPE_VERSION} {SUITE} {} {} minbase zstd",
        PACKAGES.join(","),
        crate::image::host_arch()
    );
    hex::encode(&sha2::Sha256::digest(recipe.as_bytes())[..6])
}

/// The name of this recipe's cache entry.
pub fn cache_entry_name() -> String {
    format!("{CACHE_NAME}-{}", cache_key())
}

/// The Debian mirror debootstrap uses: `$POUCH_DEBIAN_MIRROR`, else the first `deb` source
/// for [`SUITE`] in `/etc/apt/sources.list.d/*.sources` (deb822), `*.list` or
/// `/etc/apt/sources.list`.
pub fn apt_mirror() -> Result<String> {
    if let Some(m) = std::env::var_os(MIRROR_ENV).filter(|v| !v.is_empty()) {
        return Ok(m.to_string_lossy().into_owned());
    }
    let mut files = Vec::new();
    if let Ok(rd) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut names: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        files.extend(names);
    }
    files.push(PathBuf::from("/etc/apt/sources.list"));
    for f in files {
        let Ok(text) = fs::read_to_string(&f) else {
            continue;
        };
        let found = match f.extension().and_then(|e| e.to_str()) {
            Some("sources") => mirror_in_deb822(&text, SUITE),
            Some("list") => mirror_in_one_line(&text, SUITE),
            _ => None,
        };
        if let Some(m) = found {
            return Ok(m);
        }
    }
    bail!(
        "no apt source for Debian {SUITE} in /etc/apt/sources.list(.d): add one, or set \
         {MIRROR_ENV} to a Debian mirror URL"
    )
}

/// The first URI of a deb822 stanza with `Types: deb` and `Suites:` containing `suite`.
fn mirror_in_deb822(text: &str, suite: &str) -> Option<String> {
    for stanza in text.split("\n\n") {
        let mut types = "";
        let mut uris = "";
        let mut suites = "";
        let mut enabled = true;
        for line in stanza.lines() {
            if line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            match k.trim().to_ascii_lowercase().as_str() {
                "types" => types = v.trim(),
                "uris" => uris = v.trim(),
                "suites" => suites = v.trim(),
                "enabled" => enabled = v.trim() != "no",
                _ => {}
            }
        }
        if enabled
            && types.split_whitespace().any(|t| t == "deb")
            && suites.split_whitespace().any(|s| s == suite)
        {
            if let Some(u) = uris.split_whitespace().next() {
                return Some(u.to_string());
            }
        }
    }
    None
}

/// The URI of the first `deb [opts] URI suite ...` line for `suite`.
fn mirror_in_one_line(text: &str, suite: &str) -> Option<String> {
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        if words.next() != Some("deb") {
            continue;
        }
        let mut rest: Vec<&str> = words.collect();
        if rest.first().is_some_and(|w| w.starts_with('[')) {
            let end = rest.iter().position(|w| w.ends_with(']'))?;
            rest.drain(..=end);
        }
        if rest.len() >= 2 && rest[1] == suite {
            return Some(rest[0].to_string());
        }
    }
    None
}

/// Whether the image can be made here (root, debootstrap and tar installed, or a cache
/// already built); prints why a test is skipped when not.
pub fn require_debootstrap(test: &str) -> bool {
    if !crate::require_root(test) {
        return false;
    }
    if cache_is_valid(&cache_dir().join(cache_entry_name())) {
        return true;
    }
    if !Path::new(DEBOOTSTRAP).is_file() {
        crate::skip(
            test,
            &format!("{DEBOOTSTRAP} not installed (run scripts/install-deps.sh)"),
        );
        return false;
    }
    true
}

/// Runs `build` once per machine for the cache entry `dir/name`, under an exclusive lock on
/// `dir/name.lock`: when the entry exists and `valid` accepts it, it is reused; otherwise
/// (an invalid entry is removed first) `build` fills a fresh temporary directory
/// `dir/.name.build-*`, which is renamed to `dir/name` when `build` succeeds and removed
/// (with anything mounted below it) when it fails. Leftovers of builders that died are
/// removed under the lock. Returns the entry and whether this call built it.
pub fn cached(
    dir: &Path,
    name: &str,
    valid: impl Fn(&Path) -> bool,
    build: impl FnOnce(&Path) -> Result<()>,
) -> Result<(PathBuf, bool)> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the test cache {}", dir.display()))?;
    let lock_path = dir.join(format!("{name}.lock"));
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open the cache lock {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("cannot lock {}", lock_path.display()))?;
    let entry = dir.join(name);
    if entry.exists() {
        if valid(&entry) {
            return Ok((entry, false));
        }
        remove_tree(&entry);
    }
    let prefix = format!(".{name}.build-");
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                remove_tree(&e.path());
            }
        }
    }
    let work = tempfile::Builder::new()
        .prefix(&prefix)
        .tempdir_in(dir)
        .with_context(|| format!("cannot make a build directory in {}", dir.display()))?
        .keep();
    if let Err(e) = build(&work) {
        remove_tree(&work);
        return Err(e);
    }
    fs::set_permissions(&work, fs::Permissions::from_mode(0o755))?;
    if let Err(e) = fs::rename(&work, &entry) {
        remove_tree(&work);
        return Err(e).with_context(|| format!("cannot rename the build to {}", entry.display()));
    }
    drop(lock);
    Ok((entry, true))
}

/// Removes a directory tree after unmounting anything below it (debootstrap mounts /proc
/// and /sys in its target; a killed run can leave them).
fn remove_tree(p: &Path) {
    crate::procs::unmount_below(p);
    let _ = fs::remove_dir_all(p);
}

/// What the cache entry says about its layer (`layer.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerInfo {
    /// Digest of `layer.tar.zst`.
    pub digest: String,
    /// Digest of the uncompressed tar.
    pub diff_id: String,
    /// Bytes of `layer.tar.zst`.
    pub size: u64,
    /// Bytes of the uncompressed tar.
    pub tar_size: u64,
    pub suite: String,
    pub packages: Vec<String>,
    pub mirror: String,
    /// Seconds the build took (debootstrap, trimming, tar and zstd).
    pub build_seconds: f64,
}

/// The cached layer of the image.
#[derive(Debug, Clone)]
pub struct CachedLayer {
    /// The cache entry directory.
    pub dir: PathBuf,
    /// The zstd blob, `dir/layer.tar.zst`.
    pub blob: PathBuf,
    pub info: LayerInfo,
    /// Whether this call built it (false: reused).
    pub built: bool,
    /// Seconds this call took (waiting for the lock and building included).
    pub seconds: f64,
}

const BLOB: &str = "layer.tar.zst";
const INFO: &str = "layer.json";

fn read_info(entry: &Path) -> Option<LayerInfo> {
    let info: LayerInfo = serde_json::from_slice(&fs::read(entry.join(INFO)).ok()?).ok()?;
    Some(info)
}

/// Whether a cache entry is complete: its JSON reads and its blob has the recorded size.
fn cache_is_valid(entry: &Path) -> bool {
    read_info(entry).is_some_and(|i| {
        fs::metadata(entry.join(BLOB)).is_ok_and(|m| m.is_file() && m.len() == i.size)
    })
}

/// The image's root filesystem layer, built with debootstrap when the cache lacks it.
pub fn rootfs_layer() -> Result<CachedLayer> {
    let start = Instant::now();
    let (dir, built) = cached(
        &cache_dir(),
        &cache_entry_name(),
        cache_is_valid,
        build_layer,
    )?;
    let info = read_info(&dir)
        .with_context(|| format!("cache entry {} has no readable {INFO}", dir.display()))?;
    Ok(CachedLayer {
        blob: dir.join(BLOB),
        dir,
        info,
        built,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Fills `work` with `layer.tar.zst` and `layer.json`.
fn build_layer(work: &Path) -> Result<()> {
    let start = Instant::now();
    let mirror = apt_mirror()?;
    let rootfs = work.join("rootfs");
    debootstrap(&rootfs, &mirror)?;
    trim(&rootfs)?;
    let (digest, diff_id, size, tar_size) = tar_zstd(&rootfs, &work.join(BLOB))?;
    remove_tree(&rootfs);
    let info = LayerInfo {
        digest,
        diff_id,
        size,
        tar_size,
        suite: SUITE.into(),
        packages: PACKAGES.iter().map(|p| p.to_string()).collect(),
        mirror,
        build_seconds: start.elapsed().as_secs_f64(),
    };
    fs::write(work.join(INFO), serde_json::to_vec_pretty(&info)?)?;
    Ok(())
}

fn debootstrap(rootfs: &Path, mirror: &str) -> Result<()> {
    let mut c = Command::new(DEBOOTSTRAP);
    c.arg("--variant=minbase")
        .arg(format!("--include={}", PACKAGES.join(",")))
        .arg("--components=main")
        .arg(SUITE)
        .arg(rootfs)
        .arg(mirror)
        .env("DEBIAN_FRONTEND", "noninteractive");
    let out = cmd::run(c, None, DEBOOTSTRAP_TIMEOUT);
    crate::procs::unmount_below(rootfs);
    if !out.success() {
        let log =
            fs::read_to_string(rootfs.join("debootstrap/debootstrap.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "debootstrap of Debian {SUITE} from {mirror} failed (check the mirror in \
             /etc/apt/sources.list.d or set {MIRROR_ENV}): {out}\n--- debootstrap.log ---\n{}",
            tail.join("\n")
        );
    }
    Ok(())
}

/// Removes what an image does not need (package caches and lists, documentation, device
/// nodes), makes the machine id per container, and checks sshd's host keys.
fn trim(rootfs: &Path) -> Result<()> {
    for dir in [
        "dev",
        "var/lib/apt/lists",
        "usr/share/doc",
        "usr/share/man",
        "usr/share/info",
        "usr/share/locale",
        "tmp",
    ] {
        empty_dir(&rootfs.join(dir))?;
    }
    fs::create_dir_all(rootfs.join("var/lib/apt/lists/partial"))?;
    for dir in ["var/cache/apt/archives", "var/cache/apt"] {
        if let Ok(rd) = fs::read_dir(rootfs.join(dir)) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.ends_with(".deb") || n.ends_with(".bin") {
                    fs::remove_file(e.path())?;
                }
            }
        }
    }
    // An empty machine id (and no dbus copy to fall back on): systemd makes a fresh one at
    // every boot, so containers of the image do not share one.
    fs::write(rootfs.join("etc/machine-id"), "")?;
    let _ = fs::remove_file(rootfs.join("var/lib/dbus/machine-id"));
    // debootstrap copies the build host's names; the runtime provides the container's.
    fs::write(rootfs.join("etc/hostname"), "localhost\n")?;
    fs::write(rootfs.join("etc/resolv.conf"), "")?;
    // openssh-server's postinst made the host keys; make any that are missing.
    let out = Command::new("ssh-keygen")
        .arg("-A")
        .arg("-f")
        .arg(rootfs)
        .output()
        .context("cannot run ssh-keygen (install openssh-client)")?;
    if !out.status.success() {
        bail!(
            "ssh-keygen -A in {} failed: {}",
            rootfs.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for t in ["rsa", "ecdsa", "ed25519"] {
        let key = rootfs.join(format!("etc/ssh/ssh_host_{t}_key"));
        if !key.is_file() {
            bail!("sshd host key {} is missing after the build", key.display());
        }
    }
    for p in [
        SYSTEMD,
        SSHD,
        "/usr/bin/systemctl",
        "/usr/bin/free",
        "/usr/bin/ps",
    ] {
        if !rootfs.join(p.trim_start_matches('/')).exists() {
            bail!("{p} is missing from the debootstrapped root filesystem");
        }
    }
    Ok(())
}

/// Removes everything inside `dir` (not `dir` itself).
fn empty_dir(dir: &Path) -> Result<()> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Ok(());
    };
    for e in rd.flatten() {
        let p = e.path();
        let ft = e.file_type()?;
        if ft.is_dir() {
            fs::remove_dir_all(&p)
        } else {
            fs::remove_file(&p)
        }
        .with_context(|| format!("cannot remove {}", p.display()))?;
    }
    Ok(())
}

/// A writer that hashes and counts what goes through it.
struct Hashing<W> {
    inner: W,
    hash: sha2::Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Tars `rootfs` with GNU tar (numeric owners, hard links kept, names without `./`, sorted)
/// into a zstd blob at `blob`: (blob digest, diff id, blob bytes, tar bytes).
fn tar_zstd(rootfs: &Path, blob: &Path) -> Result<(String, String, u64, u64)> {
    let mut entries: Vec<String> = fs::read_dir(rootfs)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    let stderr = tempfile::tempfile()?;
    let mut child = Command::new("tar")
        .args(["--numeric-owner", "--one-file-system", "--sort=name", "-C"])
        .arg(rootfs)
        .args(["-cf", "-", "--"])
        .args(&entries)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr.try_clone()?))
        .spawn()
        .context("cannot run tar")?;
    let mut stdout = child.stdout.take().context("tar stdout")?;
    let file = File::create(blob).with_context(|| format!("cannot create {}", blob.display()))?;
    let mut enc = zstd::stream::write::Encoder::new(
        Hashing {
            inner: BufWriter::new(file),
            hash: sha2::Sha256::new(),
            bytes: 0,
        },
        3,
    )?;
    let mut diff = sha2::Sha256::new();
    let mut tar_size = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = stdout.read(&mut buf)?;
        if n == 0 {
            break;
        }
        diff.update(&buf[..n]);
        tar_size += n as u64;
        enc.write_all(&buf[..n])?;
    }
    let status = child.wait()?;
    if !status.success() {
        let mut msg = String::new();
        let mut f = stderr;
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(0))?;
        f.read_to_string(&mut msg)?;
        bail!("tar of {} failed ({status}): {msg}", rootfs.display());
    }
    let mut hashing = enc.finish()?;
    hashing.flush()?;
    hashing.inner.into_inner()?.sync_all()?;
    Ok((
        format!("sha256:{}", hex::encode(hashing.hash.finalize())),
        format!("sha256:{}", hex::encode(diff.finalize())),
        hashing.bytes,
        tar_size,
    ))
}

/// The image (OCI manifest, one zstd layer, `Cmd ["bash"]` like Debian's official image),
/// loaded once per process from the cache, which is built first when absent. The blob's
/// digest is checked; a corrupt cache entry is rebuilt.
pub fn image() -> Result<&'static Image> {
    static IMG: OnceLock<Image> = OnceLock::new();
    static INIT: Mutex<()> = Mutex::new(());
    if let Some(i) = IMG.get() {
        return Ok(i);
    }
    let _g = INIT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = IMG.get() {
        return Ok(i);
    }
    let mut layer = rootfs_layer()?;
    let mut blob =
        fs::read(&layer.blob).with_context(|| format!("cannot read {}", layer.blob.display()))?;
    if crate::sha256_digest(&blob) != layer.info.digest {
        // Damaged on disk: drop the entry (under the lock) and build again.
        let entry = layer.dir.clone();
        cached(&cache_dir(), &cache_entry_name(), |_| false, build_layer)
            .with_context(|| format!("rebuilding the corrupt cache entry {}", entry.display()))?;
        layer = rootfs_layer()?;
        blob = fs::read(&layer.blob)?;
        if crate::sha256_digest(&blob) != layer.info.digest {
            bail!(
                "the rebuilt layer {} does not match its digest: remove {} and run again",
                layer.blob.display(),
                layer.dir.display()
            );
        }
    }
    let created_by = format!(
        "debootstrap --variant=minbase --include={} {SUITE}",
        PACKAGES.join(",")
    );
    let layer = Layer {
        blob,
        digest: layer.info.digest.clone(),
        diff_id: layer.info.diff_id.clone(),
        compression: Compression::Zstd,
        created_by,
    };
    let mut spec = ImageSpec::new(Format::Oci);
    spec.cmd = vec!["bash".into()];
    spec.labels = vec![
        (
            "org.opencontainers.image.title".into(),
            "debian-rich".into(),
        ),
        ("pouch.test.packages".into(), PACKAGES.join(",")),
    ];
    let _ = IMG.set(spec.build(vec![layer]));
    Ok(IMG.get().expect("image just set"))
}

/// Makes the image available in `reg` as [`REPO`]:[`TAG`] (building or loading it first),
/// so a pouchd with `reg` as its mirror runs [`IMAGE`].
pub fn debian_rich_image(reg: &Registry) -> Result<&'static Image> {
    let img = image()?;
    reg.push(REPO, TAG, img)
        .with_context(|| format!("push {REPO}:{TAG} to {}", reg.host()))?;
    Ok(img)
}

/// A registry with busybox and the Debian image, and a pouchd using it as its mirror.
pub fn debian_mirror(bins: &Binaries) -> (Registry, Daemon) {
    let reg = Registry::start(RegistryOptions::default()).must("start docker-registry");
    reg.push("library/busybox", "latest", fixtures::busybox())
        .must("push busybox");
    debian_rich_image(&reg).must("make the debian-rich image");
    let d = Daemon::start(bins, DaemonOptions::with_mirror(&reg.url())).must("start pouchd");
    (reg, d)
}

/// Unpacks the cached root filesystem into `dest` (created if needed) with GNU tar,
/// keeping owners, modes and hard links: a bundle rootfs for runtime-level tests.
pub fn extract_rootfs(dest: &Path) -> Result<()> {
    let layer = rootfs_layer()?;
    fs::create_dir_all(dest)?;
    let mut child = Command::new("tar")
        .args(["--numeric-owner", "-xpf", "-", "-C"])
        .arg(dest)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run tar")?;
    let mut stdin = child.stdin.take().context("tar stdin")?;
    let blob =
        File::open(&layer.blob).with_context(|| format!("cannot open {}", layer.blob.display()))?;
    let copied = std::io::copy(&mut zstd::stream::read::Decoder::new(blob)?, &mut stdin);
    drop(stdin);
    let out = child.wait_with_output()?;
    copied
        .with_context(|| format!("unpacking {} into {}", layer.blob.display(), dest.display()))?;
    if !out.status.success() {
        bail!(
            "tar -x into {} failed: {}",
            dest.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The IPv4 address of container `name` on pouchd's default bridge.
pub fn container_ip(d: &Daemon, name: &str) -> Option<String> {
    let v = d.container(name);
    let ns = &v["NetworkSettings"];
    let ip = [&ns["Networks"]["bridge"]["IPAddress"], &ns["IPAddress"]]
        .into_iter()
        .filter_map(|x| x.as_str())
        .find(|s| !s.is_empty())
        .map(str::to_string);
    ip
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_mirror_in_both_formats() {
        let deb822 = "Types: deb\n# comment\nURIs: http://a/debian\nSuites: bookworm \
                      bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://b\n\
                      Suites: bookworm-security\n";
        assert_eq!(
            mirror_in_deb822(deb822, "bookworm").as_deref(),
            Some("http://a/debian")
        );
        assert_eq!(mirror_in_deb822(deb822, "trixie"), None);
        let disabled = "Enabled: no\nTypes: deb\nURIs: http://x\nSuites: bookworm\n";
        assert_eq!(mirror_in_deb822(disabled, "bookworm"), None);
        let list = "# x\ndeb-src http://s bookworm main\n\
                    deb [arch=amd64 signed-by=/k.gpg] http://m/debian bookworm main\n";
        assert_eq!(
            mirror_in_one_line(list, "bookworm").as_deref(),
            Some("http://m/debian")
        );
        assert_eq!(mirror_in_one_line(list, "trixie"), None);
    }

    #[test]
    fn cache_key_names_the_recipe() {
        let k = cache_key();
        assert_eq!(k.len(), 12);
        assert_eq!(k, cache_key());
        assert!(cache_entry_name().starts_with("debian-rich-"));
    }
}
