//! Storage: the only module that names diesel. One codebase over SQLite (embedded, the default)
//! and PostgreSQL (scale-out), chosen by the database URL scheme.
//!
//! Callers get a [`Db`] handle (an r2d2 pool of [`DbConn`]) and call the named functions of the
//! submodules inside [`Db::run`], which moves the blocking diesel work off the async executor.

pub mod audit;
pub mod backup;
pub mod campaigns;
pub mod collections;
pub mod connectors;
pub mod dashboard;
pub mod events;
pub mod exports;
pub mod imports;
pub mod indicators;
pub mod jobs;
pub mod leases;
pub mod misp;
pub mod notify;
pub mod objects;
pub mod operations;
mod pool;
mod schema;
pub mod secrets;
pub mod served;
pub mod sessions;
pub mod status;
pub mod subscriptions;
pub mod tokens;
pub mod types;
pub mod users;
pub mod verdicts;
pub mod whitelist;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use self::pool::{Manager, Pragmas};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to either backend. Queries that work unchanged on both are written once inside
/// [`with_conn!`], which monomorphises them per backend.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

/// Runs `$body` with `$c` bound to the concrete backend connection of a `&mut DbConn`.
macro_rules! with_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite($c) => $body,
            $crate::db::DbConn::Postgres($c) => $body,
        }
    };
}
pub(crate) use with_conn;

