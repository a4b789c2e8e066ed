//! Use cases shared by every edge (TAXII, REST, UI, CLI). Services call the named functions of
//! `db/` and never build queries; they know nothing of HTTP.

pub mod accounts;
pub mod auth;
pub mod campaigns;
pub mod collections;
pub mod events;
pub mod exports;
pub mod imports;
pub mod indicators;
pub mod ingest;
pub mod intake;
pub mod leases;
pub mod misp;
pub mod notify;
pub mod operations;
pub mod publish;
pub mod reporters;
pub mod served;
pub mod throttle;
pub mod tlp;
pub mod verdict;
pub mod whitelist;

/// The database handle the edges pass to the use cases (they never name `db/`).
pub use crate::db::Db;
use crate::db::DbError;

/// What the use cases need besides the database (publication, policy, extraction limits, verdict
/// and campaign settings), built once at start and shared by every edge.
#[derive(Debug, Clone)]
pub struct ServiceContext {
    pub publisher: publish::Publisher,
    pub policy: indicators::Policy,
    /// Extraction limits and the organisation's own domains and mail hosts.
    pub extract: crate::extract::ExtractOptions,
    /// At commit, also keep each URL's host and registered domain (the url-to-fqdn pivots).
    pub url_to_fqdn_at_commit: bool,
    /// Suggested verdicts of new drafts and their automatic actions.
    pub verdicts: verdict::VerdictConfig,
    /// At import, group the draft into a campaign (`service::campaigns`).
    pub campaigns: bool,
}

/// Errors of the use cases; each HTTP edge maps them to its own error format. A variant with a
/// cause keeps it as its `source` (the chain a log or a test can walk), and shows the message
/// the edges have always shown.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// A bounded queue is full: try again later (429).
    #[error("{0}")]
    Busy(String),
    /// The storage layer failed (not found, conflict and refusal have their own variants).
    #[error(transparent)]
    Db(DbError),
    /// What was given is not valid STIX: a bad request, like `Invalid`.
    #[error("STIX: {0}")]
    Stix(#[from] crate::stix::StixError),
    /// JSON that could not be written or read back: an internal error.
    #[error("internal error: {0}")]
    Json(#[from] serde_json::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DbError> for ServiceError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Conflict(what) => ServiceError::Conflict(what),
            DbError::Refused(why) => ServiceError::Forbidden(why),
            DbError::NotFound => ServiceError::NotFound("record".into()),
            other => ServiceError::Db(other),
        }
    }
}

impl crate::db::Transient for ServiceError {
    fn is_transient(&self) -> bool {
        matches!(self, ServiceError::Db(e) if e.is_transient())
    }
}

impl From<crate::stix::UnknownTlp> for ServiceError {
    fn from(e: crate::stix::UnknownTlp) -> Self {
        ServiceError::Invalid(e.to_string())
    }
}
