//! Spear-phish events: what an event holds (reports, recipients, indicators, commonalities with
//! other events), metadata changes, its STIX form (a `grouping` while internal) and sharing it
//! with partners as a `report` under the TLP ceiling of the target collection: every object of
//! the report is judged by its own TLP (an indicator by its own), not only by the event's.

use std::collections::BTreeMap;

use serde_json::Value;

use super::ServiceError;
use super::imports::EventMeta;
use super::indicators::Status;
use super::publish::{new_object, term_and_sco};
use crate::db::events::{self as store, EventChanges, EventRow};
use crate::db::indicators::{self as ind, IndicatorRow};
use crate::db::{DbConn, collections, now_micros, objects, write_tx};
use crate::service::ServiceContext;

use crate::stix::objects::{Grouping, IntrusionSet, Relationship, Report, Sdo, StixObject};
use crate::stix::{StixId, StixTimestamp, Tlp2};

/// An event with what the event page shows.
#[derive(Debug, Clone)]
pub struct EventView {
    pub row: EventRow,
    pub recipients: Vec<crate::db::events::RecipientRow>,
    pub reports: Vec<crate::db::imports::ImportRow>,
    pub indicators: Vec<IndicatorRow>,
    /// Indicator id → the other events that share it.
    pub commonalities: BTreeMap<i64, Vec<i64>>,
    pub shares: Vec<(String, String, i64)>,
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<EventView, ServiceError> {
    let row = store::get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("event {id}")))?;
    let mut commonalities: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (indicator, other) in ind::shared_with_other_events(conn, id)? {
        commonalities.entry(indicator).or_default().push(other);
    }
    Ok(EventView {
        recipients: store::recipients(conn, id)?,
        reports: crate::db::imports::of_event(conn, id)?,
        indicators: ind::of_event(conn, id)?,
        commonalities,
        shares: store::shares(conn, id)?,
        row,
    })
}

/// Changes an event's metadata.
pub fn update(conn: &mut DbConn, id: i64, meta: EventMeta) -> Result<EventRow, ServiceError> {
    let meta = meta.validated()?;
    let tags = meta.tags.as_ref().map(|t| serde_json::to_string(t).unwrap_or_else(|_| "[]".into()));
    let happened = meta.happened_at.as_deref().map(StixTimestamp::parse).transpose()?.map(|t| t.as_micros());
    write_tx(conn, |conn| {
        store::get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("event {id}")))?;
        let changes = EventChanges {
            title: meta.title.as_deref(),
            event_type: meta.event_type.as_deref(),
            happened_at: happened.map(Some),
            description: meta.description.as_deref().map(Some),
            tlp: meta.tlp.as_deref(),
            tags: tags.as_deref(),
            adversary: meta.adversary.as_deref().map(Some),
            updated_at: now_micros(),
        };
        store::update(conn, id, &changes)?;
        store::get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("event {id}")))
    })
}

/// An object with the TLP it is judged at.
type Judged = (Value, Tlp2);

