//! Named exports for devices that cannot speak TAXII: their definitions (format, filters,
//! options; created, listed and deleted by administrators) and their generation as a stream of
//! chunks, one keyset page of indicators at a time, so an export of any size is generated in
//! bounded memory. Whitelisted values never appear in any export: the status filter refuses
//! `whitelisted`, and every value is checked against the whitelist rules in force when the
//! generation starts. Nothing above an export's TLP ceiling (`max_tlp`, AMBER unless its
//! definition says otherwise) appears in any format, whatever its `tlp` filter says. How each
//! format writes an indicator is in `render` (pure); the MISP feed's files in `misp`.

mod misp;
mod render;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ServiceError;
use super::indicators::{Status, normalise_tags};
use super::publish::Publisher;
use super::whitelist::{self, Whitelist};
use crate::db::exports::{self as store, ExportRow, NewExport};
use crate::db::indicators::{self as indicators_store, IndicatorQuery, IndicatorRow};
use crate::db::{DbConn, now_micros};
use crate::extract::ObservableKind;
use crate::service::ServiceContext;
use crate::stix::Tlp2;
use crate::stix::parse_tlp;

pub use misp::MispFile;
pub use render::{DomainProtocol, sid_for};

/// The format an export is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One value per line (Palo Alto / Fortinet external dynamic lists).
    Text,
    /// RFC 4180 CSV with a header line.
    Csv,
    /// Suricata rules (Suricata 7 syntax), one per indicator and protocol, with stable SIDs.
    Suricata,
    /// A STIX 2.1 bundle: our identity, the TLP marking definitions and one indicator each.
    Stix,
    /// A MISP feed: `manifest.json`, one `<uuid>.json` per event, `hashes.csv` (see `misp`).
    Misp,
}

impl Format {
    pub const ALL: [Format; 5] = [Self::Text, Self::Csv, Self::Suricata, Self::Stix, Self::Misp];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Csv => "csv",
            Self::Suricata => "suricata",
            Self::Stix => "stix",
            Self::Misp => "misp",
        }
    }

    pub fn parse(text: &str) -> Result<Self, ServiceError> {
        Self::ALL.into_iter().find(|f| f.as_str() == text).ok_or_else(|| {
            ServiceError::Invalid(format!(
                "unknown export format '{}' (use text, csv, suricata, stix or misp)",
                text.escape_debug()
            ))
        })
    }

    /// The media type of a generated export.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Text | Self::Suricata => "text/plain; charset=utf-8",
            Self::Csv => "text/csv; charset=utf-8; header=present",
            Self::Stix => "application/stix+json;version=2.1",
            Self::Misp => "application/json",
        }
    }
}

/// Which indicators an export holds; every filter is optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filters {
    /// Active by default; never Whitelisted.
    pub statuses: Vec<Status>,
    pub kinds: Vec<ObservableKind>,
    pub min_score: Option<u8>,
    /// Every tag must be present.
    pub tags: Vec<String>,
    /// TLP levels (clear, green, amber, amber+strict, red); empty: any within `max_tlp`.
    pub tlps: Vec<String>,
    /// The ceiling: no indicator of a more restrictive TLP is ever exported.
    pub max_tlp: Tlp2,
    /// Only indicators last seen within this many days of the generation.
    pub max_age_days: Option<u32>,
}

/// How an export is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Text: after each domain, a `*.domain` line (matches its subdomains).
    pub domain_wildcards: bool,
    /// Text: URLs without `http://` / `https://` (some firewalls want `host/path`).
    pub strip_url_scheme: bool,
    /// Suricata: the first SID; a rule's SID is `sid_base + 4 × indicator id + protocol slot`.
    pub sid_base: u32,
    /// Suricata: which protocols a domain gets a rule for (DNS query, TLS SNI, HTTP Host).
    pub domain_protocols: Vec<DomainProtocol>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            domain_wildcards: false,
            strip_url_scheme: false,
            sid_base: render::DEFAULT_SID_BASE,
            domain_protocols: vec![DomainProtocol::Dns],
        }
    }
}

/// A named export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSpec {
    pub name: String,
    pub format: Format,
    pub filters: Filters,
    pub options: Options,
}

/// The stored (and accepted) JSON form of the filters.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FiltersDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<Vec<String>>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_score: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tlp: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_tlp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_age_days: Option<i64>,
}

