//! The `ui_jobs` table: the progress of long work started from the UI (a background import).

use diesel::prelude::*;

use super::schema::ui_jobs;
use super::{DbConn, DbError, with_conn};

/// One job: how far it got, and how it ended.
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

pub fn insert(conn: &mut DbConn, user_id: i64, kind: &str, total: i64, now: i64) -> Result<JobRow, DbError> {
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
pub fn update(
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

pub fn get(conn: &mut DbConn, id: i64) -> Result<Option<JobRow>, DbError> {
    Ok(with_conn!(conn, c => ui_jobs::table.find(id).select(JobRow::as_select()).get_result(c).optional())?)
}

/// Ends an unfinished job with `result` (its holder stopped); false if it had ended meanwhile.
pub fn close(conn: &mut DbConn, id: i64, result: &str, at: i64) -> Result<bool, DbError> {
    let n = with_conn!(conn, c => diesel::update(ui_jobs::table.find(id).filter(ui_jobs::finished_at.is_null()))
        .set((ui_jobs::result.eq(result), ui_jobs::failed.eq(ui_jobs::failed + 1), ui_jobs::finished_at.eq(at)))
        .execute(c))?;
    Ok(n == 1)
}
