//! §5.1 Get collections and §5.2 get a collection; plus the access check every collection
//! endpoint uses. A collection the caller may not see answers 404 (not 403), so its existence
//! does not leak; anonymous callers get 401 unless it is public-read.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::{Caller, TaxiiError, api_root, media, ok_json};
use crate::db::Db;
use crate::db::collections::{self as store, CollectionRow};
use crate::service::auth::Principal;
use crate::service::collections::{Access, access};
use crate::settings::Settings;

/// A collection the caller may see, with what they may do.
pub struct Visible {
    pub row: CollectionRow,
    pub access: Access,
}

impl Visible {
    pub fn require_read(&self) -> Result<(), TaxiiError> {
        if self.access.can_read {
            Ok(())
        } else {
            Err(TaxiiError::Forbidden("you may not read this collection".into()))
        }
    }
    pub fn require_write(&self) -> Result<(), TaxiiError> {
        if self.access.can_write {
            Ok(())
        } else {
            Err(TaxiiError::Forbidden("you may not write to this collection".into()))
        }
    }
}

/// Resolves `{root}/collections/{key}` (id or alias) for the caller.
pub async fn visible(
    db: &Db,
    settings: &Settings,
    root: &str,
    key: &str,
    principal: Option<&Principal>,
) -> Result<Visible, TaxiiError> {
    api_root(settings, root)?;
    let (root, key) = (root.to_string(), key.to_string());
    let uid = principal.map(|p| p.user_id);
    let (row, grants) = db.run(move |conn| lookup(conn, &root, &key, uid)).await?;
    judge(row, &grants, principal)
}

/// What [`visible`] reads, on a connection the caller already holds (a page read does it in
/// the same database visit as the page): the collection and the caller's grant on it, in one
/// statement.
pub fn lookup(
    conn: &mut crate::db::DbConn,
    root: &str,
    key: &str,
    uid: Option<i64>,
) -> Result<(Option<CollectionRow>, Vec<store::GrantRow>), crate::db::DbError> {
    let (row, grant) = match uid {
        Some(uid) => match store::by_id_or_alias_with_grant(conn, key, uid)? {
            Some((row, grant)) => (Some(row), grant),
            None => (None, None),
        },
        None => (store::by_id_or_alias(conn, key)?, None),
    };
    Ok((row.filter(|c| c.api_root == root), grant.into_iter().collect()))
}

/// The caller's view of a looked-up collection: 401 for an anonymous caller, 404 for one who
/// may neither read nor write it (its existence does not leak).
pub fn judge(
    row: Option<CollectionRow>,
    grants: &[store::GrantRow],
    who: Option<&Principal>,
) -> Result<Visible, TaxiiError> {
    let hidden = || match who {
        None => TaxiiError::Unauthorized("authentication required".into()),
        Some(_) => TaxiiError::NotFound("no such collection".into()),
    };
    let row = row.ok_or_else(hidden)?;
    let access = access(&row, who, grants);
    if !access.can_read && !access.can_write {
        return Err(hidden());
    }
    Ok(Visible { row, access })
}

/// An object id from a path, checked.
pub fn object_id(text: &str) -> Result<String, TaxiiError> {
    crate::stix::StixId::parse(text)
        .map(|id| id.to_string())
        .map_err(|e| TaxiiError::BadRequest(e.to_string()))
}

fn resource(row: &CollectionRow, access: Access) -> Value {
    let mut v = json!({
        "id": row.id,
        "title": row.title,
        "can_read": access.can_read,
        "can_write": access.can_write,
        "media_types": [media::STIX_MEDIA],
    });
    if let (Some(d), Some(o)) = (&row.description, v.as_object_mut()) {
        o.insert("description".into(), json!(d));
    }
    if let (Some(a), Some(o)) = (&row.alias, v.as_object_mut()) {
        o.insert("alias".into(), json!(a));
    }
    v
}

pub async fn list(
    path: web::Path<String>,
    caller: Caller,
    settings: web::Data<Settings>,
    db: web::Data<Db>,
) -> Result<HttpResponse, TaxiiError> {
    let root = api_root(&settings, &path)?.name.clone();
    let who = caller.principal.clone();
    let uid = who.as_ref().map(|p| p.user_id);
    let (rows, grants) = db
        .run(move |conn| {
            let rows = store::list_in_root(conn, &root)?;
            let grants = match uid {
                Some(uid) => store::grants_of(conn, uid)?,
                None => Vec::new(),
            };
            Ok::<_, crate::db::DbError>((rows, grants))
        })
        .await?;
    let visible: Vec<Value> = rows
        .iter()
        .filter_map(|row| {
            let a = access(row, who.as_ref(), &grants);
            (a.can_read || a.can_write).then(|| resource(row, a))
        })
        .collect();
    if who.is_none() && visible.is_empty() {
        return Err(TaxiiError::Unauthorized("authentication required".into()));
    }
    let body = if visible.is_empty() { json!({}) } else { json!({ "collections": visible }) };
    Ok(ok_json(body.to_string()))
}

pub async fn get(
    path: web::Path<(String, String)>,
    caller: Caller,
    settings: web::Data<Settings>,
    db: web::Data<Db>,
) -> Result<HttpResponse, TaxiiError> {
    let (root, key) = path.into_inner();
    let v = visible(&db, &settings, &root, &key, caller.principal.as_ref()).await?;
    Ok(ok_json(resource(&v.row, v.access).to_string()))
}
