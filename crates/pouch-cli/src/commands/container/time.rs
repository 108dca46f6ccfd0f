//! Time handling shared by the container commands, as the docker CLI does it: Go's
//! `time.ParseDuration`, `timetypes.GetTimestamp` (the `--since`/`--until` values turned into
//! unix seconds on the client), Go's `Time.String()` (ps `CreatedAt`) and
//! `jsonmessage.RFC3339NanoFixed` (events).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone};

/// Why a `--since`/`--until` value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimeError {
    #[error("failed to parse value as time or duration: {0:?}")]
    Unparsable(String),
    #[error("parsing time {0:?}: not a valid RFC 3339 time; use 2006-01-02T15:04:05Z07:00, a unix timestamp or a duration like 10m")]
    BadTime(String),
}

/// Go's `time.ParseDuration`, in nanoseconds: `300ms`, `-1.5h`, `2h45m`, `0`.
pub fn parse_go_duration(s: &str) -> Option<i128> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..num_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += value * scale;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    let nanos = total.round() as i128;
    Some(if negative { -nanos } else { nanos })
}

/// `sec[.nanos]`, as the daemon takes it.
fn is_unix_timestamp(value: &str) -> bool {
    let (sec, frac) = match value.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (value, None),
    };
    sec.parse::<i64>().is_ok() && frac.is_none_or(|f| f.parse::<u64>().is_ok())
}

/// Splits a zoned time (`...Z`, `...+01:00`, `...-0700`) into its text and offset.
fn split_zone(value: &str) -> Option<(&str, FixedOffset)> {
    if let Some(t) = value.strip_suffix(['Z', 'z']) {
        return Some((t, FixedOffset::east_opt(0)?));
    }
    // The zone starts at the last '+' or '-' that comes after the date part (10 chars).
    let idx = value
        .char_indices()
        .filter(|(i, c)| *i >= 10 && (*c == '+' || *c == '-'))
        .map(|(i, _)| i)
        .next_back()?;
    let (text, zone) = value.split_at(idx);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    Some((
        text,
        FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))?,
    ))
}

/// Parses the part of a time without its zone: a date, or a date with `T` and 1 to 3 time
/// components (seconds may carry a fraction).
fn parse_naive(text: &str) -> Option<NaiveDateTime> {
    if !text.contains('T') {
        return NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0);
    }
    let formats: &[&str] = match text.matches(':').count() {
        0 => &["%Y-%m-%dT%H"],
        1 => &["%Y-%m-%dT%H:%M"],
        _ => &["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"],
    };
    if formats == ["%Y-%m-%dT%H"] {
        // chrono cannot parse an hour alone; add the minutes.
        return NaiveDateTime::parse_from_str(&format!("{text}:00"), "%Y-%m-%dT%H:%M").ok();
    }
    formats
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
}

/// docker's `timetypes.GetTimestamp`: a duration (`10m`, `1h30m`) counts back from `now`
/// (whole unix seconds); an RFC 3339 time or date (local time when it has no zone) becomes
/// `sec.nanos`; a unix timestamp is passed through.
pub fn get_timestamp<Tz: TimeZone>(value: &str, now: &DateTime<Tz>) -> Result<String, TimeError> {
    if value != "0" {
        if let Some(d) = parse_go_duration(value) {
            let then =
                now.timestamp() as i128 * 1_000_000_000 + now.timestamp_subsec_nanos() as i128 - d;
            return Ok(then.div_euclid(1_000_000_000).to_string());
        }
    }
    let in_location = !value.contains(['z', 'Z', '+']) && value.matches('-').count() != 3;
    let parsed = if in_location {
        let offset = now.offset().fix();
        parse_naive(value).and_then(|n| offset.from_local_datetime(&n).single())
    } else {
        split_zone(value).and_then(|(text, offset)| {
            parse_naive(text).and_then(|n| offset.from_local_datetime(&n).single())
        })
    };
    match parsed {
        Some(t) => Ok(format!(
            "{}.{:09}",
            t.timestamp(),
            t.timestamp_subsec_nanos()
        )),
        None if value.contains('-') => Err(TimeError::BadTime(value.to_string())),
        None if is_unix_timestamp(value) => Ok(value.to_string()),
        None => Err(TimeError::Unparsable(value.to_string())),
    }
}

/// [`get_timestamp`] against the local clock.
pub fn timestamp_now(value: &str) -> Result<String, TimeError> {
    get_timestamp(value, &chrono::Local::now())
}

/// The local offset at the unix time `secs`.
pub fn local_offset(secs: i64) -> FixedOffset {
    chrono::Local
        .timestamp_opt(secs, 0)
        .single()
        .map(|t| t.offset().fix())
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"))
}

