//! What the TAXII feeds served, per collection and hour (counted in memory by
//! `service::served`, added here in batches).

use diesel::prelude::*;
use diesel::upsert::excluded;

use super::schema::taxii_served as ts;
use super::{DbConn, DbError, with_conn};

/// Adds `(collection_id, hour, requests, objects)` counts to the stored ones.
pub fn add(conn: &mut DbConn, counts: &[(String, i64, i64, i64)]) -> Result<(), DbError> {
    for chunk in counts.chunks(500) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(c, h, r, o)| {
                (ts::collection_id.eq(c), ts::hour.eq(h), ts::requests.eq(r), ts::objects.eq(o))
            })
            .collect();
        with_conn!(conn, c => diesel::insert_into(ts::table)
            .values(&rows)
            .on_conflict((ts::collection_id, ts::hour))
            .do_update()
            .set((
                ts::requests.eq(ts::requests + excluded(ts::requests)),
                ts::objects.eq(ts::objects + excluded(ts::objects)),
            ))
            .execute(c))?;
    }
    Ok(())
}

/// Requests and objects served per collection in the hours from `since` (micros) on.
pub fn since(conn: &mut DbConn, since: i64) -> Result<Vec<(String, i64, i64)>, DbError> {
    let rows: Vec<(String, i64, i64)> = with_conn!(conn, c => ts::table
        .filter(ts::hour.ge(since))
        .select((ts::collection_id, ts::requests, ts::objects))
        .load(c))?;
    let mut out: Vec<(String, i64, i64)> = Vec::new();
    for (id, r, o) in rows {
        match out.iter_mut().find(|(c, _, _)| *c == id) {
            Some(e) => {
                e.1 += r;
                e.2 += o;
            }
            None => out.push((id, r, o)),
        }
    }
    Ok(out)
}

/// Forgets counts older than `before` (micros).
pub fn prune(conn: &mut DbConn, before: i64) -> Result<usize, DbError> {
    Ok(with_conn!(conn, c => diesel::delete(ts::table.filter(ts::hour.lt(before))).execute(c))?)
}