/// Runs `work` in one write transaction: `BEGIN IMMEDIATE` on SQLite (the write lock is taken
/// first, so a transaction that reads before it writes can never fail to upgrade its lock), a
/// plain transaction on PostgreSQL. Everything `work` does commits together or not at all.
///
/// On PostgreSQL a transaction that the server aborted as a deadlock victim or for a
/// serialization failure is rolled back and run again (a few times, with a short randomised
/// pause), as PostgreSQL's documentation asks of clients: parallel commits that share
/// indicators take row locks in orders no single sort can fix (a commit's URL-to-FQDN pivots
/// create rows after its sorted batch). `work` must therefore be repeatable: it may run more
/// than once, and only its last run's writes are kept.
pub fn write_tx<T, E, F>(conn: &mut DbConn, mut work: F) -> Result<T, E>
where
    F: FnMut(&mut DbConn) -> Result<T, E>,
    E: From<DbError> + Transient,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    const ATTEMPTS: u32 = 6;
    let mut attempt = 1;
    loop {
        match conn {
            DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"),
            DbConn::Postgres(c) => AnsiTransactionManager::begin_transaction(c),
        }
        .map_err(DbError::from)?;
        let result = match work(conn) {
            Ok(value) => <DbConn as Connection>::TransactionManager::commit_transaction(conn)
                .map(|()| value)
                .map_err(|e| E::from(DbError::from(e))),
            Err(e) => {
                // The error that caused the rollback is the one worth reporting.
                let _ = <DbConn as Connection>::TransactionManager::rollback_transaction(conn);
                Err(e)
            }
        };
        match result {
            Err(e) if e.is_transient() && attempt < ATTEMPTS && matches!(conn, DbConn::Postgres(_)) => {
                // A failed COMMIT leaves no transaction open; a failed statement was rolled back above.
                let jitter = u64::from(rand::random::<u8>() % 8);
                std::thread::sleep(Duration::from_millis((2u64 << attempt) + jitter));
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Runs several reads as one: on SQLite in one (deferred) transaction, so that they share one
/// snapshot and one WAL read lock instead of taking and dropping it per statement (two `fcntl`
/// calls each, measured in an import's per-value lookups); on PostgreSQL as they are (a
/// `BEGIN`/`COMMIT` would be two more round trips).
pub fn reads<T, E, F>(conn: &mut DbConn, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<DbError>,
{
    match conn {
        DbConn::Sqlite(_) => savepoint(conn, work),
        DbConn::Postgres(_) => work(conn),
    }
}

/// Runs `work` in a savepoint of the open transaction (a transaction of its own when none is
/// open): a failure rolls back `work`'s writes only, and the caller's transaction goes on.
pub fn savepoint<T, E, F>(conn: &mut DbConn, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<DbError>,
{
    use diesel::connection::TransactionManager;
    type Manager = <DbConn as Connection>::TransactionManager;
    Manager::begin_transaction(conn).map_err(|e| E::from(DbError::from(e)))?;
    match work(conn) {
        Ok(value) => Manager::commit_transaction(conn).map(|()| value).map_err(|e| E::from(DbError::from(e))),
        Err(e) => {
            let _ = Manager::rollback_transaction(conn);
            Err(e)
        }
    }
}

/// Serialises the transactions that create or lock many indicator rows (a commit, an operation's
/// findings, partner intake, a whitelist rule) for the rest of the current transaction. On
/// PostgreSQL two such transactions that share values lock rows in crossing orders and one is
/// killed as a deadlock victim after `deadlock_timeout` (1 s): 8 parallel importers of the
/// 1,000-email corpus took 106 s with the retries alone, 18.6 s with this lock. One transaction-scoped advisory lock, shared by every instance on the
/// database, orders them instead; SQLite's `BEGIN IMMEDIATE` already does. Call it first in the
/// transaction, before any row lock.
pub fn lock_indicator_writers(conn: &mut DbConn) -> Result<(), DbError> {
    match conn {
        DbConn::Sqlite(_) => Ok(()),
        DbConn::Postgres(c) => Ok(c.batch_execute("SELECT pg_advisory_xact_lock(726301171)")?),
    }
}

/// Errors that say "run the transaction again": the database gave up on it (a deadlock victim,
/// a serialization failure) for reasons that are about timing, not about the data.
pub trait Transient {
    fn is_transient(&self) -> bool;
}

impl Transient for DbError {
    fn is_transient(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            DbError::Query(Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) => true,
            // diesel has no kind for SQLSTATE 40P01; PostgreSQL's message is fixed text.
            DbError::Query(Error::DatabaseError(_, info)) => info.message().starts_with("deadlock detected"),
            _ => false,
        }
    }
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    BadUrl(String),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("database pool: {0}")]
    Pool(String),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(String),
    /// A write the store refuses whoever asks (e.g. a client adding to a computed collection).
    #[error("{0}")]
    Refused(String),
    #[error("database query failed: {0}")]
    Query(#[source] diesel::result::Error),
    /// A stored value its column's type cannot hold (an unknown enum text, JSON that does not
    /// parse): the row is refused rather than read as a default.
    #[error("corrupt value in the database: {}", types::with_causes(.0))]
    Corrupt(#[source] diesel::result::Error),
    #[error("database task failed: {0}")]
    Task(String),
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => DbError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                DbError::Conflict(info.message().to_string())
            }
            e @ Error::DeserializationError(_) => DbError::Corrupt(e),
            other => DbError::Query(other),
        }
    }
}

/// Which backend a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database URL parsed at the edge: the backend and what to hand to that backend's driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    target: String,
}

impl DatabaseUrl {
    /// `postgres://…` / `postgresql://…` select PostgreSQL; `sqlite://PATH`, `sqlite:PATH`,
    /// `file:PATH` or a plain path select SQLite. Any other `scheme://` is refused, so that a
    /// mistyped PostgreSQL URL never silently creates a SQLite file.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(DbError::BadUrl("the database URL is empty".into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self { backend: Backend::Postgres, target: url.to_string() });
        }
        let path = if let Some(rest) = url.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = url.strip_prefix("sqlite:") {
            rest
        } else if let Some(rest) = url.strip_prefix("file:") {
            rest
        } else if let Some(scheme) = url_scheme(url) {
            return Err(DbError::BadUrl(format!(
                "unsupported database URL scheme '{scheme}:' (use postgres://… or sqlite://PATH)"
            )));
        } else {
            url
        };
        if path.is_empty() {
            return Err(DbError::BadUrl("the SQLite database path is empty".into()));
        }
        Ok(Self { backend: Backend::Sqlite, target: path.to_string() })
    }

    /// A SQLite URL for a file in `dir`.
    pub fn sqlite_file(path: &Path) -> Self {
        Self { backend: Backend::Sqlite, target: path.to_string_lossy().into_owned() }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection string as given (a PostgreSQL URL with its credentials: never log it).
    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// The SQLite file path, if this is a SQLite URL for a file.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        (self.backend == Backend::Sqlite && self.target != ":memory:")
            .then(|| PathBuf::from(self.target.split('?').next().unwrap_or_default()))
    }

    /// The URL with any password replaced, for logs and messages.
    pub fn redacted(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.target),
            Backend::Postgres => redact_password(&self.target),
        }
    }
}

