//! The `imports` and `draft_items` tables: imported emails (raw bytes verbatim, extraction) and
//! the items of their drafts.

use diesel::prelude::*;

use super::schema::{draft_items as di, imports as im};
use super::types::text_set;
use super::{DbConn, DbError, with_conn};

text_set! {
    /// Where an import is in its life.
    pub enum ImportState("imports.state") {
        Draft = "draft",
        Committed = "committed",
        Abandoned = "abandoned",
        Failed = "failed",
    }
}

text_set! {
    /// Which part of a draft an item belongs to.
    pub enum ItemSection("draft_items.section") {
        Attribute = "attribute",
        Attachment = "attachment",
        Indicator = "indicator",
    }
}

text_set! {
    /// Whether a draft item goes into the event.
    pub enum ItemState("draft_items.state") {
        Proposed = "proposed",
        Pruned = "pruned",
        Whitelisted = "whitelisted",
    }
}

/// An import without its (large) raw bytes and extraction.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = im)]
pub struct ImportRow {
    pub id: i64,
    pub content_sha256: String,
    pub raw_size: i64,
    pub source: String,
    pub source_metadata: Option<String>,
    pub input_kind: String,
    pub state: ImportState,
    pub error: Option<String>,
    pub subject: Option<String>,
    pub sender: Option<String>,
    pub reporter: Option<String>,
    pub message_id: Option<String>,
    pub fingerprint: Option<String>,
    pub meta: String,
    pub event_id: Option<i64>,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = im)]
pub struct NewImport<'a> {
    pub content_sha256: &'a str,
    pub raw: &'a [u8],
    pub raw_size: i64,
    pub source: &'a str,
    pub source_metadata: Option<&'a str>,
    pub input_kind: &'a str,
    pub state: ImportState,
    pub error: Option<&'a str>,
    pub extraction: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub sender: Option<&'a str>,
    pub reporter: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub fingerprint: Option<&'a str>,
    pub meta: &'a str,
    pub created_by: Option<&'a str>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = di)]
pub struct ItemRow {
    pub id: i64,
    pub import_id: i64,
    pub section: ItemSection,
    pub item_type: String,
    pub value: String,
    pub state: ItemState,
    pub origin: String,
    pub whitelist_reason: Option<String>,
    pub details: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = di)]
pub struct NewItem {
    pub import_id: i64,
    pub section: ItemSection,
    pub item_type: String,
    pub value: String,
    pub state: ItemState,
    pub origin: String,
    pub whitelist_reason: Option<String>,
    pub details: String,
}

const INSERT_CHUNK: usize = 500;

/// The import with these content bytes, if any.
pub fn by_hash(conn: &mut DbConn, sha256: &str) -> Result<Option<ImportRow>, DbError> {
    Ok(with_conn!(conn, c => im::table
        .filter(im::content_sha256.eq(sha256))
        .select(ImportRow::as_select())
        .get_result(c)
        .optional())?)
}

