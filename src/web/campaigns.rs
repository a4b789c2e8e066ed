//! Campaigns (list, one campaign with its drafts, events and the keys that link them, bulk
//! actions), reports per reporter, and the administrators' page of answers to reporters
//! (templates per verdict, the outbox).

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{NoFields, Posted};
use super::{Layout, Session, WebError, page, see_other, utc_time};
use crate::extract::ObservableKind;
use crate::service::Db;
use crate::service::ServiceContext;
use crate::service::campaigns::{self, BulkOutcome};
use crate::service::imports::EventMeta;
use crate::service::indicators::Status;
use crate::service::notify::{self, FinalVerdict};
use crate::service::reporters;

pub struct CampaignLine {
    id: i64,
    title: String,
    drafts: i64,
    open: i64,
    first_seen: String,
    last_seen: String,
}

#[derive(Template)]
#[template(path = "campaigns.html")]
struct CampaignsPage {
    l: Layout,
    campaigns: Vec<CampaignLine>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    before: Option<String>,
}

pub async fn list(s: Session, q: web::Query<ListQuery>, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    let before = q
        .into_inner()
        .before
        .and_then(|b| b.split_once(':').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?))));
    let rows = db.run(move |conn| campaigns::list(conn, 2, before, 100)).await?;
    let next = (rows.len() == 100)
        .then(|| rows.last().map(|r| format!("{}:{}", r.row.last_seen, r.row.id)))
        .flatten();
    page(&CampaignsPage {
        l: Layout::new(&s, "Campaigns"),
        campaigns: rows
            .into_iter()
            .map(|r| CampaignLine {
                id: r.row.id,
                title: r.row.title,
                drafts: r.drafts,
                open: r.open,
                first_seen: utc_time(r.row.first_seen),
                last_seen: utc_time(r.row.last_seen),
            })
            .collect(),
        next,
    })
}

