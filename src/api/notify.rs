//! `/api/v1/notify/…` (administrators): the answer templates per final verdict and the outbox
//! of answers to reporters; `/api/v1/reporters`: reports per reporter (awareness programmes).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller, micros_to_rfc3339, require_admin};
use crate::service::Db;
use crate::service::notify::{self, FinalVerdict, OutboxRow, Template};
use crate::service::reporters;

fn template_json(t: &Template) -> serde_json::Value {
    json!({
        "verdict": t.verdict.as_str(),
        "enabled": t.enabled,
        "subject": t.subject,
        "body": t.body,
        "placeholders": notify::PLACEHOLDERS,
        "updated_by": t.updated_by,
        "updated_at": t.updated_at.map(micros_to_rfc3339),
    })
}

fn outbox_json(m: &OutboxRow) -> serde_json::Value {
    json!({
        "id": m.id,
        "import_id": m.import_id,
        "verdict": m.verdict,
        "recipient": m.recipient,
        "subject": m.subject,
        "state": m.state,
        "attempts": m.attempts,
        "next_attempt_at": (m.state == "queued").then(|| micros_to_rfc3339(m.next_attempt_at)),
        "last_error": m.last_error,
        "created_at": micros_to_rfc3339(m.created_at),
        "sent_at": m.sent_at.map(micros_to_rfc3339),
    })
}

pub async fn templates(caller: Caller, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let list = db.run(notify::templates).await?;
    Ok(HttpResponse::Ok().json(list.iter().map(template_json).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    enabled: bool,
    subject: String,
    body: String,
}

/// `PUT /notify/templates/{verdict}`: the whole template (placeholders checked).
pub async fn put_template(
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<TemplateRequest>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let verdict = FinalVerdict::parse(&path.into_inner())?;
    let b = body.into_inner();
    let actor = caller.username.clone();
    let t = db
        .run(move |conn| notify::put_template(conn, verdict, b.enabled, &b.subject, &b.body, &actor))
        .await?;
    Ok(HttpResponse::Ok().json(template_json(&t)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    state: Option<String>,
    limit: Option<i64>,
}

pub async fn outbox(
    caller: Caller,
    q: web::Query<OutboxQuery>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let q = q.into_inner();
    let rows = db.run(move |conn| notify::outbox(conn, q.state.as_deref(), q.limit.unwrap_or(100))).await?;
    Ok(HttpResponse::Ok().json(json!({ "messages": rows.iter().map(outbox_json).collect::<Vec<_>>() })))
}

/// `POST /notify/outbox/{id}/retry`: a failed message queued again.
pub async fn retry(
    caller: Caller,
    path: web::Path<i64>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let id = path.into_inner();
    let actor = caller.username.clone();
    db.run(move |conn| notify::retry(conn, id, &actor)).await?;
    Ok(HttpResponse::Accepted().json(json!({ "id": id, "state": "queued" })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportersQuery {
    limit: Option<i64>,
}

pub async fn reporters(
    _caller: Caller,
    q: web::Query<ReportersQuery>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.into_inner().limit.unwrap_or(1000);
    let rows = db.run(move |conn| reporters::counts(conn, limit)).await?;
    Ok(HttpResponse::Ok().json(json!({
        "reporters": rows.iter().map(|r| json!({
            "reporter": r.reporter,
            "reports": r.reports,
            "phish": r.phish,
            "open": r.open,
            "first_report": micros_to_rfc3339(r.first_at),
            "last_report": micros_to_rfc3339(r.last_at),
        })).collect::<Vec<_>>(),
    })))
}
