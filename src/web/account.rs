//! Account lifecycle in the UI: every user's "change my password" page, and the administrator's
//! per-user actions on the admin page (role, disable/enable, password reset, delete). The same
//! use cases as REST and the CLI (`service::accounts`); each ends the user's UI sessions and
//! forgets its cached credentials in this process.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::Posted;
use super::{Layout, Session, WebError, html, see_other};
use crate::db::Db;
use crate::service::accounts::{self, AccountChange, Role};
use crate::service::auth::{AuthError, AuthMethod, Authenticator, Credentials};
use crate::settings::Settings;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    l: Layout,
    error: Option<String>,
}

fn account_page(s: &Session, error: Option<String>, status: StatusCode) -> Result<HttpResponse, WebError> {
    let body = AccountPage { l: Layout::new(s, "My account"), error }.render()?;
    Ok(html(status, body))
}

/// `GET /ui/account`
pub async fn show(s: Session) -> Result<HttpResponse, WebError> {
    account_page(&s, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

/// `POST /ui/account/password`: the current password is checked like a login (throttled,
/// audited); on success every session of the user ends, this one too, and the login page follows.
pub async fn change_password(
    req: HttpRequest,
    p: Posted<PasswordForm>,
    db: web::Data<Db>,
    auth: web::Data<Authenticator>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, WebError> {
    let (s, f) = (p.session, p.form);
    if f.new != f.confirm {
        return account_page(&s, Some("The two new passwords differ.".into()), StatusCode::BAD_REQUEST);
    }
    let remote = crate::http::browser::client_ip(&req).map(|ip| ip.to_string());
    let credentials =
        Credentials::Basic { username: s.principal.username.clone(), password: f.current.clone() };
    match auth.authenticate(credentials, remote).await {
        Ok(p) if p.user_id == s.principal.user_id && p.method == AuthMethod::Password => {}
        Ok(_) | Err(AuthError::Invalid | AuthError::Missing | AuthError::Malformed(_)) => {
            return account_page(&s, Some("The current password is wrong.".into()), StatusCode::FORBIDDEN);
        }
        Err(e @ (AuthError::Throttled(_) | AuthError::Busy)) => {
            return account_page(&s, Some(format!("{e}.")), StatusCode::TOO_MANY_REQUESTS);
        }
        Err(e) => return Err(WebError::Unavailable(e.to_string())),
    }
    let (uid, policy) =
        (s.principal.user_id, crate::service::accounts::PasswordPolicy::configured(&settings));
    let result =
        db.run(move |conn| accounts::change_own_password(conn, uid, &f.current, &f.new, &policy)).await;
    match result {
        Ok(changed) => {
            auth.account_changed(changed.user.id, &changed.user.username);
            Ok(see_other("/ui/login"))
        }
        Err(crate::service::ServiceError::Invalid(m)) => account_page(&s, Some(m), StatusCode::BAD_REQUEST),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct UserActionForm {
    /// `role`, `disable`, `enable`, `reset` or `delete`.
    action: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

/// `POST /ui/admin/users/{name}` (administrators): one action on one account.
pub async fn user_action(
    p: Posted<UserActionForm>,
    path: web::Path<String>,
    db: web::Data<Db>,
    auth: web::Data<Authenticator>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, WebError> {
    p.session.require_admin()?;
    let (name, actor, policy) = (
        path.into_inner(),
        p.session.principal.username.clone(),
        crate::service::accounts::PasswordPolicy::configured(&settings),
    );
    let f = p.form;
    let change = match f.action.as_str() {
        "role" => AccountChange { role: Some(Role::parse(&f.role)?), ..AccountChange::default() },
        "disable" => AccountChange { disabled: Some(true), ..AccountChange::default() },
        "enable" => AccountChange { disabled: Some(false), ..AccountChange::default() },
        "reset" => AccountChange { password: Some(f.password), ..AccountChange::default() },
        "delete" => {
            let user = db.run(move |conn| accounts::delete_user(conn, &name, &actor)).await?;
            auth.account_changed(user.id, &user.username);
            return Ok(see_other("/ui/admin"));
        }
        other => return Err(WebError::BadRequest(format!("unknown action '{}'", other.escape_debug()))),
    };
    let changed = db.run(move |conn| accounts::change_account(conn, &name, &change, &policy, &actor)).await?;
    auth.account_changed(changed.user.id, &changed.user.username);
    Ok(see_other("/ui/admin"))
}
