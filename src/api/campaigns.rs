//! `/api/v1/campaigns`: drafts and events grouped by shared infrastructure and kit, with the
//! keys that link them, and bulk actions on a campaign (commit its open drafts into one event,
//! abandon them, set its indicators' status). Every bulk action is audited.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::imports::{ImportDto, event_meta};
use super::{ApiError, Caller, micros_to_rfc3339, require_analyst};
use crate::extract::ObservableKind;
use crate::service::Db;
use crate::service::ServiceContext;
use crate::service::campaigns::{self, BulkOutcome, CampaignSummary};
use crate::service::indicators::Status;

fn summary_json(s: &CampaignSummary) -> serde_json::Value {
    json!({
        "id": s.row.id,
        "title": s.row.title,
        "drafts": s.drafts,
        "open_drafts": s.open,
        "first_seen": micros_to_rfc3339(s.row.first_seen),
        "last_seen": micros_to_rfc3339(s.row.last_seen),
    })
}

fn outcome_json(o: &BulkOutcome) -> serde_json::Value {
    json!({
        "event_id": o.event_id,
        "done": o.done,
        "failed": o.failed.iter().map(|(id, e)| json!({ "id": id, "error": e })).collect::<Vec<_>>(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only campaigns of at least this many drafts (default 2).
    min_size: Option<i64>,
    /// Keyset: the `next` of the previous page (`LAST_SEEN_MICROS:ID`).
    before: Option<String>,
    limit: Option<i64>,
}

fn parse_before(text: &str) -> Result<(i64, i64), ApiError> {
    text.split_once(':')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .ok_or_else(|| ApiError::BadRequest(format!("before: '{text}' is not a page position")))
}

pub async fn list(
    _caller: Caller,
    q: web::Query<ListQuery>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let before = q.before.as_deref().map(parse_before).transpose()?;
    let min = q.min_size.unwrap_or(2);
    let rows = db.run(move |conn| campaigns::list(conn, min, before, limit)).await?;
    let next = (i64::try_from(rows.len()).unwrap_or(0) == limit)
        .then(|| rows.last().map(|r| format!("{}:{}", r.row.last_seen, r.row.id)))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({
        "campaigns": rows.iter().map(summary_json).collect::<Vec<_>>(),
        "next_before": next,
    })))
}

pub async fn get(_caller: Caller, path: web::Path<i64>, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let v = db.run(move |conn| campaigns::get(conn, id)).await?;
    Ok(HttpResponse::Ok().json(json!({
        "id": v.row.id,
        "title": v.row.title,
        "first_seen": micros_to_rfc3339(v.row.first_seen),
        "last_seen": micros_to_rfc3339(v.row.last_seen),
        "drafts": v.members.iter().map(|m| Ok(json!({
            "import": ImportDto::try_from(&m.import)?,
            "added_at": micros_to_rfc3339(m.added_at),
            "linked_by": m.linked_by.iter().map(|l| json!({ "kind": l.kind, "value": l.value, "with": l.with })).collect::<Vec<_>>(),
        }))).collect::<Result<Vec<_>, ApiError>>()?,
        "shared_keys": v.shared.iter().map(|(k, val, ids)| json!({ "kind": k, "value": val, "drafts": ids })).collect::<Vec<_>>(),
        "events": v.events,
    })))
}

/// `POST /campaigns/{id}/commit`, optionally with event metadata for the one event.
pub async fn commit(
    caller: Caller,
    path: web::Path<i64>,
    body: web::Bytes,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let id = path.into_inner();
    let meta = event_meta(&body)?;
    let (actor, ctx) = (caller.username.clone(), ctx.into_inner());
    let out = db.run(move |conn| campaigns::commit_all(conn, &ctx, id, &actor, meta)).await?;
    Ok(HttpResponse::Ok().json(outcome_json(&out)))
}

pub async fn abandon(
    caller: Caller,
    path: web::Path<i64>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let id = path.into_inner();
    let actor = caller.username.clone();
    let out = db.run(move |conn| campaigns::abandon_all(conn, id, &actor)).await?;
    Ok(HttpResponse::Ok().json(outcome_json(&out)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    status: String,
    /// Only indicators of this type.
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// `POST /campaigns/{id}/indicators/status`: every indicator of the campaign's events.
pub async fn set_status(
    caller: Caller,
    path: web::Path<i64>,
    body: web::Json<StatusRequest>,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let id = path.into_inner();
    let body = body.into_inner();
    let status = Status::parse(&body.status)?;
    let kind = match body.kind.as_deref() {
        None => None,
        Some(k) => Some(
            ObservableKind::from_name(k)
                .ok_or_else(|| ApiError::BadRequest(format!("unknown indicator type '{k}'")))?,
        ),
    };
    let (actor, ctx) = (caller.username.clone(), ctx.into_inner());
    let out =
        db.run(move |conn| campaigns::set_indicator_status(conn, &ctx, id, status, kind, &actor)).await?;
    Ok(HttpResponse::Ok().json(outcome_json(&out)))
}
