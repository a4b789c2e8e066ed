//! The MISP feed format of an export: the files MISP reads from a feed URL (`Feed.php`:
//! `manifest.json`, `<uuid>.json`, `hashes.csv`), generated from the export's indicators with its
//! filters, whitelist and TLP ceiling. A Harpoon event is a MISP event (its UUID is the STIX
//! grouping's); an exported indicator is one attribute in each of its events whose TLP is within
//! the ceiling, and the indicators that belong to no event form one more event per export. Its
//! `timestamp` is the last change of the event or of any of its indicators, so MISP fetches
//! it again whenever what it says may have changed (an indicator leaving the export too).
//! Relationships between indicators are written in the attribute's comment, not as MISP objects:
//! every value stays a plain attribute that MISP correlates and IDS exports see, and the events
//! validate against MISP's strict event schema.
//!
//! Memory: the manifest holds one entry per event and an event file one event; `hashes.csv` is
//! streamed one keyset page at a time like every other export.

use std::collections::{BTreeMap, HashMap};

use md5::{Digest, Md5};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Feed;
use crate::db::DbConn;
use crate::db::events::{self as events_store, EventRow};
use crate::db::indicators::{self as store, IndicatorQuery, IndicatorRow};
use crate::service::ServiceError;
use crate::service::indicators::Status;
use crate::service::misp::{self as mapping, tlp_tag};
use crate::stix::Tlp2;

/// A file of a MISP feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MispFile {
    Manifest,
    Hashes,
    Event(Uuid),
}

impl MispFile {
    /// `manifest.json`, `hashes.csv` or `<uuid>.json`; nothing else is a file of a feed.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "manifest.json" => Some(Self::Manifest),
            "hashes.csv" => Some(Self::Hashes),
            _ => name.strip_suffix(".json").and_then(|u| Uuid::try_parse(u).ok()).map(Self::Event),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Manifest | Self::Event(_) => "application/json",
            Self::Hashes => "text/csv; charset=utf-8",
        }
    }
}

/// A Harpoon event as the feed states it (`None` in the cache: above the ceiling).
#[derive(Debug, Clone)]
struct EventInfo {
    uuid: Uuid,
    row: EventRow,
    tlp: Tlp2,
}

/// Events met while walking the export's indicators, each loaded once.
#[derive(Debug, Default)]
pub(super) struct Events {
    known: HashMap<i64, Option<EventInfo>>,
}

impl Events {
    fn load(&mut self, conn: &mut DbConn, ids: &[i64], ceiling: Tlp2) -> Result<(), ServiceError> {
        let missing: Vec<i64> = ids.iter().copied().filter(|id| !self.known.contains_key(id)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        for row in events_store::by_ids(conn, &missing)? {
            let id = row.id;
            let info = match (mapping::event_uuid(&row.stix_id), row.tlp) {
                (Some(uuid), tlp) if tlp <= ceiling => Some(EventInfo { uuid, tlp, row }),
                _ => None,
            };
            self.known.insert(id, info);
        }
        for id in missing {
            self.known.entry(id).or_insert(None);
        }
        Ok(())
    }

    fn get(&self, id: i64) -> Option<&EventInfo> {
        self.known.get(&id).and_then(Option::as_ref)
    }
}

/// One page of the export's exportable indicators from `query.after` (moved on); the flag says
/// whether it was the last.
fn page(
    conn: &mut DbConn,
    feed: &Feed,
    query: &mut IndicatorQuery,
) -> Result<(Vec<IndicatorRow>, bool), ServiceError> {
    let rows = store::search(conn, query)?;
    let last = (rows.len() as i64) < query.limit;
    if let Some(row) = rows.last() {
        query.after = Some(row.id);
    }
    let rows = rows.into_iter().filter(|row| feed.exportable(row.kind, row)).collect();
    Ok((rows, last))
}

/// Each row's events within the ceiling (loaded into `events`); empty: it belongs to none.
fn events_of(
    conn: &mut DbConn,
    feed: &Feed,
    rows: &[IndicatorRow],
    events: &mut Events,
) -> Result<HashMap<i64, Vec<i64>>, ServiceError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let links = store::event_links(conn, &ids)?;
    let mut event_ids: Vec<i64> = links.iter().map(|(_, e)| *e).collect();
    event_ids.sort_unstable();
    event_ids.dedup();
    events.load(conn, &event_ids, feed.spec.filters.max_tlp)?;
    let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
    for (indicator, event) in links {
        out.entry(indicator).or_default().push(event);
    }
    Ok(out)
}

fn secs(micros: i64) -> i64 {
    micros.div_euclid(1_000_000)
}

