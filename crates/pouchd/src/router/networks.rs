//! The `/networks` endpoints (networks.rs).

use axum::Router;

use super::AppState;

/// The routes of this file, merged into the table in `mod.rs`.
pub fn routes() -> Router<AppState> {
    Router::new()
}
