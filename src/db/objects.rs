//! The STIX object store and collection membership: adding object versions to a collection
//! (monotonic `date_added`, first/latest flags), keyset pages over (date_added, seq) with the
//! TAXII filters, and deleting versions. Each membership has a TLP rank (what its object
//! carries, or what its writer judged it worth); pages serve only rows within the collection's
//! ceiling, so lowering a ceiling takes effect on what is already stored.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::schema::{
    collection_objects as co, collections, stix_objects as so, taxii_pending, taxii_status_details as details,
};
use super::{DbConn, DbError, now_micros};

/// One object version to store, with the columns TAXII filters on extracted from its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewObject {
    pub stix_id: String,
    pub stix_type: String,
    pub spec_version: String,
    pub created: Option<i64>,
    pub modified: Option<i64>,
    /// The TAXII version: `modified`, else `created`; for objects with neither (SCOs) it is
    /// ignored and the `date_added` of the first time the object was stored is used.
    pub version: i64,
    pub revoked: bool,
    pub json: String,
}

/// What adding one object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Stored in the collection with this `date_added`, as this version.
    New { date_added: i64, version: i64 },
    /// That version was already in the collection: nothing changed.
    Duplicate { version: i64 },
}

#[derive(Insertable)]
#[diesel(table_name = so)]
struct ObjectInsert<'a> {
    stix_id: &'a str,
    stix_type: &'a str,
    spec_version: &'a str,
    created: Option<i64>,
    modified: Option<i64>,
    version: i64,
    revoked: bool,
    json: &'a str,
}

#[derive(Insertable)]
#[diesel(table_name = co)]
struct MemberInsert<'a> {
    collection_id: &'a str,
    object_pk: i64,
    date_added: i64,
    is_first: bool,
    is_latest: bool,
    tlp_rank: i32,
}

