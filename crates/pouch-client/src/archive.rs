//! Filesystem calls on a container: stat a path (`HEAD /archive`), read a path as a tar
//! archive, extract a tar archive into a path, export the whole filesystem.

use base64::Engine;
use hyper::header::HeaderMap;
use hyper::Method;
use pouch_api::container::PathStat;

use crate::transport::{self, path_escape, query, Body};
use crate::{BodyStream, ByteStream, Client, ClientError};

/// The header carrying the base64 JSON stat of the path.
const PATH_STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

fn archive_path(id: &str, path: &str) -> String {
    format!(
        "/containers/{}/archive{}",
        path_escape(id),
        query(&[("path", path.to_string())])
    )
}

/// Decodes the stat header (Go's standard base64, padded; the other alphabets are accepted).
pub(crate) fn decode_path_stat(value: &str) -> Result<PathStat, ClientError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let value = value.trim();
    let json = [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(value).ok())
        .ok_or_else(|| {
            ClientError::io(
                "container path stat",
                std::io::Error::other(format!("{PATH_STAT_HEADER} is not base64: {value:?}")),
            )
        })?;
    serde_json::from_slice(&json).map_err(|source| ClientError::Decode {
        what: "container path stat".into(),
        source,
    })
}

fn path_stat_of(headers: &HeaderMap) -> Result<PathStat, ClientError> {
    let value = headers
        .get(PATH_STAT_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ClientError::io(
                "container path stat",
                std::io::Error::other(format!("the answer of pouchd has no {PATH_STAT_HEADER}")),
            )
        })?;
    decode_path_stat(value)
}

impl Client {
    /// `HEAD /containers/{id}/archive?path=`. A `404` (no body on a HEAD) becomes
    /// `No such container:path: ID:PATH`, docker's words.
    pub async fn container_stat_path(&self, id: &str, path: &str) -> Result<PathStat, ClientError> {
        let response = match self
            .send(
                Method::HEAD,
                &archive_path(id, path),
                true,
                vec![],
                Body::Empty,
            )
            .await
        {
            Ok(r) => r,
            Err(e) if e.is_not_found() => {
                return Err(ClientError::Api {
                    status: 404,
                    message: format!("No such container:path: {id}:{path}"),
                })
            }
            Err(e) => return Err(e),
        };
        path_stat_of(response.headers())
    }

    /// `GET /containers/{id}/archive?path=`: the path's stat and a tar archive of it.
    pub async fn container_get_archive(
        &self,
        id: &str,
        path: &str,
    ) -> Result<(PathStat, ByteStream), ClientError> {
        let response = self
            .send(
                Method::GET,
                &archive_path(id, path),
                true,
                vec![],
                Body::Empty,
            )
            .await?;
        let stat = path_stat_of(response.headers())?;
        Ok((
            stat,
            transport::byte_stream(response.into_body(), "container archive"),
        ))
    }

    /// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=`: extracts a tar archive into
    /// the directory `path`.
    pub async fn container_put_archive(
        &self,
        id: &str,
        path: &str,
        body: BodyStream,
        no_overwrite_dir_non_dir: bool,
    ) -> Result<(), ClientError> {
        self.container_put_archive_opts(id, path, body, no_overwrite_dir_non_dir, false)
            .await
    }

    /// [`Client::container_put_archive`] with `copyUIDGID` (`docker cp -a`).
    pub async fn container_put_archive_opts(
        &self,
        id: &str,
        path: &str,
        body: BodyStream,
        no_overwrite_dir_non_dir: bool,
        copy_uid_gid: bool,
    ) -> Result<(), ClientError> {
        let mut q = vec![("path", path.to_string())];
        if no_overwrite_dir_non_dir {
            q.push(("noOverwriteDirNonDir", "true".to_string()));
        }
        if copy_uid_gid {
            q.push(("copyUIDGID", "true".to_string()));
        }
        let url = format!("/containers/{}/archive{}", path_escape(id), query(&q));
        self.send_bytes(
            Method::PUT,
            &url,
            vec![],
            Body::Stream {
                body,
                content_type: "application/x-tar",
            },
            "container archive upload",
        )
        .await
        .map(|_| ())
    }

    /// `GET /containers/{id}/export`: the container's filesystem as a tar archive.
    pub async fn container_export(&self, id: &str) -> Result<ByteStream, ClientError> {
        let path = format!("/containers/{}/export", path_escape(id));
        let response = self
            .send(Method::GET, &path, true, vec![], Body::Empty)
            .await?;
        Ok(transport::byte_stream(
            response.into_body(),
            "container export",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_docker_stat_header() {
        // What dockerd sends for /etc (a directory: Go's ModeDir bit 1<<31 | 0755).
        let json = br#"{"name":"etc","size":4096,"mode":2147484141,"mtime":"2024-01-01T00:00:00Z","linkTarget":""}"#;
        let header = base64::engine::general_purpose::STANDARD.encode(json);
        let stat = decode_path_stat(&header).unwrap();
        let back = serde_json::to_value(&stat).unwrap();
        assert_eq!(back["name"], "etc");
        assert_eq!(back["size"], 4096);
        assert_eq!(back["mode"], 2147484141u64);
        let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(json);
        assert_eq!(decode_path_stat(&unpadded).unwrap(), stat);
        assert!(decode_path_stat("!!!").is_err());
    }

    #[test]
    fn archive_urls() {
        assert_eq!(
            archive_path("web", "/etc/hosts"),
            "/containers/web/archive?path=%2Fetc%2Fhosts"
        );
    }
}
