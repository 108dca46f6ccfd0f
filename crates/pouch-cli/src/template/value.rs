//! How Go sees decoded JSON values: type names, `%v` formatting, truth and comparison.

use serde_json::Value;

/// A value during execution; `None` is Go's "no value" (a missing map key).
pub(super) type Val = Option<Value>;

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "json.Number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `%v` of a decoded JSON value.
pub fn go_format(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_format).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_format(&map[*k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

pub(super) fn print_val(v: &Val) -> String {
    match v {
        None => "<no value>".into(),
        Some(v) => go_format(v),
    }
}

pub(super) fn truthy(v: &Val) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().map(|f| f != 0.0).unwrap_or(true),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

pub(super) fn compare(a: &Val, b: &Val) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Some(Value::String(x)), Some(Value::String(y))) => Some(x.cmp(y)),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => Some(x.cmp(y)),
        _ => None,
    }
}

pub(super) fn equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Some(Value::Number(_)), Some(Value::Number(_))) => {
            compare(a, b) == Some(std::cmp::Ordering::Equal)
        }
        (None | Some(Value::Null), None | Some(Value::Null)) => true,
        _ => a == b,
    }
}