/// The body of [`add_to_collection`], written once for both backends. `$c` is the concrete
/// connection inside a transaction that already holds the collection's write lock. It is
/// set-based: a handful of statements per call, whatever the number of objects, so that
/// PostgreSQL round trips and SQLite statement overhead do not grow per object.
macro_rules! add_body {
    ($c:ident, $collection_id:expr, $objects:expr, $last:expr, $ranks:expr) => {{
        let objects: &[NewObject] = $objects;
        let ranks: &[i32] = $ranks;
        let collection_id: &str = $collection_id;
        let mut next = now_micros().max($last + 1);
        let mut ids: Vec<&str> = objects.iter().map(|o| o.stix_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();

        // 1. Which versions the store already holds, by id.
        let mut stored: HashMap<String, Vec<(i64, i64, bool)>> = HashMap::new();
        for chunk in ids.chunks(ID_CHUNK) {
            let rows: Vec<(i64, String, i64, Option<i64>, Option<i64>)> = so::table
                .filter(so::stix_id.eq_any(chunk))
                .select((so::pk, so::stix_id, so::version, so::created, so::modified))
                .order(so::pk.asc())
                .load($c)?;
            for (pk, id, version, created, modified) in rows {
                stored.entry(id).or_default().push((pk, version, created.is_none() && modified.is_none()));
            }
        }

        // 2. Resolve each object to a stored version or a new one (pk unknown until inserted).
        //    An object without created/modified (an SCO) has one version: the first stored.
        let mut resolved: Vec<(Option<i64>, i64)> = Vec::with_capacity(objects.len());
        let mut fresh: Vec<(usize, i64)> = Vec::new();
        let mut pending: HashMap<(&str, i64), usize> = HashMap::new();
        let mut unversioned_new: HashMap<&str, i64> = HashMap::new();
        for (i, o) in objects.iter().enumerate() {
            let unversioned = o.created.is_none() && o.modified.is_none();
            let known = stored.get(&o.stix_id).and_then(|versions| {
                versions
                    .iter()
                    .find(|(_, v, u)| if unversioned { *u } else { *v == o.version })
                    .map(|(pk, v, _)| (*pk, *v))
            });
            match known {
                Some((pk, v)) => resolved.push((Some(pk), v)),
                None => {
                    let version = if unversioned {
                        *unversioned_new.entry(o.stix_id.as_str()).or_insert(next + i as i64)
                    } else {
                        o.version
                    };
                    if !pending.contains_key(&(o.stix_id.as_str(), version)) {
                        pending.insert((o.stix_id.as_str(), version), i);
                        fresh.push((i, version));
                    }
                    resolved.push((None, version));
                }
            }
        }
        let mut new_pks: HashMap<(String, i64), i64> = HashMap::new();
        for chunk in fresh.chunks(INSERT_CHUNK) {
            let rows: Vec<ObjectInsert<'_>> = chunk
                .iter()
                .filter_map(|(i, version)| objects.get(*i).map(|o| (o, *version)))
                .map(|(o, version)| ObjectInsert {
                    stix_id: &o.stix_id,
                    stix_type: &o.stix_type,
                    spec_version: &o.spec_version,
                    created: o.created,
                    modified: o.modified,
                    version,
                    revoked: o.revoked,
                    json: &o.json,
                })
                .collect();
            let inserted: Vec<(i64, String, i64)> = diesel::insert_into(so::table)
                .values(&rows)
                .on_conflict_do_nothing()
                .returning((so::pk, so::stix_id, so::version))
                .get_results($c)?;
            for (pk, id, version) in inserted {
                new_pks.insert((id, version), pk);
            }
        }
        // A concurrent writer (another collection, PostgreSQL) may have stored some first.
        let mut adopted: Vec<i64> = Vec::new();
        for (i, version) in &fresh {
            let Some(o) = objects.get(*i) else { continue };
            if !new_pks.contains_key(&(o.stix_id.clone(), *version)) {
                let pk: i64 = so::table
                    .filter(so::stix_id.eq(&o.stix_id))
                    .filter(so::version.eq(*version))
                    .select(so::pk)
                    .first($c)?;
                adopted.push(pk);
                new_pks.insert((o.stix_id.clone(), *version), pk);
            }
        }

        // 3. Membership: what the collection already has of these ids, with its flags. Only
        //    versions stored before this transaction can be members (rows inserted above are
        //    invisible to other writers until commit), so their pks are the whole question; it
        //    goes through the (collection_id, object_pk) index, not a second random-id index.
        let mut old_pks: Vec<i64> = stored.values().flatten().map(|(pk, ..)| *pk).collect();
        old_pks.extend(fresh.iter().filter_map(|(i, version)| {
            let o = objects.get(*i)?;
            let pk = new_pks.get(&(o.stix_id.clone(), *version))?;
            adopted.contains(pk).then_some(*pk)
        }));
        let mut members: HashMap<String, Vec<(Option<i64>, i64, i64, bool, bool)>> = HashMap::new();
        for chunk in old_pks.chunks(ID_CHUNK) {
            let rows: Vec<(i64, String, i64, i64, bool, bool)> = co::table
                .inner_join(so::table)
                .filter(co::collection_id.eq(collection_id))
                .filter(co::object_pk.eq_any(chunk))
                .select((co::seq, so::stix_id, co::object_pk, so::version, co::is_first, co::is_latest))
                .load($c)?;
            for (seq, id, pk, version, first, latest) in rows {
                members.entry(id).or_default().push((Some(seq), pk, version, first, latest));
            }
        }
        let mut outcomes = Vec::with_capacity(objects.len());
        let mut new_members: Vec<(usize, i64, i64, i64)> = Vec::new();
        for (i, (o, (pk, version))) in objects.iter().zip(resolved).enumerate() {
            let pk = match pk {
                Some(pk) => pk,
                None => *new_pks.get(&(o.stix_id.clone(), version)).ok_or(DbError::NotFound)?,
            };
            let entry = members.entry(o.stix_id.clone()).or_default();
            if entry.iter().any(|(_, p, ..)| *p == pk) {
                outcomes.push(Added::Duplicate { version });
                continue;
            }
            entry.push((None, pk, version, false, false));
            new_members.push((i, pk, version, next));
            outcomes.push(Added::New { date_added: next, version });
            next += 1;
        }

        // 4. First/latest flags: adding only moves the extremes outward, so existing rows can
        //    only lose a flag; new rows get theirs computed here.
        let mut clear_first: Vec<i64> = Vec::new();
        let mut clear_latest: Vec<i64> = Vec::new();
        let mut extremes: HashMap<&str, (i64, i64)> = HashMap::new();
        for (id, rows) in &members {
            if rows.iter().all(|(seq, ..)| seq.is_some()) {
                continue;
            }
            let min = rows.iter().map(|r| r.2).min().unwrap_or_default();
            let max = rows.iter().map(|r| r.2).max().unwrap_or_default();
            for (seq, _, version, first, latest) in rows {
                if let Some(seq) = seq {
                    if *first && *version != min {
                        clear_first.push(*seq);
                    }
                    if *latest && *version != max {
                        clear_latest.push(*seq);
                    }
                }
            }
            extremes.insert(id.as_str(), (min, max));
        }
        for chunk in clear_first.chunks(ID_CHUNK) {
            diesel::update(co::table.filter(co::seq.eq_any(chunk)))
                .set(co::is_first.eq(false))
                .execute($c)?;
        }
        for chunk in clear_latest.chunks(ID_CHUNK) {
            diesel::update(co::table.filter(co::seq.eq_any(chunk)))
                .set(co::is_latest.eq(false))
                .execute($c)?;
        }
        let rows: Vec<MemberInsert<'_>> = new_members
            .iter()
            .filter_map(|(i, pk, version, date_added)| {
                let o = objects.get(*i)?;
                let (min, max) = extremes.get(o.stix_id.as_str()).copied().unwrap_or((*version, *version));
                Some(MemberInsert {
                    collection_id,
                    object_pk: *pk,
                    date_added: *date_added,
                    is_first: *version == min,
                    is_latest: *version == max,
                    tlp_rank: ranks.get(*i).copied().unwrap_or(crate::stix::Tlp2::Red.rank()),
                })
            })
            .collect();
        for chunk in rows.chunks(INSERT_CHUNK) {
            diesel::insert_into(co::table).values(chunk).execute($c)?;
        }
        if !new_members.is_empty() {
            diesel::update(collections::table.find(collection_id))
                .set(collections::last_date_added.eq(next - 1))
                .filter(collections::last_date_added.lt(next - 1))
                .execute($c)?;
        }
        Ok(outcomes)
    }};
}

/// Ids per `IN (…)` list and rows per multi-row INSERT: well under SQLite's bound-variable limit.
const ID_CHUNK: usize = 900;
const INSERT_CHUNK: usize = 400;

/// The TLP rank of each object a writer sends: the most restrictive TLP it carries, else the
/// collection's ceiling (an unmarked object takes the terms of the collection it was sent to,
/// and stops being served if that ceiling is lowered below them).
/// What each object carries is read before the write lock is taken (it parses marked objects);
/// only the ceiling, read under the lock, completes it.
fn ranks_of(carried: &[Option<crate::stix::Tlp2>], ceiling: i32) -> Vec<i32> {
    carried.iter().map(|c| c.map_or(ceiling, crate::stix::Tlp2::rank)).collect()
}

fn carried_by(objects: &[NewObject]) -> Vec<Option<crate::stix::Tlp2>> {
    objects.iter().map(|o| crate::stix::marking::carried_in_text(&o.json)).collect()
}

/// Adds object versions to a collection in one transaction, each ranked by [`ranks_of`].
/// `date_added` is strictly increasing per collection and never in the future: writers to one
/// collection are serialised (SQLite's write lock, PostgreSQL's row lock on the collection), so
/// a poller using `added_after` or a cursor can never miss a row committed later with an earlier
/// `date_added`.
pub fn add_to_collection(
    conn: &mut DbConn,
    collection_id: &str,
    objects: &[NewObject],
) -> Result<Vec<Added>, DbError> {
    let carried = carried_by(objects);
    match conn {
        DbConn::Sqlite(c) => c.immediate_transaction(|c| {
            let (last, ceiling): (i64, i32) = collections::table
                .find(collection_id)
                .select((collections::last_date_added, collections::tlp_ceiling))
                .first(c)?;
            add_body!(c, collection_id, objects, last, &ranks_of(&carried, ceiling))
        }),
        DbConn::Postgres(c) => c.transaction(|c| {
            let (last, ceiling): (i64, i32) = collections::table
                .find(collection_id)
                .select((collections::last_date_added, collections::tlp_ceiling))
                .for_update()
                .first(c)?;
            add_body!(c, collection_id, objects, last, &ranks_of(&carried, ceiling))
        }),
    }
}

/// Harpoon's own objects for a collection, inside the caller's write transaction
/// ([`super::write_tx`]) so that publishing commits or rolls back with the change that caused
/// it. `ranks` (one per object; a missing one is RED) are the TLP ranks the publisher judged
/// them at: an SCO carries no marking but is as sensitive as the indicator it belongs to.
pub fn add_in_transaction(
    conn: &mut DbConn,
    collection_id: &str,
    objects: &[NewObject],
    ranks: &[i32],
) -> Result<Vec<Added>, DbError> {
    match conn {
        DbConn::Sqlite(c) => {
            let last: i64 =
                collections::table.find(collection_id).select(collections::last_date_added).first(c)?;
            add_body!(c, collection_id, objects, last, ranks)
        }
        DbConn::Postgres(c) => {
            let last: i64 = collections::table
                .find(collection_id)
                .select(collections::last_date_added)
                .for_update()
                .first(c)?;
            add_body!(c, collection_id, objects, last, ranks)
        }
    }
}

/// Stops serving from a collection, unless its ceiling is at least `rank`, every version of the
/// objects `stix_ids` and of every object there that refers to the first of them (its sightings,
/// notes, relationships): an indicator whose own TLP was raised above the ceiling after it was
/// published. Their memberships' rank is raised to `rank`. Finding the referrers reads the
/// store's text (a scan, for a rare administrative change). Returns how many changed.
pub fn withhold(
    conn: &mut DbConn,
    collection_id: &str,
    stix_ids: &[String],
    rank: i32,
) -> Result<usize, DbError> {
    let Some(subject) = stix_ids.first() else { return Ok(0) };
    // A STIX id has no LIKE wildcard (`%`, `_`) in it; anything else is not matched at all.
    let mention = if subject.contains(['%', '_', '\\']) { None } else { Some(format!("%\"{subject}\"%")) };
    let by_id = super::with_conn!(conn, c => diesel::update(
        co::table
            .filter(co::collection_id.eq(collection_id))
            .filter(co::tlp_rank.lt(rank))
            .filter(co::object_pk.eq_any(so::table.filter(so::stix_id.eq_any(stix_ids)).select(so::pk))),
    )
    .set(co::tlp_rank.eq(rank))
    .execute(c))?;
    let Some(mention) = mention else { return Ok(by_id) };
    let referring = super::with_conn!(conn, c => diesel::update(
        co::table
            .filter(co::collection_id.eq(collection_id))
            .filter(co::tlp_rank.lt(rank))
            .filter(co::object_pk.eq_any(
                so::table
                    .filter(so::stix_type.eq_any(REFERRING_TYPES))
                    .filter(so::json.like(&mention))
                    .select(so::pk),
            )),
    )
    .set(co::tlp_rank.eq(rank))
    .execute(c))?;
    Ok(by_id + referring)
}

/// The types that name another object by reference and say something about it.
const REFERRING_TYPES: [&str; 6] = ["sighting", "note", "opinion", "relationship", "report", "grouping"];

/// Stores a chunk of a background TAXII POST and settles its status in the same transaction:
/// the objects are added, their status details become `success` (or `failure` for `failed`),
/// and their pending rows are deleted. A crash leaves either all of it or none of it.
pub fn add_and_settle(
    conn: &mut DbConn,
    collection_id: &str,
    status_id: &str,
    items: &[(i64, NewObject)],
    failed: &[(i64, String)],
) -> Result<(), DbError> {
    let objects: Vec<NewObject> = items.iter().map(|(_, o)| o.clone()).collect();
    let carried = carried_by(&objects);
    macro_rules! settle {
        ($c:ident, $outcomes:expr) => {{
            let outcomes: Vec<Added> = $outcomes;
            let positions: Vec<i64> = items.iter().map(|(p, _)| *p).collect();
            for chunk in positions.chunks(ID_CHUNK) {
                diesel::update(
                    details::table
                        .filter(details::status_id.eq(status_id))
                        .filter(details::position.eq_any(chunk)),
                )
                .set(details::outcome.eq("success"))
                .execute($c)?;
            }
            // Objects without created/modified get their version only when stored.
            for ((position, o), outcome) in items.iter().zip(&outcomes) {
                if o.created.is_none() && o.modified.is_none() {
                    let (Added::New { version, .. } | Added::Duplicate { version }) = *outcome;
                    let text = crate::stix::StixTimestamp::from_micros(version)
                        .map(|t| t.to_string())
                        .unwrap_or_default();
                    diesel::update(details::table.find((status_id, *position)))
                        .set(details::version.eq(text))
                        .execute($c)?;
                }
            }
            for (position, message) in failed {
                diesel::update(details::table.find((status_id, *position)))
                    .set((details::outcome.eq("failure"), details::message.eq(message)))
                    .execute($c)?;
            }
            let all: Vec<i64> = positions.iter().copied().chain(failed.iter().map(|(p, _)| *p)).collect();
            for chunk in all.chunks(ID_CHUNK) {
                diesel::delete(
                    taxii_pending::table
                        .filter(taxii_pending::status_id.eq(status_id))
                        .filter(taxii_pending::position.eq_any(chunk)),
                )
                .execute($c)?;
            }
            Ok(())
        }};
    }
    match conn {
        DbConn::Sqlite(c) => c.immediate_transaction(|c| {
            let (last, ceiling): (i64, i32) = collections::table
                .find(collection_id)
                .select((collections::last_date_added, collections::tlp_ceiling))
                .first(c)?;
            let ranks = ranks_of(&carried, ceiling);
            let outcomes =
                (|| -> Result<Vec<Added>, DbError> { add_body!(c, collection_id, &objects, last, &ranks) })(
                )?;
            settle!(c, outcomes)
        }),
        DbConn::Postgres(c) => c.transaction(|c| {
            let (last, ceiling): (i64, i32) = collections::table
                .find(collection_id)
                .select((collections::last_date_added, collections::tlp_ceiling))
                .for_update()
                .first(c)?;
            let ranks = ranks_of(&carried, ceiling);
            let outcomes =
                (|| -> Result<Vec<Added>, DbError> { add_body!(c, collection_id, &objects, last, &ranks) })(
                )?;
            settle!(c, outcomes)
        }),
    }
}

/// `match[version]`: which versions of each object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionFilter {
    pub all: bool,
    pub first: bool,
    pub last: bool,
    /// Exact versions, in microseconds.
    pub exact: Vec<i64>,
}

