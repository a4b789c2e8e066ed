//! Import (paste box, drop zone, file picker, event metadata) and QA of drafts: the extracted
//! attributes, attachments and indicators with keep/prune, add, whitelist; the decoded source
//! beside them with every value highlighted; an HTML body only as a sandboxed `srcdoc` preview;
//! create the event or abandon the draft.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::Value;

use super::highlight::{self, Span};
use super::session::{NoFields, Posted};
use super::{Layout, Session, WebError, html, json_field, page, see_other, utc_time};
use crate::db::imports::{self as store, ItemRow};
use crate::db::{Db, DbError, jobs};
use crate::extract;
use crate::service::ServiceContext;
use crate::service::imports::pipeline::{Importer, JobProgress, Made, Then};
use crate::service::imports::{self, EventMeta, ItemRule, ItemSection};
use crate::service::leases::Leases;

/// Event metadata fields of the import and commit forms; empty means "not given".
#[derive(Debug, Default, Deserialize)]
pub struct MetaForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    tlp: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    adversary: String,
}

fn given(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

impl MetaForm {
    fn set(&mut self, name: &str, value: String) {
        match name {
            "title" => self.title = value,
            "event_type" => self.event_type = value,
            "tlp" => self.tlp = value,
            "tags" => self.tags = value,
            "description" => self.description = value,
            "adversary" => self.adversary = value,
            _ => {}
        }
    }

    pub fn meta(&self) -> EventMeta {
        let tags: Vec<String> =
            self.tags.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect();
        EventMeta {
            title: given(&self.title),
            event_type: given(&self.event_type),
            happened_at: None,
            description: given(&self.description),
            tlp: given(&self.tlp),
            tags: (!tags.is_empty()).then_some(tags),
            adversary: given(&self.adversary),
        }
    }
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    l: Layout,
}

/// `GET /ui/import`
pub async fn import_form(s: Session) -> Result<HttpResponse, WebError> {
    s.require_analyst()?;
    page(&ImportPage { l: Layout::new(&s, "Import") })
}

#[derive(Template)]
#[template(path = "import_result.html")]
struct ImportResult {
    l: Layout,
    imported: Vec<Made>,
    failed: Vec<(String, String)>,
}

/// `POST /ui/import` (multipart: `csrf`, `raw` pasted text, `files`, `source` and the metadata).
/// One draft → its QA page; several (an mbox, many files) → the list of what became of each.
pub async fn import(
    s: Session,
    req: HttpRequest,
    payload: web::Payload,
    importer: web::Data<Importer>,
    leases: web::Data<Leases>,
) -> Result<HttpResponse, WebError> {
    s.require_analyst()?;
    let mut admission = importer.admit()?;
    let limit = importer.ctx().extract.max_message_bytes.saturating_mul(4);
    let mut form = actix_multipart::Multipart::new(req.headers(), payload);
    let mut csrf = None;
    let mut meta = MetaForm::default();
    let mut source = String::new();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut total = 0usize;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| WebError::BadRequest(format!("the upload: {e}")))?;
        let name = field.name().unwrap_or("").to_string();
        let filename = field.content_disposition().and_then(|d| d.get_filename().map(str::to_string));
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| WebError::BadRequest(format!("the upload: {e}")))?;
            total += chunk.len();
            if total > limit {
                return Err(WebError::PayloadTooLarge(format!("the upload is larger than {limit} bytes")));
            }
            admission.cover(total as u64)?;
            bytes.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "files" if filename.as_deref().is_some_and(|f| !f.is_empty()) || !bytes.is_empty() => {
                files.push((filename.unwrap_or_else(|| format!("file {}", files.len() + 1)), bytes));
            }
            "raw" if !bytes.iter().all(u8::is_ascii_whitespace) => {
                files.insert(0, ("pasted text".into(), bytes))
            }
            "csrf" => csrf = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "source" => source = String::from_utf8_lossy(&bytes).trim().to_string(),
            other => meta.set(other, String::from_utf8_lossy(&bytes).into_owned()),
        }
    }
    s.verify(&req, csrf.as_deref())?;
    if files.is_empty() {
        return Err(WebError::BadRequest("paste an email or choose a file".into()));
    }
    let meta = meta.meta().validated()?;
    let source = if source.is_empty() { "ui".to_string() } else { source };
    let actor = s.principal.username.clone();
    let messages = importer.requests(files, source, None, Some(actor), meta).await?;
    if messages.len() > BACKGROUND_AT {
        // Long work: stored as a job whose progress page polls it; the import goes on in the
        // background, so the server and the page stay responsive. The job keeps the upload's
        // place and bytes in the queue until it ends: its messages are in memory till then.
        let job_id =
            importer.start_job(&leases, s.principal.user_id, messages, Then::default(), admission).await?;
        return Ok(see_other(format!("/ui/jobs/{job_id}")));
    }
    let batch = importer.import_all(messages, &Then::default()).await?;
    drop(admission);
    let imported: Vec<Made> =
        batch.imported.iter().map(|(_, o)| Made::of(&o.imported.row, o.imported.created)).collect();
    let failed = batch.failed;
    if let ([one], true) = (imported.as_slice(), failed.is_empty()) {
        return Ok(see_other(format!("/ui/drafts/{}", one.id)));
    }
    let status = if imported.is_empty() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(html(status, ImportResult { l: Layout::new(&s, "Import result"), imported, failed }.render()?))
}