/// The STIX objects of an event's content, each with the TLP it is judged at: for every
/// indicator that is not whitelisted its observable; for Active ones also the indicator (current
/// version), its observed-data and `based-on`; `related-to` between observables; the adversary
/// as `intrusion-set`. With a `ceiling` (sharing), an indicator whose own TLP (or whose stored
/// objects' markings) are above it is left out with its observable, and so is every
/// relationship with a left-out end.
fn content(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    event: &EventRow,
    ceiling: Option<Tlp2>,
) -> Result<(Vec<Judged>, Vec<StixId>), ServiceError> {
    let tlp = event.tlp;
    let within = |level: Tlp2| ceiling.is_none_or(|c| level <= c);
    let mut objects: Vec<(Value, Tlp2)> =
        ctx.publisher.base_objects(tlp)?.into_iter().map(|o| (o, tlp)).collect();
    let mut refs: Vec<StixId> = Vec::new();
    let mut sco_of: BTreeMap<i64, (StixId, Tlp2)> = BTreeMap::new();
    let rows = ind::of_event(conn, event.id)?;
    let mut active_indicators: Vec<(StixId, Tlp2)> = Vec::new();
    for row in rows.iter().filter(|r| r.status != Status::Whitelisted) {
        let kind = row.kind;
        let Some((_, sco)) = term_and_sco(kind, &row.value)? else { continue };
        // Its own TLP, and never less than the event's.
        let mut level = row.tlp.max(tlp);
        let mut stored_objects = Vec::new();
        if row.status == Status::Active {
            // The published version as it stands, with its observed-data and based-on.
            for stored in [Some(&row.stix_id), row.stix_observed_id.as_ref(), row.stix_based_on_id.as_ref()]
                .into_iter()
                .flatten()
            {
                if let Some(json) = objects::latest_json(conn, &ctx.publisher.collection_id, stored)? {
                    let v: Value = serde_json::from_str(&json)?;
                    level = level.max(crate::stix::marking::carried(&v).unwrap_or(level));
                    stored_objects.push((StixId::parse(stored)?, v));
                }
            }
            // Never published (its TLP was above the ceiling of `active-indicators`): the
            // indicator as it stands, on its own.
            if stored_objects.is_empty() {
                let tags: Vec<String> = ind::tags(conn, &[row.id])?.into_iter().map(|(_, t)| t).collect();
                if let Some(v) = ctx.publisher.standalone(row, &tags)? {
                    stored_objects.push((StixId::parse(&row.stix_id)?, v));
                }
            }
        }
        if !within(level) {
            continue;
        }
        let sco_id = sco.id()?;
        sco_of.insert(row.id, (sco_id.clone(), level));
        objects.push((sco.to_value()?, level));
        refs.push(sco_id);
        for (sid, v) in stored_objects {
            if sid.object_type() == "indicator" {
                active_indicators.push((sid.clone(), level));
            }
            refs.push(sid);
            objects.push((v, level));
        }
    }
    for row in &rows {
        for rel in ind::relations(conn, row.id)?.into_iter().filter(|r| r.source_id == row.id) {
            // Both ends must have been kept (a relationship to a left-out object goes with it).
            if let (Some((s, s_level)), Some((t, t_level))) =
                (sco_of.get(&rel.source_id), sco_of.get(&rel.target_id))
                && let Ok(r) = Relationship::new(&rel.rel_type, s, t)
            {
                let mut r = r.created_by(&ctx.publisher.identity_id)?.with_tlp(ctx.publisher.tlp(tlp));
                r.common.id = StixId::parse(&rel.stix_id)?;
                refs.push(r.id().clone());
                objects.push((StixObject::from(r).to_value()?, (*s_level).max(*t_level)));
            }
        }
    }
    if let Some(adversary) = event.adversary.as_deref().filter(|a| !a.trim().is_empty()) {
        let set = IntrusionSet::new(adversary)?
            .created_by(&ctx.publisher.identity_id)?
            .with_tlp(ctx.publisher.tlp(tlp));
        let set_id = set.id().clone();
        for (indicator, level) in &active_indicators {
            let r = Relationship::indicates(indicator, &set_id)?
                .created_by(&ctx.publisher.identity_id)?
                .with_tlp(ctx.publisher.tlp(tlp));
            refs.push(r.id().clone());
            objects.push((StixObject::from(r).to_value()?, *level));
        }
        refs.push(set_id);
        objects.push((StixObject::from(set).to_value()?, tlp));
    }
    Ok((objects, refs))
}

