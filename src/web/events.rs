//! Events: the list, one event (metadata, recipients and reporters with the count, indicators
//! with a bulk status change, attachments with hashes, related events, the raw emails as text and
//! as downloads, the STIX view).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::Value;

use super::session::Posted;
use super::{Layout, Session, WebError, json_field, page, see_other, utc_time};
use crate::db::{Db, events as store, imports};
use crate::service::ServiceContext;
use crate::service::events;
use crate::service::indicators::{self, Patch, Status};

pub struct EventLine {
    id: i64,
    title: String,
    event_type: String,
    tlp: String,
    recipients: i64,
    created: String,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    l: Layout,
    events: Vec<EventLine>,
    next: Option<i64>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    before: Option<i64>,
}

pub async fn list(s: Session, q: web::Query<ListQuery>, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    let before = q.into_inner().before;
    let (rows, counts) = db
        .run(move |conn| {
            let rows = store::list(conn, None, before, 50)?;
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            Ok::<_, crate::db::DbError>((rows, store::recipient_counts(conn, &ids)?))
        })
        .await?;
    let next = (rows.len() == 50).then(|| rows.last().map(|r| r.id)).flatten();
    let events = rows
        .iter()
        .map(|e| EventLine {
            id: e.id,
            title: e.title.clone(),
            event_type: e.event_type.clone(),
            tlp: e.tlp.level().to_string(),
            recipients: counts.iter().find(|(id, _)| *id == e.id).map_or(0, |(_, n)| *n),
            created: utc_time(e.created_at),
        })
        .collect();
    page(&EventsPage { l: Layout::new(&s, "Events"), events, next })
}

pub struct Person {
    address: String,
    role: String,
}

pub struct IndicatorLine {
    id: i64,
    kind: String,
    value: String,
    status: String,
    score: i32,
    others: Vec<i64>,
}

pub struct Attachment {
    import_id: i64,
    item_id: i64,
    name: String,
    detail: String,
}

pub struct Report {
    id: i64,
    subject: String,
    reporter: String,
    raw: String,
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    l: Layout,
    id: i64,
    title: String,
    event_type: String,
    tlp: String,
    tags: String,
    description: String,
    adversary: String,
    happened: String,
    created: String,
    stix_id: String,
    recipients: Vec<Person>,
    recipient_count: usize,
    reporter_count: usize,
    indicators: Vec<IndicatorLine>,
    attachments: Vec<Attachment>,
    related: Vec<(i64, String)>,
    reports: Vec<Report>,
    statuses: Vec<&'static str>,
}

pub async fn show(s: Session, path: web::Path<i64>, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    let id = path.into_inner();
    // The reports' raw emails are read: a connection of its own on PostgreSQL (`Db::conn_sized`).
    let (v, items, raws, related) = db
        .run_sized(usize::MAX, move |conn| {
            let v = match events::get(conn, id) {
                Ok(v) => v,
                Err(crate::service::ServiceError::Db(e)) => return Err(e),
                Err(_) => return Err(crate::db::DbError::NotFound),
            };
            let mut items = Vec::new();
            let mut raws = Vec::new();
            for r in &v.reports {
                items.extend(
                    imports::items(conn, r.id)?
                        .into_iter()
                        .filter(|i| i.section == crate::service::imports::ItemSection::Attachment),
                );
                raws.push(imports::raw(conn, r.id)?.unwrap_or_default());
            }
            let mut related = Vec::new();
            let mut others: Vec<i64> = v.commonalities.values().flatten().copied().collect();
            others.sort_unstable();
            others.dedup();
            for o in others {
                if let Some(e) = store::get(conn, o)? {
                    related.push((e.id, e.title));
                }
            }
            Ok((v, items, raws, related))
        })
        .await
        .map_err(|e| match e {
            crate::db::DbError::NotFound => WebError::NotFound(format!("event {id} not found")),
            other => other.into(),
        })?;
    let e = &v.row;
    let tags: Vec<String> = e.tags.0.clone();
    let attachments = items.iter().map(attachment_line).collect();
    let reports = v
        .reports
        .iter()
        .zip(raws)
        .map(|(r, raw)| Report {
            id: r.id,
            subject: r.subject.clone().unwrap_or_default(),
            reporter: r.reporter.clone().unwrap_or_default(),
            raw: String::from_utf8_lossy(&raw).into_owned(),
        })
        .collect();
    page(&EventPage {
        l: Layout::new(&s, e.title.clone()),
        id,
        title: e.title.clone(),
        event_type: e.event_type.clone(),
        tlp: e.tlp.level().to_string(),
        tags: tags.join(", "),
        description: e.description.clone().unwrap_or_default(),
        adversary: e.adversary.clone().unwrap_or_default(),
        happened: e.happened_at.map(utc_time).unwrap_or_default(),
        created: utc_time(e.created_at),
        stix_id: e.stix_id.clone(),
        // As the REST API counts: a reporter got the phish too.
        recipient_count: v.recipients.len(),
        reporter_count: v.recipients.iter().filter(|r| r.role == "reporter").count(),
        recipients: v
            .recipients
            .iter()
            .map(|r| Person { address: r.address.clone(), role: r.role.clone() })
            .collect(),
        indicators: v
            .indicators
            .iter()
            .map(|i| IndicatorLine {
                id: i.id,
                kind: i.kind.to_string(),
                value: i.value.clone(),
                status: i.status.to_string(),
                score: i.score,
                others: v.commonalities.get(&i.id).cloned().unwrap_or_default(),
            })
            .collect(),
        attachments,
        related,
        reports,
        statuses: vec!["active", "review", "indirect", "expired"],
    })
}