fn date(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn orgc(feed: &Feed) -> Value {
    let name = feed.publisher.identity.get("name").and_then(Value::as_str).unwrap_or("Harpoon");
    json!({ "name": name, "uuid": feed.publisher.identity_id.uuid().to_string() })
}

fn standalone_uuid(feed: &Feed) -> Uuid {
    mapping::standalone_event_uuid(&feed.spec.name, feed.publisher.identity_id.as_str())
}

fn standalone_info(feed: &Feed) -> String {
    format!("Harpoon export {}: indicators outside events", feed.spec.name)
}

/// An event's tags: its TLP first, then its own tags.
fn event_tags(tlp: Tlp2, row: Option<&EventRow>) -> Vec<Value> {
    let mut tags = vec![tlp_tag(tlp)];
    if let Some(row) = row {
        let own: Vec<String> = row.tags.0.clone();
        tags.extend(own.into_iter().map(|t| json!({ "name": t })));
    }
    tags
}

/// `manifest.json`: every event that holds at least one exported indicator.
pub(super) fn manifest(conn: &mut DbConn, feed: &Feed) -> Result<Vec<u8>, ServiceError> {
    let mut query = feed.query.clone();
    let mut events = Events::default();
    let mut per_event: BTreeMap<i64, (i32, Tlp2)> = BTreeMap::new();
    let mut standalone: Option<(i32, Tlp2)> = None;
    loop {
        let (rows, last) = page(conn, feed, &mut query)?;
        let links = events_of(conn, feed, &rows, &mut events)?;
        for row in &rows {
            let level = row.tlp;
            let mine = links.get(&row.id).map(Vec::as_slice).unwrap_or_default();
            let add = |slot: &mut (i32, Tlp2)| {
                slot.0 = slot.0.max(row.score);
                slot.1 = slot.1.max(level);
            };
            if mine.is_empty() {
                add(standalone.get_or_insert((0, Tlp2::Clear)));
            }
            for event in mine.iter().filter(|e| events.get(**e).is_some()) {
                add(per_event.entry(*event).or_insert((0, Tlp2::Clear)));
            }
        }
        if last {
            break;
        }
    }
    let ids: Vec<i64> = per_event.keys().copied().collect();
    let changes: HashMap<i64, i64> = store::latest_change_by_event(conn, &ids)?.into_iter().collect();
    let orgc = orgc(feed);
    let mut out = serde_json::Map::new();
    for (id, (score, _)) in &per_event {
        let Some(info) = events.get(*id) else { continue };
        let changed = secs(info.row.updated_at.max(changes.get(id).copied().unwrap_or(0)));
        out.insert(
            info.uuid.to_string(),
            manifest_entry(
                &orgc,
                event_tags(info.tlp, Some(&info.row)),
                &info.row.title,
                &event_date(&info.row),
                *score,
                changed,
            ),
        );
    }
    if let Some((score, tlp)) = standalone {
        let changed = store::latest_change_without_event(conn)?.unwrap_or(feed.generated_at);
        out.insert(
            standalone_uuid(feed).to_string(),
            manifest_entry(
                &orgc,
                event_tags(tlp, None),
                &standalone_info(feed),
                &date(changed),
                score,
                secs(changed),
            ),
        );
    }
    serde_json::to_vec(&Value::Object(out)).map_err(ServiceError::from)
}

fn event_date(row: &EventRow) -> String {
    date(row.happened_at.unwrap_or(row.created_at))
}

fn manifest_entry(orgc: &Value, tags: Vec<Value>, info: &str, date: &str, score: i32, changed: i64) -> Value {
    json!({
        "Orgc": orgc,
        "Tag": tags,
        "info": info,
        "date": date,
        "analysis": "2",
        "threat_level_id": mapping::threat_level(score),
        "timestamp": changed,
        "publish_timestamp": changed,
    })
}

/// `<uuid>.json`: the event with its exported indicators; `None` when the export holds no such
/// event (unknown, above the ceiling, or nothing of it exported).
pub(super) fn event(conn: &mut DbConn, feed: &Feed, uuid: Uuid) -> Result<Option<Vec<u8>>, ServiceError> {
    let mut query = feed.query.clone();
    let info = if uuid == standalone_uuid(feed) {
        query.without_event = true;
        None
    } else {
        let Some(row) = events_store::by_stix_id(conn, &format!("grouping--{uuid}"))? else {
            return Ok(None);
        };
        let tlp = row.tlp;
        if tlp > feed.spec.filters.max_tlp {
            return Ok(None);
        }
        query.event_id = Some(row.id);
        Some(EventInfo { uuid, row, tlp })
    };
    let mut rows = Vec::new();
    loop {
        let (page_rows, last) = page(conn, feed, &mut query)?;
        rows.extend(page_rows);
        if last {
            break;
        }
    }
    if rows.is_empty() {
        return Ok(None);
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, tag) in store::tags(conn, &ids)? {
        tags.entry(id).or_default().push(tag);
    }
    let by_id: HashMap<i64, &IndicatorRow> = rows.iter().map(|r| (r.id, r)).collect();
    let event_tlp = info.as_ref().map_or(Tlp2::Clear, |i| i.tlp);
    let mut attributes = Vec::with_capacity(rows.len());
    let (mut max_score, mut max_tlp, mut changed) = (0, event_tlp, 0);
    for row in &rows {
        let kind = row.kind;
        let level = row.tlp.max(event_tlp);
        max_score = max_score.max(row.score);
        max_tlp = max_tlp.max(level);
        changed = changed.max(row.updated_at);
        let (misp_type, category) = mapping::attribute_type(kind);
        let mut attribute_tags = vec![tlp_tag(level)];
        attribute_tags.extend(tags.get(&row.id).into_iter().flatten().map(|t| json!({ "name": t })));
        attributes.push(json!({
            "uuid": mapping::attribute_uuid(&uuid, kind, &row.value).to_string(),
            "type": misp_type,
            "category": category,
            "value": row.value,
            // Only an Active indicator is for detection.
            "to_ids": row.status == Status::Active,
            "comment": comment(conn, row, &by_id)?,
            "timestamp": secs(row.updated_at).to_string(),
            "disable_correlation": false,
            "deleted": false,
            "Tag": attribute_tags,
        }));
    }
    let (info_text, date_text, event_tags, changed) = match &info {
        Some(i) => {
            let all = store::latest_change_by_event(conn, &[i.row.id])?.first().map_or(0, |(_, t)| *t);
            (
                i.row.title.clone(),
                event_date(&i.row),
                event_tags(i.tlp, Some(&i.row)),
                i.row.updated_at.max(all),
            )
        }
        None => {
            let all = store::latest_change_without_event(conn)?.unwrap_or(changed);
            (standalone_info(feed), date(all), event_tags(max_tlp, None), all)
        }
    };
    let document = json!({ "Event": {
        "uuid": uuid.to_string(),
        "info": info_text,
        "date": date_text,
        "threat_level_id": mapping::threat_level(max_score),
        "analysis": "2",
        "timestamp": secs(changed).to_string(),
        "publish_timestamp": secs(changed).to_string(),
        "published": true,
        "Orgc": orgc(feed),
        "Tag": event_tags,
        "Attribute": attributes,
    }});
    serde_json::to_vec(&document).map(Some).map_err(ServiceError::from)
}

/// An attribute's comment: the indicator's description, then its relationships with the other
/// indicators of the same event (`resolves-to ip-dst 192.0.2.1`, `← derived-from url …`).
fn comment(
    conn: &mut DbConn,
    row: &IndicatorRow,
    in_event: &HashMap<i64, &IndicatorRow>,
) -> Result<String, ServiceError> {
    let mut parts: Vec<String> = Vec::new();
    if let Some(d) = row.description.as_deref().filter(|d| !d.trim().is_empty()) {
        parts.push(d.trim().to_string());
    }
    let mut related = Vec::new();
    for rel in store::relations(conn, row.id)? {
        let (other, arrow) =
            if rel.source_id == row.id { (rel.target_id, "") } else { (rel.source_id, "← ") };
        let Some(other) = in_event.get(&other) else { continue };
        let kind = other.kind;
        related.push(format!("{arrow}{} {} {}", rel.rel_type, mapping::attribute_type(kind).0, other.value));
    }
    if !related.is_empty() {
        related.truncate(50);
        parts.push(format!("Harpoon relationships: {}", related.join("; ")));
    }
    Ok(parts.join(" | "))
}

/// `hashes.csv`, streamed: `md5(value),event uuid` per attribute (what MISP's feed cache
/// correlates), one keyset page per chunk.
#[derive(Debug, Default)]
pub(super) struct Hashes {
    events: Events,
}

impl Hashes {
    /// The lines of the next page; the flag says whether it was the last.
    pub(super) fn next_page(
        &mut self,
        conn: &mut DbConn,
        feed: &Feed,
        query: &mut IndicatorQuery,
    ) -> Result<(Vec<u8>, bool), ServiceError> {
        let (rows, last) = page(conn, feed, query)?;
        let links = events_of(conn, feed, &rows, &mut self.events)?;
        let standalone = standalone_uuid(feed).to_string();
        let mut out = Vec::with_capacity(rows.len() * 70);
        for row in &rows {
            let digest = hex::encode(Md5::digest(row.value.as_bytes()));
            let mine = links.get(&row.id).map(Vec::as_slice).unwrap_or_default();
            if mine.is_empty() {
                out.extend_from_slice(format!("{digest},{standalone}\n").as_bytes());
            }
            for event in mine.iter().filter_map(|e| self.events.get(*e)) {
                out.extend_from_slice(format!("{digest},{}\n", event.uuid).as_bytes());
            }
        }
        Ok((out, last))
    }
}
