//! `/api/v1/.../operations`, `/runs` and `/sightings`: the operations applicable to an indicator,
//! starting a run (202, it runs in the background), runs per indicator and across indicators,
//! and an indicator's sightings. The contract is docs/operations.md.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ApiError, Caller, require_analyst};
use crate::service::operations::Registry;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRequest {
    #[serde(default)]
    parameters: Map<String, Value>,
}

/// `GET /api/v1/indicators/{id}/operations`
pub async fn list(
    _caller: Caller,
    path: web::Path<i64>,
    ops: web::Data<Registry>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ops.for_indicator(path.into_inner()).await?))
}

/// `POST /api/v1/indicators/{id}/operations/{name}/runs` (body optional)
pub async fn start(
    caller: Caller,
    path: web::Path<(i64, String)>,
    body: web::Bytes,
    ops: web::Data<Registry>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let (id, name) = path.into_inner();
    let request: RunRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RunRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid run request: {e}")))?
    };
    let run = ops.start(id, &name, &request.parameters, &caller.username).await?;
    Ok(HttpResponse::Accepted().json(run))
}

/// `GET /api/v1/indicators/{id}/runs`
pub async fn of_indicator(
    _caller: Caller,
    path: web::Path<i64>,
    ops: web::Data<Registry>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ops.runs_of(path.into_inner()).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecentQuery {
    limit: Option<i64>,
}

/// `GET /api/v1/runs?limit=N`
pub async fn recent(
    _caller: Caller,
    q: web::Query<RecentQuery>,
    ops: web::Data<Registry>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ops.recent(q.limit.unwrap_or(50)).await?))
}

/// `GET /api/v1/runs/{run_id}`
pub async fn get(
    _caller: Caller,
    path: web::Path<i64>,
    ops: web::Data<Registry>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ops.run(path.into_inner()).await?))
}

/// `GET /api/v1/indicators/{id}/sightings`
pub async fn sightings(
    _caller: Caller,
    path: web::Path<i64>,
    ops: web::Data<Registry>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ops.sightings_of(path.into_inner()).await?))
}
