//! Administration: users and tokens (administrators).

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{NoFields, Posted};
use super::{Layout, Session, WebError, page, see_other, utc_time};
use crate::db::{Db, tokens, users};

pub struct UserLine {
    name: String,
    role: String,
    disabled: bool,
    created: String,
}

pub struct TokenLine {
    id: i64,
    user: String,
    label: String,
    scopes: String,
    created: String,
    last_used: String,
    expires: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    l: Layout,
    /// A token just created: shown this once.
    issued: Option<String>,
    users: Vec<UserLine>,
    tokens: Vec<TokenLine>,
    /// Every role, for the role selectors.
    roles: Vec<&'static str>,
}

pub async fn admin(s: Session, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    admin_page(&s, &db, None).await
}

async fn admin_page(s: &Session, db: &Db, issued: Option<String>) -> Result<HttpResponse, WebError> {
    s.require_admin()?;
    let (us, ts) =
        db.run(|conn| Ok::<_, crate::db::DbError>((users::list(conn)?, tokens::list(conn, None)?))).await?;
    let name_of = |id: i64| us.iter().find(|u| u.id == id).map(|u| u.username.clone()).unwrap_or_default();
    page(&AdminPage {
        l: Layout::new(s, "Users and tokens"),
        issued,
        roles: crate::service::accounts::Role::ALL.iter().map(|r| r.as_str()).collect(),
        tokens: ts
            .iter()
            .map(|t| TokenLine {
                id: t.id,
                user: name_of(t.user_id),
                label: t.label.clone(),
                scopes: match crate::service::accounts::token_exports(t) {
                    Ok(names) if !names.is_empty() => format!("{}: {}", t.scopes, names.join(", ")),
                    _ => t.scopes.clone(),
                },
                created: utc_time(t.created_at),
                last_used: t.last_used_at.map(utc_time).unwrap_or_else(|| "never".into()),
                expires: t.expires_at.map(utc_time).unwrap_or_else(|| "never".into()),
                revoked: t.revoked_at.is_some(),
            })
            .collect(),
        users: us
            .iter()
            .map(|u| UserLine {
                name: u.username.clone(),
                role: u.role.clone(),
                disabled: u.disabled,
                created: utc_time(u.created_at),
            })
            .collect(),
    })
}

#[derive(Deserialize)]
pub struct NewUserForm {
    username: String,
    role: String,
    password: String,
}

/// `POST /ui/admin/users` (administrators)
pub async fn create_user(
    p: Posted<NewUserForm>,
    db: web::Data<Db>,
    settings: web::Data<crate::settings::Settings>,
) -> Result<HttpResponse, WebError> {
    p.session.require_admin()?;
    let role = crate::service::accounts::Role::parse(&p.form.role)?;
    let actor = p.session.principal.username.clone();
    let f = p.form;
    let policy = crate::service::accounts::PasswordPolicy::configured(&settings);
    db.run(move |conn| {
        crate::service::accounts::create_user(conn, &f.username, role, &f.password, &policy, Some(&actor))
    })
    .await?;
    Ok(see_other("/ui/admin"))
}

#[derive(Deserialize)]
pub struct NewTokenForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    scope: String,
    /// The owner (empty: the administrator).
    #[serde(default)]
    user: String,
    /// An export token's exports, comma-separated.
    #[serde(default)]
    exports: String,
    /// Days until expiry (empty: none).
    #[serde(default)]
    expires_in_days: String,
}

/// `POST /ui/admin/tokens`: a token (for the administrator or another user), shown once.
pub async fn create_token(p: Posted<NewTokenForm>, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    use crate::service::accounts::{self, TokenRequest, TokenScope};
    p.session.require_admin()?;
    let f = &p.form;
    let scope = TokenScope::parse(if f.scope.is_empty() { "all" } else { &f.scope })?;
    let expires_at = match f.expires_in_days.trim() {
        "" => None,
        days => {
            let days: i64 = days
                .parse()
                .ok()
                .filter(|d| (1..=3660).contains(d))
                .ok_or_else(|| WebError::BadRequest("expiry: a number of days from 1 to 3660".into()))?;
            Some(crate::db::now_micros() + days * 86_400_000_000)
        }
    };
    let request = TokenRequest {
        label: f.label.clone(),
        scope,
        exports: f.exports.split(',').map(str::trim).filter(|e| !e.is_empty()).map(String::from).collect(),
        expires_at,
    };
    let owner = if f.user.trim().is_empty() {
        p.session.principal.username.clone()
    } else {
        f.user.trim().to_string()
    };
    let issuer = p.session.principal.issuer();
    let issued = db
        .run(move |conn| {
            let Some(user) = users::by_name(conn, &owner)? else {
                return Err(WebError::NotFound(format!("user '{owner}'")));
            };
            Ok(accounts::issue_token(conn, &issuer, &user, &request)?)
        })
        .await?;
    admin_page(&p.session, &db, Some(issued.token)).await
}

/// `POST /ui/admin/tokens/{id}/revoke`
pub async fn revoke_token(
    p: Posted<NoFields>,
    path: web::Path<i64>,
    db: web::Data<Db>,
    auth: web::Data<crate::service::auth::Authenticator>,
) -> Result<HttpResponse, WebError> {
    p.session.require_admin()?;
    let id = path.into_inner();
    let actor = p.session.principal.username.clone();
    db.run(move |conn| crate::service::accounts::revoke_token(conn, id, &actor)).await?;
    auth.forget_token(id);
    Ok(see_other("/ui/admin"))
}
