//! `/api/v1/me`, `/users`, `/tokens`, `/audit`: accounts and API tokens over REST.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{ApiError, Caller, micros_to_rfc3339, require_admin};
use crate::db::audit::AuditRow;
use crate::db::tokens::TokenRow;
use crate::db::users::UserRow;
use crate::db::{Db, audit, tokens, users};
use crate::service::accounts::{self, Role};
use crate::service::auth::{AuthError, AuthMethod, Authenticator, Credentials, Principal};
use crate::settings::Settings;

#[derive(Debug, Serialize)]
pub struct UserDto {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: String,
}

impl From<&UserRow> for UserDto {
    fn from(u: &UserRow) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            role: u.role.clone(),
            disabled: u.disabled,
            created_at: micros_to_rfc3339(u.created_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TokenDto {
    pub id: i64,
    pub user_id: i64,
    pub label: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// Refused from this instant on (absent: no expiry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// `all`, `intake` (may only `POST /api/v1/imports`) or `export` (may only read the feeds of
    /// `exports`).
    pub scope: String,
    /// The exports an `export` token may read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<String>,
    /// Present only in the response that created the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl From<&TokenRow> for TokenDto {
    fn from(t: &TokenRow) -> Self {
        Self {
            id: t.id,
            user_id: t.user_id,
            label: t.label.clone(),
            created_at: micros_to_rfc3339(t.created_at),
            last_used_at: t.last_used_at.map(micros_to_rfc3339),
            revoked_at: t.revoked_at.map(micros_to_rfc3339),
            expires_at: t.expires_at.map(micros_to_rfc3339),
            scope: t.scopes.clone(),
            // A corrupt list shows as none; the token itself then allows nothing (auth refuses it).
            exports: accounts::token_exports(t).unwrap_or_default(),
            token: None,
        }
    }
}

pub async fn me(caller: Caller) -> HttpResponse {
    let via = match caller.method {
        AuthMethod::Password => "password".to_string(),
        AuthMethod::Token { token_id } => format!("token {token_id}"),
    };
    HttpResponse::Ok().json(serde_json::json!({
        "id": caller.user_id,
        "username": caller.username,
        "role": caller.role,
        "authenticated_by": via,
    }))
}

pub async fn list_users(caller: Caller, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let rows = db.run(users::list).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(UserDto::from).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    pub username: String,
    pub role: String,
    pub password: String,
}

pub async fn create_user(
    caller: Caller,
    db: web::Data<Db>,
    settings: web::Data<Settings>,
    body: web::Json<NewUserRequest>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let req = body.into_inner();
    let role = Role::parse(&req.role)?;
    let actor = caller.username.clone();
    let policy = crate::service::accounts::PasswordPolicy::configured(&settings);
    let user = db
        .run(move |conn| {
            accounts::create_user(conn, &req.username, role, &req.password, &policy, Some(&actor))
        })
        .await?;
    Ok(HttpResponse::Created().json(UserDto::from(&user)))
}

/// `PATCH /users/{name}`: what the body names changes; the rest stays.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub role: Option<String>,
    pub disabled: Option<bool>,
    /// A new password (an administrator's reset).
    pub password: Option<String>,
}

/// `PATCH /users/{name}` (administrators): role, disabled, password reset. Ends the user's UI
/// sessions and forgets its cached credentials (other instances: within the token TTL).
pub async fn update_user(
    caller: Caller,
    db: web::Data<Db>,
    auth: web::Data<Authenticator>,
    settings: web::Data<Settings>,
    path: web::Path<String>,
    body: web::Json<UserPatch>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let req = body.into_inner();
    let change = accounts::AccountChange {
        role: req.role.as_deref().map(Role::parse).transpose()?,
        disabled: req.disabled,
        password: req.password,
    };
    let (name, actor, policy) = (
        path.into_inner(),
        caller.username.clone(),
        crate::service::accounts::PasswordPolicy::configured(&settings),
    );
    let changed = db.run(move |conn| accounts::change_account(conn, &name, &change, &policy, &actor)).await?;
    auth.account_changed(changed.user.id, &changed.user.username);
    Ok(HttpResponse::Ok().json(UserDto::from(&changed.user)))
}

/// `DELETE /users/{name}` (administrators): the account, its tokens, grants and sessions go;
/// what it created (imports, events) and the audit log keep its name.
pub async fn delete_user(
    caller: Caller,
    db: web::Data<Db>,
    auth: web::Data<Authenticator>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let (name, actor) = (path.into_inner(), caller.username.clone());
    let user = db.run(move |conn| accounts::delete_user(conn, &name, &actor)).await?;
    auth.account_changed(user.id, &user.username);
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

/// `POST /me/password`: the caller changes its own password, giving the current one (checked
/// like a login: throttled, audited). Its UI sessions end; its tokens stay.
pub async fn change_password(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    auth: web::Data<Authenticator>,
    settings: web::Data<Settings>,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let remote = crate::http::browser::client_ip(&req).map(|ip| ip.to_string());
    verify_current(&auth, &caller, &body.current, remote).await?;
    let (uid, policy) = (caller.user_id, crate::service::accounts::PasswordPolicy::configured(&settings));
    let changed = db
        .run(move |conn| accounts::change_own_password(conn, uid, &body.current, &body.new, &policy))
        .await?;
    auth.account_changed(changed.user.id, &changed.user.username);
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's current password, verified like a login (a token as the "current password"
/// does not count).
async fn verify_current(
    auth: &Authenticator,
    caller: &Principal,
    current: &str,
    remote: Option<String>,
) -> Result<(), ApiError> {
    let credentials = Credentials::Basic { username: caller.username.clone(), password: current.to_string() };
    match auth.authenticate(credentials, remote).await {
        Ok(p) if p.user_id == caller.user_id && p.method == AuthMethod::Password => Ok(()),
        Ok(_) | Err(AuthError::Invalid | AuthError::Malformed(_) | AuthError::Missing) => {
            Err(ApiError::Forbidden("the current password is wrong".into()))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    /// Admins may list everyone's tokens with `?all=true`.
    #[serde(default)]
    pub all: bool,
}

pub async fn list_tokens(
    caller: Caller,
    db: web::Data<Db>,
    q: web::Query<TokenQuery>,
) -> Result<HttpResponse, ApiError> {
    if q.all {
        require_admin(&caller)?;
    }
    let user = (!q.all).then_some(caller.user_id);
    let rows = db.run(move |conn| tokens::list(conn, user)).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(TokenDto::from).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    #[serde(default)]
    pub label: String,
    /// Admins may issue a token for another user.
    #[serde(default)]
    pub username: Option<String>,
    /// `all` (the default), `intake` (a product that only pushes emails) or `export` (a device
    /// that only reads the feeds of `exports`). Only admins issue a scope other than their own
    /// credentials'.
    #[serde(default)]
    pub scope: Option<String>,
    /// The exports an `export` token may read.
    #[serde(default)]
    pub exports: Vec<String>,
    /// RFC 3339; the token is refused from then on.
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// Parses an RFC 3339 instant into microseconds since the epoch.
pub(crate) fn parse_instant(field: &str, text: &str) -> Result<i64, ApiError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_micros())
        .map_err(|e| ApiError::BadRequest(format!("{field}: not an RFC 3339 timestamp: {e}")))
}

pub async fn create_token(
    caller: Caller,
    db: web::Data<Db>,
    body: web::Json<NewTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let request = accounts::TokenRequest {
        label: req.label,
        scope: accounts::TokenScope::parse(req.scope.as_deref().unwrap_or("all"))?,
        exports: req.exports,
        expires_at: req.expires_at.as_deref().map(|t| parse_instant("expires_at", t)).transpose()?,
    };
    let owner = req.username.unwrap_or_else(|| caller.username.clone());
    let issuer = caller.issuer();
    let issued = db
        .run(move |conn| {
            // Naming another user is an administrator's act: a non-admin learns nothing about
            // which names exist.
            if owner != issuer.username && issuer.role != Role::Admin {
                return Err(ApiError::Forbidden("only administrators issue tokens for other users".into()));
            }
            let Some(user) = users::by_name(conn, &owner)? else {
                return Err(ApiError::NotFound(format!("user '{owner}' not found")));
            };
            Ok(accounts::issue_token(conn, &issuer, &user, &request)?)
        })
        .await?;
    let mut dto = TokenDto::from(&issued.row);
    dto.token = Some(issued.token);
    Ok(HttpResponse::Created().json(dto))
}

pub async fn revoke_token(
    caller: Caller,
    db: web::Data<Db>,
    auth: web::Data<crate::service::auth::Authenticator>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: i64 = path.parse().map_err(|_| ApiError::BadRequest("token id must be a number".into()))?;
    let is_admin = caller.is_admin();
    let (uid, actor) = (caller.user_id, caller.username.clone());
    db.run(move |conn| {
        // Someone else's token answers 404 rather than 403: ids do not reveal what exists.
        match tokens::by_id(conn, id)? {
            Some(t) if t.user_id == uid || is_admin => Ok(accounts::revoke_token(conn, id, &actor)?),
            _ => Err(ApiError::NotFound(format!("live token {id} not found"))),
        }
    })
    .await?;
    auth.forget_token(id);
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    pub action: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize)]
struct AuditDto {
    id: i64,
    at: String,
    actor: Option<String>,
    action: String,
    target: Option<String>,
    detail: Option<String>,
    remote_addr: Option<String>,
}

impl From<AuditRow> for AuditDto {
    fn from(r: AuditRow) -> Self {
        Self {
            id: r.id,
            at: micros_to_rfc3339(r.at),
            actor: r.actor,
            action: r.action,
            target: r.target,
            detail: r.detail,
            remote_addr: r.remote_addr,
        }
    }
}

pub async fn audit_log(
    caller: Caller,
    db: web::Data<Db>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let q = q.into_inner();
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows = db.run(move |conn| audit::recent(conn, q.action.as_deref(), limit)).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(AuditDto::from).collect::<Vec<_>>()))
}
