//! What an operation found, and how it is kept: new observables become indicators through
//! `indicators::create_or_merge` (the commit's path) with the provenance "operation X run Y";
//! relationships between indicators are stored like a commit's; a sighting becomes a STIX
//! `sighting` of the indicator (where: our identity; observed-data naming the hosts) and a note
//! a STIX `note`. Sightings and notes of an Active indicator go to `active-indicators` at once;
//! a sighting of an indicator not yet Active is published when it becomes Active.

use serde_json::{Value, json};

use super::Subject;
use crate::db::indicators as ind;
use crate::db::operations::{self as store, NewSighting};
use crate::db::types::JsonText;
use crate::db::{DbConn, now_micros, write_tx};
use crate::extract::{IndicatorValue, ObservableKind};
use crate::service::ServiceContext;
use crate::service::ServiceError;
use crate::service::indicators::{Observed, Status, create_or_merge};
use crate::service::whitelist;
use crate::stix::objects::{DomainName, Ipv4Addr, Ipv6Addr, Note, ObservedData, Sdo, Sighting, StixObject};
use crate::stix::{StixId, StixTimestamp};

/// An observable found by an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observable {
    pub kind: ObservableKind,
    pub value: String,
    /// Status if it becomes a new indicator (existing indicators keep theirs).
    pub status: Status,
}

/// One end of a relationship: the run's indicator or a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Subject,
    Value(ObservableKind, String),
}

/// `source relationship_type target`, e.g. domain `resolves-to` ipv4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub source: Node,
    pub rel_type: String,
    pub target: Node,
}

/// The run's indicator seen somewhere.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighted {
    pub count: u32,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Internal hosts it was seen from (IP addresses or host names).
    pub hosts: Vec<String>,
    /// The search that found it, in words.
    pub description: String,
}

/// Everything a run found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    pub observables: Vec<Observable>,
    pub relationships: Vec<Relation>,
    pub sightings: Vec<Sighted>,
    /// Notes about the indicator (kept as STIX notes), e.g. "Splunk: no events in 7 days".
    pub notes: Vec<String>,
    /// Notes for the run only (what was asked, what answered).
    pub log: Vec<String>,
    pub hosts: Vec<String>,
    pub sample: Vec<Value>,
    /// Anything else the operation reports (scripts: exit status, stderr).
    pub extra: serde_json::Map<String, Value>,
}

impl Findings {
    /// The run's stored output.
    pub fn output(&self) -> Value {
        let mut notes: Vec<&str> = self.log.iter().map(String::as_str).collect();
        notes.extend(self.notes.iter().map(String::as_str));
        let mut out = self.extra.clone();
        out.insert("notes".into(), json!(notes));
        out.insert("hosts".into(), json!(self.hosts));
        out.insert("sample".into(), Value::Array(self.sample.clone()));
        Value::Object(out)
    }

    pub fn relate(&mut self, source: Node, rel_type: &str, target: Node) {
        let r = Relation { source, rel_type: rel_type.to_string(), target };
        if !self.relationships.contains(&r) {
            self.relationships.push(r);
        }
    }

    pub fn observe(&mut self, kind: ObservableKind, value: &str, status: Status) {
        if !self.observables.iter().any(|o| o.kind == kind && o.value == value) {
            self.observables.push(Observable { kind, value: value.to_string(), status });
        }
    }
}

/// Keeps the findings of `operation`'s run on `subject` in one write transaction; returns what
/// was created (`indicators`, `relationships`, `sightings`, `notes`).
pub fn apply(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    operation: &str,
    subject: &Subject,
    f: &Findings,
) -> Result<Value, ServiceError> {
    let provenance = format!("operation {operation} run {}", subject.run_id);
    write_tx(conn, |conn| {
        crate::db::lock_indicator_writers(conn)?;
        let row = ind::get(conn, subject.indicator_id)?
            .ok_or_else(|| ServiceError::NotFound(format!("indicator {}", subject.indicator_id)))?;
        apply_in(
            conn,
            ctx,
            &Origin { provenance: &provenance, actor: operation, run_id: Some(subject.run_id) },
            &row,
            f,
        )
    })
}

