//! Exec shapes: create body, start body and inspect answer.

use serde::{Deserialize, Serialize};

use super::{de_null_default, de_strslice};

/// `POST /containers/{id}/exec` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    #[serde(deserialize_with = "de_null_default")]
    pub user: String,
    #[serde(deserialize_with = "de_null_default")]
    pub privileged: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub tty: bool,
    /// `[height, width]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u64; 2]>,
    #[serde(deserialize_with = "de_null_default")]
    pub attach_stdin: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub attach_stderr: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub attach_stdout: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub detach: bool,
    /// e.g. `ctrl-p,ctrl-q`.
    #[serde(deserialize_with = "de_null_default")]
    pub detach_keys: String,
    pub env: Option<Vec<String>>,
    #[serde(deserialize_with = "de_null_default")]
    pub working_dir: String,
    #[serde(deserialize_with = "de_strslice")]
    pub cmd: Option<Vec<String>>,
}

/// `POST /exec/{id}/start` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecStartConfig {
    #[serde(deserialize_with = "de_null_default")]
    pub detach: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub tty: bool,
    /// `[height, width]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u64; 2]>,
}

/// `ExecInspect.ProcessConfig` (lower-case keys, as Docker).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase", default)]
pub struct ExecProcessConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub user: String,
    pub tty: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub entrypoint: String,
    #[serde(deserialize_with = "de_null_default")]
    pub arguments: Vec<String>,
}

/// `GET /exec/{id}/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecInspect {
    pub can_remove: bool,
    #[serde(deserialize_with = "de_null_default")]
    pub detach_keys: String,
    #[serde(rename = "ID", deserialize_with = "de_null_default")]
    pub id: String,
    pub running: bool,
    /// `null` until the process has exited.
    pub exit_code: Option<i64>,
    #[serde(deserialize_with = "de_null_default")]
    pub process_config: ExecProcessConfig,
    pub open_stdin: bool,
    pub open_stderr: bool,
    pub open_stdout: bool,
    #[serde(rename = "ContainerID", deserialize_with = "de_null_default")]
    pub container_id: String,
    pub pid: i64,
}
