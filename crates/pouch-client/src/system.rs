//! System calls: ping, version, info, auth (registry login check) and disk usage.

use hyper::Method;
use pouch_api::system::{AuthConfig, AuthResponse, Info, SystemDf, Version};

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

    /// `GET /system/df`.
    pub async fn system_df(&self) -> Result<SystemDf, ClientError> {
        self.send_json(Method::GET, "/system/df", vec![], Body::Empty, "disk usage")
            .await
    }
}
