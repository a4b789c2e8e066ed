//! Imports and drafts: an email in (raw bytes, from the API, the CLI or a connector) becomes a
//! draft holding the raw bytes verbatim, the extraction and one item per attribute, attachment and
//! indicator; the analyst edits it (prune, add, whitelist, metadata) and commits it into a
//! spear-phish event in one transaction, or abandons it. Importing the same bytes again returns
//! the existing draft. `pipeline` is the use case from upload to stored draft that every edge
//! calls (mbox split, concurrency limit, extraction off the database, commit, failure record,
//! background jobs).

pub mod pipeline;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::ServiceError;
use super::indicators::{Observed, Status, create_or_merge, normalise_tags};
use super::operations::findings::{Origin, apply_observations_in};
use super::operations::url_to_fqdn;
use super::whitelist::{self, RuleSpec, Whitelist};
use crate::db::imports::{self as store, ImportRow, ItemRow, NewImport, NewItem};
use crate::db::indicators as ind;
use crate::db::{DbConn, events, now_micros, write_tx};
pub use crate::domain::EventMeta;
use crate::extract::{self, Extraction, IndicatorValue, Mailbox, MessageInfo, MessageRole, ObservableKind};
use crate::service::ServiceContext;
use crate::stix::parse_tlp;
use crate::stix::{StixId, StixTimestamp};

/// The closed sets of the `imports` and `draft_items` tables.
pub use crate::db::imports::{ImportState, ItemSection, ItemState};

impl EventMeta {
    /// Checks every field; returns the normalised metadata.
    pub fn validated(mut self) -> Result<Self, ServiceError> {
        if let Some(t) = &self.title
            && (t.trim().is_empty() || t.chars().count() > 300)
        {
            return Err(ServiceError::Invalid("title needs 1-300 characters".into()));
        }
        if let Some(t) = &self.event_type {
            let ok = !t.is_empty()
                && t.len() <= 64
                && t.chars().all(|c| c.is_ascii_alphanumeric() || "-_ ".contains(c));
            if !ok {
                return Err(ServiceError::Invalid(format!("invalid event type '{t}'")));
            }
        }
        if let Some(h) = &self.happened_at {
            StixTimestamp::parse(h).map_err(|e| ServiceError::Invalid(format!("happened_at: {e}")))?;
        }
        if let Some(t) = &self.tlp {
            self.tlp = Some(parse_tlp(t)?.level().to_string());
        }
        if let Some(tags) = &self.tags {
            self.tags = Some(normalise_tags(tags)?);
        }
        if self.adversary.as_deref().is_some_and(|a| a.chars().count() > 200) {
            return Err(ServiceError::Invalid("adversary: at most 200 characters".into()));
        }
        Ok(self)
    }

    /// `self` with `other`'s fields where `other` has them.
    pub fn merged(mut self, other: EventMeta) -> Self {
        macro_rules! take {
            ($($f:ident),*) => { $(if other.$f.is_some() { self.$f = other.$f; })* };
        }
        take!(title, event_type, happened_at, description, tlp, tags, adversary);
        self
    }
}

/// An email to import.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub raw: Vec<u8>,
    /// Where it came from: `api`, `upload`, `cli`, `imap:NAME`, a product's name…
    pub source: String,
    /// What a pushing product said about it (kept as given).
    pub source_metadata: Option<Value>,
    pub actor: Option<String>,
    pub meta: EventMeta,
}

/// A draft as stored.
#[derive(Debug, Clone)]
pub struct Imported {
    pub row: ImportRow,
    /// False when the same bytes had been imported before (the existing draft is returned).
    pub created: bool,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// An email checked (not empty, not too large, valid metadata) and hashed: ready to be looked
/// up by content hash and extracted.
#[derive(Debug)]
pub struct Checked {
    req: ImportRequest,
    hash: String,
}

/// Checks an email before any work is spent on it.
pub fn check(ctx: &ServiceContext, mut req: ImportRequest) -> Result<Checked, ServiceError> {
    if req.raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ServiceError::Invalid("the email is empty".into()));
    }
    if req.raw.len() > ctx.extract.max_message_bytes {
        return Err(ServiceError::Invalid(format!(
            "the email is {} bytes; the limit is {}",
            req.raw.len(),
            ctx.extract.max_message_bytes
        )));
    }
    req.meta = req.meta.validated()?;
    let hash = sha256_hex(&req.raw);
    Ok(Checked { req, hash })
}