/// Who found the findings.
pub struct Origin<'a> {
    /// The indicators' source and the relationships' origin: "operation X run Y".
    pub provenance: &'a str,
    pub actor: &'a str,
    pub run_id: Option<i64>,
}

/// [`apply`] inside the caller's write transaction (a commit's url-to-fqdn pivots).
pub fn apply_in(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    origin: &Origin,
    row: &crate::db::indicators::IndicatorRow,
    f: &Findings,
) -> Result<Value, ServiceError> {
    let provenance = origin.provenance;
    let now = now_micros();
    let (created, known) = create_found(conn, ctx, origin, row, f, now)?;
    let mut relationships = 0;
    for relation in relations_of(row.id, f, &known, provenance, now)? {
        if ind::relate(conn, &relation)? {
            relationships += 1;
        }
    }
    let publishable = row.status == Status::Active && row.stix_modified.is_some();
    let tlp = ctx.publisher.tlp(row.tlp);
    let indicator_id = StixId::parse(&row.stix_id)?;
    let mut sightings =
        Sightings { conn, ctx, origin, row, indicator_id: &indicator_id, tlp, publishable, now };
    for s in &f.sightings {
        sightings.record(s)?;
    }
    let conn = sightings.conn;
    if publishable {
        for text in &f.notes {
            let mut note = Note::new(text, vec![indicator_id.clone()])?
                .created_by(&ctx.publisher.identity_id)?
                .with_tlp(tlp)
                .created_at(ts(now)?);
            note.authors = vec![format!("Harpoon {provenance}")];
            ctx.publisher.publish(conn, &[StixObject::from(note).to_value()?], row.tlp)?;
        }
    }
    if !f.sightings.is_empty() {
        ind::add_source(conn, &[row.id], provenance, now)?;
    }
    Ok(json!({
        "indicators": created,
        "relationships": relationships,
        "sightings": f.sightings.len(),
        "notes": f.notes.len(),
    }))
}

fn ts(us: i64) -> Result<StixTimestamp, ServiceError> {
    StixTimestamp::from_micros(us).map_err(ServiceError::from)
}

/// The values found become indicators (or merge into known ones), by status. Returns the ids of
/// the indicators created, and every value known by id (the subject first) for the
/// relationships between them.
#[expect(clippy::type_complexity, reason = "two lists read once by the caller")]
fn create_found(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    origin: &Origin,
    row: &crate::db::indicators::IndicatorRow,
    f: &Findings,
    now: i64,
) -> Result<(Vec<i64>, Vec<(ObservableKind, String, i64)>), ServiceError> {
    let subject_kind = row.kind;
    let rules = whitelist::load(conn)?;
    let mut created: Vec<i64> = Vec::new();
    let mut known: Vec<(ObservableKind, String, i64)> = vec![(subject_kind, row.value.clone(), row.id)];
    for status in Status::ALL {
        let values: Vec<(String, String)> = f
            .observables
            .iter()
            .filter(|o| o.status == status)
            .filter_map(|o| IndicatorValue::parse(o.kind, &o.value).ok())
            // A whitelisted value never becomes an indicator, whoever finds it.
            .filter(|v| rules.matches(v.kind, &v.value).is_none())
            .filter(|v| !(v.kind == subject_kind && v.value == row.value))
            .map(|v| (v.kind.as_str().to_string(), v.value))
            .collect();
        if values.is_empty() {
            continue;
        }
        let observed = Observed {
            values: &values,
            status,
            tlp: row.tlp.level(),
            source: origin.provenance,
            actor: origin.actor,
            reason: origin.provenance,
        };
        for (r, is_new) in create_or_merge(conn, ctx, &observed, now)? {
            if is_new {
                created.push(r.id);
            }
            known.push((r.kind, r.value.clone(), r.id));
        }
    }
    Ok((created, known))
}