impl VersionFilter {
    pub fn last() -> Self {
        Self { last: true, ..Self::default() }
    }
    pub fn all() -> Self {
        Self { all: true, ..Self::default() }
    }

    /// A SQL predicate; built only from booleans and integers we parsed, never from input text.
    fn predicate(&self) -> Option<String> {
        if self.all {
            return None;
        }
        let mut parts = Vec::new();
        if self.first {
            parts.push("collection_objects.is_first".to_string());
        }
        if self.last {
            parts.push("collection_objects.is_latest".to_string());
        }
        if !self.exact.is_empty() {
            let list: Vec<String> = self.exact.iter().map(i64::to_string).collect();
            parts.push(format!("stix_objects.version IN ({})", list.join(",")));
        }
        if parts.is_empty() {
            return Some("1 = 0".into());
        }
        Some(format!("({})", parts.join(" OR ")))
    }
}

/// One page request over a collection, in (date_added, seq) order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageQuery {
    pub collection_id: String,
    /// Keyset position: rows strictly after this (date_added, seq).
    pub after: Option<(i64, i64)>,
    /// `added_after`, exclusive, in microseconds.
    pub added_after: Option<i64>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub versions: VersionFilter,
    pub spec_versions: Vec<String>,
    /// Rows wanted; one more is fetched to tell whether there are more.
    pub limit: i64,
}