impl Checked {
    /// The import already holding these bytes, if any (imports are idempotent by content hash).
    pub fn existing(&self, conn: &mut DbConn) -> Result<Option<ImportRow>, ServiceError> {
        Ok(store::by_hash(conn, &self.hash)?)
    }

    /// Extracts the email: pure, CPU- and memory-bound, so it runs with no database connection
    /// held (a pool connection kept through an extraction starves every other request).
    pub fn extract(self, ctx: &ServiceContext) -> Prepared {
        let extraction = extract::extract(&self.req.raw, &ctx.extract);
        Prepared { checked: self, extraction }
    }
}

/// An email extracted and ready to store.
#[derive(Debug)]
pub struct Prepared {
    checked: Checked,
    extraction: Extraction,
}

impl Prepared {
    /// The raw email's size (what storing it sends).
    pub fn raw_len(&self) -> usize {
        self.checked.req.raw.len()
    }
}

/// Keeps an email that could not be imported (a connector's unreadable message) as a failed
/// import with the error and the raw bytes, so nothing is ever dropped.
pub fn record_failure(
    conn: &mut DbConn,
    raw: &[u8],
    source: &str,
    error: &str,
) -> Result<ImportRow, ServiceError> {
    let hash = sha256_hex(raw);
    if let Some(row) = store::by_hash(conn, &hash)? {
        return Ok(row);
    }
    let now = now_micros();
    let new = NewImport {
        content_sha256: &hash,
        raw,
        raw_size: i64::try_from(raw.len()).unwrap_or(i64::MAX),
        source,
        source_metadata: None,
        input_kind: "unknown",
        state: ImportState::Failed,
        error: Some(error),
        extraction: None,
        subject: None,
        sender: None,
        reporter: None,
        message_id: None,
        fingerprint: None,
        meta: "{}",
        created_by: None,
        created_at: now,
        updated_at: now,
    };
    let id = store::insert(conn, &new, &[])?;
    match id {
        Some(id) => store::get(conn, id)?,
        None => store::by_hash(conn, &hash)?,
    }
    .ok_or_else(|| ServiceError::NotFound("import".into()))
}

/// The items and recognition keys of a draft (the fingerprint: sender, normalised subject and
/// the set of URL hosts), computed from an extraction.
struct Draft {
    items: Vec<NewItem>,
    sender: Option<String>,
    reporter: Option<String>,
    message_id: Option<String>,
    fingerprint: String,
}

fn address(m: &Mailbox) -> Option<String> {
    m.address.as_ref().map(|a| a.to_lowercase())
}

fn mailbox_text(m: &Mailbox) -> String {
    match (&m.name, &m.address) {
        (Some(n), Some(a)) if !n.is_empty() => format!("{n} <{a}>"),
        (_, Some(a)) => a.clone(),
        (Some(n), None) => n.clone(),
        (None, None) => String::new(),
    }
}

