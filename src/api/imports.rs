//! `/api/v1/imports`: emails in (raw RFC 822, a multipart upload of `.eml`/`.msg`/mbox files, or a
//! JSON envelope from another product), the drafts they become, QA edits, abandon and commit;
//! and MISP event JSON into partner intake (`POST /api/v1/misp/events`).

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiError, Caller, micros_to_rfc3339, require_analyst};
use crate::db::imports::{ImportRow, ItemRow};
use crate::db::{Db, imports as store};
use crate::service::ServiceContext;
use crate::service::ServiceError;
use crate::service::imports::pipeline::{Admission, Importer, Message, Then};
use crate::service::imports::{self, EventMeta};
use crate::service::misp::{EventReport, ImportReport, Refused};
use crate::stix::parse_tlp;

#[derive(Debug, Serialize)]
pub struct ImportDto {
    pub id: i64,
    pub state: String,
    pub source: String,
    pub input_kind: String,
    pub size: i64,
    pub sha256: String,
    pub subject: Option<String>,
    pub sender: Option<String>,
    pub reporter: Option<String>,
    pub message_id: Option<String>,
    pub error: Option<String>,
    pub event_id: Option<i64>,
    pub meta: EventMeta,
    pub source_metadata: Option<Value>,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl TryFrom<&ImportRow> for ImportDto {
    type Error = ApiError;
    fn try_from(r: &ImportRow) -> Result<Self, ApiError> {
        Ok(Self {
            id: r.id,
            state: r.state.to_string(),
            source: r.source.clone(),
            input_kind: r.input_kind.clone(),
            size: r.raw_size,
            sha256: r.content_sha256.clone(),
            subject: r.subject.clone(),
            sender: r.sender.clone(),
            reporter: r.reporter.clone(),
            message_id: r.message_id.clone(),
            error: r.error.clone(),
            event_id: r.event_id,
            meta: imports::meta_of(r)?,
            source_metadata: r.source_metadata.as_deref().and_then(|s| serde_json::from_str(s).ok()),
            created_by: r.created_by.clone(),
            created_at: micros_to_rfc3339(r.created_at),
            updated_at: micros_to_rfc3339(r.updated_at),
        })
    }
}

#[derive(Debug, Serialize)]
pub struct ItemDto {
    pub id: i64,
    pub section: String,
    #[serde(rename = "type")]
    pub item_type: String,
    pub value: String,
    pub state: String,
    pub origin: String,
    pub whitelist_reason: Option<String>,
    pub details: Value,
}

impl From<&ItemRow> for ItemDto {
    fn from(i: &ItemRow) -> Self {
        Self {
            id: i.id,
            section: i.section.to_string(),
            item_type: i.item_type.clone(),
            value: i.value.clone(),
            state: i.state.to_string(),
            origin: i.origin.clone(),
            whitelist_reason: i.whitelist_reason.clone(),
            details: serde_json::from_str(&i.details).unwrap_or(Value::Null),
        }
    }
}

#[derive(Debug, Serialize)]
struct DraftDto {
    #[serde(flatten)]
    import: ImportDto,
    items: Vec<ItemDto>,
    warnings: Value,
    /// The suggested verdict with its reasons (none before it was computed or when off).
    verdict: Option<super::verdicts::VerdictDto>,
}

#[derive(Debug, Serialize)]
struct ImportOutcome {
    #[serde(flatten)]
    import: ImportDto,
    /// False when these bytes had been imported before: the existing import is returned.
    created: bool,
}

#[derive(Debug, Serialize)]
struct Failure {
    name: String,
    error: String,
}

#[derive(Debug, Serialize)]
struct ImportResponse {
    imports: Vec<ImportOutcome>,
    failed: Vec<Failure>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonImport {
    /// The RFC 822 message as text…
    raw: Option<String>,
    /// …or as base64 (binary-safe; `.msg` files).
    raw_base64: Option<String>,
    source: Option<String>,
    metadata: Option<Value>,
    meta: Option<EventMeta>,
}

#[derive(Debug, Deserialize)]
pub struct ImportQuery {
    source: Option<String>,
}

/// One uploaded or posted file: its name and bytes.
struct Incoming {
    name: String,
    raw: Vec<u8>,
    source: String,
    metadata: Option<Value>,
    meta: EventMeta,
}

/// The request's media type, lower case, without parameters ("" when none).
fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Reads a body of at most `limit` bytes, held by an import's `admission` as it comes (a body
/// that would pass the import queue's byte budget is refused as busy).
async fn read_body(
    payload: &mut web::Payload,
    limit: usize,
    mut admission: Option<&mut Admission>,
) -> Result<Vec<u8>, ApiError> {
    // Sized once from what was held for a declared length: a 50 MB body read by doubling would be
    // copied about twice over on the HTTP worker.
    let expected = admission.as_deref().map_or(0, Admission::held);
    let mut body = Vec::with_capacity(usize::try_from(expected).unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(format!("the body is larger than {limit} bytes")));
        }
        if let Some(Err(e)) = admission.as_deref_mut().map(|a| a.cover((body.len() + chunk.len()) as u64)) {
            return Err(busy(e));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The files of a `multipart/form-data` upload, held by `admission` as they come.
async fn read_multipart(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    admission: &mut Admission,
) -> Result<Vec<Incoming>, ApiError> {
    let mut form = actix_multipart::Multipart::new(req.headers(), payload);
    let mut files = Vec::new();
    let mut total = 0usize;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| ApiError::BadRequest(format!("multipart: {e}")))?;
        let name = field
            .content_disposition()
            .and_then(|d| d.get_filename().map(str::to_string))
            .unwrap_or_else(|| format!("part {}", files.len() + 1));
        let mut raw = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("multipart: {e}")))?;
            total += chunk.len();
            if total > limit {
                return Err(ApiError::PayloadTooLarge(format!("the upload is larger than {limit} bytes")));
            }
            admission.cover(total as u64).map_err(busy)?;
            raw.extend_from_slice(&chunk);
        }
        files.push(Incoming {
            name,
            raw,
            source: "upload".into(),
            metadata: None,
            meta: EventMeta::default(),
        });
    }
    if files.is_empty() {
        return Err(ApiError::BadRequest("the multipart body has no file".into()));
    }
    Ok(files)
}