/// More messages than this in one upload are imported in the background.
const BACKGROUND_AT: usize = 10;

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    l: Layout,
    id: i64,
    total: i64,
    done: i64,
    failed: i64,
    finished: bool,
    result: JobProgress,
}

async fn job_of(s: &Session, db: &Db, id: i64) -> Result<jobs::JobRow, WebError> {
    let job = db.run(move |conn| jobs::get(conn, id)).await?;
    job.filter(|j| j.user_id == s.principal.user_id || s.principal.is_admin())
        .ok_or_else(|| WebError::NotFound(format!("job {id} not found")))
}

/// `GET /ui/jobs/{id}`: the progress of a background import (polled by the page's script).
pub async fn job(s: Session, path: web::Path<i64>, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    let j = job_of(&s, &db, path.into_inner()).await?;
    let result: JobProgress = crate::db::types::json_column("ui_jobs.result", &j.result)?;
    page(&JobPage {
        l: Layout::new(&s, format!("Import job {}", j.id)),
        id: j.id,
        total: j.total,
        done: j.done,
        failed: j.failed,
        finished: j.finished_at.is_some(),
        result,
    })
}

/// `GET /ui/jobs/{id}.json`
pub async fn job_json(s: Session, path: web::Path<i64>, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    let j = job_of(&s, &db, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "id": j.id, "total": j.total, "done": j.done, "failed": j.failed, "finished": j.finished_at.is_some(),
    })))
}

pub struct DraftLine {
    id: i64,
    state: String,
    subject: String,
    sender: String,
    reporter: String,
    source: String,
    created: String,
    event_id: Option<i64>,
}

#[derive(Template)]
#[template(path = "drafts.html")]
struct DraftsPage {
    l: Layout,
    state: String,
    drafts: Vec<DraftLine>,
}

#[derive(Deserialize)]
pub struct DraftsQuery {
    state: Option<String>,
}

/// `GET /ui/drafts?state=draft|committed|abandoned|failed`
pub async fn list(
    s: Session,
    q: web::Query<DraftsQuery>,
    db: web::Data<Db>,
) -> Result<HttpResponse, WebError> {
    let state = q.into_inner().state.filter(|s| !s.is_empty()).unwrap_or_else(|| "draft".into());
    if !matches!(state.as_str(), "draft" | "committed" | "abandoned" | "failed" | "all") {
        return Err(WebError::BadRequest(format!("unknown state '{state}'")));
    }
    let filter = (state != "all").then(|| state.clone());
    let rows = db.run(move |conn| store::list(conn, filter.as_deref(), None, 200)).await?;
    let drafts = rows
        .iter()
        .map(|r| DraftLine {
            id: r.id,
            state: r.state.to_string(),
            subject: r.subject.clone().unwrap_or_default(),
            sender: r.sender.clone().unwrap_or_default(),
            reporter: r.reporter.clone().unwrap_or_default(),
            source: r.source.clone(),
            created: utc_time(r.created_at),
            event_id: r.event_id,
        })
        .collect();
    page(&DraftsPage { l: Layout::new(&s, "Drafts"), state, drafts })
}

pub struct ItemView {
    id: i64,
    kind: String,
    value: String,
    state: String,
    reason: String,
    origin: String,
    /// A short description (attachment size, type and hashes; occurrences).
    detail: String,
    /// A highlight exists for it in the source.
    located: bool,
}

pub struct TextView {
    label: String,
    html: String,
    /// The decoded HTML body, for the sandboxed `srcdoc` preview.
    preview: Option<String>,
}

