//! The `server_secrets` table: keys every server instance sharing the database must agree on.

use diesel::prelude::*;

use super::schema::server_secrets;
use super::{DbConn, DbError, now_micros, with_conn};

/// Returns the secret `name`, storing `generate()` first if there is none. Two instances racing
/// both end up with the value that was stored first.
pub fn get_or_create(
    conn: &mut DbConn,
    name: &str,
    generate: impl FnOnce() -> String,
) -> Result<String, DbError> {
    let value = generate();
    with_conn!(conn, c => diesel::insert_into(server_secrets::table)
        .values((
            server_secrets::name.eq(name),
            server_secrets::value.eq(&value),
            server_secrets::created_at.eq(now_micros()),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(with_conn!(conn, c => server_secrets::table
        .find(name)
        .select(server_secrets::value)
        .get_result(c))?)
}
