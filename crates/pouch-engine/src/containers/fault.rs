//! Fault points for the rollback tests: in debug builds, `POUCH_FAULT=<point>` in pouchd's
//! environment makes that step of create or start fail, so the end-to-end tests can check
//! that each failure leaves nothing behind. Release builds compile the check away.

use pouch_api::ApiError;

/// Fails when `POUCH_FAULT` names `point` (debug builds only).
pub fn check(point: &str) -> Result<(), ApiError> {
    if cfg!(debug_assertions)
        && std::env::var("POUCH_FAULT").is_ok_and(|v| v.split(',').any(|p| p == point))
    {
        return Err(ApiError::internal(format!("injected fault at {point}")));
    }
    Ok(())
}
