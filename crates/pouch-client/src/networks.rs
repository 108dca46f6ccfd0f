//! Network calls: create, list, inspect, remove, prune, connect and disconnect.

use bytes::Bytes;
use hyper::Method;
use pouch_api::network::{
    Network, NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse,
    NetworkDisconnectRequest, NetworkPruneResponse,
};
use pouch_api::Filters;

use crate::transport::{path_escape, query, Body};
use crate::{Client, ClientError};

fn network_path(id: &str) -> String {
    format!("/networks/{}", path_escape(id))
}

fn filters_query(filters: &Filters) -> String {
    if filters.is_empty() {
        String::new()
    } else {
        query(&[("filters", filters.to_query())])
    }
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
        let path = format!("/networks{}", filters_query(filters));
        self.send_json(Method::GET, &path, vec![], Body::Empty, "network list")
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
        let raw = self.network_inspect_raw(id).await?;
        serde_json::from_slice(&raw).map_err(|source| ClientError::Decode {
            what: "network inspect".into(),
            source,
        })
    }

    /// `DELETE /networks/{id}`.
    pub async fn network_remove(&self, id: &str) -> Result<(), ClientError> {
        self.send_bytes(
            Method::DELETE,
            &network_path(id),
            vec![],
            Body::Empty,
            "network remove",
        )
        .await
        .map(|_| ())
    }

    /// `POST /networks/prune?filters=`.
    pub async fn network_prune(
        &self,
        filters: &Filters,
    ) -> Result<NetworkPruneResponse, ClientError> {
        let path = format!("/networks/prune{}", filters_query(filters));
        self.send_json(Method::POST, &path, vec![], Body::Empty, "network prune")
            .await
    }

    /// `POST /networks/{id}/connect`.
    pub async fn network_connect(
        &self,
        id: &str,
        req: &NetworkConnectRequest,
    ) -> Result<(), ClientError> {
        let path = format!("{}/connect", network_path(id));
        self.send_bytes(
            Method::POST,
            &path,
            vec![],
            Body::json(req),
            "network connect",
        )
        .await
        .map(|_| ())
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn network_disconnect(
        &self,
        id: &str,
        req: &NetworkDisconnectRequest,
    ) -> Result<(), ClientError> {
        let path = format!("{}/disconnect", network_path(id));
        self.send_bytes(
            Method::POST,
            &path,
            vec![],
            Body::json(req),
            "network disconnect",
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries() {
        assert_eq!(network_path("my net"), "/networks/my%20net");
        assert_eq!(filters_query(&Filters::default()), "");
        let mut f = Filters::default();
        f.add("driver", "bridge");
        assert_eq!(
            filters_query(&f),
            "?filters=%7B%22driver%22%3A%7B%22bridge%22%3Atrue%7D%7D"
        );
    }
}
