//! Docker's volume objects (`/volumes` endpoints): the inspect and list item ([`Volume`] with
//! its `system df` [`UsageData`]), the create body ([`VolumeCreateRequest`]), the list answer
//! ([`VolumeListResponse`]) and the prune answer ([`VolumePruneResponse`]).
//!
//! Inputs accept absent and `null` fields (Go clients send `null` for empty maps and slices);
//! outputs follow Docker 1.44's shapes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::container::de_null_default;

/// The value of [`Volume::scope`] for volumes on this host (the only scope Pouch has).
pub const SCOPE_LOCAL: &str = "local";

/// `Volume.UsageData`: filled in by `GET /system/df` only, left out elsewhere.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct UsageData {
    /// Bytes used by the volume's data; `-1` when not known.
    pub size: i64,
    /// Number of containers that use the volume; `-1` when not known.
    pub ref_count: i64,
}

/// A volume as `GET /volumes/{name}`, `GET /volumes` and `POST /volumes/create` show it:
/// `{"CreatedAt","Driver","Labels","Mountpoint","Name","Options","Scope"}` plus `Status`
/// and `UsageData` when there are some (fields in Docker's order, so output matches it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Volume {
    /// RFC 3339 time of creation; left out when not known.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub created_at: String,
    /// `local` or `tmpfs`.
    #[serde(deserialize_with = "de_null_default")]
    pub driver: String,
    #[serde(deserialize_with = "de_null_default")]
    pub labels: BTreeMap<String, String>,
    /// Where the volume's data is on the host (`<home>/volumes/<name>/_data` for `local`).
    #[serde(deserialize_with = "de_null_default")]
    pub mountpoint: String,
    #[serde(deserialize_with = "de_null_default")]
    pub name: String,
    /// The driver options the volume was created with.
    #[serde(deserialize_with = "de_null_default")]
    pub options: BTreeMap<String, String>,
    /// [`SCOPE_LOCAL`].
    #[serde(deserialize_with = "de_null_default")]
    pub scope: String,
    /// Driver-specific low-level details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_data: Option<UsageData>,
}

/// `POST /volumes/create` body: `{"Driver","DriverOpts","Labels","Name"}`. Empty fields are
/// left out when sent, in Docker's order (as the docker CLI sends them); an empty `Name` asks
/// for a generated one and an empty `Driver` means `local`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeCreateRequest {
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub driver: String,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub labels: BTreeMap<String, String>,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_null_default"
    )]
    pub name: String,
}

/// `GET /volumes` answer: `{"Volumes":[...],"Warnings":[]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeListResponse {
    #[serde(deserialize_with = "de_null_default")]
    pub volumes: Vec<Volume>,
    #[serde(deserialize_with = "de_null_default")]
    pub warnings: Vec<String>,
}

