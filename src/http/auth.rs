//! The one authentication extractor of every HTTP edge. It accepts HTTP Basic (user + password,
//! any user + API token as the password, or an API token as the user with any password),
//! `Authorization: Bearer <token>` and
//! `Authorization: Token <token>`. It is generic over the edge's error type `E`, so a failure
//! renders as a TAXII error under `/taxii2/` and as a JSON problem under `/api/`.

use std::marker::PhantomData;

use actix_web::HttpMessage;
use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{AUTHORIZATION, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, ResponseError, web};
use base64::Engine;
use futures_util::future::LocalBoxFuture;

use super::{Access, browser};
use crate::service::accounts::TokenScope;
use crate::service::auth::{AuthError, Authenticator, Credentials, Principal};

/// The challenges sent with every 401.
pub const WWW_AUTHENTICATE: [&str; 2] =
    ["Basic realm=\"harpoon\", charset=\"UTF-8\"", "Bearer realm=\"harpoon\""];

/// Parses an `Authorization` header value.
pub fn parse_authorization(value: &HeaderValue) -> Result<Credentials, AuthError> {
    let text = value.to_str().map_err(|_| AuthError::Malformed("not visible ASCII".into()))?;
    let (scheme, rest) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    let rest = rest.trim();
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .map_err(|_| AuthError::Malformed("Basic credentials are not base64".into()))?;
            let decoded = String::from_utf8(decoded)
                .map_err(|_| AuthError::Malformed("Basic credentials are not UTF-8".into()))?;
            let (username, password) = decoded
                .split_once(':')
                .ok_or_else(|| AuthError::Malformed("Basic credentials lack a ':'".into()))?;
            Ok(Credentials::Basic { username: username.to_string(), password: password.to_string() })
        }
        "bearer" | "token" if !rest.is_empty() => Ok(Credentials::Token(rest.to_string())),
        "bearer" | "token" => Err(AuthError::Malformed("empty token".into())),
        other => Err(AuthError::Malformed(format!("unsupported scheme '{}'", other.escape_debug()))),
    }
}

async fn authenticate(
    auth: Option<web::Data<Authenticator>>,
    header: Option<HeaderValue>,
    remote: Option<String>,
) -> Result<Option<Principal>, AuthError> {
    let Some(header) = header else {
        return Ok(None);
    };
    let credentials = parse_authorization(&header)?;
    let auth = auth.ok_or_else(|| AuthError::Unavailable("no authenticator configured".into()))?;
    auth.authenticate(credentials, remote).await.map(Some)
}

/// The one rule of what credentials reach, by path (design.md §7), applied by every extractor
/// before a handler runs: a partner reaches TAXII, `GET /api/v1/me` and its own password change
/// (`POST /api/v1/me/password`) only; an `intake` token may
/// only push emails (`POST /api/v1/imports`); an `export` token may only read the feeds of the
/// exports it names (`GET /api/v1/exports/{name}/feed`). Finer rules (admin only, analysts only,
/// a collection's grants) are the handlers'.
pub fn check_reach(principal: &Principal, method: &Method, path: &str) -> Result<(), AuthError> {
    let path = path.trim_end_matches('/');
    let scope_allows = match principal.scope {
        TokenScope::All => true,
        TokenScope::Intake => method == Method::POST && path == "/api/v1/imports",
        TokenScope::Export => {
            method == Method::GET
                && export_feed_name(path).is_some_and(|name| principal.exports.iter().any(|e| e == name))
        }
        TokenScope::Metrics => method == Method::GET && path == "/metrics",
    };
    let role_allows = principal.role.is_internal()
        || path == "/taxii2"
        || path.starts_with("/taxii2/")
        || (method == Method::GET && path == "/api/v1/me")
        // A partner cannot log in to the UI: its password is changed here.
        || (method == Method::POST && path == "/api/v1/me/password");
    match (scope_allows, role_allows) {
        (true, true) => Ok(()),
        (false, _) => Err(AuthError::OutOfScope(format!("{method} {}", path.escape_debug()))),
        (true, false) => Err(AuthError::Forbidden(format!(
            "a partner account reaches its TAXII collections only, not {method} {}",
            path.escape_debug()
        ))),
    }
}

fn check_scope(principal: &Principal, req: &HttpRequest) -> Result<(), AuthError> {
    check_reach(principal, req.method(), req.path())
}

/// The export name of `/api/v1/exports/{name}/feed` or of a file of it (a MISP feed's),
/// `/api/v1/exports/{name}/feed/{file}`: one non-empty segment each.
fn export_feed_name(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/v1/exports/")?;
    let (name, after) = rest.split_once("/feed")?;
    let file_ok = match after.strip_prefix('/') {
        None => after.is_empty(),
        Some(file) => !file.is_empty() && !file.contains('/'),
    };
    Some(name).filter(|name| file_ok && !name.is_empty() && !name.contains('/'))
}

