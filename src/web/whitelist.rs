//! The whitelist page: the rules (with a preview of what a rule would match), added and removed.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{NoFields, Posted};
use super::{Layout, Session, WebError, page, see_other};
use crate::db::{Db, whitelist as rules};
use crate::extract::ObservableKind;
use crate::service::ServiceContext;
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
    ctx: web::Data<ServiceContext>,
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