/// Where sightings of one indicator are recorded (and published when it is).
struct Sightings<'a, 'c> {
    conn: &'c mut DbConn,
    ctx: &'a ServiceContext,
    origin: &'a Origin<'a>,
    row: &'a crate::db::indicators::IndicatorRow,
    indicator_id: &'a StixId,
    /// The marking of what is recorded: the indicator's own TLP, in the version we emit.
    tlp: crate::stix::Tlp,
    publishable: bool,
    now: i64,
}

/// Several subjects' findings of observables and relationships only (a commit's url-to-fqdn
/// pivots, one per URL) kept in the caller's transaction as one batch per status and TLP: the
/// same rows and relationships as [`apply_in`] per subject, in a handful of statements instead of
/// a dozen per URL. A value found both as evidence (Review) and as context (Indirect) is created
/// as evidence. Findings with sightings or notes go through [`apply_in`].
pub fn apply_observations_in(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    origin: &Origin,
    subjects: &[(&crate::db::indicators::IndicatorRow, Findings)],
) -> Result<(), ServiceError> {
    let (simple, rich): (Vec<_>, Vec<_>) =
        subjects.iter().partition(|(_, f)| f.sightings.is_empty() && f.notes.is_empty());
    for (row, f) in rich {
        apply_in(conn, ctx, origin, row, f)?;
    }
    if simple.is_empty() {
        return Ok(());
    }
    let provenance = origin.provenance;
    let now = now_micros();
    let rules = whitelist::load(conn)?;
    let mut known: Vec<(ObservableKind, String, i64)> =
        simple.iter().map(|(row, _)| (row.kind, row.value.clone(), row.id)).collect();
    let mut tlps: Vec<&str> = simple.iter().map(|(row, _)| row.tlp.level()).collect();
    tlps.sort_unstable();
    tlps.dedup();
    let mut taken: Vec<(String, String)> = Vec::new();
    for status in Status::ALL {
        for tlp in &tlps {
            let mut values: Vec<(String, String)> = simple
                .iter()
                .filter(|(row, _)| row.tlp.level() == *tlp)
                .flat_map(|(_, f)| f.observables.iter())
                .filter(|o| o.status == status)
                .filter_map(|o| IndicatorValue::parse(o.kind, &o.value).ok())
                .filter(|v| rules.matches(v.kind, &v.value).is_none())
                .filter(|v| !known.iter().any(|(k, value, _)| *k == v.kind && *value == v.value))
                .map(|v| (v.kind.as_str().to_string(), v.value))
                .filter(|kv| !taken.contains(kv))
                .collect();
            values.sort();
            values.dedup();
            if values.is_empty() {
                continue;
            }
            let observed = Observed {
                values: &values,
                status,
                tlp,
                source: provenance,
                actor: origin.actor,
                reason: provenance,
            };
            for (r, _) in create_or_merge(conn, ctx, &observed, now)? {
                known.push((r.kind, r.value.clone(), r.id));
            }
            taken.extend(values);
        }
    }
    let mut relations = Vec::new();
    for (row, f) in simple {
        relations.extend(relations_of(row.id, f, &known, provenance, now)?);
    }
    ind::relate_all(conn, &relations)?;
    Ok(())
}

/// The rows for a subject's found relationships whose two ends are indicators (`known`) and
/// differ, each with a new STIX id.
fn relations_of<'a>(
    subject_id: i64,
    f: &'a Findings,
    known: &[(ObservableKind, String, i64)],
    provenance: &'a str,
    now: i64,
) -> Result<Vec<ind::NewRelation<'a>>, ServiceError> {
    let id_of = |node: &Node| node_id(node, subject_id, known);
    let mut out = Vec::new();
    for r in &f.relationships {
        if let (Some(s), Some(t)) = (id_of(&r.source), id_of(&r.target))
            && s != t
        {
            out.push(ind::NewRelation {
                source_id: s,
                rel_type: &r.rel_type,
                target_id: t,
                stix_id: StixId::new_v4("relationship")?.to_string(),
                origin: provenance,
                created_at: now,
            });
        }
    }
    Ok(out)
}