/// Strips reply/forward prefixes and folds case and spaces, so the same phish forwarded by
/// different employees has one subject.
pub fn normalise_subject(subject: &str) -> String {
    let mut s = subject.trim().to_lowercase();
    loop {
        let before = s.len();
        for prefix in ["re:", "fw:", "fwd:", "aw:", "wg:", "tr:", "[external]", "[ext]", "external:"] {
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest.trim_start().to_string();
            }
        }
        if s.len() == before {
            break;
        }
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `Message-ID` without angle brackets and surrounding space.
pub fn normalise_message_id(id: &str) -> Option<String> {
    let t = id.trim().trim_start_matches('<').trim_end_matches('>').trim();
    (!t.is_empty()).then(|| t.to_string())
}

impl Draft {
    fn build(x: &Extraction, rules: &Whitelist) -> Self {
        let reported = x.reported();
        let envelope = x.messages.iter().find(|m| m.role == MessageRole::ReporterEnvelope);
        let reporter = envelope.and_then(|m| m.from.first()).and_then(address);
        let mut items = attribute_items(reported, reporter.as_deref());
        let hash_values = attachment_items(x, &mut items);
        let mut urls = observable_items(x, rules, &mut items);
        hash_items(hash_values, rules, &mut items);
        let sender = reported.and_then(|m| m.from.first()).and_then(address);
        let message_id = reported.and_then(|m| m.message_id.as_deref()).and_then(normalise_message_id);
        urls.sort();
        urls.dedup();
        let subject = reported.and_then(|m| m.subject.as_deref()).map(normalise_subject).unwrap_or_default();
        let fingerprint = sha256_hex(
            format!("{}\n{}\n{}", sender.as_deref().unwrap_or(""), subject, urls.join("\n")).as_bytes(),
        );
        Self { items, sender, reporter, message_id, fingerprint }
    }
}

/// The reporter, and the reported message's header fields as attributes.
fn attribute_items(reported: Option<&MessageInfo>, reporter: Option<&str>) -> Vec<NewItem> {
    let mut items = Vec::new();
    let attr = |items: &mut Vec<NewItem>, m: &MessageInfo, name: &str, value: String| {
        if !value.trim().is_empty() {
            items.push(item(
                ItemSection::Attribute,
                name,
                value,
                ItemState::Proposed,
                None,
                json!({ "message": m.index }),
            ));
        }
    };
    if let Some(r) = reporter {
        items.push(item(
            ItemSection::Attribute,
            "reporter",
            r.to_owned(),
            ItemState::Proposed,
            None,
            json!({}),
        ));
    }
    if let Some(m) = reported {
        attr(&mut items, m, "subject", m.subject.clone().unwrap_or_default());
        for (name, list) in [
            ("from", &m.from),
            ("sender", &m.sender),
            ("reply_to", &m.reply_to),
            ("to", &m.to),
            ("cc", &m.cc),
            ("bcc", &m.bcc),
        ] {
            for mb in list.iter() {
                attr(&mut items, m, name, mailbox_text(mb));
            }
        }
        for (name, v) in [
            ("return_path", &m.return_path),
            ("date", &m.date),
            ("message_id", &m.message_id),
            ("x_mailer", &m.x_mailer),
            ("user_agent", &m.user_agent),
            ("x_originating_ip", &m.x_originating_ip),
            ("spf", &m.auth.spf),
            ("dkim", &m.auth.dkim),
            ("dmarc", &m.auth.dmarc),
        ] {
            attr(&mut items, m, name, v.clone().unwrap_or_default());
        }
        for hop in &m.received {
            let text = [
                hop.from_host.as_deref().map(|h| format!("from {h}")),
                hop.from_ip.as_deref().map(|i| format!("[{i}]")),
                hop.by_host.as_deref().map(|h| format!("by {h}")),
                hop.protocol.as_deref().map(|p| format!("with {p}")),
                hop.time.clone(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            attr(&mut items, m, "received", text);
        }
    }
    items
}

/// Each attachment as an item; returns the hashes of the files among them, to be proposed.
fn attachment_items(x: &Extraction, items: &mut Vec<NewItem>) -> Vec<(ObservableKind, String, String)> {
    let mut hash_values: Vec<(ObservableKind, String, String)> = Vec::new();
    for a in &x.attachments {
        let name = a.name.clone().unwrap_or_else(|| "(unnamed)".into());
        items.push(item(
            ItemSection::Attachment,
            "file",
            name.clone(),
            ItemState::Proposed,
            None,
            json!({ "message": a.message, "path": a.path, "mime_type": a.mime_type, "size": a.size,
                    "hashes": a.hashes, "members": a.members, "nested_message": a.nested_message }),
        ));
        if a.nested_message.is_none() && a.size > 0 {
            hash_values.push((ObservableKind::Sha256, a.hashes.sha256.clone(), name.clone()));
            hash_values.push((ObservableKind::Md5, a.hashes.md5.clone(), name));
        }
    }
    hash_values
}

/// Each value found, proposed or whitelisted (by the extraction or a rule); returns the hosts
/// of every URL, for the fingerprint.
fn observable_items(x: &Extraction, rules: &Whitelist, items: &mut Vec<NewItem>) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for o in &x.observables {
        let kind = o.indicator.kind;
        let value = &o.indicator.value;
        let (state, reason) = match (o.whitelisted, rules.matches(kind, value)) {
            (Some(r), _) => (
                ItemState::Whitelisted,
                serde_json::to_value(r).ok().and_then(|v| v.as_str().map(str::to_string)),
            ),
            (None, Some(rule)) => {
                (ItemState::Whitelisted, Some(format!("rule {}: {}", rule.id, rule.reason)))
            }
            (None, None) => (ItemState::Proposed, None),
        };
        // Hosts, not whole URLs: campaigns put per-recipient tokens in paths; and every URL,
        // whatever the whitelist says today, so a later rule cannot split one phish in two.
        if kind == ObservableKind::Url
            && let Some(host) = extract::bundle::url_host(value)
        {
            urls.push(host);
        }
        items.push(item(
            ItemSection::Indicator,
            kind.as_str(),
            value.clone(),
            state,
            reason,
            json!({
                "unicode": o.indicator.unicode,
                "registered_domain": o.indicator.registered_domain,
                "ip_scope": o.indicator.ip_scope,
                "defanged": o.defanged,
                "role": o.role,
                "occurrences": o.occurrences,
                "provenance": o.provenance,
            }),
        ));
    }
    urls
}

/// The attachments' hashes as values, unless already found in a text.
fn hash_items(
    hash_values: Vec<(ObservableKind, String, String)>,
    rules: &Whitelist,
    items: &mut Vec<NewItem>,
) {
    for (kind, value, name) in hash_values {
        if value.is_empty() || items.iter().any(|i| i.section == ItemSection::Indicator && i.value == value) {
            continue;
        }
        let (state, reason) = match rules.matches(kind, &value) {
            Some(rule) => (ItemState::Whitelisted, Some(format!("rule {}: {}", rule.id, rule.reason))),
            None => (ItemState::Proposed, None),
        };
        items.push(item(
            ItemSection::Indicator,
            kind.as_str(),
            value,
            state,
            reason,
            json!({ "attachment": name }),
        ));
    }
}

fn item(
    section: ItemSection,
    item_type: &str,
    value: String,
    state: ItemState,
    reason: Option<String>,
    details: Value,
) -> NewItem {
    NewItem {
        import_id: 0,
        section,
        item_type: item_type.into(),
        value,
        state,
        origin: "extracted".into(),
        whitelist_reason: reason,
        details: details.to_string(),
    }
}

/// The draft, if it exists and is still open.
fn open_draft(conn: &mut DbConn, id: i64) -> Result<ImportRow, ServiceError> {
    let row = store::get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("import {id}")))?;
    if row.state != ImportState::Draft {
        return Err(ServiceError::Conflict(format!("import {id} is {}; only a draft can change", row.state)));
    }
    Ok(row)
}

