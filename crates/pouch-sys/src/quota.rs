//! Disk-quota system calls, as safe functions that take a path and name it in errors:
//! btrfs subvolumes and qgroups (the `BTRFS_IOC_*` ioctls: subvolume create and destroy,
//! quota enable, qgroup create, limit and a tree search to read a limit back) and project
//! quota (a directory's project id through `FS_IOC_FSGETXATTR`/`FS_IOC_FSSETXATTR`, limits and
//! state through `quotactl_fd`, falling back to `quotactl` on the mount's device for kernels
//! before 5.14). No quota tools are run. The raw calls go through libc, since rustix wraps
//! neither these ioctls nor quotactl. See docs/volumes-contract.md.
#![allow(unsafe_code)]

use std::ffi::{c_void, CString, OsStr};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::{call_err, SysError};

/// `statfs` magic of btrfs.
pub const BTRFS_SUPER_MAGIC: u32 = 0x9123_683E;
/// `statfs` magic of ext2/3/4.
pub const EXT4_SUPER_MAGIC: u32 = 0xEF53;
/// `statfs` magic of xfs.
pub const XFS_SUPER_MAGIC: u32 = 0x5846_5342;

/// The `statfs` magic of the filesystem holding `path` (compare with the `*_MAGIC` consts).
pub fn fs_magic(path: &Path) -> Result<u32, SysError> {
    let st = rustix::fs::statfs(path).map_err(|e| call_err("statfs", path, e))?;
    // f_type is a signed word whose width depends on the target; magics are 32-bit values.
    Ok((st.f_type as u64 & 0xffff_ffff) as u32)
}

// ---- ioctl numbers (asm-generic encoding: x86_64, aarch64, riscv64) ----

const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | ((ty as u32) << 8) | nr as u32
}

const BTRFS_IOCTL_MAGIC: u8 = 0x94;
const BTRFS_PATH_NAME_MAX: usize = 4087;
const BTRFS_IOC_TREE_SEARCH: u32 = ioc(
    IOC_READ | IOC_WRITE,
    BTRFS_IOCTL_MAGIC,
    17,
    size_of::<SearchArgs>(),
);
const BTRFS_IOC_SUBVOL_CREATE: u32 = ioc(IOC_WRITE, BTRFS_IOCTL_MAGIC, 14, size_of::<VolArgs>());
const BTRFS_IOC_SNAP_DESTROY: u32 = ioc(IOC_WRITE, BTRFS_IOCTL_MAGIC, 15, size_of::<VolArgs>());
const BTRFS_IOC_INO_LOOKUP: u32 = ioc(
    IOC_READ | IOC_WRITE,
    BTRFS_IOCTL_MAGIC,
    18,
    size_of::<InoLookupArgs>(),
);
const BTRFS_IOC_QUOTA_CTL: u32 = ioc(
    IOC_READ | IOC_WRITE,
    BTRFS_IOCTL_MAGIC,
    40,
    size_of::<QuotaCtlArgs>(),
);
const BTRFS_IOC_QGROUP_CREATE: u32 = ioc(
    IOC_WRITE,
    BTRFS_IOCTL_MAGIC,
    42,
    size_of::<QgroupCreateArgs>(),
);
// The kernel declares this one _IOR although it reads the argument.
const BTRFS_IOC_QGROUP_LIMIT: u32 = ioc(
    IOC_READ,
    BTRFS_IOCTL_MAGIC,
    43,
    size_of::<QgroupLimitArgs>(),
);

const FS_IOC_FSGETXATTR: u32 = ioc(IOC_READ, b'X', 31, size_of::<FsXattr>());
const FS_IOC_FSSETXATTR: u32 = ioc(IOC_WRITE, b'X', 32, size_of::<FsXattr>());

const BTRFS_QUOTA_CTL_ENABLE: u64 = 1;
const BTRFS_QGROUP_LIMIT_MAX_RFER: u64 = 1;
/// The value that clears a qgroup limit.
const BTRFS_QGROUP_LIMIT_CLEAR: u64 = u64::MAX;
const BTRFS_FIRST_FREE_OBJECTID: u64 = 256;
const BTRFS_QUOTA_TREE_OBJECTID: u64 = 8;
const BTRFS_QGROUP_INFO_KEY: u32 = 242;
const BTRFS_QGROUP_LIMIT_KEY: u32 = 244;

