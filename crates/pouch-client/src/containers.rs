//! Container calls: create, lifecycle (start, stop, restart, kill, pause, unpause, remove),
//! list, inspect, wait, attach, resize, logs, top, rename, update, upgrade, stats and prune.

use hyper::body::Incoming;
use hyper::Method;
use pouch_api::container::{
    ContainerCreateBody, ContainerCreateResponse, ContainerInspect, ContainerPruneResponse,
    ContainerStats, ContainerSummary, ContainerTopResponse, ContainerUpdate,
    ContainerUpdateResponse, ContainerUpgradeConfig, WaitResponse,
};
use pouch_api::Filters;

use crate::events::typed_json_stream;
use crate::hijack::HijackedStream;
use crate::transport::{self, decode, path_escape, query, read_all, Body};
use crate::{ByteStream, Client, ClientError, TypedStream};

/// What [`Client::container_attach`] connects to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Stream live output (always set by the docker CLI).
    pub stream: bool,
    /// Replay the log first.
    pub logs: bool,
    /// Overrides the daemon's detach sequence (`ctrl-p,ctrl-q`).
    pub detach_keys: Option<String>,
}

impl AttachOptions {
    fn query(&self) -> String {
        let mut q = Vec::new();
        if let Some(keys) = &self.detach_keys {
            q.push(("detachKeys", keys.clone()));
        }
        if self.logs {
            q.push(("logs", "1".to_string()));
        }
        if self.stderr {
            q.push(("stderr", "1".to_string()));
        }
        if self.stdin {
            q.push(("stdin", "1".to_string()));
        }
        if self.stdout {
            q.push(("stdout", "1".to_string()));
        }
        if self.stream {
            q.push(("stream", "1".to_string()));
        }
        query(&q)
    }
}

/// What [`Client::container_logs`] asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogsOptions {
    pub follow: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub timestamps: bool,
    /// Unix seconds (with optional fraction) or an RFC 3339 time, passed through.
    pub since: Option<String>,
    pub until: Option<String>,
    /// A line count or `all`.
    pub tail: Option<String>,
}

impl LogsOptions {
    fn query(&self) -> String {
        let mut q = Vec::new();
        if self.follow {
            q.push(("follow", "1".to_string()));
        }
        if self.stderr {
            q.push(("stderr", "1".to_string()));
        }
        if self.stdout {
            q.push(("stdout", "1".to_string()));
        }
        if self.timestamps {
            q.push(("timestamps", "1".to_string()));
        }
        if let Some(s) = &self.since {
            q.push(("since", s.clone()));
        }
        if let Some(u) = &self.until {
            q.push(("until", u.clone()));
        }
        if let Some(t) = &self.tail {
            q.push(("tail", t.clone()));
        }
        query(&q)
    }
}

/// A `POST /containers/{id}/wait` whose headers have arrived: the wait is registered in the
/// daemon, and [`WaitFuture::result`] reads the answer when the container gets there.
#[derive(Debug)]
pub struct WaitFuture {
    body: Incoming,
}

impl WaitFuture {
    /// Reads the wait's answer (blocks until the condition is met).
    pub async fn result(self) -> Result<WaitResponse, ClientError> {
        let bytes = read_all(self.body, "container wait").await?;
        decode(&bytes, "container wait")
    }
}

fn container_path(id: &str, action: &str) -> String {
    format!("/containers/{}/{action}", path_escape(id))
}

/// `?t=&signal=` of stop and restart.
fn stop_query(timeout: Option<i64>, signal: Option<&str>) -> String {
    let mut q = Vec::new();
    if let Some(s) = signal {
        q.push(("signal", s.to_string()));
    }
    if let Some(t) = timeout {
        q.push(("t", t.to_string()));
    }
    query(&q)
}

fn list_query(all: bool, limit: Option<i64>, size: bool, filters: &Filters) -> String {
    let mut q = Vec::new();
    if all {
        q.push(("all", "1".to_string()));
    }
    if let Some(l) = limit {
        q.push(("limit", l.to_string()));
    }
    if size {
        q.push(("size", "1".to_string()));
    }
    if !filters.is_empty() {
        q.push(("filters", filters.to_query()));
    }
    query(&q)
}