/// Go's zone name when no abbreviation is known: `UTC` for zero, else `+01`, `-0530`.
fn zone_name(offset: FixedOffset) -> String {
    let secs = offset.local_minus_utc();
    if secs == 0 {
        return "UTC".into();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let (h, m) = (secs.abs() / 3600, secs.abs() % 3600 / 60);
    if m == 0 {
        format!("{sign}{h:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

/// Go's `time.Unix(secs, 0).String()` in `offset`: `2026-11-27 10:00:00 +0000 UTC`.
pub fn go_time_string(secs: i64, offset: FixedOffset) -> String {
    match offset.timestamp_opt(secs, 0).single() {
        Some(t) => format!("{} {}", t.format("%Y-%m-%d %H:%M:%S %z"), zone_name(offset)),
        None => secs.to_string(),
    }
}

/// `jsonmessage.RFC3339NanoFixed` (`2006-01-02T15:04:05.000000000Z07:00`) of a unix time in
/// nanoseconds, in `offset`.
pub fn rfc3339_nano_fixed(nanos: i64, offset: FixedOffset) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    match offset.timestamp_opt(secs, sub).single() {
        Some(t) => {
            let zone = if offset.local_minus_utc() == 0 {
                "Z".to_string()
            } else {
                t.format("%:z").to_string()
            };
            format!("{}{zone}", t.format("%Y-%m-%dT%H:%M:%S%.9f"))
        }
        None => nanos.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap()
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("10m"), Some(600_000_000_000));
        assert_eq!(parse_go_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_go_duration("-2h"), Some(-7_200_000_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("1d"), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(parse_go_duration("2024-01-01"), None);
    }

    #[test]
    fn timestamps_like_docker() {
        let now = utc().timestamp_opt(1_700_000_000, 500_000_000).unwrap();
        assert_eq!(get_timestamp("10m", &now).unwrap(), "1699999400");
        assert_eq!(get_timestamp("1h30m", &now).unwrap(), "1699994600");
        // Unix timestamps go through untouched.
        assert_eq!(get_timestamp("1699999999", &now).unwrap(), "1699999999");
        assert_eq!(
            get_timestamp("1699999999.25", &now).unwrap(),
            "1699999999.25"
        );
        assert_eq!(get_timestamp("0", &now).unwrap(), "0");
        // RFC 3339 with a zone, and local forms in the reference's zone.
        assert_eq!(
            get_timestamp("2023-11-14T22:13:20Z", &now).unwrap(),
            "1700000000.000000000"
        );
        assert_eq!(
            get_timestamp("2023-11-14T23:13:20+01:00", &now).unwrap(),
            "1700000000.000000000"
        );
        assert_eq!(
            get_timestamp("2023-11-14T22:13:20.5", &now).unwrap(),
            "1700000000.500000000"
        );
        assert_eq!(
            get_timestamp("2023-11-14T22:13", &now).unwrap(),
            "1699999980.000000000"
        );
        assert_eq!(
            get_timestamp("2023-11-14T22", &now).unwrap(),
            "1699999200.000000000"
        );
        assert_eq!(
            get_timestamp("2023-11-14", &now).unwrap(),
            "1699920000.000000000"
        );
        let cet = FixedOffset::east_opt(3600).unwrap();
        let now_cet = now.with_timezone(&cet);
        assert_eq!(
            get_timestamp("2023-11-14T23:13:20", &now_cet).unwrap(),
            "1700000000.000000000"
        );
        assert_eq!(
            get_timestamp("yesterday", &now),
            Err(TimeError::Unparsable("yesterday".into()))
        );
        assert!(matches!(
            get_timestamp("2023-13-40", &now),
            Err(TimeError::BadTime(_))
        ));
    }

    #[test]
    fn go_time_strings() {
        assert_eq!(
            go_time_string(1_700_000_000, utc()),
            "2023-11-14 22:13:20 +0000 UTC"
        );
        assert_eq!(
            go_time_string(
                1_700_000_000,
                FixedOffset::east_opt(5 * 3600 + 1800).unwrap()
            ),
            "2023-11-15 03:43:20 +0530 +0530"
        );
        assert_eq!(
            rfc3339_nano_fixed(1_700_000_000_123_456_789, utc()),
            "2023-11-14T22:13:20.123456789Z"
        );
        assert_eq!(
            rfc3339_nano_fixed(
                1_700_000_000_000_000_000,
                FixedOffset::east_opt(3600).unwrap()
            ),
            "2023-11-14T23:13:20.000000000+01:00"
        );
    }
}