/// The stored (and accepted) JSON form of the options.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionsDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    domain_wildcards: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    strip_url_scheme: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid_base: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    domain_protocols: Option<Vec<String>>,
}

fn doc<T: for<'de> Deserialize<'de> + Default>(what: &str, value: &Value) -> Result<T, ServiceError> {
    if value.is_null() {
        return Ok(T::default());
    }
    T::deserialize(value).map_err(|e| ServiceError::Invalid(format!("export {what}: {e}")))
}

impl ExportSpec {
    /// Parses and checks an export definition: a name usable in a URL path, a known format,
    /// known filters and options (unknown keys are refused, so a typo never widens an export).
    pub fn parse(name: &str, format: &str, filters: &Value, options: &Value) -> Result<Self, ServiceError> {
        let valid_name = name.len() <= 64
            && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !valid_name {
            return Err(ServiceError::Invalid(format!(
                "invalid export name '{}': 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit",
                name.escape_debug()
            )));
        }
        let format = Format::parse(format)?;
        let f: FiltersDoc = doc("filters", filters)?;
        let statuses = match &f.status {
            None => vec![Status::Active],
            Some(list) if list.is_empty() => {
                return Err(ServiceError::Invalid("filters.status: name at least one status".into()));
            }
            Some(list) => list.iter().map(|s| Status::parse(s)).collect::<Result<Vec<_>, _>>()?,
        };
        if statuses.contains(&Status::Whitelisted) {
            return Err(ServiceError::Invalid(
                "filters.status: whitelisted indicators are never exported".into(),
            ));
        }
        let kinds = f
            .kind
            .iter()
            .flatten()
            .map(|k| {
                ObservableKind::from_name(k).ok_or_else(|| {
                    ServiceError::Invalid(format!("filters.type: unknown indicator type '{k}'"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let min_score = f
            .min_score
            .map(|s| {
                u8::try_from(s)
                    .ok()
                    .filter(|s| *s <= 100)
                    .ok_or_else(|| ServiceError::Invalid("filters.min_score must be 0-100".into()))
            })
            .transpose()?;
        let tags = normalise_tags(f.tags.as_deref().unwrap_or_default())?;
        let tlps = f
            .tlp
            .iter()
            .flatten()
            .map(|t| parse_tlp(t).map(|l| l.level().to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        // Definitions stored before ceilings existed get the default (AMBER).
        let max_tlp = super::tlp::parse_ceiling(f.max_tlp.as_deref())?;
        let max_age_days = f
            .max_age_days
            .map(|d| {
                u32::try_from(d)
                    .ok()
                    .filter(|d| (1..=36_500).contains(d))
                    .ok_or_else(|| ServiceError::Invalid("filters.max_age_days must be 1-36500".into()))
            })
            .transpose()?;
        let o: OptionsDoc = doc("options", options)?;
        let defaults = Options::default();
        let sid_base = match o.sid_base {
            None => defaults.sid_base,
            Some(b) => u32::try_from(b).ok().filter(|b| *b >= 1).ok_or_else(|| {
                ServiceError::Invalid("options.sid_base must be a SID (1 to 4294967295)".into())
            })?,
        };
        let domain_protocols = match &o.domain_protocols {
            None => defaults.domain_protocols,
            Some(list) if list.is_empty() => {
                return Err(ServiceError::Invalid("options.domain_protocols: name at least one".into()));
            }
            Some(list) => {
                let mut out = Vec::new();
                for p in list {
                    let p = DomainProtocol::parse(p)?;
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
                out
            }
        };
        Ok(Self {
            name: name.to_string(),
            format,
            filters: Filters { statuses, kinds, min_score, tags, tlps, max_tlp, max_age_days },
            options: Options {
                domain_wildcards: o.domain_wildcards.unwrap_or(false),
                strip_url_scheme: o.strip_url_scheme.unwrap_or(false),
                sid_base,
                domain_protocols,
            },
        })
    }

    /// The filters as JSON (stored, and shown by the API).
    pub fn filters_json(&self) -> Value {
        let f = &self.filters;
        let d = FiltersDoc {
            status: Some(f.statuses.iter().map(|s| s.as_str().to_string()).collect()),
            kind: (!f.kinds.is_empty()).then(|| f.kinds.iter().map(|k| k.as_str().to_string()).collect()),
            min_score: f.min_score.map(i64::from),
            tags: (!f.tags.is_empty()).then(|| f.tags.clone()),
            tlp: (!f.tlps.is_empty()).then(|| f.tlps.clone()),
            max_tlp: Some(f.max_tlp.level().to_string()),
            max_age_days: f.max_age_days.map(i64::from),
        };
        serde_json::to_value(d).unwrap_or_default()
    }

    /// The options as JSON (stored, and shown by the API).
    pub fn options_json(&self) -> Value {
        let o = &self.options;
        let d = OptionsDoc {
            domain_wildcards: Some(o.domain_wildcards),
            strip_url_scheme: Some(o.strip_url_scheme),
            sid_base: Some(i64::from(o.sid_base)),
            domain_protocols: Some(o.domain_protocols.iter().map(|p| p.as_str().to_string()).collect()),
        };
        serde_json::to_value(d).unwrap_or_default()
    }

    fn from_row(row: &ExportRow) -> Result<Self, ServiceError> {
        let parse = |what: &str, text: &str| {
            serde_json::from_str::<Value>(text).map_err(|e| {
                ServiceError::Internal(format!("export {}: stored {what} are corrupt: {e}", row.name))
            })
        };
        Self::parse(
            &row.name,
            &row.format,
            &parse("filters", &row.filters)?,
            &parse("options", &row.options)?,
        )
    }
}

/// A stored export: its definition and who made it when.
#[derive(Debug, Clone)]
pub struct Export {
    pub spec: ExportSpec,
    pub created_by: String,
    pub created_at: i64,
}

impl Export {
    fn from_row(row: &ExportRow) -> Result<Self, ServiceError> {
        Ok(Self {
            spec: ExportSpec::from_row(row)?,
            created_by: row.created_by.clone(),
            created_at: row.created_at,
        })
    }
}

/// Saves a new export; a name in use is a conflict.
pub fn create(conn: &mut DbConn, spec: &ExportSpec, actor: &str) -> Result<Export, ServiceError> {
    let row = store::insert(
        conn,
        &NewExport {
            name: &spec.name,
            format: spec.format.as_str(),
            filters: &spec.filters_json().to_string(),
            options: &spec.options_json().to_string(),
            created_by: actor,
            created_at: now_micros(),
        },
    )
    .map_err(|e| match e {
        crate::db::DbError::Conflict(_) => ServiceError::Conflict(format!("export '{}'", spec.name)),
        other => other.into(),
    })?;
    Export::from_row(&row)
}

pub fn list(conn: &mut DbConn) -> Result<Vec<Export>, ServiceError> {
    store::list(conn)?.iter().map(Export::from_row).collect()
}

pub fn get(conn: &mut DbConn, name: &str) -> Result<Export, ServiceError> {
    let row =
        store::by_name(conn, name)?.ok_or_else(|| ServiceError::NotFound(format!("export '{name}'")))?;
    Export::from_row(&row)
}

pub fn delete(conn: &mut DbConn, name: &str) -> Result<(), ServiceError> {
    if store::delete(conn, name)? { Ok(()) } else { Err(ServiceError::NotFound(format!("export '{name}'"))) }
}

/// The TLP levels an export's query asks for: those of its `tlp` filter (all when empty) within
/// the ceiling. Never empty, since an empty list means any: a filter naming only levels above
/// the ceiling asks for a level no indicator has.
fn within_ceiling(tlps: &[String], max: Tlp2) -> Vec<String> {
    let wanted: Vec<String> = Tlp2::ALL
        .into_iter()
        .filter(|l| *l <= max)
        .map(|l| l.level().to_string())
        .filter(|l| tlps.is_empty() || tlps.contains(l))
        .collect();
    if wanted.is_empty() { vec![String::new()] } else { wanted }
}

/// Indicators read per keyset page (and per chunk of the response).
pub const PAGE_SIZE: i64 = 2_000;

/// One generation of an export: call [`Feed::next_chunk`] until it answers `None`. Each call
/// reads one keyset page (`id > last id`, ascending), so memory stays bounded by one page
/// whatever the export's size, and no indicator is written twice.
pub struct Feed {
    spec: ExportSpec,
    whitelist: Whitelist,
    publisher: Publisher,
    query: IndicatorQuery,
    generated_at: i64,
    started: bool,
    done: bool,
    /// Objects (STIX) or records written so far, for separators.
    written: u64,
    /// A MISP feed's file generated whole when the feed was opened (manifest, event).
    prepared: Option<Vec<u8>>,
    /// A MISP feed's `hashes.csv`, streamed.
    hashes: Option<misp::Hashes>,
    content_type: &'static str,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed").field("export", &self.spec.name).field("after", &self.query.after).finish()
    }
}

impl Feed {
    /// Starts a generation of the export `name`: loads its definition and the whitelist. A
    /// MISP feed has files instead (`open_file`).
    pub fn open(conn: &mut DbConn, ctx: &ServiceContext, name: &str) -> Result<Self, ServiceError> {
        let feed = Self::start(conn, ctx, name)?;
        if feed.spec.format == Format::Misp {
            return Err(ServiceError::Invalid(format!(
                "export '{name}' is a MISP feed: MISP reads its files feed/manifest.json, \
                 feed/<event uuid>.json and feed/hashes.csv"
            )));
        }
        Ok(feed)
    }

    /// Starts a generation of one file of the MISP feed `name` (`manifest.json`, `hashes.csv`,
    /// `<uuid>.json`); any other name, or an export of another format, has no such file. The
    /// manifest and an event are generated here, so a missing event is a 404 before anything
    /// is sent.
    pub fn open_file(
        conn: &mut DbConn,
        ctx: &ServiceContext,
        name: &str,
        file: &str,
    ) -> Result<Self, ServiceError> {
        let missing = || ServiceError::NotFound(format!("file '{}' of export '{name}'", file.escape_debug()));
        let mut feed = Self::start(conn, ctx, name)?;
        let parsed =
            MispFile::parse(file).filter(|_| feed.spec.format == Format::Misp).ok_or_else(missing)?;
        feed.content_type = parsed.content_type();
        match parsed {
            MispFile::Manifest => feed.prepared = Some(misp::manifest(conn, &feed)?),
            MispFile::Event(uuid) => {
                feed.prepared = Some(misp::event(conn, &feed, uuid)?.ok_or_else(missing)?)
            }
            MispFile::Hashes => feed.hashes = Some(misp::Hashes::default()),
        }
        Ok(feed)
    }

    fn start(conn: &mut DbConn, ctx: &ServiceContext, name: &str) -> Result<Self, ServiceError> {
        let spec = get(conn, name)?.spec;
        let whitelist = whitelist::load(conn)?;
        let generated_at = now_micros();
        let f = &spec.filters;
        let query = IndicatorQuery {
            kinds: f.kinds.iter().map(|k| k.as_str().to_string()).collect(),
            statuses: f.statuses.iter().map(|s| s.as_str().to_string()).collect(),
            tags: f.tags.clone(),
            min_score: f.min_score.map(i32::from),
            tlps: within_ceiling(&f.tlps, f.max_tlp),
            seen_since: f
                .max_age_days
                .map(|d| generated_at.saturating_sub(i64::from(d).saturating_mul(86_400_000_000))),
            after: None,
            limit: PAGE_SIZE,
            ..IndicatorQuery::default()
        };
        let content_type = spec.format.content_type();
        Ok(Self {
            spec,
            whitelist,
            publisher: ctx.publisher.clone(),
            query,
            generated_at,
            started: false,
            done: false,
            written: 0,
            prepared: None,
            hashes: None,
            content_type,
        })
    }

    pub fn format(&self) -> Format {
        self.spec.format
    }

    /// The media type of what this generation writes.
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    /// A strong validator of a file generated whole (a MISP manifest or event), for
    /// `If-None-Match` (MISP sends the manifest's).
    pub fn etag(&self) -> Option<String> {
        self.prepared.as_ref().map(|body| {
            use sha2::Digest;
            format!("\"{}\"", hex::encode(sha2::Sha256::digest(body).get(..16).unwrap_or_default()))
        })
    }

    /// The next piece of the export (the header with the first page, the trailer with the
    /// last); `None` once everything was written.
    pub fn next_chunk(&mut self, conn: &mut DbConn) -> Result<Option<Vec<u8>>, ServiceError> {
        if self.done {
            return Ok(None);
        }
        if let Some(body) = self.prepared.take() {
            self.done = true;
            return Ok(Some(body));
        }
        if let Some(mut hashes) = self.hashes.take() {
            let mut query = self.query.clone();
            let (chunk, last) = hashes.next_page(conn, self, &mut query)?;
            self.query = query;
            self.done = last;
            self.hashes = Some(hashes);
            return Ok(Some(chunk));
        }
        let mut out = Vec::with_capacity(128 * 1024);
        if !self.started {
            self.header(&mut out)?;
            self.started = true;
        }
        let rows = indicators_store::search(conn, &self.query)?;
        let last_page = (rows.len() as i64) < self.query.limit;
        if let Some(last) = rows.last() {
            self.query.after = Some(last.id);
        }
        let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
        if matches!(self.spec.format, Format::Csv | Format::Stix) {
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            for (id, tag) in indicators_store::tags(conn, &ids)? {
                tags.entry(id).or_default().push(tag);
            }
        }
        for row in &rows {
            let kind = row.kind;
            if !self.exportable(kind, row) {
                continue;
            }
            let row_tags = tags.get(&row.id).map(Vec::as_slice).unwrap_or_default();
            self.write(&mut out, kind, row, row_tags)?;
        }
        if last_page {
            if self.spec.format == Format::Stix {
                out.extend_from_slice(b"]}\n");
            }
            self.done = true;
        }
        Ok(Some(out))
    }

    /// Never a whitelisted value, whatever the filters say and whenever the rule was made;
    /// never a TLP above the ceiling (checked again here, whatever the query returned).
    fn exportable(&self, kind: ObservableKind, row: &IndicatorRow) -> bool {
        row.tlp <= self.spec.filters.max_tlp
            && row.status != Status::Whitelisted
            && row.whitelist_rule_id.is_none()
            && self.whitelist.matches(kind, &row.value).is_none()
    }

    fn header(&mut self, out: &mut Vec<u8>) -> Result<(), ServiceError> {
        match self.spec.format {
            // A MISP feed's files are written by `misp`.
            Format::Text | Format::Misp => {}
            Format::Csv => out.extend_from_slice(render::CSV_HEADER.as_bytes()),
            Format::Suricata => render::suricata_header(out, &self.spec.name, self.generated_at),
            Format::Stix => {
                let id = crate::stix::StixId::new_v4("bundle")?;
                out.extend_from_slice(
                    format!("{{\"type\":\"bundle\",\"id\":\"{id}\",\"objects\":[").as_bytes(),
                );
                let mut base = vec![self.publisher.identity.clone()];
                for level in Tlp2::ALL.into_iter().filter(|l| *l <= self.spec.filters.max_tlp) {
                    let definition =
                        crate::stix::objects::StixObject::from(self.publisher.tlp(level).definition())
                            .to_value()?;
                    if !base.contains(&definition) {
                        base.push(definition);
                    }
                }
                for object in base {
                    self.stix_object(out, &object.to_string());
                }
            }
        }
        Ok(())
    }

    fn stix_object(&mut self, out: &mut Vec<u8>, json: &str) {
        if self.written > 0 {
            out.push(b',');
        }
        out.push(b'\n');
        out.extend_from_slice(json.as_bytes());
        self.written += 1;
    }

    fn write(
        &mut self,
        out: &mut Vec<u8>,
        kind: ObservableKind,
        row: &IndicatorRow,
        tags: &[String],
    ) -> Result<(), ServiceError> {
        match self.spec.format {
            Format::Text => render::text_lines(out, kind, &row.value, &self.spec.options),
            Format::Csv => render::csv_record(out, row, tags),
            Format::Suricata => {
                render::suricata_rules(out, kind, row.id, &row.value, &self.spec.options);
            }
            Format::Stix => {
                if let Some(json) = stix_indicator(&self.publisher, row, tags)? {
                    self.stix_object(out, &json);
                }
            }
            Format::Misp => {}
        }
        Ok(())
    }
}

/// The indicator SDO of a row as the export states it (an Active indicator's matches what TAXII
/// serves).
fn stix_indicator(
    publisher: &Publisher,
    row: &IndicatorRow,
    tags: &[String],
) -> Result<Option<String>, ServiceError> {
    Ok(publisher.standalone(row, tags)?.as_ref().map(Value::to_string))
}