/// The `token` URL parameter, for devices that cannot send an `Authorization` header (firewall
/// external dynamic lists). Only [`FeedAuthenticated`] reads it.
fn query_token(req: &HttpRequest) -> Result<Option<String>, AuthError> {
    let mut found = None;
    for (key, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        if key == "token" {
            if found.is_some() {
                return Err(AuthError::Malformed("more than one token parameter".into()));
            }
            if value.is_empty() {
                return Err(AuthError::Malformed("empty token".into()));
            }
            found = Some(value.into_owned());
        }
    }
    Ok(found)
}

fn request_parts(
    req: &HttpRequest,
) -> (Option<web::Data<Authenticator>>, Option<HeaderValue>, Option<String>) {
    (
        req.app_data::<web::Data<Authenticator>>().cloned(),
        req.headers().get(AUTHORIZATION).cloned(),
        super::browser::client_ip(req).map(|ip| ip.to_string()),
    )
}

/// An authenticated caller; rejects the request (401) otherwise.
#[derive(Debug, Clone)]
pub struct Authenticated<E> {
    pub principal: Principal,
    edge: PhantomData<fn() -> E>,
}

impl<E> std::ops::Deref for Authenticated<E> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl<E> FromRequest for Authenticated<E>
where
    E: From<AuthError> + ResponseError + 'static,
{
    type Error = E;
    type Future = LocalBoxFuture<'static, Result<Self, E>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // The edge's gate authenticated this request already: the same principal, no second check.
        if let Some(principal) = req.extensions().get::<Principal>().cloned() {
            return Box::pin(async move { Ok(Self { principal, edge: PhantomData }) });
        }
        let (auth, header, remote) = request_parts(req);
        let req = req.clone();
        Box::pin(async move {
            browser::refuse_cross_site(&req)?;
            match authenticate(auth, header, remote).await? {
                Some(principal) => {
                    check_scope(&principal, &req)?;
                    browser::refuse_simple_body(&req, &principal)?;
                    Ok(Self { principal, edge: PhantomData })
                }
                None => Err(E::from(AuthError::Missing)),
            }
        })
    }
}

/// An authenticated caller of an export feed: credentials in the `Authorization` header, or a
/// token in the `token` URL parameter (checked by the same constant-time path as any token).
/// Both at once is refused, so a request never carries two identities.
#[derive(Debug, Clone)]
pub struct FeedAuthenticated<E> {
    pub principal: Principal,
    edge: PhantomData<fn() -> E>,
}

impl<E> std::ops::Deref for FeedAuthenticated<E> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl<E> FromRequest for FeedAuthenticated<E>
where
    E: From<AuthError> + ResponseError + 'static,
{
    type Error = E;
    type Future = LocalBoxFuture<'static, Result<Self, E>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (auth, header, remote) = request_parts(req);
        let req = req.clone();
        Box::pin(async move {
            browser::refuse_cross_site(&req)?;
            let principal = match (header, query_token(&req)?) {
                (Some(_), Some(_)) => {
                    return Err(E::from(AuthError::Malformed(
                        "credentials both in the Authorization header and the token parameter".into(),
                    )));
                }
                (None, Some(token)) => {
                    let auth =
                        auth.ok_or_else(|| AuthError::Unavailable("no authenticator configured".into()))?;
                    auth.authenticate(Credentials::Token(token), remote).await?
                }
                (header, None) => authenticate(auth, header, remote).await?.ok_or(AuthError::Missing)?,
            };
            check_scope(&principal, &req)?;
            Ok(Self { principal, edge: PhantomData })
        })
    }
}