/// The event metadata set on a draft (an unreadable text is an error, not "nothing set").
pub fn meta_of(row: &ImportRow) -> Result<EventMeta, ServiceError> {
    Ok(crate::db::types::json_column("imports.meta", &row.meta)?)
}

/// Sets event metadata on a draft (fields given replace those set before).
pub fn set_meta(conn: &mut DbConn, id: i64, meta: EventMeta) -> Result<ImportRow, ServiceError> {
    let meta = meta.validated()?;
    write_tx(conn, |conn| {
        let row = open_draft(conn, id)?;
        let merged = meta_of(&row)?.merged(meta.clone());
        let text = serde_json::to_string(&merged)?;
        store::set_meta(conn, id, &text, now_micros())?;
        store::get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("import {id}")))
    })
}

/// Adds an indicator the extraction missed (validated and canonicalised like extracted ones).
pub fn add_item(conn: &mut DbConn, id: i64, kind: &str, value: &str) -> Result<ItemRow, ServiceError> {
    let kind = ObservableKind::from_name(kind)
        .ok_or_else(|| ServiceError::Invalid(format!("unknown indicator type '{kind}'")))?;
    let parsed = IndicatorValue::parse(kind, value)
        .map_err(|e| ServiceError::Invalid(format!("'{value}' is not a valid {}: {e}", kind.as_str())))?;
    write_tx(conn, |conn| {
        open_draft(conn, id)?;
        if store::items(conn, id)?.iter().any(|i| {
            i.section == ItemSection::Indicator && i.item_type == kind.as_str() && i.value == parsed.value
        }) {
            return Err(ServiceError::Conflict(format!("{} {} in this draft", kind.as_str(), parsed.value)));
        }
        let rules = whitelist::load(conn)?;
        let (state, reason) = match rules.matches(kind, &parsed.value) {
            Some(rule) => (ItemState::Whitelisted, Some(format!("rule {}: {}", rule.id, rule.reason))),
            None => (ItemState::Proposed, None),
        };
        Ok(store::add_item(
            conn,
            &NewItem {
                import_id: id,
                origin: "analyst".into(),
                ..item(
                    ItemSection::Indicator,
                    kind.as_str(),
                    parsed.value.clone(),
                    state,
                    reason,
                    json!({ "unicode": parsed.unicode }),
                )
            },
        )?)
    })
}

