//! The `audit_log` table: who did what, never with a secret in it.

use diesel::prelude::*;

use super::schema::audit_log;
use super::{DbConn, DbError, now_micros, with_conn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub remote_addr: Option<String>,
}

/// One audit entry to write.
#[derive(Debug, Default, Clone, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub remote_addr: Option<String>,
}

impl AuditEntry {
    pub fn new(action: &str) -> Self {
        Self { at: now_micros(), action: action.to_string(), ..Self::default() }
    }
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    pub fn remote(mut self, addr: Option<String>) -> Self {
        self.remote_addr = addr;
        self
    }
}

pub fn insert(conn: &mut DbConn, entry: &AuditEntry) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::insert_into(audit_log::table).values(entry).execute(c))?;
    Ok(())
}

/// The newest entries, optionally only of one action.
pub fn recent(conn: &mut DbConn, action: Option<&str>, limit: i64) -> Result<Vec<AuditRow>, DbError> {
    Ok(with_conn!(conn, c => {
        let mut q = audit_log::table.select(AuditRow::as_select()).order(audit_log::id.desc()).limit(limit).into_boxed();
        if let Some(a) = action {
            q = q.filter(audit_log::action.eq(a.to_string()));
        }
        q.load(c)
    })?)
}

/// Deletes entries older than `before` (the retention policy); returns how many.
pub fn delete_before(conn: &mut DbConn, before: i64) -> Result<usize, DbError> {
    Ok(with_conn!(conn, c => diesel::delete(audit_log::table.filter(audit_log::at.lt(before))).execute(c))?)
}
