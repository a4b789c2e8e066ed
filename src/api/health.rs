//! `GET /healthz`: public liveness and database check for load balancers. `GET /readyz`:
//! public readiness (database reachable, migrations current, not draining): a load balancer
//! sends no new requests to an instance that answers 503.

use actix_web::{HttpResponse, web};

use super::ApiError;
use crate::db::Db;

pub async fn healthz(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    db.run(|conn| crate::db::users::count(conn).map(|_| ())).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ok", "database": "ok" })))
}

/// `GET /readyz`: 200 `{"status": "ready", "checks": {...}}` when every check passes, else 503
/// with the same body naming the checks that failed (`database`, `migrations`, `draining`).
pub async fn readyz(db: web::Data<Db>, draining: web::Data<crate::startup::Draining>) -> HttpResponse {
    let draining = draining.is_draining();
    let (database, migrations) = match db.run(crate::db::pending_migrations).await {
        Ok(0) => ("ok".to_string(), "ok".to_string()),
        Ok(n) => ("ok".to_string(), format!("{n} migrations not applied")),
        Err(e) => (format!("unreachable: {e}"), "unknown".to_string()),
    };
    let ready = database == "ok" && migrations == "ok" && !draining;
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": {
            "database": database,
            "migrations": migrations,
            "draining": if draining { "draining" } else { "ok" },
        },
    });
    let mut resp = if ready { HttpResponse::Ok() } else { HttpResponse::ServiceUnavailable() };
    resp.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store")).json(body)
}
