//! `/api/v1/exports`: named exports for devices that cannot speak TAXII. Administrators create,
//! list, read and delete them; `GET /api/v1/exports/{name}/feed` serves one, generated as it is
//! sent (one keyset page per chunk), to any authenticated caller or an `export` token, in the
//! `Authorization` header or the `token` URL parameter. A MISP feed export is read as files,
//! `GET /api/v1/exports/{name}/feed/{file}`, the URL a MISP instance adds being `…/feed`.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiError, Caller, micros_to_rfc3339, require_admin};
use crate::db::Db;
use crate::service::ServiceContext;
use crate::service::exports::{self, Export, ExportSpec, Feed};

/// The caller of a feed: header credentials or `?token=`.
pub type FeedCaller = crate::http::auth::FeedAuthenticated<ApiError>;

#[derive(Debug, Serialize)]
pub struct ExportDto {
    pub name: String,
    pub format: &'static str,
    pub filters: Value,
    pub options: Value,
    /// Where devices fetch it (relative to the server).
    pub url: String,
    pub created_by: String,
    pub created_at: String,
}

impl From<&Export> for ExportDto {
    fn from(e: &Export) -> Self {
        Self {
            name: e.spec.name.clone(),
            format: e.spec.format.as_str(),
            filters: e.spec.filters_json(),
            options: e.spec.options_json(),
            url: format!("/api/v1/exports/{}/feed", e.spec.name),
            created_by: e.created_by.clone(),
            created_at: micros_to_rfc3339(e.created_at),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    name: String,
    format: String,
    #[serde(default)]
    filters: Value,
    #[serde(default)]
    options: Value,
}

pub async fn list(caller: Caller, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let all = db.run(exports::list).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(ExportDto::from).collect::<Vec<_>>()))
}

pub async fn create(
    caller: Caller,
    body: web::Json<ExportRequest>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let b = body.into_inner();
    let spec = ExportSpec::parse(&b.name, &b.format, &b.filters, &b.options)?;
    let actor = caller.username.clone();
    let export = db.run(move |conn| exports::create(conn, &spec, &actor)).await?;
    Ok(HttpResponse::Created().json(ExportDto::from(&export)))
}

pub async fn get(
    caller: Caller,
    path: web::Path<String>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let name = path.into_inner();
    let export = db.run(move |conn| exports::get(conn, &name)).await?;
    Ok(HttpResponse::Ok().json(ExportDto::from(&export)))
}

pub async fn delete(
    caller: Caller,
    path: web::Path<String>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let name = path.into_inner();
    db.run(move |conn| exports::delete(conn, &name)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Streams the export: the definition is loaded (404 before anything is sent), then each chunk
/// is one page read on the blocking pool when actix asks for more body. A failure after
/// the first byte ends the response early (the client sees a truncated transfer, never a list
/// that looks complete).
pub async fn feed(
    _caller: FeedCaller,
    path: web::Path<String>,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let ctx = ctx.into_inner();
    let opened = db.run(move |conn| Feed::open(conn, &ctx, &name)).await?;
    Ok(stream(opened, db.into_inner()))
}

/// One file of a MISP feed export (`manifest.json`, `hashes.csv`, `<uuid>.json`); anything else
/// is a 404. MISP revalidates the manifest with `If-None-Match`: an unchanged one is a 304.
pub async fn feed_file(
    _caller: FeedCaller,
    req: actix_web::HttpRequest,
    path: web::Path<(String, String)>,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    let (name, file) = path.into_inner();
    let ctx = ctx.into_inner();
    let opened = db.run(move |conn| Feed::open_file(conn, &ctx, &name, &file)).await?;
    if let Some(etag) = opened.etag() {
        let matches = req
            .headers()
            .get(actix_web::http::header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
        if matches {
            return Ok(HttpResponse::NotModified().insert_header(("ETag", etag)).finish());
        }
        let mut response = stream(opened, db.into_inner());
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&etag) {
            response.headers_mut().insert(actix_web::http::header::ETAG, value);
        }
        return Ok(response);
    }
    Ok(stream(opened, db.into_inner()))
}

fn stream(opened: Feed, db: std::sync::Arc<Db>) -> HttpResponse {
    let content_type = opened.content_type();
    let body = futures_util::stream::unfold(Some(opened), move |state| {
        let db = db.clone();
        async move {
            let mut feed = state?;
            let result = db
                .run(move |conn| {
                    let chunk = feed.next_chunk(conn);
                    Ok::<_, crate::db::DbError>((feed, chunk))
                })
                .await;
            match result {
                Ok((feed, Ok(Some(chunk)))) => Some((Ok(web::Bytes::from(chunk)), Some(feed))),
                Ok((_, Ok(None))) => None,
                Ok((_, Err(e))) => {
                    tracing::error!("export generation failed: {e}");
                    Some((Err(ApiError::from(e)), None))
                }
                Err(e) => {
                    tracing::error!("export generation failed: {e}");
                    Some((Err(ApiError::from(e)), None))
                }
            }
        }
    });
    HttpResponse::Ok().content_type(content_type).insert_header(("Cache-Control", "no-store")).streaming(body)
}
