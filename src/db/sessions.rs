//! The `web_sessions` table: web UI logins, shared by every instance.

use diesel::prelude::*;

use super::schema::{users, web_sessions};
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
