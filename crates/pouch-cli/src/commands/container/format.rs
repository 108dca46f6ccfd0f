//! `--format` handling shared by `ps`, `stats` and `events`, as docker's `formatter.Context`
//! does it: `table` (the command's default columns), `table TEMPLATE` (a header row from the
//! same template run over the column names, then one row per object, laid out by Go's
//! tabwriter), `json` (`{{json .}}`) or a plain template (one line per object). Also Go's
//! tabwriter itself and `strconv.Quote`, `net.JoinHostPort` and natural sort order.

use serde_json::Value;

use crate::template::{Template, TemplateError};

/// Go's `text/tabwriter` as docker configures it (`tabwidth` 1, `padchar` ' ', no flags):
/// cells are tab-terminated, a column is padded to its widest cell plus `padding` and to at
/// least `minwidth`, a column block spans the consecutive lines that have that cell.
pub fn tabwrite(text: &str, minwidth: usize, padding: usize) -> String {
    let mut lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    if text.ends_with('\n') || text.is_empty() {
        lines.pop();
    }
    let writer = TabWriter {
        lines: &lines,
        minwidth,
        padding,
    };
    let mut out = String::with_capacity(text.len() * 2);
    let mut widths = Vec::new();
    writer.format(0, lines.len(), &mut widths, &mut out);
    out
}

struct TabWriter<'a> {
    lines: &'a [Vec<&'a str>],
    minwidth: usize,
    padding: usize,
}

impl TabWriter<'_> {
    fn format(&self, line0: usize, line1: usize, widths: &mut Vec<usize>, out: &mut String) {
        let column = widths.len();
        let mut line0 = line0;
        let mut this = line0;
        while this < line1 {
            if column + 1 >= self.lines[this].len() {
                this += 1;
                continue;
            }
            self.write_lines(line0, this, widths, out);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 {
                let line = &self.lines[this];
                if column + 1 >= line.len() {
                    break;
                }
                width = width.max(line[column].chars().count() + self.padding);
                this += 1;
            }
            widths.push(width);
            self.format(line0, this, widths, out);
            widths.pop();
            line0 = this;
        }
        self.write_lines(line0, line1, widths, out);
    }

    fn write_lines(&self, line0: usize, line1: usize, widths: &[usize], out: &mut String) {
        for line in &self.lines[line0..line1] {
            for (j, cell) in line.iter().enumerate() {
                out.push_str(cell);
                if j < widths.len() {
                    let pad = widths[j].saturating_sub(cell.chars().count());
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push('\n');
        }
    }
}

/// A resolved `--format`: whether it is a table, and the template text with the `table`
/// prefix removed, spaces trimmed and `\t`/`\n` escapes expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatSpec {
    pub table: bool,
    pub text: String,
}

impl FormatSpec {
    /// `None`, `""` and `table` give `default_table` (which starts with `table `).
    pub fn parse(user: Option<&str>, default_table: &str) -> FormatSpec {
        let source = match user {
            None | Some("") | Some("table") => default_table,
            Some("json") => "{{json .}}",
            Some(s) => s,
        };
        let (table, body) = match source.strip_prefix("table") {
            Some(rest) => (true, rest),
            None => (false, source),
        };
        let text = body
            .trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n");
        FormatSpec { table, text }
    }
}

/// Renders `rows` with `row_text`; for a table, first a header line from `header_text` run
/// over `header` (field name to column title), then all of it through the tabwriter.
pub fn render(
    table: bool,
    header_text: &str,
    row_text: &str,
    header: &Value,
    rows: &[Value],
) -> Result<String, TemplateError> {
    let row_tmpl = Template::parse(row_text)?;
    let mut body = String::new();
    for row in rows {
        body.push_str(&row_tmpl.render(row)?);
        body.push('\n');
    }
    if !table {
        return Ok(body);
    }
    let head = Template::parse(header_text)?.render(header)?;
    Ok(tabwrite(&format!("{head}\n{body}"), 10, 3))
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `net.JoinHostPort`: brackets around hosts containing `:`.
pub fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// [`natural_less`] as an ordering, for sorting.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if natural_less(a, b) {
        std::cmp::Ordering::Less
    } else if natural_less(b, a) {
        std::cmp::Ordering::Greater
    } else {
        std::cmp::Ordering::Equal
    }
}

