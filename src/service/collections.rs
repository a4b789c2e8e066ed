//! TAXII collections: creating them with grants and a TLP ceiling, changing the ceiling, and
//! what a given user may do with each.

use super::ServiceError;
use super::auth::Principal;
use crate::db::audit::{self, AuditEntry};
use crate::db::collections::{self, CollectionRow, GrantRow, NewCollection};
use crate::db::{DbConn, DbError, users, write_tx};

/// What one user may do with one collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    pub can_read: bool,
    pub can_write: bool,
}

/// Admins read and write everything; others by grant; anyone reads a public-read collection.
/// Computed (server-built) collections are never writable, and a reader (internal, read-only)
/// never writes, whatever a grant says.
pub fn access(collection: &CollectionRow, principal: Option<&Principal>, grants: &[GrantRow]) -> Access {
    let grant = principal
        .and_then(|p| grants.iter().find(|g| g.user_id == p.user_id && g.collection_id == collection.id));
    let admin = principal.is_some_and(Principal::is_admin);
    let computed = collection.kind == "computed";
    Access {
        can_read: admin || collection.public_read || grant.is_some_and(|g| g.can_read),
        can_write: !computed
            && (admin
                || grant.is_some_and(|g| g.can_write)
                    && principal.is_some_and(|p| p.role != crate::service::accounts::Role::Reader)),
    }
}

/// A new collection as asked for by the CLI or the REST API.
#[derive(Debug, Clone)]
pub struct CollectionSpec {
    pub title: String,
    pub alias: Option<String>,
    pub description: Option<String>,
    pub public_read: bool,
    pub readers: Vec<String>,
    pub writers: Vec<String>,
    /// The TAXII API root it belongs to (`root` by default).
    pub api_root: String,
    /// The most restrictive TLP it may hold and serve (`None`: AMBER). RED only when asked.
    pub max_tlp: Option<String>,
    /// Events may be shared here (within the ceiling).
    pub share_target: bool,
    /// Objects partners POST here become Harpoon indicators (status Review).
    pub intake: bool,
}

impl Default for CollectionSpec {
    fn default() -> Self {
        Self {
            title: String::new(),
            alias: None,
            description: None,
            public_read: false,
            readers: Vec::new(),
            writers: Vec::new(),
            api_root: DEFAULT_API_ROOT.into(),
            max_tlp: None,
            share_target: false,
            intake: false,
        }
    }
}

/// The API root collections belong to unless told otherwise.
pub const DEFAULT_API_ROOT: &str = "root";

/// A collection title: 1-200 characters and no `.`, because consumers (Splunk-style `a.b`
/// field paths, OpenCTI and XSOAR feed names) split on it. Unique too, by the database.
pub fn check_title(title: &str) -> Result<(), ServiceError> {
    if title.is_empty() || title.chars().count() > 200 {
        return Err(ServiceError::Invalid("a collection title needs 1-200 characters".into()));
    }
    if title.contains('.') {
        return Err(ServiceError::Invalid(format!(
            "a collection title must not contain '.' (some TAXII consumers split on it): '{title}'"
        )));
    }
    Ok(())
}

/// Collections created before titles were checked may carry a `.`: they are kept as they are
/// (partners select them by that title; renaming would break the consumers that cope) and
/// named in a warning at start. Returns the offending titles.
pub fn dotted_titles(conn: &mut DbConn) -> Result<Vec<String>, ServiceError> {
    Ok(collections::list(conn)?.into_iter().map(|c| c.title).filter(|t| t.contains('.')).collect())
}