#[derive(Template)]
#[template(path = "draft.html")]
struct DraftPage {
    l: Layout,
    id: i64,
    state: String,
    subject: String,
    sender: String,
    reporter: String,
    input_kind: String,
    size: i64,
    sha256: String,
    event_id: Option<i64>,
    meta_title: String,
    meta_type: String,
    meta_tlp: String,
    meta_tags: String,
    meta_description: String,
    attributes: Vec<ItemView>,
    attachments: Vec<ItemView>,
    indicators: Vec<ItemView>,
    texts: Vec<TextView>,
    warnings: Vec<String>,
    kinds: Vec<&'static str>,
    verdict: Option<super::verdicts::VerdictView>,
}

/// How an item looks: private and reserved addresses apart from other whitelisted values.
fn item_class(state: &str, reason: Option<&str>) -> &'static str {
    match state {
        "whitelisted" if reason == Some("non_public_ip") => "private",
        "whitelisted" => "whitelisted",
        "pruned" => "pruned",
        _ => "proposed",
    }
}

fn detail_of(i: &ItemRow, d: &Value) -> String {
    match i.section.as_str() {
        "attachment" => {
            let h = json_field(d, "hashes");
            format!(
                "{} · {} bytes · MD5 {} · SHA-1 {} · SHA-256 {}",
                json_field(d, "mime_type").as_str().unwrap_or("?"),
                json_field(d, "size").as_u64().unwrap_or(0),
                h["md5"].as_str().unwrap_or(""),
                h["sha1"].as_str().unwrap_or(""),
                h["sha256"].as_str().unwrap_or("")
            )
        }
        "indicator" => {
            let mut parts = Vec::new();
            if let Some(n) = json_field(d, "occurrences").as_u64() {
                parts.push(format!("seen {n}×"));
            }
            if let Some(u) = json_field(d, "unicode").as_str().filter(|u| *u != i.value) {
                parts.push(format!("Unicode {u}"));
            }
            if json_field(d, "defanged").as_bool() == Some(true) {
                parts.push("defanged in the source".into());
            }
            if let Some(scope) = json_field(d, "ip_scope").as_str().filter(|s| *s != "public") {
                parts.push(format!("{scope} address"));
            }
            if let Some(a) = json_field(d, "attachment").as_str() {
                parts.push(format!("hash of attachment {a}"));
            }
            parts.join(" · ")
        }
        _ => String::new(),
    }
}

fn text_label(t: &Value) -> String {
    let loc = json_field(t, "location");
    match json_field(loc, "kind").as_str() {
        Some("header") => format!("header {}", json_field(loc, "name").as_str().unwrap_or("")),
        Some("body") => format!(
            "body {} ({})",
            json_field(loc, "part").as_str().unwrap_or(""),
            json_field(loc, "content_type").as_str().unwrap_or("")
        ),
        Some("attachment") => {
            format!(
                "attachment {} ({})",
                json_field(loc, "name").as_str().unwrap_or(""),
                json_field(loc, "content_type").as_str().unwrap_or("")
            )
        }
        Some("decoded") => {
            format!("decoded from a script ({})", json_field(loc, "how").as_str().unwrap_or(""))
        }
        Some("qr_code") => {
            format!("from a QR code in image {}", json_field(loc, "image").as_str().unwrap_or(""))
        }
        _ => "text".into(),
    }
}

/// `GET /ui/drafts/{id}`: the QA screen.
pub async fn show(s: Session, path: web::Path<i64>, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    let id = path.into_inner();
    let (row, items, extraction, verdict) = db
        .run(move |conn| {
            let row = store::get(conn, id)?.ok_or(DbError::NotFound)?;
            let verdict = crate::service::verdict::actions::stored(conn, id)?;
            Ok((row, store::items(conn, id)?, store::extraction(conn, id)?, verdict))
        })
        .await
        .map_err(|e| match e {
            DbError::NotFound => WebError::NotFound(format!("draft {id} not found")),
            other => other.into(),
        })?;
    let l = Layout::new(&s, format!("Draft {id}"));
    // Parsing the stored extraction and highlighting every value is CPU work that grows with the
    // email: done on the blocking pool, never on an HTTP worker.
    let verdict = verdict.as_ref().map(|v| super::verdicts::VerdictView::of(v, row.state.as_str()));
    let body = web::block(move || draft_page(l, id, &row, &items, extraction.as_deref(), verdict))
        .await
        .map_err(|e| WebError::Internal(format!("the draft page: {e}")))??;
    Ok(html(StatusCode::OK, body))
}

