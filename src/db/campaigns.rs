//! The `campaigns`, `campaign_drafts` and `campaign_keys` tables: drafts grouped by the keys
//! (infrastructure and kit) they share. The grouping rules are `service::campaigns`'s.

use diesel::prelude::*;

use super::schema::{campaign_drafts as cd, campaign_keys as ck, campaigns as ca, imports as im};
use super::{DbConn, DbError, with_conn};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = ca)]
pub struct CampaignRow {
    pub id: i64,
    pub title: String,
    pub merged_into: Option<i64>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = cd)]
pub struct MemberRow {
    pub import_id: i64,
    pub campaign_id: Option<i64>,
    pub simhash: Option<i64>,
    pub linked_by: String,
    pub added_at: i64,
}

/// A key of a draft.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Queryable)]
pub struct KeyRow {
    pub kind: String,
    pub value: String,
    pub import_id: i64,
}

/// Serialises campaign assignment for the rest of the transaction on PostgreSQL (two drafts of
/// one campaign imported at once would otherwise not see each other's uncommitted keys and
/// stay apart); SQLite's `BEGIN IMMEDIATE` already does.
pub fn lock(conn: &mut DbConn) -> Result<(), DbError> {
    match conn {
        DbConn::Sqlite(_) => Ok(()),
        DbConn::Postgres(c) => {
            use diesel::connection::SimpleConnection;
            Ok(c.batch_execute("SELECT pg_advisory_xact_lock(726302020)")?)
        }
    }
}

/// Stores a draft's keys and its membership row (no campaign yet).
pub fn add_draft(
    conn: &mut DbConn,
    import_id: i64,
    simhash: Option<i64>,
    keys: &[(String, String)],
    now: i64,
) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::insert_into(cd::table)
        .values((cd::import_id.eq(import_id), cd::simhash.eq(simhash), cd::added_at.eq(now)))
        .on_conflict_do_nothing()
        .execute(c))?;
    let rows: Vec<_> = keys
        .iter()
        .map(|(k, v)| (ck::kind.eq(k.as_str()), ck::value.eq(v.as_str()), ck::import_id.eq(import_id)))
        .collect();
    for chunk in rows.chunks(300) {
        with_conn!(conn, c => diesel::insert_into(ck::table).values(chunk).on_conflict_do_nothing().execute(c))?;
    }
    Ok(())
}

/// Other drafts holding one of `keys`, at most `limit` rows.
pub fn sharing(
    conn: &mut DbConn,
    import_id: i64,
    keys: &[(String, String)],
    limit: i64,
) -> Result<Vec<KeyRow>, DbError> {
    let mut out = Vec::new();
    // One indexed lookup per kind: `(kind, value IN (...))` walks the primary key.
    let mut kinds: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    for kind in kinds {
        let values: Vec<&str> = keys.iter().filter(|(k, _)| k == kind).map(|(_, v)| v.as_str()).collect();
        for chunk in values.chunks(300) {
            let rows: Vec<(String, String, i64)> = with_conn!(conn, c => ck::table
                .filter(ck::kind.eq(kind))
                .filter(ck::value.eq_any(chunk))
                .filter(ck::import_id.ne(import_id))
                .select((ck::kind, ck::value, ck::import_id))
                .order(ck::import_id.desc())
                .limit(limit)
                .load(c))?;
            out.extend(rows.into_iter().map(|(kind, value, import_id)| KeyRow { kind, value, import_id }));
        }
    }
    Ok(out)
}

/// The membership rows of these drafts.
pub fn members_of_drafts(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<MemberRow>, DbError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(with_conn!(conn, c => cd::table
            .filter(cd::import_id.eq_any(chunk))
            .select(MemberRow::as_select())
            .load(c))?);
    }
    Ok(out)
}

/// A new campaign.
pub fn create(
    conn: &mut DbConn,
    title: &str,
    first_seen: i64,
    last_seen: i64,
    now: i64,
) -> Result<i64, DbError> {
    Ok(with_conn!(conn, c => diesel::insert_into(ca::table)
        .values((
            ca::title.eq(title),
            ca::first_seen.eq(first_seen),
            ca::last_seen.eq(last_seen),
            ca::created_at.eq(now),
            ca::updated_at.eq(now),
        ))
        .returning(ca::id)
        .get_result(c))?)
}

/// Puts a draft into a campaign, with why.
pub fn join(conn: &mut DbConn, import_id: i64, campaign_id: i64, linked_by: &str) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(cd::table.find(import_id))
        .set((cd::campaign_id.eq(campaign_id), cd::linked_by.eq(linked_by)))
        .execute(c))?;
    Ok(())
}

