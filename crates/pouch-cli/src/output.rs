//! Output formatting shared by the commands, matching the docker CLI: aligned tables (Go's
//! tabwriter as docker configures it), sizes (go-units), "N minutes ago", short IDs and the
//! 4-space indented JSON of `inspect`.

/// A table laid out like docker's: a cell is padded to its column's widest cell plus 3 spaces,
/// and to at least 10 columns; the last cell of a row is not padded.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

const MIN_WIDTH: usize = 10;
const PADDING: usize = 3;

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The laid-out text, one line per row, each ending with a newline.
    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < row.len() {
                    let width = (widths[i] + PADDING).max(MIN_WIDTH);
                    let pad = width - cell.chars().count();
                    line.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

/// Go's `%.<prec>g` for a positive or zero float.
pub fn format_g(value: f64, prec: usize) -> String {
    let prec = prec.max(1);
    if value == 0.0 || !value.is_finite() {
        return if value == 0.0 {
            "0".into()
        } else {
            value.to_string()
        };
    }
    let negative = value < 0.0;
    // Round to `prec` significant digits via Rust's exact exponent formatting.
    let sci = format!("{:.*e}", prec - 1, value.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    let nd = digits.len() as i32;
    let dp = exp + 1; // position of the decimal point relative to the digits
    let mut eprec = prec as i32;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if exp < -4 || exp >= eprec {
        out.push_str(&digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
        return out;
    }
    // %f with max(prec - dp, 0) decimals, where prec was reduced to nd when prec > dp.
    let p = if prec as i32 > dp { nd } else { prec as i32 };
    let decimals = (p - dp).max(0) as usize;
    if dp <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-dp) as usize));
        out.push_str(&digits);
        let have = (-dp) as usize + digits.len();
        if have < decimals {
            out.push_str(&"0".repeat(decimals - have));
        }
    } else {
        let dp = dp as usize;
        if digits.len() <= dp {
            out.push_str(&digits);
            out.push_str(&"0".repeat(dp - digits.len()));
            if decimals > 0 {
                out.push('.');
                out.push_str(&"0".repeat(decimals));
            }
        } else {
            out.push_str(&digits[..dp]);
            out.push('.');
            let frac = &digits[dp..];
            out.push_str(frac);
            if frac.len() < decimals {
                out.push_str(&"0".repeat(decimals - frac.len()));
            }
        }
    }
    out
}

