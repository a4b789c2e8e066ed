//! Ingesting STIX objects into a collection: schema validation, extraction of the indexed
//! columns, storage, and the per-object outcome a TAXII status resource reports. Shared by TAXII
//! POST and (later) partner intake.

use serde_json::Value;

use crate::db::objects::{self, Added, NewObject, Writer};
use crate::db::{Db, DbConn, DbError, status};
use crate::stix::canonical::content_sha256;
use crate::stix::id::check_sco_id;
use crate::stix::objects::StixObject;
use crate::stix::schema::StixValidator;
use crate::stix::{StixId, StixTimestamp, Tlp};

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
        Ok(()) => trust_checks(&value).and_then(|()| columns(&value, raw)),
    };
    Prepared { id, version, object }
}

/// What a schema cannot say about a received object's identity (design.md §7): an SCO's id is
/// the UUIDv5 §2.9 prescribes (else anyone could file an observable under another value's
/// id), and the TLP marking definitions, whose ids the specification fixes, are exactly the
/// published objects (else a forged "TLP:CLEAR" could sit under the real id).
fn trust_checks(value: &Value) -> Result<(), String> {
    check_sco_id(value).map_err(|e| e.to_string())?;
    let id = value.get("id").and_then(Value::as_str).and_then(|t| StixId::parse(t).ok());
    if let Some(tlp) = id.as_ref().and_then(Tlp::from_marking_ref) {
        let published = StixObject::from(tlp.definition()).to_value().map_err(|e| e.to_string())?;
        if content_sha256(value).ok() != content_sha256(&published).ok() {
            return Err(format!(
                "{} is the {} marking definition: it must be exactly the published object",
                tlp.marking_ref(),
                tlp.name()
            ));
        }
    }
    Ok(())
}

/// Objects per validation thread below which one thread does it all (spawning costs more).
const PARALLEL_MIN: usize = 256;

/// [`prepare`] for every object of a request, in request order, on all cores: schema and
/// pattern checks are a sixth of a large POST's time, and the write that follows is serial.
pub fn prepare_all(validator: &StixValidator, raws: &[&str]) -> Vec<Prepared> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(raws.len() / PARALLEL_MIN);
    if threads < 2 {
        return raws.iter().map(|raw| prepare(validator, raw)).collect();
    }
    let per = raws.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = raws
            .chunks(per)
            .map(|part| {
                scope.spawn(move || part.iter().map(|raw| prepare(validator, raw)).collect::<Vec<_>>())
            })
            .collect();
        // A panicking validator thread is a bug: re-raise it here, as a single thread would.
        parts.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}

/// The indexed columns of an already validated object, from its stored text.
fn columns_of_text(raw: &str) -> Result<NewObject, String> {
    let value: Value = serde_json::from_str(raw).map_err(|e| format!("not JSON: {e}"))?;
    columns(&value, raw)
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
        content_sha256: content_sha256(value).map_err(|e| e.to_string())?,
    })
}

/// Objects per transaction: large envelopes commit in chunks, so a failure loses at most one
/// chunk's work and never leaves a half-written chunk.
const CHUNK: usize = 2000;

/// Objects stored (by this process) since the planner statistics were last refreshed.
static SINCE_ANALYZE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Refreshes planner statistics whenever this process's stored total doubles (1k, 2k, 4k, …;
/// every 100k past a million), so plans follow a collection's growth within a factor of two.
fn maybe_analyze(conn: &mut DbConn, stored: usize) {
    use std::sync::atomic::Ordering;
    let before = SINCE_ANALYZE.fetch_add(stored, Ordering::Relaxed);
    let after = before.saturating_add(stored);
    let bits = |n: usize| usize::BITS - n.leading_zeros();
    let crossed =
        if after <= 1 << 20 { bits(before) != bits(after) } else { before / 100_000 != after / 100_000 };
    if stored > 0
        && crossed
        && let Err(e) = crate::db::analyze(conn)
    {
        tracing::warn!("refreshing planner statistics failed: {e}");
    }
}