pub struct MemberLine {
    id: i64,
    state: String,
    subject: String,
    sender: String,
    reporter: String,
    event_id: Option<i64>,
    created: String,
    /// "domain evil.example (with #12)", …
    reasons: Vec<String>,
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct CampaignPage {
    l: Layout,
    id: i64,
    title: String,
    first_seen: String,
    last_seen: String,
    members: Vec<MemberLine>,
    /// (kind, value, drafts)
    shared: Vec<(String, String, String)>,
    events: Vec<i64>,
    open: usize,
    can_change: bool,
}

pub async fn show(s: Session, path: web::Path<i64>, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    let id = path.into_inner();
    let v = db.run(move |conn| campaigns::get(conn, id)).await?;
    if v.row.id != id {
        // A campaign merged into another: its page is the other's.
        return Ok(see_other(format!("/ui/campaigns/{}", v.row.id)));
    }
    let members: Vec<MemberLine> = v
        .members
        .iter()
        .map(|m| MemberLine {
            id: m.import.id,
            state: m.import.state.to_string(),
            subject: m.import.subject.clone().unwrap_or_default(),
            sender: m.import.sender.clone().unwrap_or_default(),
            reporter: m.import.reporter.clone().unwrap_or_default(),
            event_id: m.import.event_id,
            created: utc_time(m.import.created_at),
            reasons: m
                .linked_by
                .iter()
                .map(|l| format!("{} {} (with #{})", l.kind, l.value, l.with))
                .collect(),
        })
        .collect();
    let open = members.iter().filter(|m| m.state == "draft").count();
    page(&CampaignPage {
        can_change: s.can_change(),
        l: Layout::new(&s, format!("Campaign {}", v.row.id)),
        id: v.row.id,
        title: v.row.title.clone(),
        first_seen: utc_time(v.row.first_seen),
        last_seen: utc_time(v.row.last_seen),
        shared: v
            .shared
            .iter()
            .map(|(k, val, ids)| {
                (k.clone(), val.clone(), ids.iter().map(|i| format!("#{i}")).collect::<Vec<_>>().join(" "))
            })
            .collect(),
        events: v.events,
        members,
        open,
    })
}

fn after_bulk(id: i64, out: &BulkOutcome) -> Result<HttpResponse, WebError> {
    if let Some((draft, why)) = out.failed.first()
        && out.done.is_empty()
    {
        return Err(WebError::BadRequest(format!("#{draft}: {why}")));
    }
    Ok(see_other(match out.event_id {
        Some(e) => format!("/ui/events/{e}"),
        None => format!("/ui/campaigns/{id}"),
    }))
}

pub async fn commit(
    p: Posted<NoFields>,
    path: web::Path<i64>,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, WebError> {
    p.session.require_analyst()?;
    let id = path.into_inner();
    let (actor, ctx) = (p.session.principal.username.clone(), ctx.into_inner());
    let out = db.run(move |conn| campaigns::commit_all(conn, &ctx, id, &actor, EventMeta::default())).await?;
    after_bulk(id, &out)
}

pub async fn abandon(
    p: Posted<NoFields>,
    path: web::Path<i64>,
    db: web::Data<Db>,
) -> Result<HttpResponse, WebError> {
    p.session.require_analyst()?;
    let id = path.into_inner();
    let actor = p.session.principal.username.clone();
    let out = db.run(move |conn| campaigns::abandon_all(conn, id, &actor)).await?;
    after_bulk(id, &out)
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
    #[serde(default, rename = "type")]
    kind: String,
}

pub async fn set_status(
    p: Posted<StatusForm>,
    path: web::Path<i64>,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, WebError> {
    p.session.require_analyst()?;
    let id = path.into_inner();
    let status = Status::parse(&p.form.status)?;
    let kind = match p.form.kind.as_str() {
        "" | "any" => None,
        k => Some(
            ObservableKind::from_name(k)
                .ok_or_else(|| WebError::BadRequest(format!("unknown type '{k}'")))?,
        ),
    };
    let (actor, ctx) = (p.session.principal.username.clone(), ctx.into_inner());
    let out =
        db.run(move |conn| campaigns::set_indicator_status(conn, &ctx, id, status, kind, &actor)).await?;
    if let Some((i, why)) = out.failed.first()
        && out.done.is_empty()
    {
        return Err(WebError::BadRequest(format!("indicator {i}: {why}")));
    }
    Ok(see_other(format!("/ui/campaigns/{id}")))
}

pub struct ReporterLine {
    reporter: String,
    reports: i64,
    phish: i64,
    open: i64,
    first: String,
    last: String,
}

#[derive(Template)]
#[template(path = "reporters.html")]
struct ReportersPage {
    l: Layout,
    reporters: Vec<ReporterLine>,
}

pub async fn reporters(s: Session, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    let rows = db.run(|conn| reporters::counts(conn, 1000)).await?;
    page(&ReportersPage {
        l: Layout::new(&s, "Reporters"),
        reporters: rows
            .into_iter()
            .map(|r| ReporterLine {
                reporter: r.reporter,
                reports: r.reports,
                phish: r.phish,
                open: r.open,
                first: utc_time(r.first_at),
                last: utc_time(r.last_at),
            })
            .collect(),
    })
}

pub struct TemplateLine {
    verdict: &'static str,
    enabled: bool,
    subject: String,
    body: String,
    updated: String,
}

pub struct OutboxLine {
    id: i64,
    import_id: Option<i64>,
    verdict: String,
    recipient: String,
    subject: String,
    state: String,
    attempts: i32,
    last_error: String,
    created: String,
}

#[derive(Template)]
#[template(path = "notify.html")]
struct NotifyPage {
    l: Layout,
    sending: bool,
    placeholders: String,
    templates: Vec<TemplateLine>,
    outbox: Vec<OutboxLine>,
}

pub async fn notify_page(
    s: Session,
    db: web::Data<Db>,
    settings: web::Data<crate::settings::Settings>,
) -> Result<HttpResponse, WebError> {
    s.require_admin()?;
    let (templates, outbox) = db
        .run(|conn| notify::templates(conn).and_then(|t| Ok((t, notify::outbox(conn, None, 200)?))))
        .await?;
    page(&NotifyPage {
        l: Layout::new(&s, "Answers to reporters"),
        sending: settings.notify.enabled,
        placeholders: notify::PLACEHOLDERS
            .iter()
            .map(|p| format!("{{{{{p}}}}}"))
            .collect::<Vec<_>>()
            .join(" "),
        templates: templates
            .into_iter()
            .map(|t| TemplateLine {
                verdict: t.verdict.as_str(),
                enabled: t.enabled,
                subject: t.subject,
                body: t.body,
                updated: t
                    .updated_at
                    .map(utc_time)
                    .map(|w| format!("{w} by {}", t.updated_by.unwrap_or_default()))
                    .unwrap_or_default(),
            })
            .collect(),
        outbox: outbox
            .into_iter()
            .map(|m| OutboxLine {
                id: m.id,
                import_id: m.import_id,
                verdict: m.verdict,
                recipient: m.recipient,
                subject: m.subject,
                state: m.state,
                attempts: m.attempts,
                last_error: m.last_error.unwrap_or_default(),
                created: utc_time(m.created_at),
            })
            .collect(),
    })
}

#[derive(Deserialize)]
pub struct TemplateForm {
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
}

pub async fn save_template(
    p: Posted<TemplateForm>,
    path: web::Path<String>,
    db: web::Data<Db>,
) -> Result<HttpResponse, WebError> {
    p.session.require_admin()?;
    let verdict = FinalVerdict::parse(&path.into_inner())?;
    let actor = p.session.principal.username.clone();
    let Posted { form, .. } = p;
    let enabled = form.enabled.is_some();
    db.run(move |conn| notify::put_template(conn, verdict, enabled, &form.subject, &form.body, &actor))
        .await?;
    Ok(see_other("/ui/notify"))
}

pub async fn retry(
    p: Posted<NoFields>,
    path: web::Path<i64>,
    db: web::Data<Db>,
) -> Result<HttpResponse, WebError> {
    p.session.require_admin()?;
    let id = path.into_inner();
    let actor = p.session.principal.username.clone();
    db.run(move |conn| notify::retry(conn, id, &actor)).await?;
    Ok(see_other("/ui/notify"))
}
