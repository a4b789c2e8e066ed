//! The other lists: whitelist rules (with a preview of what a rule would match), exports (their
//! feed URLs with a copy button), TAXII collections (their URLs), connectors (health), users and
//! tokens (administrators).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{NoFields, Posted};
use super::{Layout, Session, WebError, page, see_other, when};
use crate::db::{Db, collections, connectors, tokens, users, whitelist as rules};
use crate::extract::ObservableKind;
use crate::service::indicators::TriageContext;
use crate::service::whitelist::{self, Rule, RuleSpec};

pub struct RuleLine {
    id: i64,
    match_kind: String,
    pattern: String,
    applies_to: String,
    reason: String,
    author: String,
    builtin: bool,
}

#[derive(Template)]
#[template(path = "whitelist.html")]
struct WhitelistPage {
    l: Layout,
    rules: Vec<RuleLine>,
    form_kind: String,
    form_pattern: String,
    form_applies: String,
    form_reason: String,
    /// A preview was asked for: what the rule would whitelist, of how many.
    preview: Option<Preview>,
}

/// A rule's preview: (id, type, value) of the first matches, and how many match.
type Preview = (Vec<(i64, String, String)>, usize);

#[derive(Deserialize, Default)]
pub struct RuleForm {
    #[serde(default)]
    match_kind: String,
    #[serde(default)]
    pattern: String,
    #[serde(default)]
    applies_to: String,
    #[serde(default)]
    reason: String,
    /// `preview` or `save`.
    #[serde(default)]
    action: String,
}

impl RuleForm {
    fn spec(&self) -> Result<RuleSpec, WebError> {
        let applies_to = match self.applies_to.as_str() {
            "" | "any" => None,
            k => Some(
                ObservableKind::from_name(k)
                    .ok_or_else(|| WebError::BadRequest(format!("unknown type '{k}'")))?,
            ),
        };
        Ok(RuleSpec {
            match_kind: if self.match_kind.is_empty() { "exact".into() } else { self.match_kind.clone() },
            pattern: self.pattern.clone(),
            applies_to,
            reason: self.reason.clone(),
        })
    }
}

async fn whitelist_page(
    s: &Session,
    db: &Db,
    form: RuleForm,
    preview: Option<Preview>,
) -> Result<HttpResponse, WebError> {
    let rows = db.run(rules::list).await?;
    page(&WhitelistPage {
        l: Layout::new(s, "Whitelist"),
        rules: rows
            .iter()
            .map(|r| RuleLine {
                id: r.id,
                match_kind: r.match_kind.clone(),
                pattern: r.pattern.clone(),
                applies_to: r.applies_to.clone(),
                reason: r.reason.clone(),
                author: r.author.clone(),
                builtin: r.builtin,
            })
            .collect(),
        form_kind: form.match_kind,
        form_pattern: form.pattern,
        form_applies: form.applies_to,
        form_reason: form.reason,
        preview,
    })
}

pub async fn whitelist(s: Session, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    whitelist_page(&s, &db, RuleForm::default(), None).await
}

/// `POST /ui/whitelist`: `action=preview` shows what the rule would match; `save` stores it.
pub async fn whitelist_create(
    p: Posted<RuleForm>,
    db: web::Data<Db>,
    ctx: web::Data<TriageContext>,
) -> Result<HttpResponse, WebError> {
    p.session.require_analyst()?;
    let spec = p.form.spec()?;
    if p.form.action == "preview" {
        let rule = Rule::compile(0, &spec)?;
        let (hits, total) = db.run(move |conn| whitelist::preview(conn, &rule, 100)).await?;
        let hits = hits.iter().map(|h| (h.id, h.kind.to_string(), h.value.clone())).collect();
        return whitelist_page(&p.session, &db, p.form, Some((hits, total))).await;
    }
    let author = p.session.principal.username.clone();
    let ctx = ctx.into_inner();
    db.run(move |conn| whitelist::create(conn, &ctx, &spec, &author)).await?;
    Ok(see_other("/ui/whitelist"))
}

