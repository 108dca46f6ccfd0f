//! Query values of the container, exec and events routes beyond `Params`' strings and
//! booleans: numbers (`t`, `limit`, `h`, `w`) and Docker's timestamps (`since`, `until`).

use std::str::FromStr;

use pouch_api::ApiError;
use pouch_engine::containers::logs::{parse_time_arg, Timestamp};

use super::{HttpError, Params};

/// `key` as a number: `None` when absent or empty, a `400` naming the parameter when it does
/// not parse.
pub fn number<T: FromStr>(params: &Params, key: &str) -> Result<Option<T>, HttpError> {
    let Some(value) = params.get(key).map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    value.parse().map(Some).map_err(|_| {
        HttpError(ApiError::invalid(format!(
            "invalid value for {key}: {value:?} is not a number in range"
        )))
    })
}

/// `key` as a required number (a `400` naming it when absent).
pub fn required_number<T: FromStr>(params: &Params, key: &str) -> Result<T, HttpError> {
    number(params, key)?.ok_or_else(|| {
        HttpError(ApiError::invalid(format!(
            "missing query parameter {key}: give it as {key}=NUMBER"
        )))
    })
}

/// `key` as a timestamp (`since`, `until`): `None` when absent, empty or `0`. Clients send
/// unix seconds with an optional fraction (`1700000000.123456789`); RFC 3339 is accepted too.
pub fn timestamp(params: &Params, key: &str) -> Result<Option<Timestamp>, HttpError> {
    parse_time_arg(params.str(key))
        .map_err(|e| HttpError(ApiError::invalid(format!("query parameter {key}: {e}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_timestamps_from_params() {
        let p = Params::parse("t=10&limit=-1&h=&w=abc&since=1700000000.1&until=x");
        assert_eq!(number::<i64>(&p, "t").unwrap(), Some(10));
        assert_eq!(number::<i64>(&p, "limit").unwrap(), Some(-1));
        assert_eq!(number::<u16>(&p, "h").unwrap(), None);
        assert_eq!(number::<u16>(&p, "absent").unwrap(), None);
        let e = number::<u16>(&p, "w").unwrap_err().0;
        assert_eq!(e.kind.status(), 400);
        assert!(e.message.contains("w"), "{}", e.message);
        assert!(number::<u16>(&Params::parse("h=70000"), "h").is_err());
        assert!(required_number::<u16>(&p, "h").is_err());
        assert_eq!(required_number::<i64>(&p, "t").unwrap(), 10);
        assert_eq!(
            timestamp(&p, "since").unwrap(),
            Some((1_700_000_000, 100_000_000))
        );
        assert!(timestamp(&p, "absent").unwrap().is_none());
        assert!(timestamp(&Params::parse("since=0"), "since")
            .unwrap()
            .is_none());
        let t = timestamp(&Params::parse("until=2023-11-14T22:13:20.25Z"), "until").unwrap();
        assert_eq!(t, Some((1_700_000_000, 250_000_000)));
        let e = timestamp(&p, "until").unwrap_err().0;
        assert_eq!(e.kind.status(), 400);
        assert!(e.message.contains("until"), "{}", e.message);
    }

    #[test]
    fn booleans_like_docker() {
        let p = Params::parse("a=1&b=true&c=True&d=0&e=false&f=&g=False&h=yes");
        for k in ["a", "b", "c", "h"] {
            assert!(p.bool(k), "{k}");
        }
        for k in ["d", "e", "f", "g", "absent"] {
            assert!(!p.bool(k), "{k}");
        }
        assert!(p.bool_or("absent", true));
        assert!(!p.bool_or("d", true));
    }
}
