//! `/api/v1/events`: spear-phish events with recipients, reports, indicators and commonalities;
//! metadata changes; the STIX bundle; sharing with partners as a `report` (administrators).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::imports::ImportDto;
use super::indicators::IndicatorDto;
use super::{ApiError, Caller, micros_to_rfc3339, require_admin, require_analyst};
use crate::db::events::EventRow;
use crate::db::{Db, events as store};
use crate::service::ServiceContext;
use crate::service::events;
use crate::service::imports::EventMeta;

fn event_json(e: &EventRow, recipients: i64) -> serde_json::Value {
    json!({
        "id": e.id,
        "stix_id": e.stix_id,
        "title": e.title,
        "type": e.event_type,
        "happened_at": e.happened_at.map(micros_to_rfc3339),
        "description": e.description,
        "tlp": e.tlp.level(),
        "tags": e.tags.0,
        "adversary": e.adversary,
        "message_id": e.message_id,
        "recipient_count": recipients,
        "created_by": e.created_by,
        "created_at": micros_to_rfc3339(e.created_at),
        "updated_at": micros_to_rfc3339(e.updated_at),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    indicator: Option<i64>,
    before: Option<i64>,
    limit: Option<i64>,
}

pub async fn list(
    _caller: Caller,
    q: web::Query<ListQuery>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let (rows, counts) = db
        .run(move |conn| {
            let rows = store::list(conn, q.indicator, q.before, limit)?;
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            Ok::<_, crate::db::DbError>((rows, store::recipient_counts(conn, &ids)?))
        })
        .await?;
    let next = (rows.len() as i64 == limit).then(|| rows.last().map(|r| r.id)).flatten();
    let out: Vec<_> = rows
        .iter()
        .map(|e| event_json(e, counts.iter().find(|(id, _)| *id == e.id).map_or(0, |(_, n)| *n)))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "events": out, "next_before": next })))
}

pub async fn get(_caller: Caller, path: web::Path<i64>, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let v = db.run(move |conn| events::get(conn, id)).await?;
    let mut out = event_json(&v.row, i64::try_from(v.recipients.len()).unwrap_or(i64::MAX));
    if let Some(obj) = out.as_object_mut() {
        obj.insert(
            "recipients".into(),
            v.recipients
                .iter()
                .map(|r| json!({ "address": r.address, "role": r.role, "import_id": r.import_id, "added_at": micros_to_rfc3339(r.added_at) }))
                .collect(),
        );
        obj.insert(
            "reports".into(),
            v.reports.iter().map(|r| Ok(json!(ImportDto::try_from(r)?))).collect::<Result<_, ApiError>>()?,
        );
        obj.insert(
            "indicators".into(),
            v.indicators.iter().map(|i| json!(IndicatorDto::summary(i))).collect(),
        );
        obj.insert(
            "commonalities".into(),
            v.commonalities
                .iter()
                .map(|(indicator, others)| {
                    let row = v.indicators.iter().find(|i| i.id == *indicator);
                    json!({ "indicator": row.map(IndicatorDto::summary), "other_events": others })
                })
                .collect(),
        );
        obj.insert(
            "shares".into(),
            v.shares
                .iter()
                .map(|(c, r, at)| json!({ "collection_id": c, "report_id": r, "shared_at": micros_to_rfc3339(*at) }))
                .collect(),
        );
    }
    Ok(HttpResponse::Ok().json(out))
}

pub async fn update(
    caller: Caller,
    path: web::Path<i64>,
    body: web::Json<EventMeta>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let id = path.into_inner();
    let meta = body.into_inner();
    let row = db.run(move |conn| events::update(conn, id, meta)).await?;
    let count = db.run(move |conn| Ok::<_, crate::db::DbError>(store::recipients(conn, id)?.len())).await?;
    Ok(HttpResponse::Ok().json(event_json(&row, i64::try_from(count).unwrap_or(i64::MAX))))
}

/// The event as a STIX 2.1 bundle (a `grouping` of its content).
pub async fn stix(
    _caller: Caller,
    path: web::Path<i64>,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let ctx = ctx.into_inner();
    let bundle = db.run(move |conn| events::grouping_bundle(conn, &ctx, id)).await?;
    Ok(HttpResponse::Ok().json(bundle))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    collection: String,
}

pub async fn share(
    caller: Caller,
    path: web::Path<i64>,
    body: web::Json<ShareRequest>,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let id = path.into_inner();
    let collection = body.into_inner().collection;
    let actor = caller.username.clone();
    let ctx = ctx.into_inner();
    let report = db.run(move |conn| events::share(conn, &ctx, id, &collection, &actor)).await?;
    Ok(HttpResponse::Created().json(json!({ "report_id": report })))
}
