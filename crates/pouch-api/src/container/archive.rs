//! The `X-Docker-Container-Path-Stat` header of `HEAD`/`GET /containers/{id}/archive` and the
//! conversion of a unix `st_mode` to Go's `os.FileMode` bits that it carries.

use serde::{Deserialize, Serialize};

use super::de_null_default;

/// Stat of a path in a container (base64 JSON in `X-Docker-Container-Path-Stat`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PathStat {
    #[serde(deserialize_with = "de_null_default")]
    pub name: String,
    pub size: i64,
    /// Go `os.FileMode` bits, see [`go_file_mode`].
    pub mode: u32,
    /// RFC 3339.
    #[serde(deserialize_with = "de_null_default")]
    pub mtime: String,
    /// Symlink target, `""` otherwise.
    #[serde(rename = "linkTarget", deserialize_with = "de_null_default")]
    pub link_target: String,
}

const GO_DIR: u32 = 1 << 31;
const GO_SYMLINK: u32 = 1 << 27;
const GO_DEVICE: u32 = 1 << 26;
const GO_NAMED_PIPE: u32 = 1 << 25;
const GO_SOCKET: u32 = 1 << 24;
const GO_SETUID: u32 = 1 << 23;
const GO_SETGID: u32 = 1 << 22;
const GO_CHAR_DEVICE: u32 = 1 << 21;
const GO_STICKY: u32 = 1 << 20;

const S_IFMT: u32 = 0o170_000;
const S_IFSOCK: u32 = 0o140_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFBLK: u32 = 0o060_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFIFO: u32 = 0o010_000;

/// Converts a unix `st_mode` to Go's `os.FileMode` (as `os.Stat` reports it).
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut mode = st_mode & 0o777;
    mode |= match st_mode & S_IFMT {
        S_IFDIR => GO_DIR,
        S_IFLNK => GO_SYMLINK,
        S_IFBLK => GO_DEVICE,
        S_IFCHR => GO_DEVICE | GO_CHAR_DEVICE,
        S_IFIFO => GO_NAMED_PIPE,
        S_IFSOCK => GO_SOCKET,
        _ => 0,
    };
    if st_mode & 0o4000 != 0 {
        mode |= GO_SETUID;
    }
    if st_mode & 0o2000 != 0 {
        mode |= GO_SETGID;
    }
    if st_mode & 0o1000 != 0 {
        mode |= GO_STICKY;
    }
    mode
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_file_keeps_permissions() {
        assert_eq!(go_file_mode(0o100_644), 0o644);
        assert_eq!(go_file_mode(0o100_755), 0o755);
    }

    #[test]
    fn directory_sets_the_dir_bit() {
        assert_eq!(go_file_mode(0o040_755), (1 << 31) | 0o755);
        // /tmp: sticky directory
        assert_eq!(go_file_mode(0o041_777), (1 << 31) | (1 << 20) | 0o777);
    }

    #[test]
    fn special_files() {
        assert_eq!(go_file_mode(0o120_777), (1 << 27) | 0o777);
        assert_eq!(go_file_mode(0o060_660), (1 << 26) | 0o660);
        assert_eq!(go_file_mode(0o020_666), (1 << 26) | (1 << 21) | 0o666);
        assert_eq!(go_file_mode(0o010_644), (1 << 25) | 0o644);
        assert_eq!(go_file_mode(0o140_755), (1 << 24) | 0o755);
    }

    #[test]
    fn setuid_and_setgid() {
        assert_eq!(go_file_mode(0o104_755), (1 << 23) | 0o755);
        assert_eq!(go_file_mode(0o102_755), (1 << 22) | 0o755);
    }

    #[test]
    fn path_stat_uses_lower_case_keys() {
        let st = PathStat {
            name: "hosts".into(),
            size: 174,
            mode: 0o644,
            mtime: "2024-01-01T00:00:00Z".into(),
            link_target: String::new(),
        };
        let v = serde_json::to_value(&st).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name":"hosts","size":174,"mode":420,
                "mtime":"2024-01-01T00:00:00Z","linkTarget":""})
        );
    }
}
