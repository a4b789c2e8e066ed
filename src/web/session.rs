//! Sessions of the web UI: login (the same password verification and audit as every edge, via
//! `service::auth::Authenticator`), logout, the `Session` extractor and CSRF protection.
//!
//! The cookie `harpoon_session` holds a random 256-bit id (HttpOnly, SameSite=Strict, Path=/,
//! Secure under TLS); the database keeps only its SHA-256, the user, a per-session CSRF token and
//! the expiry (design §4: any instance behind a load balancer serves any session).
//! Every state-changing request is a POST carrying the session's CSRF token in a hidden `csrf`
//! field (or an `X-CSRF-Token` header from the page's script); besides, a cross-site
//! `Sec-Fetch-Site` or a foreign `Origin` is refused.

use actix_web::HttpMessage;
use actix_web::body::BoxBody;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::LOCATION;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::future::LocalBoxFuture;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{WebError, html};
use crate::db::{Db, now_micros, sessions};
use crate::http::Access;
use crate::service::accounts::{Role, TokenScope};
use crate::service::auth::{AuthError, AuthMethod, Authenticator, Credentials, Principal};

pub const COOKIE: &str = "harpoon_session";
/// The double-submit token of the login form (there is no session to hold one yet).
pub const LOGIN_COOKIE: &str = "harpoon_login";
const SESSION_HOURS: i64 = 12;

fn random_hex() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// A cookie's name as sent to this client: over HTTPS (TLS here, or at a trusted proxy) with the
/// `__Host-` prefix, which browsers accept only with `Secure`, `Path=/` and no `Domain`, so a
/// sibling subdomain or a plain-HTTP man in the middle cannot plant or shadow it.
fn cookie_name(req: &HttpRequest, base: &str) -> String {
    if crate::http::browser::is_https(req) { format!("__Host-{base}") } else { base.to_string() }
}

fn read_cookie(req: &HttpRequest, base: &str) -> Option<String> {
    req.cookie(&cookie_name(req, base)).map(|c| c.value().to_string())
}

fn cookie(req: &HttpRequest, base: &str, value: String, max_age: CookieDuration) -> Cookie<'static> {
    Cookie::build(cookie_name(req, base), value)
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(crate::http::browser::is_https(req))
        .max_age(max_age)
        .finish()
}

/// A logged-in user of the UI.
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    pub csrf: String,
}

impl Session {
    pub fn can_change(&self) -> bool {
        matches!(self.principal.role, Role::Admin | Role::Analyst)
    }

    pub fn require_analyst(&self) -> Result<(), WebError> {
        if self.can_change() {
            Ok(())
        } else {
            Err(WebError::Forbidden("analysts and administrators only".into()))
        }
    }

    pub fn require_admin(&self) -> Result<(), WebError> {
        if self.principal.is_admin() {
            Ok(())
        } else {
            Err(WebError::Forbidden("administrators only".into()))
        }
    }

    /// Checks a submitted CSRF token and where the request came from.
    pub fn verify(&self, req: &HttpRequest, token: Option<&str>) -> Result<(), WebError> {
        check_origin(req)?;
        let header = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok());
        let given = token.or(header).unwrap_or("");
        if bool::from(given.as_bytes().ct_eq(self.csrf.as_bytes())) && !given.is_empty() {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }
}

/// `Sec-Fetch-Site` must be same-origin when sent; `Origin`, when sent, must be this host.
pub fn check_origin(req: &HttpRequest) -> Result<(), WebError> {
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site")
        && site != "same-origin"
    {
        return Err(WebError::Csrf);
    }
    if crate::http::browser::foreign_origin(req).is_some() {
        return Err(WebError::Csrf);
    }
    Ok(())
}

fn next_of(req: &HttpRequest) -> String {
    let pq = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/ui");
    if req.method() == actix_web::http::Method::GET { pq.to_string() } else { "/ui".into() }
}

