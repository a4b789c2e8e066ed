//! TAXII collections: creating them with grants, and what a given user may do with each.

use super::ServiceError;
use super::auth::Principal;
use crate::db::collections::{self, CollectionRow, GrantRow, NewCollection};
use crate::db::{DbConn, DbError, users};

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
    /// Events may be shared here up to this TLP (`None`: not a sharing target; RED never).
    pub share_max_tlp: Option<String>,
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
            share_max_tlp: None,
            intake: false,
        }
    }
}

/// The API root collections belong to unless told otherwise.
pub const DEFAULT_API_ROOT: &str = "root";

/// Creates a stored collection; titles and aliases are unique (clients pick collections by title).
pub fn create(conn: &mut DbConn, spec: &CollectionSpec) -> Result<CollectionRow, ServiceError> {
    let title = spec.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(ServiceError::Invalid("a collection title needs 1-200 characters".into()));
    }
    if let Some(alias) = &spec.alias {
        let ok = !alias.is_empty()
            && alias.len() <= 64
            && alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(ServiceError::Invalid(format!("invalid alias '{alias}': use 1-64 of a-z 0-9 - _")));
        }
    }
    let share_max_tlp = match spec.share_max_tlp.as_deref() {
        Some(t) => {
            let level = super::publish::parse_tlp(t)?;
            if level == crate::stix::Tlp2::Red {
                return Err(ServiceError::Invalid(
                    "TLP:RED is never shared; no collection may receive it".into(),
                ));
            }
            Some(level.level())
        }
        None => None,
    };
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
        share_max_tlp,
        intake: spec.intake,
    };
    collections::insert(conn, &new, &grants).map_err(|e| match e {
        DbError::Conflict(_) => {
            ServiceError::Conflict(format!("a collection with title '{title}' or that alias"))
        }
        other => other.into(),
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
            share_max_tlp: None,
            intake: false,
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