/// The import queue is full: retry shortly (503 with `Retry-After`).
fn busy(e: ServiceError) -> ApiError {
    ApiError::RetryLater { message: e.to_string(), retry_after_secs: 5, busy: true }
}

/// `POST /imports`: see the module doc. An mbox becomes one draft per message. The answer lists
/// every import (`created: false` for bytes imported before) and every message that failed.
pub async fn create(
    caller: Caller,
    req: HttpRequest,
    mut payload: web::Payload,
    query: web::Query<ImportQuery>,
    importer: web::Data<Importer>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let intake = caller.scope == crate::service::accounts::TokenScope::Intake;
    // Before the body is read into memory: a declared length past the queue's budget waits for
    // room with its body unread, and is refused when none comes in time. (actix-http lingers
    // after such an early answer, reading and dropping the rest of the body, so the client
    // reads the 503 instead of a reset.)
    let mut admission = importer.admit_waiting(crate::http::declared_length(&req)).await.map_err(busy)?;
    let limit = importer.ctx().extract.max_message_bytes;
    let content_type = media_type(&req);
    let source = query.source.clone().unwrap_or_else(|| "api".into());
    let incoming = match content_type.as_str() {
        "message/rfc822"
        | "application/octet-stream"
        | "application/vnd.ms-outlook"
        | "application/mbox"
        | "text/plain" => {
            let raw = read_body(&mut payload, limit.saturating_mul(4), Some(&mut admission)).await?;
            vec![Incoming { name: "body".into(), raw, source, metadata: None, meta: EventMeta::default() }]
        }
        "multipart/form-data" => {
            read_multipart(&req, payload, limit.saturating_mul(4), &mut admission).await?
        }
        "application/json" => {
            let body = read_body(&mut payload, limit.saturating_mul(2), Some(&mut admission)).await?;
            let j: JsonImport = serde_json::from_slice(&body)
                .map_err(|e| ApiError::BadRequest(format!("invalid JSON import: {e}")))?;
            let raw = match (j.raw, j.raw_base64) {
                (Some(text), None) => text.into_bytes(),
                (None, Some(b64)) => {
                    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64.trim())
                        .map_err(|e| ApiError::BadRequest(format!("raw_base64: {e}")))?
                }
                _ => return Err(ApiError::BadRequest("give exactly one of raw and raw_base64".into())),
            };
            vec![Incoming {
                name: "raw".into(),
                raw,
                source: j.source.unwrap_or(source),
                metadata: j.metadata,
                meta: j.meta.unwrap_or_default(),
            }]
        }
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "cannot import '{other}': send message/rfc822, multipart/form-data or application/json"
            )));
        }
    };
    let actor = caller.username.clone();
    let mut messages: Vec<Message> = Vec::new();
    for f in incoming {
        messages.extend(
            importer
                .requests(vec![(f.name, f.raw)], f.source, f.metadata, Some(actor.clone()), f.meta)
                .await?,
        );
    }
    let batch = importer.import_all(messages, &Then::default()).await?;
    drop(admission);
    let response = ImportResponse {
        imports: batch
            .imported
            .iter()
            .map(|(_, o)| {
                Ok(ImportOutcome { import: (&o.imported.row).try_into()?, created: o.imported.created })
            })
            .collect::<Result<_, ApiError>>()?,
        failed: batch.failed.into_iter().map(|(name, error)| Failure { name, error }).collect(),
    };
    if response.imports.is_empty()
        && let Some(f) = response.failed.first()
    {
        return Err(ApiError::BadRequest(format!("{}: {}", f.name, f.error)));
    }
    if intake {
        // A product pushing email learns nothing about what is stored: the same receipt whether
        // the bytes were new or reported before, no id to probe, no state, no subject.
        return Ok(HttpResponse::Accepted()
            .json(serde_json::json!({ "accepted": response.imports.len(), "failed": response.failed })));
    }
    let created = response.imports.iter().any(|i| i.created);
    Ok(if created { HttpResponse::Created() } else { HttpResponse::Ok() }.json(response))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

