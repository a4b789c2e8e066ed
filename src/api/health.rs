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

/// `GET /metrics`: the Prometheus text exposition, for an administrator or a `metrics` token.
/// What lives in the database (connector and subscription health, open runs) and the pool is read now; a
/// database that does not answer leaves those out rather than failing the scrape.
pub async fn metrics(caller: super::Caller, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    if !(caller.is_admin() || caller.scope == crate::service::accounts::TokenScope::Metrics) {
        return Err(ApiError::Forbidden("administrators or a metrics token only".into()));
    }
    let mut live = crate::metrics::Live { pool: db.pool_state(), ..Default::default() };
    let now = crate::db::now_micros();
    let read = db
        .run(move |conn| {
            let connectors = crate::db::connectors::list(conn)?;
            let runs = crate::db::operations::open_run_counts(conn)?;
            let subscriptions = crate::db::subscriptions::list(conn)?;
            Ok::<_, crate::db::DbError>((connectors, runs, subscriptions))
        })
        .await;
    if let Ok((connectors, runs, subscriptions)) = read {
        live.connectors = connectors
            .into_iter()
            .filter(|c| c.enabled)
            .map(|c| {
                let since = c.last_success_at.map_or(-1, |t| now.saturating_sub(t) / 1_000_000);
                (c.name, c.status == "ok", c.consecutive_failures, since, c.messages_taken, c.messages_failed)
            })
            .collect();
        live.runs = runs;
        live.subscriptions = subscriptions
            .into_iter()
            .filter(|s| s.enabled)
            .map(|s| {
                let since = s.last_success_at.map_or(-1, |t| now.saturating_sub(t) / 1_000_000);
                (s.name, s.status == "ok", s.consecutive_failures, since, s.objects_taken, s.objects_rejected)
            })
            .collect();
    }
    let body = crate::metrics::global().render(&live).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(body))
}

/// `GET /readyz`: 200 `{"status": "ready", "checks": {...}}` when every check passes, else 503
/// with the same body naming the checks that failed (`database`, `migrations`, `draining`).
pub async fn readyz(db: web::Data<Db>, draining: web::Data<crate::http::Draining>) -> HttpResponse {
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
