//! Docker's filter semantics for image list and prune: `reference` patterns matched like
//! Go's `path.Match` against the familiar reference or the familiar name, `label` (`key`
//! or `key=value`, all must match), boolean filters (`dangling`), and times (`until`) given
//! as unix seconds, RFC 3339 dates or Go durations before now.

use std::collections::BTreeMap;

use crate::error::ImageError;
use pouch_api::reference::Reference;

fn bad_pattern(pattern: &str) -> ImageError {
    ImageError::InvalidArgument(format!(
        "invalid reference filter {pattern:?}: syntax error in pattern"
    ))
}

/// Go's `path.Match`: `*` matches any run of characters but `/`, `?` one character but `/`,
/// `[...]` a class (`^` negates, `a-z` ranges), `\` escapes.
pub(crate) fn path_match(pattern: &str, name: &str) -> Result<bool, ImageError> {
    let pat: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let bad = || bad_pattern(pattern);
    let mut pat: &[char] = &pat;
    let mut name: &[char] = &name;
    'pattern: while !pat.is_empty() {
        let (star, chunk, rest) = scan_chunk(pat);
        pat = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains(&'/'));
        }
        let (t, ok) = match_chunk(chunk, name).ok_or_else(bad)?;
        if ok && (t.is_empty() || !pat.is_empty()) {
            name = t;
            continue;
        }
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != '/' {
                let (t, ok) = match_chunk(chunk, &name[i + 1..]).ok_or_else(bad)?;
                if ok {
                    if pat.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        while !pat.is_empty() {
            let (_, chunk, rest) = scan_chunk(pat);
            pat = rest;
            match_chunk(chunk, &[]).ok_or_else(bad)?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(mut pat: &[char]) -> (bool, &[char], &[char]) {
    let mut star = false;
    while pat.first() == Some(&'*') {
        pat = &pat[1..];
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pat.len() {
        match pat[i] {
            '\\' if i + 1 < pat.len() => i += 1,
            '[' => in_range = true,
            ']' => in_range = false,
            '*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pat[..i], &pat[i..])
}

/// Matches `chunk` at the start of `s`: `Some((rest, matched))`, `None` for a bad pattern.
fn match_chunk<'a>(mut chunk: &[char], mut s: &'a [char]) -> Option<(&'a [char], bool)> {
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk[0] {
            '[' => {
                let mut r = '\0';
                if !failed {
                    r = s[0];
                    s = &s[1..];
                }
                chunk = &chunk[1..];
                let mut negated = false;
                if chunk.first() == Some(&'^') {
                    negated = true;
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.first() == Some(&']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk[0] == '-' {
                        let (h, rest) = get_esc(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            '?' => {
                if !failed {
                    if s[0] == '/' {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
            c => {
                let c = if c == '\\' {
                    chunk = &chunk[1..];
                    *chunk.first()?
                } else {
                    c
                };
                if !failed {
                    if c != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Some(if failed { (&[], false) } else { (s, true) })
}

fn get_esc(chunk: &[char]) -> Option<(char, &[char])> {
    let mut chunk = chunk;
    match chunk.first() {
        None | Some('-') | Some(']') => return None,
        Some('\\') => {
            chunk = &chunk[1..];
            chunk.first()?;
        }
        _ => {}
    }
    let r = chunk[0];
    let rest = &chunk[1..];
    if rest.is_empty() {
        return None;
    }
    Some((r, rest))
}

/// Docker's `reference.FamiliarMatch`: the pattern against the familiar reference, then
/// against the familiar name.
pub(crate) fn reference_matches(pattern: &str, r: &Reference) -> Result<bool, ImageError> {
    Ok(path_match(pattern, &r.familiar())? || path_match(pattern, &r.familiar_repo())?)
}

/// Whether `labels` satisfy every `key` / `key=value` filter value.
pub(crate) fn labels_match(wanted: &[String], labels: &BTreeMap<String, String>) -> bool {
    wanted.iter().all(|w| match w.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
        None => labels.contains_key(w.as_str()),
    })
}

/// A boolean filter (`dangling=true`): `None` when absent; `1`/`0` are accepted too.
pub(crate) fn bool_filter(key: &str, values: &[String]) -> Result<Option<bool>, ImageError> {
    let mut out = None;
    for v in values {
        let b = match v.to_ascii_lowercase().as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => {
                return Err(ImageError::InvalidArgument(format!(
                    "invalid filter '{key}={v}': expected true or false"
                )))
            }
        };
        out = Some(b);
    }
    Ok(out)
}

/// A time filter value as unix seconds: `1700000000[.5]`, RFC 3339
/// (`2024-01-02T03:04:05Z`), a date (`2024-01-02`, UTC) or a Go duration before `now`
/// (`10m`, `1h30m`, `24h`).
pub(crate) fn parse_time(value: &str, now: i64) -> Result<i64, ImageError> {
    let bad = || {
        ImageError::InvalidArgument(format!(
            "invalid time {value:?}: use unix seconds, an RFC 3339 date or a duration such as 24h"
        ))
    };
    if let Ok(secs) = value.parse::<i64>() {
        return Ok(secs);
    }
    if let Ok(secs) = value.parse::<f64>() {
        return Ok(secs as i64);
    }
    if let Some(d) = parse_duration(value) {
        return Ok(now - d);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(t.timestamp());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(value, fmt) {
            return Ok(t.and_utc().timestamp());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp())
            .ok_or_else(bad);
    }
    Err(bad())
}

/// A Go duration (`1h30m`, `10s`, `1.5h`) in whole seconds.
fn parse_duration(s: &str) -> Option<i64> {
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * unit;
    }
    Some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_match() {
        let cases = [
            ("busy*", "busybox", true),
            ("busy*", "busybox:latest", true),
            ("*", "a/b", false),
            ("*/*", "a/b", true),
            ("a*b", "axxb", true),
            ("a*b", "axxbc", false),
            ("a?c", "abc", true),
            ("a?c", "a/c", false),
            ("[a-c]x", "bx", true),
            ("[^a-c]x", "bx", false),
            ("a\\*b", "a*b", true),
            ("busybox:*", "busybox:1.36", true),
            ("127.0.0.1:5000/*", "127.0.0.1:5000/x:v1", true),
            ("*:v1", "x:v1", true),
            ("", "", true),
            ("abc", "abc", true),
            ("abc", "abd", false),
        ];
        for (p, n, want) in cases {
            assert_eq!(path_match(p, n).unwrap(), want, "{p} vs {n}");
        }
        assert!(path_match("[", "a").is_err());
        assert!(path_match("a\\", "a").is_err());
    }

    #[test]
    fn references_labels_bools_times() {
        let r = Reference::parse("busybox:1.36").unwrap();
        assert!(reference_matches("busybox", &r).unwrap());
        assert!(reference_matches("busy*:1.*", &r).unwrap());
        assert!(!reference_matches("alpine*", &r).unwrap());

        let labels: BTreeMap<String, String> =
            [("a".to_string(), "1".to_string())].into_iter().collect();
        assert!(labels_match(&["a".into()], &labels));
        assert!(labels_match(&["a=1".into()], &labels));
        assert!(!labels_match(&["a=2".into()], &labels));
        assert!(!labels_match(&["a".into(), "b".into()], &labels));

        assert_eq!(bool_filter("dangling", &[]).unwrap(), None);
        assert_eq!(
            bool_filter("dangling", &["true".into()]).unwrap(),
            Some(true)
        );
        assert_eq!(bool_filter("dangling", &["0".into()]).unwrap(), Some(false));
        assert!(bool_filter("dangling", &["maybe".into()]).is_err());

        assert_eq!(parse_time("1700000000", 0).unwrap(), 1_700_000_000);
        assert_eq!(parse_time("1h30m", 10_000).unwrap(), 10_000 - 5400);
        assert_eq!(
            parse_time("2024-01-02T03:04:05Z", 0).unwrap(),
            1_704_164_645
        );
        assert_eq!(parse_time("2024-01-02", 0).unwrap(), 1_704_153_600);
        assert!(parse_time("yesterday", 0).is_err());
    }
}