/// The QA page of a draft, rendered.
fn draft_page(
    l: Layout,
    id: i64,
    row: &store::ImportRow,
    items: &[ItemRow],
    extraction: Option<&str>,
    verdict: Option<super::verdicts::VerdictView>,
) -> Result<String, WebError> {
    let x: Value = extraction.and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null);
    let texts_json = json_field(&x, "texts").as_array().cloned().unwrap_or_default();
    let mut spans: Vec<Vec<Span>> = vec![Vec::new(); texts_json.len()];
    let mut attributes = Vec::new();
    let mut attachments = Vec::new();
    let mut indicators = Vec::new();
    for i in items {
        let d: Value = serde_json::from_str(&i.details).unwrap_or(Value::Null);
        let mut located = false;
        for p in json_field(&d, "provenance").as_array().into_iter().flatten() {
            let (Some(t), Some(start), Some(end)) = (
                json_field(p, "text").as_u64(),
                json_field(p, "start").as_u64(),
                json_field(p, "end").as_u64(),
            ) else {
                continue;
            };
            if let Some(list) = usize::try_from(t).ok().and_then(|t| spans.get_mut(t)) {
                list.push(Span {
                    start: usize::try_from(start).unwrap_or(0),
                    end: usize::try_from(end).unwrap_or(0),
                    item: i.id,
                    class: item_class(i.state.as_str(), i.whitelist_reason.as_deref()),
                });
                located = true;
            }
        }
        let view = ItemView {
            id: i.id,
            kind: i.item_type.clone(),
            value: i.value.clone(),
            state: i.state.to_string(),
            reason: i.whitelist_reason.clone().unwrap_or_default(),
            origin: i.origin.clone(),
            detail: detail_of(i, &d),
            located,
        };
        match i.section.as_str() {
            "attribute" => attributes.push(view),
            "attachment" => attachments.push(view),
            _ => indicators.push(view),
        }
    }
    let texts = text_views(&texts_json, &spans);
    let warnings = warnings_of(&x);
    let meta = imports::meta_of(row)?;
    let subject = row.subject.clone().unwrap_or_default();
    Ok(DraftPage {
        l,
        id,
        state: row.state.to_string(),
        meta_title: meta.title.clone().unwrap_or_else(|| subject.clone()),
        subject,
        sender: row.sender.clone().unwrap_or_default(),
        reporter: row.reporter.clone().unwrap_or_default(),
        input_kind: row.input_kind.clone(),
        size: row.raw_size,
        sha256: row.content_sha256.clone(),
        event_id: row.event_id,
        meta_type: meta.event_type.clone().unwrap_or_else(|| "spearphish".into()),
        meta_tlp: meta.tlp.clone().unwrap_or_default(),
        meta_tags: meta.tags.clone().unwrap_or_default().join(", "),
        meta_description: meta.description.clone().unwrap_or_default(),
        attributes,
        attachments,
        indicators,
        texts,
        warnings,
        kinds: vec!["url", "domain", "ipv4", "ipv6", "email", "md5", "sha1", "sha256", "cve"],
        verdict,
    }
    .render()?)
}

/// Each extracted text with its values highlighted (and an HTML body's source, for the
/// sandboxed preview).
fn text_views(texts_json: &[Value], spans: &[Vec<Span>]) -> Vec<TextView> {
    texts_json
        .iter()
        .zip(spans.iter())
        .map(|(t, sp)| {
            let text = json_field(t, "text").as_str().unwrap_or("");
            let is_html = json_field(json_field(t, "location"), "content_type")
                .as_str()
                .is_some_and(|c| c.eq_ignore_ascii_case("text/html"));
            TextView {
                label: text_label(t),
                html: highlight::render(text, sp),
                preview: is_html.then(|| text.to_string()),
            }
        })
        .collect()
}

/// The extraction's warnings, one line each.
fn warnings_of(x: &Value) -> Vec<String> {
    json_field(x, "warnings")
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            format!(
                "{}: {}",
                json_field(w, "kind").as_str().unwrap_or("warning"),
                json_field(w, "detail").as_str().unwrap_or("")
            )
        })
        .collect()
}

/// `GET /ui/drafts/{id}/raw`: the email verbatim, as a download (never rendered).
pub async fn raw(_s: Session, path: web::Path<i64>, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    let id = path.into_inner();
    let raw = db
        .run_sized(usize::MAX, move |conn| store::raw(conn, id))
        .await?
        .ok_or_else(|| WebError::NotFound(format!("import {id} not found")))?;
    Ok(download(raw, "message/rfc822", &format!("import-{id}.eml")))
}

/// A download: `attachment`, `nosniff` and a sandbox CSP, so a browser never renders it.
pub fn download(body: Vec<u8>, content_type: &str, filename: &str) -> HttpResponse {
    let safe: String = filename
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' })
        .collect();
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type.to_string()))
        .insert_header((CONTENT_DISPOSITION, format!("attachment; filename=\"{safe}\"")))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", "default-src 'none'; sandbox"))
        .body(body)
}