/// The scheme of `text` if it starts like a URL (`letters:`); one letter is a Windows drive.
fn url_scheme(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (scheme.len() > 1
        && first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// Connection settings the pool needs.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connect_timeout: Duration,
    pub sqlite_busy_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 8,
            connect_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// A handle to the database: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    backend: Backend,
    /// The URL the pool connects with (for a connection of its own, [`Db::conn_sized`]).
    target: Arc<str>,
}

/// Above this many bytes sent or read by one statement, PostgreSQL work runs on a connection of
/// its own, closed after use: libpq grows a connection's send and receive buffers to the largest
/// message it has handled and never shrinks them, so a pooled connection that stored one 48 MB
/// email kept 64 MB for its life (peak RSS 542 MiB under bench-starvation, against 415 on
/// SQLite). Pooled connections thus keep at most about twice this each.
pub const LARGE_STATEMENT_BYTES: usize = 1 << 20;

/// A connection for blocking code: pooled, or one of its own that is closed when dropped.
pub enum Conn {
    Pooled(PooledConnection<Manager>),
    Own(Box<DbConn>),
}

impl std::ops::Deref for Conn {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        match self {
            Conn::Pooled(c) => c,
            Conn::Own(c) => c,
        }
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut DbConn {
        match self {
            Conn::Pooled(c) => c,
            Conn::Own(c) => c,
        }
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("backend", &self.backend).finish_non_exhaustive()
    }
}

impl Db {
    /// Opens the pool. One connection is established first so that a wrong URL or an unreachable
    /// server is reported with the driver's own message, before anything is created.
    pub fn connect(url: &DatabaseUrl, options: &PoolOptions) -> Result<Self, DbError> {
        if let Some(path) = url.sqlite_path()
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| DbError::Connect(format!("cannot create directory {}: {e}", dir.display())))?;
        }
        let target = match url.backend {
            Backend::Sqlite => url.target.clone(),
            Backend::Postgres => with_connect_timeout(&url.target, options.connect_timeout),
        };
        // Probe with the concrete driver: its error says why (refused, auth, unknown database).
        match url.backend {
            Backend::Sqlite => {
                let mut c = diesel::SqliteConnection::establish(&target)
                    .map_err(|e| DbError::Connect(format!("{}: {e}", url.redacted())))?;
                // WAL lets readers run beside the one writer; it is a property of the file, so
                // one connection sets it before the pool opens its connections in parallel.
                // Switching the journal mode needs an exclusive lock, for which SQLite may answer
                // "locked" at once (no busy wait) while another instance migrates: retry briefly.
                let mut attempt = 0;
                loop {
                    match c.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;") {
                        Ok(()) => break,
                        Err(e) if attempt < 50 && e.to_string().contains("locked") => {
                            attempt += 1;
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        Err(e) => return Err(DbError::Connect(format!("{}: {e}", url.redacted()))),
                    }
                }
            }
            Backend::Postgres => drop(diesel::PgConnection::establish(&target).map_err(|e| {
                DbError::Connect(format!("{}: {}", url.redacted(), one_line(&e.to_string())))
            })?),
        }
        let manager = Manager::new(target.clone());
        let pool = Pool::builder()
            .max_size(options.max_size.max(1))
            .connection_timeout(options.connect_timeout)
            .connection_customizer(Box::new(Pragmas {
                busy_timeout_ms: options.sqlite_busy_timeout.as_millis(),
            }))
            .build(manager)
            .map_err(|e| DbError::Connect(format!("{}: {e}", url.redacted())))?;
        Ok(Self { pool, backend: url.backend, target: target.into() })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Pool usage: (open connections, idle ones, the maximum), for `/metrics`.
    pub fn pool_state(&self) -> (u32, u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections, self.pool.max_size())
    }

    /// A pooled connection, for blocking code (the CLI, or inside [`Db::run`]).
    pub fn conn(&self) -> Result<PooledConnection<Manager>, DbError> {
        self.pool.get().map_err(|e| DbError::Pool(e.to_string()))
    }

    /// A connection for work that sends or reads about `bytes` bytes in one statement (a raw
    /// email): pooled, except on PostgreSQL above [`LARGE_STATEMENT_BYTES`], where it is a
    /// connection of its own (see there why).
    pub fn conn_sized(&self, bytes: usize) -> Result<Conn, DbError> {
        if self.backend == Backend::Postgres && bytes > LARGE_STATEMENT_BYTES {
            let c =
                DbConn::establish(&self.target).map_err(|e| DbError::Connect(one_line(&e.to_string())))?;
            return Ok(Conn::Own(Box::new(c)));
        }
        Ok(Conn::Pooled(self.conn()?))
    }

    /// [`Db::run`] on a connection from [`Db::conn_sized`]; `usize::MAX` when the size is not
    /// known before (reading a raw email back).
    pub async fn run_sized<T, E, F>(&self, bytes: usize, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || work(&mut *db.conn_sized(bytes)?))
            .await
            .map_err(|e| E::from(DbError::Task(e.to_string())))?
    }

    /// Runs blocking database work on the blocking thread pool and awaits it. The work returns
    /// its caller's error type (`DbError`, `ServiceError`, an edge's error: anything a
    /// `DbError` converts into), so a handler reads `db.run(move |c| service(c, ..)).await?`.
    /// Nothing is retried here: a write transaction that may be retried is [`write_tx`]'s.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|e| DbError::Pool(e.to_string()))?;
            work(&mut conn)
        })
        .await
        .map_err(|e| E::from(DbError::Task(e.to_string())))?
    }

    /// Applies pending migrations; returns the names applied.
    pub fn migrate(&self) -> Result<Vec<String>, DbError> {
        let mut conn = self.conn()?;
        migrate(&mut conn)
    }
}