impl FromRequest for Session {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<Self, WebError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // The UI's gate looked the session up already: the same one, no second query.
        if let Some(session) = req.extensions().get::<Session>().cloned() {
            return Box::pin(async move { Ok(session) });
        }
        let id = read_cookie(req, COOKIE);
        let db = req.app_data::<web::Data<Db>>().cloned();
        let next = next_of(req);
        Box::pin(async move {
            let (Some(id), Some(db)) = (id, db) else { return Err(WebError::LoginRequired { next }) };
            let hash = sha256_hex(&id);
            let row = db.run(move |conn| sessions::live(conn, &hash, now_micros())).await?;
            let Some(row) = row.filter(|r| !r.user.disabled) else {
                return Err(WebError::LoginRequired { next });
            };
            let role = Role::parse(&row.user.role).map_err(|e| WebError::Internal(e.to_string()))?;
            // A user made a partner after logging in loses the UI at the next request.
            if !role.is_internal() {
                return Err(WebError::LoginRequired { next });
            }
            Ok(Session {
                principal: Principal {
                    user_id: row.user.id,
                    username: row.user.username,
                    role,
                    method: AuthMethod::Password,
                    scope: TokenScope::All,
                    exports: Vec::new(),
                },
                csrf: row.csrf_token,
            })
        })
    }
}

/// A form POSTed from a page: the session, the CSRF check done, then the fields.
pub struct Posted<T> {
    pub session: Session,
    pub form: T,
}

#[derive(Deserialize)]
struct CsrfField {
    csrf: Option<String>,
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for Posted<T> {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<Self, WebError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = Session::from_request(req, payload);
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let session = session.await?;
            let body = body.await.map_err(|e| WebError::BadRequest(format!("reading the form: {e}")))?;
            let field: CsrfField = serde_urlencoded::from_bytes(&body).unwrap_or(CsrfField { csrf: None });
            session.verify(&req, field.csrf.as_deref())?;
            let form = serde_urlencoded::from_bytes(&body)
                .map_err(|e| WebError::BadRequest(format!("the form: {e}")))?;
            Ok(Posted { session, form })
        })
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only local paths under `/ui` are followed after login (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/ui") && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/ui".into(),
    }
}