pub async fn list(
    _caller: Caller,
    q: web::Query<ListQuery>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    if let Some(s) = &q.state
        && !matches!(s.as_str(), "draft" | "committed" | "abandoned" | "failed")
    {
        return Err(ApiError::BadRequest(format!("unknown state '{s}'")));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let rows = db.run(move |conn| store::list(conn, q.state.as_deref(), q.before, limit)).await?;
    let next = (rows.len() as i64 == limit).then(|| rows.last().map(|r| r.id)).flatten();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "imports": rows.iter().map(ImportDto::try_from).collect::<Result<Vec<_>, _>>()?,
        "next_before": next,
    })))
}

pub async fn get(_caller: Caller, path: web::Path<i64>, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (row, items, extraction, verdict) = db
        .run(move |conn| {
            let row = store::get(conn, id)?.ok_or(crate::db::DbError::NotFound)?;
            let verdict = crate::service::verdict::actions::stored(conn, id)?;
            Ok((row, store::items(conn, id)?, store::extraction(conn, id)?, verdict))
        })
        .await
        .map_err(|e| not_found(e, id))?;
    let warnings = extraction
        .and_then(|x| serde_json::from_str::<Value>(&x).ok())
        .and_then(|x| x.get("warnings").cloned())
        .unwrap_or(Value::Array(Vec::new()));
    Ok(HttpResponse::Ok().json(DraftDto {
        import: (&row).try_into()?,
        items: items.iter().map(ItemDto::from).collect(),
        warnings,
        verdict: verdict.as_ref().map(super::verdicts::VerdictDto::from),
    }))
}

fn not_found(e: crate::db::DbError, id: i64) -> ApiError {
    match e {
        crate::db::DbError::NotFound => ApiError::NotFound(format!("import {id} not found")),
        other => other.into(),
    }
}

/// The raw bytes, verbatim; served as a download, never rendered.
pub async fn raw(_caller: Caller, path: web::Path<i64>, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let raw = db
        .run_sized(usize::MAX, move |conn| store::raw(conn, id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("import {id} not found")))?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "message/rfc822"))
        .insert_header((CONTENT_DISPOSITION, format!("attachment; filename=\"import-{id}.eml\"")))
        .insert_header(("Content-Security-Policy", "default-src 'none'; sandbox"))
        .body(raw))
}

/// The extraction with decoded texts and spans, for highlighting values in their source.
pub async fn extraction(
    _caller: Caller,
    path: web::Path<i64>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let x = db
        .run(move |conn| {
            store::get(conn, id)?.ok_or(crate::db::DbError::NotFound)?;
            store::extraction(conn, id)
        })
        .await
        .map_err(|e| not_found(e, id))?
        .ok_or_else(|| ApiError::NotFound(format!("import {id} has no extraction")))?;
    Ok(HttpResponse::Ok().content_type("application/json").body(x))
}

