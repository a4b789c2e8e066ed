//! `/api/v1/indicators`: search with pagination, one indicator with its sources, events, tags,
//! relationships and history, and changes (status, score, TLP, description, tags).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{ApiError, Caller, micros_to_rfc3339, require_analyst};
use crate::db::indicators::{self as store, IndicatorQuery, IndicatorRow};
use crate::db::{Db, DbError};
use crate::service::ServiceContext;
use crate::service::indicators::{self, Patch, Status};

#[derive(Debug, Serialize)]
pub struct IndicatorDto {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    pub status: String,
    pub score: i32,
    pub tlp: String,
    pub description: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub status_changed_at: String,
    pub expires_at: Option<String>,
    pub stix_id: String,
    pub published: bool,
    pub whitelist_rule_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

impl IndicatorDto {
    pub fn summary(r: &IndicatorRow) -> Self {
        Self {
            id: r.id,
            kind: r.kind.to_string(),
            value: r.value.clone(),
            status: r.status.to_string(),
            score: r.score,
            tlp: r.tlp.level().to_string(),
            description: r.description.clone(),
            first_seen: micros_to_rfc3339(r.first_seen),
            last_seen: micros_to_rfc3339(r.last_seen),
            status_changed_at: micros_to_rfc3339(r.status_changed_at),
            expires_at: r.expires_at.map(micros_to_rfc3339),
            stix_id: r.stix_id.clone(),
            published: r.stix_modified.is_some(),
            whitelist_rule_id: r.whitelist_rule_id,
            tags: None,
        }
    }
}

fn csv(v: &Option<String>) -> Vec<String> {
    v.as_deref()
        .map(|s| s.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Comma-separated types.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Comma-separated statuses.
    status: Option<String>,
    value: Option<String>,
    q: Option<String>,
    event: Option<i64>,
    /// Comma-separated; all must be present.
    tag: Option<String>,
    min_score: Option<i32>,
    max_score: Option<i32>,
    tlp: Option<String>,
    after: Option<i64>,
    limit: Option<i64>,
}

pub async fn list(
    _caller: Caller,
    q: web::Query<ListQuery>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let statuses = csv(&q.status);
    for s in &statuses {
        Status::parse(s)?;
    }
    let kinds = csv(&q.kind);
    for k in &kinds {
        if crate::extract::ObservableKind::from_name(k).is_none() {
            return Err(ApiError::BadRequest(format!("unknown indicator type '{k}'")));
        }
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let query = IndicatorQuery {
        kinds,
        statuses: statuses.iter().map(|s| s.to_ascii_lowercase()).collect(),
        value: q.value,
        contains: q.q,
        event_id: q.event,
        tags: csv(&q.tag),
        min_score: q.min_score,
        max_score: q.max_score,
        tlps: csv(&q.tlp),
        seen_since: None,
        without_event: false,
        after: q.after,
        limit,
    };
    let (rows, tags) = db
        .run(move |conn| {
            let rows = store::search(conn, &query)?;
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            Ok::<_, DbError>((rows, store::tags(conn, &ids)?))
        })
        .await?;
    let next = (rows.len() as i64 == limit).then(|| rows.last().map(|r| r.id)).flatten();
    let out: Vec<IndicatorDto> = rows
        .iter()
        .map(|r| IndicatorDto {
            tags: Some(tags.iter().filter(|(i, _)| *i == r.id).map(|(_, t)| t.clone()).collect()),
            ..IndicatorDto::summary(r)
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "indicators": out, "next_after": next })))
}

pub async fn get(_caller: Caller, path: web::Path<i64>, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (row, tags, sources, events, relations, links, misp) = db
        .run(move |conn| {
            let row = store::get(conn, id)?.ok_or(DbError::NotFound)?;
            let tags: Vec<String> = store::tags(conn, &[id])?.into_iter().map(|(_, t)| t).collect();
            let event_ids = store::event_ids(conn, id)?;
            let mut events = Vec::new();
            for e in event_ids {
                if let Some(ev) = crate::db::events::get(conn, e)? {
                    events.push(serde_json::json!({ "id": ev.id, "title": ev.title, "created_at": micros_to_rfc3339(ev.created_at) }));
                }
            }
            let mut relations = Vec::new();
            for r in store::relations(conn, id)? {
                let other_id = if r.source_id == id { r.target_id } else { r.source_id };
                let other = store::get(conn, other_id)?;
                relations.push(serde_json::json!({
                    "relationship_type": r.rel_type,
                    "direction": if r.source_id == id { "outgoing" } else { "incoming" },
                    "indicator": other.as_ref().map(IndicatorDto::summary),
                    "origin": r.origin,
                    "stix_id": r.stix_id,
                }));
            }
            let misp = crate::db::misp::of_indicator(conn, id)?;
            Ok((row, tags, store::sources(conn, id)?, events, relations, store::partner_links(conn, id)?, misp))
        })
        .await
        .map_err(|e| match e {
            DbError::NotFound => ApiError::NotFound(format!("indicator {id} not found")),
            other => other.into(),
        })?;
    let mut dto = serde_json::to_value(IndicatorDto { tags: Some(tags), ..IndicatorDto::summary(&row) })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(obj) = dto.as_object_mut() {
        obj.insert(
            "sources".into(),
            sources
                .iter()
                .map(|(s, first, last)| serde_json::json!({ "source": s, "first_at": micros_to_rfc3339(*first), "last_at": micros_to_rfc3339(*last) }))
                .collect(),
        );
        obj.insert("events".into(), events.into());
        obj.insert("relationships".into(), relations.into());
        obj.insert(
            "partner_objects".into(),
            links.iter().map(|(s, c)| serde_json::json!({ "stix_id": s, "collection_id": c })).collect(),
        );
        obj.insert(
            "misp_attributes".into(),
            misp.iter()
                .map(|m| {
                    serde_json::json!({
                        "attribute_uuid": m.attribute_uuid,
                        "event_uuid": m.event_uuid,
                        "event_info": m.event_info,
                        "orgc": m.orgc,
                        "via": m.via,
                        "linked_at": micros_to_rfc3339(m.linked_at),
                    })
                })
                .collect(),
        );
    }
    Ok(HttpResponse::Ok().json(dto))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchRequest {
    status: Option<String>,
    score: Option<u8>,
    tlp: Option<String>,
    #[serde(default, with = "serde_with_double_option")]
    description: Option<Option<String>>,
    tags: Option<Vec<String>>,
    reason: Option<String>,
}

/// Distinguishes an absent field from `null` (which clears the description).
mod serde_with_double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::deserialize(d)?))
    }
}

