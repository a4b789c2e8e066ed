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
/// What a page request asks, before the collection is known: the filters (from the query or
/// the cursor), the keyset position and the page size.
struct Plan {
    filters: Filters,
    cursor: Option<Cursor>,
    /// A `next` that does not open: reported after the collection check, so that a caller who
    /// may not see the collection learns nothing else first.
    bad_cursor: Option<TaxiiError>,
    limit: i64,
    endpoint: Endpoint,
    user: Option<i64>,
}

impl Plan {
    fn new(
        state: &TaxiiState,
        settings: &Settings,
        endpoint: Endpoint,
        user: Option<i64>,
        query: Query,
    ) -> Self {
        let (cursor, bad_cursor) = match query.next.as_deref().map(|t| state.cursor_key.open(t)) {
            Some(Ok(c)) => (Some(c), None),
            Some(Err(e)) => (None, Some(e)),
            None => (None, None),
        };
        let filters = match &cursor {
            Some(c) => c.f.clone(),
            None => query.filters.clone(),
        };
        let limit = i64::from(
            query.limit.unwrap_or(settings.taxii.default_page_size).min(settings.taxii.max_page_size),
        );
        Self { filters, cursor, bad_cursor, limit, endpoint, user }
    }

    /// The keyset query over one collection; a cursor only continues the query that issued it.
    fn query(&mut self, collection_id: &str) -> Result<PageQuery, TaxiiError> {
        if let Some(e) = self.bad_cursor.take() {
            return Err(e);
        }
        if let Some(c) = &self.cursor {
            let same = c.e == self.endpoint.name()
                && c.c == collection_id
                && c.o.as_deref() == self.endpoint.object()
                && c.u == self.user;
            if !same {
                return Err(TaxiiError::BadRequest("next belongs to another query".into()));
            }
        }
        let f = &self.filters;
        let mut pq = PageQuery {
            collection_id: collection_id.to_string(),
            after: self.cursor.as_ref().map(|c| c.k),
            added_after: f.added_after,
            ids: f.ids.clone(),
            types: f.types.clone(),
            versions: Versions::to_filter(f.versions.as_ref()),
            spec_versions: f.spec_versions.clone(),
            limit: self.limit,
        };
        match &self.endpoint {
            Endpoint::Object(id) => pq.ids = vec![id.clone()],
            Endpoint::Versions(id) => {
                pq.ids = vec![id.clone()];
                pq.versions = VersionFilter::all();
                pq.types.clear();
            }
            Endpoint::Objects | Endpoint::Manifest => {}
        }
        Ok(pq)
    }

    /// The page from the rows fetched (`limit + 1` at most): `more` and the `next` cursor.
    fn page(self, state: &TaxiiState, collection_id: &str, mut rows: Vec<PageRow>) -> Page {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(usize::try_from(self.limit).unwrap_or(usize::MAX));
        let next = match (more, rows.last()) {
            (true, Some(last)) => Some(state.cursor_key.seal(&Cursor {
                e: self.endpoint.name().into(),
                c: collection_id.to_string(),
                o: self.endpoint.object().map(str::to_string),
                u: self.user,
                k: (last.date_added, last.seq),
                f: self.filters,
            })),
            _ => None,
        };
        Page { rows, more, next }
    }
}

/// What every paged read shares: the query parsed, the collection visible and readable to the
/// caller, the object (for object endpoints) in it, then one page fetched, all in one visit to
/// the database (one pooled connection: on PostgreSQL each visit costs a round trip more).
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
    super::api_root(settings, root)?;
    let user = principal.map(|p| p.user_id);
    let mut plan = Plan::new(state, settings, endpoint, user, query);
    let with_json = matches!(plan.endpoint, Endpoint::Objects | Endpoint::Object(_));
    let (root, key, who) = (root.to_string(), key.to_string(), principal.cloned());
    let (plan, visit) = db
        .run(move |conn| {
            let (row, grants) = super::collections::lookup(conn, &root, &key, user)?;
            let v = match super::collections::judge(row, &grants, who.as_ref()).and_then(|v| {
                v.require_read()?;
                Ok(v)
            }) {
                Ok(v) => v,
                Err(e) => return Ok::<_, crate::db::DbError>((plan, Err(e))),
            };
            // An object endpoint answers 404 for an object not in the collection, before any
            // cursor error. Asked only when there is no page (rows prove the object is there):
            // a found object costs no statement more than a page.
            let object = plan.endpoint.object().map(str::to_string);
            let rows = match plan.query(&v.row.id) {
                Ok(pq) => objects::page(conn, &pq, with_json)?,
                Err(e) => return Ok((plan, Err(missing(conn, &v.row.id, object.as_deref())?.unwrap_or(e)))),
            };
            if rows.is_empty()
                && let Some(e) = missing(conn, &v.row.id, object.as_deref())?
            {
                return Ok((plan, Err(e)));
            }
            Ok((plan, Ok((v.row.id, rows))))
        })
        .await?;
    let (collection_id, rows) = visit?;
    let page = plan.page(state, &collection_id, rows);
    state.served.record(&collection_id, page.rows.len());
    Ok(page)
}

/// The 404 of an object endpoint whose object has no version in the collection.
fn missing(
    conn: &mut crate::db::DbConn,
    collection_id: &str,
    object: Option<&str>,
) -> Result<Option<TaxiiError>, crate::db::DbError> {
    Ok(match object {
        Some(object) if !objects::contains(conn, collection_id, object)? => {
            Some(TaxiiError::NotFound(format!("{object} is not in this collection")))
        }
        _ => None,
    })
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
