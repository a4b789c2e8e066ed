//! The `whitelist_rules` table: the analyst's whitelist (matching lives in `service::whitelist`).

use diesel::prelude::*;

use super::schema::whitelist_rules as wr;
use super::{DbConn, DbError, with_conn};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = wr)]
pub struct RuleRow {
    pub id: i64,
    pub match_kind: String,
    pub pattern: String,
    pub applies_to: String,
    pub reason: String,
    pub author: String,
    pub builtin: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = wr)]
pub struct NewRule<'a> {
    pub match_kind: &'a str,
    pub pattern: &'a str,
    pub applies_to: &'a str,
    pub reason: &'a str,
    pub author: &'a str,
    pub builtin: bool,
    pub created_at: i64,
}

/// Inserts a rule; an identical rule (kind, pattern, type) is a conflict.
pub fn insert(conn: &mut DbConn, new: &NewRule<'_>) -> Result<RuleRow, DbError> {
    Ok(with_conn!(conn, c => diesel::insert_into(wr::table)
        .values(new)
        .returning(RuleRow::as_returning())
        .get_result(c))?)
}

/// Inserts rules that are not there yet (shipped defaults); returns how many were new.
pub fn insert_missing(conn: &mut DbConn, rules: &[NewRule<'_>]) -> Result<usize, DbError> {
    let mut n = 0;
    for rule in rules {
        n += with_conn!(conn, c => diesel::insert_into(wr::table)
            .values(rule)
            .on_conflict((wr::match_kind, wr::pattern, wr::applies_to))
            .do_nothing()
            .execute(c))?;
    }
    Ok(n)
}

pub fn list(conn: &mut DbConn) -> Result<Vec<RuleRow>, DbError> {
    Ok(with_conn!(conn, c => wr::table.order(wr::id.asc()).select(RuleRow::as_select()).load(c))?)
}

pub fn by_id(conn: &mut DbConn, id: i64) -> Result<Option<RuleRow>, DbError> {
    Ok(with_conn!(conn, c => wr::table.find(id).select(RuleRow::as_select()).get_result(c).optional())?)
}

pub fn delete(conn: &mut DbConn, id: i64) -> Result<bool, DbError> {
    Ok(with_conn!(conn, c => diesel::delete(wr::table.find(id)).execute(c))? > 0)
}
