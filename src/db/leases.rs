//! The `leases` table: who holds a piece of background work or a periodic job, until when.
//! Every change is a compare-and-set in one statement (`UPDATE … WHERE holder = … OR
//! expires_at < now`, `INSERT … ON CONFLICT DO NOTHING`, `DELETE … WHERE holder = …`), so of
//! several instances trying at once exactly one succeeds, on either backend (PostgreSQL
//! re-checks the `WHERE` of an `UPDATE` on the row version it locked; SQLite has one writer).

use diesel::prelude::*;

use super::schema::{leases, operation_runs, taxii_pending, taxii_status, ui_jobs};
use super::{DbConn, DbError, with_conn};

/// One lease as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = leases)]
pub struct LeaseRow {
    pub name: String,
    pub holder: String,
    pub expires_at: i64,
}

/// Takes `name` for `holder` until `expires_at` if nobody holds it, its lease expired, or
/// `holder` already holds it (then it is renewed). True when `holder` holds it afterwards.
pub fn acquire(
    conn: &mut DbConn,
    name: &str,
    holder: &str,
    now: i64,
    expires_at: i64,
) -> Result<bool, DbError> {
    let taken = with_conn!(conn, c => diesel::update(
        leases::table
            .filter(leases::name.eq(name))
            .filter(leases::holder.eq(holder).or(leases::expires_at.lt(now))),
    )
    .set((leases::holder.eq(holder), leases::expires_at.eq(expires_at)))
    .execute(c))?;
    if taken == 1 {
        return Ok(true);
    }
    let inserted = with_conn!(conn, c => diesel::insert_into(leases::table)
        .values((leases::name.eq(name), leases::holder.eq(holder), leases::expires_at.eq(expires_at)))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// Takes over the expired lease `old` held on `name`: true for exactly one of the instances
/// that try at once (the row must still be `old`'s, and still expired).
pub fn take_over(
    conn: &mut DbConn,
    name: &str,
    old: &str,
    holder: &str,
    now: i64,
    expires_at: i64,
) -> Result<bool, DbError> {
    let n = with_conn!(conn, c => diesel::update(
        leases::table
            .filter(leases::name.eq(name))
            .filter(leases::holder.eq(old))
            .filter(leases::expires_at.lt(now)),
    )
    .set((leases::holder.eq(holder), leases::expires_at.eq(expires_at)))
    .execute(c))?;
    Ok(n == 1)
}

/// Claims a thing that has no lease row at all (work from before leases, or whose holder
/// stopped between storing it and leasing it): true for exactly one instance.
pub fn claim_unleased(conn: &mut DbConn, name: &str, holder: &str, expires_at: i64) -> Result<bool, DbError> {
    let n = with_conn!(conn, c => diesel::insert_into(leases::table)
        .values((leases::name.eq(name), leases::holder.eq(holder), leases::expires_at.eq(expires_at)))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

/// Renews every lease `holder` holds (the heartbeat): how many there are.
pub fn renew_all(conn: &mut DbConn, holder: &str, expires_at: i64) -> Result<usize, DbError> {
    Ok(with_conn!(conn, c => diesel::update(leases::table.filter(leases::holder.eq(holder)))
        .set(leases::expires_at.eq(expires_at))
        .execute(c))?)
}

/// Gives up `name` if `holder` holds it.
pub fn release(conn: &mut DbConn, name: &str, holder: &str) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::delete(leases::table.filter(leases::name.eq(name)).filter(leases::holder.eq(holder)))
        .execute(c))?;
    Ok(())
}

/// Gives up every lease `holder` holds (a graceful stop).
pub fn release_all(conn: &mut DbConn, holder: &str) -> Result<usize, DbError> {
    Ok(with_conn!(conn, c => diesel::delete(leases::table.filter(leases::holder.eq(holder))).execute(c))?)
}

/// The leases whose name starts with `prefix`.
pub fn with_prefix(conn: &mut DbConn, prefix: &str) -> Result<Vec<LeaseRow>, DbError> {
    let pattern = format!("{}%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    Ok(with_conn!(conn, c => leases::table
        .filter(leases::name.like(pattern).escape('\\'))
        .order(leases::name)
        .select(LeaseRow::as_select())
        .load(c))?)
}

/// The lease on `name`, if any.
pub fn get(conn: &mut DbConn, name: &str) -> Result<Option<LeaseRow>, DbError> {
    Ok(
        with_conn!(conn, c => leases::table.find(name).select(LeaseRow::as_select()).get_result(c).optional())?,
    )
}

/// Operation runs still `queued` or `running` that were created before `before`.
pub fn unfinished_runs(conn: &mut DbConn, before: i64) -> Result<Vec<i64>, DbError> {
    Ok(with_conn!(conn, c => operation_runs::table
        .filter(operation_runs::status.eq_any([super::operations::RunStatus::Queued, super::operations::RunStatus::Running]))
        .filter(operation_runs::created_at.lt(before))
        .select(operation_runs::id)
        .load(c))?)
}

/// UI jobs not finished that were created before `before`.
pub fn unfinished_jobs(conn: &mut DbConn, before: i64) -> Result<Vec<i64>, DbError> {
    Ok(with_conn!(conn, c => ui_jobs::table
        .filter(ui_jobs::finished_at.is_null())
        .filter(ui_jobs::created_at.lt(before))
        .select(ui_jobs::id)
        .load(c))?)
}

/// TAXII statuses with objects still pending, accepted before `before`.
pub fn unfinished_ingests(conn: &mut DbConn, before: i64) -> Result<Vec<String>, DbError> {
    Ok(with_conn!(conn, c => taxii_pending::table
        .inner_join(taxii_status::table)
        .filter(taxii_status::request_timestamp.lt(before))
        .select(taxii_pending::status_id)
        .distinct()
        .load(c))?)
}