/// Inserts an import with its items; `None` if the same bytes were imported meanwhile (the
/// content hash is unique, so two parallel imports of one email make one draft).
pub fn insert(conn: &mut DbConn, new: &NewImport<'_>, items: &[NewItem]) -> Result<Option<i64>, DbError> {
    let id: Option<i64> = with_conn!(conn, c => diesel::insert_into(im::table)
        .values(new)
        .on_conflict(im::content_sha256)
        .do_nothing()
        .returning(im::id)
        .get_result(c)
        .optional())?;
    let Some(id) = id else { return Ok(None) };
    let items: Vec<NewItem> = items.iter().cloned().map(|i| NewItem { import_id: id, ..i }).collect();
    for chunk in items.chunks(INSERT_CHUNK) {
        with_conn!(conn, c => diesel::insert_into(di::table).values(chunk).execute(c))?;
    }
    Ok(Some(id))
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<Option<ImportRow>, DbError> {
    Ok(with_conn!(conn, c => im::table.find(id).select(ImportRow::as_select()).get_result(c).optional())?)
}

/// Which recognition key of an email to match.
#[derive(Debug, Clone, Copy)]
pub enum SameEmailKey<'a> {
    MessageId(&'a str),
    Fingerprint(&'a str),
}

/// The event that an earlier report of the same email was committed into: the first committed
/// import with the same key.
pub fn committed_event_of_same(conn: &mut DbConn, key: SameEmailKey<'_>) -> Result<Option<i64>, DbError> {
    let earlier = im::state.eq(ImportState::Committed).and(im::event_id.is_not_null());
    let found: Option<Option<i64>> = match key {
        SameEmailKey::MessageId(m) => with_conn!(conn, c => im::table
            .filter(im::message_id.eq(m).and(earlier))
            .order(im::id.asc())
            .select(im::event_id)
            .get_result(c)
            .optional())?,
        SameEmailKey::Fingerprint(f) => with_conn!(conn, c => im::table
            .filter(im::fingerprint.eq(f).and(earlier))
            .order(im::id.asc())
            .select(im::event_id)
            .get_result(c)
            .optional())?,
    };
    Ok(found.flatten())
}

/// The raw bytes, exactly as imported.
pub fn raw(conn: &mut DbConn, id: i64) -> Result<Option<Vec<u8>>, DbError> {
    Ok(with_conn!(conn, c => im::table.find(id).select(im::raw).get_result(c).optional())?)
}

/// The stored extraction (JSON), if the import was parsed.
pub fn extraction(conn: &mut DbConn, id: i64) -> Result<Option<String>, DbError> {
    Ok(with_conn!(conn, c => im::table.find(id).select(im::extraction).get_result::<Option<String>>(c).optional())?
        .flatten())
}

/// Imports newest first, optionally in one state, keyset-paged by id.
pub fn list(
    conn: &mut DbConn,
    state: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ImportRow>, DbError> {
    Ok(with_conn!(conn, c => {
        let mut q = im::table.select(ImportRow::as_select()).order(im::id.desc()).limit(limit).into_boxed();
        if let Some(state) = state {
            q = q.filter(im::state.eq(state.to_string()));
        }
        if let Some(before) = before {
            q = q.filter(im::id.lt(before));
        }
        q.load(c)
    })?)
}

/// Moves a draft to another state; only from `expected` (so a commit and an abandon racing for
/// one draft cannot both win). Returns whether it moved.
pub fn transition(
    conn: &mut DbConn,
    id: i64,
    expected: ImportState,
    state: ImportState,
    event_id: Option<i64>,
    now: i64,
) -> Result<bool, DbError> {
    let n = with_conn!(conn, c => diesel::update(im::table.find(id).filter(im::state.eq(expected)))
        .set((im::state.eq(state), im::event_id.eq(event_id), im::updated_at.eq(now)))
        .execute(c))?;
    Ok(n == 1)
}

pub fn set_meta(conn: &mut DbConn, id: i64, meta: &str, now: i64) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(im::table.find(id))
        .set((im::meta.eq(meta), im::updated_at.eq(now)))
        .execute(c))?;
    Ok(())
}

pub fn items(conn: &mut DbConn, import_id: i64) -> Result<Vec<ItemRow>, DbError> {
    Ok(with_conn!(conn, c => di::table
        .filter(di::import_id.eq(import_id))
        .order(di::id.asc())
        .select(ItemRow::as_select())
        .load(c))?)
}

pub fn item(conn: &mut DbConn, import_id: i64, item_id: i64) -> Result<Option<ItemRow>, DbError> {
    Ok(with_conn!(conn, c => di::table
        .filter(di::import_id.eq(import_id))
        .filter(di::id.eq(item_id))
        .select(ItemRow::as_select())
        .get_result(c)
        .optional())?)
}

pub fn add_item(conn: &mut DbConn, item: &NewItem) -> Result<ItemRow, DbError> {
    Ok(with_conn!(conn, c => diesel::insert_into(di::table)
        .values(item)
        .returning(ItemRow::as_returning())
        .get_result(c))?)
}

pub fn set_item_state(
    conn: &mut DbConn,
    item_id: i64,
    state: ItemState,
    whitelist_reason: Option<&str>,
) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(di::table.find(item_id))
        .set((di::state.eq(state), di::whitelist_reason.eq(whitelist_reason)))
        .execute(c))?;
    Ok(())
}

/// Marks the proposed indicator items of open drafts that a new whitelist rule matches.
pub fn open_indicator_items(conn: &mut DbConn) -> Result<Vec<ItemRow>, DbError> {
    Ok(with_conn!(conn, c => di::table
        .inner_join(im::table)
        .filter(im::state.eq(ImportState::Draft))
        .filter(di::section.eq(ItemSection::Indicator))
        .filter(di::state.eq(ItemState::Proposed))
        .select(ItemRow::as_select())
        .load(c))?)
}

/// Imports committed into an event.
pub fn of_event(conn: &mut DbConn, event_id: i64) -> Result<Vec<ImportRow>, DbError> {
    Ok(with_conn!(conn, c => im::table
        .filter(im::event_id.eq(event_id))
        .order(im::id.asc())
        .select(ImportRow::as_select())
        .load(c))?)
}
