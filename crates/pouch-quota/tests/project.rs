//! Root test: the project-quota back end on a loop-mounted ext4 with the project and quota
//! features, mounted with prjquota. Kernels without quota format support cannot mount it;
//! the test then says plainly that it skipped.

mod common;

use common::{is_root, write_mib, LoopFs};
use pouch_quota::detect;

const EDQUOT: i32 = 122;

#[test]
fn project_limits_are_enforced_and_changed_live() {
    if !is_root() {
        eprintln!("SKIPPED project_limits_are_enforced_and_changed_live: needs root");
        return;
    }
    let fs = match LoopFs::new(
        128,
        &["mkfs.ext4", "-q", "-F", "-O", "project,quota"],
        "prjquota",
    ) {
        Ok(fs) => fs,
        Err(e) => {
            eprintln!(
                "SKIPPED project_limits_are_enforced_and_changed_live: this kernel cannot mount ext4 with prjquota ({e})"
            );
            return;
        }
    };
    let home = fs.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let Some(q) = detect(&home) else {
        eprintln!("SKIPPED project_limits_are_enforced_and_changed_live: ext4 mounted with prjquota but the kernel does not enforce project quota");
        return;
    };
    assert_eq!(q.backend(), "project");
    let (a, b) = (home.join("a"), home.join("b"));
    let id_a = q.create_dir(&a, None).unwrap();
    let id_b = q.create_dir(&b, None).unwrap();
    assert_ne!(id_a, id_b);
    assert!(q.is_quota_dir(&a) && !q.is_quota_dir(&home));
    assert_eq!(pouch_sys::quota::project_id(&a).unwrap(), (id_a, true));

    q.set_limit(&a, 10 << 20).unwrap();
    assert_eq!(q.limit(&a).unwrap(), 10 << 20);
    let (err, written) = write_mib(&a.join("big"), 20).expect_err("20 MiB into a 10 MiB quota");
    println!("write of 20 MiB into a (limit 10 MiB) failed after {written} MiB: {err}");
    assert_eq!(err.raw_os_error(), Some(EDQUOT), "{err}");
    write_mib(&b.join("big"), 20).expect("the neighbour without a limit takes 20 MiB");
    q.set_limit(&a, 50 << 20).unwrap();
    write_mib(&a.join("more"), 20).expect("20 MiB more after raising the limit to 50 MiB");
    q.remove_dir(&a).unwrap();
    assert!(!a.exists());
    q.remove_dir(&b).unwrap();
}