/// `sortorder.NaturalLess`: digit runs compare as numbers, the rest byte-wise.
pub fn natural_less(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (ca, cb) = (a[i], b[j]);
        let (da, db) = (ca.is_ascii_digit(), cb.is_ascii_digit());
        match (da, db) {
            (true, true) => {
                while i < a.len() && a[i] == b'0' {
                    i += 1;
                }
                while j < b.len() && b[j] == b'0' {
                    j += 1;
                }
                let (ni, nj) = (i, j);
                while i < a.len() && a[i].is_ascii_digit() {
                    i += 1;
                }
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                let (na, nb) = (&a[ni..i], &b[nj..j]);
                if na.len() != nb.len() {
                    return na.len() < nb.len();
                }
                if na != nb {
                    return na < nb;
                }
                // Equal values: fewer leading zeros first.
                if ni != nj {
                    return ni < nj;
                }
            }
            (true, false) => return true,
            (false, true) => return false,
            (false, false) => {
                if ca != cb {
                    return ca < cb;
                }
                i += 1;
                j += 1;
            }
        }
    }
    a.len() < b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tabwriter_like_go() {
        assert_eq!(
            tabwrite("a\tbb\tc\nlonger cell\tx\ty\n", 10, 3),
            "\
a             bb        c
longer cell   x         y
"
        );
        // Lines without a cell in a column end that column's block.
        assert_eq!(
            tabwrite("UID\tPID\tCMD\nroot\t1\tsh\n", 20, 3),
            "UID                 PID                 CMD\nroot                1                   sh\n"
        );
        assert_eq!(
            tabwrite("ab\tc\nno tabs\nlong-cell-x\td\n", 1, 3),
            "ab   c\nno tabs\nlong-cell-x   d\n"
        );
        assert_eq!(tabwrite("", 10, 3), "");
    }

    #[test]
    fn format_specs() {
        let d = "table {{.ID}}\\t{{.Name}}";
        assert_eq!(
            FormatSpec::parse(None, d),
            FormatSpec {
                table: true,
                text: "{{.ID}}\t{{.Name}}".into()
            }
        );
        assert_eq!(
            FormatSpec::parse(Some("table"), d),
            FormatSpec::parse(None, d)
        );
        assert_eq!(
            FormatSpec::parse(Some("json"), d),
            FormatSpec {
                table: false,
                text: "{{json .}}".into()
            }
        );
        assert_eq!(
            FormatSpec::parse(Some("table {{.ID}}\\t{{.Names}}"), d).text,
            "{{.ID}}\t{{.Names}}"
        );
        assert!(!FormatSpec::parse(Some("{{.ID}}"), d).table);
    }

    #[test]
    fn renders_tables_and_lines() {
        let header = json!({"ID": "CONTAINER ID", "Name": "NAME"});
        let rows = vec![
            json!({"ID": "abc", "Name": "web"}),
            json!({"ID": "d", "Name": "db"}),
        ];
        let t = "{{.ID}}\t{{.Name}}";
        assert_eq!(
            render(true, t, t, &header, &rows).unwrap(),
            "CONTAINER ID   NAME\nabc            web\nd              db\n"
        );
        assert_eq!(
            render(false, t, "{{.Name}}", &header, &rows).unwrap(),
            "web\ndb\n"
        );
        assert_eq!(
            render(true, t, t, &header, &[]).unwrap(),
            "CONTAINER ID   NAME\n"
        );
    }

    #[test]
    fn quoting_hosts_and_natural_order() {
        assert_eq!(go_quote("echo hi"), "\"echo hi\"");
        assert_eq!(go_quote("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\x01\"");
        assert_eq!(go_quote("héllo…"), "\"héllo…\"");
        assert_eq!(join_host_port("0.0.0.0", "80"), "0.0.0.0:80");
        assert_eq!(join_host_port("::", "80"), "[::]:80");
        assert!(natural_less("80/tcp -> 0.0.0.0:9", "443/tcp -> 0.0.0.0:1"));
        assert!(natural_less("a2", "a10"));
        assert!(!natural_less("a10", "a2"));
        assert!(natural_less("a", "ab"));
        assert!(!natural_less("a", "a"));
    }
}
