//! Pouch's rule for editing a `KEY=VALUE` list, shared by a container's env and labels
//! (`pouch update -e/-l`) and the daemon's labels (`pouch updatedaemon --label`): `K=v` sets
//! K (in place of its first entry, dropping any other; else at the end), `K=` sets it empty,
//! a bare `K` removes every entry of K (nothing when there is none).

/// The key of `key=value` (or of a bare `key`).
pub(crate) fn key_of(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

/// Applies `edits` to `list`; `Err` holds the first edit whose key is empty or holds
/// whitespace (then `list` may hold the edits before it: callers edit a copy).
pub(crate) fn apply(list: &mut Vec<String>, edits: &[String]) -> Result<(), String> {
    for edit in edits {
        let key = key_of(edit);
        if key.is_empty() || key.chars().any(char::is_whitespace) {
            return Err(edit.clone());
        }
        if !edit.contains('=') {
            list.retain(|l| key_of(l) != key);
            continue;
        }
        match list.iter().position(|l| key_of(l) == key) {
            Some(first) => {
                list[first] = edit.clone();
                let mut i = 0;
                list.retain(|l| {
                    let keep = i == first || key_of(l) != key;
                    i += 1;
                    keep
                });
            }
            None => list.push(edit.clone()),
        }
    }
    Ok(())
}
