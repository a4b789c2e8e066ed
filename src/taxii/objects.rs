//! §5.4 Get objects, §5.5 add objects, §5.6 get an object, §5.7 delete an object.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::collections::{object_id, visible};
use super::pages::{self, Endpoint, Page};
use super::{Caller, TaxiiError, TaxiiState, filters, media, status};
use crate::db::{Db, now_micros, objects};
use crate::service::ingest;
use crate::settings::Settings;

fn envelope(page: &Page) -> HttpResponse {
    let size: usize = page.rows.iter().map(|r| r.json.len() + 1).sum();
    let mut body = pages::open_envelope(page, size);
    // `objects` even when empty: the specification allows leaving it out, but consumers (Elastic's
    // TAXII integration among them) read it without checking.
    body.push_str(",\"objects\":[");
    for (i, r) in page.rows.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        // Stored as received: served without re-serialising.
        body.push_str(&r.json);
    }
    body.push(']');
    body.push('}');
    let mut resp = HttpResponse::Ok();
    page.headers(&mut resp);
    resp.content_type(media::TAXII_MEDIA).body(body)
}

pub async fn get_objects(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    caller: Caller,
    settings: web::Data<Settings>,
    state: web::Data<TaxiiState>,
    db: web::Data<Db>,
) -> Result<HttpResponse, TaxiiError> {
    let (root, key) = path.into_inner();
    let page = pages::read(
        &req,
        &db,
        &state,
        &settings,
        (&root, &key),
        caller.principal.as_ref(),
        Endpoint::Objects,
    )
    .await?;
    Ok(envelope(&page))
}

pub async fn get_object(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    caller: Caller,
    settings: web::Data<Settings>,
    state: web::Data<TaxiiState>,
    db: web::Data<Db>,
) -> Result<HttpResponse, TaxiiError> {
    let (root, key, object) = path.into_inner();
    let endpoint = Endpoint::Object(object_id(&object)?);
    let page =
        pages::read(&req, &db, &state, &settings, (&root, &key), caller.principal.as_ref(), endpoint).await?;
    Ok(envelope(&page))
}

