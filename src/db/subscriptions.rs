//! The `subscriptions` table: remote feeds Harpoon polls (configuration as JSON, the sealed
//! secret, the local collection they fill, the protocol's cursor, health counters).

use diesel::prelude::*;

use super::schema::subscriptions as sb;
use super::{DbConn, DbError, with_conn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sb)]
pub struct SubscriptionRow {
    pub id: i64,
    pub name: String,
    pub origin: String,
    pub protocol: String,
    pub enabled: bool,
    pub config: String,
    pub secret_sealed: Option<String>,
    pub collection_id: String,
    pub cursor: Option<String>,
    pub status: String,
    pub last_success_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub consecutive_failures: i64,
    pub next_attempt_at: Option<i64>,
    pub objects_taken: i64,
    pub objects_rejected: i64,
    pub last_rejected: Option<String>,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sb)]
pub struct NewSubscription<'a> {
    pub name: &'a str,
    pub origin: &'a str,
    pub protocol: &'a str,
    pub enabled: bool,
    pub config: &'a str,
    pub secret_sealed: Option<&'a str>,
    pub collection_id: &'a str,
    pub created_by: Option<&'a str>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A changed configuration (the name, origin and collection never change). A changed source
/// (protocol, URL, collection) starts over: `reset_cursor`.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = sb, treat_none_as_null = true)]
pub struct ConfigChange<'a> {
    pub protocol: &'a str,
    pub enabled: bool,
    pub config: &'a str,
    pub secret_sealed: Option<&'a str>,
    pub updated_at: i64,
}

pub fn insert(conn: &mut DbConn, new: &NewSubscription<'_>) -> Result<SubscriptionRow, DbError> {
    Ok(with_conn!(conn, c => diesel::insert_into(sb::table)
        .values(new)
        .returning(SubscriptionRow::as_returning())
        .get_result(c))?)
}

pub fn list(conn: &mut DbConn) -> Result<Vec<SubscriptionRow>, DbError> {
    Ok(with_conn!(conn, c => sb::table.select(SubscriptionRow::as_select()).order(sb::name.asc()).load(c))?)
}

pub fn by_name(conn: &mut DbConn, name: &str) -> Result<Option<SubscriptionRow>, DbError> {
    Ok(with_conn!(conn, c => sb::table
        .filter(sb::name.eq(name))
        .select(SubscriptionRow::as_select())
        .get_result(c)
        .optional())?)
}

pub fn by_id(conn: &mut DbConn, id: i64) -> Result<Option<SubscriptionRow>, DbError> {
    Ok(
        with_conn!(conn, c => sb::table.find(id).select(SubscriptionRow::as_select()).get_result(c).optional())?,
    )
}

/// The subscription that fills a local collection, if one does.
pub fn by_collection(conn: &mut DbConn, collection_id: &str) -> Result<Option<SubscriptionRow>, DbError> {
    Ok(with_conn!(conn, c => sb::table
        .filter(sb::collection_id.eq(collection_id))
        .select(SubscriptionRow::as_select())
        .get_result(c)
        .optional())?)
}

/// The protocols the database knows (one row each).
pub fn protocols(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    use super::schema::subscription_protocols as sp;
    Ok(with_conn!(conn, c => sp::table.select(sp::name).order(sp::name.asc()).load(c))?)
}

pub fn update_config(
    conn: &mut DbConn,
    id: i64,
    change: &ConfigChange<'_>,
    reset_cursor: bool,
) -> Result<SubscriptionRow, DbError> {
    if reset_cursor {
        with_conn!(conn, c => diesel::update(sb::table.find(id)).set(sb::cursor.eq(None::<String>)).execute(c))?;
    }
    Ok(with_conn!(conn, c => diesel::update(sb::table.find(id))
        .set(change)
        .returning(SubscriptionRow::as_returning())
        .get_result(c))?)
}

/// Deletes a subscription (its collection and what it took stay); `NotFound` if there is none.
pub fn delete(conn: &mut DbConn, id: i64) -> Result<(), DbError> {
    let n = with_conn!(conn, c => diesel::delete(sb::table.find(id)).execute(c))?;
    if n == 0 { Err(DbError::NotFound) } else { Ok(()) }
}

/// Deletes the configuration-file subscriptions whose names are not in `keep`; returns their names.
pub fn delete_config_except(conn: &mut DbConn, keep: &[String]) -> Result<Vec<String>, DbError> {
    Ok(with_conn!(conn, c => diesel::delete(
        sb::table.filter(sb::origin.eq("config")).filter(sb::name.ne_all(keep)),
    )
    .returning(sb::name)
    .get_results(c))?)
}

/// The cursor the poller left (opaque here).
pub fn cursor(conn: &mut DbConn, id: i64) -> Result<Option<String>, DbError> {
    Ok(with_conn!(conn, c => sb::table.find(id).select(sb::cursor).get_result(c).optional())?.flatten())
}

/// One page went in: the cursor moves on and the counters grow. `rejected` is the newest
/// rejection of the page, if any.
pub fn advance(
    conn: &mut DbConn,
    id: i64,
    cursor: &str,
    taken: i64,
    rejected: i64,
    last_rejected: Option<&str>,
) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(sb::table.find(id))
        .set((
            sb::cursor.eq(cursor),
            sb::objects_taken.eq(sb::objects_taken + taken),
            sb::objects_rejected.eq(sb::objects_rejected + rejected),
        ))
        .execute(c))?;
    if let Some(text) = last_rejected {
        with_conn!(conn, c => diesel::update(sb::table.find(id)).set(sb::last_rejected.eq(text)).execute(c))?;
    }
    Ok(())
}

/// A poll went well: the subscription is healthy again.
pub fn record_success(conn: &mut DbConn, id: i64, at: i64) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(sb::table.find(id))
        .set((
            sb::status.eq("ok"),
            sb::last_success_at.eq(at),
            sb::consecutive_failures.eq(0),
            sb::next_attempt_at.eq(None::<i64>),
        ))
        .execute(c))?;
    Ok(())
}

/// A poll failed with `error` (never containing a credential); the next attempt is at
/// `next_attempt_at`.
pub fn record_error(
    conn: &mut DbConn,
    id: i64,
    at: i64,
    error: &str,
    failures: i64,
    next_attempt_at: i64,
) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(sb::table.find(id))
        .set((
            sb::status.eq("error"),
            sb::last_error.eq(error),
            sb::last_error_at.eq(at),
            sb::consecutive_failures.eq(failures),
            sb::next_attempt_at.eq(next_attempt_at),
        ))
        .execute(c))?;
    Ok(())
}

/// Sets the health status alone (`starting`, `disabled`).
pub fn set_status(conn: &mut DbConn, id: i64, status: &str) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(sb::table.find(id)).set(sb::status.eq(status)).execute(c))?;
    Ok(())
}
