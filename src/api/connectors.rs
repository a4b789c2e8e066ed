//! `/api/v1/connectors`: mailbox connectors (IMAP, POP3), administrators only. The answer shows
//! each connector's settings and health (status, last success, last error, messages taken and
//! failed); a password is write-only (`password_set` says whether one is stored).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use serde_json::Value;

use super::{ApiError, Caller, micros_to_rfc3339, require_admin};
use crate::connectors::Supervisor;
use crate::connectors::manage;
use crate::db::Db;
use crate::db::connectors::{self as store, ConnectorRow};
use crate::settings::MailboxSettings;

#[derive(Debug, Serialize)]
struct HealthDto {
    /// `starting`, `ok`, `error`, `disabled` or `not running in this instance`.
    status: String,
    running: bool,
    last_success_at: Option<String>,
    last_error: Option<String>,
    last_error_at: Option<String>,
    consecutive_failures: i64,
    next_attempt_at: Option<String>,
    messages_taken: i64,
    messages_failed: i64,
}

#[derive(Debug, Serialize)]
struct ConnectorDto {
    id: i64,
    /// `config` (the configuration file; read-only here) or `api`.
    origin: String,
    #[serde(flatten)]
    settings: MailboxSettings,
    password_set: bool,
    /// IMAP: the folder's UIDVALIDITY and the highest UID taken.
    uid_validity: Option<i64>,
    last_uid: Option<i64>,
    health: HealthDto,
    created_by: Option<String>,
    created_at: String,
    updated_at: String,
}

fn dto(row: &ConnectorRow, supervisor: &Supervisor) -> Result<ConnectorDto, ApiError> {
    let settings = manage::config_of(row)?;
    Ok(ConnectorDto {
        id: row.id,
        origin: row.origin.clone(),
        settings,
        password_set: row.password_sealed.is_some(),
        uid_validity: row.uid_validity,
        last_uid: row.last_uid,
        health: HealthDto {
            status: row.status.clone(),
            running: supervisor.is_running(row.id),
            last_success_at: row.last_success_at.map(micros_to_rfc3339),
            last_error: row.last_error.clone(),
            last_error_at: row.last_error_at.map(micros_to_rfc3339),
            consecutive_failures: row.consecutive_failures,
            next_attempt_at: row.next_attempt_at.map(micros_to_rfc3339),
            messages_taken: row.messages_taken,
            messages_failed: row.messages_failed,
        },
        created_by: row.created_by.clone(),
        created_at: micros_to_rfc3339(row.created_at),
        updated_at: micros_to_rfc3339(row.updated_at),
    })
}

/// `GET /connectors`
pub async fn list(
    caller: Caller,
    db: web::Data<Db>,
    sup: web::Data<Supervisor>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let rows = db.run(store::list).await?;
    let out = rows.iter().map(|r| dto(r, &sup)).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(out))
}

/// `GET /connectors/{name}`
pub async fn get(
    caller: Caller,
    db: web::Data<Db>,
    sup: web::Data<Supervisor>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let name = path.into_inner();
    let lookup = name.clone();
    let row = db
        .run(move |conn| store::by_name(conn, &lookup))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("connector '{name}' not found")))?;
    Ok(HttpResponse::Ok().json(dto(&row, &sup)?))
}

/// `POST /connectors`: creates and starts a connector.
pub async fn create(
    caller: Caller,
    db: web::Data<Db>,
    sup: web::Data<Supervisor>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let (key, rules, actor) = (sup.key().clone(), sup.rules().clone(), caller.username.clone());
    let body = body.into_inner();
    let sup2 = sup.clone();
    let status = move |enabled| sup2.initial_status(enabled);
    let row = db.run(move |conn| manage::create(conn, &key, &rules, body, &actor, &status)).await?;
    sup.apply(&row);
    Ok(HttpResponse::Created().json(dto(&row, &sup)?))
}

/// `PATCH /connectors/{name}`: changes a connector and restarts it (or stops it when disabled).
pub async fn update(
    caller: Caller,
    db: web::Data<Db>,
    sup: web::Data<Supervisor>,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let (key, rules) = (sup.key().clone(), sup.rules().clone());
    let (actor, name) = (caller.username.clone(), path.into_inner());
    let body = body.into_inner();
    let sup2 = sup.clone();
    let status = move |enabled| sup2.initial_status(enabled);
    let row = db.run(move |conn| manage::update(conn, &key, &rules, &name, body, &actor, &status)).await?;
    sup.apply(&row);
    Ok(HttpResponse::Ok().json(dto(&row, &sup)?))
}

/// `DELETE /connectors/{name}`: stops and deletes a connector (its imports stay).
pub async fn delete(
    caller: Caller,
    db: web::Data<Db>,
    sup: web::Data<Supervisor>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let (actor, name) = (caller.username.clone(), path.into_inner());
    let row = db.run(move |conn| manage::delete(conn, &name, &actor)).await?;
    sup.stop(row.id);
    Ok(HttpResponse::NoContent().finish())
}
