//! `GET /ui`: the dashboard. The per-day chart is an SVG drawn here (no script).

use actix_web::{HttpResponse, web};
use askama::Template;

use super::{Layout, Session, WebError, page, utc_time};
use crate::db::{Db, connectors, dashboard, events, now_micros, tokens};
use crate::service::operations::{Registry, RunView};

const DAYS: i64 = 14;
const DAY_US: i64 = 86_400_000_000;

pub struct Day {
    label: String,
    short: String,
    imports: i64,
    events: i64,
    x: i64,
    y_imports: i64,
    h_imports: i64,
    y_events: i64,
    h_events: i64,
}

pub struct EventLine {
    id: i64,
    title: String,
    when: String,
}

pub struct ConnectorLine {
    name: String,
    status: String,
    messages_taken: i64,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    l: Layout,
    days: Vec<Day>,
    chart_w: i64,
    max: i64,
    total_imports: i64,
    total_events: i64,
    by_status: Vec<(String, i64)>,
    by_kind: Vec<(String, i64)>,
    events: Vec<EventLine>,
    runs: Vec<RunView>,
    connectors: Vec<ConnectorLine>,
    /// Per collection: title, requests served, objects served, objects added (last 24 hours).
    taxii: Vec<(String, i64, i64, i64)>,
    pollers: usize,
}

fn add(list: &mut Vec<(String, i64)>, key: &str, n: i64) {
    match list.iter_mut().find(|(k, _)| k == key) {
        Some((_, total)) => *total += n,
        None => list.push((key.to_string(), n)),
    }
}

pub async fn show(s: Session, db: web::Data<Db>, ops: web::Data<Registry>) -> Result<HttpResponse, WebError> {
    let now = now_micros();
    let today = now - now.rem_euclid(DAY_US);
    let since = today - (DAYS - 1) * DAY_US;
    let (created, counts, newest, conns, additions, collections, toks) = db
        .run(move |conn| {
            Ok::<_, crate::db::DbError>((
                dashboard::created_since(conn, since)?,
                dashboard::indicators_by_kind_status(conn)?,
                events::list(conn, None, None, 8)?,
                connectors::list(conn)?,
                dashboard::collection_additions_since(conn, now - DAY_US)?,
                crate::db::collections::list(conn)?,
                tokens::list(conn, None)?,
            ))
        })
        .await?;
    let served = crate::service::served::last_day(&db).await?;
    let (imports_at, events_at) = created;
    let bucket = |at: &i64| usize::try_from((at - since) / DAY_US).ok();
    let mut per_day = vec![(0i64, 0i64); usize::try_from(DAYS).unwrap_or(14)];
    for at in &imports_at {
        if let Some(d) = bucket(at).and_then(|i| per_day.get_mut(i)) {
            d.0 += 1;
        }
    }
    for at in &events_at {
        if let Some(d) = bucket(at).and_then(|i| per_day.get_mut(i)) {
            d.1 += 1;
        }
    }
    let max = per_day.iter().map(|(a, b)| (*a).max(*b)).max().unwrap_or(0).max(1);
    let days: Vec<Day> = per_day
        .iter()
        .zip(0i64..)
        .map(|((imports, events), i)| {
            let day = chrono::DateTime::from_timestamp_micros(since + i * DAY_US).unwrap_or_default();
            let h = |n: i64| n * 120 / max;
            Day {
                label: day.format("%Y-%m-%d").to_string(),
                short: day.format("%d").to_string(),
                imports: *imports,
                events: *events,
                x: 34 + i * 32,
                y_imports: 140 - h(*imports),
                h_imports: h(*imports),
                y_events: 140 - h(*events),
                h_events: h(*events),
            }
        })
        .collect();
    let mut by_status = Vec::new();
    let mut by_kind = Vec::new();
    for (kind, status, n) in &counts {
        add(&mut by_status, status, *n);
        add(&mut by_kind, kind, *n);
    }
    let taxii = collections
        .iter()
        .map(|c| {
            let (requests, objects) =
                served.iter().find(|(id, _, _)| *id == c.id).map_or((0, 0), |(_, r, o)| (*r, *o));
            let added = additions.iter().find(|(id, _)| *id == c.id).map_or(0, |(_, n)| *n);
            (c.title.clone(), requests, objects, added)
        })
        .collect();
    let page_data = Dashboard {
        l: Layout::new(&s, "Dashboard"),
        chart_w: 34 + DAYS * 32,
        max,
        total_imports: i64::try_from(imports_at.len()).unwrap_or(0),
        total_events: i64::try_from(events_at.len()).unwrap_or(0),
        days,
        by_status,
        by_kind,
        events: newest
            .iter()
            .map(|e| EventLine { id: e.id, title: e.title.clone(), when: utc_time(e.created_at) })
            .collect(),
        runs: ops.recent(8).await?,
        connectors: conns
            .iter()
            .map(|c| ConnectorLine {
                name: c.name.clone(),
                status: c.status.clone(),
                messages_taken: c.messages_taken,
            })
            .collect(),
        taxii,
        pollers: toks.iter().filter(|t| t.last_used_at.is_some_and(|u| u > now - DAY_US)).count(),
    };
    page(&page_data)
}