/// `struct btrfs_ioctl_vol_args`.
#[repr(C)]
struct VolArgs {
    fd: i64,
    name: [u8; BTRFS_PATH_NAME_MAX + 1],
}

/// `struct btrfs_ioctl_ino_lookup_args`.
#[repr(C)]
struct InoLookupArgs {
    treeid: u64,
    objectid: u64,
    name: [u8; 4080],
}

/// `struct btrfs_ioctl_quota_ctl_args`.
#[repr(C)]
struct QuotaCtlArgs {
    cmd: u64,
    status: u64,
}

/// `struct btrfs_ioctl_qgroup_create_args`.
#[repr(C)]
struct QgroupCreateArgs {
    create: u64,
    qgroupid: u64,
}

/// `struct btrfs_ioctl_qgroup_limit_args` (with `struct btrfs_qgroup_limit` inlined).
#[repr(C)]
struct QgroupLimitArgs {
    qgroupid: u64,
    flags: u64,
    max_rfer: u64,
    max_excl: u64,
    rsv_rfer: u64,
    rsv_excl: u64,
}

/// `struct btrfs_ioctl_search_key`.
#[repr(C)]
#[derive(Default)]
struct SearchKey {
    tree_id: u64,
    min_objectid: u64,
    max_objectid: u64,
    min_offset: u64,
    max_offset: u64,
    min_transid: u64,
    max_transid: u64,
    min_type: u32,
    max_type: u32,
    nr_items: u32,
    unused: u32,
    unused1: u64,
    unused2: u64,
    unused3: u64,
    unused4: u64,
}

/// `struct btrfs_ioctl_search_args`: the key and 4096 - sizeof(key) bytes of results.
#[repr(C)]
struct SearchArgs {
    key: SearchKey,
    buf: [u8; 4096 - size_of::<SearchKey>()],
}

/// `struct btrfs_ioctl_search_header` is 32 bytes: transid, objectid, offset (u64), type, len (u32).
const SEARCH_HEADER_LEN: usize = 32;

/// `struct fsxattr`.
#[repr(C)]
#[derive(Default)]
struct FsXattr {
    xflags: u32,
    extsize: u32,
    nextents: u32,
    projid: u32,
    cowextsize: u32,
    pad: [u8; 8],
}

/// `FS_XFLAG_PROJINHERIT`: new entries of the directory get its project id.
pub const FS_XFLAG_PROJINHERIT: u32 = 0x200;

fn open(path: &Path, op: &'static str) -> Result<File, SysError> {
    File::open(path).map_err(|e| call_err(op, path, e))
}