/// A report's attachment with its type, size and hashes.
fn attachment_line(i: &imports::ItemRow) -> Attachment {
    let d: Value = serde_json::from_str(&i.details).unwrap_or(Value::Null);
    let h = json_field(&d, "hashes");
    Attachment {
        import_id: i.import_id,
        item_id: i.id,
        name: i.value.clone(),
        detail: format!(
            "{} · {} bytes · MD5 {} · SHA-1 {} · SHA-256 {}",
            json_field(&d, "mime_type").as_str().unwrap_or("?"),
            json_field(&d, "size").as_u64().unwrap_or(0),
            h["md5"].as_str().unwrap_or(""),
            h["sha1"].as_str().unwrap_or(""),
            h["sha256"].as_str().unwrap_or("")
        ),
    }
}

#[derive(Template)]
#[template(path = "stix.html")]
struct StixPage {
    l: Layout,
    id: i64,
    json: String,
}

/// `GET /ui/events/{id}/stix`: the event's STIX bundle, pretty-printed as text.
pub async fn stix(
    s: Session,
    path: web::Path<i64>,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, WebError> {
    let id = path.into_inner();
    let ctx = ctx.into_inner();
    let bundle = db.run(move |conn| events::grouping_bundle(conn, &ctx, id)).await?;
    let json = serde_json::to_string_pretty(&bundle).map_err(|e| WebError::Internal(e.to_string()))?;
    page(&StixPage { l: Layout::new(&s, format!("Event {id} as STIX")), id, json })
}

/// `POST /ui/events/{id}/meta`: title, type, TLP, tags, description, adversary (empty: unchanged).
pub async fn update_meta(
    p: Posted<super::drafts::MetaForm>,
    path: web::Path<i64>,
    db: web::Data<Db>,
) -> Result<HttpResponse, WebError> {
    p.session.require_analyst()?;
    let id = path.into_inner();
    let meta = p.form.meta();
    db.run(move |conn| events::update(conn, id, meta)).await?;
    Ok(see_other(format!("/ui/events/{id}")))
}

/// `POST /ui/events/{id}/status`: `status` and one `ids` field per selected indicator.
pub async fn bulk_status(
    req: HttpRequest,
    p: Posted<Vec<(String, String)>>,
    path: web::Path<i64>,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, WebError> {
    let _ = req;
    p.session.require_analyst()?;
    let id = path.into_inner();
    let status = p.form.iter().find(|(k, _)| k == "status").map(|(_, v)| v.clone()).unwrap_or_default();
    let status = Status::parse(&status)?;
    let ids: Vec<i64> =
        p.form.iter().filter(|(k, _)| k == "ids").filter_map(|(_, v)| v.parse().ok()).collect();
    if ids.is_empty() {
        return Err(WebError::BadRequest("select at least one indicator".into()));
    }
    let actor = p.session.principal.username.clone();
    let ctx = ctx.into_inner();
    db.run(move |conn| {
        for i in ids {
            let patch = Patch {
                status: Some(status),
                reason: Some(format!("bulk change on event {id}")),
                ..Patch::default()
            };
            indicators::patch(conn, &ctx, i, &patch, &actor)?;
        }
        Ok::<(), crate::service::ServiceError>(())
    })
    .await?;
    Ok(see_other(format!("/ui/events/{id}")))
}