pub async fn whitelist_delete(
    p: Posted<NoFields>,
    path: web::Path<i64>,
    db: web::Data<Db>,
) -> Result<HttpResponse, WebError> {
    p.session.require_analyst()?;
    let id = path.into_inner();
    db.run(move |conn| whitelist::delete(conn, id)).await?;
    Ok(see_other("/ui/whitelist"))
}

fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

#[derive(Template)]
#[template(path = "exports.html")]
struct ExportsPage {
    l: Layout,
    exports: Vec<(String, String, String, String)>,
}

pub async fn exports(s: Session, req: HttpRequest, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    let list = db.run(crate::service::exports::list).await?;
    let base = base_url(&req);
    let exports = list
        .iter()
        .map(|e| {
            (
                e.spec.name.clone(),
                e.spec.format.as_str().to_string(),
                format!("{base}/api/v1/exports/{}/feed", e.spec.name),
                format!("{} · {}", e.created_by, when(e.created_at)),
            )
        })
        .collect();
    page(&ExportsPage { l: Layout::new(&s, "Exports"), exports })
}

pub struct CollectionLine {
    title: String,
    id: String,
    kind: String,
    url: String,
    public_read: bool,
    intake: bool,
    /// Its TLP ceiling, upper case (`AMBER+STRICT`).
    max_tlp: String,
    share_target: bool,
    last_added: String,
}

#[derive(Template)]
#[template(path = "collections.html")]
struct CollectionsPage {
    l: Layout,
    discovery: String,
    collections: Vec<CollectionLine>,
}

pub async fn collections(s: Session, req: HttpRequest, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    let rows = db.run(collections::list).await?;
    let base = base_url(&req);
    page(&CollectionsPage {
        l: Layout::new(&s, "TAXII collections"),
        discovery: format!("{base}/taxii2/"),
        collections: rows
            .iter()
            .map(|c| CollectionLine {
                title: c.title.clone(),
                id: c.id.clone(),
                kind: c.kind.clone(),
                url: format!("{base}/taxii2/{}/collections/{}/", c.api_root, c.id),
                public_read: c.public_read,
                intake: c.intake,
                max_tlp: crate::service::tlp::ceiling(c).level().to_uppercase(),
                share_target: c.share_target,
                last_added: if c.last_date_added > 0 { when(c.last_date_added) } else { "never".into() },
            })
            .collect(),
    })
}

pub struct ConnectorLine {
    name: String,
    protocol: String,
    enabled: bool,
    status: String,
    last_success: String,
    last_error: String,
    failures: i64,
    taken: i64,
    failed: i64,
}

#[derive(Template)]
#[template(path = "connectors.html")]
struct ConnectorsPage {
    l: Layout,
    connectors: Vec<ConnectorLine>,
    /// Administrators see the last error of each connector.
    details: bool,
}

/// Health for everyone; the last error (it may name hosts, accounts and server replies) only for
/// administrators.
pub async fn connectors(s: Session, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    let rows = db.run(connectors::list).await?;
    let admin = s.principal.is_admin();
    page(&ConnectorsPage {
        l: Layout::new(&s, "Connectors"),
        details: admin,
        connectors: rows
            .iter()
            .map(|c| ConnectorLine {
                name: c.name.clone(),
                protocol: c.protocol.clone(),
                enabled: c.enabled,
                status: c.status.clone(),
                last_success: c.last_success_at.map(when).unwrap_or_else(|| "never".into()),
                last_error: c
                    .last_error
                    .clone()
                    .filter(|_| admin)
                    .map(|e| format!("{e} ({})", c.last_error_at.map(when).unwrap_or_default()))
                    .unwrap_or_default(),
                failures: c.consecutive_failures,
                taken: c.messages_taken,
                failed: c.messages_failed,
            })
            .collect(),
    })
}

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
                created: when(t.created_at),
                last_used: t.last_used_at.map(when).unwrap_or_else(|| "never".into()),
                expires: t.expires_at.map(when).unwrap_or_else(|| "never".into()),
                revoked: t.revoked_at.is_some(),
            })
            .collect(),
        users: us
            .iter()
            .map(|u| UserLine {
                name: u.username.clone(),
                role: u.role.clone(),
                disabled: u.disabled,
                created: when(u.created_at),
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
    let policy = settings.password_policy();
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
