//! The connection pool's manager: diesel's r2d2 manager, but a connection is checked with a
//! `SELECT 1` on checkout only when that can find something.
//!
//! r2d2 tests every connection it hands out by default. On PostgreSQL that is one round trip
//! more per database visit, and a TAXII page is one visit: measured, the ping was a quarter of
//! the statements a first page ran. As HikariCP does (`aliveBypassWindowMs`, 500 ms), a
//! connection that was in use a moment ago is handed out unchecked; one idle for longer, or one
//! whose last statement failed (a server restart shows there first), is pinged, and dropped if
//! the ping fails. SQLite connections are files and are never pinged.

use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::r2d2::{ConnectionManager, CustomizeConnection, ManageConnection};

use super::DbConn;

/// A connection used within this long is handed out without a ping.
const ALIVE_BYPASS: Duration = Duration::from_millis(500);

/// A pooled connection, with what the manager needs to decide whether to ping it.
pub struct Pooled {
    pub(super) conn: DbConn,
    health: Arc<Health>,
}

/// Shared with the connection's instrumentation, which sets `failed`. One pointer in [`Pooled`]:
/// a pooled connection is moved in and out of the pool on every checkout.
#[derive(Default)]
struct Health {
    /// Set when a statement on it failed since its last check.
    failed: AtomicBool,
    /// When it was last given back to the pool, in milliseconds since [`EPOCH`].
    returned_ms: AtomicU64,
}

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn now_ms() -> u64 {
    u64::try_from(EPOCH.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl std::ops::Deref for Pooled {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.conn
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.conn
    }
}

/// Records that a statement failed; everything else passes through untouched.
struct FailureFlag(Arc<Health>);

impl Instrumentation for FailureFlag {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::FinishQuery { error: Some(_), .. } = event {
            self.0.failed.store(true, Ordering::Relaxed);
        }
    }
}

pub struct Manager {
    inner: ConnectionManager<DbConn>,
}

impl Manager {
    pub fn new(url: String) -> Self {
        Self { inner: ConnectionManager::new(url) }
    }
}

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Pooled, Self::Error> {
        let mut conn = self.inner.connect()?;
        let health = Arc::new(Health { returned_ms: AtomicU64::new(now_ms()), ..Health::default() });
        diesel::Connection::set_instrumentation(&mut conn, FailureFlag(health.clone()));
        Ok(Pooled { conn, health })
    }

    fn is_valid(&self, c: &mut Pooled) -> Result<(), Self::Error> {
        let idle = now_ms().saturating_sub(c.health.returned_ms.load(Ordering::Relaxed));
        let recent = u128::from(idle) < ALIVE_BYPASS.as_millis();
        let failed = c.health.failed.swap(false, Ordering::Relaxed);
        match c.conn {
            DbConn::Sqlite(_) => Ok(()),
            DbConn::Postgres(_) if recent && !failed => Ok(()),
            DbConn::Postgres(_) => self.inner.is_valid(&mut c.conn),
        }
    }

    fn has_broken(&self, c: &mut Pooled) -> bool {
        // Called by r2d2 on every check-in: the moment the connection was last in use.
        c.health.returned_ms.store(now_ms(), Ordering::Relaxed);
        self.inner.has_broken(&mut c.conn)
    }
}

/// Per-connection settings, applied once when a connection is opened.
#[derive(Debug)]
pub struct Pragmas {
    pub busy_timeout_ms: u128,
}

impl CustomizeConnection<Pooled, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut Pooled) -> Result<(), diesel::r2d2::Error> {
        if let DbConn::Sqlite(c) = &mut conn.conn {
            // busy_timeout first, so writers queue instead of failing with SQLITE_BUSY; foreign
            // keys are off by default in SQLite. (WAL is persistent: set once in `connect`.)
            // Checkpoints every 16,384 pages (64 MiB of WAL) rather than 1,000: TAXII ingest
            // rewrites random index pages (STIX ids are random) in every transaction, and a
            // rarer checkpoint copies each page once for many transactions. Measured with 100k
            // objects stored: 50k more ingested at 12,714 obj/s instead of 7,231 (strace: 20
            // pwrite calls per object before). Temporary storage in memory: a multi-row INSERT in
            // a transaction keeps a statement journal of every page it changes, and on disk that
            // journal was a temp file written and thrown away per statement (ingest at 300k
            // objects: 17.7k -> 19.5k obj/s).
            c.batch_execute(&format!(
                "PRAGMA busy_timeout = {}; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                 PRAGMA wal_autocheckpoint = 16384; PRAGMA temp_store = MEMORY;",
                self.busy_timeout_ms
            ))
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}