pub async fn update(
    caller: Caller,
    path: web::Path<i64>,
    body: web::Json<PatchRequest>,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let id = path.into_inner();
    let b = body.into_inner();
    let patch = Patch {
        status: b.status.as_deref().map(Status::parse).transpose()?,
        score: b.score,
        tlp: b.tlp,
        description: b.description,
        tags: b.tags,
        reason: b.reason,
    };
    let actor = caller.username.clone();
    let ctx = ctx.into_inner();
    let row = db.run(move |conn| indicators::patch(conn, &ctx, id, &patch, &actor)).await?;
    Ok(HttpResponse::Ok().json(IndicatorDto::summary(&row)))
}

pub async fn history(
    _caller: Caller,
    path: web::Path<i64>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let rows = db
        .run(move |conn| {
            store::get(conn, id)?.ok_or(DbError::NotFound)?;
            store::history(conn, id)
        })
        .await
        .map_err(|e| match e {
            DbError::NotFound => ApiError::NotFound(format!("indicator {id} not found")),
            other => other.into(),
        })?;
    Ok(HttpResponse::Ok().json(
        rows.iter()
            .map(|h| {
                serde_json::json!({
                    "at": micros_to_rfc3339(h.at),
                    "actor": h.actor,
                    "field": h.field,
                    "from": h.old_value,
                    "to": h.new_value,
                    "reason": h.reason,
                })
            })
            .collect::<Vec<_>>(),
    ))
}
