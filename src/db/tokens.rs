//! The `api_tokens` table: API tokens stored as the SHA-256 of their secret part.

use diesel::prelude::*;

use super::schema::{api_tokens, users};
use super::users::UserRow;
use super::{DbConn, DbError, now_micros, with_conn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub public_id: String,
    pub secret_sha256: String,
    pub label: String,
    pub scopes: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Past this instant the token is refused (no expiry when `None`).
    pub expires_at: Option<i64>,
    /// An `export` token's exports, a JSON array of names (`None` for other scopes).
    pub exports: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct NewToken<'a> {
    pub user_id: i64,
    pub public_id: &'a str,
    pub secret_sha256: &'a str,
    pub label: &'a str,
    pub scopes: &'a str,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub exports: Option<&'a str>,
}

pub fn insert(conn: &mut DbConn, new: &NewToken<'_>) -> Result<TokenRow, DbError> {
    Ok(with_conn!(conn, c => diesel::insert_into(api_tokens::table)
        .values(new)
        .returning(TokenRow::as_returning())
        .get_result(c))?)
}

/// The live (neither revoked nor expired at `now`) token with this public id, and its owner.
pub fn live_by_public_id(
    conn: &mut DbConn,
    public_id: &str,
    now: i64,
) -> Result<Option<(TokenRow, UserRow)>, DbError> {
    Ok(with_conn!(conn, c => api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::public_id.eq(public_id))
        .filter(api_tokens::revoked_at.is_null())
        .filter(api_tokens::expires_at.is_null().or(api_tokens::expires_at.gt(now)))
        .select((TokenRow::as_select(), UserRow::as_select()))
        .get_result(c)
        .optional())?)
}

pub fn by_id(conn: &mut DbConn, id: i64) -> Result<Option<TokenRow>, DbError> {
    Ok(with_conn!(conn, c => api_tokens::table
        .find(id)
        .select(TokenRow::as_select())
        .get_result(c)
        .optional())?)
}

/// Tokens of one user (or of everyone), newest first.
pub fn list(conn: &mut DbConn, user_id: Option<i64>) -> Result<Vec<TokenRow>, DbError> {
    Ok(with_conn!(conn, c => {
        let mut q = api_tokens::table.select(TokenRow::as_select()).order(api_tokens::id.desc()).into_boxed();
        if let Some(uid) = user_id {
            q = q.filter(api_tokens::user_id.eq(uid));
        }
        q.load(c)
    })?)
}

/// Marks a token revoked; `NotFound` if it does not exist or is already revoked.
pub fn revoke(conn: &mut DbConn, id: i64) -> Result<(), DbError> {
    let n = with_conn!(conn, c => diesel::update(api_tokens::table.find(id).filter(api_tokens::revoked_at.is_null()))
        .set(api_tokens::revoked_at.eq(now_micros()))
        .execute(c))?;
    if n == 0 { Err(DbError::NotFound) } else { Ok(()) }
}

/// Records use, at most about once a minute per token so polling does not write on every request.
pub fn touch(conn: &mut DbConn, id: i64, at: i64) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(
        api_tokens::table.find(id).filter(
            api_tokens::last_used_at.is_null().or(api_tokens::last_used_at.lt(at - 60_000_000)),
        ),
    )
    .set(api_tokens::last_used_at.eq(at))
    .execute(c))?;
    Ok(())
}
