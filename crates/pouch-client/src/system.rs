//! System calls: ping, version, info, auth (registry login check), disk usage and the live
//! daemon update.

use hyper::Method;
use pouch_api::system::{AuthConfig, AuthResponse, DaemonUpdateConfig, Info, SystemDf, Version};

use crate::transport::{read_all, Body};
use crate::{Client, ClientError};

/// What `GET /_ping` tells about the daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PingInfo {
    /// `Api-Version` header (empty when absent).
    pub api_version: String,
    /// `Ostype` header.
    pub os_type: String,
    /// `Docker-Experimental: true`.
    pub experimental: bool,
}

impl Client {
    /// `GET /_ping` (unversioned).
    pub async fn ping(&self) -> Result<PingInfo, ClientError> {
        let response = self
            .send(Method::GET, "/_ping", false, vec![], Body::Empty)
            .await?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let info = PingInfo {
            api_version: header("api-version"),
            os_type: header("ostype"),
            experimental: header("docker-experimental") == "true",
        };
        read_all(response.into_body(), "ping").await?;
        Ok(info)
    }

    /// `GET /version`.
    pub async fn version(&self) -> Result<Version, ClientError> {
        self.send_json(Method::GET, "/version", vec![], Body::Empty, "version")
            .await
    }

    /// `GET /info`.
    pub async fn info(&self) -> Result<Info, ClientError> {
        self.send_json(Method::GET, "/info", vec![], Body::Empty, "info")
            .await
    }

    /// `GET /info` as untyped JSON (every field the daemon sends).
    pub async fn info_json(&self) -> Result<serde_json::Value, ClientError> {
        self.send_json(Method::GET, "/info", vec![], Body::Empty, "info")
            .await
    }

    /// `POST /auth`: asks the daemon to check credentials against a registry.
    pub async fn auth(&self, config: &AuthConfig) -> Result<AuthResponse, ClientError> {
        self.send_json(Method::POST, "/auth", vec![], Body::json(config), "login")
            .await
    }

    /// `POST /daemon/update` (Pouch's): changes the running daemon's labels, registry
    /// mirrors, insecure registries and debug logging, and its config file with them.
    pub async fn update_daemon(&self, update: &DaemonUpdateConfig) -> Result<(), ClientError> {
        self.send_empty(
            Method::POST,
            "/daemon/update",
            Body::json(update),
            "daemon update",
        )
        .await
    }

    /// `GET /system/df`.
    pub async fn system_df(&self) -> Result<SystemDf, ClientError> {
        self.send_json(Method::GET, "/system/df", vec![], Body::Empty, "disk usage")
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::{request_body, serve_once, server};

    #[tokio::test]
    async fn update_daemon_sends_only_the_fields_given() {
        let (_dir, listener, client) = server();
        let srv = tokio::spawn(serve_once(listener, "200 OK", ""));
        let update = DaemonUpdateConfig {
            labels: Some(vec!["zone=a".into(), "old".into()]),
            registry_mirrors: Some(vec![]),
            debug: Some(false),
            ..Default::default()
        };
        client.update_daemon(&update).await.unwrap();
        let sent = srv.await.unwrap();
        assert!(
            sent.starts_with("POST /v1.44/daemon/update HTTP/1.1\r\n"),
            "{sent}"
        );
        assert_eq!(
            request_body(&sent),
            r#"{"Labels":["zone=a","old"],"RegistryMirrors":[],"Debug":false}"#
        );
    }

    #[tokio::test]
    async fn a_refused_update_carries_the_daemons_message() {
        let (_dir, listener, client) = server();
        let srv = tokio::spawn(serve_once(
            listener,
            "400 Bad Request",
            r#"{"message":"registry mirror \"ftp://x\" is not a valid URL"}"#,
        ));
        let err = client
            .update_daemon(&DaemonUpdateConfig::default())
            .await
            .unwrap_err();
        srv.await.unwrap();
        match err {
            ClientError::Api { status, message } => {
                assert_eq!(status, 400);
                assert!(message.contains("ftp://x"), "{message}");
            }
            other => panic!("not an api error: {other}"),
        }
    }
}
