//! The `filters` query parameter, in both encodings clients send:
//! `{"k":{"v":true}}` (docker CLI) and `{"k":["v"]}` (docker-py).

use std::collections::BTreeMap;

use crate::ApiError;

/// Parsed filters: key -> accepted values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(pub BTreeMap<String, Vec<String>>);

impl Filters {
    /// Parses the JSON text of a `filters` parameter; empty text means no filters.
    pub fn parse(text: &str) -> Result<Filters, ApiError> {
        let mut out = BTreeMap::new();
        if text.trim().is_empty() {
            return Ok(Filters(out));
        }
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ApiError::invalid(format!("invalid filters {text:?}: {e}")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| ApiError::invalid(format!("invalid filters {text:?}: not an object")))?;
        for (key, v) in obj {
            let values: Vec<String> = match v {
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| match i {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect(),
                serde_json::Value::Object(map) => map
                    .iter()
                    .filter(|(_, on)| on.as_bool().unwrap_or(true))
                    .map(|(k, _)| k.clone())
                    .collect(),
                serde_json::Value::String(s) => vec![s.clone()],
                other => {
                    return Err(ApiError::invalid(format!(
                        "invalid filter {key:?}: unexpected value {other}"
                    )))
                }
            };
            out.insert(key.clone(), values);
        }
        Ok(Filters(out))
    }

    /// Encodes filters the way the docker CLI does.
    pub fn to_query(&self) -> String {
        let map: BTreeMap<&String, BTreeMap<&String, bool>> = self
            .0
            .iter()
            .map(|(k, vs)| (k, vs.iter().map(|v| (v, true)).collect()))
            .collect();
        serde_json::to_string(&map).unwrap_or_default()
    }

    pub fn get(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn add(&mut self, key: &str, value: &str) {
        self.0
            .entry(key.to_string())
            .or_default()
            .push(value.to_string());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Fails naming the first key not in `allowed`.
    pub fn check_keys(&self, allowed: &[&str]) -> Result<(), ApiError> {
        for key in self.0.keys() {
            if !allowed.contains(&key.as_str()) {
                return Err(ApiError::invalid(format!("invalid filter '{key}'")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_encodings() {
        let a = Filters::parse(r#"{"dangling":{"true":true},"label":{"a=b":true}}"#).unwrap();
        let b = Filters::parse(r#"{"dangling":["true"],"label":["a=b"]}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.get("label"), ["a=b"]);
        assert!(Filters::parse("").unwrap().is_empty());
        assert!(Filters::parse("[1]").is_err());
    }

    #[test]
    fn round_trip() {
        let mut f = Filters::default();
        f.add("reference", "busy*");
        assert_eq!(Filters::parse(&f.to_query()).unwrap(), f);
    }
}