impl Client {
    /// `POST /containers/create?name=`.
    pub async fn container_create(
        &self,
        name: Option<&str>,
        body: &ContainerCreateBody,
    ) -> Result<ContainerCreateResponse, ClientError> {
        let q: Vec<(&str, String)> = name.map(|n| ("name", n.to_string())).into_iter().collect();
        let path = format!("/containers/create{}", query(&q));
        self.send_json(
            Method::POST,
            &path,
            vec![],
            Body::json(body),
            "container create",
        )
        .await
    }

    /// `POST /containers/{id}/<action><query>` with an empty body and answer.
    async fn container_action(
        &self,
        id: &str,
        action: &str,
        query: String,
    ) -> Result<(), ClientError> {
        let path = format!("{}{query}", container_path(id, action));
        self.send_empty(
            Method::POST,
            &path,
            Body::Empty,
            &format!("container {action}"),
        )
        .await
    }

    /// `POST /containers/{id}/start` (a `304` for a running container is not an error).
    pub async fn container_start(&self, id: &str) -> Result<(), ClientError> {
        self.container_action(id, "start", String::new())
            .await
            .or_else(not_modified_ok)
    }

    /// `POST /containers/{id}/stop?signal=&t=` (a `304` for a stopped container is not an error).
    pub async fn container_stop(
        &self,
        id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), ClientError> {
        self.container_action(id, "stop", stop_query(timeout, signal))
            .await
            .or_else(not_modified_ok)
    }

    /// `POST /containers/{id}/restart?signal=&t=`.
    pub async fn container_restart(
        &self,
        id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), ClientError> {
        self.container_action(id, "restart", stop_query(timeout, signal))
            .await
    }

    /// `POST /containers/{id}/kill?signal=`.
    pub async fn container_kill(&self, id: &str, signal: Option<&str>) -> Result<(), ClientError> {
        let q: Vec<(&str, String)> = signal
            .map(|s| ("signal", s.to_string()))
            .into_iter()
            .collect();
        self.container_action(id, "kill", query(&q)).await
    }

    /// `POST /containers/{id}/pause`.
    pub async fn container_pause(&self, id: &str) -> Result<(), ClientError> {
        self.container_action(id, "pause", String::new()).await
    }

    /// `POST /containers/{id}/unpause`.
    pub async fn container_unpause(&self, id: &str) -> Result<(), ClientError> {
        self.container_action(id, "unpause", String::new()).await
    }

    /// `POST /containers/{id}/remount-lxcfs` (Pouch): fresh lxcfs binds in a running
    /// container.
    pub async fn container_remount_lxcfs(&self, id: &str) -> Result<(), ClientError> {
        self.container_action(id, "remount-lxcfs", String::new())
            .await
    }

    /// `DELETE /containers/{id}?force=&v=`.
    pub async fn container_remove(
        &self,
        id: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), ClientError> {
        let mut q = Vec::new();
        if force {
            q.push(("force", "1".to_string()));
        }
        if volumes {
            q.push(("v", "1".to_string()));
        }
        let path = format!("/containers/{}{}", path_escape(id), query(&q));
        self.send_empty(Method::DELETE, &path, Body::Empty, "container remove")
            .await
    }

    /// `GET /containers/json?all=&limit=&size=&filters=`.
    pub async fn container_list(
        &self,
        all: bool,
        limit: Option<i64>,
        size: bool,
        filters: &Filters,
    ) -> Result<Vec<ContainerSummary>, ClientError> {
        let path = format!("/containers/json{}", list_query(all, limit, size, filters));
        self.send_json(Method::GET, &path, vec![], Body::Empty, "container list")
            .await
    }

