//! `GET /healthz`: public liveness and database check for load balancers.

use actix_web::{HttpResponse, web};

use super::ApiError;
use crate::db::Db;

pub async fn healthz(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    db.run(|conn| crate::db::users::count(conn).map(|_| ())).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ok", "database": "ok" })))
}
