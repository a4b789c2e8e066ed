//! Backups: a consistent copy of the whole database taken while the server runs, and its
//! restoration into an empty database.
//!
//! SQLite: `VACUUM INTO` writes a snapshot of one read transaction (WAL readers never block the
//! writer, so the server keeps serving) into a new file, compacted; it is checked
//! (`integrity_check`, `foreign_key_check`) and renamed into place only then. Restoring copies a
//! checked backup into a database path that does not exist yet, never over live data.
//! PostgreSQL: PostgreSQL's own tools (`pg_dump --format=custom` of the current schema, one
//! repeatable-read snapshot; `pg_restore` into an empty database), run by Harpoon with the URL it
//! already has, so the procedure is the same command on both backends.
//!
//! [`digests`] summarises the content (per table, a SHA-256 per row) so that a backup can be
//! compared with its source and a restore with its backup.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::schema::{events, imports, stix_objects};
use super::{Backend, DatabaseUrl, DbConn, DbError, with_conn};

/// What was written.
#[derive(Debug, Clone)]
pub struct BackupReport {
    pub path: PathBuf,
    pub bytes: u64,
}

fn sql_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Backs up the database at `url` (whose connection is `conn`) into `target`, which must not
/// exist.
pub fn backup(conn: &mut DbConn, url: &DatabaseUrl, target: &Path) -> Result<BackupReport, DbError> {
    if target.exists() {
        return Err(DbError::Task(format!("{} exists: a backup never overwrites a file", target.display())));
    }
    let partial = partial_path(target);
    let _ = std::fs::remove_file(&partial);
    match url.backend() {
        Backend::Sqlite => {
            let path =
                partial.to_str().ok_or_else(|| DbError::Task("the backup path is not UTF-8".into()))?;
            with_conn!(conn, c => c.batch_execute(&format!("VACUUM INTO {}", sql_string(path))))?;
            check_sqlite_file(&partial)?;
        }
        Backend::Postgres => {
            let schema = current_schema(conn)?;
            let out = Command::new("pg_dump")
                .arg("--format=custom")
                .arg("--no-owner")
                .arg(format!("--schema={schema}"))
                .arg("--file")
                .arg(&partial)
                .arg("--dbname")
                .arg(url.target())
                .output()
                .map_err(|e| DbError::Task(format!("cannot run pg_dump: {e}")))?;
            if !out.status.success() {
                let _ = std::fs::remove_file(&partial);
                return Err(DbError::Task(format!("pg_dump failed: {}", one_line(&out.stderr))));
            }
        }
    }
    std::fs::rename(&partial, target).map_err(|e| DbError::Task(format!("{}: {e}", target.display())))?;
    let bytes = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
    Ok(BackupReport { path: target.to_path_buf(), bytes })
}

/// Restores `source` (a backup of the same backend) into the database at `url`, which must be
/// empty: a SQLite file that does not exist yet, or a PostgreSQL schema without Harpoon's tables.
/// The caller migrates afterwards (a backup from an older version is upgraded).
pub fn restore(url: &DatabaseUrl, source: &Path) -> Result<(), DbError> {
    if !source.is_file() {
        return Err(DbError::Task(format!("{}: no such backup file", source.display())));
    }
    match url.backend() {
        Backend::Sqlite => {
            let path = url.sqlite_path().ok_or_else(|| DbError::BadUrl("an in-memory database".into()))?;
            if path.exists() && std::fs::metadata(&path).map(|m| m.len() > 0).unwrap_or(true) {
                return Err(DbError::Task(format!(
                    "{} exists: restore only into a new database (never over live data)",
                    path.display()
                )));
            }
            check_sqlite_file(source)?;
            let partial = partial_path(&path);
            std::fs::copy(source, &partial)
                .map_err(|e| DbError::Task(format!("{}: {e}", partial.display())))?;
            std::fs::rename(&partial, &path)
                .map_err(|e| DbError::Task(format!("{}: {e}", path.display())))?;
            Ok(())
        }
        Backend::Postgres => {
            let mut conn = diesel::PgConnection::establish(url.target())
                .map_err(|e| DbError::Connect(format!("{}: {e}", url.redacted())))?;
            let existing: i64 = diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "(SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'imports' \
                 AND table_schema = ANY (current_schemas(false)))",
            ))
            .get_result(&mut conn)?;
            if existing > 0 {
                return Err(DbError::Task(
                    "the target database already holds Harpoon's tables: restore only into an empty one"
                        .into(),
                ));
            }
            let out = Command::new("pg_restore")
                .arg("--no-owner")
                .arg("--exit-on-error")
                .arg("--dbname")
                .arg(url.target())
                .arg(source)
                .output()
                .map_err(|e| DbError::Task(format!("cannot run pg_restore: {e}")))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(DbError::Task(format!("pg_restore failed: {}", one_line(&out.stderr))))
            }
        }
    }
}

fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    target.with_file_name(name)
}

fn one_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn current_schema(conn: &mut DbConn) -> Result<String, DbError> {
    #[derive(QueryableByName)]
    struct Schema {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let s: Schema =
        with_conn!(conn, c => diesel::sql_query("SELECT current_schema() AS name").get_result(c))?;
    Ok(s.name)
}

/// Opens a SQLite file read-only and checks that it is whole and consistent.
fn check_sqlite_file(path: &Path) -> Result<(), DbError> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let url = format!("file:{}?mode=ro", path.display());
    let mut c = diesel::SqliteConnection::establish(&url)
        .map_err(|e| DbError::Connect(format!("{}: {e}", path.display())))?;
    let lines: Vec<Line> = diesel::sql_query("PRAGMA integrity_check").load(&mut c)?;
    if lines.len() != 1 || lines.first().is_none_or(|l| l.integrity_check != "ok") {
        let first = lines.first().map(|l| l.integrity_check.clone()).unwrap_or_default();
        return Err(DbError::Task(format!("{}: integrity check failed: {first}", path.display())));
    }
    let fk: Count =
        diesel::sql_query("SELECT COUNT(*) AS n FROM pragma_foreign_key_check").get_result(&mut c)?;
    if fk.n > 0 {
        return Err(DbError::Task(format!("{}: {} rows reference missing rows", path.display(), fk.n)));
    }
    Ok(())
}

/// Per table, a SHA-256 of each row's content keyed by its primary key: imports (with the raw
/// email bytes), events, STIX objects. Two databases with equal digests hold the same data.
pub fn digests(conn: &mut DbConn) -> Result<BTreeMap<&'static str, BTreeMap<i64, String>>, DbError> {
    fn sha(parts: &[&[u8]]) -> String {
        let mut h = Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p);
        }
        hex::encode(h.finalize())
    }
    let mut out = BTreeMap::new();
    type ImportContent = (i64, Vec<u8>, String, String, Option<i64>);
    let rows: Vec<ImportContent> = with_conn!(conn, c => imports::table
        .select((imports::id, imports::raw, imports::state, imports::meta, imports::event_id))
        .order(imports::id)
        .load(c))?;
    out.insert(
        "imports",
        rows.into_iter()
            .map(|(id, raw, state, meta, event)| {
                (
                    id,
                    sha(&[
                        &raw,
                        state.as_bytes(),
                        meta.as_bytes(),
                        event.unwrap_or(0).to_string().as_bytes(),
                    ]),
                )
            })
            .collect(),
    );
    let rows: Vec<(i64, String, String, String, i64)> = with_conn!(conn, c => events::table
        .select((events::id, events::stix_id, events::title, events::tlp, events::created_at))
        .order(events::id)
        .load(c))?;
    out.insert(
        "events",
        rows.into_iter()
            .map(|(id, sid, title, tlp, at)| {
                (id, sha(&[sid.as_bytes(), title.as_bytes(), tlp.as_bytes(), at.to_string().as_bytes()]))
            })
            .collect(),
    );
    let rows: Vec<(i64, String)> = with_conn!(conn, c => stix_objects::table
        .select((stix_objects::pk, stix_objects::json))
        .order(stix_objects::pk)
        .load(c))?;
    out.insert("stix_objects", rows.into_iter().map(|(pk, json)| (pk, sha(&[json.as_bytes()]))).collect());
    Ok(out)
}