/// The event as a STIX bundle around a `grouping` (`context: suspicious-activity`).
pub fn grouping_bundle(conn: &mut DbConn, ctx: &ServiceContext, id: i64) -> Result<Value, ServiceError> {
    let event = store::get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("event {id}")))?;
    // For analysts (not a way out): every TLP, each object marked with its own.
    let (content, refs) = content(conn, ctx, &event, None)?;
    let mut objects: Vec<Value> = content.into_iter().map(|(o, _)| o).collect();
    if refs.is_empty() {
        return Err(ServiceError::Invalid(format!("event {id} has no indicators to express in STIX")));
    }
    let tlp = event.tlp;
    let mut grouping = Grouping::suspicious_activity(&event.title, refs)?
        .created_by(&ctx.publisher.identity_id)?
        .with_tlp(ctx.publisher.tlp(tlp))
        .created_at(StixTimestamp::from_micros(event.created_at)?);
    grouping.common.modified = StixTimestamp::from_micros(event.updated_at.max(event.created_at))?;
    grouping.common.id = StixId::parse(&event.stix_id)?;
    grouping.description = event.description.clone();
    objects.push(StixObject::from(grouping).to_value()?);
    Ok(serde_json::json!({
        "type": "bundle",
        "id": StixId::new_v4("bundle")?.to_string(),
        "objects": objects,
    }))
}

/// Shares an event with partners: a `report` with what it references, stored in a sharing-target
/// collection whose TLP ceiling allows the event's TLP (TLP:RED only to a collection marked red).
/// What is above the ceiling in the event (an indicator of its own higher TLP) is left out of
/// the report with its observable and relationships. Sharing again makes a new version of the
/// same report. Returns the report id.
pub fn share(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    id: i64,
    collection_key: &str,
    actor: &str,
) -> Result<String, ServiceError> {
    write_tx(conn, |conn| {
        let event = store::get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("event {id}")))?;
        let collection = collections::by_id_or_alias(conn, collection_key)?
            .ok_or_else(|| ServiceError::NotFound(format!("collection '{collection_key}'")))?;
        let tlp = event.tlp;
        if !collection.share_target {
            return Err(ServiceError::Forbidden(format!(
                "collection '{}' is not a sharing target (set its share_target)",
                collection.title
            )));
        }
        let max = super::tlp::ceiling(&collection);
        if tlp > max {
            return Err(ServiceError::Forbidden(format!(
                "the event is {} and collection '{}' may receive up to {}",
                tlp.label(),
                collection.title,
                max.label()
            )));
        }
        let now = now_micros();
        let (content, refs) = content(conn, ctx, &event, Some(max))?;
        let (mut objs, mut levels): (Vec<Value>, Vec<Tlp2>) = content.into_iter().unzip();
        if refs.is_empty() {
            return Err(ServiceError::Invalid(format!("event {id} has nothing to share")));
        }
        let published = StixTimestamp::from_micros(now)?;
        let mut report =
            Report::spearphish(&format!("Spear-phish #{}: {}", event.id, event.title), published, refs)?
                .created_by(&ctx.publisher.identity_id)?
                .with_tlp(ctx.publisher.tlp(tlp));
        report.description = event.description.clone();
        if let Some(previous) = store::share_of(conn, id, &collection.id)? {
            report.common.id = StixId::parse(&previous)?;
            if let Some(json) = objects::latest_json(conn, &collection.id, &previous)? {
                let old: Value = serde_json::from_str(&json)?;
                if let Some(created) = old.get("created").and_then(Value::as_str) {
                    report.common.created = StixTimestamp::parse(created)?;
                }
            }
        }
        let report_id = report.id().to_string();
        objs.push(StixObject::from(report).to_value()?);
        levels.push(tlp);
        let rows = objs.iter().map(new_object).collect::<Result<Vec<_>, _>>()?;
        let ranks: Vec<i32> = levels.iter().map(|l| l.rank()).collect();
        objects::add_in_transaction(conn, &collection.id, &rows, &ranks, objects::Writer::Sharing)?;
        store::record_share(conn, id, &collection.id, &report_id, actor, now)?;
        Ok(report_id)
    })
}