/// One row of a page.
#[derive(Debug, Clone, Queryable, PartialEq, Eq)]
pub struct PageRow {
    pub seq: i64,
    pub date_added: i64,
    pub stix_id: String,
    pub version: i64,
    pub spec_version: String,
    /// The object as received; empty for manifest pages, which do not need it.
    pub json: String,
}

macro_rules! page_query {
    ($c:ident, $q:expr, $json:expr) => {{
        let q = $q;
        let mut query = co::table
            .inner_join(so::table)
            .filter(co::collection_id.eq(&q.collection_id))
            // Nothing above the collection's TLP ceiling, whenever it was stored.
            .filter(co::tlp_rank.nullable().le(within_ceiling(&q.collection_id)))
            .order((co::date_added.asc(), co::seq.asc()))
            .limit(q.limit.saturating_add(1))
            .into_boxed();
        if let Some((d, s)) = q.after {
            query = query.filter(co::date_added.ge(d).and(co::date_added.gt(d).or(co::seq.gt(s))));
        }
        if let Some(t) = q.added_after {
            query = query.filter(co::date_added.gt(t));
        }
        if !q.ids.is_empty() {
            query = query.filter(so::stix_id.eq_any(&q.ids));
        }
        if !q.types.is_empty() {
            query = query.filter(so::stix_type.eq_any(&q.types));
        }
        if !q.spec_versions.is_empty() {
            query = query.filter(so::spec_version.eq_any(&q.spec_versions));
        }
        if let Some(p) = q.versions.predicate() {
            query = query.filter(diesel::dsl::sql::<Bool>(&p));
        }
        if $json {
            query
                .select((co::seq, co::date_added, so::stix_id, so::version, so::spec_version, so::json))
                .load::<PageRow>($c)
        } else {
            query
                .select((
                    co::seq,
                    co::date_added,
                    so::stix_id,
                    so::version,
                    so::spec_version,
                    diesel::dsl::sql::<diesel::sql_types::Text>("''"),
                ))
                .load::<PageRow>($c)
        }
    }};
}

