//! Go's `fmt.Sprint` and `fmt.Sprintf`, for the `print` and `printf` functions.

use serde_json::Value;

use super::value::{print_val, type_name, Val};

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
pub(super) fn go_sprint(args: &[Val]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = matches!(a, Some(Value::String(_)));
        if i > 0 && !is_str && !matches!(args[i - 1], Some(Value::String(_))) {
            out.push(' ');
        }
        out.push_str(&print_val(a));
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %d %q %t %x %f %%`, with `-`,
/// `0`, width and precision.
pub(super) fn go_sprintf(fmt: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    let mut next_arg = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut zero = false;
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' | ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next_arg += 1;
        let text = match (verb, arg) {
            ('v' | 's', v) => {
                let t = print_val(v);
                match precision {
                    Some(p) if verb == 's' => t.chars().take(p).collect(),
                    _ => t,
                }
            }
            ('d', Some(Value::Number(n))) => match n.as_i64() {
                Some(i) => i.to_string(),
                None => format!("%!d(float64={n})"),
            },
            ('q', Some(Value::String(st))) => serde_json::to_string(st).unwrap_or_default(),
            ('t', Some(Value::Bool(b))) => b.to_string(),
            ('x', Some(Value::Number(n))) => match n.as_i64() {
                Some(i) => format!("{i:x}"),
                None => format!("%!x(float64={n})"),
            },
            ('x', Some(Value::String(st))) => st.bytes().map(|b| format!("{b:02x}")).collect(),
            ('f', Some(Value::Number(n))) => {
                format!("{:.*}", precision.unwrap_or(6), n.as_f64().unwrap_or(0.0))
            }
            (verb, v) => format!(
                "%!{verb}({}={})",
                v.as_ref().map(type_name).unwrap_or("<nil>"),
                print_val(v)
            ),
        };
        let width: usize = width.parse().unwrap_or(0);
        let len = text.chars().count();
        if len >= width {
            out.push_str(&text);
        } else if left {
            out.push_str(&text);
            out.push_str(&" ".repeat(width - len));
        } else if zero && matches!(verb, 'd' | 'f' | 'x') {
            let (sign, digits) = match text.strip_prefix('-') {
                Some(d) => ("-", d),
                None => ("", text.as_str()),
            };
            out.push_str(sign);
            out.push_str(&"0".repeat(width - len));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(width - len));
            out.push_str(&text);
        }
    }
    if next_arg < args.len() {
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|a| {
                format!(
                    "{}={}",
                    a.as_ref().map(type_name).unwrap_or("<nil>"),
                    print_val(a)
                )
            })
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}
