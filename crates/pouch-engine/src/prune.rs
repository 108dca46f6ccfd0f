//! Docker's prune filters shared by containers, networks and volumes: `until` (a unix
//! time, RFC 3339, or a duration before now) and `label` / `label!`.

use std::collections::BTreeMap;

use pouch_api::{ApiError, Filters};

/// `until` as unix seconds: a timestamp, RFC 3339, or a Go duration before now (`10m`).
pub(crate) fn parse_until(v: &str) -> Result<i64, ApiError> {
    if let Ok(n) = v.split('.').next().unwrap_or(v).parse::<i64>() {
        return Ok(n);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp());
    }
    let (num, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| ApiError::invalid(format!("invalid filter 'until={v}'")))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(ApiError::invalid(format!("invalid filter 'until={v}'"))),
    };
    Ok(chrono::Utc::now().timestamp() - secs)
}

/// `true` when an object created at `created` (RFC 3339) with `labels` passes the prune
/// filters `until`, `label` and `label!`.
pub(crate) fn matches(
    filters: &Filters,
    created: &str,
    labels: &BTreeMap<String, String>,
) -> Result<bool, ApiError> {
    if let Some(until) = filters.get("until").last() {
        let t = parse_until(until)?;
        let c = chrono::DateTime::parse_from_rfc3339(created)
            .map(|d| d.timestamp())
            .unwrap_or(0);
        if c > t {
            return Ok(false);
        }
    }
    let has = |l: &String| match l.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(l.as_str()),
    };
    Ok(filters.get("label").iter().all(has) && !filters.get("label!").iter().any(has))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_and_labels() {
        let mut f = Filters::default();
        let labels = BTreeMap::from([("a".to_string(), "1".to_string())]);
        assert!(matches(&f, "2020-01-01T00:00:00Z", &labels).unwrap());
        f.add("until", "2019-01-01T00:00:00Z");
        assert!(!matches(&f, "2020-01-01T00:00:00Z", &labels).unwrap());
        let mut f = Filters::default();
        f.add("label", "a=1");
        assert!(matches(&f, "2020-01-01T00:00:00Z", &labels).unwrap());
        f.add("label!", "a");
        assert!(!matches(&f, "2020-01-01T00:00:00Z", &labels).unwrap());
        assert!(parse_until("10x").is_err());
        assert!(parse_until("10m").unwrap() < chrono::Utc::now().timestamp());
    }
}
