//! The REST edge under `/api/v1/`: JSON in and out, token or password auth, JSON problem errors.
//! Handlers parse, call `service/`, and map results to the DTOs defined here.

mod accounts;
mod collections;
mod connectors;
pub mod error;
mod events;
mod exports;
mod health;
mod imports;
mod indicators;
mod operations;
mod whitelist;

use actix_web::web;

pub use error::ApiError;

/// The caller of a REST endpoint.
pub type Caller = crate::http::Authenticated<ApiError>;

/// Timestamps out: RFC 3339 with microseconds, UTC.
pub(crate) fn micros_to_rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

pub(crate) fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.is_admin() { Ok(()) } else { Err(ApiError::Forbidden("administrators only".into())) }
}

/// Analysts and administrators change intelligence; readers only read.
pub(crate) fn require_analyst(caller: &Caller) -> Result<(), ApiError> {
    match caller.role {
        crate::service::accounts::Role::Admin | crate::service::accounts::Role::Analyst => Ok(()),
        _ => Err(ApiError::Forbidden("analysts and administrators only".into())),
    }
}

/// The OpenAPI document of this edge, embedded; a test keeps it in step with the routes.
pub const OPENAPI: &str = include_str!("openapi.json");

/// `GET /api/v1/openapi.json` (public: it describes, it reveals nothing).
async fn openapi() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().content_type("application/json").body(OPENAPI)
}

/// Registers every REST route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz)).service(
        web::scope("/api/v1")
            .app_data(web::JsonConfig::default().limit(1 << 20).error_handler(error::json_error))
            .route("/openapi.json", web::get().to(openapi))
            .route("/me", web::get().to(accounts::me))
            .route("/users", web::get().to(accounts::list_users))
            .route("/users", web::post().to(accounts::create_user))
            .route("/users/{name}", web::patch().to(accounts::update_user))
            .route("/users/{name}", web::delete().to(accounts::delete_user))
            .route("/me/password", web::post().to(accounts::change_password))
            .route("/tokens", web::get().to(accounts::list_tokens))
            .route("/tokens", web::post().to(accounts::create_token))
            .route("/tokens/{id}", web::delete().to(accounts::revoke_token))
            .route("/audit", web::get().to(accounts::audit_log))
            .route("/collections", web::get().to(collections::list))
            .route("/collections", web::post().to(collections::create))
            .route("/collections/{collection}/grants/{username}", web::put().to(collections::set_grant))
            .route("/imports", web::post().to(imports::create))
            .route("/imports", web::get().to(imports::list))
            .route("/imports/{id}", web::get().to(imports::get))
            .route("/imports/{id}", web::patch().to(imports::set_meta))
            .route("/imports/{id}/raw", web::get().to(imports::raw))
            .route("/imports/{id}/extraction", web::get().to(imports::extraction))
            .route("/imports/{id}/items", web::post().to(imports::add_item))
            .route("/imports/{id}/items/{item}", web::patch().to(imports::set_item))
            .route("/imports/{id}/items/{item}/whitelist", web::post().to(imports::whitelist_item))
            .route("/imports/{id}/abandon", web::post().to(imports::abandon))
            .route("/imports/{id}/commit", web::post().to(imports::commit))
            .route("/connectors", web::get().to(connectors::list))
            .route("/connectors", web::post().to(connectors::create))
            .route("/connectors/{name}", web::get().to(connectors::get))
            .route("/connectors/{name}", web::patch().to(connectors::update))
            .route("/connectors/{name}", web::delete().to(connectors::delete))
            .route("/events", web::get().to(events::list))
            .route("/events/{id}", web::get().to(events::get))
            .route("/events/{id}", web::patch().to(events::update))
            .route("/events/{id}/stix", web::get().to(events::stix))
            .route("/events/{id}/share", web::post().to(events::share))
            .route("/indicators", web::get().to(indicators::list))
            .route("/indicators/{id}", web::get().to(indicators::get))
            .route("/indicators/{id}", web::patch().to(indicators::update))
            .route("/indicators/{id}/history", web::get().to(indicators::history))
            .route("/indicators/{id}/operations", web::get().to(operations::list))
            .route("/indicators/{id}/operations/{name}/runs", web::post().to(operations::start))
            .route("/indicators/{id}/runs", web::get().to(operations::of_indicator))
            .route("/indicators/{id}/sightings", web::get().to(operations::sightings))
            .route("/runs", web::get().to(operations::recent))
            .route("/runs/{run_id}", web::get().to(operations::get))
            .route("/whitelist", web::get().to(whitelist::list))
            .route("/whitelist", web::post().to(whitelist::create))
            .route("/whitelist/preview", web::post().to(whitelist::preview))
            .route("/whitelist/{id}", web::delete().to(whitelist::delete))
            // exports (named feeds for firewalls and IDSs)
            .route("/exports", web::get().to(exports::list))
            .route("/exports", web::post().to(exports::create))
            .route("/exports/{name}", web::get().to(exports::get))
            .route("/exports/{name}", web::delete().to(exports::delete))
            .route("/exports/{name}/feed", web::get().to(exports::feed))
            .default_service(web::to(error::not_found)),
    );
}
