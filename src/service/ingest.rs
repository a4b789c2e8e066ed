//! Ingesting STIX objects into a collection: schema validation, extraction of the indexed
//! columns, storage, and the per-object outcome a TAXII status resource reports. Shared by TAXII
//! POST and (later) partner intake.

use serde_json::Value;

use crate::db::objects::{self, Added, NewObject};
use crate::db::{DbConn, DbError};
use crate::stix::StixTimestamp;
use crate::stix::schema::StixValidator;

/// One object of a request after validation.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The id as given (or a placeholder when there was none).
    pub id: String,
    /// The version as given (`modified`, else `created`, else empty).
    pub version: String,
    pub object: Result<NewObject, String>,
}

/// The outcome of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Pending,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Pending => "pending",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Detail {
    pub id: String,
    pub version: String,
    pub outcome: Outcome,
    pub message: Option<String>,
}

const MAX_MESSAGE: usize = 2000;

/// Validates one object (raw JSON text as received) and extracts its indexed columns.
pub fn prepare(validator: &StixValidator, raw: &str) -> Prepared {
    let value: Value = match serde_json::from_str(raw) {
        Ok(v) => v,
        Err(e) => {
            return Prepared {
                id: "unknown".into(),
                version: String::new(),
                object: Err(format!("not JSON: {e}")),
            };
        }
    };
    let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
    let id = text("id").unwrap_or_else(|| "unknown".into());
    let version = text("modified").or_else(|| text("created")).unwrap_or_default();
    let object = match validator.validate(&value) {
        Err(violations) => {
            let mut message = violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            if message.len() > MAX_MESSAGE {
                let cut = (0..=MAX_MESSAGE).rev().find(|i| message.is_char_boundary(*i)).unwrap_or(0);
                message.truncate(cut);
                message.push('…');
            }
            Err(message)
        }
        Ok(()) => columns(&value, raw),
    };
    Prepared { id, version, object }
}

fn columns(value: &Value, raw: &str) -> Result<NewObject, String> {
    let text = |k: &str| value.get(k).and_then(Value::as_str);
    let micros = |k: &str| -> Result<Option<i64>, String> {
        text(k)
            .map(|t| StixTimestamp::parse(t).map(|ts| ts.as_micros()).map_err(|e| format!("{k}: {e}")))
            .transpose()
    };
    let created = micros("created")?;
    let modified = micros("modified")?;
    Ok(NewObject {
        stix_id: text("id").ok_or("id is missing")?.to_string(),
        stix_type: text("type").ok_or("type is missing")?.to_string(),
        spec_version: text("spec_version").unwrap_or("2.1").to_string(),
        created,
        modified,
        version: modified.or(created).unwrap_or(0),
        revoked: value.get("revoked").and_then(Value::as_bool).unwrap_or(false),
        json: raw.trim().to_string(),
    })
}

/// Objects per transaction: large envelopes commit in chunks, so a failure loses at most one
/// chunk's work and never leaves a half-written chunk.
const CHUNK: usize = 2000;

/// Stores the valid objects; returns one detail per object, in request order.
pub fn store(
    conn: &mut DbConn,
    collection_id: &str,
    prepared: Vec<Prepared>,
) -> Result<Vec<Detail>, DbError> {
    let mut details: Vec<Option<Detail>> = Vec::with_capacity(prepared.len());
    let mut valid: Vec<(usize, String, NewObject)> = Vec::new();
    for (i, p) in prepared.into_iter().enumerate() {
        match p.object {
            Ok(o) => {
                valid.push((i, p.id, o));
                details.push(None);
            }
            Err(message) => details.push(Some(Detail {
                id: p.id,
                version: p.version,
                outcome: Outcome::Failure,
                message: Some(message),
            })),
        }
    }
    for chunk in valid.chunks(CHUNK) {
        let objects: Vec<NewObject> = chunk.iter().map(|(_, _, o)| o.clone()).collect();
        let outcomes = objects::add_to_collection(conn, collection_id, &objects)?;
        for ((i, id, _), outcome) in chunk.iter().zip(outcomes) {
            let version = match outcome {
                Added::New { version, .. } | Added::Duplicate { version } => version,
            };
            let version = StixTimestamp::from_micros(version).map(|t| t.to_string()).unwrap_or_default();
            if let Some(slot) = details.get_mut(*i) {
                *slot = Some(Detail { id: id.clone(), version, outcome: Outcome::Success, message: None });
            }
        }
    }
    Ok(details.into_iter().flatten().collect())
}
