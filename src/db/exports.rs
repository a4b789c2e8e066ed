//! The `exports` table: named exports for devices that cannot speak TAXII.

use diesel::prelude::*;

use super::schema::exports as ex;
use super::{DbConn, DbError, with_conn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ex)]
pub struct ExportRow {
    pub id: i64,
    pub name: String,
    pub format: String,
    pub filters: String,
    pub options: String,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ex)]
pub struct NewExport<'a> {
    pub name: &'a str,
    pub format: &'a str,
    pub filters: &'a str,
    pub options: &'a str,
    pub created_by: &'a str,
    pub created_at: i64,
}

pub fn insert(conn: &mut DbConn, new: &NewExport<'_>) -> Result<ExportRow, DbError> {
    Ok(with_conn!(conn, c => diesel::insert_into(ex::table)
        .values(new)
        .returning(ExportRow::as_returning())
        .get_result(c))?)
}

pub fn list(conn: &mut DbConn) -> Result<Vec<ExportRow>, DbError> {
    Ok(with_conn!(conn, c => ex::table.order(ex::name.asc()).select(ExportRow::as_select()).load(c))?)
}

pub fn by_name(conn: &mut DbConn, name: &str) -> Result<Option<ExportRow>, DbError> {
    Ok(
        with_conn!(conn, c => ex::table.filter(ex::name.eq(name)).select(ExportRow::as_select()).get_result(c).optional())?,
    )
}

pub fn delete(conn: &mut DbConn, name: &str) -> Result<bool, DbError> {
    Ok(with_conn!(conn, c => diesel::delete(ex::table.filter(ex::name.eq(name))).execute(c))? > 0)
}