/// Prunes an item or takes a pruning back (`proposed`).
pub fn set_item_state(
    conn: &mut DbConn,
    id: i64,
    item_id: i64,
    state: &str,
) -> Result<ItemRow, ServiceError> {
    let state = match ItemState::from_name(state) {
        Some(state @ (ItemState::Proposed | ItemState::Pruned)) => state,
        _ => {
            return Err(ServiceError::Invalid(format!(
                "an item's state can be set to proposed or pruned, not '{state}'"
            )));
        }
    };
    write_tx(conn, |conn| {
        open_draft(conn, id)?;
        let item = store::item(conn, id, item_id)?
            .ok_or_else(|| ServiceError::NotFound(format!("item {item_id} of import {id}")))?;
        if item.state == ItemState::Whitelisted && state == ItemState::Proposed {
            return Err(ServiceError::Conflict(format!(
                "item {item_id} is whitelisted; remove the rule to propose it"
            )));
        }
        store::set_item_state(conn, item_id, state, item.whitelist_reason.as_deref())?;
        store::item(conn, id, item_id)?.ok_or_else(|| ServiceError::NotFound(format!("item {item_id}")))
    })
}

/// Whitelists a draft's indicator item by creating a rule (exact value of its type unless told
/// otherwise); the rule applies to every stored indicator and every open draft too.
/// How to whitelist a draft item: an exact rule for its value unless told otherwise.
#[derive(Debug, Clone, Default)]
pub struct ItemRule {
    pub match_kind: Option<String>,
    pub pattern: Option<String>,
    pub reason: String,
}

pub fn whitelist_item(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    (id, item_id): (i64, i64),
    how: &ItemRule,
    author: &str,
) -> Result<(crate::db::whitelist::RuleRow, ItemRow), ServiceError> {
    let match_kind = how.match_kind.as_deref();
    let pattern = how.pattern.as_deref();
    let reason = how.reason.as_str();
    open_draft(conn, id)?;
    let item = store::item(conn, id, item_id)?
        .ok_or_else(|| ServiceError::NotFound(format!("item {item_id} of import {id}")))?;
    let kind = ObservableKind::from_name(&item.item_type)
        .filter(|_| item.section == ItemSection::Indicator)
        .ok_or_else(|| ServiceError::Invalid(format!("item {item_id} is not an indicator")))?;
    let match_kind = match_kind.unwrap_or("exact");
    let spec = RuleSpec {
        match_kind: match_kind.to_string(),
        pattern: pattern.unwrap_or(&item.value).to_string(),
        applies_to: (match_kind == "exact").then_some(kind),
        reason: reason.to_string(),
    };
    let rule = super::whitelist::Rule::compile(0, &spec)?;
    if !rule.matches(kind, &item.value) {
        return Err(ServiceError::Invalid(format!(
            "the rule would not match the item's value '{}'",
            item.value
        )));
    }
    let (row, _) = whitelist::create(conn, ctx, &spec, author)?;
    let item =
        store::item(conn, id, item_id)?.ok_or_else(|| ServiceError::NotFound(format!("item {item_id}")))?;
    Ok((row, item))
}