/// `GET /ui/drafts/{id}/attachments/{item}`: one attachment's bytes (found again in the raw
/// email by the SHA-256 shown), always as a download.
pub async fn attachment(
    _s: Session,
    path: web::Path<(i64, i64)>,
    db: web::Data<Db>,
) -> Result<HttpResponse, WebError> {
    let (id, item_id) = path.into_inner();
    let (item, raw) = db
        .run_sized(usize::MAX, move |conn| {
            Ok::<_, DbError>((store::item(conn, id, item_id)?, store::raw(conn, id)?))
        })
        .await?;
    let item = item
        .filter(|i| i.section == ItemSection::Attachment)
        .ok_or_else(|| WebError::NotFound(format!("attachment {item_id} of import {id} not found")))?;
    let details: Value = serde_json::from_str(&item.details).unwrap_or(Value::Null);
    let sha256 = json_field(json_field(&details, "hashes"), "sha256").as_str().unwrap_or("").to_string();
    let raw = raw.unwrap_or_default();
    let bytes = web::block(move || extract::fetch::attachment_by_sha256(&raw, &sha256))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .ok_or_else(|| WebError::NotFound("this attachment cannot be taken out of the email (an archive member or an Outlook attachment)".into()))?;
    Ok(download(bytes, "application/octet-stream", &item.value))
}

#[derive(Deserialize)]
pub struct NewItemForm {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

/// `POST /ui/drafts/{id}/items`: adds an indicator the extraction missed.
pub async fn add_item(
    p: Posted<NewItemForm>,
    path: web::Path<i64>,
    db: web::Data<Db>,
) -> Result<HttpResponse, WebError> {
    p.session.require_analyst()?;
    let id = path.into_inner();
    let f = p.form;
    db.run(move |conn| imports::add_item(conn, id, &f.kind, &f.value)).await?;
    Ok(see_other(format!("/ui/drafts/{id}")))
}

#[derive(Deserialize)]
pub struct StateForm {
    state: String,
}

/// `POST /ui/drafts/{id}/items/{item}/state`: prune (`pruned`) or keep (`proposed`).
pub async fn set_item_state(
    p: Posted<StateForm>,
    path: web::Path<(i64, i64)>,
    db: web::Data<Db>,
) -> Result<HttpResponse, WebError> {
    p.session.require_analyst()?;
    let (id, item) = path.into_inner();
    let state = p.form.state;
    db.run(move |conn| imports::set_item_state(conn, id, item, &state)).await?;
    Ok(see_other(format!("/ui/drafts/{id}#item-{item}")))
}

#[derive(Deserialize)]
pub struct WhitelistForm {
    #[serde(default)]
    match_kind: String,
    #[serde(default)]
    pattern: String,
    #[serde(default)]
    reason: String,
}

/// `POST /ui/drafts/{id}/items/{item}/whitelist`: a rule (exact by default; `suffix` for a
/// domain and everything under it) that applies everywhere, this draft included.
pub async fn whitelist_item(
    p: Posted<WhitelistForm>,
    path: web::Path<(i64, i64)>,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, WebError> {
    p.session.require_analyst()?;
    let (id, item) = path.into_inner();
    let f = p.form;
    let how = ItemRule {
        match_kind: given(&f.match_kind),
        pattern: given(&f.pattern),
        reason: given(&f.reason).unwrap_or_else(|| "whitelisted during QA".into()),
    };
    let author = p.session.principal.username.clone();
    let ctx = ctx.into_inner();
    db.run(move |conn| imports::whitelist_item(conn, &ctx, (id, item), &how, &author)).await?;
    Ok(see_other(format!("/ui/drafts/{id}#item-{item}")))
}

/// `POST /ui/drafts/{id}/commit`: the event is created (or joined) and shown.
pub async fn commit(
    p: Posted<MetaForm>,
    path: web::Path<i64>,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, WebError> {
    p.session.require_analyst()?;
    let id = path.into_inner();
    let meta = p.form.meta();
    let actor = p.session.principal.username.clone();
    let ctx = ctx.into_inner();
    let done = db.run(move |conn| imports::commit(conn, &ctx, id, &actor, meta)).await?;
    Ok(see_other(format!("/ui/events/{}", done.event_id)))
}

/// `POST /ui/drafts/{id}/abandon`
pub async fn abandon(
    p: Posted<NoFields>,
    path: web::Path<i64>,
    db: web::Data<Db>,
) -> Result<HttpResponse, WebError> {
    p.session.require_analyst()?;
    let id = path.into_inner();
    db.run(move |conn| imports::abandon(conn, id)).await?;
    Ok(see_other("/ui/drafts"))
}