/// Runs `ioctl(fd, request, arg)`; `arg` must be the struct `request` encodes.
fn ioctl<T>(file: &File, request: u32, arg: &mut T) -> std::io::Result<()> {
    // SAFETY: `arg` is a live, exclusively borrowed value of the `#[repr(C)]` struct whose
    // size is encoded in `request` (every caller pairs a request const with its own struct),
    // so the kernel reads and writes only within it. The fd is owned by `file` and open.
    let r = unsafe { libc::ioctl(file.as_raw_fd(), request as _, arg as *mut T as *mut c_void) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn vol_args(parent: &Path, name: &OsStr) -> Result<Box<VolArgs>, SysError> {
    let bytes = name.as_bytes();
    if bytes.is_empty()
        || bytes.len() > BTRFS_PATH_NAME_MAX
        || bytes.contains(&b'/')
        || bytes.contains(&0)
        || bytes == b"."
        || bytes == b".."
    {
        return Err(call_err(
            "btrfs subvolume name",
            &parent.join(name),
            std::io::Error::from_raw_os_error(libc::EINVAL),
        ));
    }
    let mut args = Box::new(VolArgs {
        fd: 0,
        name: [0; BTRFS_PATH_NAME_MAX + 1],
    });
    args.name[..bytes.len()].copy_from_slice(bytes);
    Ok(args)
}

/// Turns quota (qgroup accounting and limits) on for the btrfs filesystem holding `path`.
/// Already on is fine.
pub fn btrfs_quota_enable(path: &Path) -> Result<(), SysError> {
    let f = open(path, "btrfs quota enable")?;
    let mut args = QuotaCtlArgs {
        cmd: BTRFS_QUOTA_CTL_ENABLE,
        status: 0,
    };
    ioctl(&f, BTRFS_IOC_QUOTA_CTL, &mut args).map_err(|e| call_err("btrfs quota enable", path, e))
}

/// Creates the subvolume `parent/name`.
pub fn btrfs_subvol_create(parent: &Path, name: &OsStr) -> Result<(), SysError> {
    let path = parent.join(name);
    let mut args = vol_args(parent, name)?;
    let f = open(parent, "btrfs subvolume create")?;
    ioctl(&f, BTRFS_IOC_SUBVOL_CREATE, &mut *args)
        .map_err(|e| call_err("btrfs subvolume create", &path, e))
}

/// Deletes the subvolume `parent/name` with everything in it (the kernel frees the space in
/// the background).
pub fn btrfs_subvol_delete(parent: &Path, name: &OsStr) -> Result<(), SysError> {
    let path = parent.join(name);
    let mut args = vol_args(parent, name)?;
    let f = open(parent, "btrfs subvolume delete")?;
    ioctl(&f, BTRFS_IOC_SNAP_DESTROY, &mut *args)
        .map_err(|e| call_err("btrfs subvolume delete", &path, e))
}

/// The id of the subvolume holding `path` (its qgroup is `0/<id>`; the top level is 5).
pub fn btrfs_subvol_id(path: &Path) -> Result<u64, SysError> {
    let f = open(path, "btrfs subvolume id")?;
    let mut args = Box::new(InoLookupArgs {
        treeid: 0,
        objectid: BTRFS_FIRST_FREE_OBJECTID,
        name: [0; 4080],
    });
    ioctl(&f, BTRFS_IOC_INO_LOOKUP, &mut *args)
        .map_err(|e| call_err("btrfs subvolume id", path, e))?;
    Ok(args.treeid)
}

/// Creates qgroup `qgroupid` on the filesystem holding `path`.
pub fn btrfs_qgroup_create(path: &Path, qgroupid: u64) -> Result<(), SysError> {
    qgroup_create(path, qgroupid, true)
}

/// Removes qgroup `qgroupid` from the filesystem holding `path`.
pub fn btrfs_qgroup_destroy(path: &Path, qgroupid: u64) -> Result<(), SysError> {
    qgroup_create(path, qgroupid, false)
}

fn qgroup_create(path: &Path, qgroupid: u64, create: bool) -> Result<(), SysError> {
    let op = if create {
        "btrfs qgroup create"
    } else {
        "btrfs qgroup destroy"
    };
    let f = open(path, op)?;
    let mut args = QgroupCreateArgs {
        create: create as u64,
        qgroupid,
    };
    ioctl(&f, BTRFS_IOC_QGROUP_CREATE, &mut args).map_err(|e| call_err(op, path, e))
}

/// Sets the referenced-bytes limit of the subvolume holding `path` (its own qgroup);
/// `None` removes the limit.
pub fn btrfs_qgroup_limit(path: &Path, max_referenced: Option<u64>) -> Result<(), SysError> {
    let f = open(path, "btrfs qgroup limit")?;
    let mut args = QgroupLimitArgs {
        qgroupid: 0,
        flags: BTRFS_QGROUP_LIMIT_MAX_RFER,
        max_rfer: max_referenced.unwrap_or(BTRFS_QGROUP_LIMIT_CLEAR),
        max_excl: 0,
        rsv_rfer: 0,
        rsv_excl: 0,
    };
    ioctl(&f, BTRFS_IOC_QGROUP_LIMIT, &mut args)
        .map_err(|e| call_err("btrfs qgroup limit", path, e))
}

/// The first 16 bytes of the quota-tree item `(0, kind, qgroupid)` on the filesystem holding
/// `path`, or `None` when there is no such item.
fn quota_tree_item(
    path: &Path,
    op: &'static str,
    kind: u32,
    qgroupid: u64,
) -> Result<Option<[u64; 2]>, SysError> {
    let f = open(path, op)?;
    let mut args = Box::new(SearchArgs {
        key: SearchKey {
            tree_id: BTRFS_QUOTA_TREE_OBJECTID,
            min_objectid: 0,
            max_objectid: 0,
            min_offset: qgroupid,
            max_offset: qgroupid,
            min_transid: 0,
            max_transid: u64::MAX,
            min_type: kind,
            max_type: kind,
            nr_items: 1,
            ..Default::default()
        },
        buf: [0; 4096 - size_of::<SearchKey>()],
    });
    ioctl(&f, BTRFS_IOC_TREE_SEARCH, &mut *args).map_err(|e| call_err(op, path, e))?;
    if args.key.nr_items == 0 {
        return Ok(None);
    }
    let u64_at = |off: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&args.buf[off..off + 8]);
        b
    };
    // The search header is in host order; the item as on disk (little-endian).
    let offset = u64::from_ne_bytes(u64_at(16));
    let found = u32::from_ne_bytes([args.buf[24], args.buf[25], args.buf[26], args.buf[27]]);
    let len = u32::from_ne_bytes([args.buf[28], args.buf[29], args.buf[30], args.buf[31]]);
    if offset != qgroupid || found != kind || len < 16 {
        return Ok(None);
    }
    Ok(Some([
        u64::from_le_bytes(u64_at(SEARCH_HEADER_LEN)),
        u64::from_le_bytes(u64_at(SEARCH_HEADER_LEN + 8)),
    ]))
}

