//! Key-value inputs of `create`/`run`/`exec`: env and label files (docker's
//! `parseKeyValueFile`), `-e` and `-l` values, and `key=value` lists as maps.

use std::collections::BTreeMap;
use std::path::Path;

/// Errors of env and label files.
#[derive(Debug, thiserror::Error)]
pub enum KvFileError {
    #[error("open {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("env file {path} contains invalid utf8 bytes at line {line}")]
    Utf8 { path: String, line: usize },
    #[error("poorly formatted environment: {0}")]
    BadKey(String),
}

/// docker's `parseKeyValueFile`: `#` comments and blank lines skipped, leading blanks
/// trimmed, `KEY=value` kept as it is, a bare `KEY` taken from `lookup` (dropped when unset).
pub fn parse_kv_file(
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, KvFileError> {
    let shown = path.display().to_string();
    let raw = std::fs::read(path).map_err(|source| KvFileError::Open {
        path: shown.clone(),
        source,
    })?;
    parse_kv_lines(&raw, &shown, lookup)
}

fn parse_kv_lines(
    raw: &[u8],
    shown: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, KvFileError> {
    let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    let mut out = Vec::new();
    for (n, line) in raw.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = std::str::from_utf8(line).map_err(|_| KvFileError::Utf8 {
            path: shown.to_string(),
            line: n + 1,
        })?;
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (variable, value) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (line, None),
        };
        let variable = variable.trim_start_matches([' ', '\t']);
        if variable.contains([' ', '\t']) {
            return Err(KvFileError::BadKey(format!(
                "variable '{variable}' contains whitespaces"
            )));
        }
        if variable.is_empty() {
            return Err(KvFileError::BadKey(format!(
                "no variable name on line '{line}'"
            )));
        }
        match value {
            Some(v) => out.push(format!("{variable}={v}")),
            None => {
                if let Some(v) = lookup(variable) {
                    out.push(format!("{}={v}", variable.trim()));
                }
            }
        }
    }
    Ok(out)
}

/// `-e KEY[=value]`: a bare key takes its value from `lookup` when set there.
pub fn validate_env(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let (key, has_value) = match text.split_once('=') {
        Some((k, _)) => (k, true),
        None => (text, false),
    };
    if key.is_empty() {
        return Err(format!("invalid environment variable: {text}"));
    }
    if has_value {
        return Ok(text.to_string());
    }
    Ok(match lookup(key) {
        Some(v) => format!("{key}={v}"),
        None => text.to_string(),
    })
}

/// `-l key[=value]`.
pub fn validate_label(text: &str) -> Result<String, String> {
    let key = text.split_once('=').map_or(text, |(k, _)| k).trim();
    if key.is_empty() {
        return Err(format!("invalid label '{text}': empty name"));
    }
    if key.contains([' ', '\t']) {
        return Err(format!("label '{key}' contains whitespaces"));
    }
    Ok(text.to_string())
}

/// `key=value` strings to a map (`key` alone maps to "").
pub fn kv_map<'a>(items: impl IntoIterator<Item = &'a String>) -> BTreeMap<String, String> {
    items
        .into_iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (s.clone(), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files() {
        let lookup = |k: &str| (k == "FROM_HOST").then(|| "hv".to_string());
        let raw = b"\xEF\xBB\xBF# comment\n\n  A=1\nB= spaced value \nFROM_HOST\nUNSET\nC=x=y\r\n";
        let got = parse_kv_lines(raw, "f", &lookup).unwrap();
        assert_eq!(got, ["A=1", "B= spaced value ", "FROM_HOST=hv", "C=x=y"]);
        let err = parse_kv_lines(b"BAD KEY=1\n", "f", &lookup).unwrap_err();
        assert_eq!(
            err.to_string(),
            "poorly formatted environment: variable 'BAD KEY' contains whitespaces"
        );
        assert!(parse_kv_lines(b"=1\n", "f", &lookup).is_err());
        assert!(matches!(
            parse_kv_lines(b"A=\xff\n", "f", &lookup),
            Err(KvFileError::Utf8 { line: 1, .. })
        ));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env");
        std::fs::write(&path, "X=1\n").unwrap();
        assert_eq!(parse_kv_file(&path, &lookup).unwrap(), ["X=1"]);
        assert!(parse_kv_file(&dir.path().join("none"), &lookup)
            .unwrap_err()
            .to_string()
            .starts_with("open "));
    }

    #[test]
    fn env_labels_and_maps() {
        let lookup = |k: &str| (k == "HOME").then(|| "/root".to_string());
        assert_eq!(validate_env("A=b", &lookup).unwrap(), "A=b");
        assert_eq!(validate_env("HOME", &lookup).unwrap(), "HOME=/root");
        assert_eq!(validate_env("NOPE", &lookup).unwrap(), "NOPE");
        assert!(validate_env("=x", &lookup).is_err());
        assert!(validate_label("a=b").is_ok());
        assert_eq!(
            validate_label("=b").unwrap_err(),
            "invalid label '=b': empty name"
        );
        assert!(validate_label("a b=c").is_err());
        assert_eq!(
            kv_map(&["a=b".to_string(), "c".to_string()]),
            BTreeMap::from([("a".into(), "b".into()), ("c".into(), String::new())])
        );
    }
}
