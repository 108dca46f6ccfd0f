//! The functions templates may call (docker's set), with their argument checks.

use serde_json::{Number, Value};

use super::printf::{go_sprint, go_sprintf};
use super::value::{compare, equal, go_format, print_val, truthy, type_name, Val};
use super::{exec_err, TemplateError};

pub(super) const FUNCTIONS: &[&str] = &[
    "json", "index", "len", "join", "split", "upper", "lower", "title", "pad", "truncate", "print",
    "printf", "println", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not",
];

fn want_args(name: &str, args: &[Val], n: usize) -> Result<(), TemplateError> {
    if args.len() != n {
        return exec_err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

fn as_str(name: &str, v: &Val) -> Result<String, TemplateError> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => exec_err(format!(
            "error calling {name}: expected string; found {}",
            go_format(other)
        )),
        None => exec_err(format!(
            "error calling {name}: expected string; found no value"
        )),
    }
}

fn as_int(name: &str, v: &Val) -> Result<i64, TemplateError> {
    match v {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| TemplateError::Exec(format!("error calling {name}: bad integer"))),
        _ => exec_err(format!("error calling {name}: expected integer")),
    }
}

fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if at_start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_start = !c.is_alphanumeric() && c != '_' && c != '\'';
    }
    out
}

pub(super) fn call(name: &str, args: Vec<Val>) -> Result<Val, TemplateError> {
    let s = |v: String| Ok(Some(Value::String(v)));
    match name {
        "json" => {
            want_args(name, &args, 1)?;
            let v = args[0].clone().unwrap_or(Value::Null);
            s(serde_json::to_string(&v).unwrap_or_default())
        }
        "index" => {
            if args.is_empty() {
                return exec_err("wrong number of args for index: want at least 1 got 0");
            }
            let mut item = args[0].clone();
            for idx in &args[1..] {
                item = match (&item, idx) {
                    (Some(Value::Array(a)), Some(Value::Number(n))) => {
                        let i = n.as_i64().unwrap_or(-1);
                        if i < 0 || i as usize >= a.len() {
                            return exec_err(format!(
                                "error calling index: index out of range: {i}"
                            ));
                        }
                        Some(a[i as usize].clone())
                    }
                    (Some(Value::Object(m)), Some(Value::String(k))) => {
                        Some(m.get(k).cloned().unwrap_or(Value::Null))
                    }
                    (Some(Value::String(st)), Some(Value::Number(n))) => {
                        let i = n.as_i64().unwrap_or(-1);
                        match st.as_bytes().get(i.max(0) as usize) {
                            Some(b) if i >= 0 => Some(Value::Number(Number::from(*b))),
                            _ => {
                                return exec_err(format!(
                                    "error calling index: index out of range: {i}"
                                ))
                            }
                        }
                    }
                    (None | Some(Value::Null), _) => {
                        return exec_err("error calling index: index of untyped nil")
                    }
                    (Some(v), i) => {
                        return exec_err(format!(
                            "error calling index: cannot index {} with {}",
                            type_name(v),
                            print_val(i)
                        ))
                    }
                };
            }
            Ok(item)
        }
        "len" => {
            want_args(name, &args, 1)?;
            let n = match &args[0] {
                Some(Value::String(st)) => st.len(),
                Some(Value::Array(a)) => a.len(),
                Some(Value::Object(o)) => o.len(),
                other => {
                    return exec_err(format!(
                        "error calling len: len of type {}",
                        other.as_ref().map(type_name).unwrap_or("nil")
                    ))
                }
            };
            Ok(Some(Value::Number(Number::from(n as u64))))
        }
        "join" => {
            want_args(name, &args, 2)?;
            let sep = as_str(name, &args[1])?;
            match &args[0] {
                Some(Value::Array(a)) => s(a.iter().map(go_format).collect::<Vec<_>>().join(&sep)),
                None | Some(Value::Null) => s(String::new()),
                Some(other) => s(go_format(other)),
            }
        }
        "split" => {
            want_args(name, &args, 2)?;
            let text = as_str(name, &args[0])?;
            let sep = as_str(name, &args[1])?;
            let parts: Vec<Value> = if sep.is_empty() {
                text.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                text.split(sep.as_str())
                    .map(|p| Value::String(p.to_string()))
                    .collect()
            };
            Ok(Some(Value::Array(parts)))
        }
        "upper" => {
            want_args(name, &args, 1)?;
            s(as_str(name, &args[0])?.to_uppercase())
        }
        "lower" => {
            want_args(name, &args, 1)?;
            s(as_str(name, &args[0])?.to_lowercase())
        }
        "title" => {
            want_args(name, &args, 1)?;
            s(title_case(&as_str(name, &args[0])?))
        }
        "pad" => {
            want_args(name, &args, 3)?;
            let text = as_str(name, &args[0])?;
            let before = as_int(name, &args[1])?.max(0) as usize;
            let after = as_int(name, &args[2])?.max(0) as usize;
            s(format!("{}{text}{}", " ".repeat(before), " ".repeat(after)))
        }
        "truncate" => {
            want_args(name, &args, 2)?;
            let text = as_str(name, &args[0])?;
            let n = as_int(name, &args[1])?.max(0) as usize;
            s(text.chars().take(n).collect())
        }
        "print" => s(go_sprint(&args)),
        "println" => {
            let parts: Vec<String> = args.iter().map(print_val).collect();
            s(format!("{}\n", parts.join(" ")))
        }
        "printf" => {
            if args.is_empty() {
                return exec_err("wrong number of args for printf: want at least 1 got 0");
            }
            let fmt = as_str(name, &args[0])?;
            s(go_sprintf(&fmt, &args[1..]))
        }
        "eq" => {
            if args.len() < 2 {
                return exec_err("wrong number of args for eq: want at least 2");
            }
            let hit = args[1..].iter().any(|b| equal(&args[0], b));
            Ok(Some(Value::Bool(hit)))
        }
        "ne" => {
            want_args(name, &args, 2)?;
            Ok(Some(Value::Bool(!equal(&args[0], &args[1]))))
        }
        "lt" | "le" | "gt" | "ge" => {
            want_args(name, &args, 2)?;
            let Some(ord) = compare(&args[0], &args[1]) else {
                return exec_err(format!(
                    "error calling {name}: incompatible types for comparison"
                ));
            };
            use std::cmp::Ordering::*;
            let r = match name {
                "lt" => ord == Less,
                "le" => ord != Greater,
                "gt" => ord == Greater,
                _ => ord != Less,
            };
            Ok(Some(Value::Bool(r)))
        }
        "and" => {
            if args.is_empty() {
                return exec_err("wrong number of args for and");
            }
            for a in &args {
                if !truthy(a) {
                    return Ok(a.clone());
                }
            }
            Ok(args[args.len() - 1].clone())
        }
        "or" => {
            if args.is_empty() {
                return exec_err("wrong number of args for or");
            }
            for a in &args {
                if truthy(a) {
                    return Ok(a.clone());
                }
            }
            Ok(args[args.len() - 1].clone())
        }
        "not" => {
            want_args(name, &args, 1)?;
            Ok(Some(Value::Bool(!truthy(&args[0]))))
        }
        other => exec_err(format!("function {other:?} not defined")),
    }
}
