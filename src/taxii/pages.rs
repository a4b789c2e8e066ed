//! Paging shared by objects, manifest, object and versions: resolve the cursor or the query's
//! filters, run one keyset query, decide `more`/`next`, and set the X-TAXII-Date-Added headers.

use actix_web::HttpResponseBuilder;

use super::cursor::Cursor;
use super::filters::{Filters, Query, Versions};
use super::{TaxiiError, TaxiiState};
use crate::db::Db;
use crate::db::objects::{self, PageQuery, PageRow, VersionFilter};
use crate::service::auth::Principal;
use crate::settings::Settings;
use crate::stix::TaxiiTimestamp;

/// Which endpoint a page belongs to (a cursor only continues the endpoint that issued it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Objects,
    Manifest,
    Object(String),
    Versions(String),
}

impl Endpoint {
    fn name(&self) -> &'static str {
        match self {
            Endpoint::Objects => "objects",
            Endpoint::Manifest => "manifest",
            Endpoint::Object(_) => "object",
            Endpoint::Versions(_) => "versions",
        }
    }
    fn object(&self) -> Option<&str> {
        match self {
            Endpoint::Object(id) | Endpoint::Versions(id) => Some(id),
            _ => None,
        }
    }
}

/// One page of rows, with `more` and the `next` cursor.
pub struct Page {
    pub rows: Vec<PageRow>,
    pub more: bool,
    pub next: Option<String>,
}

impl Page {
    /// Adds X-TAXII-Date-Added-First/Last; an empty page gets neither (never an invalid value).
    pub fn headers(&self, resp: &mut HttpResponseBuilder) {
        let stamp = |r: &PageRow| TaxiiTimestamp::from_micros(r.date_added).map(|t| t.to_string()).ok();
        if let (Some(first), Some(last)) =
            (self.rows.first().and_then(stamp), self.rows.last().and_then(stamp))
        {
            resp.insert_header(("X-TAXII-Date-Added-First", first));
            resp.insert_header(("X-TAXII-Date-Added-Last", last));
        }
    }
}

pub async fn fetch(
    db: &Db,
    state: &TaxiiState,
    settings: &Settings,
    collection_id: &str,
    principal: Option<&Principal>,
    endpoint: Endpoint,
    query: Query,
) -> Result<Page, TaxiiError> {
    let user = principal.map(|p| p.user_id);
    let (filters, after) = match &query.next {
        Some(token) => {
            let c = state.cursor_key.open(token)?;
            let same = c.e == endpoint.name()
                && c.c == collection_id
                && c.o.as_deref() == endpoint.object()
                && c.u == user;
            if !same {
                return Err(TaxiiError::BadRequest("next belongs to another query".into()));
            }
            (c.f, Some(c.k))
        }
        None => (query.filters.clone(), None),
    };
    let limit =
        i64::from(query.limit.unwrap_or(settings.taxii.default_page_size).min(settings.taxii.max_page_size));
    let mut pq = PageQuery {
        collection_id: collection_id.to_string(),
        after,
        added_after: filters.added_after,
        ids: filters.ids.clone(),
        types: filters.types.clone(),
        versions: Versions::to_filter(filters.versions.as_ref()),
        spec_versions: filters.spec_versions.clone(),
        limit,
    };
    match &endpoint {
        Endpoint::Object(id) => pq.ids = vec![id.clone()],
        Endpoint::Versions(id) => {
            pq.ids = vec![id.clone()];
            pq.versions = VersionFilter::all();
            pq.types.clear();
        }
        Endpoint::Objects | Endpoint::Manifest => {}
    }
    let with_json = matches!(endpoint, Endpoint::Objects | Endpoint::Object(_));
    let mut rows = db.run(move |conn| objects::page(conn, &pq, with_json)).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = match (more, rows.last()) {
        (true, Some(last)) => Some(state.cursor_key.seal(&Cursor {
            e: endpoint.name().into(),
            c: collection_id.to_string(),
            o: endpoint.object().map(str::to_string),
            u: user,
            k: (last.date_added, last.seq),
            f: filters,
        })),
        _ => None,
    };
    Ok(Page { rows, more, next })
}

/// What every paged read shares: the query parsed, the collection visible and readable to the
/// caller, the object (for object endpoints) in it, then one page fetched.
pub async fn read(
    req: &actix_web::HttpRequest,
    db: &Db,
    state: &TaxiiState,
    settings: &Settings,
    (root, key): (&str, &str),
    principal: Option<&Principal>,
    endpoint: Endpoint,
) -> Result<Page, TaxiiError> {
    let query = super::filters::parse(req.query_string())?;
    let v = super::collections::visible(db, settings, root, key, principal).await?;
    v.require_read()?;
    if let Some(object) = endpoint.object() {
        super::collections::require_member(db, &v.row.id, object).await?;
    }
    let page = fetch(db, state, settings, &v.row.id, principal, endpoint, query).await?;
    state.served.record(&v.row.id, page.rows.len());
    Ok(page)
}

/// `{"more":…,"next":…` — the opening of every paged envelope.
pub fn open_envelope(page: &Page, capacity: usize) -> String {
    let mut body = String::with_capacity(capacity + 64);
    body.push_str("{\"more\":");
    body.push_str(if page.more { "true" } else { "false" });
    if let Some(next) = &page.next {
        body.push_str(",\"next\":");
        body.push_str(&serde_json::Value::String(next.clone()).to_string());
    }
    body
}

/// The filters of a query, for the endpoints that do not page (DELETE).
pub fn version_filter(filters: &Filters) -> VersionFilter {
    Versions::to_filter(filters.versions.as_ref())
}