/// `SELECT tlp_ceiling FROM collections WHERE id = ?`.
type CeilingOf<'a> = diesel::dsl::Select<
    diesel::dsl::Filter<collections::table, diesel::dsl::Eq<collections::id, &'a str>>,
    collections::tlp_ceiling,
>;

/// The collection's TLP ceiling, as a scalar subquery (evaluated once per statement).
fn within_ceiling(collection_id: &str) -> diesel::dsl::SingleValue<CeilingOf<'_>> {
    collections::table
        .filter(collections::id.eq(collection_id))
        .select(collections::tlp_ceiling)
        .single_value()
}

/// Up to `limit + 1` rows matching `q`; `with_json` loads the stored object text.
pub fn page(conn: &mut DbConn, q: &PageQuery, with_json: bool) -> Result<Vec<PageRow>, DbError> {
    Ok(match conn {
        DbConn::Sqlite(c) => page_query!(c, q, with_json)?,
        DbConn::Postgres(c) => page_query!(c, q, with_json)?,
    })
}

/// Whether `stix_id` has any version in the collection.
/// Objects of one type added to a collection after membership `seq` (oldest first): what partner
/// intake has not read yet. Returns (seq, json).
pub fn added_since(
    conn: &mut DbConn,
    collection_id: &str,
    stix_type: &str,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>, DbError> {
    Ok(super::with_conn!(conn, c => co::table
        .inner_join(so::table)
        .filter(co::collection_id.eq(collection_id))
        .filter(co::seq.gt(after_seq))
        .filter(so::stix_type.eq(stix_type))
        .order(co::seq.asc())
        .limit(limit)
        .select((co::seq, so::json))
        .load(c))?)
}

/// The highest membership `seq` of a collection (0 when empty).
pub fn last_seq(conn: &mut DbConn, collection_id: &str) -> Result<i64, DbError> {
    let max: Option<i64> = super::with_conn!(conn, c => co::table
        .filter(co::collection_id.eq(collection_id))
        .select(diesel::dsl::max(co::seq))
        .first(c))?;
    Ok(max.unwrap_or(0))
}

/// The JSON text of the latest stored version of an object, in any collection.
pub fn latest_json(conn: &mut DbConn, stix_id: &str) -> Result<Option<String>, DbError> {
    Ok(super::with_conn!(conn, c => so::table
        .filter(so::stix_id.eq(stix_id))
        .order(so::version.desc())
        .select(so::json)
        .first(c)
        .optional())?)
}

pub fn contains(conn: &mut DbConn, collection_id: &str, stix_id: &str) -> Result<bool, DbError> {
    let n: i64 = super::with_conn!(conn, c => co::table
        .inner_join(so::table)
        .filter(co::collection_id.eq(collection_id))
        .filter(co::tlp_rank.nullable().le(within_ceiling(collection_id)))
        .filter(so::stix_id.eq(stix_id))
        .count()
        .get_result(c))?;
    Ok(n > 0)
}

macro_rules! delete_body {
    ($c:ident, $collection_id:expr, $stix_id:expr, $versions:expr, $spec_versions:expr) => {{
        let q = PageQuery {
            collection_id: $collection_id.to_string(),
            ids: vec![$stix_id.to_string()],
            versions: $versions.clone(),
            spec_versions: $spec_versions.to_vec(),
            limit: i64::MAX - 1,
            ..PageQuery::default()
        };
        let doomed: Vec<i64> = page_query!($c, &q, false)?.into_iter().map(|r| r.seq).collect();
        let n = diesel::delete(co::table.filter(co::seq.eq_any(&doomed))).execute($c)?;
        // Re-derive the first/latest flags of what remains of the object in this collection.
        let remaining: Vec<(i64, i64)> = co::table
            .inner_join(so::table)
            .filter(co::collection_id.eq($collection_id))
            .filter(so::stix_id.eq($stix_id))
            .select((co::seq, so::version))
            .load($c)?;
        let first = remaining.iter().min_by_key(|(_, v)| *v).map(|(s, _)| *s);
        let latest = remaining.iter().max_by_key(|(_, v)| *v).map(|(s, _)| *s);
        for (seq, _) in &remaining {
            diesel::update(co::table.find(*seq))
                .set((co::is_first.eq(Some(*seq) == first), co::is_latest.eq(Some(*seq) == latest)))
                .execute($c)?;
        }
        Ok(n)
    }};
}

/// Removes the selected versions of an object from a collection; returns how many.
pub fn delete_versions(
    conn: &mut DbConn,
    collection_id: &str,
    stix_id: &str,
    versions: &VersionFilter,
    spec_versions: &[String],
) -> Result<usize, DbError> {
    match conn {
        DbConn::Sqlite(c) => {
            c.immediate_transaction(|c| delete_body!(c, collection_id, stix_id, versions, spec_versions))
        }
        DbConn::Postgres(c) => c.transaction(|c| {
            collections::table.find(collection_id).select(collections::id).for_update().first::<String>(c)?;
            delete_body!(c, collection_id, stix_id, versions, spec_versions)
        }),
    }
}
