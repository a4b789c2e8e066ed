//! The REST edge under `/api/v1/`: JSON in and out, token or password auth, JSON problem errors.
//! Handlers parse, call `service/`, and map results to the DTOs defined here.

mod accounts;
mod collections;
pub mod error;
mod health;

use actix_web::web;

pub use error::ApiError;

/// The caller of a REST endpoint.
pub type Caller = crate::http::Authenticated<ApiError>;

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
            .route("/tokens", web::get().to(accounts::list_tokens))
            .route("/tokens", web::post().to(accounts::create_token))
            .route("/tokens/{id}", web::delete().to(accounts::revoke_token))
            .route("/audit", web::get().to(accounts::audit_log))
            .route("/collections", web::get().to(collections::list))
            .route("/collections", web::post().to(collections::create))
            .route("/collections/{collection}/grants/{username}", web::put().to(collections::set_grant))
            .default_service(web::to(error::not_found)),
    );
}