/// The gate of the REST edge's routes (see `route_table!`): authenticates the caller and checks
/// the route's access level before any handler or extractor runs; the principal is kept in the
/// request's extensions for the handler's `Authenticated` extractor.
pub async fn gate<E>(
    access: Access,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error>
where
    E: From<AuthError> + ResponseError + 'static,
{
    if !matches!(access, Access::Public | Access::Feed) {
        // Refusals become responses here, not errors, so that the outer middleware (security
        // headers, TAXII media type) still sees and decorates them.
        let caller = match Authenticated::<E>::extract(req.request()).await {
            Ok(caller) => caller,
            Err(e) => return Ok(req.into_response(e.error_response())),
        };
        if !access.admits(caller.principal.role) {
            let e = E::from(AuthError::Forbidden(access.refusal().into()));
            return Ok(req.into_response(e.error_response()));
        }
        req.extensions_mut().insert(caller.principal);
    }
    next.call(req).await
}

/// A caller who may be anonymous (for public-read resources); wrong credentials still fail.
#[derive(Debug, Clone)]
pub struct MaybeAuthenticated<E> {
    pub principal: Option<Principal>,
    edge: PhantomData<fn() -> E>,
}

impl<E> FromRequest for MaybeAuthenticated<E>
where
    E: From<AuthError> + ResponseError + 'static,
{
    type Error = E;
    type Future = LocalBoxFuture<'static, Result<Self, E>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (auth, header, remote) = request_parts(req);
        let req = req.clone();
        Box::pin(async move {
            browser::refuse_cross_site(&req)?;
            let principal = authenticate(auth, header, remote).await?;
            if let Some(p) = &principal {
                check_scope(p, &req)?;
                browser::refuse_simple_body(&req, p)?;
            }
            Ok(Self { principal, edge: PhantomData })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::accounts::Role;
    use crate::service::auth::AuthMethod;

    fn hv(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).expect("header")
    }

    #[test]
    fn parses_the_three_schemes() {
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:pa:ss");
        match parse_authorization(&hv(&format!("Basic {basic}"))) {
            Ok(Credentials::Basic { username, password }) => {
                assert_eq!(username, "alice");
                assert_eq!(password, "pa:ss");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse_authorization(&hv("Bearer abc")), Ok(Credentials::Token(t)) if t == "abc"));
        assert!(matches!(parse_authorization(&hv("token abc")), Ok(Credentials::Token(t)) if t == "abc"));
    }

    #[test]
    fn export_feed_paths() {
        assert_eq!(export_feed_name("/api/v1/exports/edl/feed"), Some("edl"));
        assert_eq!(export_feed_name("/api/v1/exports/edl"), None);
        assert_eq!(export_feed_name("/api/v1/exports//feed"), None);
        assert_eq!(export_feed_name("/api/v1/exports/a/b/feed"), None);
        assert_eq!(export_feed_name("/api/v1/exports"), None);
        assert_eq!(export_feed_name("/api/v1/exports/misp/feed/manifest.json"), Some("misp"));
        assert_eq!(export_feed_name("/api/v1/exports/misp/feed/a/b.json"), None);
        assert_eq!(export_feed_name("/api/v1/exports/misp/feed/"), None);
        assert_eq!(export_feed_name("/api/v1/exports/misp/feedx"), None);
    }

    fn who(role: Role, scope: TokenScope, exports: &[&str]) -> Principal {
        Principal {
            user_id: 1,
            username: "u".into(),
            role,
            method: AuthMethod::Token { token_id: 1 },
            scope,
            exports: exports.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn reach_by_role_and_scope() {
        let partner = who(Role::Partner, TokenScope::All, &[]);
        assert!(check_reach(&partner, &Method::GET, "/taxii2/root/collections/").is_ok());
        assert!(check_reach(&partner, &Method::POST, "/taxii2/root/collections/x/objects/").is_ok());
        assert!(check_reach(&partner, &Method::GET, "/api/v1/me").is_ok());
        assert!(matches!(
            check_reach(&partner, &Method::GET, "/api/v1/events"),
            Err(AuthError::Forbidden(_))
        ));
        assert!(check_reach(&partner, &Method::GET, "/api/v1/imports/1/raw").is_err());
        assert!(check_reach(&partner, &Method::GET, "/taxii2x").is_err());
        let feed = who(Role::Reader, TokenScope::Export, &["edl"]);
        assert!(check_reach(&feed, &Method::GET, "/api/v1/exports/edl/feed").is_ok());
        assert!(check_reach(&feed, &Method::GET, "/api/v1/exports/other/feed").is_err());
        assert!(check_reach(&feed, &Method::GET, "/api/v1/me").is_err());
        let intake = who(Role::Analyst, TokenScope::Intake, &[]);
        assert!(check_reach(&intake, &Method::POST, "/api/v1/imports/").is_ok());
        assert!(check_reach(&intake, &Method::GET, "/api/v1/imports").is_err());
    }

    #[test]
    fn rejects_malformed_headers() {
        assert!(matches!(parse_authorization(&hv("Basic !!!")), Err(AuthError::Malformed(_))));
        assert!(matches!(parse_authorization(&hv("Bearer")), Err(AuthError::Malformed(_))));
        assert!(matches!(parse_authorization(&hv("Digest x")), Err(AuthError::Malformed(_))));
        let no_colon = base64::engine::general_purpose::STANDARD.encode("alice");
        assert!(matches!(
            parse_authorization(&hv(&format!("Basic {no_colon}"))),
            Err(AuthError::Malformed(_))
        ));
    }
}