fn size_and_unit(size: f64, base: f64, units: &[&'static str]) -> (f64, &'static str) {
    let mut size = size;
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    (size, units[i])
}

const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY_UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// go-units `HumanSizeWithPrecision`: decimal units, `prec` significant digits (`4.26MB`).
pub fn human_size_prec(bytes: i64, prec: usize) -> String {
    let (size, unit) = size_and_unit(bytes.max(0) as f64, 1000.0, &DECIMAL_UNITS);
    format!("{}{}", format_g(size, prec), unit)
}

/// go-units `HumanSize` (4 significant digits).
pub fn human_size(bytes: i64) -> String {
    human_size_prec(bytes, 4)
}

/// go-units `BytesSize`: binary units, 4 significant digits (`3.822GiB`).
pub fn bytes_size(bytes: i64) -> String {
    let (size, unit) = size_and_unit(bytes.max(0) as f64, 1024.0, &BINARY_UNITS);
    format!("{}{}", format_g(size, 4), unit)
}

/// go-units `HumanDuration`.
pub fn human_duration(seconds: i64) -> String {
    let s = seconds;
    if s < 1 {
        return "Less than a second".into();
    }
    if s == 1 {
        return "1 second".into();
    }
    if s < 60 {
        return format!("{s} seconds");
    }
    let minutes = s / 60;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (s as f64 / 3600.0).round() as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", s / 3600 / 24 / 365)
}

/// "N units ago" for a unix time, relative to `now` (unix seconds).
pub fn time_ago(created: i64, now: i64) -> String {
    format!("{} ago", human_duration(now - created))
}

/// Seconds since the epoch, now.
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `stringid.TruncateID`: drops the algorithm prefix and keeps 12 characters.
pub fn short_id(id: &str) -> String {
    let hex = match id.split_once(':') {
        Some((_, h)) => h,
        None => id,
    };
    hex.chars().take(12).collect()
}

/// docker's `Ellipsis`: fits `s` into `max` characters, ending with `…` when cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    let count = s.chars().count();
    if count <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Go's `json.Indent(src, "", indent)`: re-indents JSON text, keeping key order and leaving
/// empty arrays and objects as `[]` / `{}`.
pub fn indent_json(src: &[u8], indent: &str) -> String {
    let text = String::from_utf8_lossy(src);
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut pending_open = false;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    };
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        if pending_open && c != ']' && c != '}' {
            pending_open = false;
            newline(&mut out, depth);
        }
        match c {
            '{' | '[' => {
                out.push(c);
                depth += 1;
                pending_open = true;
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                if pending_open {
                    pending_open = false;
                } else {
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            '"' => {
                in_string = true;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_g_format() {
        assert_eq!(format_g(4.264123, 3), "4.26");
        assert_eq!(format_g(2.0, 3), "2");
        assert_eq!(format_g(123.0, 3), "123");
        assert_eq!(format_g(12.34, 3), "12.3");
        assert_eq!(format_g(999.999, 3), "1e+03");
        assert_eq!(format_g(1.5, 4), "1.5");
        assert_eq!(format_g(0.0, 3), "0");
        assert_eq!(format_g(100.0, 3), "100");
        assert_eq!(format_g(0.000123, 3), "0.000123");
        assert_eq!(format_g(3.8219, 4), "3.822");
    }

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size_prec(0, 3), "0B");
        assert_eq!(human_size_prec(123, 3), "123B");
        assert_eq!(human_size_prec(4_264_123, 3), "4.26MB");
        assert_eq!(human_size_prec(1_240, 3), "1.24kB");
        assert_eq!(human_size_prec(12_345_678, 3), "12.3MB");
        assert_eq!(human_size(16_430_000), "16.43MB");
        assert_eq!(human_size(2_000_000_000), "2GB");
        assert_eq!(bytes_size(4_103_779_328), "3.822GiB");
        assert_eq!(bytes_size(512), "512B");
        assert_eq!(bytes_size(1024 * 1024), "1MiB");
    }

    #[test]
    fn durations_like_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(45), "45 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(10 * 60), "10 minutes");
        assert_eq!(human_duration(3600 + 600), "About an hour");
        assert_eq!(human_duration(5 * 3600), "5 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(20 * 86400), "2 weeks");
        assert_eq!(human_duration(90 * 86400), "3 months");
        assert_eq!(human_duration(800 * 86400), "2 years");
        assert_eq!(time_ago(100, 160), "About a minute ago");
    }

    #[test]
    fn ids_and_ellipsis() {
        assert_eq!(
            short_id("sha256:0123456789abcdef0123456789abcdef"),
            "0123456789ab"
        );
        assert_eq!(short_id("0123456789abcdef"), "0123456789ab");
        assert_eq!(short_id("<missing>"), "<missing>");
        assert_eq!(ellipsis("abcdef", 4), "abc…");
        assert_eq!(ellipsis("abc", 4), "abc");
    }

    #[test]
    fn table_layout() {
        let mut t = Table::new(&["REPOSITORY", "TAG", "IMAGE ID", "SIZE"]);
        t.row(vec![
            "busybox".into(),
            "latest".into(),
            "0123456789ab".into(),
            "4.26MB".into(),
        ]);
        t.row(vec![
            "127.0.0.1:5000/busybox".into(),
            "v1".into(),
            "0123456789ab".into(),
            "4.26MB".into(),
        ]);
        let expected = "\
REPOSITORY               TAG       IMAGE ID       SIZE
busybox                  latest    0123456789ab   4.26MB
127.0.0.1:5000/busybox   v1        0123456789ab   4.26MB
";
        assert_eq!(t.render(), expected);
    }

    #[test]
    fn json_indent_like_go() {
        let src = br#"{"Id":"x","Tags":[],"Cfg":{},"L":[1,{"a":"b, c"}],"S":"q\"{"}"#;
        let expected = r#"{
    "Id": "x",
    "Tags": [],
    "Cfg": {},
    "L": [
        1,
        {
            "a": "b, c"
        }
    ],
    "S": "q\"{"
}"#;
        assert_eq!(indent_json(src, "    "), expected);
    }
}
