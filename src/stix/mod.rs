//! STIX 2.1 as pure data: identifiers, timestamps, objects, patterns, markings and validation.
//! This module does no I/O (schemas are embedded at compile time).

pub mod canonical;
pub mod id;
pub mod marking;
pub mod media_types;
pub mod objects;
pub mod pattern;
pub mod schema;
pub mod timestamp;
pub mod uri;

pub use id::StixId;
pub use marking::{Tlp, Tlp1, Tlp2, UnknownTlp, parse_tlp};
pub use pattern::{Pattern, PatternTerm};
pub use timestamp::{StixTimestamp, TaxiiTimestamp};

/// Why a STIX value could not be parsed or an object could not be built. Every constructor in
/// `stix/` returns this instead of panicking: the values often come from hostile input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StixError {
    #[error("invalid STIX identifier {0:?}: {1}")]
    InvalidId(String, &'static str),
    #[error("invalid STIX type name {0:?}: {1}")]
    InvalidTypeName(String, &'static str),
    #[error("{0:?} is not a STIX 2.1 cyber-observable type")]
    NotAnSco(String),
    #[error("invalid timestamp {0:?}: {1}")]
    InvalidTimestamp(String, &'static str),
    #[error("invalid {algorithm} hash {value:?}")]
    InvalidHash { algorithm: String, value: String },
    #[error("invalid value for {property}: {reason}")]
    InvalidProperty { property: &'static str, reason: String },
    #[error("{property} must reference {expected}, not {found}")]
    WrongReferenceType { property: &'static str, expected: &'static str, found: String },
    #[error("id is not the UUIDv5 of its id-contributing properties ({properties}): expected {expected}")]
    ScoIdMismatch { properties: String, expected: String },
    #[error("canonical JSON failed: {0}")]
    Canonicalization(String),
}

impl StixError {
    /// Shorthand for the most common validation failure.
    pub(crate) fn property(property: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidProperty { property, reason: reason.into() }
    }
}
