//! `GET /events` messages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{de_null_default, is_zero};

/// The object an event is about.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EventActor {
    #[serde(rename = "ID", deserialize_with = "de_null_default")]
    pub id: String,
    #[serde(rename = "Attributes", deserialize_with = "de_null_default")]
    pub attributes: BTreeMap<String, String>,
}

/// One event. `status`, `id` and `from` are the legacy fields (containers and images only).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EventMessage {
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub status: String,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub id: String,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub from: String,
    /// `container`, `image`, `volume`, `network`, `daemon`, ...
    #[serde(rename = "Type", deserialize_with = "de_null_default")]
    pub kind: String,
    /// `create`, `start`, `die`, `exec_create: sh`, ...
    #[serde(rename = "Action", deserialize_with = "de_null_default")]
    pub action: String,
    #[serde(rename = "Actor", deserialize_with = "de_null_default")]
    pub actor: EventActor,
    /// `local` or `swarm`.
    #[serde(deserialize_with = "de_null_default")]
    pub scope: String,
    /// Unix seconds.
    #[serde(skip_serializing_if = "is_zero", deserialize_with = "de_null_default")]
    pub time: i64,
    /// Unix nanoseconds.
    #[serde(
        rename = "timeNano",
        skip_serializing_if = "is_zero",
        deserialize_with = "de_null_default"
    )]
    pub time_nano: i64,
}
