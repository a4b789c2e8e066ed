//! MISP event JSON into partner intake: each attribute Harpoon can indicate becomes (or joins)
//! an indicator: Review when MISP flags it for detection (`to_ids`), Indirect (context, never
//! blocked) when not; the TLP of its own tags, else the event's, else the caller's default.
//! An indicator that exists keeps its status: a partner's data never changes our decisions, it
//! adds a source. The event is the source (`misp event UUID (ORG)`) and the attribute's UUID is
//! kept in `misp_links`; every refused attribute comes back with its reason. One transaction per
//! event, so re-reading an event (a feed's update) only adds what is new.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{MispEvent, parse_document, tlp_of};
use crate::db::indicators::NewIndicator;
use crate::db::misp::{self as links, NewMispLink};
use crate::db::{DbConn, now_micros, write_tx};
use crate::extract::ObservableKind;
use crate::service::ServiceContext;
use crate::service::ServiceError;
use crate::service::indicators::{Status, normalise_tags};
use crate::service::intake;
use crate::stix::Tlp2;

/// An attribute (or event) Harpoon did not take, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub attribute: Option<String>,
    pub misp_type: Option<String>,
    pub value: Option<String>,
    pub reason: String,
}

/// What became of one event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventReport {
    /// `None` when the event itself could not be read.
    pub uuid: Option<String>,
    pub info: String,
    /// Attributes that gave at least one indicator.
    pub taken: usize,
    /// Indicators created (the others existed and got this event as a source).
    pub created: usize,
    pub refused: Vec<Refused>,
}

/// What became of a document's events.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportReport {
    pub events: Vec<EventReport>,
}

/// Reads a MISP JSON document (one event, a list, or MISP's REST answer) into partner intake.
/// `via` says what brought it (`upload by NAME`, a feed's name); `default_tlp` is the TLP of
/// attributes and events that carry none (else the configured default).
pub fn import_document(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    doc: &Value,
    via: &str,
    default_tlp: Option<Tlp2>,
) -> Result<ImportReport, ServiceError> {
    let events = parse_document(doc).map_err(ServiceError::Invalid)?;
    let mut report = ImportReport::default();
    for event in events {
        report.events.push(match event {
            Ok(event) => import_event(conn, ctx, &event, via, default_tlp)?,
            Err(refused) => EventReport { refused: vec![refused], ..EventReport::default() },
        });
    }
    Ok(report)
}

/// One value to store, with the attributes it came from.
struct Wanted {
    status: Status,
    tlp: Tlp2,
    description: Option<String>,
    tags: Vec<String>,
    attributes: Vec<String>,
}

/// Reads one event in one write transaction.
pub fn import_event(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    event: &MispEvent,
    via: &str,
    default_tlp: Option<Tlp2>,
) -> Result<EventReport, ServiceError> {
    let fallback =
        default_tlp.unwrap_or_else(|| crate::stix::parse_tlp(&ctx.policy.default_tlp).unwrap_or(Tlp2::Amber));
    let mut report =
        EventReport { uuid: Some(event.uuid.clone()), info: event.info.clone(), ..EventReport::default() };
    let wanted = wanted_values(event, fallback, &mut report);
    if wanted.is_empty() {
        return Ok(report);
    }
    report.created = store_wanted(conn, ctx, event, via, &wanted)?;
    Ok(report)
}

/// The values the event's attributes give, merged by value (a refused attribute is reported).
fn wanted_values(
    event: &MispEvent,
    fallback: Tlp2,
    report: &mut EventReport,
) -> BTreeMap<(ObservableKind, String), Wanted> {
    let event_tlp = event.tlp();
    let mut wanted: BTreeMap<(ObservableKind, String), Wanted> = BTreeMap::new();
    for attribute in &event.attributes {
        let a = match attribute {
            Ok(a) => a,
            Err(refused) => {
                report.refused.push(refused.clone());
                continue;
            }
        };
        let refuse = |reason: String| Refused {
            attribute: Some(a.uuid.clone()),
            misp_type: Some(a.misp_type.clone()),
            value: Some(super::clip(&a.value, 256)),
            reason,
        };
        if a.deleted {
            report.refused.push(refuse("deleted in MISP".into()));
            continue;
        }
        let values = match super::indicator_values(&a.misp_type, &a.value) {
            Ok(values) => values,
            Err(reason) => {
                report.refused.push(refuse(reason));
                continue;
            }
        };
        report.taken += 1;
        let status = if a.to_ids { Status::Review } else { Status::Indirect };
        let tlp = tlp_of(&a.tags).or(event_tlp).unwrap_or(fallback);
        // Tags other than TLP travel with the value (each checked alone: one bad tag is dropped).
        let tags: Vec<String> = a
            .tags
            .iter()
            .chain(&event.tags)
            .filter(|t| !t.to_ascii_lowercase().starts_with("tlp:"))
            .filter_map(|t| normalise_tags(std::slice::from_ref(t)).ok())
            .flatten()
            .collect();
        for key in values {
            let entry = wanted.entry(key).or_insert_with(|| Wanted {
                status,
                tlp,
                description: (!a.comment.trim().is_empty()).then(|| a.comment.clone()),
                tags: Vec::new(),
                attributes: Vec::new(),
            });
            // The same value twice: for detection if either says so, the stricter TLP.
            if status == Status::Review {
                entry.status = Status::Review;
            }
            entry.tlp = entry.tlp.max(tlp);
            for t in &tags {
                if !entry.tags.contains(t) {
                    entry.tags.push(t.clone());
                }
            }
            entry.attributes.push(a.uuid.clone());
        }
    }
    wanted
}

/// The wanted values stored as indicators in one transaction, each linked to its attributes;
/// how many were new.
fn store_wanted(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    event: &MispEvent,
    via: &str,
    wanted: &BTreeMap<(ObservableKind, String), Wanted>,
) -> Result<usize, ServiceError> {
    let source = format!("misp event {} ({})", event.uuid, event.orgc);
    write_tx(conn, |conn| {
        crate::db::lock_indicator_writers(conn)?;
        let now = now_micros();
        let new: Vec<NewIndicator> = wanted
            .iter()
            .map(|((kind, value), w)| {
                let score = i32::from(ctx.policy.default_score);
                intake::new_indicator(
                    *kind,
                    value,
                    w.status,
                    score,
                    w.tlp.level(),
                    w.description.clone(),
                    now,
                )
            })
            .collect::<Result<_, ServiceError>>()?;
        let rows = intake::upsert_with_source(conn, &new, &source, now)?;
        let mut link_rows = Vec::new();
        let mut created = Vec::new();
        for (row, is_new) in &rows {
            let kind = row.kind;
            let Some(w) = wanted.get(&(kind, row.value.clone())) else { continue };
            for attribute in &w.attributes {
                link_rows.push(NewMispLink {
                    indicator_id: row.id,
                    attribute_uuid: attribute,
                    event_uuid: &event.uuid,
                    event_info: &event.info,
                    orgc: &event.orgc,
                    via,
                    linked_at: now,
                });
            }
            if *is_new {
                if !w.tags.is_empty() {
                    crate::db::indicators::add_tags(conn, &[row.id], &w.tags)?;
                }
                let reason =
                    format!("MISP event {} attribute {} ({via})", event.uuid, w.attributes.join(", "));
                created.push((row, reason));
            }
        }
        links::link(conn, &link_rows)?;
        intake::record_new(conn, ctx, &created, &source)?;
        Ok::<_, ServiceError>(created.len())
    })
}
