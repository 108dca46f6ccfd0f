//! Root test: the btrfs back end on a loop-mounted btrfs made for the test. A quota dir
//! written past its limit gets EDQUOT while its neighbour does not, raising the limit works
//! at once, and removing the dir leaves no subvolume.

mod common;

use std::process::Command;

use common::{is_root, output, write_mib, LoopFs};
use pouch_quota::{detect, QuotaError};

const EDQUOT: i32 = 122;

#[test]
fn btrfs_limits_are_enforced_and_changed_live() {
    if !is_root() {
        eprintln!("SKIPPED btrfs_limits_are_enforced_and_changed_live: needs root");
        return;
    }
    // commit=1: the cleaner drops deleted subvolumes within a second (`subvolume sync`).
    let fs = LoopFs::new(300, &["mkfs.btrfs", "-q", "-f"], "commit=1").expect("make a btrfs");
    let home = fs.path().join("home");
    std::fs::create_dir(&home).unwrap();

    let q = detect(&home).expect("btrfs back end");
    assert_eq!(q.backend(), "btrfs");
    let (a, b) = (home.join("a"), home.join("b"));
    let id_a = q.create_dir(&a, None).unwrap();
    let id_b = q.create_dir(&b, None).unwrap();
    assert!(id_a >= 256 && id_b > id_a, "subvolume ids {id_a} {id_b}");
    assert!(q.is_quota_dir(&a) && q.is_quota_dir(&b));
    assert!(!q.is_quota_dir(&home) && !q.is_quota_dir(fs.path()));
    let qgroups = output(
        Command::new("btrfs")
            .args(["qgroup", "show"])
            .arg(fs.path()),
    );
    assert!(
        qgroups.contains(&format!("0/{id_a} ")),
        "no qgroup for a:\n{qgroups}"
    );

    q.set_limit(&a, 10 << 20).unwrap();
    assert_eq!(q.limit(&a).unwrap(), 10 << 20);
    assert_eq!(q.limit(&b).unwrap(), 0);

    let (err, written) = write_mib(&a.join("big"), 20).expect_err("20 MiB into a 10 MiB quota");
    println!("write of 20 MiB into a (limit 10 MiB) failed after {written} MiB: {err}");
    assert_eq!(err.raw_os_error(), Some(EDQUOT), "{err}");
    assert!((8..=10).contains(&written), "failed after {written} MiB");
    write_mib(&b.join("big"), 20).expect("the neighbour without a limit takes 20 MiB");
    println!("write of 20 MiB into b (no limit) succeeded");

    q.set_limit(&a, 50 << 20).unwrap();
    assert_eq!(q.limit(&a).unwrap(), 50 << 20);
    write_mib(&a.join("more"), 20).expect("20 MiB more after raising the limit to 50 MiB");
    println!("after set_limit(a, 50 MiB) a write of 20 MiB into a succeeded");
    q.set_limit(&a, 0).unwrap();
    assert_eq!(q.limit(&a).unwrap(), 0);

    assert!(matches!(
        q.create_dir(&b, None),
        Err(QuotaError::Exists { .. })
    ));
    assert!(matches!(
        q.create_dir(&home.join("c"), Some(7)),
        Err(QuotaError::IdNotSupported { .. })
    ));
    let plain = home.join("plain");
    std::fs::create_dir(&plain).unwrap();
    assert!(matches!(
        q.set_limit(&plain, 1 << 20),
        Err(QuotaError::NotQuotaDir { .. })
    ));

    q.remove_dir(&a).unwrap();
    q.remove_dir(&a).unwrap();
    q.remove_dir(&plain).unwrap();
    assert!(!a.exists() && !plain.exists());
    output(
        Command::new("btrfs")
            .args(["subvolume", "sync"])
            .arg(fs.path()),
    );
    let subvols = output(
        Command::new("btrfs")
            .args(["subvolume", "list"])
            .arg(fs.path()),
    );
    println!("subvolumes after removing a:\n{subvols}");
    assert!(!subvols.contains("path home/a"), "{subvols}");
    assert!(subvols.contains("path home/b"), "{subvols}");
    let qgroups = output(
        Command::new("btrfs")
            .args(["qgroup", "show"])
            .arg(fs.path()),
    );
    assert!(
        !qgroups.contains(&format!("0/{id_a} ")),
        "qgroup of a left behind:\n{qgroups}"
    );
    q.remove_dir(&b).unwrap();
}