/// Whether qgroup `qgroupid` exists on the filesystem holding `path`.
pub fn btrfs_qgroup_exists(path: &Path, qgroupid: u64) -> Result<bool, SysError> {
    Ok(quota_tree_item(path, "btrfs qgroup lookup", BTRFS_QGROUP_INFO_KEY, qgroupid)?.is_some())
}

/// The referenced-bytes limit of qgroup `qgroupid` on the filesystem holding `path`, read
/// from the quota tree; `None` when it has none.
pub fn btrfs_qgroup_max_referenced(path: &Path, qgroupid: u64) -> Result<Option<u64>, SysError> {
    // `struct btrfs_qgroup_limit_item`: flags, max_rfer, max_excl, rsv_rfer, rsv_excl.
    let item = quota_tree_item(
        path,
        "btrfs qgroup limit read",
        BTRFS_QGROUP_LIMIT_KEY,
        qgroupid,
    )?;
    Ok(item.and_then(|[flags, max_rfer]| {
        (flags & BTRFS_QGROUP_LIMIT_MAX_RFER != 0 && max_rfer != 0).then_some(max_rfer)
    }))
}

// ---- project quota ----

fn fsxattr_get(f: &File, path: &Path) -> Result<FsXattr, SysError> {
    let mut x = FsXattr::default();
    ioctl(f, FS_IOC_FSGETXATTR, &mut x).map_err(|e| call_err("get project id", path, e))?;
    Ok(x)
}

/// The project id of `path` and whether it carries the inherit flag.
pub fn project_id(path: &Path) -> Result<(u32, bool), SysError> {
    let f = open(path, "get project id")?;
    let x = fsxattr_get(&f, path)?;
    Ok((x.projid, x.xflags & FS_XFLAG_PROJINHERIT != 0))
}

/// Gives `path` project id `id`, with the inherit flag set or cleared.
pub fn set_project_id(path: &Path, id: u32, inherit: bool) -> Result<(), SysError> {
    let f = open(path, "set project id")?;
    let mut x = fsxattr_get(&f, path)?;
    x.projid = id;
    if inherit {
        x.xflags |= FS_XFLAG_PROJINHERIT;
    } else {
        x.xflags &= !FS_XFLAG_PROJINHERIT;
    }
    ioctl(&f, FS_IOC_FSSETXATTR, &mut x).map_err(|e| call_err("set project id", path, e))
}