fn with_connect_timeout(url: &str, timeout: Duration) -> String {
    if url.contains("connect_timeout=") {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}connect_timeout={}", timeout.as_secs().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_backend() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db").map(|u| u.backend()).ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/db").map(|u| u.backend()).ok(),
            Some(Backend::Postgres)
        );
        for sqlite in ["sqlite:///tmp/x.db", "sqlite:x.db", "file:x.db", "./x.db", "/abs/x.db", "C:/x.db"] {
            assert_eq!(
                DatabaseUrl::parse(sqlite).map(|u| u.backend()).ok(),
                Some(Backend::Sqlite),
                "{sqlite}"
            );
        }
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db").ok().and_then(|u| u.sqlite_path()),
            Some(PathBuf::from("/tmp/x.db"))
        );
    }

    #[test]
    fn mistyped_urls_never_become_sqlite_files() {
        for bad in ["postgress://u@h/db", "postgres:/u@h/db", "mysql://h/db", "pg:db", ""] {
            assert!(matches!(DatabaseUrl::parse(bad), Err(DbError::BadUrl(_))), "{bad}");
        }
    }

    #[test]
    fn passwords_are_redacted() {
        let u = DatabaseUrl::parse("postgres://me:s3cret@db/x").expect("url");
        assert_eq!(u.redacted(), "postgres://me:***@db/x");
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Applies pending migrations on one connection; returns the names applied.
/// How many embedded migrations this database lacks (0: current). A cheap read of the
/// migrations table, for `/readyz`.
pub fn pending_migrations(conn: &mut DbConn) -> Result<usize, DbError> {
    let pending = match conn {
        DbConn::Sqlite(c) => c.pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        DbConn::Postgres(c) => c.pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len()),
    };
    pending.map_err(|e| DbError::Migration(e.to_string()))
}

pub fn migrate(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let applied = match conn {
        // Several instances may start at once on one file: the write lock, taken first, makes
        // the others wait (busy_timeout) and then find everything applied.
        DbConn::Sqlite(c) => without_foreign_keys(c, |c| {
            c.immediate_transaction(|c| {
                let applied = c
                    .run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>())
                    .map_err(|e| DbError::Migration(e.to_string()))?;
                check_foreign_keys(c)?;
                Ok(applied)
            })
        })
        .map_err(|e: DbError| e.to_string().into()),
        DbConn::Postgres(c) => {
            // Several instances may start at once: serialise their migrations.
            c.batch_execute("SELECT pg_advisory_lock(726301170)")?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>());
            c.batch_execute("SELECT pg_advisory_unlock(726301170)")?;
            result
        }
    };
    applied.map_err(|e| DbError::Migration(e.to_string()))
}

/// Reverts every applied migration (used by the migration tests and `harpoon migrate --revert-all`).
pub fn revert_all(conn: &mut DbConn) -> Result<usize, DbError> {
    let mut n = 0;
    loop {
        let reverted = match conn {
            DbConn::Sqlite(c) => without_foreign_keys(c, |c| revert_one(c, SQLITE_MIGRATIONS))?,
            DbConn::Postgres(c) => revert_one(c, POSTGRES_MIGRATIONS)?,
        };
        if !reverted {
            return Ok(n);
        }
        n += 1;
    }
}