/// Abandons a draft (kept, with its raw bytes; it can no longer be committed).
pub fn abandon(conn: &mut DbConn, id: i64) -> Result<ImportRow, ServiceError> {
    write_tx(conn, |conn| {
        open_draft(conn, id)?;
        store::transition(conn, id, ImportState::Draft, ImportState::Abandoned, None, now_micros())?;
        super::notify::on_final_verdict(conn, id, super::notify::FinalVerdict::NotPhish)?;
        store::get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("import {id}")))
    })
}

/// What a commit did.
#[derive(Debug, Clone)]
pub struct Committed {
    pub event_id: i64,
    /// The report joined an existing event (same phish reported again).
    pub merged: bool,
    pub created: Vec<i64>,
    pub updated: Vec<i64>,
}

/// Commits a draft into an event in one transaction (see the module doc and design.md §1.4).
pub fn commit(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    id: i64,
    actor: &str,
    meta: EventMeta,
) -> Result<Committed, ServiceError> {
    commit_into(conn, ctx, id, actor, meta, None)
}

/// [`commit`], into `event` when given (a `known phish` joining the event its values matched,
/// a campaign's drafts committed together).
pub fn commit_into(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    id: i64,
    actor: &str,
    meta: EventMeta,
    event: Option<i64>,
) -> Result<Committed, ServiceError> {
    let meta = meta.validated()?;
    let committed = write_tx(conn, |conn| {
        crate::db::lock_indicator_writers(conn)?;
        let row = open_draft(conn, id)?;
        let now = now_micros();
        // Claims the draft first: a second commit (or an abandon) racing this one fails here.
        if !store::transition(conn, id, ImportState::Draft, ImportState::Committed, None, now)? {
            return Err(ServiceError::Conflict(format!("import {id} was committed or abandoned meanwhile")));
        }
        let meta = meta_of(&row)?.merged(meta.clone());
        let items = store::items(conn, id)?;
        let mut meta = meta;
        if meta.happened_at.is_none() {
            // The phish's own Date, when it is a real timestamp.
            meta.happened_at = items
                .iter()
                .find(|i| i.section == ItemSection::Attribute && i.item_type == "date")
                .and_then(|i| StixTimestamp::parse(&i.value).ok())
                .map(|t| t.to_string());
        }
        let (event_id, merged) = match event {
            Some(e) => {
                events::get(conn, e)?.ok_or_else(|| ServiceError::NotFound(format!("event {e}")))?;
                events::touch(conn, e, now)?;
                (e, true)
            }
            None => find_or_create_event(conn, ctx, &row, &meta, actor, now)?,
        };
        // Recipients and the reporter.
        let mut people: Vec<(String, &str)> = Vec::new();
        for i in items.iter().filter(|i| i.section == ItemSection::Attribute) {
            let role = match i.item_type.as_str() {
                "to" | "cc" | "bcc" => "recipient",
                "reporter" => "reporter",
                _ => continue,
            };
            if let Some(a) = address_in(&i.value) {
                people.push((a, role));
            }
        }
        events::add_recipients(conn, event_id, id, &people, now)?;
        // Indicators: created or merged, never duplicated (sorted so that parallel commits
        // take row locks in one order).
        let mut proposed: Vec<&ItemRow> = items
            .iter()
            .filter(|i| i.section == ItemSection::Indicator && i.state == ItemState::Proposed)
            .collect();
        proposed.sort_by(|a, b| (&a.item_type, &a.value).cmp(&(&b.item_type, &b.value)));
        proposed.dedup_by(|a, b| a.item_type == b.item_type && a.value == b.value);
        let tlp = meta.tlp.clone().unwrap_or_else(|| ctx.policy.default_tlp.clone());
        let values: Vec<(String, String)> =
            proposed.iter().map(|i| (i.item_type.clone(), i.value.clone())).collect();
        let reason = format!("import {id} into event {event_id}");
        let observed = Observed {
            values: &values,
            status: Status::Review,
            tlp: &tlp,
            source: &row.source,
            actor,
            reason: &reason,
        };
        let rows = create_or_merge(conn, ctx, &observed, now)?;
        let (created, updated): (Vec<_>, Vec<_>) = rows.iter().partition(|(_, is_new)| *is_new);
        let created: Vec<i64> = created.iter().map(|(r, _)| r.id).collect();
        let updated: Vec<i64> = updated.iter().map(|(r, _)| r.id).collect();
        let all: Vec<i64> = rows.iter().map(|(r, _)| r.id).collect();
        ind::link_events(conn, &all, event_id, now)?;
        if let Some(tags) = &meta.tags {
            ind::add_tags(conn, &all, tags)?;
        }
        // url related-to the domain of its host, when both are indicators of this commit.
        let mut relations = Vec::new();
        for (url, _) in rows.iter().filter(|(r, _)| r.kind == ObservableKind::Url) {
            let Some(host) = extract::bundle::url_host(&url.value) else { continue };
            if let Some((domain, _)) =
                rows.iter().find(|(r, _)| r.kind == ObservableKind::Domain && r.value == host)
            {
                relations.push(ind::NewRelation {
                    source_id: url.id,
                    rel_type: "related-to",
                    target_id: domain.id,
                    stix_id: StixId::new_v4("relationship")?.to_string(),
                    origin: "commit",
                    created_at: now,
                });
            }
        }
        ind::relate_all(conn, &relations)?;
        if ctx.url_to_fqdn_at_commit {
            let provenance = format!("url-to-fqdn at the commit of import {id}");
            let origin = Origin { provenance: &provenance, actor, run_id: None };
            let subjects: Vec<_> = rows
                .iter()
                .filter(|(r, _)| r.kind == ObservableKind::Url)
                .map(|(url, _)| (url, url_to_fqdn::pivots(&url.value)))
                .collect();
            apply_observations_in(conn, ctx, &origin, &subjects)?;
        }
        store::transition(conn, id, ImportState::Committed, ImportState::Committed, Some(event_id), now)?;
        super::notify::on_final_verdict(conn, id, super::notify::FinalVerdict::Phish)?;
        Ok(Committed { event_id, merged, created, updated })
    })?;
    crate::metrics::global().commit();
    Ok(committed)
}

