//! The few read-only aggregates the UI's dashboard shows.

use diesel::prelude::*;

use super::schema::{collection_objects, collections, events, imports, indicators};
use super::{DbConn, DbError, with_conn};

/// Creation times of imports and events since `since` (bucketed per day by the caller).
pub fn created_since(conn: &mut DbConn, since: i64) -> Result<(Vec<i64>, Vec<i64>), DbError> {
    let i: Vec<i64> = with_conn!(conn, c => imports::table
        .filter(imports::created_at.ge(since))
        .select(imports::created_at)
        .load(c))?;
    let e: Vec<i64> = with_conn!(conn, c => events::table
        .filter(events::created_at.ge(since))
        .select(events::created_at)
        .load(c))?;
    Ok((i, e))
}

/// Indicator counts by (type, status).
pub fn indicators_by_kind_status(conn: &mut DbConn) -> Result<Vec<(String, String, i64)>, DbError> {
    Ok(with_conn!(conn, c => indicators::table
        .group_by((indicators::kind, indicators::status))
        .select((indicators::kind, indicators::status, diesel::dsl::count_star()))
        .order((indicators::kind, indicators::status))
        .load(c))?)
}

/// Objects added to each TAXII collection since `since`: what its pollers were served anew.
/// One range count per collection on the paging index `(collection_id, date_added, …)`: a filter
/// on `date_added` alone would read every object of every collection.
pub fn collection_additions_since(conn: &mut DbConn, since: i64) -> Result<Vec<(String, i64)>, DbError> {
    let ids: Vec<String> =
        with_conn!(conn, c => collections::table.select(collections::id).order(collections::id).load(c))?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let n: i64 = with_conn!(conn, c => collection_objects::table
            .filter(collection_objects::collection_id.eq(&id))
            .filter(collection_objects::date_added.ge(since))
            .count()
            .get_result(c))?;
        if n > 0 {
            out.push((id, n));
        }
    }
    Ok(out)
}