pub async fn set_meta(
    caller: Caller,
    path: web::Path<i64>,
    body: web::Json<EventMeta>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let id = path.into_inner();
    let meta = body.into_inner();
    let row = db.run(move |conn| imports::set_meta(conn, id, meta)).await?;
    Ok(HttpResponse::Ok().json(ImportDto::try_from(&row)?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewItemRequest {
    #[serde(rename = "type")]
    item_type: String,
    value: String,
}

pub async fn add_item(
    caller: Caller,
    path: web::Path<i64>,
    body: web::Json<NewItemRequest>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let id = path.into_inner();
    let b = body.into_inner();
    let item = db.run(move |conn| imports::add_item(conn, id, &b.item_type, &b.value)).await?;
    Ok(HttpResponse::Created().json(ItemDto::from(&item)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemStateRequest {
    state: String,
}

pub async fn set_item(
    caller: Caller,
    path: web::Path<(i64, i64)>,
    body: web::Json<ItemStateRequest>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let (id, item) = path.into_inner();
    let state = body.into_inner().state;
    let item = db.run(move |conn| imports::set_item_state(conn, id, item, &state)).await?;
    Ok(HttpResponse::Ok().json(ItemDto::from(&item)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhitelistItemRequest {
    reason: String,
    match_kind: Option<String>,
    pattern: Option<String>,
}

pub async fn whitelist_item(
    caller: Caller,
    path: web::Path<(i64, i64)>,
    body: web::Json<WhitelistItemRequest>,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let (id, item) = path.into_inner();
    let b = body.into_inner();
    let actor = caller.username.clone();
    let ctx = ctx.into_inner();
    let (rule, item) = db
        .run(move |conn| {
            let how = imports::ItemRule { match_kind: b.match_kind, pattern: b.pattern, reason: b.reason };
            imports::whitelist_item(conn, &ctx, (id, item), &how, &actor)
        })
        .await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "rule": super::whitelist::RuleDto::from(&rule),
        "item": ItemDto::from(&item),
    })))
}

pub async fn abandon(
    caller: Caller,
    path: web::Path<i64>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let id = path.into_inner();
    let row = db.run(move |conn| imports::abandon(conn, id)).await?;
    Ok(HttpResponse::Ok().json(ImportDto::try_from(&row)?))
}

#[derive(Debug, Serialize)]
struct CommitDto {
    event_id: i64,
    merged: bool,
    created: Vec<i64>,
    updated: Vec<i64>,
}

/// The optional event metadata of a commit's body (JSON; an empty body: none).
pub(super) fn event_meta(body: &[u8]) -> Result<EventMeta, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(EventMeta::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid event metadata: {e}")))
}

/// `POST /imports/{id}/commit`, optionally with event metadata (JSON) overriding the draft's.
pub async fn commit(
    caller: Caller,
    path: web::Path<i64>,
    body: web::Bytes,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let id = path.into_inner();
    let meta = event_meta(&body)?;
    let actor = caller.username.clone();
    let ctx = ctx.into_inner();
    let c = db.run(move |conn| imports::commit(conn, &ctx, id, &actor, meta)).await?;
    Ok(HttpResponse::Created().json(CommitDto {
        event_id: c.event_id,
        merged: c.merged,
        created: c.created,
        updated: c.updated,
    }))
}

/// The largest MISP document accepted (a MISP event export of ~100,000 attributes).
pub const MAX_DOCUMENT_BYTES: usize = 32 << 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MispQuery {
    /// The TLP of attributes and events that carry no `tlp:` tag (default: the configured one).
    tlp: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RefusedDto {
    pub attribute: Option<String>,
    #[serde(rename = "type")]
    pub misp_type: Option<String>,
    pub value: Option<String>,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct MispEventDto {
    pub uuid: Option<String>,
    pub info: String,
    pub attributes_taken: usize,
    pub indicators_created: usize,
    pub refused: Vec<RefusedDto>,
}

#[derive(Debug, Serialize)]
pub struct MispImportDto {
    pub events: Vec<MispEventDto>,
}

impl From<Refused> for RefusedDto {
    fn from(r: Refused) -> Self {
        Self { attribute: r.attribute, misp_type: r.misp_type, value: r.value, reason: r.reason }
    }
}

impl From<EventReport> for MispEventDto {
    fn from(e: EventReport) -> Self {
        Self {
            uuid: e.uuid,
            info: e.info,
            attributes_taken: e.taken,
            indicators_created: e.created,
            refused: e.refused.into_iter().map(RefusedDto::from).collect(),
        }
    }
}

impl From<ImportReport> for MispImportDto {
    fn from(r: ImportReport) -> Self {
        Self { events: r.events.into_iter().map(MispEventDto::from).collect() }
    }
}

/// `POST /api/v1/misp/events`: MISP event JSON into partner intake. The body is a MISP event
/// (`{"Event": {...}}`), a list of them, or MISP's REST answer; each attribute Harpoon can
/// indicate becomes a Review (or, without `to_ids`, Indirect) indicator with the event as its
/// source, and every attribute not taken comes back with its reason.
pub async fn misp_events(
    caller: Caller,
    req: HttpRequest,
    mut payload: web::Payload,
    query: web::Query<MispQuery>,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let json = media_type(&req) == "application/json";
    if !json {
        return Err(ApiError::UnsupportedMediaType("send MISP event JSON as application/json".into()));
    }
    let default_tlp =
        query.tlp.as_deref().map(parse_tlp).transpose().map_err(crate::service::ServiceError::from)?;
    let body = read_body(&mut payload, MAX_DOCUMENT_BYTES, None).await?;
    let doc: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("invalid MISP JSON: {e}")))?;
    let via = format!("upload by {}", caller.username);
    let ctx = ctx.into_inner();
    let report = db
        .run(move |conn| crate::service::misp::import_document(conn, &ctx, &doc, &via, default_tlp))
        .await?;
    Ok(HttpResponse::Ok().json(MispImportDto::from(report)))
}
