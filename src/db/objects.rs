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

/// The TAXII version of a membership: `modified`, else `created`, else (an SCO, a marking
/// definition) its `date_added` in that collection (spec §3.1.1), so that no collection's
/// versions tell when or whether another collection held the same observable. A typed
/// expression, not SQL text, so that the statements using it stay cacheable as prepared
/// statements (a `sql` literal makes diesel re-parse and re-plan the page query every time on
/// PostgreSQL).
macro_rules! served_version {
    () => {
        diesel::dsl::case_when(so::created.is_null().and(so::modified.is_null()), co::date_added)
            .otherwise(so::version)
    };
}

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
    /// [`crate::stix::canonical::content_sha256`] of the object: what "same content" means.
    pub content_sha256: String,
}

/// The failure of an object whose id and version are stored with other content. It says
/// neither what the stored content is nor where it is.
pub const CONFLICT: &str = "conflicts with a stored object";

/// Who adds objects: decides where it may add and what a conflict means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// A TAXII client: a conflicting object is that object's failure ([`Added::Conflict`]);
    /// never into a computed collection.
    Client,
    /// Harpoon sharing an event into a stored collection.
    Sharing,
    /// Harpoon's publisher filling a computed collection (the only writer allowed there).
    Publisher,
}

/// What adding one object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Stored in the collection with this `date_added`, as this version.
    New { date_added: i64, version: i64 },
    /// That version was already in the collection: nothing changed.
    Duplicate { version: i64 },
    /// Its id and version are stored with other content: nothing changed ([`CONFLICT`]).
    Conflict,
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
    content_sha256: &'a str,
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

/// A stored version of an object, as [`add_body!`] compares it with one being added.
struct StoredVersion {
    pk: i64,
    version: i64,
    /// Neither `created` nor `modified` (an SCO): its TAXII version is its `date_added`.
    unversioned: bool,
    digest: String,
}

/// The digest of a row stored before digests were (NULL column): computed from its text. An
/// unreadable text gets a digest nothing equals, so it can only ever conflict.
fn digest_of_text(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| crate::stix::canonical::content_sha256(&v).ok())
        .unwrap_or_else(|| "unreadable".into())
}

/// How one object of a call was resolved against the store.
#[derive(Clone, Copy)]
enum Resolved {
    /// An identical stored row (pk), with its stored version.
    Stored(i64, i64),
    /// A row this call inserts, with its version.
    Fresh(i64),
    /// Same id and version as a stored object (or an earlier one of this call), other content.
    Conflict,
}

