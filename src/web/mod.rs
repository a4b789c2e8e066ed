//! The analyst's web UI under `/ui`: server-rendered HTML (askama templates in `templates/`,
//! auto-escaped), a little plain JavaScript and CSS embedded in the binary (`static/`), sessions
//! in the database (`session.rs`), CSRF on every form, and a strict Content-Security-Policy on
//! every page: no inline script, no inline style, email HTML never rendered live.
//! Handlers call the same `service::` and `db::` named functions as the REST handlers.

mod account;
mod admin;
mod campaigns;
mod connectors;
mod dashboard;
mod drafts;
pub mod error;
mod events;
mod feeds;
pub mod highlight;
mod indicators;
pub mod session;
mod subscriptions;
mod verdicts;
mod whitelist;

use std::sync::LazyLock;

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};

pub use error::WebError;
pub use session::Session;

/// The policy of every `/ui` response. `frame-src 'self'` admits only the `srcdoc` preview
/// iframe, which is sandboxed without scripts and inherits this policy (so it loads nothing).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; frame-src 'self'";

const APP_JS: &str = include_str!("static/app.js");
const APP_CSS: &str = include_str!("static/app.css");

/// A content hash in the asset URLs, so they can be cached for a year.
static ASSET_VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut h = Sha256::new();
    h.update(APP_JS);
    h.update(APP_CSS);
    hex::encode(h.finalize()).chars().take(12).collect()
});

pub fn asset_version() -> &'static str {
    ASSET_VERSION.as_str()
}

/// What every page's layout needs: who is logged in, their CSRF token, the asset version.
pub struct Layout {
    pub user: String,
    pub role: String,
    pub admin: bool,
    pub csrf: String,
    pub v: &'static str,
    pub title: String,
}

impl Layout {
    pub fn new(s: &Session, title: impl Into<String>) -> Self {
        Self {
            user: s.principal.username.clone(),
            role: s.principal.role.as_str().to_string(),
            admin: s.principal.is_admin(),
            csrf: s.csrf.clone(),
            v: asset_version(),
            title: title.into(),
        }
    }
}

/// An HTML response.
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status).insert_header((CONTENT_TYPE, "text/html; charset=utf-8")).body(body)
}

/// Renders a page template as a 200.
pub fn page(t: &impl askama::Template) -> Result<HttpResponse, WebError> {
    Ok(html(StatusCode::OK, t.render()?))
}

/// After a POST: back to a page (303, so a reload does not resubmit).
pub fn see_other(to: impl Into<String>) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((LOCATION, to.into())).finish()
}

/// A field of a JSON object, `null` when absent (stored JSON is read leniently: a missing field
/// shows as empty, never panics).
pub fn json_field<'a>(v: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    static NULL: serde_json::Value = serde_json::Value::Null;
    v.get(key).unwrap_or(&NULL)
}

/// Timestamps shown to people: UTC, to the second.
pub fn utc_time(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

async fn asset(path: web::Path<String>) -> HttpResponse {
    let (body, kind) = match path.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        _ => return HttpResponse::NotFound().finish(),
    };
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, kind))
        .insert_header((CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(body)
}

async fn root() -> HttpResponse {
    see_other("/ui")
}

async fn not_found(_s: Session) -> Result<HttpResponse, WebError> {
    Err(WebError::NotFound("no such page".into()))
}

/// Registers every UI route (and `/` → `/ui`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", CSP))
        .add(("Cache-Control", "no-store"))
        // Not `no-referrer` (the rest of the server's): with it browsers send `Origin: null` on
        // same-origin form POSTs, and the CSRF check wants the real origin.
        .add(("Referrer-Policy", "same-origin"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Cross-Origin-Resource-Policy", "same-origin"))
        .add(("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"));
    cfg.route("/", web::get().to(root)).service(
        register(web::scope("/ui"))
            .wrap(headers)
            .app_data(web::FormConfig::default().limit(1 << 20))
            .default_service(web::to(not_found)),
    );
}

crate::route_table! {
    pub const ROUTES; fn register; gate session::gate;
    get "" => dashboard::show [User],
    get "/static/{name}" => asset [Public],
    get "/login" => session::login_form [Public],
    post "/login" => session::login [Public],
    post "/logout" => session::logout [User],
    get "/import" => drafts::import_form [Analyst],
    post "/import" => drafts::import [Analyst],
    // The `.json` route first: `{id}` would match `7.json` too.
    get "/jobs/{id}.json" => drafts::job_json [User],
    get "/jobs/{id}" => drafts::job [User],
    get "/drafts" => drafts::list [User],
    get "/drafts/{id}" => drafts::show [User],
    get "/drafts/{id}/raw" => drafts::raw [User],
    get "/drafts/{id}/attachments/{item}" => drafts::attachment [User],
    post "/drafts/{id}/items" => drafts::add_item [Analyst],
    post "/drafts/{id}/items/{item}/state" => drafts::set_item_state [Analyst],
    post "/drafts/{id}/items/{item}/whitelist" => drafts::whitelist_item [Analyst],
    post "/drafts/{id}/commit" => drafts::commit [Analyst],
    post "/drafts/{id}/abandon" => drafts::abandon [Analyst],
    post "/drafts/{id}/close" => verdicts::close [Analyst],
    post "/drafts/{id}/undo" => verdicts::undo [Analyst],
    get "/events" => events::list [User],
    get "/events/{id}" => events::show [User],
    get "/events/{id}/stix" => events::stix [User],
    post "/events/{id}/status" => events::bulk_status [Analyst],
    post "/events/{id}/meta" => events::update_meta [Analyst],
    get "/indicators" => indicators::list [User],
    get "/indicators/{id}" => indicators::show [User],
    post "/indicators/{id}/status" => indicators::set_status [Analyst],
    post "/indicators/{id}/operations/{name}" => indicators::run [Analyst],
    get "/indicators/{id}/runs.json" => indicators::runs_json [User],
    get "/whitelist" => whitelist::whitelist [User],
    post "/whitelist" => whitelist::whitelist_create [Analyst],
    post "/whitelist/{id}/delete" => whitelist::whitelist_delete [Analyst],
    get "/exports" => feeds::exports [User],
    get "/collections" => feeds::collections [User],
    get "/connectors" => connectors::connectors [User],
    get "/subscriptions" => subscriptions::list [Admin],
    post "/subscriptions" => subscriptions::create [Admin],
    post "/subscriptions/{name}" => subscriptions::action [Admin],
    get "/admin" => admin::admin [Admin],
    post "/admin/users" => admin::create_user [Admin],
    post "/admin/users/{name}" => account::user_action [Admin],
    get "/account" => account::show [User],
    post "/account/password" => account::change_password [User],
    post "/admin/tokens" => admin::create_token [Admin],
    post "/admin/tokens/{id}/revoke" => admin::revoke_token [Admin],
    get "/campaigns" => campaigns::list [User],
    get "/campaigns/{id}" => campaigns::show [User],
    post "/campaigns/{id}/commit" => campaigns::commit [Analyst],
    post "/campaigns/{id}/abandon" => campaigns::abandon [Analyst],
    post "/campaigns/{id}/status" => campaigns::set_status [Analyst],
    get "/reporters" => campaigns::reporters [User],
    get "/notify" => campaigns::notify_page [Admin],
    post "/notify/templates/{verdict}" => campaigns::save_template [Admin],
    post "/notify/outbox/{id}/retry" => campaigns::retry [Admin],
}
