//! The REST edge under `/api/v1/`: JSON in and out, token or password auth, JSON problem errors.
//! Handlers parse, call `service/`, and map results to the DTOs defined here.

mod accounts;
mod campaigns;
mod collections;
mod connectors;
pub mod error;
mod events;
mod exports;
mod health;
mod imports;
mod indicators;
mod notify;
mod operations;
mod subscriptions;
mod verdicts;
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
    pub const ROUTES; fn register; gate crate::http::gate::<ApiError>;
    get "/openapi.json" => openapi [Public],
    get "/me" => accounts::me [User],
    get "/users" => accounts::list_users [Admin],
    post "/users" => accounts::create_user [Admin],
    patch "/users/{name}" => accounts::update_user [Admin],
    delete "/users/{name}" => accounts::delete_user [Admin],
    post "/me/password" => accounts::change_password [User],
    get "/tokens" => accounts::list_tokens [User],
    post "/tokens" => accounts::create_token [User],
    delete "/tokens/{id}" => accounts::revoke_token [User],
    get "/audit" => accounts::audit_log [Admin],
    get "/collections" => collections::list [User],
    post "/collections" => collections::create [Admin],
    patch "/collections/{collection}" => collections::update [Admin],
    put "/collections/{collection}/grants/{username}" => collections::set_grant [Admin],
    post "/imports" => imports::create [Analyst],
    get "/imports" => imports::list [User],
    get "/imports/{id}" => imports::get [User],
    patch "/imports/{id}" => imports::set_meta [Analyst],
    get "/imports/{id}/raw" => imports::raw [User],
    get "/imports/{id}/extraction" => imports::extraction [User],
    post "/imports/{id}/items" => imports::add_item [Analyst],
    patch "/imports/{id}/items/{item}" => imports::set_item [Analyst],
    post "/imports/{id}/items/{item}/whitelist" => imports::whitelist_item [Analyst],
    post "/imports/{id}/abandon" => imports::abandon [Analyst],
    post "/imports/{id}/commit" => imports::commit [Analyst],
    get "/imports/{id}/verdict" => verdicts::get [User],
    post "/imports/{id}/close" => verdicts::close [Analyst],
    post "/imports/{id}/undo" => verdicts::undo [Analyst],
    get "/connectors" => connectors::list [Admin],
    post "/connectors" => connectors::create [Admin],
    get "/connectors/{name}" => connectors::get [Admin],
    patch "/connectors/{name}" => connectors::update [Admin],
    delete "/connectors/{name}" => connectors::delete [Admin],
    get "/subscriptions" => subscriptions::list [Admin],
    post "/subscriptions" => subscriptions::create [Admin],
    get "/subscriptions/{name}" => subscriptions::get [Admin],
    patch "/subscriptions/{name}" => subscriptions::update [Admin],
    delete "/subscriptions/{name}" => subscriptions::delete [Admin],
    post "/subscriptions/{name}/poll" => subscriptions::poll [Admin],
    get "/events" => events::list [User],
    get "/events/{id}" => events::get [User],
    patch "/events/{id}" => events::update [Analyst],
    get "/events/{id}/stix" => events::stix [User],
    post "/events/{id}/share" => events::share [Admin],
    get "/indicators" => indicators::list [User],
    get "/indicators/{id}" => indicators::get [User],
    patch "/indicators/{id}" => indicators::update [Analyst],
    get "/indicators/{id}/history" => indicators::history [User],
    get "/indicators/{id}/operations" => operations::list [User],
    post "/indicators/{id}/operations/{name}/runs" => operations::start [Analyst],
    get "/indicators/{id}/runs" => operations::of_indicator [User],
    get "/indicators/{id}/sightings" => operations::sightings [User],
    get "/runs" => operations::recent [User],
    get "/runs/{run_id}" => operations::get [User],
    get "/whitelist" => whitelist::list [User],
    post "/whitelist" => whitelist::create [Analyst],
    post "/whitelist/preview" => whitelist::preview [User],
    delete "/whitelist/{id}" => whitelist::delete [Analyst],
    get "/exports" => exports::list [Admin],
    post "/exports" => exports::create [Admin],
    get "/exports/{name}" => exports::get [Admin],
    delete "/exports/{name}" => exports::delete [Admin],
    get "/exports/{name}/feed" => exports::feed [Feed],
    get "/exports/{name}/feed/{file}" => exports::feed_file [Feed],
    post "/misp/events" => imports::misp_events [Analyst],
    get "/campaigns" => campaigns::list [User],
    get "/campaigns/{id}" => campaigns::get [User],
    post "/campaigns/{id}/commit" => campaigns::commit [Analyst],
    post "/campaigns/{id}/abandon" => campaigns::abandon [Analyst],
    post "/campaigns/{id}/indicators/status" => campaigns::set_status [Analyst],
    get "/reporters" => notify::reporters [User],
    get "/notify/templates" => notify::templates [Admin],
    put "/notify/templates/{verdict}" => notify::put_template [Admin],
    get "/notify/outbox" => notify::outbox [Admin],
    post "/notify/outbox/{id}/retry" => notify::retry [Admin],
}

/// Registers every REST route: `/healthz`, `/readyz` and the table above under `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/readyz", web::get().to(health::readyz))
        .service(
            register(
                web::scope("/api/v1")
                    .app_data(web::JsonConfig::default().limit(1 << 20).error_handler(error::json_error)),
            )
            .default_service(web::to(error::not_found)),
        );
}