    fn inspect_path(id: &str, size: bool) -> String {
        let q: Vec<(&str, String)> = if size {
            vec![("size", "1".to_string())]
        } else {
            Vec::new()
        };
        format!("{}{}", container_path(id, "json"), query(&q))
    }

    /// `GET /containers/{id}/json?size=`, typed.
    pub async fn container_inspect(
        &self,
        id: &str,
        size: bool,
    ) -> Result<ContainerInspect, ClientError> {
        self.send_json(
            Method::GET,
            &Self::inspect_path(id, size),
            vec![],
            Body::Empty,
            "container inspect",
        )
        .await
    }

    /// `GET /containers/{id}/json?size=` as untyped JSON (every field the daemon sends).
    pub async fn container_inspect_raw(
        &self,
        id: &str,
        size: bool,
    ) -> Result<serde_json::Value, ClientError> {
        self.send_json(
            Method::GET,
            &Self::inspect_path(id, size),
            vec![],
            Body::Empty,
            "container inspect",
        )
        .await
    }

    /// `POST /containers/{id}/wait?condition=` (`not-running` when `None`, the daemon's
    /// default; `next-exit`, `removed`). Returns once the answer's headers arrived, i.e. once
    /// the wait is registered: `docker run` starts the container only after that.
    pub async fn container_wait(
        &self,
        id: &str,
        condition: Option<&str>,
    ) -> Result<WaitFuture, ClientError> {
        let q: Vec<(&str, String)> = condition
            .map(|c| ("condition", c.to_string()))
            .into_iter()
            .collect();
        let path = format!("{}{}", container_path(id, "wait"), query(&q));
        let response = self
            .send(Method::POST, &path, true, vec![], Body::Empty)
            .await?;
        Ok(WaitFuture {
            body: response.into_body(),
        })
    }

    /// `POST /containers/{id}/attach?...` hijacked (`101`).
    pub async fn container_attach(
        &self,
        id: &str,
        options: AttachOptions,
    ) -> Result<HijackedStream, ClientError> {
        let path = format!("{}{}", container_path(id, "attach"), options.query());
        self.hijack(&path, Body::Empty, "container attach").await
    }

    /// `POST /containers/{id}/resize?h=&w=`.
    pub async fn container_resize(
        &self,
        id: &str,
        height: u16,
        width: u16,
    ) -> Result<(), ClientError> {
        let path = format!(
            "{}{}",
            container_path(id, "resize"),
            resize_query(height, width)
        );
        self.send_empty(Method::POST, &path, Body::Empty, "container resize")
            .await
    }

    /// `GET /containers/{id}/logs?...`: the raw body (framed when the container has no tty;
    /// split it with [`crate::demux_stream`]).
    pub async fn container_logs(
        &self,
        id: &str,
        options: &LogsOptions,
    ) -> Result<ByteStream, ClientError> {
        let path = format!("{}{}", container_path(id, "logs"), options.query());
        let response = self
            .send(Method::GET, &path, true, vec![], Body::Empty)
            .await?;
        Ok(transport::byte_stream(
            response.into_body(),
            "container logs",
        ))
    }

    /// `GET /containers/{id}/top?ps_args=`.
    pub async fn container_top(
        &self,
        id: &str,
        ps_args: Option<&str>,
    ) -> Result<ContainerTopResponse, ClientError> {
        let q: Vec<(&str, String)> = ps_args
            .map(|a| ("ps_args", a.to_string()))
            .into_iter()
            .collect();
        let path = format!("{}{}", container_path(id, "top"), query(&q));
        self.send_json(Method::GET, &path, vec![], Body::Empty, "container top")
            .await
    }

    /// `POST /containers/{id}/rename?name=`.
    pub async fn container_rename(&self, id: &str, new_name: &str) -> Result<(), ClientError> {
        let path = format!(
            "{}{}",
            container_path(id, "rename"),
            query(&[("name", new_name.to_string())])
        );
        self.send_empty(Method::POST, &path, Body::Empty, "container rename")
            .await
    }

