//! The `operation_runs` and `sightings` tables: runs of operations on indicators and the
//! sightings they found (with the STIX objects to publish).

use diesel::prelude::*;

use super::schema::{operation_runs as runs, sightings as sg};
use super::types::{JsonText, text_set};
use super::{DbConn, DbError, with_conn};

text_set! {
    /// Where an operation run is.
    pub enum RunStatus("operation_runs.status") {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        TimedOut = "timed_out",
        /// The instance running it stopped before its end.
        Interrupted = "interrupted",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = runs)]
pub struct RunRow {
    pub id: i64,
    pub operation: String,
    pub indicator_id: i64,
    pub status: RunStatus,
    pub started_by: String,
    pub parameters: String,
    pub output: String,
    pub created: String,
    pub error: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = runs)]
pub struct NewRun<'a> {
    pub operation: &'a str,
    pub indicator_id: i64,
    pub status: RunStatus,
    pub started_by: &'a str,
    pub parameters: &'a str,
    pub created_at: i64,
}

/// The end of a run.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = runs)]
pub struct RunEnd<'a> {
    pub status: RunStatus,
    pub output: &'a str,
    pub created: &'a str,
    pub error: Option<&'a str>,
    pub finished_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = sg)]
pub struct SightingRow {
    pub id: i64,
    pub indicator_id: i64,
    pub run_id: Option<i64>,
    pub stix_id: String,
    pub sighting_of: String,
    pub count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub hosts: JsonText<Vec<String>>,
    pub description: Option<String>,
    pub objects: String,
    pub published: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = sg)]
pub struct NewSighting {
    pub indicator_id: i64,
    pub run_id: Option<i64>,
    pub stix_id: String,
    pub sighting_of: String,
    pub count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub hosts: JsonText<Vec<String>>,
    pub description: Option<String>,
    pub objects: String,
    pub published: bool,
    pub created_at: i64,
}

pub fn insert_run(conn: &mut DbConn, new: &NewRun) -> Result<RunRow, DbError> {
    Ok(with_conn!(conn, c => diesel::insert_into(runs::table)
        .values(new)
        .returning(RunRow::as_returning())
        .get_result(c))?)
}

pub fn get_run(conn: &mut DbConn, id: i64) -> Result<Option<RunRow>, DbError> {
    Ok(with_conn!(conn, c => runs::table.find(id).select(RunRow::as_select()).get_result(c).optional())?)
}

/// Marks a queued run running; false if it is not queued any more.
pub fn mark_running(conn: &mut DbConn, id: i64, at: i64) -> Result<bool, DbError> {
    let n = with_conn!(conn, c => diesel::update(runs::table.find(id).filter(runs::status.eq(RunStatus::Queued)))
        .set((runs::status.eq(RunStatus::Running), runs::started_at.eq(at)))
        .execute(c))?;
    Ok(n == 1)
}

/// Stores the end of a running run; false (and nothing changed) if it is not running any more:
/// another instance took it over and closed it, and that word is final.
pub fn finish_run(conn: &mut DbConn, id: i64, end: &RunEnd) -> Result<bool, DbError> {
    let n = with_conn!(conn, c => diesel::update(runs::table.find(id).filter(runs::status.eq(RunStatus::Running)))
        .set(end)
        .execute(c))?;
    Ok(n == 1)
}

/// Closes a run that was running when its holder stopped: `interrupted`, with `error`. False if
/// it was not running (it ended meanwhile).
pub fn interrupt_run(conn: &mut DbConn, id: i64, error: &str, at: i64) -> Result<bool, DbError> {
    let n = with_conn!(conn, c => diesel::update(runs::table.find(id).filter(runs::status.eq(RunStatus::Running)))
        .set((runs::status.eq(RunStatus::Interrupted), runs::error.eq(error), runs::finished_at.eq(at)))
        .execute(c))?;
    Ok(n == 1)
}

/// The runs on one indicator, newest first.
pub fn runs_of(conn: &mut DbConn, indicator_id: i64, limit: i64) -> Result<Vec<RunRow>, DbError> {
    Ok(with_conn!(conn, c => runs::table
        .filter(runs::indicator_id.eq(indicator_id))
        .order(runs::id.desc())
        .limit(limit)
        .select(RunRow::as_select())
        .load(c))?)
}

/// The latest runs across indicators, newest first.
pub fn recent_runs(conn: &mut DbConn, limit: i64) -> Result<Vec<RunRow>, DbError> {
    Ok(with_conn!(conn, c => runs::table
        .order(runs::id.desc())
        .limit(limit)
        .select(RunRow::as_select())
        .load(c))?)
}

pub fn insert_sighting(conn: &mut DbConn, new: &NewSighting) -> Result<SightingRow, DbError> {
    Ok(with_conn!(conn, c => diesel::insert_into(sg::table)
        .values(new)
        .returning(SightingRow::as_returning())
        .get_result(c))?)
}

/// The sightings of one indicator, newest first.
pub fn sightings_of(conn: &mut DbConn, indicator_id: i64) -> Result<Vec<SightingRow>, DbError> {
    Ok(with_conn!(conn, c => sg::table
        .filter(sg::indicator_id.eq(indicator_id))
        .order(sg::id.desc())
        .select(SightingRow::as_select())
        .load(c))?)
}

/// Sightings of the given STIX indicator not yet published.
pub fn unpublished_of(conn: &mut DbConn, sighting_of: &str) -> Result<Vec<SightingRow>, DbError> {
    Ok(with_conn!(conn, c => sg::table
        .filter(sg::sighting_of.eq(sighting_of))
        .filter(sg::published.eq(false))
        .order(sg::id.asc())
        .select(SightingRow::as_select())
        .load(c))?)
}

pub fn mark_published(conn: &mut DbConn, id: i64) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(sg::table.find(id)).set(sg::published.eq(true)).execute(c))?;
    Ok(())
}

/// Runs not ended, counted by status (`queued`, `running`), for `/metrics`.
pub fn open_run_counts(conn: &mut DbConn) -> Result<Vec<(String, i64)>, DbError> {
    Ok(with_conn!(conn, c => runs::table
        .filter(runs::status.eq_any([RunStatus::Queued, RunStatus::Running]))
        .group_by(runs::status)
        .select((runs::status, diesel::dsl::count_star()))
        .load::<(String, i64)>(c))?)
}