fn login_page(
    req: &HttpRequest,
    next: String,
    error: Option<String>,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, WebError> {
    let csrf = random_hex();
    let body = LoginPage { csrf: csrf.clone(), next, error }.render()?;
    let mut resp = html(status, body);
    resp.add_cookie(&cookie(req, LOGIN_COOKIE, csrf, CookieDuration::minutes(30)))
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(resp)
}

/// `GET /ui/login`
pub async fn login_form(req: HttpRequest, q: web::Query<NextQuery>) -> Result<HttpResponse, WebError> {
    login_page(&req, safe_next(q.next.as_deref()), None, actix_web::http::StatusCode::OK)
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

/// `POST /ui/login`: verifies the password like every edge (argon2 behind the cache, failures
/// audited), then stores a new session.
pub async fn login(
    req: HttpRequest,
    form: web::Form<LoginForm>,
    auth: web::Data<Authenticator>,
    db: web::Data<Db>,
) -> Result<HttpResponse, WebError> {
    check_origin(&req)?;
    let form = form.into_inner();
    let expected = read_cookie(&req, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(form.csrf.as_bytes())) {
        return Err(WebError::Csrf);
    }
    let next = safe_next(form.next.as_deref());
    let remote = crate::http::browser::client_ip(&req).map(|ip| ip.to_string());
    let credentials = Credentials::Basic { username: form.username.clone(), password: form.password };
    let principal = match auth.authenticate(credentials, remote).await {
        // A token as the password is not a login.
        Ok(p) if p.method == AuthMethod::Password => p,
        Ok(_) | Err(AuthError::Invalid | AuthError::Missing | AuthError::Malformed(_)) => {
            return login_page(
                &req,
                next,
                Some("Wrong user name or password.".into()),
                actix_web::http::StatusCode::UNAUTHORIZED,
            );
        }
        Err(e @ (AuthError::Throttled(_) | AuthError::Busy)) => {
            let (status, secs) = match e {
                AuthError::Throttled(secs) => (actix_web::http::StatusCode::TOO_MANY_REQUESTS, secs),
                _ => (actix_web::http::StatusCode::SERVICE_UNAVAILABLE, 1),
            };
            let mut resp = login_page(&req, next, Some(format!("{}.", capitalised(&e.to_string()))), status)?;
            resp.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(secs),
            );
            return Ok(resp);
        }
        Err(AuthError::Unavailable(m)) => return Err(WebError::Unavailable(m)),
        Err(e) => return Err(WebError::Forbidden(e.to_string())),
    };
    if !principal.role.is_internal() {
        return Err(WebError::Forbidden("partner accounts reach TAXII only, not the web UI".into()));
    }
    let id = random_hex();
    let hash = sha256_hex(&id);
    let csrf = random_hex();
    let now = now_micros();
    let user_id = principal.user_id;
    db.run(move |conn| {
        sessions::delete_expired(conn, now)?;
        sessions::insert(
            conn,
            &sessions::NewSession {
                id_sha256: &hash,
                user_id,
                csrf_token: &csrf,
                created_at: now,
                expires_at: now + SESSION_HOURS * 3_600_000_000,
            },
        )?;
        crate::db::audit::insert(
            conn,
            &crate::db::audit::AuditEntry::new("ui.login").actor(principal.username.clone()),
        )
    })
    .await?;
    let mut resp = HttpResponse::SeeOther().insert_header((LOCATION, next)).finish();
    resp.add_cookie(&cookie(&req, COOKIE, id, CookieDuration::hours(SESSION_HOURS)))
        .map_err(|e| WebError::Internal(e.to_string()))?;
    resp.add_removal_cookie(&cookie(&req, LOGIN_COOKIE, String::new(), CookieDuration::ZERO))
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(resp)
}

/// The gate of the UI's routes (see `route_table!`): finds the session and checks the route's
/// access level before any handler or form extractor runs, so a page or form a user may not use
/// answers 403 (or the login page) whatever was posted; the session is kept in the request's
/// extensions for the handler.
pub async fn gate(
    access: Access,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !matches!(access, Access::Public | Access::Feed) {
        // Refusals become responses here, not errors, so the scope's security headers (CSP)
        // still decorate them.
        let session = match Session::extract(req.request()).await {
            Ok(session) => session,
            Err(e) => return Ok(req.into_response(actix_web::ResponseError::error_response(&e))),
        };
        if !access.admits(session.principal.role) {
            let e = WebError::Forbidden(access.refusal().into());
            return Ok(req.into_response(actix_web::ResponseError::error_response(&e)));
        }
        req.extensions_mut().insert(session);
    }
    next.call(req).await
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The form of a POST that is only a button (logout, abandon, delete, revoke): nothing but the
/// CSRF token, which `Posted` checks.
#[derive(Deserialize)]
pub struct NoFields {}

/// `POST /ui/logout`: the session row is deleted and the cookie cleared.
pub async fn logout(
    req: HttpRequest,
    posted: Posted<NoFields>,
    db: web::Data<Db>,
) -> Result<HttpResponse, WebError> {
    let _ = posted.form;
    if let Some(id) = read_cookie(&req, COOKIE) {
        let hash = sha256_hex(&id);
        db.run(move |conn| sessions::delete(conn, &hash)).await?;
    }
    let mut resp = HttpResponse::SeeOther().insert_header((LOCATION, "/ui/login")).finish();
    resp.add_removal_cookie(&cookie(&req, COOKIE, String::new(), CookieDuration::ZERO))
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_ui_paths_are_followed() {
        assert_eq!(safe_next(Some("/ui/events/3")), "/ui/events/3");
        assert_eq!(safe_next(Some("//evil.example/ui")), "/ui");
        assert_eq!(safe_next(Some("https://evil.example/")), "/ui");
        assert_eq!(safe_next(Some("/ui\\..\\x")), "/ui");
        assert_eq!(safe_next(None), "/ui");
    }
}