/// Runs SQLite migrations with foreign key enforcement off, as SQLite's documented procedure for
/// schema changes asks (it cannot change inside a transaction): a table rebuilt to change a
/// constraint is renamed and dropped, and with enforcement on, renaming rewrites the children's
/// references to the old table and dropping it cascades into them. Enforcement is back on
/// afterwards whatever happened; [`check_foreign_keys`] verifies the result before commit.
fn without_foreign_keys<T>(
    c: &mut diesel::SqliteConnection,
    f: impl FnOnce(&mut diesel::SqliteConnection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    c.batch_execute("PRAGMA foreign_keys = OFF")?;
    let result = f(c);
    c.batch_execute("PRAGMA foreign_keys = ON")?;
    result
}

/// Fails (so the migration's transaction rolls back) if any row references a missing parent.
fn check_foreign_keys(c: &mut diesel::SqliteConnection) -> Result<(), DbError> {
    #[derive(QueryableByName)]
    struct Violations {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let v: Violations =
        diesel::sql_query("SELECT COUNT(*) AS n FROM pragma_foreign_key_check").get_result(c)?;
    if v.n == 0 {
        Ok(())
    } else {
        Err(DbError::Migration(format!("{} rows would reference missing rows", v.n)))
    }
}

fn revert_one<B, C>(c: &mut C, source: EmbeddedMigrations) -> Result<bool, DbError>
where
    B: diesel::backend::Backend,
    C: MigrationHarness<B>,
{
    let applied = c.applied_migrations().map_err(|e| DbError::Migration(e.to_string()))?;
    if applied.is_empty() {
        return Ok(false);
    }
    c.revert_last_migration(source).map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(true)
}

/// The embedded migration names of each backend, for the pairing test.
pub fn migration_names() -> (Vec<String>, Vec<String>) {
    use diesel::migration::MigrationSource;
    let names = |source: EmbeddedMigrations| -> Vec<String> {
        MigrationSource::<diesel::sqlite::Sqlite>::migrations(&source)
            .map(|v| v.iter().map(|m| m.name().to_string()).collect())
            .unwrap_or_default()
    };
    (names(SQLITE_MIGRATIONS), names(POSTGRES_MIGRATIONS))
}

/// Refreshes the query planner's statistics for the tables TAXII pages over. Without them, after
/// a bulk load SQLite scans a whole collection for an id lookup (it prefers the index that avoids
/// a sort) and PostgreSQL sorts every row after a cursor. Cheap: SQLite samples at most 1,000
/// rows per index (`analysis_limit`); PostgreSQL samples a fixed number of rows.
pub fn analyze(conn: &mut DbConn) -> Result<(), DbError> {
    match conn {
        DbConn::Sqlite(c) => c.batch_execute(
            "PRAGMA analysis_limit = 1000; ANALYZE collection_objects; ANALYZE stix_objects;",
        )?,
        DbConn::Postgres(c) => c.batch_execute("ANALYZE collection_objects; ANALYZE stix_objects;")?,
    }
    Ok(())
}

/// A description of the schema (tables, columns, indexes) for the up/down/up test.
pub fn schema_fingerprint(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let rows: Vec<Line> = match conn {
        DbConn::Sqlite(c) => diesel::sql_query(
            "SELECT type || ' ' || name || ' ' || coalesce(sql, '') AS line FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations' ORDER BY line",
        )
        .load(c)?,
        DbConn::Postgres(c) => diesel::sql_query(
            "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' \
             || coalesce(column_default, '') AS line FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '__diesel_schema_migrations' \
             UNION ALL SELECT indexdef AS line FROM pg_indexes WHERE schemaname = current_schema() \
             AND tablename <> '__diesel_schema_migrations' ORDER BY line",
        )
        .load(c)?,
    };
    Ok(rows.into_iter().map(|r| r.line).collect())
}

/// Test support: PostgreSQL schemas that isolate one test's tables from every other test's.
pub mod testing {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection};

    use super::DbError;

    /// Creates schema `name` and returns a URL whose connections use it as their search path.
    pub fn create_pg_schema(base_url: &str, name: &str) -> Result<String, DbError> {
        let mut c = PgConnection::establish(base_url).map_err(|e| DbError::Connect(e.to_string()))?;
        c.batch_execute(&format!("CREATE SCHEMA \"{name}\""))?;
        let sep = if base_url.contains('?') { '&' } else { '?' };
        Ok(format!("{base_url}{sep}options=-c%20search_path%3D{name}"))
    }

    /// Runs SQL statements on one of the pool's connections: tests arrange what no API can
    /// produce (a trigger that refuses one email's insert, to make its import fail repeatably).
    pub fn execute(db: &super::Db, sql: &str) -> Result<(), DbError> {
        let mut conn = db.conn()?;
        match &mut **conn {
            super::DbConn::Sqlite(c) => c.batch_execute(sql)?,
            super::DbConn::Postgres(c) => c.batch_execute(sql)?,
        }
        Ok(())
    }

    /// Drops schema `name` and everything in it.
    pub fn drop_pg_schema(base_url: &str, name: &str) -> Result<(), DbError> {
        let mut c = PgConnection::establish(base_url).map_err(|e| DbError::Connect(e.to_string()))?;
        c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))?;
        Ok(())
    }
}

/// Microseconds since the Unix epoch, now: the unit every timestamp column uses.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
