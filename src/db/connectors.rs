//! The `connectors`, `connector_seen` and `connector_attempts` tables: mailbox connectors
//! (configuration as JSON, the sealed password, IMAP folder state, health counters), the messages
//! each has stored while they still wait on the server, and the attempts at messages not yet
//! stored (poison messages are set aside after a few).

use std::collections::HashSet;

use diesel::prelude::*;

use super::schema::{connector_attempts as tries, connector_seen as seen, connectors as cn};
use super::{DbConn, DbError, now_micros, with_conn, write_tx};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = cn)]
pub struct ConnectorRow {
    pub id: i64,
    pub name: String,
    pub origin: String,
    pub protocol: String,
    pub enabled: bool,
    pub config: String,
    pub password_sealed: Option<String>,
    pub uid_validity: Option<i64>,
    pub last_uid: Option<i64>,
    pub status: String,
    pub last_success_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub consecutive_failures: i64,
    pub next_attempt_at: Option<i64>,
    pub messages_taken: i64,
    pub messages_failed: i64,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = cn)]
pub struct NewConnector<'a> {
    pub name: &'a str,
    pub origin: &'a str,
    pub protocol: &'a str,
    pub enabled: bool,
    pub config: &'a str,
    pub password_sealed: Option<&'a str>,
    pub created_by: Option<&'a str>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A changed configuration (the name and origin never change).
#[derive(Debug, AsChangeset)]
#[diesel(table_name = cn, treat_none_as_null = true)]
pub struct ConfigChange<'a> {
    pub protocol: &'a str,
    pub enabled: bool,
    pub config: &'a str,
    pub password_sealed: Option<&'a str>,
    pub updated_at: i64,
}

pub fn insert(conn: &mut DbConn, new: &NewConnector<'_>) -> Result<ConnectorRow, DbError> {
    Ok(with_conn!(conn, c => diesel::insert_into(cn::table)
        .values(new)
        .returning(ConnectorRow::as_returning())
        .get_result(c))?)
}

pub fn list(conn: &mut DbConn) -> Result<Vec<ConnectorRow>, DbError> {
    Ok(with_conn!(conn, c => cn::table.select(ConnectorRow::as_select()).order(cn::name.asc()).load(c))?)
}

pub fn by_name(conn: &mut DbConn, name: &str) -> Result<Option<ConnectorRow>, DbError> {
    Ok(with_conn!(conn, c => cn::table
        .filter(cn::name.eq(name))
        .select(ConnectorRow::as_select())
        .get_result(c)
        .optional())?)
}

pub fn by_id(conn: &mut DbConn, id: i64) -> Result<Option<ConnectorRow>, DbError> {
    Ok(with_conn!(conn, c => cn::table.find(id).select(ConnectorRow::as_select()).get_result(c).optional())?)
}

pub fn update_config(conn: &mut DbConn, id: i64, change: &ConfigChange<'_>) -> Result<ConnectorRow, DbError> {
    Ok(with_conn!(conn, c => diesel::update(cn::table.find(id))
        .set(change)
        .returning(ConnectorRow::as_returning())
        .get_result(c))?)
}

/// Deletes a connector and what it remembers; `NotFound` if there is none.
pub fn delete(conn: &mut DbConn, id: i64) -> Result<(), DbError> {
    let n = with_conn!(conn, c => diesel::delete(cn::table.find(id)).execute(c))?;
    if n == 0 { Err(DbError::NotFound) } else { Ok(()) }
}

/// Deletes the configuration-file connectors whose names are not in `keep`; returns their names.
pub fn delete_config_except(conn: &mut DbConn, keep: &[String]) -> Result<Vec<String>, DbError> {
    Ok(with_conn!(conn, c => diesel::delete(
        cn::table.filter(cn::origin.eq("config")).filter(cn::name.ne_all(keep)),
    )
    .returning(cn::name)
    .get_results(c))?)
}

/// A session went well: the connector is healthy again.
pub fn record_success(conn: &mut DbConn, id: i64, at: i64) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(cn::table.find(id))
        .set((
            cn::status.eq("ok"),
            cn::last_success_at.eq(at),
            cn::consecutive_failures.eq(0),
            cn::next_attempt_at.eq(None::<i64>),
        ))
        .execute(c))?;
    Ok(())
}

/// A session failed with `error` (never containing a credential); the next attempt is at
/// `next_attempt_at`.
pub fn record_error(
    conn: &mut DbConn,
    id: i64,
    at: i64,
    error: &str,
    failures: i64,
    next_attempt_at: i64,
) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(cn::table.find(id))
        .set((
            cn::status.eq("error"),
            cn::last_error.eq(error),
            cn::last_error_at.eq(at),
            cn::consecutive_failures.eq(failures),
            cn::next_attempt_at.eq(next_attempt_at),
        ))
        .execute(c))?;
    Ok(())
}

/// Sets the health status alone (`starting`, `disabled`).
pub fn set_status(conn: &mut DbConn, id: i64, status: &str) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(cn::table.find(id)).set(cn::status.eq(status)).execute(c))?;
    Ok(())
}

