//! Signal names and numbers as the Docker API and CLI give them (`SIGTERM`, `TERM`, `term`,
//! `15`, `SIGRTMIN+3`), for `kill`, `stop` and an image's `StopSignal`. Numbers are Linux's
//! (x86_64 and arm64 share them); real-time signals run from SIGRTMIN (34, glibc's and musl's
//! value) to SIGRTMAX (64).

/// SIGKILL, the signal `stop` falls back to after its timeout.
pub const SIGKILL: i32 = 9;
/// SIGTERM, the default stop signal.
pub const SIGTERM: i32 = 15;
/// The first real-time signal as user space sees it.
pub const SIGRTMIN: i32 = 34;
/// The last real-time signal.
pub const SIGRTMAX: i32 = 64;

/// The standard signals, by number; aliases follow their main name.
const NAMES: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// A signal that is neither a known name nor a number of a signal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    #[error("invalid signal {0:?} (use a name like SIGTERM or a number)")]
    Invalid(String),
}

/// Parses a signal name (with or without `SIG`, any case, `RTMIN+n`/`RTMAX-n` included) or a
/// number from 1 to 64.
pub fn parse_signal(s: &str) -> Result<i32, SignalError> {
    let invalid = || SignalError::Invalid(s.to_string());
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=SIGRTMAX).contains(&n) {
            Ok(n)
        } else {
            Err(invalid())
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = NAMES.iter().find(|(known, _)| *known == name) {
        return Ok(n);
    }
    let offset = |rest: &str| -> Option<i32> {
        if rest.is_empty() {
            return Some(0);
        }
        let digits = rest.get(1..)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let number = if let Some(rest) = name.strip_prefix("RTMIN") {
        match rest.chars().next() {
            None | Some('+') => offset(rest).map(|o| SIGRTMIN + o),
            _ => None,
        }
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        match rest.chars().next() {
            None | Some('-') => offset(rest).map(|o| SIGRTMAX - o),
            _ => None,
        }
    } else {
        None
    };
    number
        .filter(|n| (SIGRTMIN..=SIGRTMAX).contains(n))
        .ok_or_else(invalid)
}

/// The name of a signal (`SIGTERM`, `SIGRTMIN+3`, `SIGRTMAX-2`), or its number when it has
/// none.
pub fn signal_name(n: i32) -> String {
    if let Some((name, _)) = NAMES.iter().find(|(_, known)| *known == n) {
        return format!("SIG{name}");
    }
    let middle = (SIGRTMIN + SIGRTMAX) / 2;
    match n {
        SIGRTMIN => "SIGRTMIN".to_string(),
        SIGRTMAX => "SIGRTMAX".to_string(),
        n if n > SIGRTMIN && n <= middle => format!("SIGRTMIN+{}", n - SIGRTMIN),
        n if n > middle && n < SIGRTMAX => format!("SIGRTMAX-{}", SIGRTMAX - n),
        n => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_in_every_spelling_and_numbers() {
        for s in ["SIGTERM", "TERM", "term", "SigTerm", "15"] {
            assert_eq!(parse_signal(s), Ok(15), "{s}");
        }
        assert_eq!(parse_signal("KILL"), Ok(9));
        assert_eq!(parse_signal("SIGCHLD"), Ok(17));
        assert_eq!(parse_signal("cld"), Ok(17));
        assert_eq!(parse_signal("SIGWINCH"), Ok(28));
        assert_eq!(parse_signal("64"), Ok(64));
    }

    #[test]
    fn parses_real_time_signals() {
        assert_eq!(parse_signal("SIGRTMIN"), Ok(34));
        assert_eq!(parse_signal("SIGRTMIN+3"), Ok(37));
        assert_eq!(parse_signal("rtmin+3"), Ok(37));
        assert_eq!(parse_signal("RTMAX"), Ok(64));
        assert_eq!(parse_signal("SIGRTMAX-2"), Ok(62));
        assert_eq!(parse_signal("SIGRTMIN+30"), Ok(64));
    }

    #[test]
    fn rejects_unknown_names_and_numbers_out_of_range() {
        for s in [
            "FOO",
            "",
            "0",
            "-9",
            "65",
            "SIG",
            "SIGRTMIN+",
            "SIGRTMIN-1",
            "SIGRTMIN+31",
            "SIGRTMAX+1",
            "SIGRTMIN+x",
            "SIGRTMIN+ 3",
            " TERM",
        ] {
            assert!(parse_signal(s).is_err(), "{s:?} was accepted");
        }
        assert_eq!(
            parse_signal("FOO").unwrap_err().to_string(),
            r#"invalid signal "FOO" (use a name like SIGTERM or a number)"#
        );
    }

    #[test]
    fn names_signals() {
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(6), "SIGABRT");
        assert_eq!(signal_name(17), "SIGCHLD");
        assert_eq!(signal_name(34), "SIGRTMIN");
        assert_eq!(signal_name(37), "SIGRTMIN+3");
        assert_eq!(signal_name(49), "SIGRTMIN+15");
        assert_eq!(signal_name(50), "SIGRTMAX-14");
        assert_eq!(signal_name(64), "SIGRTMAX");
        assert_eq!(signal_name(32), "32");
        assert_eq!(signal_name(0), "0");
    }

    #[test]
    fn names_round_trip() {
        for n in (1..=31).chain(34..=64) {
            assert_eq!(parse_signal(&signal_name(n)), Ok(n), "{n}");
        }
    }
}