/// Stores the valid objects; returns one detail per object, in request order.
pub fn store(
    conn: &mut DbConn,
    collection_id: &str,
    prepared: Vec<Prepared>,
) -> Result<Vec<Detail>, DbError> {
    let mut details: Vec<Option<Detail>> = Vec::with_capacity(prepared.len());
    let mut valid: Vec<(usize, String, String, NewObject)> = Vec::new();
    for (i, p) in prepared.into_iter().enumerate() {
        match p.object {
            Ok(o) => {
                valid.push((i, p.id, p.version, o));
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
        let objects: Vec<NewObject> = chunk.iter().map(|(.., o)| o.clone()).collect();
        let outcomes = objects::add_to_collection(conn, collection_id, &objects, Writer::Client)?;
        for ((i, id, sent_version, _), outcome) in chunk.iter().zip(outcomes) {
            let detail = match outcome {
                Added::New { version, .. } | Added::Duplicate { version } => Detail {
                    id: id.clone(),
                    version: StixTimestamp::from_micros(version).map(|t| t.to_string()).unwrap_or_default(),
                    outcome: Outcome::Success,
                    message: None,
                },
                // The version as sent: nothing about the stored object is told.
                Added::Conflict => Detail {
                    id: id.clone(),
                    version: sent_version.clone(),
                    outcome: Outcome::Failure,
                    message: Some(objects::CONFLICT.into()),
                },
            };
            if let Some(slot) = details.get_mut(*i) {
                *slot = Some(detail);
            }
        }
    }
    maybe_analyze(conn, valid.len());
    Ok(details.into_iter().flatten().collect())
}

/// Where a request's objects go, and how long its status is kept.
#[derive(Debug, Clone)]
pub struct Request {
    pub collection_id: String,
    pub user_id: Option<i64>,
    pub now: i64,
    pub retention_micros: i64,
    /// More valid objects than this are stored in the background.
    pub background_threshold: usize,
}

/// What became of a request: its status id, and whether objects wait for [`drain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    Complete(String),
    Background(String),
}

/// Accepts a request: small ones are stored now; large ones are recorded as pending (objects
/// and status in one transaction, so nothing accepted can be lost) for [`drain`] to store.
pub fn accept(conn: &mut DbConn, req: &Request, prepared: Vec<Prepared>) -> Result<Accepted, DbError> {
    let status_id = uuid::Uuid::new_v4().to_string();
    let valid = prepared.iter().filter(|p| p.object.is_ok()).count();
    let background = valid > req.background_threshold;
    let mut pending_rows = Vec::new();
    let details: Vec<Detail> = if background {
        prepared
            .into_iter()
            .enumerate()
            .map(|(i, p)| match p.object {
                Ok(o) => {
                    pending_rows.push(status::PendingRow {
                        status_id: status_id.clone(),
                        position: i as i64,
                        collection_id: req.collection_id.clone(),
                        json: o.json,
                    });
                    Detail { id: p.id, version: p.version, outcome: Outcome::Pending, message: None }
                }
                Err(message) => {
                    Detail { id: p.id, version: p.version, outcome: Outcome::Failure, message: Some(message) }
                }
            })
            .collect()
    } else {
        store(conn, &req.collection_id, prepared)?
    };
    let row = status::StatusRow {
        id: status_id.clone(),
        collection_id: req.collection_id.clone(),
        user_id: req.user_id,
        status: if background { "pending" } else { "complete" }.into(),
        request_timestamp: req.now,
        total_count: details.len() as i64,
        expires_at: req.now.saturating_add(req.retention_micros),
    };
    let detail_rows: Vec<status::DetailRow> = details
        .into_iter()
        .enumerate()
        .map(|(i, d)| status::DetailRow {
            status_id: status_id.clone(),
            position: i as i64,
            stix_id: d.id,
            version: d.version,
            outcome: d.outcome.as_str().into(),
            message: d.message,
        })
        .collect();
    status::insert(conn, &row, &detail_rows, &pending_rows)?;
    Ok(if background { Accepted::Background(status_id) } else { Accepted::Complete(status_id) })
}

/// Stores the pending objects of a background POST, one chunk per transaction, until none is
/// left; then marks the status complete. Safe to run twice at once (another instance resuming
/// the same status): adding is idempotent and settling a settled row changes nothing.
pub async fn drain(db: Db, status_id: String) -> Result<(), DbError> {
    loop {
        let sid = status_id.clone();
        let finished = db
            .run(move |conn| {
                let rows = status::pending(conn, &sid, CHUNK as i64)?;
                let Some(collection_id) = rows.first().map(|r| r.collection_id.clone()) else {
                    status::finish(conn, &sid)?;
                    return Ok::<_, DbError>(true);
                };
                let mut items = Vec::with_capacity(rows.len());
                let mut failed = Vec::new();
                for r in rows {
                    match columns_of_text(&r.json) {
                        Ok(o) => items.push((r.position, o)),
                        Err(m) => failed.push((r.position, m)),
                    }
                }
                objects::add_and_settle(conn, &collection_id, &sid, &items, &failed)?;
                maybe_analyze(conn, items.len());
                Ok(false)
            })
            .await?;
        if finished {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fifth object is broken in a different way; the rest are valid indicators.
    fn raws(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                let id = format!("indicator--00000000-0000-4000-8000-{i:012}");
                match i % 5 {
                    0 => format!("{{\"type\": \"indicator\", \"id\": \"{id}\"}}"),
                    1 => "{not json".to_string(),
                    _ => format!(
                        "{{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"{id}\",\
                         \"created\":\"2026-03-02T09:14:07.120Z\",\"modified\":\"2026-03-02T09:14:07.120Z\",\
                         \"pattern\":\"[domain-name:value = 'a{i}.example']\",\"pattern_type\":\"stix\",\
                         \"valid_from\":\"2026-03-02T09:14:07Z\"}}"
                    ),
                }
            })
            .collect()
    }

    #[test]
    fn parallel_preparation_keeps_request_order_and_outcomes() {
        let validator = StixValidator::new().expect("embedded schemas compile");
        let texts = raws(1_001);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let sequential: Vec<Prepared> = refs.iter().map(|r| prepare(&validator, r)).collect();
        let parallel = prepare_all(&validator, &refs);
        assert_eq!(parallel.len(), refs.len());
        for (i, (p, s)) in parallel.iter().zip(&sequential).enumerate() {
            assert_eq!((&p.id, &p.version), (&s.id, &s.version), "object {i}");
            assert_eq!(p.object, s.object, "object {i}");
            assert_eq!(p.object.is_ok(), i % 5 >= 2, "object {i}: {:?}", p.object);
        }
    }
}
