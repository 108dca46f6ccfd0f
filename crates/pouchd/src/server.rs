//! Listeners: binds every `-l` address (unix sockets: a stale socket file is replaced, a
//! live one is refused, the new one is made 0660; tcp), and serves the router on each until
//! the shutdown token is cancelled.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use axum::Router;
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;

use crate::config::ListenAddr;

/// Why a listener could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: a daemon is already serving that socket (stop it or pick another -l)")]
    InUse { addr: String },
    #[error("cannot listen on {addr}: {path} exists and is not a socket (remove it)")]
    NotSocket { addr: String, path: String },
}

/// A bound listener.
pub enum Bound {
    Unix {
        listener: UnixListener,
        path: PathBuf,
    },
    Tcp(TcpListener),
}

impl Bound {
    /// The socket file to remove at exit.
    pub fn socket_path(&self) -> Option<&Path> {
        match self {
            Bound::Unix { path, .. } => Some(path),
            Bound::Tcp(_) => None,
        }
    }
}

/// Binds one address.
pub async fn bind(addr: &ListenAddr) -> Result<Bound, ListenError> {
    let shown = addr.to_string();
    let err = |source| ListenError::Bind {
        addr: shown.clone(),
        source,
    };
    match addr {
        ListenAddr::Unix(path) => {
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                if !meta.file_type().is_socket() {
                    return Err(ListenError::NotSocket {
                        addr: shown,
                        path: path.display().to_string(),
                    });
                }
                if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    return Err(ListenError::InUse { addr: shown });
                }
                // nobody answers: a stale socket from a daemon that died
                std::fs::remove_file(path).map_err(err)?;
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(err)?;
            }
            let listener = UnixListener::bind(path).map_err(err)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(err)?;
            Ok(Bound::Unix {
                listener,
                path: path.clone(),
            })
        }
        ListenAddr::Tcp(hostport) => {
            let listener = TcpListener::bind(hostport.as_str()).await.map_err(err)?;
            tracing::warn!(
                "listening on {shown} without TLS or authentication: anyone who can reach it controls the daemon"
            );
            Ok(Bound::Tcp(listener))
        }
    }
}

/// Serves `app` on `bound` until `shutdown` is cancelled, then finishes open requests.
pub async fn serve(bound: Bound, app: Router, shutdown: CancellationToken) -> std::io::Result<()> {
    let stop = async move { shutdown.cancelled_owned().await };
    match bound {
        Bound::Unix { listener, .. } => {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
        }
        Bound::Tcp(listener) => {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stale_socket_is_replaced_live_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let addr = ListenAddr::Unix(path.clone());
        let first = bind(&addr).await.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        // live: refused
        assert!(matches!(bind(&addr).await, Err(ListenError::InUse { .. })));
        drop(first);
        // stale (file left, nobody listening): replaced
        assert!(path.exists());
        let again = bind(&addr).await.unwrap();
        assert_eq!(again.socket_path(), Some(path.as_path()));
        // not a socket: refused
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(
            bind(&ListenAddr::Unix(file)).await,
            Err(ListenError::NotSocket { .. })
        ));
    }
}