    /// `POST /containers/{id}/update`.
    pub async fn container_update(
        &self,
        id: &str,
        update: &ContainerUpdate,
    ) -> Result<ContainerUpdateResponse, ClientError> {
        self.send_json(
            Method::POST,
            &container_path(id, "update"),
            vec![],
            Body::json(update),
            "container update",
        )
        .await
    }

    /// `POST /containers/{id}/upgrade` (Pouch): the container on a new image, keeping its
    /// id, name, addresses, ports and volumes.
    pub async fn container_upgrade(
        &self,
        id: &str,
        config: &ContainerUpgradeConfig,
    ) -> Result<(), ClientError> {
        self.send_empty(
            Method::POST,
            &container_path(id, "upgrade"),
            Body::json(config),
            "container upgrade",
        )
        .await
    }

    /// `GET /containers/{id}/stats?stream=`: one object per second while `stream`, else one.
    pub async fn container_stats(
        &self,
        id: &str,
        stream: bool,
    ) -> Result<TypedStream<ContainerStats>, ClientError> {
        let path = format!(
            "{}{}",
            container_path(id, "stats"),
            query(&[("stream", if stream { "1" } else { "0" }.to_string())])
        );
        let response = self
            .send(Method::GET, &path, true, vec![], Body::Empty)
            .await?;
        Ok(typed_json_stream(response.into_body(), "container stats"))
    }

    /// `POST /containers/prune?filters=`.
    pub async fn containers_prune(
        &self,
        filters: &Filters,
    ) -> Result<ContainerPruneResponse, ClientError> {
        self.send_filtered(
            Method::POST,
            "/containers/prune",
            filters,
            "container prune",
        )
        .await
    }
}

/// `?h=&w=` of the resize calls.
pub(crate) fn resize_query(height: u16, width: u16) -> String {
    query(&[("h", height.to_string()), ("w", width.to_string())])
}

/// `304 Not Modified` (start of a running container, stop of a stopped one) is success.
fn not_modified_ok(e: ClientError) -> Result<(), ClientError> {
    if e.status() == Some(304) {
        Ok(())
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_query_matches_the_docker_cli() {
        let o = AttachOptions {
            stdin: true,
            stdout: true,
            stderr: true,
            stream: true,
            ..Default::default()
        };
        assert_eq!(o.query(), "?stderr=1&stdin=1&stdout=1&stream=1");
        let o = AttachOptions {
            stdout: true,
            stream: true,
            detach_keys: Some("ctrl-a,a".into()),
            ..Default::default()
        };
        assert_eq!(o.query(), "?detachKeys=ctrl-a%2Ca&stdout=1&stream=1");
    }

    #[test]
    fn logs_query() {
        let o = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            tail: Some("all".into()),
            ..Default::default()
        };
        assert_eq!(o.query(), "?follow=1&stderr=1&stdout=1&tail=all");
        let o = LogsOptions {
            stdout: true,
            timestamps: true,
            since: Some("1700000000.5".into()),
            until: Some("2024-01-01T00:00:00Z".into()),
            ..Default::default()
        };
        assert_eq!(
            o.query(),
            "?stdout=1&timestamps=1&since=1700000000.5&until=2024-01-01T00%3A00%3A00Z"
        );
    }

    #[test]
    fn stop_list_and_resize_queries() {
        assert_eq!(stop_query(None, None), "");
        assert_eq!(stop_query(Some(3), Some("SIGINT")), "?signal=SIGINT&t=3");
        let mut f = Filters::default();
        f.add("status", "running");
        assert_eq!(
            list_query(true, Some(-1), false, &f),
            "?all=1&limit=-1&filters=%7B%22status%22%3A%7B%22running%22%3Atrue%7D%7D"
        );
        assert_eq!(list_query(false, None, false, &Filters::default()), "");
        assert_eq!(resize_query(40, 120), "?h=40&w=120");
        assert_eq!(container_path("web", "json"), "/containers/web/json");
        assert_eq!(
            Client::inspect_path("a b", true),
            "/containers/a%20b/json?size=1"
        );
    }
}