/// Moves every member of `from` into `into` and marks `from` merged.
pub fn merge(conn: &mut DbConn, from: i64, into: i64, now: i64) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(cd::table.filter(cd::campaign_id.eq(from)))
        .set(cd::campaign_id.eq(into))
        .execute(c))?;
    // Campaigns merged into `from` before now lead to `into` directly.
    with_conn!(conn, c => diesel::update(ca::table.filter(ca::merged_into.eq(from)))
        .set(ca::merged_into.eq(into))
        .execute(c))?;
    with_conn!(conn, c => diesel::update(ca::table.find(from))
        .set((ca::merged_into.eq(into), ca::updated_at.eq(now)))
        .execute(c))?;
    Ok(())
}

/// Widens a campaign's first/last seen to include `at`.
pub fn seen(conn: &mut DbConn, id: i64, first: i64, last: i64, now: i64) -> Result<(), DbError> {
    let Some(row) = get(conn, id)? else { return Ok(()) };
    with_conn!(conn, c => diesel::update(ca::table.find(id))
        .set((
            ca::first_seen.eq(row.first_seen.min(first)),
            ca::last_seen.eq(row.last_seen.max(last)),
            ca::updated_at.eq(now),
        ))
        .execute(c))?;
    Ok(())
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<Option<CampaignRow>, DbError> {
    Ok(with_conn!(conn, c => ca::table.find(id).select(CampaignRow::as_select()).get_result(c).optional())?)
}

/// A campaign listed with its size and how many of its drafts are still open.
#[derive(Debug, Clone)]
pub struct CampaignSummary {
    pub row: CampaignRow,
    pub drafts: i64,
    pub open: i64,
}

/// Campaigns not merged away, most recently seen first, keyset-paged by (last_seen, id).
pub fn list(
    conn: &mut DbConn,
    min_size: i64,
    before: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<CampaignSummary>, DbError> {
    use diesel::dsl::count_star;
    let rows: Vec<CampaignRow> = with_conn!(conn, c => {
        let mut q = ca::table
            .filter(ca::merged_into.is_null())
            .order((ca::last_seen.desc(), ca::id.desc()))
            .select(CampaignRow::as_select())
            .into_boxed();
        if let Some((last, id)) = before {
            q = q.filter(ca::last_seen.lt(last).or(ca::last_seen.eq(last).and(ca::id.lt(id))));
        }
        // Sizes are filtered below; read a few more so a page is rarely short.
        q.limit(limit.saturating_mul(4).max(limit)).load(c)
    })?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut sizes: std::collections::HashMap<i64, (i64, i64)> = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let counted: Vec<(Option<i64>, String, i64)> = with_conn!(conn, c => cd::table
            .inner_join(im::table)
            .filter(cd::campaign_id.eq_any(chunk))
            .group_by((cd::campaign_id, im::state))
            .select((cd::campaign_id, im::state, count_star()))
            .load(c))?;
        for (id, state, n) in counted {
            let Some(id) = id else { continue };
            let e = sizes.entry(id).or_default();
            e.0 += n;
            if state == "draft" {
                e.1 += n;
            }
        }
    }
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let (drafts, open) = sizes.get(&row.id).copied().unwrap_or_default();
            (drafts >= min_size).then_some(CampaignSummary { row, drafts, open })
        })
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect())
}

/// The members of a campaign with their import rows, oldest first.
pub fn members(conn: &mut DbConn, id: i64) -> Result<Vec<(MemberRow, super::imports::ImportRow)>, DbError> {
    Ok(with_conn!(conn, c => cd::table
        .inner_join(im::table)
        .filter(cd::campaign_id.eq(id))
        .order(cd::import_id.asc())
        .select((MemberRow::as_select(), super::imports::ImportRow::as_select()))
        .load(c))?)
}

/// The keys of these drafts.
pub fn keys_of(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<KeyRow>, DbError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String, i64)> = with_conn!(conn, c => ck::table
            .filter(ck::import_id.eq_any(chunk))
            .select((ck::kind, ck::value, ck::import_id))
            .load(c))?;
        out.extend(rows.into_iter().map(|(kind, value, import_id)| KeyRow { kind, value, import_id }));
    }
    Ok(out)
}

/// The campaign of a draft, if it has one.
pub fn of_draft(conn: &mut DbConn, import_id: i64) -> Result<Option<i64>, DbError> {
    Ok(with_conn!(conn, c => cd::table
        .find(import_id)
        .select(cd::campaign_id)
        .get_result::<Option<i64>>(c)
        .optional())?
    .flatten())
}
