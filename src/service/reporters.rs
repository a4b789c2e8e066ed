//! Reports per reporter, for awareness programmes: who reported, how many, how many were phish
//! (committed into an event), how many wait, first and last report. Read from `imports`.

use super::ServiceError;
use crate::db::DbConn;
pub use crate::db::notify::ReporterCount;

/// The reporters with the most reports first (at most `limit`).
pub fn counts(conn: &mut DbConn, limit: i64) -> Result<Vec<ReporterCount>, ServiceError> {
    Ok(crate::db::notify::reporters(conn, limit.clamp(1, 10_000))?)
}
