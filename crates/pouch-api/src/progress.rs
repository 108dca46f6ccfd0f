//! JSON progress messages (pull, push, load, import), as Docker's `JSONMessage`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProgressDetail {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub current: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub total: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ErrorDetail {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub code: Option<i64>,
    pub message: String,
}

/// One line of a JSON progress stream.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JsonMessage {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub progress: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub progress_detail: Option<ProgressDetail>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub aux: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_detail: Option<ErrorDetail>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

impl JsonMessage {
    /// A status line without an id: `{"status":"..."}`.
    pub fn status(status: impl Into<String>) -> Self {
        JsonMessage {
            status: Some(status.into()),
            ..Default::default()
        }
    }

    /// A status line for one layer or tag: `{"status":"...","id":"..."}`.
    pub fn with_id(status: impl Into<String>, id: impl Into<String>) -> Self {
        JsonMessage {
            status: Some(status.into()),
            id: Some(id.into()),
            progress_detail: Some(ProgressDetail::default()),
            ..Default::default()
        }
    }

    /// A progress line with Docker's text bar.
    pub fn progress(
        status: impl Into<String>,
        id: impl Into<String>,
        current: i64,
        total: Option<i64>,
    ) -> Self {
        JsonMessage {
            status: Some(status.into()),
            id: Some(id.into()),
            progress: Some(progress_bar(current, total)),
            progress_detail: Some(ProgressDetail {
                current: Some(current),
                total,
            }),
            ..Default::default()
        }
    }

    /// A `{"stream":"..."}` line (load, import).
    pub fn stream(text: impl Into<String>) -> Self {
        JsonMessage {
            stream: Some(text.into()),
            ..Default::default()
        }
    }

    /// An error line: both `error` and `errorDetail`, as clients read either.
    pub fn error(message: impl Into<String>) -> Self {
        let message = message.into();
        JsonMessage {
            error_detail: Some(ErrorDetail {
                code: None,
                message: message.clone(),
            }),
            error: Some(message),
            ..Default::default()
        }
    }
}

/// Docker's text progress bar: `[=====>     ]  1.2MB/3.4MB`.
pub fn progress_bar(current: i64, total: Option<i64>) -> String {
    match total {
        Some(total) if total > 0 => {
            let width = 50;
            let filled = ((current.min(total) as f64 / total as f64) * width as f64) as usize;
            let mut bar = "=".repeat(filled);
            if filled < width {
                bar.push('>');
                bar.push_str(&" ".repeat(width - filled - 1));
            }
            format!("[{bar}] {}/{}", human_size(current), human_size(total))
        }
        _ => human_size(current),
    }
}

/// Decimal units as Docker prints them (`1.2MB`).
pub fn human_size(bytes: i64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < units.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{:.4}", value)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .chars()
            .take(5)
            .collect::<String>()
            .trim_end_matches('.')
            .to_string()
            + units[unit]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1_500_000), "1.5MB");
        assert_eq!(human_size(2_000), "2kB");
    }

    #[test]
    fn error_has_both_fields() {
        let m = serde_json::to_value(JsonMessage::error("boom")).unwrap();
        assert_eq!(m["error"], "boom");
        assert_eq!(m["errorDetail"]["message"], "boom");
    }
}