/// `POST /volumes/prune` answer: `{"VolumesDeleted":[names],"SpaceReclaimed":bytes}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumePruneResponse {
    #[serde(deserialize_with = "de_null_default")]
    pub volumes_deleted: Vec<String>,
    #[serde(deserialize_with = "de_null_default")]
    pub space_reclaimed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn create_request_from_docker_py_body() {
        let req: VolumeCreateRequest =
            serde_json::from_str(r#"{"Name":"x","Driver":"local","DriverOpts":{},"Labels":{}}"#)
                .unwrap();
        assert_eq!(
            req,
            VolumeCreateRequest {
                name: "x".into(),
                driver: "local".into(),
                ..Default::default()
            }
        );
    }

    #[test]
    fn create_request_from_docker_cli_body_with_nulls() {
        let req: VolumeCreateRequest = serde_json::from_str(
            r#"{"Driver":"local","DriverOpts":null,"Labels":{"a":"b"},"Name":"myvol"}"#,
        )
        .unwrap();
        assert_eq!(req.name, "myvol");
        assert_eq!(req.driver, "local");
        assert!(req.driver_opts.is_empty());
        assert_eq!(req.labels, map(&[("a", "b")]));
        let empty: VolumeCreateRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, VolumeCreateRequest::default());
    }

    #[test]
    fn create_request_leaves_empty_fields_out_like_the_docker_cli() {
        let req = VolumeCreateRequest {
            name: "myvol".into(),
            driver: "local".into(),
            driver_opts: BTreeMap::new(),
            labels: map(&[("a", "b")]),
        };
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"Driver":"local","Labels":{"a":"b"},"Name":"myvol"}"#
        );
        assert_eq!(
            serde_json::to_string(&VolumeCreateRequest::default()).unwrap(),
            "{}"
        );
    }

    #[test]
    fn volume_serializes_as_docker_inspect_shows_it() {
        let v = Volume {
            name: "myvol".into(),
            driver: "local".into(),
            mountpoint: "/var/lib/pouch/volumes/myvol/_data".into(),
            created_at: "2024-01-02T03:04:05Z".into(),
            status: None,
            labels: map(&[("a", "b")]),
            scope: SCOPE_LOCAL.into(),
            options: map(&[("size", "10g")]),
            usage_data: None,
        };
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            json!({
                "CreatedAt": "2024-01-02T03:04:05Z",
                "Driver": "local",
                "Labels": {"a": "b"},
                "Mountpoint": "/var/lib/pouch/volumes/myvol/_data",
                "Name": "myvol",
                "Options": {"size": "10g"},
                "Scope": "local"
            })
        );
        let mut with_usage = v.clone();
        with_usage.usage_data = Some(UsageData {
            size: 4096,
            ref_count: 1,
        });
        let value = serde_json::to_value(&with_usage).unwrap();
        assert_eq!(value["UsageData"], json!({"Size": 4096, "RefCount": 1}));
        let back: Volume = serde_json::from_value(value).unwrap();
        assert_eq!(back, with_usage);
    }

    #[test]
    fn volume_from_docker_with_null_maps() {
        let v: Volume = serde_json::from_str(
            r#"{"CreatedAt":"2024-01-02T03:04:05Z","Driver":"local","Labels":null,
                "Mountpoint":"/var/lib/docker/volumes/foo/_data","Name":"foo","Options":null,
                "Scope":"local","UsageData":{"Size":-1,"RefCount":-1}}"#,
        )
        .unwrap();
        assert_eq!(v.name, "foo");
        assert!(v.labels.is_empty() && v.options.is_empty());
        assert_eq!(
            v.usage_data,
            Some(UsageData {
                size: -1,
                ref_count: -1
            })
        );
    }

    #[test]
    fn list_response_round_trip() {
        let text = r#"{"Volumes":[{"CreatedAt":"2024-01-02T03:04:05Z","Driver":"local","Labels":{},"Mountpoint":"/v/a/_data","Name":"a","Options":{},"Scope":"local"}],"Warnings":[]}"#;
        let list: VolumeListResponse = serde_json::from_str(text).unwrap();
        assert_eq!(list.volumes.len(), 1);
        assert_eq!(list.volumes[0].mountpoint, "/v/a/_data");
        assert_eq!(serde_json::to_string(&list).unwrap(), text);
        let nulls: VolumeListResponse =
            serde_json::from_str(r#"{"Volumes":null,"Warnings":null}"#).unwrap();
        assert_eq!(nulls, VolumeListResponse::default());
        assert_eq!(
            serde_json::to_string(&VolumeListResponse::default()).unwrap(),
            r#"{"Volumes":[],"Warnings":[]}"#
        );
    }

    #[test]
    fn prune_response_shape() {
        let p = VolumePruneResponse {
            volumes_deleted: vec!["a".into(), "b".into()],
            space_reclaimed: 12,
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"VolumesDeleted":["a","b"],"SpaceReclaimed":12}"#
        );
        let docker: VolumePruneResponse =
            serde_json::from_str(r#"{"VolumesDeleted":null,"SpaceReclaimed":0}"#).unwrap();
        assert_eq!(docker, VolumePruneResponse::default());
    }
}
