//! Volume calls: create, list, inspect, remove and prune (`/volumes` endpoints).

use bytes::Bytes;
use hyper::Method;
use pouch_api::volume::{Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse};
use pouch_api::Filters;

use crate::transport::{decode, path_escape, query, Body};
use crate::{Client, ClientError};

fn volume_path(name: &str) -> String {
    format!("/volumes/{}", path_escape(name))
}

/// `DELETE /volumes/{name}` with `?force=1` when forced (as the docker CLI sends it).
fn remove_path(name: &str, force: bool) -> String {
    if force {
        format!("{}{}", volume_path(name), query(&[("force", "1".into())]))
    } else {
        volume_path(name)
    }
}

impl Client {
    /// `POST /volumes/create`: the new (or the existing same-named) volume.
    pub async fn volume_create(&self, req: &VolumeCreateRequest) -> Result<Volume, ClientError> {
        self.send_json(
            Method::POST,
            "/volumes/create",
            vec![],
            Body::json(req),
            "volume create",
        )
        .await
    }

    /// `GET /volumes?filters=`.
    pub async fn volume_list(&self, filters: &Filters) -> Result<VolumeListResponse, ClientError> {
        self.send_filtered(Method::GET, "/volumes", filters, "volume list")
            .await
    }

    /// `GET /volumes/{name}`, the answer as sent (key order preserved).
    pub async fn volume_inspect_raw(&self, name: &str) -> Result<Bytes, ClientError> {
        self.send_bytes(
            Method::GET,
            &volume_path(name),
            vec![],
            Body::Empty,
            "volume inspect",
        )
        .await
    }

    /// `GET /volumes/{name}`, typed.
    pub async fn volume_inspect(&self, name: &str) -> Result<Volume, ClientError> {
        decode(&self.volume_inspect_raw(name).await?, "volume inspect")
    }

    /// `DELETE /volumes/{name}[?force=1]`.
    pub async fn volume_remove(&self, name: &str, force: bool) -> Result<(), ClientError> {
        self.send_empty(
            Method::DELETE,
            &remove_path(name, force),
            Body::Empty,
            "volume remove",
        )
        .await
    }

    /// `POST /volumes/prune?filters=`: removes unused anonymous volumes (all unused ones with
    /// the filter `all=true`).
    pub async fn volume_prune(
        &self,
        filters: &Filters,
    ) -> Result<VolumePruneResponse, ClientError> {
        self.send_filtered(Method::POST, "/volumes/prune", filters, "volume prune")
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::{serve_once, server};

    #[tokio::test]
    async fn create_sends_the_docker_cli_body() {
        let (_dir, listener, client) = server();
        let srv = tokio::spawn(serve_once(
            listener,
            "201 Created",
            r#"{"CreatedAt":"2024-01-02T03:04:05Z","Driver":"local","Labels":{"a":"b"},"Mountpoint":"/v/myvol/_data","Name":"myvol","Options":null,"Scope":"local"}"#,
        ));
        let req = VolumeCreateRequest {
            name: "myvol".into(),
            driver: "local".into(),
            labels: [("a".to_string(), "b".to_string())].into(),
            ..Default::default()
        };
        let vol = client.volume_create(&req).await.unwrap();
        let sent = srv.await.unwrap();
        assert!(
            sent.starts_with("POST /v1.44/volumes/create HTTP/1.1\r\n"),
            "{sent}"
        );
        assert!(sent.ends_with(r#"{"Driver":"local","Labels":{"a":"b"},"Name":"myvol"}"#));
        assert_eq!(vol.name, "myvol");
        assert_eq!(vol.mountpoint, "/v/myvol/_data");
    }

    #[tokio::test]
    async fn remove_forced_and_daemon_errors() {
        let (_dir, listener, client) = server();
        let srv = tokio::spawn(serve_once(
            listener,
            "409 Conflict",
            r#"{"message":"remove v1: volume is in use - [abc]"}"#,
        ));
        let err = client.volume_remove("v1", true).await.unwrap_err();
        let sent = srv.await.unwrap();
        assert!(
            sent.starts_with("DELETE /v1.44/volumes/v1?force=1 HTTP/1.1\r\n"),
            "{sent}"
        );
        match err {
            ClientError::Api { status, message } => {
                assert_eq!(status, 409);
                assert_eq!(message, "remove v1: volume is in use - [abc]");
            }
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[tokio::test]
    async fn prune_sends_filters_and_reads_the_report() {
        let (_dir, listener, client) = server();
        let srv = tokio::spawn(serve_once(
            listener,
            "200 OK",
            r#"{"VolumesDeleted":["a"],"SpaceReclaimed":42}"#,
        ));
        let mut f = Filters::default();
        f.add("all", "true");
        let report = client.volume_prune(&f).await.unwrap();
        let sent = srv.await.unwrap();
        assert!(
            sent.starts_with("POST /v1.44/volumes/prune?filters=%7B%22all%22%3A%7B%22true%22%3Atrue%7D%7D HTTP/1.1\r\n"),
            "{sent}"
        );
        assert_eq!(report.volumes_deleted, ["a"]);
        assert_eq!(report.space_reclaimed, 42);
    }

    #[test]
    fn paths() {
        assert_eq!(volume_path("my vol"), "/volumes/my%20vol");
        assert_eq!(remove_path("v1", false), "/volumes/v1");
        assert_eq!(remove_path("v1", true), "/volumes/v1?force=1");
    }
}
