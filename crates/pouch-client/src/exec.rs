//! Exec calls: create, start (hijacked, or a plain request when detached), resize, inspect.

use hyper::Method;
use pouch_api::container::{ExecConfig, ExecInspect, ExecStartConfig, IdResponse};

use crate::containers::resize_query;
use crate::hijack::HijackedStream;
use crate::transport::{path_escape, Body};
use crate::{Client, ClientError};

fn exec_path(id: &str, action: &str) -> String {
    format!("/exec/{}/{action}", path_escape(id))
}

impl Client {
    /// `POST /containers/{container}/exec`: returns the exec's id.
    pub async fn exec_create(
        &self,
        container: &str,
        config: &ExecConfig,
    ) -> Result<String, ClientError> {
        let path = format!("/containers/{}/exec", path_escape(container));
        let answer: IdResponse = self
            .send_json(
                Method::POST,
                &path,
                vec![],
                Body::json(config),
                "exec create",
            )
            .await?;
        Ok(answer.id)
    }

    /// `POST /exec/{id}/start`: hijacked unless `start.detach`, in which case it is a plain
    /// request answered `200` and `None` is returned.
    pub async fn exec_start(
        &self,
        exec_id: &str,
        start: &ExecStartConfig,
    ) -> Result<Option<HijackedStream>, ClientError> {
        let path = exec_path(exec_id, "start");
        if start.detach {
            self.send_bytes(Method::POST, &path, vec![], Body::json(start), "exec start")
                .await?;
            return Ok(None);
        }
        self.hijack(&path, Body::json(start), "exec start")
            .await
            .map(Some)
    }

    /// `POST /exec/{id}/resize?h=&w=`.
    pub async fn exec_resize(
        &self,
        exec_id: &str,
        height: u16,
        width: u16,
    ) -> Result<(), ClientError> {
        let path = format!(
            "{}{}",
            exec_path(exec_id, "resize"),
            resize_query(height, width)
        );
        self.send_bytes(Method::POST, &path, vec![], Body::Empty, "exec resize")
            .await
            .map(|_| ())
    }

    /// `GET /exec/{id}/json`.
    pub async fn exec_inspect(&self, exec_id: &str) -> Result<ExecInspect, ClientError> {
        self.send_json(
            Method::GET,
            &exec_path(exec_id, "json"),
            vec![],
            Body::Empty,
            "exec inspect",
        )
        .await
    }
}