pub async fn delete_object(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    caller: Caller,
    settings: web::Data<Settings>,
    db: web::Data<Db>,
) -> Result<HttpResponse, TaxiiError> {
    let (root, key, object) = path.into_inner();
    let object = object_id(&object)?;
    let query = filters::parse(req.query_string())?;
    let v = visible(&db, &settings, &root, &key, caller.principal.as_ref()).await?;
    // Spec §5.7: deleting needs both read and write access.
    v.require_read()?;
    v.require_write()?;
    // Without match[version], DELETE removes every version: the object then 404s and leaves
    // the manifest (GET's default of `last` would leave older versions behind).
    let versions = match query.filters.versions {
        Some(_) => pages::version_filter(&query.filters),
        None => crate::db::objects::VersionFilter::all(),
    };
    let spec_versions = query.filters.spec_versions.clone();
    let cid = v.row.id.clone();
    let oid = object.clone();
    let deleted = db
        .run(move |conn| {
            if !objects::contains(conn, &cid, &oid)? {
                return Ok(None);
            }
            objects::delete_versions(conn, &cid, &oid, &versions, &spec_versions).map(Some)
        })
        .await?;
    match deleted {
        None => Err(TaxiiError::NotFound(format!("{object} is not in this collection"))),
        Some(_) => Ok(HttpResponse::Ok().content_type(media::TAXII_MEDIA).finish()),
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    objects: Vec<&'a RawValue>,
}

pub async fn add_objects(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    caller: Caller,
    mut payload: web::Payload,
    settings: web::Data<Settings>,
    state: web::Data<TaxiiState>,
    db: web::Data<Db>,
) -> Result<HttpResponse, TaxiiError> {
    let (root, key) = path.into_inner();
    let Some(who) = caller.principal.clone() else {
        return Err(TaxiiError::Unauthorized("authentication required to add objects".into()));
    };
    let v = visible(&db, &settings, &root, &key, Some(&who)).await?;
    v.require_write()?;
    let content_type = req.headers().get(CONTENT_TYPE).and_then(|h| h.to_str().ok());
    if !media::is_taxii21_body(content_type) {
        return Err(TaxiiError::UnsupportedMediaType(format!(
            "send {} (got {})",
            media::TAXII_MEDIA,
            content_type.unwrap_or("no Content-Type")
        )));
    }
    let max = settings.taxii.max_content_length;
    let declared = crate::http::declared_length(&req);
    if declared.is_some_and(|n| n > max) {
        return Err(TaxiiError::PayloadTooLarge(max));
    }
    // Enforced while streaming too: a chunked body cannot slip past the limit.
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| TaxiiError::BadRequest(format!("cannot read the body: {e}")))?;
        if (body.len() + chunk.len()) as u64 > max {
            return Err(TaxiiError::PayloadTooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let validator = state.validator.clone();
    let ceiling = crate::service::tlp::ceiling(&v.row);
    let prepared = tokio::task::spawn_blocking(move || -> Result<Vec<ingest::Prepared>, TaxiiError> {
        let envelope: Envelope<'_> = serde_json::from_slice(&body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => TaxiiError::Unprocessable(format!(
                "not a TAXII envelope (an object with an \"objects\" list): {e}"
            )),
            _ => TaxiiError::BadRequest(format!("the body is not JSON: {e}")),
        })?;
        let raws: Vec<&str> = envelope.objects.iter().map(|raw| raw.get()).collect();
        let mut prepared = ingest::prepare_all(&validator, &raws);
        // Nothing above the collection's TLP ceiling is stored in it (a per-object failure).
        crate::service::tlp::screen(&mut prepared, ceiling);
        Ok(prepared)
    })
    .await
    .map_err(|e| TaxiiError::Internal(e.to_string()))??;

    let request = ingest::Request {
        collection_id: v.row.id.clone(),
        user_id: Some(who.user_id),
        now: now_micros(),
        retention_micros: i64::try_from(settings.taxii.status_retention_hours)
            .unwrap_or(24)
            .saturating_mul(3_600_000_000),
        background_threshold: settings.taxii.background_threshold,
    };
    let accepted = db.run(move |conn| ingest::accept(conn, &request, prepared)).await?;
    let status_id = match &accepted {
        ingest::Accepted::Complete(id) => id.clone(),
        ingest::Accepted::Background(id) => {
            let leases = req
                .app_data::<web::Data<crate::service::leases::Leases>>()
                .ok_or_else(|| TaxiiError::Internal("no lease handle".into()))?
                .get_ref()
                .clone();
            let (db, task_id) = (db.get_ref().clone(), id.clone());
            let lease = crate::service::leases::ingest_lease(id);
            // Held while this instance stores it; taken over if this instance stops.
            leases.hold(&lease).await;
            tokio::spawn(async move {
                match ingest::drain(db, task_id.clone()).await {
                    Ok(()) => leases.release(&lease).await,
                    Err(e) => {
                        tracing::error!(status = %task_id, "background TAXII upload failed (taken over by the lease sweep): {e}")
                    }
                }
            });
            id.clone()
        }
    };
    let sid = status_id.clone();
    let (row, details) = db
        .run(move |conn| crate::db::status::get(conn, &sid, 0))
        .await?
        .ok_or_else(|| TaxiiError::Internal(format!("status {status_id} vanished")))?;
    let count = |outcome: &str| details.iter().filter(|d| d.outcome == outcome).count();
    crate::metrics::global().taxii_ingested(count("success"), count("failure"), count("pending"));
    Ok(HttpResponse::Accepted()
        .content_type(media::TAXII_MEDIA)
        .body(status::render(&row, &details).to_string()))
}
