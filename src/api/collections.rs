//! `/api/v1/collections`: TAXII collections over REST. Admins create them and set grants; every
//! user lists the collections they may use, with their own `can_read`/`can_write` and each
//! collection's TLP ceiling; admins change the ceiling.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{ApiError, Caller};
use crate::db::collections::{self as store, CollectionRow, GrantRow};
use crate::db::{Db, users};
use crate::service::collections::{self, Access, CollectionSpec, DEFAULT_API_ROOT, access};

#[derive(Debug, Serialize)]
pub struct CollectionDto {
    pub id: String,
    pub title: String,
    pub alias: Option<String>,
    pub description: Option<String>,
    pub api_root: String,
    pub public_read: bool,
    pub computed: bool,
    pub can_read: bool,
    pub can_write: bool,
    /// The most restrictive TLP the collection holds and serves.
    pub max_tlp: &'static str,
    /// Events may be shared here.
    pub share_target: bool,
    pub intake: bool,
}

fn dto(row: &CollectionRow, a: Access) -> CollectionDto {
    CollectionDto {
        id: row.id.clone(),
        title: row.title.clone(),
        alias: row.alias.clone(),
        description: row.description.clone(),
        api_root: row.api_root.clone(),
        public_read: row.public_read,
        computed: row.kind == "computed",
        can_read: a.can_read,
        can_write: a.can_write,
        max_tlp: crate::service::tlp::ceiling(row).level(),
        share_target: row.share_target,
        intake: row.intake,
    }
}

pub async fn list(caller: Caller, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let uid = caller.user_id;
    let (rows, grants) = db
        .run(move |conn| Ok::<_, crate::db::DbError>((store::list(conn)?, store::grants_of(conn, uid)?)))
        .await?;
    let visible: Vec<CollectionDto> = rows
        .iter()
        .filter_map(|row| {
            let a = access(row, Some(&caller.principal), &grants);
            (a.can_read || a.can_write).then(|| dto(row, a))
        })
        .collect();
    Ok(HttpResponse::Ok().json(visible))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCollectionRequest {
    pub title: String,
    pub alias: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub public_read: bool,
    #[serde(default)]
    pub readers: Vec<String>,
    #[serde(default)]
    pub writers: Vec<String>,
    pub api_root: Option<String>,
    /// The TLP ceiling (default amber).
    pub max_tlp: Option<String>,
    #[serde(default)]
    pub share_target: bool,
    /// Before ceilings: a sharing target with this ceiling (kept for existing clients).
    pub share_max_tlp: Option<String>,
    #[serde(default)]
    pub intake: bool,
}

pub async fn create(
    caller: Caller,
    db: web::Data<Db>,
    body: web::Json<NewCollectionRequest>,
) -> Result<HttpResponse, ApiError> {
    if !caller.is_admin() {
        return Err(ApiError::Forbidden("administrators only".into()));
    }
    let req = body.into_inner();
    if req.max_tlp.is_some() && req.share_max_tlp.is_some() {
        return Err(ApiError::BadRequest("give max_tlp (and share_target), not share_max_tlp".into()));
    }
    let spec = CollectionSpec {
        title: req.title,
        alias: req.alias,
        description: req.description,
        public_read: req.public_read,
        readers: req.readers,
        writers: req.writers,
        api_root: req.api_root.unwrap_or_else(|| DEFAULT_API_ROOT.into()),
        share_target: req.share_target || req.share_max_tlp.is_some(),
        max_tlp: req.max_tlp.or(req.share_max_tlp),
        intake: req.intake,
    };
    let row = db.run(move |conn| collections::create(conn, &spec)).await?;
    Ok(HttpResponse::Created().json(dto(&row, Access { can_read: true, can_write: row.kind != "computed" })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    pub can_read: bool,
    pub can_write: bool,
}

pub async fn set_grant(
    caller: Caller,
    db: web::Data<Db>,
    path: web::Path<(String, String)>,
    body: web::Json<GrantRequest>,
) -> Result<HttpResponse, ApiError> {
    if !caller.is_admin() {
        return Err(ApiError::Forbidden("administrators only".into()));
    }
    let (key, username) = path.into_inner();
    let req = body.into_inner();
    db.run(move |conn| {
        let Some(collection) = store::by_id_or_alias(conn, &key)? else {
            return Err(ApiError::NotFound(format!("collection '{key}' not found")));
        };
        let Some(user) = users::by_name(conn, &username)? else {
            return Err(ApiError::NotFound(format!("user '{username}' not found")));
        };
        store::set_grant(
            conn,
            &GrantRow {
                user_id: user.id,
                collection_id: collection.id,
                can_read: req.can_read,
                can_write: req.can_write,
            },
        )?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionPatch {
    pub max_tlp: Option<String>,
    pub share_target: Option<bool>,
}

/// `PATCH /api/v1/collections/{collection}`: an administrator changes the TLP ceiling (lowering
/// it stops serving what is stored above it at once) or whether events may be shared there.
pub async fn update(
    caller: Caller,
    db: web::Data<Db>,
    path: web::Path<String>,
    body: web::Json<CollectionPatch>,
) -> Result<HttpResponse, ApiError> {
    if !caller.is_admin() {
        return Err(ApiError::Forbidden("administrators only".into()));
    }
    let key = path.into_inner();
    let patch = body.into_inner();
    let actor = caller.username.clone();
    let row = db
        .run(move |conn| {
            collections::set_tlp(conn, &key, patch.max_tlp.as_deref(), patch.share_target, &actor)
        })
        .await?;
    Ok(HttpResponse::Ok().json(dto(&row, Access { can_read: true, can_write: row.kind != "computed" })))
}
