//! The `collections` and `collection_grants` tables: TAXII collections and who may use them.

use diesel::prelude::*;

use super::schema::{collection_grants, collections};
use super::{DbConn, DbError, with_conn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = collections)]
pub struct CollectionRow {
    pub id: String,
    pub title: String,
    pub alias: Option<String>,
    pub description: Option<String>,
    pub public_read: bool,
    pub kind: String,
    pub created_at: i64,
    pub last_date_added: i64,
    pub api_root: String,
    /// Objects partners POST here become Harpoon indicators.
    pub intake: bool,
    /// The most restrictive TLP rank (`Tlp2::rank`) the collection may hold and serve.
    pub tlp_ceiling: i32,
    /// Events may be shared here (as reports), within the ceiling.
    pub share_target: bool,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = collections)]
pub struct NewCollection<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub alias: Option<&'a str>,
    pub description: Option<&'a str>,
    pub public_read: bool,
    pub kind: &'a str,
    pub created_at: i64,
    pub api_root: &'a str,
    pub intake: bool,
    pub tlp_ceiling: i32,
    pub share_target: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = collection_grants)]
pub struct GrantRow {
    pub user_id: i64,
    pub collection_id: String,
    pub can_read: bool,
    pub can_write: bool,
}

/// Inserts a collection and its grants in one transaction.
pub fn insert(
    conn: &mut DbConn,
    new: &NewCollection<'_>,
    grants: &[GrantRow],
) -> Result<CollectionRow, DbError> {
    with_conn!(conn, c => c.transaction::<_, DbError, _>(|c| {
        let row = diesel::insert_into(collections::table)
            .values(new)
            .returning(CollectionRow::as_returning())
            .get_result(c)
            .map_err(|e| match DbError::from(e) {
                DbError::Conflict(_) => DbError::Conflict(format!("a collection titled or aliased '{}'", new.title)),
                other => other,
            })?;
        if !grants.is_empty() {
            diesel::insert_into(collection_grants::table).values(grants).execute(c)?;
        }
        Ok(row)
    }))
}

pub fn list(conn: &mut DbConn) -> Result<Vec<CollectionRow>, DbError> {
    Ok(with_conn!(conn, c => collections::table
        .order((collections::created_at.asc(), collections::title.asc()))
        .select(CollectionRow::as_select())
        .load(c))?)
}

/// Collections of one API root, oldest first.
pub fn list_in_root(conn: &mut DbConn, api_root: &str) -> Result<Vec<CollectionRow>, DbError> {
    Ok(with_conn!(conn, c => collections::table
        .filter(collections::api_root.eq(api_root))
        .order((collections::created_at.asc(), collections::title.asc()))
        .select(CollectionRow::as_select())
        .load(c))?)
}

/// Whether any collection of an API root may be read anonymously.
pub fn any_public(conn: &mut DbConn, api_root: &str) -> Result<bool, DbError> {
    let n: i64 = with_conn!(conn, c => collections::table
        .filter(collections::api_root.eq(api_root))
        .filter(collections::public_read.eq(true))
        .count()
        .get_result(c))?;
    Ok(n > 0)
}

pub fn by_id_or_alias(conn: &mut DbConn, key: &str) -> Result<Option<CollectionRow>, DbError> {
    Ok(with_conn!(conn, c => collections::table
        .filter(collections::id.eq(key).or(collections::alias.eq(key)))
        .select(CollectionRow::as_select())
        .get_result(c)
        .optional())?)
}

/// A collection by id or alias with `user_id`'s grant on it, in one statement (a TAXII page
/// reads this and then the page: on PostgreSQL every statement is a round trip).
pub fn by_id_or_alias_with_grant(
    conn: &mut DbConn,
    key: &str,
    user_id: i64,
) -> Result<Option<(CollectionRow, Option<GrantRow>)>, DbError> {
    Ok(with_conn!(conn, c => collections::table
        .left_join(
            collection_grants::table.on(collection_grants::collection_id
                .eq(collections::id)
                .and(collection_grants::user_id.eq(user_id))),
        )
        .filter(collections::id.eq(key).or(collections::alias.eq(key)))
        .select((CollectionRow::as_select(), Option::<GrantRow>::as_select()))
        .get_result(c)
        .optional())?)
}

/// Changes a collection's TLP ceiling and whether events may be shared to it. A lower ceiling
/// takes effect at once: pages serve only memberships whose rank is within it.
pub fn set_tlp(conn: &mut DbConn, id: &str, tlp_ceiling: i32, share_target: bool) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(collections::table.find(id))
        .set((collections::tlp_ceiling.eq(tlp_ceiling), collections::share_target.eq(share_target)))
        .execute(c))?;
    Ok(())
}

/// All grants of one user.
pub fn grants_of(conn: &mut DbConn, user_id: i64) -> Result<Vec<GrantRow>, DbError> {
    Ok(with_conn!(conn, c => collection_grants::table
        .filter(collection_grants::user_id.eq(user_id))
        .select(GrantRow::as_select())
        .load(c))?)
}

/// Sets (insert or replace) one user's grant on one collection.
pub fn set_grant(conn: &mut DbConn, grant: &GrantRow) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::insert_into(collection_grants::table)
        .values(grant)
        .on_conflict((collection_grants::user_id, collection_grants::collection_id))
        .do_update()
        .set((
            collection_grants::can_read.eq(grant.can_read),
            collection_grants::can_write.eq(grant.can_write),
        ))
        .execute(c))?;
    Ok(())
}

/// Collections whose objects partners POST become Harpoon indicators.
pub fn intake(conn: &mut DbConn) -> Result<Vec<CollectionRow>, DbError> {
    Ok(with_conn!(conn, c => collections::table
        .filter(collections::intake.eq(true))
        .select(CollectionRow::as_select())
        .load(c))?)
}

/// How far intake has read a collection.
pub fn intake_cursor(conn: &mut DbConn, collection_id: &str) -> Result<i64, DbError> {
    use super::schema::intake_cursors as ic;
    Ok(with_conn!(conn, c => ic::table.find(collection_id).select(ic::last_seq).get_result(c).optional())?
        .unwrap_or(0))
}

pub fn set_intake_cursor(conn: &mut DbConn, collection_id: &str, seq: i64) -> Result<(), DbError> {
    use super::schema::intake_cursors as ic;
    with_conn!(conn, c => diesel::insert_into(ic::table)
        .values((ic::collection_id.eq(collection_id), ic::last_seq.eq(seq)))
        .on_conflict(ic::collection_id)
        .do_update()
        .set(ic::last_seq.eq(seq))
        .execute(c))?;
    Ok(())
}