const PRJQUOTA: u32 = 2;
const Q_GETQUOTA: u32 = 0x80_0007;
const Q_SETQUOTA: u32 = 0x80_0008;
const Q_GETNEXTQUOTA: u32 = 0x80_0009;
const Q_XGETQSTATV: u32 = ((b'X' as u32) << 8) + 8;
const QIF_BLIMITS: u32 = 1;
/// Block limits are in units of 1 KiB.
const QIF_DQBLKSIZE: u64 = 1024;
const FS_QSTATV_VERSION1: i8 = 1;
const FS_QUOTA_PDQ_ACCT: u16 = 1 << 4;
const FS_QUOTA_PDQ_ENFD: u16 = 1 << 5;

const fn qcmd(cmd: u32, ty: u32) -> u32 {
    (cmd << 8) | (ty & 0xff)
}

/// `struct if_dqblk` / `struct if_nextdqblk` (the latter appends the id; same layout here).
#[repr(C)]
#[derive(Default)]
struct Dqblk {
    bhardlimit: u64,
    bsoftlimit: u64,
    curspace: u64,
    ihardlimit: u64,
    isoftlimit: u64,
    curinodes: u64,
    btime: u64,
    itime: u64,
    valid: u32,
    id: u32,
}

/// `struct fs_quota_statv` (only the head is read; the rest is room for the kernel).
#[repr(C)]
struct QuotaStatV {
    version: i8,
    pad1: u8,
    flags: u16,
    rest: [u8; 164],
}

/// The first mount (deepest mount point) holding `path`, as (mount point, source device).
fn mount_source(path: &Path) -> Option<(PathBuf, String)> {
    let path = std::fs::canonicalize(path).ok()?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<(PathBuf, String)> = None;
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(mp), Some(src)) = (fields.get(4), fields.get(sep + 2)) else {
            continue;
        };
        let mp = PathBuf::from(mp.replace("\\040", " "));
        if path.starts_with(&mp)
            && best
                .as_ref()
                .is_none_or(|(b, _)| mp.as_os_str().len() >= b.as_os_str().len())
        {
            best = Some((mp, (*src).to_string()));
        }
    }
    best
}

/// quotactl on the filesystem holding `path`: `quotactl_fd` (Linux 5.14), else `quotactl`
/// on the mount's device.
fn quotactl<T>(
    path: &Path,
    op: &'static str,
    cmd: u32,
    id: u32,
    arg: &mut T,
) -> Result<(), SysError> {
    let f = open(path, op)?;
    // SAFETY: quotactl_fd takes an open fd, a command, an id and a pointer to the command's
    // struct; `arg` is an exclusively borrowed `#[repr(C)]` value of the struct every caller
    // pairs with `cmd`, so the kernel stays within it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_quotactl_fd,
            f.as_raw_fd() as libc::c_uint,
            cmd as libc::c_uint,
            id as libc::c_uint,
            arg as *mut T as *mut c_void,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::ENOSYS) {
        return Err(call_err(op, path, err));
    }
    let (_, dev) = mount_source(path).ok_or_else(|| {
        call_err(
            op,
            path,
            std::io::Error::other("no mount found for the path in /proc/self/mountinfo"),
        )
    })?;
    let dev_c = CString::new(dev).map_err(|e| call_err(op, path, e))?;
    // SAFETY: as above, with the device path as a NUL-terminated string that outlives the call.
    let r = unsafe {
        libc::quotactl(
            cmd as libc::c_int,
            dev_c.as_ptr(),
            id as libc::c_int,
            arg as *mut T as *mut libc::c_char,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(call_err(op, path, std::io::Error::last_os_error()))
    }
}

/// Whether project quota is accounted and enforced on the filesystem holding `path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectQuotaState {
    pub accounting: bool,
    pub enforced: bool,
}

/// The project quota state of the filesystem holding `path` (an error when the kernel has
/// no quota support for it).
pub fn project_quota_state(path: &Path) -> Result<ProjectQuotaState, SysError> {
    let mut st = QuotaStatV {
        version: FS_QSTATV_VERSION1,
        pad1: 0,
        flags: 0,
        rest: [0; 164],
    };
    quotactl(
        path,
        "project quota state",
        qcmd(Q_XGETQSTATV, PRJQUOTA),
        0,
        &mut st,
    )?;
    Ok(ProjectQuotaState {
        accounting: st.flags & FS_QUOTA_PDQ_ACCT != 0,
        enforced: st.flags & FS_QUOTA_PDQ_ENFD != 0,
    })
}