/// Remembers an IMAP folder's UIDVALIDITY. A new UIDVALIDITY means the UIDs of before name
/// other messages now: what was remembered under the old one is forgotten. Returns whether it
/// changed.
pub fn set_uid_validity(conn: &mut DbConn, id: i64, uid_validity: i64) -> Result<bool, DbError> {
    write_tx(conn, |conn| {
        let before: Option<i64> =
            with_conn!(conn, c => cn::table.find(id).select(cn::uid_validity).get_result(c).optional())?
                .flatten();
        if before == Some(uid_validity) {
            return Ok(false);
        }
        with_conn!(conn, c => diesel::delete(seen::table.filter(seen::connector_id.eq(id))).execute(c))?;
        with_conn!(conn, c => diesel::update(cn::table.find(id))
            .set((cn::uid_validity.eq(uid_validity), cn::last_uid.eq(None::<i64>)))
            .execute(c))?;
        Ok(before.is_some())
    })
}

/// Raises the highest UID taken (never lowers it).
pub fn raise_last_uid(conn: &mut DbConn, id: i64, uid: i64) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(
        cn::table.find(id).filter(cn::last_uid.is_null().or(cn::last_uid.lt(uid))),
    )
    .set(cn::last_uid.eq(uid))
    .execute(c))?;
    Ok(())
}

/// The keys of the messages this connector has stored and still remembers.
pub fn seen_keys(conn: &mut DbConn, id: i64) -> Result<HashSet<String>, DbError> {
    let keys: Vec<String> = with_conn!(conn, c => seen::table
        .filter(seen::connector_id.eq(id))
        .select(seen::message_key)
        .load(c))?;
    Ok(keys.into_iter().collect())
}

pub fn is_seen(conn: &mut DbConn, id: i64, key: &str) -> Result<bool, DbError> {
    let n: i64 = with_conn!(conn, c => seen::table
        .filter(seen::connector_id.eq(id))
        .filter(seen::message_key.eq(key))
        .count()
        .get_result(c))?;
    Ok(n > 0)
}

/// Remembers that the message `key` is stored as `import_id` and counts it (once: a message
/// taken again after a crash is not counted twice). Returns whether it was new.
pub fn mark_seen(
    conn: &mut DbConn,
    id: i64,
    key: &str,
    import_id: i64,
    failed: bool,
) -> Result<bool, DbError> {
    write_tx(conn, |conn| {
        let now = now_micros();
        let n = with_conn!(conn, c => diesel::insert_into(seen::table)
            .values((
                seen::connector_id.eq(id),
                seen::message_key.eq(key),
                seen::import_id.eq(import_id),
                seen::taken_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .execute(c))?;
        if n > 0 {
            let failed = i64::from(failed);
            with_conn!(conn, c => diesel::update(cn::table.find(id))
                .set((
                    cn::messages_taken.eq(cn::messages_taken + 1),
                    cn::messages_failed.eq(cn::messages_failed + failed),
                ))
                .execute(c))?;
        }
        Ok(n > 0)
    })
}

/// Forgets the remembered messages that are no longer waiting on the server (`waiting` is
/// everything the server still offers this connector).
pub fn prune_seen(conn: &mut DbConn, id: i64, waiting: &HashSet<String>) -> Result<usize, DbError> {
    let gone: Vec<String> = seen_keys(conn, id)?.into_iter().filter(|k| !waiting.contains(k)).collect();
    let mut removed = 0;
    let tried: Vec<String> = with_conn!(conn, c => tries::table
        .filter(tries::connector_id.eq(id))
        .select(tries::message_key)
        .load(c))?;
    let left: Vec<String> = tried.into_iter().filter(|k| !waiting.contains(k)).collect();
    for chunk in left.chunks(500) {
        with_conn!(conn, c => diesel::delete(
            tries::table.filter(tries::connector_id.eq(id)).filter(tries::message_key.eq_any(chunk)),
        )
        .execute(c))?;
    }
    for chunk in gone.chunks(500) {
        removed += with_conn!(conn, c => diesel::delete(
            seen::table.filter(seen::connector_id.eq(id)).filter(seen::message_key.eq_any(chunk)),
        )
        .execute(c))?;
    }
    Ok(removed)
}

/// Counts one more attempt at message `key`, before it is processed (so an attempt that kills
/// the process is counted too). Returns the attempts so far, this one included, and the error
/// the last failed one left.
pub fn count_attempt(conn: &mut DbConn, id: i64, key: &str) -> Result<(i64, Option<String>), DbError> {
    write_tx(conn, |conn| {
        let now = now_micros();
        let added = with_conn!(conn, c => diesel::insert_into(tries::table)
            .values((
                tries::connector_id.eq(id),
                tries::message_key.eq(key),
                tries::attempts.eq(1i64),
                tries::last_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .execute(c))?;
        if added == 0 {
            with_conn!(conn, c => diesel::update(tries::table.find((id, key)))
                .set((tries::attempts.eq(tries::attempts + 1), tries::last_at.eq(now)))
                .execute(c))?;
        }
        Ok(with_conn!(conn, c => tries::table
            .find((id, key))
            .select((tries::attempts, tries::last_error))
            .get_result::<(i64, Option<String>)>(c))?)
    })
}

/// Records why the current attempt at message `key` failed (shown when it is set aside).
pub fn attempt_failed(conn: &mut DbConn, id: i64, key: &str, error: &str) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(tries::table.find((id, key)))
        .set(tries::last_error.eq(error))
        .execute(c))?;
    Ok(())
}
