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

crate::route_table! {
    pub const ROUTES; fn register;
    get "/openapi.json" => openapi,
    get "/me" => accounts::me,
    get "/users" => accounts::list_users,
    post "/users" => accounts::create_user,
    get "/tokens" => accounts::list_tokens,
    post "/tokens" => accounts::create_token,
    delete "/tokens/{id}" => accounts::revoke_token,
    get "/audit" => accounts::audit_log,
    get "/collections" => collections::list,
    post "/collections" => collections::create,
    put "/collections/{collection}/grants/{username}" => collections::set_grant,
    post "/imports" => imports::create,
    get "/imports" => imports::list,
    get "/imports/{id}" => imports::get,
    patch "/imports/{id}" => imports::set_meta,
    get "/imports/{id}/raw" => imports::raw,
    get "/imports/{id}/extraction" => imports::extraction,
    post "/imports/{id}/items" => imports::add_item,
    patch "/imports/{id}/items/{item}" => imports::set_item,
    post "/imports/{id}/items/{item}/whitelist" => imports::whitelist_item,
    post "/imports/{id}/abandon" => imports::abandon,
    post "/imports/{id}/commit" => imports::commit,
    get "/connectors" => connectors::list,
    post "/connectors" => connectors::create,
    get "/connectors/{name}" => connectors::get,
    patch "/connectors/{name}" => connectors::update,
    delete "/connectors/{name}" => connectors::delete,
    get "/events" => events::list,
    get "/events/{id}" => events::get,
    patch "/events/{id}" => events::update,
    get "/events/{id}/stix" => events::stix,
    post "/events/{id}/share" => events::share,
    get "/indicators" => indicators::list,
    get "/indicators/{id}" => indicators::get,
    patch "/indicators/{id}" => indicators::update,
    get "/indicators/{id}/history" => indicators::history,
    get "/indicators/{id}/operations" => operations::list,
    post "/indicators/{id}/operations/{name}/runs" => operations::start,
    get "/indicators/{id}/runs" => operations::of_indicator,
    get "/indicators/{id}/sightings" => operations::sightings,
    get "/runs" => operations::recent,
    get "/runs/{run_id}" => operations::get,
    get "/whitelist" => whitelist::list,
    post "/whitelist" => whitelist::create,
    post "/whitelist/preview" => whitelist::preview,
    delete "/whitelist/{id}" => whitelist::delete,
    get "/exports" => exports::list,
    post "/exports" => exports::create,
    get "/exports/{name}" => exports::get,
    delete "/exports/{name}" => exports::delete,
    get "/exports/{name}/feed" => exports::feed,
}

/// Registers every REST route: `/healthz` and the table above under `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz)).service(
        register(
            web::scope("/api/v1")
                .app_data(web::JsonConfig::default().limit(1 << 20).error_handler(error::json_error)),
        )
        .default_service(web::to(error::not_found)),
    );
}
