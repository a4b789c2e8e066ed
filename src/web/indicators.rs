//! Indicators: search and filter; one indicator (value, type, status with a change form, score,
//! sources, history, related indicators as a tree to pivot URL → FQDN → IP, events, sightings,
//! the operations that apply with a run button, and their runs, polled while they run).

use actix_web::http::header::ACCEPT;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::session::Posted;
use super::{Layout, Session, WebError, page, see_other, utc_time};
use crate::db::indicators::{self as store, IndicatorQuery, IndicatorRow};
use crate::db::{Db, DbConn, DbError};
use crate::extract::ObservableKind;
use crate::service::ServiceContext;
use crate::service::indicators::{self, Patch, Status};
use crate::service::operations::{OperationInfo, Registry, RunView, SightingView};

pub struct Line {
    id: i64,
    kind: String,
    value: String,
    status: String,
    score: i32,
    tlp: String,
    last_seen: String,
}

impl Line {
    fn of(r: &IndicatorRow) -> Self {
        Self {
            id: r.id,
            kind: r.kind.to_string(),
            value: r.value.clone(),
            status: r.status.to_string(),
            score: r.score,
            tlp: r.tlp.level().to_string(),
            last_seen: utc_time(r.last_seen),
        }
    }
}

const KINDS: [&str; 9] = ["url", "domain", "ipv4", "ipv6", "email", "md5", "sha1", "sha256", "cve"];
const STATUSES: [&str; 5] = ["review", "active", "indirect", "whitelisted", "expired"];

