//! Container paths as the API takes them (mount destinations, bind sources).

use std::path::{Component, Path, PathBuf};

/// Cleans an absolute container path (`/a//b/./c/` is `/a/b/c`); `None` when it is
/// relative or climbs with `..`.
pub fn clean_absolute(path: &str) -> Option<String> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return None;
    }
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_and_refuses() {
        assert_eq!(clean_absolute("/a//b/./c/").unwrap(), "/a/b/c");
        assert_eq!(clean_absolute("/").unwrap(), "/");
        assert!(clean_absolute("a/b").is_none());
        assert!(clean_absolute("/a/../b").is_none());
    }
}
