//! The build script of `pouch-init` and `pouch-shim`: links their binary statically, so that a
//! plain `cargo build` yields binaries that map no shared libc. pouch-init must run in images
//! without a libc (it is bind-mounted into containers as `/sbin/pouch-init`); a static shim
//! keeps the per-container memory small (no shared-library relocations, code pages shared by
//! every shim). Non-PIE, so no relocations are applied at start either.
//!
//! rustc's switch for this, `-C target-feature=+crt-static`, is a RUSTFLAGS setting that would
//! apply to every crate of the build, and a build script cannot set it. So the bin's link line
//! is changed instead:
//! - `-static -no-pie` makes the C compiler driver link a static executable (crt1.o, no
//!   interpreter; `-no-pie` wins over the `-pie` rustc passes, as the last one given);
//! - rustc still asks for `-Wl,-Bdynamic -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc`; the
//!   linker looks for each library in the directories of `-L` in order, the shared object
//!   first, then the archive. A directory put first holds, for each of these names, a linker
//!   script `lib<name>.a` naming the static archive (`libgcc_s` has none: it becomes
//!   `libgcc_eh.a` + `libgcc.a`, as rustc links with crt-static).
//!
//! When a static archive is missing (no libc6-dev), the build goes on with a warning and the
//! binary stays dynamic; pouch-init's tests then fail.

use std::path::{Path, PathBuf};
use std::process::Command;

const LIBS: &[(&str, &[&str])] = &[
    ("gcc_s", &["libgcc_eh.a", "libgcc.a"]),
    ("util", &["libutil.a"]),
    ("rt", &["librt.a"]),
    ("pthread", &["libpthread.a"]),
    ("m", &["libm.a"]),
    ("dl", &["libdl.a"]),
    ("c", &["libc.a", "libgcc_eh.a", "libgcc.a"]),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let static_already = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    if var("CARGO_CFG_TARGET_OS") != "linux" || static_already {
        return;
    }
    if var("CARGO_CFG_TARGET_ENV") != "gnu" {
        println!("cargo:warning=pouch-init is linked statically only on linux-gnu targets");
        return;
    }
    let dir = PathBuf::from(var("OUT_DIR")).join("static-libs");
    match write_scripts(&dir) {
        Ok(()) => {
            println!("cargo:rustc-link-arg-bins=-static");
            println!("cargo:rustc-link-arg-bins=-no-pie");
            println!("cargo:rustc-link-arg-bins=-L{}", dir.display());
        }
        Err(e) => println!("cargo:warning=pouch-init will be dynamically linked: {e}"),
    }
}

fn write_scripts(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (name, archives) in LIBS {
        let paths = archives
            .iter()
            .map(|a| find_archive(a))
            .collect::<Result<Vec<_>, _>>()?;
        let script = format!("INPUT ( {} )\n", paths.join(" "));
        let file = dir.join(format!("lib{name}.a"));
        std::fs::write(&file, script)
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    }
    Ok(())
}

/// The absolute path of a static archive, as the C compiler driver finds it.
fn find_archive(file: &str) -> Result<String, String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let out = Command::new(&cc)
        .arg(format!("-print-file-name={file}"))
        .output()
        .map_err(|e| format!("cannot run {cc}: {e}"))?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // the driver prints the bare name back when it does not find the file
    if !out.status.success() || !Path::new(&path).is_absolute() || !Path::new(&path).exists() {
        return Err(format!("{cc} does not find {file} (install libc6-dev)"));
    }
    Ok(path)
}
