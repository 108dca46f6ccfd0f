//! Network calls: create, list, inspect, remove, prune, connect and disconnect.

use bytes::Bytes;
use hyper::Method;
use pouch_api::network::{
    Network, NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse,
    NetworkDisconnectRequest, NetworkPruneResponse,
};
use pouch_api::Filters;

use crate::transport::{decode, path_escape, Body};
use crate::{Client, ClientError};

fn network_path(id: &str) -> String {
    format!("/networks/{}", path_escape(id))
}

impl Client {
    /// `POST /networks/create`.
    pub async fn network_create(
        &self,
        req: &NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse, ClientError> {
        self.send_json(
            Method::POST,
            "/networks/create",
            vec![],
            Body::json(req),
            "network create",
        )
        .await
    }

    /// `GET /networks?filters=`.
    pub async fn network_list(&self, filters: &Filters) -> Result<Vec<Network>, ClientError> {
        self.send_filtered(Method::GET, "/networks", filters, "network list")
            .await
    }

    /// `GET /networks/{id}`, the answer as sent (key order preserved).
    pub async fn network_inspect_raw(&self, id: &str) -> Result<Bytes, ClientError> {
        self.send_bytes(
            Method::GET,
            &network_path(id),
            vec![],
            Body::Empty,
            "network inspect",
        )
        .await
    }

    /// `GET /networks/{id}`, typed.
    pub async fn network_inspect(&self, id: &str) -> Result<Network, ClientError> {
        decode(&self.network_inspect_raw(id).await?, "network inspect")
    }

    /// `DELETE /networks/{id}`.
    pub async fn network_remove(&self, id: &str) -> Result<(), ClientError> {
        self.send_empty(
            Method::DELETE,
            &network_path(id),
            Body::Empty,
            "network remove",
        )
        .await
    }

    /// `POST /networks/prune?filters=`.
    pub async fn network_prune(
        &self,
        filters: &Filters,
    ) -> Result<NetworkPruneResponse, ClientError> {
        self.send_filtered(Method::POST, "/networks/prune", filters, "network prune")
            .await
    }

    /// `POST /networks/{id}/connect`.
    pub async fn network_connect(
        &self,
        id: &str,
        req: &NetworkConnectRequest,
    ) -> Result<(), ClientError> {
        let path = format!("{}/connect", network_path(id));
        self.send_empty(Method::POST, &path, Body::json(req), "network connect")
            .await
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn network_disconnect(
        &self,
        id: &str,
        req: &NetworkDisconnectRequest,
    ) -> Result<(), ClientError> {
        let path = format!("{}/disconnect", network_path(id));
        self.send_empty(Method::POST, &path, Body::json(req), "network disconnect")
            .await
    }
}

#[cfg(test)]
mod tests {
    use pouch_api::container::{EndpointIpamConfig, EndpointSettings};

    use super::*;
    use crate::test_server::{request_body, serve_once, server};

    #[tokio::test]
    async fn create_sends_the_body_and_reads_the_id() {
        let (_dir, listener, client) = server();
        let id = "f".repeat(64);
        let srv = tokio::spawn(serve_once(
            listener,
            "201 Created",
            r#"{"Id":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff","Warning":""}"#,
        ));
        let req = NetworkCreateRequest {
            name: "mynet".into(),
            driver: "bridge".into(),
            ..Default::default()
        };
        let resp = client.network_create(&req).await.unwrap();
        let sent = srv.await.unwrap();
        assert!(
            sent.starts_with("POST /v1.44/networks/create HTTP/1.1\r\n"),
            "{sent}"
        );
        let v: serde_json::Value = serde_json::from_str(request_body(&sent)).unwrap();
        assert_eq!(v["Name"], "mynet");
        assert_eq!(v["Driver"], "bridge");
        assert_eq!(resp.id, id);
    }

    #[tokio::test]
    async fn connect_posts_the_endpoint_config() {
        let (_dir, listener, client) = server();
        let srv = tokio::spawn(serve_once(listener, "200 OK", ""));
        let req = NetworkConnectRequest {
            container: "web".into(),
            endpoint_config: Some(EndpointSettings {
                ipam_config: Some(EndpointIpamConfig {
                    ipv4_address: "10.9.0.5".into(),
                    ..Default::default()
                }),
                aliases: Some(vec!["x".into()]),
                ..Default::default()
            }),
        };
        client.network_connect("mynet", &req).await.unwrap();
        let sent = srv.await.unwrap();
        assert!(
            sent.starts_with("POST /v1.44/networks/mynet/connect HTTP/1.1\r\n"),
            "{sent}"
        );
        let v: serde_json::Value = serde_json::from_str(request_body(&sent)).unwrap();
        assert_eq!(v["Container"], "web");
        assert_eq!(v["EndpointConfig"]["IPAMConfig"]["IPv4Address"], "10.9.0.5");
        assert_eq!(v["EndpointConfig"]["Aliases"][0], "x");
    }

    #[tokio::test]
    async fn remove_reports_daemon_errors() {
        let (_dir, listener, client) = server();
        let srv = tokio::spawn(serve_once(
            listener,
            "403 Forbidden",
            r#"{"message":"bridge is a pre-defined network and cannot be removed"}"#,
        ));
        let err = client.network_remove("bridge").await.unwrap_err();
        let sent = srv.await.unwrap();
        assert!(
            sent.starts_with("DELETE /v1.44/networks/bridge HTTP/1.1\r\n"),
            "{sent}"
        );
        match err {
            ClientError::Api { status, message } => {
                assert_eq!(status, 403);
                assert!(message.contains("pre-defined"), "{message}");
            }
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[tokio::test]
    async fn prune_sends_filters_and_reads_null() {
        let (_dir, listener, client) = server();
        let srv = tokio::spawn(serve_once(
            listener,
            "200 OK",
            r#"{"NetworksDeleted":null}"#,
        ));
        let mut f = Filters::default();
        f.add("label", "a=b");
        let report = client.network_prune(&f).await.unwrap();
        let sent = srv.await.unwrap();
        assert!(
            sent.starts_with(
                "POST /v1.44/networks/prune?filters=%7B%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%7D HTTP/1.1\r\n"
            ),
            "{sent}"
        );
        assert_eq!(report.networks_deleted, None);
    }

    #[test]
    fn paths() {
        assert_eq!(network_path("my net"), "/networks/my%20net");
    }
}