/// Creates a stored collection; titles and aliases are unique (clients pick collections by title).
pub fn create(conn: &mut DbConn, spec: &CollectionSpec) -> Result<CollectionRow, ServiceError> {
    let title = spec.title.trim();
    check_title(title)?;
    if let Some(alias) = &spec.alias {
        let ok = !alias.is_empty()
            && alias.len() <= 64
            && alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(ServiceError::Invalid(format!("invalid alias '{alias}': use 1-64 of a-z 0-9 - _")));
        }
    }
    let ceiling = super::tlp::parse_ceiling(spec.max_tlp.as_deref())?;
    let id = uuid::Uuid::new_v4().to_string();
    let mut grants: Vec<GrantRow> = Vec::new();
    for (name, write) in spec.readers.iter().map(|n| (n, false)).chain(spec.writers.iter().map(|n| (n, true)))
    {
        let user =
            users::by_name(conn, name)?.ok_or_else(|| ServiceError::NotFound(format!("user '{name}'")))?;
        match grants.iter_mut().find(|g| g.user_id == user.id) {
            Some(g) => {
                g.can_write |= write;
            }
            None => grants.push(GrantRow {
                user_id: user.id,
                collection_id: id.clone(),
                can_read: true,
                can_write: write,
            }),
        }
    }
    let new = NewCollection {
        id: &id,
        title,
        alias: spec.alias.as_deref(),
        description: spec.description.as_deref(),
        public_read: spec.public_read,
        kind: "stored",
        created_at: crate::db::now_micros(),
        api_root: &spec.api_root,
        intake: spec.intake,
        tlp_ceiling: ceiling.rank(),
        share_target: spec.share_target,
    };
    collections::insert(conn, &new, &grants).map_err(|e| match e {
        DbError::Conflict(_) => {
            ServiceError::Conflict(format!("a collection with title '{title}' or that alias"))
        }
        other => other.into(),
    })
}

/// Changes a collection's TLP ceiling and/or whether events may be shared to it (audited).
/// Lowering the ceiling stops serving what is stored above it at once; raising it serves it
/// again (with its original `date_added`: pollers using `added_after` do not see it as new).
pub fn set_tlp(
    conn: &mut DbConn,
    key: &str,
    max_tlp: Option<&str>,
    share_target: Option<bool>,
    actor: &str,
) -> Result<CollectionRow, ServiceError> {
    let level = max_tlp.map(crate::stix::parse_tlp).transpose()?;
    write_tx(conn, |conn| {
        let row = collections::by_id_or_alias(conn, key)?
            .ok_or_else(|| ServiceError::NotFound(format!("collection '{key}'")))?;
        let old = super::tlp::ceiling(&row);
        let ceiling = level.unwrap_or(old);
        let share = share_target.unwrap_or(row.share_target);
        collections::set_tlp(conn, &row.id, ceiling.rank(), share)?;
        let detail = format!(
            "max_tlp {} -> {}, share_target {} -> {share}",
            old.level(),
            ceiling.level(),
            row.share_target
        );
        let entry = AuditEntry::new("collection.tlp")
            .actor(actor)
            .target(format!("collection {}", row.id))
            .detail(detail);
        audit::insert(conn, &entry)?;
        Ok(CollectionRow { tlp_ceiling: ceiling.rank(), share_target: share, ..row })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::accounts::Role;
    use crate::service::auth::AuthMethod;

    fn coll(kind: &str, public_read: bool) -> CollectionRow {
        CollectionRow {
            id: "c1".into(),
            title: "t".into(),
            alias: None,
            description: None,
            public_read,
            kind: kind.into(),
            created_at: 0,
            last_date_added: 0,
            api_root: "root".into(),
            intake: false,
            tlp_ceiling: 2,
            share_target: false,
        }
    }
    fn who(id: i64, role: Role) -> Principal {
        Principal {
            user_id: id,
            username: format!("u{id}"),
            role,
            method: AuthMethod::Password,
            scope: crate::service::accounts::TokenScope::All,
            exports: Vec::new(),
        }
    }

    #[test]
    fn access_table() {
        let grants =
            vec![GrantRow { user_id: 2, collection_id: "c1".into(), can_read: true, can_write: true }];
        let stored = coll("stored", false);
        assert_eq!(
            access(&stored, Some(&who(1, Role::Admin)), &[]),
            Access { can_read: true, can_write: true }
        );
        assert_eq!(
            access(&stored, Some(&who(2, Role::Analyst)), &grants),
            Access { can_read: true, can_write: true }
        );
        assert_eq!(access(&stored, Some(&who(3, Role::Analyst)), &grants), Access::default());
        assert_eq!(access(&coll("stored", true), None, &[]), Access { can_read: true, can_write: false });
        let computed = coll("computed", false);
        assert_eq!(
            access(&computed, Some(&who(1, Role::Admin)), &[]),
            Access { can_read: true, can_write: false }
        );
    }
}