/// The body of [`add_to_collection`], written once for both backends. `$c` is the concrete
/// connection inside a transaction that already holds the collection's write lock. It is
/// set-based: a handful of statements per call, whatever the number of objects, so that
/// PostgreSQL round trips and SQLite statement overhead do not grow per object.
///
/// An object is matched to a stored row by id, version *and content digest*: the membership
/// added to this collection is always a row with exactly the content the writer sent, so
/// nothing a writer sends makes its collection serve another collection's object, and nothing
/// in another collection (its rows, flags or `date_added`) is touched.
macro_rules! add_body {
    ($c:ident, $collection_id:expr, $objects:expr, $last:expr, $ranks:expr, $writer:expr) => {{
        let objects: &[NewObject] = $objects;
        let ranks: &[i32] = $ranks;
        let collection_id: &str = $collection_id;
        let writer: Writer = $writer;
        let mut next = now_micros().max($last + 1);
        let mut ids: Vec<&str> = objects.iter().map(|o| o.stix_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();

        // 1. Which versions the store already holds, by id, with their content digests.
        let mut stored: HashMap<String, Vec<StoredVersion>> = HashMap::new();
        let mut undigested: Vec<i64> = Vec::new();
        for chunk in ids.chunks(ID_CHUNK) {
            let rows: Vec<(i64, String, i64, Option<i64>, Option<i64>, Option<String>)> = so::table
                .filter(so::stix_id.eq_any(chunk))
                .select((so::pk, so::stix_id, so::version, so::created, so::modified, so::content_sha256))
                .order(so::pk.asc())
                .load($c)?;
            for (pk, id, version, created, modified, digest) in rows {
                if digest.is_none() {
                    undigested.push(pk);
                }
                let unversioned = created.is_none() && modified.is_none();
                let digest = digest.unwrap_or_default();
                stored.entry(id).or_default().push(StoredVersion { pk, version, unversioned, digest });
            }
        }
        // Rows stored before the digest column: their digest from their text (once per call).
        let mut late: HashMap<i64, String> = HashMap::new();
        for chunk in undigested.chunks(ID_CHUNK) {
            let rows: Vec<(i64, String)> =
                so::table.filter(so::pk.eq_any(chunk)).select((so::pk, so::json)).load($c)?;
            late.extend(rows.into_iter().map(|(pk, json)| (pk, digest_of_text(&json))));
        }
        for s in stored.values_mut().flatten() {
            if let Some(d) = late.remove(&s.pk) {
                s.digest = d;
            }
        }

        // 2. Resolve each object: an identical stored row, a new row (pk unknown until
        //    inserted), or a conflict. An object without created/modified (an SCO) has no
        //    version of its own: any stored row with its id and content is it.
        let mut resolved: Vec<Resolved> = Vec::with_capacity(objects.len());
        let mut fresh: Vec<(usize, i64)> = Vec::new();
        // (id, version) → digest of the object of this call that inserts it.
        let mut pending: HashMap<(&str, i64), &str> = HashMap::new();
        let mut unversioned_new: HashMap<&str, Vec<(i64, &str)>> = HashMap::new();
        for (i, o) in objects.iter().enumerate() {
            let unversioned = o.created.is_none() && o.modified.is_none();
            let versions: &[StoredVersion] = stored.get(&o.stix_id).map_or(&[], Vec::as_slice);
            let same_key =
                |s: &&StoredVersion| if unversioned { s.unversioned } else { s.version == o.version };
            let identical = versions.iter().filter(same_key).find(|s| s.digest == o.content_sha256);
            let taken = versions.iter().any(|s| same_key(&s));
            let r = match identical {
                Some(s) => Resolved::Stored(s.pk, s.version),
                None if unversioned => {
                    let earlier = unversioned_new.entry(o.stix_id.as_str()).or_default();
                    match earlier.iter().find(|(_, d)| *d == o.content_sha256) {
                        Some((version, _)) => Resolved::Fresh(*version),
                        // Harpoon's own observable keeps its own content (a row of its own)
                        // even where a partner stored another text under the same id first.
                        None if (taken || !earlier.is_empty()) && writer == Writer::Client => {
                            Resolved::Conflict
                        }
                        None => {
                            let version = next + i as i64;
                            earlier.push((version, o.content_sha256.as_str()));
                            fresh.push((i, version));
                            Resolved::Fresh(version)
                        }
                    }
                }
                None => match pending.get(&(o.stix_id.as_str(), o.version)) {
                    Some(d) if *d == o.content_sha256 => Resolved::Fresh(o.version),
                    Some(_) => Resolved::Conflict,
                    None if taken => Resolved::Conflict,
                    None => {
                        pending.insert((o.stix_id.as_str(), o.version), o.content_sha256.as_str());
                        fresh.push((i, o.version));
                        Resolved::Fresh(o.version)
                    }
                },
            };
            if matches!(r, Resolved::Conflict) && writer != Writer::Client {
                return Err(DbError::Refused(format!(
                    "{} (version {}) {CONFLICT}: Harpoon will not publish it under that id",
                    o.stix_id, o.version
                )));
            }
            resolved.push(r);
        }
        let rows: Vec<ObjectInsert<'_>> = fresh
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
                content_sha256: &o.content_sha256,
            })
            .collect();
        let mut new_pks: HashMap<(String, i64), i64> = HashMap::new();
        for (pk, id, version) in BulkInsert::insert_objects($c, &rows)? {
            new_pks.insert((id, version), pk);
        }
        // A concurrent writer (another collection, PostgreSQL) may have stored some first:
        // adopted when identical, else a conflict like any other.
        let mut adopted: Vec<i64> = Vec::new();
        let mut lost: Vec<(String, i64)> = Vec::new();
        for (i, version) in &fresh {
            let Some(o) = objects.get(*i) else { continue };
            if !new_pks.contains_key(&(o.stix_id.clone(), *version)) {
                let (pk, digest, json): (i64, Option<String>, String) = so::table
                    .filter(so::stix_id.eq(&o.stix_id))
                    .filter(so::version.eq(*version))
                    .select((so::pk, so::content_sha256, so::json))
                    .get_result($c)?;
                if digest.unwrap_or_else(|| digest_of_text(&json)) == o.content_sha256 {
                    adopted.push(pk);
                    new_pks.insert((o.stix_id.clone(), *version), pk);
                } else if writer == Writer::Client {
                    lost.push((o.stix_id.clone(), *version));
                } else {
                    return Err(DbError::Refused(format!("{} (version {version}) {CONFLICT}", o.stix_id)));
                }
            }
        }

        // 3. Membership: what the collection already has of these ids, with its flags. Only
        //    versions stored before this transaction can be members (rows inserted above are
        //    invisible to other writers until commit), so their pks are the whole question; it
        //    goes through the (collection_id, object_pk) index, not a second random-id index.
        let mut old_pks: Vec<i64> = stored.values().flatten().map(|s| s.pk).collect();
        old_pks.extend(adopted.iter().copied());
        // id → (seq, pk, version, is_first, is_latest, date_added); seq None for new rows.
        let mut members: HashMap<String, Vec<(Option<i64>, i64, i64, bool, bool, i64)>> = HashMap::new();
        for chunk in old_pks.chunks(ID_CHUNK) {
            let rows: Vec<(i64, String, i64, i64, bool, bool, i64)> = co::table
                .inner_join(so::table)
                .filter(co::collection_id.eq(collection_id))
                .filter(co::object_pk.eq_any(chunk))
                .select((
                    co::seq,
                    so::stix_id,
                    co::object_pk,
                    served_version!(),
                    co::is_first,
                    co::is_latest,
                    co::date_added,
                ))
                .load($c)?;
            for (seq, id, pk, version, first, latest, date_added) in rows {
                members.entry(id).or_default().push((Some(seq), pk, version, first, latest, date_added));
            }
        }
        let mut outcomes = Vec::with_capacity(objects.len());
        let mut new_members: Vec<(usize, i64, i64, i64)> = Vec::new();
        for (i, (o, r)) in objects.iter().zip(resolved).enumerate() {
            let (pk, version) = match r {
                Resolved::Conflict => {
                    outcomes.push(Added::Conflict);
                    continue;
                }
                Resolved::Stored(pk, version) => (pk, version),
                Resolved::Fresh(version) => {
                    if lost.contains(&(o.stix_id.clone(), version)) {
                        outcomes.push(Added::Conflict);
                        continue;
                    }
                    (*new_pks.get(&(o.stix_id.clone(), version)).ok_or(DbError::NotFound)?, version)
                }
            };
            // An SCO's TAXII version is its date_added in *this* collection (spec §3.1.1),
            // never when another collection first stored it.
            // Members carry that TAXII version (`served_version!`), so the first/latest flags follow
            // what the collection serves.
            let unversioned = o.created.is_none() && o.modified.is_none();
            let entry = members.entry(o.stix_id.clone()).or_default();
            if let Some(m) = entry.iter().find(|m| m.1 == pk) {
                outcomes.push(Added::Duplicate { version: m.2 });
                continue;
            }
            let version = if unversioned { next } else { version };
            entry.push((None, pk, version, false, false, next));
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
            if rows.iter().all(|r| r.0.is_some()) {
                continue;
            }
            let min = rows.iter().map(|r| r.2).min().unwrap_or_default();
            let max = rows.iter().map(|r| r.2).max().unwrap_or_default();
            for (seq, _, version, first, latest, _) in rows {
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
        BulkInsert::insert_members($c, &rows)?;
        if !new_members.is_empty() {
            diesel::update(collections::table.find(collection_id))
                .set(collections::last_date_added.eq(next - 1))
                .filter(collections::last_date_added.lt(next - 1))
                .execute($c)?;
        }
        Ok(outcomes)
    }};
}

/// The two bulk inserts of an add, per backend. SQLite takes multi-row INSERTs in chunks;
/// PostgreSQL takes every row in one statement of column arrays (`unnest`): one round trip
/// and one short statement to parse, where a 400-row VALUES list was a 3,600-parameter
/// statement parsed and planned anew for each chunk.
trait BulkInsert {
    /// Inserts object versions (a version already stored is skipped); returns the
    /// (pk, stix_id, version) of those inserted.
    fn insert_objects(&mut self, rows: &[ObjectInsert<'_>]) -> QueryResult<Vec<(i64, String, i64)>>;
    fn insert_members(&mut self, rows: &[MemberInsert<'_>]) -> QueryResult<()>;
}

impl BulkInsert for diesel::SqliteConnection {
    fn insert_objects(&mut self, rows: &[ObjectInsert<'_>]) -> QueryResult<Vec<(i64, String, i64)>> {
        let mut inserted = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(INSERT_CHUNK) {
            inserted.extend(
                diesel::insert_into(so::table)
                    .values(chunk)
                    .on_conflict_do_nothing()
                    .returning((so::pk, so::stix_id, so::version))
                    .get_results::<(i64, String, i64)>(self)?,
            );
        }
        Ok(inserted)
    }

    fn insert_members(&mut self, rows: &[MemberInsert<'_>]) -> QueryResult<()> {
        for chunk in rows.chunks(INSERT_CHUNK) {
            diesel::insert_into(co::table).values(chunk).execute(self)?;
        }
        Ok(())
    }
}

#[derive(QueryableByName)]
struct InsertedObject {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pk: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    stix_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    version: i64,
}

impl BulkInsert for diesel::PgConnection {
    fn insert_objects(&mut self, rows: &[ObjectInsert<'_>]) -> QueryResult<Vec<(i64, String, i64)>> {
        use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text};
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let inserted: Vec<InsertedObject> = diesel::sql_query(
            "INSERT INTO stix_objects \
             (stix_id, stix_type, spec_version, created, modified, version, revoked, json, content_sha256) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], \
             $6::int8[], $7::bool[], $8::text[], $9::text[]) \
             ON CONFLICT DO NOTHING RETURNING pk, stix_id, version",
        )
        .bind::<Array<Text>, _>(column(rows, |r| r.stix_id))
        .bind::<Array<Text>, _>(column(rows, |r| r.stix_type))
        .bind::<Array<Text>, _>(column(rows, |r| r.spec_version))
        .bind::<Array<Nullable<BigInt>>, _>(column(rows, |r| r.created))
        .bind::<Array<Nullable<BigInt>>, _>(column(rows, |r| r.modified))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.version))
        .bind::<Array<Bool>, _>(column(rows, |r| r.revoked))
        .bind::<Array<Text>, _>(column(rows, |r| r.json))
        .bind::<Array<Text>, _>(column(rows, |r| r.content_sha256))
        .load(self)?;
        Ok(inserted.into_iter().map(|r| (r.pk, r.stix_id, r.version)).collect())
    }

    fn insert_members(&mut self, rows: &[MemberInsert<'_>]) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Bool, Integer, Text};
        if rows.is_empty() {
            return Ok(());
        }
        diesel::sql_query(
            "INSERT INTO collection_objects \
             (collection_id, object_pk, date_added, is_first, is_latest, tlp_rank) \
             SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::bool[], $5::bool[], $6::int4[])",
        )
        .bind::<Array<Text>, _>(column(rows, |r| r.collection_id))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.object_pk))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.date_added))
        .bind::<Array<Bool>, _>(column(rows, |r| r.is_first))
        .bind::<Array<Bool>, _>(column(rows, |r| r.is_latest))
        .bind::<Array<Integer>, _>(column(rows, |r| r.tlp_rank))
        .execute(self)?;
        Ok(())
    }
}

/// One field of every row, as the array an `unnest` parameter binds.
fn column<R, T>(rows: &[R], field: impl Fn(&R) -> T) -> Vec<T> {
    rows.iter().map(field).collect()
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

/// Reads a collection's last `date_added` and TLP ceiling (locking its row on PostgreSQL) and refuses a writer
/// the collection does not take: a computed collection is filled by Harpoon's publisher only,
/// whoever asks (admins and `can_write` grants included).
macro_rules! open_collection {
    ($c:ident, $collection_id:expr, $writer:expr, sqlite) => {{
        let (last, kind, ceiling): (i64, String, i32) = collections::table
            .find($collection_id)
            .select((collections::last_date_added, collections::kind, collections::tlp_ceiling))
            .get_result($c)?;
        check_writer(&kind, $writer).map(|()| (last, ceiling))
    }};
    ($c:ident, $collection_id:expr, $writer:expr, postgres) => {{
        let (last, kind, ceiling): (i64, String, i32) = collections::table
            .find($collection_id)
            .select((collections::last_date_added, collections::kind, collections::tlp_ceiling))
            .for_update()
            .get_result($c)?;
        check_writer(&kind, $writer).map(|()| (last, ceiling))
    }};
}

fn check_writer(kind: &str, writer: Writer) -> Result<(), DbError> {
    if kind == "computed" && writer != Writer::Publisher {
        return Err(DbError::Refused(
            "this collection is computed: only Harpoon's publisher adds objects to it".into(),
        ));
    }
    Ok(())
}

/// Adds object versions to a collection in one transaction, each ranked by [`ranks_of`]. `date_added` is strictly increasing
/// per collection and never in the future: writers to one collection are serialised (SQLite's
/// write lock, PostgreSQL's row lock on the collection), so a poller using `added_after` or a
/// cursor can never miss a row committed later with an earlier `date_added`.
pub fn add_to_collection(
    conn: &mut DbConn,
    collection_id: &str,
    objects: &[NewObject],
    writer: Writer,
) -> Result<Vec<Added>, DbError> {
    let carried = carried_by(objects);
    match conn {
        DbConn::Sqlite(c) => c.immediate_transaction(|c| {
            let (last, ceiling) = open_collection!(c, collection_id, writer, sqlite)?;
            add_body!(c, collection_id, objects, last, &ranks_of(&carried, ceiling), writer)
        }),
        DbConn::Postgres(c) => c.transaction(|c| {
            let (last, ceiling) = open_collection!(c, collection_id, writer, postgres)?;
            add_body!(c, collection_id, objects, last, &ranks_of(&carried, ceiling), writer)
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
    writer: Writer,
) -> Result<Vec<Added>, DbError> {
    match conn {
        DbConn::Sqlite(c) => {
            let (last, _) = open_collection!(c, collection_id, writer, sqlite)?;
            add_body!(c, collection_id, objects, last, ranks, writer)
        }
        DbConn::Postgres(c) => {
            let (last, _) = open_collection!(c, collection_id, writer, postgres)?;
            add_body!(c, collection_id, objects, last, ranks, writer)
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
/// the objects are added, their status details become `success` (or `failure` for `failed`
/// and for conflicts), and their pending rows are deleted. A crash leaves either all of it or
/// none of it.
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
            let mut failed: Vec<(i64, String)> = failed.to_vec();
            let mut stored: Vec<i64> = Vec::with_capacity(items.len());
            for ((position, _), outcome) in items.iter().zip(&outcomes) {
                match outcome {
                    Added::Conflict => failed.push((*position, CONFLICT.to_string())),
                    Added::New { .. } | Added::Duplicate { .. } => stored.push(*position),
                }
            }
            for chunk in stored.chunks(ID_CHUNK) {
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
                let version = match *outcome {
                    Added::New { version, .. } | Added::Duplicate { version } => version,
                    Added::Conflict => continue,
                };
                if o.created.is_none() && o.modified.is_none() {
                    let text = crate::stix::StixTimestamp::from_micros(version)
                        .map(|t| t.to_string())
                        .unwrap_or_default();
                    diesel::update(details::table.find((status_id, *position)))
                        .set(details::version.eq(text))
                        .execute($c)?;
                }
            }
            for (position, message) in &failed {
                diesel::update(details::table.find((status_id, *position)))
                    .set((details::outcome.eq("failure"), details::message.eq(message)))
                    .execute($c)?;
            }
            let all: Vec<i64> = stored.iter().copied().chain(failed.iter().map(|(p, _)| *p)).collect();
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
    let writer = Writer::Client;
    match conn {
        DbConn::Sqlite(c) => c.immediate_transaction(|c| {
            let (last, ceiling) = open_collection!(c, collection_id, writer, sqlite)?;
            let ranks = ranks_of(&carried, ceiling);
            let outcomes = (|| -> Result<Vec<Added>, DbError> {
                add_body!(c, collection_id, &objects, last, &ranks, writer)
            })()?;
            settle!(c, outcomes)
        }),
        DbConn::Postgres(c) => c.transaction(|c| {
            let (last, ceiling) = open_collection!(c, collection_id, writer, postgres)?;
            let ranks = ranks_of(&carried, ceiling);
            let outcomes = (|| -> Result<Vec<Added>, DbError> {
                add_body!(c, collection_id, &objects, last, &ranks, writer)
            })()?;
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
        // One id (get-by-id, a single `match[id]`) as `=`, not `= ANY($n)`: PostgreSQL's generic
        // plan for an array of unknown length is a scan of the collection, so every execution
        // was planned afresh (~0.4 ms, most of a get-by-id's database time); with `=` the generic
        // plan is the two index lookups and is reused.
        match q.ids.as_slice() {
            [] => {}
            [id] => query = query.filter(so::stix_id.eq(id)),
            ids => query = query.filter(so::stix_id.eq_any(ids)),
        }
        if !q.types.is_empty() {
            query = query.filter(so::stix_type.eq_any(&q.types));
        }
        if !q.spec_versions.is_empty() {
            query = query.filter(so::spec_version.eq_any(&q.spec_versions));
        }
        // `match[version]` as typed filters (cacheable statements, one per shape).
        let v = &q.versions;
        if !v.all {
            use diesel::IntoSql;
            query = match (v.first, v.last, v.exact.is_empty()) {
                (true, false, true) => query.filter(co::is_first),
                (false, true, true) => query.filter(co::is_latest),
                (true, true, true) => query.filter(co::is_first.or(co::is_latest)),
                (false, false, true) => query.filter(false.into_sql::<Bool>()),
                (first, last, false) => query.filter(
                    first
                        .into_sql::<Bool>()
                        .and(co::is_first)
                        .or(last.into_sql::<Bool>().and(co::is_latest))
                        .or(served_version!().eq_any(&v.exact)),
                ),
            };
        }
        if $json {
            query
                .select((co::seq, co::date_added, so::stix_id, served_version!(), so::spec_version, so::json))
                .load::<PageRow>($c)
        } else {
            query
                .select((
                    co::seq,
                    co::date_added,
                    so::stix_id,
                    served_version!(),
                    so::spec_version,
                    diesel::IntoSql::into_sql::<diesel::sql_types::Text>(""),
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
        .get_result(c))?;
    Ok(max.unwrap_or(0))
}

/// The JSON text of the latest version of an object in one collection. Never "in any
/// collection": a partner may store a later version of one of our ids in its own collection,
/// and that must not become what Harpoon shares elsewhere.
pub fn latest_json(conn: &mut DbConn, collection_id: &str, stix_id: &str) -> Result<Option<String>, DbError> {
    Ok(super::with_conn!(conn, c => co::table
        .inner_join(so::table)
        .filter(co::collection_id.eq(collection_id))
        .filter(so::stix_id.eq(stix_id))
        .order((so::version.desc(), co::seq.desc()))
        .select(so::json)
        .get_result(c)
        .optional())?)
}

/// Whether `stix_id` has any version in the collection.
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
            .select((co::seq, served_version!()))
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
            collections::table
                .find(collection_id)
                .select(collections::id)
                .for_update()
                .get_result::<String>(c)?;
            delete_body!(c, collection_id, stix_id, versions, spec_versions)
        }),
    }
}