/// A project's limit and usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProjectUsage {
    /// The hard block limit in bytes (0 = none).
    pub limit_bytes: u64,
    pub used_bytes: u64,
}

/// Limit and usage of project `id` on the filesystem holding `path`.
pub fn project_quota(path: &Path, id: u32) -> Result<ProjectUsage, SysError> {
    let mut q = Dqblk::default();
    quotactl(
        path,
        "get project quota",
        qcmd(Q_GETQUOTA, PRJQUOTA),
        id,
        &mut q,
    )?;
    Ok(ProjectUsage {
        limit_bytes: q.bhardlimit.saturating_mul(QIF_DQBLKSIZE),
        used_bytes: q.curspace,
    })
}

/// Sets the block limit (hard and soft) of project `id` on the filesystem holding `path`,
/// rounded up to whole KiB; 0 removes it.
pub fn set_project_limit(path: &Path, id: u32, bytes: u64) -> Result<(), SysError> {
    let blocks = bytes.div_ceil(QIF_DQBLKSIZE);
    let mut q = Dqblk {
        bhardlimit: blocks,
        bsoftlimit: blocks,
        valid: QIF_BLIMITS,
        ..Default::default()
    };
    quotactl(
        path,
        "set project quota",
        qcmd(Q_SETQUOTA, PRJQUOTA),
        id,
        &mut q,
    )
}

/// The first project id `>= from` that has quota usage or limits on the filesystem holding
/// `path`; `None` when there is none.
pub fn next_project_id(path: &Path, from: u32) -> Result<Option<u32>, SysError> {
    let mut q = Dqblk::default();
    match quotactl(
        path,
        "next project id",
        qcmd(Q_GETNEXTQUOTA, PRJQUOTA),
        from,
        &mut q,
    ) {
        Ok(()) => Ok(Some(q.id)),
        Err(SysError::Call { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_the_kernel_headers() {
        // Values computed by the C macros in linux/btrfs.h and linux/fs.h on x86_64.
        assert_eq!(BTRFS_IOC_SUBVOL_CREATE, 0x5000_940e);
        assert_eq!(BTRFS_IOC_SNAP_DESTROY, 0x5000_940f);
        assert_eq!(BTRFS_IOC_TREE_SEARCH, 0xd000_9411);
        assert_eq!(BTRFS_IOC_INO_LOOKUP, 0xd000_9412);
        assert_eq!(BTRFS_IOC_QUOTA_CTL, 0xc010_9428);
        assert_eq!(BTRFS_IOC_QGROUP_CREATE, 0x4010_942a);
        assert_eq!(BTRFS_IOC_QGROUP_LIMIT, 0x8030_942b);
        assert_eq!(FS_IOC_FSGETXATTR, 0x801c_581f);
        assert_eq!(FS_IOC_FSSETXATTR, 0x401c_5820);
        assert_eq!(size_of::<Dqblk>(), 72);
        assert_eq!(size_of::<QuotaStatV>(), 168);
    }

    #[test]
    fn magic_of_proc_is_not_a_quota_fs() {
        let m = fs_magic(Path::new("/proc")).unwrap();
        assert!(![BTRFS_SUPER_MAGIC, EXT4_SUPER_MAGIC, XFS_SUPER_MAGIC].contains(&m));
    }

    #[test]
    fn bad_subvolume_names_are_refused() {
        for n in ["", "a/b", ".", ".."] {
            assert!(vol_args(Path::new("/tmp"), OsStr::new(n)).is_err(), "{n:?}");
        }
        assert!(vol_args(Path::new("/tmp"), OsStr::new("rw-1")).is_ok());
    }

    #[test]
    fn mount_source_finds_the_root() {
        let (mp, _) = mount_source(Path::new("/")).unwrap();
        assert_eq!(mp, Path::new("/"));
    }
}
