//! The `users` table: accounts with a role and an argon2 password hash.

use diesel::prelude::*;

use super::schema::users;
use super::{DbConn, DbError, now_micros, with_conn};

/// A stored account. Not a wire type: the HTTP edges map it to their own DTOs.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: i64,
    pub password_changed_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub disabled: bool,
    pub created_at: i64,
    pub password_changed_at: i64,
}

pub fn insert(
    conn: &mut DbConn,
    username: &str,
    password_hash: &str,
    role: &str,
) -> Result<UserRow, DbError> {
    let now = now_micros();
    let new =
        NewUser { username, password_hash, role, disabled: false, created_at: now, password_changed_at: now };
    with_conn!(conn, c => diesel::insert_into(users::table)
        .values(&new)
        .returning(UserRow::as_returning())
        .get_result(c))
    .map_err(|e| match DbError::from(e) {
        DbError::Conflict(_) => DbError::Conflict(format!("user '{username}'")),
        other => other,
    })
}

pub fn by_name(conn: &mut DbConn, username: &str) -> Result<Option<UserRow>, DbError> {
    Ok(with_conn!(conn, c => users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .get_result(c)
        .optional())?)
}

pub fn by_id(conn: &mut DbConn, id: i64) -> Result<Option<UserRow>, DbError> {
    Ok(with_conn!(conn, c => users::table
        .find(id)
        .select(UserRow::as_select())
        .get_result(c)
        .optional())?)
}

pub fn list(conn: &mut DbConn) -> Result<Vec<UserRow>, DbError> {
    Ok(with_conn!(conn, c => users::table
        .order(users::username.asc())
        .select(UserRow::as_select())
        .load(c))?)
}

pub fn count(conn: &mut DbConn) -> Result<i64, DbError> {
    Ok(with_conn!(conn, c => users::table.count().get_result(c))?)
}

pub fn set_password(conn: &mut DbConn, id: i64, password_hash: &str) -> Result<(), DbError> {
    let n = with_conn!(conn, c => diesel::update(users::table.find(id))
        .set((users::password_hash.eq(password_hash), users::password_changed_at.eq(now_micros())))
        .execute(c))?;
    if n == 0 { Err(DbError::NotFound) } else { Ok(()) }
}

pub fn set_disabled(conn: &mut DbConn, id: i64, disabled: bool) -> Result<(), DbError> {
    let n = with_conn!(conn, c => diesel::update(users::table.find(id))
        .set(users::disabled.eq(disabled))
        .execute(c))?;
    if n == 0 { Err(DbError::NotFound) } else { Ok(()) }
}

pub fn set_role(conn: &mut DbConn, id: i64, role: &str) -> Result<(), DbError> {
    let n = with_conn!(conn, c => diesel::update(users::table.find(id))
        .set(users::role.eq(role))
        .execute(c))?;
    if n == 0 { Err(DbError::NotFound) } else { Ok(()) }
}

/// Deletes an account; its tokens, grants, UI sessions and UI jobs cascade.
pub fn delete(conn: &mut DbConn, id: i64) -> Result<(), DbError> {
    let n = with_conn!(conn, c => diesel::delete(users::table.find(id)).execute(c))?;
    if n == 0 { Err(DbError::NotFound) } else { Ok(()) }
}

/// Ids of the active administrators, their rows locked until the transaction ends
/// (PostgreSQL `FOR UPDATE`; a SQLite write transaction holds the whole database already).
pub fn lock_active_admins(conn: &mut DbConn) -> Result<Vec<i64>, DbError> {
    let q = users::table.filter(users::role.eq("admin")).filter(users::disabled.eq(false)).select(users::id);
    Ok(match conn {
        DbConn::Sqlite(c) => q.load(c)?,
        DbConn::Postgres(c) => q.for_update().load(c)?,
    })
}

/// What a cached password check depends on: the account still exists, is enabled, has this role
/// and has not changed its password since (checked every few seconds per cached account).
pub fn stamp(conn: &mut DbConn, id: i64) -> Result<Option<(String, bool, i64)>, DbError> {
    Ok(with_conn!(conn, c => users::table
        .find(id)
        .select((users::role, users::disabled, users::password_changed_at))
        .get_result(c)
        .optional())?)
}