#[derive(Template)]
#[template(path = "indicators.html")]
struct ListPage {
    l: Layout,
    q: String,
    kind: String,
    status: String,
    tag: String,
    min_score: String,
    kinds: [&'static str; 9],
    statuses: [&'static str; 5],
    rows: Vec<Line>,
    next: Option<i64>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    min_score: String,
    after: Option<i64>,
}

pub async fn list(s: Session, q: web::Query<ListQuery>, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    let q = q.into_inner();
    if !q.kind.is_empty() && ObservableKind::from_name(&q.kind).is_none() {
        return Err(WebError::BadRequest(format!("unknown indicator type '{}'", q.kind)));
    }
    if !q.status.is_empty() {
        Status::parse(&q.status)?;
    }
    let min_score = if q.min_score.trim().is_empty() {
        None
    } else {
        Some(
            q.min_score
                .trim()
                .parse::<i32>()
                .map_err(|_| WebError::BadRequest("min score: a number".into()))?,
        )
    };
    let query = IndicatorQuery {
        kinds: if q.kind.is_empty() { vec![] } else { vec![q.kind.clone()] },
        statuses: if q.status.is_empty() { vec![] } else { vec![q.status.to_ascii_lowercase()] },
        contains: (!q.q.trim().is_empty()).then(|| q.q.trim().to_string()),
        tags: if q.tag.trim().is_empty() { vec![] } else { vec![q.tag.trim().to_string()] },
        min_score,
        after: q.after,
        limit: 100,
        ..IndicatorQuery::default()
    };
    let rows = db.run(move |conn| store::search(conn, &query)).await?;
    let next = (rows.len() == 100).then(|| rows.last().map(|r| r.id)).flatten();
    page(&ListPage {
        l: Layout::new(&s, "Indicators"),
        rows: rows.iter().map(Line::of).collect(),
        next,
        q: q.q,
        kind: q.kind,
        status: q.status,
        tag: q.tag,
        min_score: q.min_score,
        kinds: KINDS,
        statuses: STATUSES,
    })
}

/// A node of the pivot tree: a related indicator and what it leads to.
pub struct Node {
    rel: String,
    line: Line,
    children: Vec<(String, Line)>,
}

pub struct HistoryLine {
    at: String,
    actor: String,
    field: String,
    from: String,
    to: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "indicator.html")]
struct IndicatorPage {
    l: Layout,
    i: Line,
    description: String,
    expires: String,
    published: bool,
    stix_id: String,
    tags: String,
    sources: Vec<(String, String, String)>,
    history: Vec<HistoryLine>,
    parents: Vec<(String, Line)>,
    tree: Vec<Node>,
    events: Vec<(i64, String)>,
    sightings: Vec<SightingView>,
    operations: Vec<OperationInfo>,
    runs: Vec<RunView>,
    statuses: [&'static str; 5],
}

/// Relations of one indicator: the relationship type and the indicator at the other end.
type Related = Vec<(String, IndicatorRow)>;

/// Outgoing and incoming relations of one indicator, with the other ends.
fn relations_of(conn: &mut DbConn, id: i64) -> Result<(Related, Related), DbError> {
    let mut out = Vec::new();
    let mut inc = Vec::new();
    for r in store::relations(conn, id)? {
        let outgoing = r.source_id == id;
        let other = if outgoing { r.target_id } else { r.source_id };
        if let Some(row) = store::get(conn, other)? {
            if outgoing { out.push((r.rel_type, row)) } else { inc.push((r.rel_type, row)) }
        }
    }
    Ok((out, inc))
}

pub async fn show(
    s: Session,
    path: web::Path<i64>,
    db: web::Data<Db>,
    ops: web::Data<Registry>,
) -> Result<HttpResponse, WebError> {
    let id = path.into_inner();
    let (row, tags, sources, history, tree, parents, events) = db
        .run(move |conn| {
            let row = store::get(conn, id)?.ok_or(DbError::NotFound)?;
            let tags: Vec<String> = store::tags(conn, &[id])?.into_iter().map(|(_, t)| t).collect();
            let (out, inc) = relations_of(conn, id)?;
            let mut tree = Vec::new();
            for (rel, child) in out {
                let (grand, _) = relations_of(conn, child.id)?;
                let children =
                    grand.iter().filter(|(_, g)| g.id != id).map(|(r, g)| (r.clone(), Line::of(g))).collect();
                tree.push(Node { rel, line: Line::of(&child), children });
            }
            let parents = inc.iter().map(|(r, p)| (r.clone(), Line::of(p))).collect::<Vec<_>>();
            let mut events = Vec::new();
            for e in store::event_ids(conn, id)? {
                if let Some(ev) = crate::db::events::get(conn, e)? {
                    events.push((ev.id, ev.title));
                }
            }
            Ok((row, tags, store::sources(conn, id)?, store::history(conn, id)?, tree, parents, events))
        })
        .await
        .map_err(|e| match e {
            DbError::NotFound => WebError::NotFound(format!("indicator {id} not found")),
            other => other.into(),
        })?;
    page(&IndicatorPage {
        l: Layout::new(&s, format!("{} {}", row.kind, row.value)),
        description: row.description.clone().unwrap_or_default(),
        expires: row.expires_at.map(utc_time).unwrap_or_else(|| "never".into()),
        published: row.stix_modified.is_some(),
        stix_id: row.stix_id.clone(),
        i: Line::of(&row),
        tags: tags.join(", "),
        sources: sources.iter().map(|(s, a, b)| (s.clone(), utc_time(*a), utc_time(*b))).collect(),
        history: history
            .iter()
            .map(|h| HistoryLine {
                at: utc_time(h.at),
                actor: h.actor.clone(),
                field: h.field.clone(),
                from: h.old_value.clone().unwrap_or_default(),
                to: h.new_value.clone().unwrap_or_default(),
                reason: h.reason.clone().unwrap_or_default(),
            })
            .collect(),
        parents,
        tree,
        events,
        sightings: ops.sightings_of(id).await?,
        operations: ops.for_indicator(id).await?,
        runs: ops.runs_of(id).await?,
        statuses: STATUSES,
    })
}

#[derive(Deserialize)]
pub struct StatusForm {
    status: String,
    #[serde(default)]
    score: String,
    #[serde(default)]
    reason: String,
}

/// `POST /ui/indicators/{id}/status`: status and score (each recorded in the history).
pub async fn set_status(
    p: Posted<StatusForm>,
    path: web::Path<i64>,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, WebError> {
    p.session.require_analyst()?;
    let id = path.into_inner();
    let score = match p.form.score.trim() {
        "" => None,
        s => Some(s.parse::<u8>().map_err(|_| WebError::BadRequest("score must be 0-100".into()))?),
    };
    let patch = Patch {
        status: Some(Status::parse(&p.form.status)?),
        score,
        reason: (!p.form.reason.trim().is_empty()).then(|| p.form.reason.trim().to_string()),
        ..Patch::default()
    };
    let actor = p.session.principal.username.clone();
    let ctx = ctx.into_inner();
    db.run(move |conn| indicators::patch(conn, &ctx, id, &patch, &actor)).await?;
    Ok(see_other(format!("/ui/indicators/{id}")))
}

/// Form text to JSON: integers and booleans as such (the registry checks them against the
/// operation's parameter types), empty fields left to their defaults.
fn parameters(form: &[(String, String)]) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in form.iter().filter(|(k, v)| k != "csrf" && !v.trim().is_empty()) {
        let v = v.trim();
        let value = if let Ok(n) = v.parse::<i64>() {
            Value::from(n)
        } else if let Ok(b) = v.parse::<bool>() {
            Value::from(b)
        } else {
            Value::from(v)
        };
        out.insert(k.clone(), value);
    }
    out
}

/// `POST /ui/indicators/{id}/operations/{name}`: starts a run in the background. The page's
/// script asks for JSON (the run) and polls; without script, back to the page.
pub async fn run(
    req: HttpRequest,
    p: Posted<Vec<(String, String)>>,
    path: web::Path<(i64, String)>,
    ops: web::Data<Registry>,
) -> Result<HttpResponse, WebError> {
    p.session.require_analyst()?;
    let (id, name) = path.into_inner();
    let run = ops.start(id, &name, &parameters(&p.form), &p.session.principal.username).await?;
    let wants_json = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        Ok(HttpResponse::Accepted().json(run))
    } else {
        Ok(see_other(format!("/ui/indicators/{id}#runs")))
    }
}

/// `GET /ui/indicators/{id}/runs.json`: the runs, for the page's polling.
pub async fn runs_json(
    _s: Session,
    path: web::Path<i64>,
    ops: web::Data<Registry>,
) -> Result<HttpResponse, WebError> {
    Ok(HttpResponse::Ok().json(ops.runs_of(path.into_inner()).await?))
}

/// One line on what a run found (its error, else its notes and counts).
pub fn run_summary(r: &RunView) -> String {
    if let Some(e) = &r.error {
        return e.clone();
    }
    let mut parts: Vec<String> = Vec::new();
    if let Some(notes) = r.output.get("notes").and_then(Value::as_array) {
        parts.extend(notes.iter().filter_map(Value::as_str).map(str::to_string));
    }
    if let Some(hosts) = r.output.get("hosts").and_then(Value::as_array).filter(|h| !h.is_empty()) {
        let hosts: Vec<&str> = hosts.iter().filter_map(Value::as_str).collect();
        parts.push(format!("hosts: {}", hosts.join(", ")));
    }
    parts.join("; ")
}

impl IndicatorPage {
    fn summary(&self, r: &RunView) -> String {
        run_summary(r)
    }
}
