//! The `misp_links` table: for indicators read from MISP event JSON, the attribute (uuid as sent)
//! and the event they came from.

use diesel::prelude::*;

use super::schema::misp_links as ml;
use super::{DbConn, DbError, with_conn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ml)]
pub struct MispLinkRow {
    pub indicator_id: i64,
    pub attribute_uuid: String,
    pub event_uuid: String,
    pub event_info: String,
    pub orgc: String,
    pub via: String,
    pub linked_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewMispLink<'a> {
    pub indicator_id: i64,
    pub attribute_uuid: &'a str,
    pub event_uuid: &'a str,
    pub event_info: &'a str,
    pub orgc: &'a str,
    pub via: &'a str,
    pub linked_at: i64,
}

/// Records where indicators came from; a link already stored is kept (its first sighting).
pub fn link(conn: &mut DbConn, links: &[NewMispLink<'_>]) -> Result<(), DbError> {
    for chunk in links.chunks(400) {
        // Value tuples: SQLite's batch INSERT takes no DEFAULT keyword, so not the struct.
        let rows: Vec<_> = chunk
            .iter()
            .map(|l| {
                (
                    ml::indicator_id.eq(l.indicator_id),
                    ml::attribute_uuid.eq(l.attribute_uuid),
                    ml::event_uuid.eq(l.event_uuid),
                    ml::event_info.eq(l.event_info),
                    ml::orgc.eq(l.orgc),
                    ml::via.eq(l.via),
                    ml::linked_at.eq(l.linked_at),
                )
            })
            .collect();
        with_conn!(conn, c => diesel::insert_into(ml::table).values(&rows).on_conflict_do_nothing().execute(c))?;
    }
    Ok(())
}

/// The MISP attributes an indicator was read from, oldest first.
pub fn of_indicator(conn: &mut DbConn, id: i64) -> Result<Vec<MispLinkRow>, DbError> {
    Ok(with_conn!(conn, c => ml::table
        .filter(ml::indicator_id.eq(id))
        .order((ml::linked_at.asc(), ml::attribute_uuid.asc()))
        .select(MispLinkRow::as_select())
        .load(c))?)
}
