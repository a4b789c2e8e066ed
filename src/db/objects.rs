//! The STIX object store and collection membership: adding object versions to a collection
//! (monotonic `date_added`, first/latest flags), keyset pages over (date_added, seq) with the
//! TAXII filters, and deleting versions.

use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::schema::{collection_objects as co, collections, stix_objects as so};
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
    stix_id: &'a str,
}

/// The body of [`add_to_collection`], written once for both backends. `$c` is the concrete
/// connection inside a transaction that already holds the collection's write lock.
macro_rules! add_body {
    ($c:ident, $collection_id:expr, $objects:expr, $last:expr) => {{
        let mut next = now_micros().max($last + 1);
        let mut outcomes = Vec::with_capacity($objects.len());
        for o in $objects {
            let unversioned = o.created.is_none() && o.modified.is_none();
            // An object without created/modified (an SCO) has one version: the first one stored.
            let known: Option<(i64, i64)> = if unversioned {
                so::table
                    .filter(so::stix_id.eq(&o.stix_id))
                    .select((so::pk, so::version))
                    .order(so::pk.asc())
                    .first($c)
                    .optional()?
            } else {
                None
            };
            let (pk, version) = match known {
                Some(found) => found,
                None => {
                    let version = if unversioned { next } else { o.version };
                    let inserted: Option<i64> = diesel::insert_into(so::table)
                        .values(&ObjectInsert {
                            stix_id: &o.stix_id,
                            stix_type: &o.stix_type,
                            spec_version: &o.spec_version,
                            created: o.created,
                            modified: o.modified,
                            version,
                            revoked: o.revoked,
                            json: &o.json,
                        })
                        .on_conflict_do_nothing()
                        .returning(so::pk)
                        .get_result($c)
                        .optional()?;
                    match inserted {
                        Some(pk) => (pk, version),
                        // Same id and version: the same object (TAXII identifies a version by both).
                        None => (
                            so::table
                                .filter(so::stix_id.eq(&o.stix_id))
                                .filter(so::version.eq(version))
                                .select(so::pk)
                                .first($c)?,
                            version,
                        ),
                    }
                }
            };
            let existing: Vec<(i64, i64)> = co::table
                .inner_join(so::table)
                .filter(co::collection_id.eq($collection_id))
                .filter(co::stix_id.eq(&o.stix_id))
                .select((co::object_pk, so::version))
                .load($c)?;
            if existing.iter().any(|(p, _)| *p == pk) {
                outcomes.push(Added::Duplicate { version });
                continue;
            }
            let is_latest = existing.iter().all(|(_, v)| version > *v);
            let is_first = existing.iter().all(|(_, v)| version < *v);
            if is_latest && !existing.is_empty() {
                diesel::update(co::table)
                    .filter(co::collection_id.eq($collection_id))
                    .filter(co::stix_id.eq(&o.stix_id))
                    .filter(co::is_latest.eq(true))
                    .set(co::is_latest.eq(false))
                    .execute($c)?;
            }
            if is_first && !existing.is_empty() {
                diesel::update(co::table)
                    .filter(co::collection_id.eq($collection_id))
                    .filter(co::stix_id.eq(&o.stix_id))
                    .filter(co::is_first.eq(true))
                    .set(co::is_first.eq(false))
                    .execute($c)?;
            }
            diesel::insert_into(co::table)
                .values(&MemberInsert {
                    collection_id: $collection_id,
                    object_pk: pk,
                    date_added: next,
                    is_first,
                    is_latest,
                    stix_id: &o.stix_id,
                })
                .execute($c)?;
            outcomes.push(Added::New { date_added: next, version });
            next += 1;
        }
        diesel::update(collections::table.find($collection_id))
            .set(collections::last_date_added.eq(next - 1))
            .filter(collections::last_date_added.lt(next - 1))
            .execute($c)?;
        Ok(outcomes)
    }};
}

/// Adds object versions to a collection in one transaction. `date_added` is strictly increasing
/// per collection and never in the future: writers to one collection are serialised (SQLite's
/// write lock, PostgreSQL's row lock on the collection), so a poller using `added_after` or a
/// cursor can never miss a row committed later with an earlier `date_added`.
pub fn add_to_collection(
    conn: &mut DbConn,
    collection_id: &str,
    objects: &[NewObject],
) -> Result<Vec<Added>, DbError> {
    match conn {
        DbConn::Sqlite(c) => c.immediate_transaction(|c| {
            let last: i64 =
                collections::table.find(collection_id).select(collections::last_date_added).first(c)?;
            add_body!(c, collection_id, objects, last)
        }),
        DbConn::Postgres(c) => c.transaction(|c| {
            let last: i64 = collections::table
                .find(collection_id)
                .select(collections::last_date_added)
                .for_update()
                .first(c)?;
            add_body!(c, collection_id, objects, last)
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
            query = query.filter(co::stix_id.eq_any(&q.ids));
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
                .select((co::seq, co::date_added, co::stix_id, so::version, so::spec_version, so::json))
                .load::<PageRow>($c)
        } else {
            query
                .select((
                    co::seq,
                    co::date_added,
                    co::stix_id,
                    so::version,
                    so::spec_version,
                    diesel::dsl::sql::<diesel::sql_types::Text>("''"),
                ))
                .load::<PageRow>($c)
        }
    }};
}

/// Up to `limit + 1` rows matching `q`; `with_json` loads the stored object text.
pub fn page(conn: &mut DbConn, q: &PageQuery, with_json: bool) -> Result<Vec<PageRow>, DbError> {
    Ok(match conn {
        DbConn::Sqlite(c) => page_query!(c, q, with_json)?,
        DbConn::Postgres(c) => page_query!(c, q, with_json)?,
    })
}

/// Whether `stix_id` has any version in the collection.
pub fn contains(conn: &mut DbConn, collection_id: &str, stix_id: &str) -> Result<bool, DbError> {
    let n: i64 = super::with_conn!(conn, c => co::table
        .filter(co::collection_id.eq(collection_id))
        .filter(co::stix_id.eq(stix_id))
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
            .filter(co::stix_id.eq($stix_id))
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
