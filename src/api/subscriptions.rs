//! `/api/v1/subscriptions`: remote feeds Harpoon polls (TAXII 2.1 collections), administrators
//! only. The answer shows each subscription's settings, its local collection and its health
//! (status, last success, last error, objects taken and refused, the cursor); a secret is
//! write-only (`secret_set` says whether one is stored).

use actix_web::{HttpResponse, web};
use serde_json::Value;

use super::{ApiError, Caller, require_admin};
use crate::subscriptions::Supervisor;

/// `GET /subscriptions`
pub async fn list(caller: Caller, sup: web::Data<Supervisor>) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    Ok(HttpResponse::Ok().json(sup.list().await?))
}

/// `GET /subscriptions/{name}`
pub async fn get(
    caller: Caller,
    sup: web::Data<Supervisor>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    Ok(HttpResponse::Ok().json(sup.get(&path.into_inner()).await?))
}

/// `POST /subscriptions`: creates and starts a subscription.
pub async fn create(
    caller: Caller,
    sup: web::Data<Supervisor>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    Ok(HttpResponse::Created().json(sup.create(body.into_inner(), &caller.username).await?))
}

/// `PATCH /subscriptions/{name}`: changes a subscription and restarts it (or stops it).
pub async fn update(
    caller: Caller,
    sup: web::Data<Supervisor>,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    Ok(HttpResponse::Ok().json(sup.update(&path.into_inner(), body.into_inner(), &caller.username).await?))
}

/// `DELETE /subscriptions/{name}`: stops and deletes a subscription (its collection and the
/// indicators it brought stay).
pub async fn delete(
    caller: Caller,
    sup: web::Data<Supervisor>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    sup.delete(&path.into_inner(), &caller.username).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /subscriptions/{name}/poll`: polls now (202; the poll runs in the background).
pub async fn poll(
    caller: Caller,
    sup: web::Data<Supervisor>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    Ok(HttpResponse::Accepted().json(sup.poll_now(&path.into_inner()).await?))
}