/// The indicator id of a relationship's end: the subject, or a value among those `known`
/// (compared in canonical form).
fn node_id(node: &Node, subject_id: i64, known: &[(ObservableKind, String, i64)]) -> Option<i64> {
    match node {
        Node::Subject => Some(subject_id),
        Node::Value(kind, value) => {
            let canonical = IndicatorValue::parse(*kind, value).ok()?;
            known.iter().find(|(k, v, _)| *k == canonical.kind && *v == canonical.value).map(|(_, _, id)| *id)
        }
    }
}

/// The SCO naming an internal host: its address, or its name when it is a domain name.
fn host_sco(host: &str) -> Option<StixObject> {
    if let Ok(v) = IndicatorValue::parse(ObservableKind::Ipv4, host) {
        return Ipv4Addr::new(&v.value).ok().map(Into::into);
    }
    if let Ok(v) = IndicatorValue::parse(ObservableKind::Ipv6, host) {
        return Ipv6Addr::new(&v.value).ok().map(Into::into);
    }
    let v = IndicatorValue::parse(ObservableKind::Domain, host).ok()?;
    DomainName::new(&v.value).ok().map(Into::into)
}

impl Sightings<'_, '_> {
    /// One sighting: the hosts seen as SCOs, an observed-data when there are any, the sighting
    /// itself; stored, and published when the indicator is and its TLP allows.
    fn record(&mut self, s: &Sighted) -> Result<(), ServiceError> {
        let (ctx, row, now, tlp) = (self.ctx, self.row, self.now, self.tlp);
        let mut objects: Vec<Value> = Vec::new();
        let mut refs: Vec<StixId> = Vec::new();
        for host in &s.hosts {
            if let Some(sco) = host_sco(host) {
                let id = sco.id()?;
                if !refs.contains(&id) {
                    refs.push(id);
                    objects.push(sco.to_value()?);
                }
            }
        }
        let (first, last) = (s.first_seen.min(s.last_seen), s.last_seen.max(s.first_seen));
        let mut sighting = Sighting::new(self.indicator_id)?
            .seen(s.count, ts(first)?, ts(last)?)?
            .where_sighted(&ctx.publisher.identity_id)?
            .created_by(&ctx.publisher.identity_id)?
            .with_tlp(tlp)
            .created_at(ts(now)?);
        if !refs.is_empty() {
            let observed = ObservedData::new(ts(first)?, ts(last)?, s.count.max(1), refs)?
                .created_by(&ctx.publisher.identity_id)?
                .with_tlp(tlp)
                .created_at(ts(now)?);
            sighting = sighting.observed(observed.id())?;
            objects.push(StixObject::from(observed).to_value()?);
        }
        sighting.description = Some(s.description.clone());
        let sighting_id = sighting.id().to_string();
        objects.push(StixObject::from(sighting).to_value()?);
        // Above the TLP ceiling (the indicator's own TLP): kept here, never published.
        let published = self.publishable && ctx.publisher.publish(self.conn, &objects, row.tlp)?;
        store::insert_sighting(
            self.conn,
            &NewSighting {
                indicator_id: row.id,
                run_id: self.origin.run_id,
                stix_id: sighting_id,
                sighting_of: row.stix_id.clone(),
                count: i64::from(s.count),
                first_seen: first,
                last_seen: last,
                hosts: JsonText(s.hosts.clone()),
                description: Some(s.description.clone()),
                objects: Value::Array(objects).to_string(),
                published,
                created_at: now,
            },
        )?;
        Ok(())
    }
}
