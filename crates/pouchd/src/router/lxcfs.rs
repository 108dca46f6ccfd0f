//! Pouch's lxcfs route: `POST /containers/{id}/remount-lxcfs` puts fresh lxcfs binds in a
//! running container (after lxcfs restarted; pouchd also does it by itself when it sees
//! lxcfs mounted again). 204; 400 for a container without lxcfs or a daemon without
//! `--enable-lxcfs`, 404 for an unknown container, 409 for one that is not running.

use axum::extract::{Path, State};

use super::{no_content, AppState, Reply};

/// `POST /containers/{id}/remount-lxcfs`.
pub async fn remount(State(engine): State<AppState>, Path(id): Path<String>) -> Reply {
    engine.remount_lxcfs(&id).await?;
    Ok(no_content())
}
