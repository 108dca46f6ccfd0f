//! The test images, built offline: busybox from busybox-static, a multi-layer image with
//! whiteouts and an opaque directory (gzip, zstd and plain layers; Docker or OCI manifest),
//! a two-platform OCI index, large random images for pulls that take time, an image whose
//! layer the tampering proxy corrupts, and hostile images that a safe unpacker refuses.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use rand::{RngCore, SeedableRng};

use crate::image::{Compression, Format, Image, ImageSpec, Index, Layer, LayerBuilder};

/// The busybox binary the busybox image is made of (Debian's busybox-static).
pub const BUSYBOX: &str = "/bin/busybox";

/// What a busybox-from-busybox-static image's `history` says about its layer.
pub const BUSYBOX_CREATED_BY: &str = "ADD busybox-static /";

/// The busybox root filesystem as an uncompressed tar: `bin/busybox`, a `bin/<applet>`
/// symlink for every applet of `busybox --list`, and a minimal `/etc`.
pub fn busybox_rootfs_tar() -> &'static [u8] {
    static TAR: OnceLock<Vec<u8>> = OnceLock::new();
    TAR.get_or_init(|| {
        let binary = std::fs::read(BUSYBOX)
            .unwrap_or_else(|e| panic!("cannot read {BUSYBOX} (install busybox-static): {e}"));
        let list = Command::new(BUSYBOX)
            .arg("--list")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {BUSYBOX} --list: {e}"));
        let applets = String::from_utf8_lossy(&list.stdout).into_owned();
        let mut l = LayerBuilder::new();
        l.dir("bin").file_mode("bin/busybox", &binary, 0o755);
        for applet in applets.lines().map(str::trim) {
            if !applet.is_empty() && applet != "busybox" && !applet.contains('/') {
                l.symlink(&format!("bin/{applet}"), "busybox");
            }
        }
        l.dir("etc")
            .file(
                "etc/passwd",
                b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
            )
            .file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
            .dir("root")
            .dir("tmp")
            .dir("usr")
            .dir("var");
        l.into_tar()
    })
}

/// busybox as a Docker schema2 image with one gzip layer and `Cmd ["sh"]`.
pub fn busybox() -> &'static Image {
    static IMG: OnceLock<Image> = OnceLock::new();
    IMG.get_or_init(|| {
        let layer = Layer::new(busybox_rootfs_tar(), Compression::Gzip, BUSYBOX_CREATED_BY);
        ImageSpec::new(Format::Docker).build(vec![layer])
    })
}

/// busybox with a second layer holding `/data/hello` ("from-image\n") and
/// `/data/sub/inner` ("inner\n"), and `Volumes: {"/data": {}}` in its config (a Dockerfile's
/// `VOLUME /data`): the image of the volume tests (anonymous volumes, copy-up).
pub fn busybox_with_volume() -> &'static Image {
    static IMG: OnceLock<Image> = OnceLock::new();
    IMG.get_or_init(|| {
        let base = Layer::new(busybox_rootfs_tar(), Compression::Gzip, BUSYBOX_CREATED_BY);
        let mut l = LayerBuilder::new();
        l.dir("data")
            .file("data/hello", b"from-image\n")
            .dir("data/sub")
            .file("data/sub/inner", b"inner\n");
        let data = Layer::new(&l.into_tar(), Compression::Gzip, "ADD data /data");
        let mut img = ImageSpec::new(Format::Docker).build(vec![base, data]);
        // ImageSpec has no volumes: add them to the config, then point the manifest at it.
        let mut config: serde_json::Value =
            serde_json::from_slice(&img.config).expect("config is JSON");
        config["config"]["Volumes"] = serde_json::json!({"/data": {}});
        img.config = serde_json::to_vec(&config).expect("serialize config");
        img.config_digest = crate::sha256_digest(&img.config);
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&img.manifest).expect("manifest is JSON");
        manifest["config"]["digest"] = img.config_digest.clone().into();
        manifest["config"]["size"] = img.config.len().into();
        img.manifest = serde_json::to_vec_pretty(&manifest).expect("serialize manifest");
        img.manifest_digest = crate::sha256_digest(&img.manifest);
        img
    })
}

/// A path inside one layer of an image, for checks of the unpacked snapshots.
#[derive(Debug, Clone)]
pub struct LayerPath {
    /// Index of the layer (0 = bottom).
    pub layer: usize,
    pub path: &'static str,
}

