//! The `web_sessions` table (web UI logins, shared by every instance), `ui_jobs` (the progress of
//! long work started from the UI) and the few read-only aggregates the UI's dashboard shows.

use diesel::prelude::*;

use super::schema::{
    collection_objects, collections, events, imports, indicators, ui_jobs, users, web_sessions,
};
use super::users::UserRow;
use super::{DbConn, DbError, with_conn};

#[derive(Debug, Insertable)]
#[diesel(table_name = web_sessions)]
pub struct NewSession<'a> {
    pub id_sha256: &'a str,
    pub user_id: i64,
    pub csrf_token: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A live session: its CSRF token and its user.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub csrf_token: String,
    pub expires_at: i64,
    pub user: UserRow,
}

pub fn insert(conn: &mut DbConn, new: &NewSession<'_>) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::insert_into(web_sessions::table).values(new).execute(c))?;
    Ok(())
}

/// The session with this id hash, if it has not expired at `now`.
pub fn live(conn: &mut DbConn, id_sha256: &str, now: i64) -> Result<Option<SessionRow>, DbError> {
    let found: Option<(String, i64, UserRow)> = with_conn!(conn, c => web_sessions::table
        .inner_join(users::table)
        .filter(web_sessions::id_sha256.eq(id_sha256))
        .filter(web_sessions::expires_at.gt(now))
        .select((web_sessions::csrf_token, web_sessions::expires_at, UserRow::as_select()))
        .get_result(c)
        .optional())?;
    Ok(found.map(|(csrf_token, expires_at, user)| SessionRow { csrf_token, expires_at, user }))
}

pub fn delete(conn: &mut DbConn, id_sha256: &str) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::delete(web_sessions::table.find(id_sha256)).execute(c))?;
    Ok(())
}

/// Removes expired sessions (called at each login: the table stays small without a timer).
pub fn delete_expired(conn: &mut DbConn, now: i64) -> Result<usize, DbError> {
    Ok(
        with_conn!(conn, c => diesel::delete(web_sessions::table.filter(web_sessions::expires_at.le(now))).execute(c))?,
    )
}

/// Ends every session of a user (password change, disabling).
pub fn delete_of_user(conn: &mut DbConn, user_id: i64) -> Result<usize, DbError> {
    Ok(
        with_conn!(conn, c => diesel::delete(web_sessions::table.filter(web_sessions::user_id.eq(user_id))).execute(c))?,
    )
}

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

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ui_jobs)]
pub struct JobRow {
    pub id: i64,
    pub user_id: i64,
    pub kind: String,
    pub total: i64,
    pub done: i64,
    pub failed: i64,
    pub result: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

pub fn insert_job(
    conn: &mut DbConn,
    user_id: i64,
    kind: &str,
    total: i64,
    now: i64,
) -> Result<JobRow, DbError> {
    Ok(with_conn!(conn, c => diesel::insert_into(ui_jobs::table)
        .values((
            ui_jobs::user_id.eq(user_id),
            ui_jobs::kind.eq(kind),
            ui_jobs::total.eq(total),
            ui_jobs::created_at.eq(now),
        ))
        .returning(JobRow::as_returning())
        .get_result(c))?)
}

/// Records progress (and, with `finished_at`, the end).
pub fn update_job(
    conn: &mut DbConn,
    id: i64,
    (done, failed): (i64, i64),
    result: &str,
    finished_at: Option<i64>,
) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(ui_jobs::table.find(id))
        .set((
            ui_jobs::done.eq(done),
            ui_jobs::failed.eq(failed),
            ui_jobs::result.eq(result),
            ui_jobs::finished_at.eq(finished_at),
        ))
        .execute(c))?;
    Ok(())
}

pub fn job(conn: &mut DbConn, id: i64) -> Result<Option<JobRow>, DbError> {
    Ok(with_conn!(conn, c => ui_jobs::table.find(id).select(JobRow::as_select()).get_result(c).optional())?)
}

/// Ends an unfinished job with `result` (its holder stopped); false if it had ended meanwhile.
pub fn close_job(conn: &mut DbConn, id: i64, result: &str, at: i64) -> Result<bool, DbError> {
    let n = with_conn!(conn, c => diesel::update(ui_jobs::table.find(id).filter(ui_jobs::finished_at.is_null()))
        .set((ui_jobs::result.eq(result), ui_jobs::failed.eq(ui_jobs::failed + 1), ui_jobs::finished_at.eq(at)))
        .execute(c))?;
    Ok(n == 1)
}
