//! The one authentication extractor of every HTTP edge. It accepts HTTP Basic (user + password,
//! or any user + API token as the password), `Authorization: Bearer <token>` and
//! `Authorization: Token <token>`. It is generic over the edge's error type `E`, so a failure
//! renders as a TAXII error under `/taxii2/` and as a JSON problem under `/api/`.

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, HeaderValue};
use actix_web::{FromRequest, HttpRequest, ResponseError, web};
use base64::Engine;
use futures_util::future::LocalBoxFuture;

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

/// The one rule of token scopes: an `intake` token may only push emails (`POST /api/v1/imports`),
/// an `export` token may only read export feeds (`GET /api/v1/exports/{name}/feed`).
fn check_scope(principal: &Principal, req: &HttpRequest) -> Result<(), AuthError> {
    let path = req.path().trim_end_matches('/');
    let allowed = match principal.scope {
        TokenScope::All => true,
        TokenScope::Intake => req.method() == actix_web::http::Method::POST && path == "/api/v1/imports",
        TokenScope::Export => req.method() == actix_web::http::Method::GET && is_export_feed(path),
    };
    if allowed { Ok(()) } else { Err(AuthError::OutOfScope(format!("{} {}", req.method(), req.path()))) }
}

/// `/api/v1/exports/{name}/feed`, with one non-empty name segment.
fn is_export_feed(path: &str) -> bool {
    path.strip_prefix("/api/v1/exports/")
        .and_then(|rest| rest.strip_suffix("/feed"))
        .is_some_and(|name| !name.is_empty() && !name.contains('/'))
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
        req.peer_addr().map(|a| a.ip().to_string()),
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
        let (auth, header, remote) = request_parts(req);
        let req = req.clone();
        Box::pin(async move {
            match authenticate(auth, header, remote).await? {
                Some(principal) => {
                    check_scope(&principal, &req)?;
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
            let principal = authenticate(auth, header, remote).await?;
            if let Some(p) = &principal {
                check_scope(p, &req)?;
            }
            Ok(Self { principal, edge: PhantomData })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(is_export_feed("/api/v1/exports/edl/feed"));
        assert!(!is_export_feed("/api/v1/exports/edl"));
        assert!(!is_export_feed("/api/v1/exports//feed"));
        assert!(!is_export_feed("/api/v1/exports/a/b/feed"));
        assert!(!is_export_feed("/api/v1/exports"));
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