/// The multi-layer image and what its snapshots must contain.
#[derive(Debug, Clone)]
pub struct MultiLayer {
    pub image: Image,
    /// Paths that must be overlay whiteouts (char device 0:0) in that layer's snapshot.
    pub whiteouts: Vec<LayerPath>,
    /// Directories that must carry `trusted.overlay.opaque=y` in that layer's snapshot.
    pub opaque_dirs: Vec<LayerPath>,
    /// Regular files and their contents in that layer's snapshot.
    pub files: Vec<(LayerPath, &'static [u8])>,
}

/// Four layers: (0) files; (1) deletes `a/gone` and makes `d` opaque; (2) adds and
/// changes files; (3) deletes `top.txt` and adds under the opaque dir. OCI mixes gzip,
/// zstd, plain and gzip; Docker (which has no zstd type) mixes gzip and plain.
pub fn multilayer(format: Format) -> MultiLayer {
    let comp = match format {
        Format::Oci => [
            Compression::Gzip,
            Compression::Zstd,
            Compression::None,
            Compression::Gzip,
        ],
        Format::Docker => [
            Compression::Gzip,
            Compression::None,
            Compression::Gzip,
            Compression::None,
        ],
    };
    let mut l0 = LayerBuilder::new();
    l0.dir("a")
        .file("a/keep", b"keep")
        .file("a/gone", b"gone")
        .dir("d")
        .file("d/old1", b"old1")
        .file("d/old2", b"old2")
        .dir("e")
        .file("top.txt", b"v1");
    let mut l1 = LayerBuilder::new();
    l1.dir("a")
        .whiteout("a", "gone")
        .dir("d")
        .opaque("d")
        .file("d/new", b"new");
    let mut l2 = LayerBuilder::new();
    l2.dir("e").file("e/file", b"e").file("top.txt", b"v3");
    let mut l3 = LayerBuilder::new();
    l3.whiteout("", "top.txt")
        .file("l4.txt", b"four")
        .dir("d")
        .dir("d/sub")
        .file("d/sub/x", b"x");
    let layers = vec![
        Layer::new(&l0.into_tar(), comp[0], "ADD base /"),
        Layer::new(
            &l1.into_tar(),
            comp[1],
            "RUN rm a/gone && rm -r d && mkdir d",
        ),
        Layer::new(&l2.into_tar(), comp[2], "ADD e /"),
        Layer::new(&l3.into_tar(), comp[3], "RUN rm top.txt"),
    ];
    let image = ImageSpec::new(format).build(layers);
    MultiLayer {
        image,
        whiteouts: vec![
            LayerPath {
                layer: 1,
                path: "a/gone",
            },
            LayerPath {
                layer: 3,
                path: "top.txt",
            },
        ],
        opaque_dirs: vec![LayerPath {
            layer: 1,
            path: "d",
        }],
        files: vec![
            (
                LayerPath {
                    layer: 0,
                    path: "a/gone",
                },
                b"gone",
            ),
            (
                LayerPath {
                    layer: 0,
                    path: "d/old1",
                },
                b"old1",
            ),
            (
                LayerPath {
                    layer: 1,
                    path: "d/new",
                },
                b"new",
            ),
            (
                LayerPath {
                    layer: 2,
                    path: "top.txt",
                },
                b"v3",
            ),
            (
                LayerPath {
                    layer: 3,
                    path: "d/sub/x",
                },
                b"x",
            ),
        ],
    }
}

/// An OCI index with an amd64 and an arm64/v8 image; their configs differ (`ARCH=` in Env,
/// `architecture`) and so do their layers (`/arch`).
pub fn two_arch_index() -> Index {
    let mut images = Vec::new();
    for (arch, variant) in [("amd64", None), ("arm64", Some("v8"))] {
        let mut l = LayerBuilder::new();
        l.file("arch", arch.as_bytes());
        let layer = Layer::new(&l.into_tar(), Compression::Gzip, "ADD arch /");
        let mut spec = ImageSpec::new(Format::Oci);
        spec.architecture = arch.to_string();
        spec.variant = variant.map(str::to_string);
        spec.env.push(format!("ARCH={arch}"));
        images.push((
            arch.to_string(),
            variant.map(str::to_string),
            spec.build(vec![layer]),
        ));
    }
    Index::new(images)
}

/// `layers` layers of `layer_bytes` random (incompressible) bytes each, gzip level 1,
/// Docker schema2. The same seed gives the same image.
pub fn random_image(layers: usize, layer_bytes: usize, seed: u64) -> Image {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let mut data = vec![0u8; layer_bytes];
    let out = (0..layers)
        .map(|i| {
            rng.fill_bytes(&mut data);
            let mut l = LayerBuilder::new();
            l.dir("data").file(&format!("data/layer{i}.bin"), &data);
            Layer::with_level(
                &l.into_tar(),
                Compression::Gzip,
                &format!("ADD layer{i}.bin /data/"),
                1,
            )
        })
        .collect();
    ImageSpec::new(Format::Docker).build(out)
}

/// A two-layer image whose second layer is an uncompressed tar with 64 KiB of random file
/// data, so a flipped byte in the middle of that blob still makes a valid tar: only digest
/// verification can notice it. Returns the image and the digest to corrupt.
pub fn corruptible() -> (Image, String) {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(42);
    let mut data = vec![0u8; 64 * 1024];
    rng.fill_bytes(&mut data);
    let mut l0 = LayerBuilder::new();
    l0.file("base", b"base");
    let mut l1 = LayerBuilder::new();
    l1.file("payload.bin", &data);
    let layers = vec![
        Layer::new(&l0.into_tar(), Compression::Gzip, "ADD base /"),
        Layer::new(&l1.into_tar(), Compression::None, "ADD payload.bin /"),
    ];
    let image = ImageSpec::new(Format::Docker).build(layers);
    let target = image.layers[1].digest.clone();
    (image, target)
}

/// A hostile image and how to tell whether it escaped.
#[derive(Debug, Clone)]
pub struct Hostile {
    /// Short name, also the repository's last component.
    pub name: &'static str,
    pub image: Image,
    /// Host paths that must not exist after the pull.
    pub must_not_exist: Vec<PathBuf>,
    /// A host directory the test creates empty beforehand and that must stay empty.
    pub must_stay_empty: Option<PathBuf>,
    /// A host file whose link count must not change (hard-link escapes).
    pub nlink_unchanged: Option<PathBuf>,
}

/// The hostile images; `tag` makes their host paths unique to one test run.
pub fn hostile_images(tag: &str) -> Vec<Hostile> {
    let base = || {
        let mut l = LayerBuilder::new();
        l.dir("etc").file("etc/hostname", b"hostile");
        Layer::new(&l.into_tar(), Compression::Gzip, "ADD etc /")
    };
    let build = |layer: LayerBuilder, what: &str| {
        let bad = Layer::new(&layer.into_tar(), Compression::Gzip, what);
        ImageSpec::new(Format::Docker).build(vec![base(), bad])
    };
    let escape = PathBuf::from(format!("/tmp/pouch-e2e-escape-{tag}"));
    let target_abs = PathBuf::from(format!("/tmp/pouch-e2e-target-{tag}"));
    let target_rel = PathBuf::from(format!("/tmp/pouch-e2e-target-rel-{tag}"));
    let up = "../".repeat(16);
    let mut out = Vec::new();

    let mut l = LayerBuilder::new();
    l.file(&format!("{up}{}", rel(&escape)), b"escaped")
        .file(&format!("../escape-{tag}"), b"escaped");
    out.push(Hostile {
        name: "dotdot",
        image: build(l, "ADD ../escape"),
        must_not_exist: vec![escape],
        must_stay_empty: None,
        nlink_unchanged: None,
    });

    let mut l = LayerBuilder::new();
    l.symlink("evil", &target_abs.to_string_lossy())
        .file("evil/pwned", b"written through a symlink");
    out.push(Hostile {
        name: "symlink-abs",
        image: build(l, "RUN ln -s /tmp/target evil && write evil/pwned"),
        must_not_exist: vec![target_abs.join("pwned")],
        must_stay_empty: Some(target_abs),
        nlink_unchanged: None,
    });

    let mut l = LayerBuilder::new();
    l.dir("x")
        .symlink("x/up", &format!("{up}{}", rel(&target_rel)))
        .file("x/up/pwned", b"written through a symlink");
    out.push(Hostile {
        name: "symlink-rel",
        image: build(l, "RUN ln -s ../../tmp/target x/up && write x/up/pwned"),
        must_not_exist: vec![target_rel.join("pwned")],
        must_stay_empty: Some(target_rel),
        nlink_unchanged: None,
    });

    let mut l = LayerBuilder::new();
    l.hardlink("passwd", "/etc/passwd");
    out.push(Hostile {
        name: "hardlink",
        image: build(l, "RUN ln /etc/passwd passwd"),
        must_not_exist: vec![],
        must_stay_empty: None,
        nlink_unchanged: Some(PathBuf::from("/etc/passwd")),
    });

    let mut l = LayerBuilder::new();
    l.dir("dev")
        .block_device("dev/sda", 8, 0)
        .char_device("dev/mem", 1, 1);
    out.push(Hostile {
        name: "device",
        image: build(l, "RUN mknod dev/sda b 8 0"),
        must_not_exist: vec![],
        must_stay_empty: None,
        nlink_unchanged: None,
    });
    out
}

fn rel(p: &Path) -> String {
    p.to_string_lossy().trim_start_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multilayer_layers_are_mixed() {
        let m = multilayer(Format::Oci);
        let kinds: Vec<_> = m.image.layers.iter().map(|l| l.compression).collect();
        assert!(kinds.contains(&Compression::Zstd) && kinds.contains(&Compression::None));
        assert_eq!(m.image.layers.len(), 4);
        let d = multilayer(Format::Docker);
        assert_eq!(d.image.diff_ids(), m.image.diff_ids());
    }

    #[test]
    fn two_arch_configs_differ() {
        let idx = two_arch_index();
        assert_ne!(
            idx.image("amd64").unwrap().config_digest,
            idx.image("arm64").unwrap().config_digest
        );
    }

    #[test]
    fn hostile_paths_are_unique_per_tag() {
        let h = hostile_images("abc");
        assert_eq!(h.len(), 5);
        assert!(h[0].must_not_exist[0].to_string_lossy().ends_with("abc"));
    }
}