fn address_in(text: &str) -> Option<String> {
    let a = match (text.rfind('<'), text.rfind('>')) {
        (Some(s), Some(e)) if s < e => text.get(s + 1..e)?,
        _ => text,
    };
    let a = a.trim().to_lowercase();
    (a.contains('@') && !a.contains(char::is_whitespace)).then_some(a)
}

fn find_or_create_event(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    row: &ImportRow,
    meta: &EventMeta,
    actor: &str,
    now: i64,
) -> Result<(i64, bool), ServiceError> {
    let mid = row.message_id.as_deref();
    let fp = row.fingerprint.as_deref();
    if let Some(e) = events::find_match(conn, mid, fp)? {
        events::touch(conn, e.id, now)?;
        return Ok((e.id, true));
    }
    let title = meta
        .title
        .clone()
        .or_else(|| row.subject.clone().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "Spear-phish".into());
    let tags = serde_json::to_string(&meta.tags.clone().unwrap_or_default()).unwrap_or_else(|_| "[]".into());
    let happened_at =
        meta.happened_at.as_deref().map(StixTimestamp::parse).transpose()?.map(|t| t.as_micros());
    let stix_id = StixId::new_v4("grouping")?.to_string();
    let tlp = meta.tlp.clone().unwrap_or_else(|| ctx.policy.default_tlp.clone());
    let new = events::NewEvent {
        stix_id: &stix_id,
        title: &title,
        event_type: meta.event_type.as_deref().unwrap_or("spearphish"),
        happened_at,
        description: meta.description.as_deref(),
        tlp: &tlp,
        tags: &tags,
        adversary: meta.adversary.as_deref(),
        message_id: mid,
        fingerprint: fp,
        created_by: Some(actor),
        created_at: now,
        updated_at: now,
    };
    match events::insert(conn, &new)? {
        Some(e) => Ok((e.id, false)),
        // Another commit of the same phish won the race: join its event.
        None => events::find_match(conn, mid, fp)?
            .map(|e| (e.id, true))
            .ok_or_else(|| ServiceError::Conflict("an event with that Message-ID".into())),
    }
}
