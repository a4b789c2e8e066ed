//! The TAXII 2.1 poller of a subscription (TAXII 2.1 §3.4 paging, §4.1 discovery, §4.2 API
//! root, §5.1 collections, §5.3 manifest, §5.4 objects). One poll: the URL is read as a
//! discovery document (its `default` API root, or its only one) or as an API root; the
//! collection is found by id, else by title; then pages of objects are fetched and stored one
//! after the other until the remote says there are no more.
//!
//! The cursor (stored as JSON, opaque to everything else) keeps where the next request starts:
//! `next` while the remote pages with it (`more: true`), and `added_after`, the newest
//! `date_added` taken so far (`X-TAXII-Date-Added-Last`, or read from the manifest when a
//! remote sends no such header). A `next` the remote no longer knows (it restarted, the token
//! expired) is dropped and the walk starts again from its `added_after`: objects seen again are
//! duplicates, none is missed. The objects are ordered by `date_added` (§3.4.1), so moving
//! `added_after` to the last one of a stored page never skips one that was not stored.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{SubscriptionError, Worker, parse_url};
use crate::net::{Auth, HttpClient, NetError, Response};
use crate::stix::TaxiiTimestamp;
use std::time::Duration;

/// The TAXII 2.1 media type, asked for and expected.
pub const TAXII_MEDIA: &str = "application/taxii+json;version=2.1";

/// Where the next request starts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The `added_after` of the pages being walked (and of the next poll when `next` is none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_after: Option<String>,
    /// The remote's `next` of the page to fetch, while it pages with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The newest `date_added` of what was stored: the `added_after` of the next walk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<String>,
}

impl Cursor {
    /// The stored text, or a fresh start when there is none (or it is not ours: a changed
    /// protocol starts over).
    pub fn read(text: Option<&str>) -> Self {
        text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
    }

    fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// `candidate` if it is later than what is kept (timestamps compared as instants; a value
    /// that is not a timestamp is never taken).
    fn raise_newest(&mut self, candidate: &str) {
        let Ok(new) = TaxiiTimestamp::parse(candidate) else { return };
        let newer = match self.newest.as_deref().map(TaxiiTimestamp::parse) {
            Some(Ok(old)) => new.as_micros() > old.as_micros(),
            _ => true,
        };
        if newer {
            self.newest = Some(candidate.to_string());
        }
    }

    /// The walk ended: the next one starts after everything stored.
    fn finish_walk(&mut self) {
        self.next = None;
        if self.newest.is_some() {
            self.added_after.clone_from(&self.newest);
        }
    }
}

/// A TAXII envelope (§3.7) with each object's text kept as received.
#[derive(Debug, Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    more: bool,
    #[serde(default)]
    next: Option<String>,
    #[serde(default, borrow)]
    objects: Option<Vec<&'a RawValue>>,
}

/// The requests of one poll: the client, its credentials and the collection's URLs.
struct Remote {
    client: HttpClient,
    auth: Auth,
}

impl Remote {
    async fn get(&self, url: &str, query: &[(&str, String)]) -> Result<Response, SubscriptionError> {
        self.client.get(url, query, TAXII_MEDIA, &self.auth).await.map_err(|e| match e {
            NetError::Config(m) => SubscriptionError::Config(m),
            NetError::TooLarge(n) => SubscriptionError::Remote(format!(
                "GET {url}: the response is larger than {n} bytes (operations.http.max_body_bytes; a smaller page_size helps)"
            )),
            other => SubscriptionError::Unreachable(format!("GET {url}: {other}")),
        })
    }

    /// `GET url` that must answer 200 with a TAXII (or JSON) document.
    async fn document(&self, url: &str, query: &[(&str, String)]) -> Result<Response, SubscriptionError> {
        let response = self.get(url, query).await?;
        check(url, &response)?;
        Ok(response)
    }
}

/// A response's `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date.
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.header("retry-after")?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or_default())
}

/// The remote's answer is a TAXII document, or an error that says what the remote said.
fn check(url: &str, response: &Response) -> Result<(), SubscriptionError> {
    if response.status != 200 {
        let said = serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|v| {
                let title = v.get("title").and_then(|t| t.as_str()).map(str::to_string);
                let desc = v.get("description").and_then(|t| t.as_str()).map(str::to_string);
                match (title, desc) {
                    (Some(t), Some(d)) => Some(format!("{t}: {d}")),
                    (t, d) => t.or(d),
                }
            })
            .map(|s| format!(" ({})", super::clip(&s, 300)))
            .unwrap_or_default();
        let hint = match response.status {
            401 => ": the remote refused the credentials",
            403 => ": the credentials may not read this",
            404 => ": not found",
            _ => "",
        };
        let message = format!("GET {url}: HTTP {}{hint}{said}", response.status);
        if let Some(retry_after) =
            matches!(response.status, 429 | 503).then(|| retry_after(response)).flatten()
        {
            return Err(SubscriptionError::Later { message, retry_after });
        }
        return Err(SubscriptionError::Remote(message));
    }
    let media = response.content_type.as_deref().unwrap_or("").to_ascii_lowercase();
    let essence = media.split(';').next().unwrap_or("").trim();
    if essence != "application/taxii+json" && essence != "application/json" {
        return Err(SubscriptionError::Remote(format!(
            "GET {url}: not a TAXII response (Content-Type '{}')",
            super::clip(&media, 100)
        )));
    }
    Ok(())
}

fn json(url: &str, response: &Response) -> Result<serde_json::Value, SubscriptionError> {
    serde_json::from_slice(&response.body)
        .map_err(|e| SubscriptionError::Remote(format!("GET {url}: not JSON: {e}")))
}

/// `base` with a trailing slash (TAXII URLs name folders).
fn folder(mut url: url::Url) -> url::Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// The API root the subscription's URL leads to: the URL itself when it is an API root, the
/// discovery document's `default` (or only) API root when it is a discovery URL. An API root
/// on another origin than a discovery URL that carries credentials is refused: a discovery
/// document must not send them elsewhere.
async fn api_root(remote: &Remote, url: &url::Url) -> Result<url::Url, SubscriptionError> {
    let url = folder(url.clone());
    let doc = json(url.as_str(), &remote.document(url.as_str(), &[]).await?)?;
    if let Some(roots) = doc.get("api_roots").and_then(|r| r.as_array()) {
        let roots: Vec<&str> = roots.iter().filter_map(|r| r.as_str()).collect();
        let chosen = match (doc.get("default").and_then(|d| d.as_str()), roots.as_slice()) {
            (Some(d), _) => d,
            (None, [only]) => *only,
            (None, []) => {
                return Err(SubscriptionError::Remote(format!(
                    "{url}: the discovery document lists no API root"
                )));
            }
            (None, _) => {
                return Err(SubscriptionError::Remote(format!(
                    "{url}: the discovery document lists {} API roots and no default: subscribe to one of {} directly",
                    roots.len(),
                    roots.join(", ")
                )));
            }
        };
        let root = folder(
            url.join(chosen)
                .map_err(|e| SubscriptionError::Remote(format!("{url}: API root '{chosen}': {e}")))?,
        );
        if root.origin() != url.origin() && !matches!(remote.auth, Auth::None) {
            return Err(SubscriptionError::Remote(format!(
                "{url}: the API root {root} is on another server: subscribe to it directly"
            )));
        }
        return Ok(root);
    }
    if doc.get("title").is_some()
        && (doc.get("versions").is_some() || doc.get("max_content_length").is_some())
    {
        return Ok(url);
    }
    Err(SubscriptionError::Remote(format!("{url}: neither a TAXII discovery document nor an API root")))
}

/// The objects URL of the subscription's collection: by id, else by exact title, else by
/// title in any case when only one matches.
async fn collection(remote: &Remote, root: &url::Url, wanted: &str) -> Result<url::Url, SubscriptionError> {
    let url = root
        .join("collections/")
        .map_err(|e| SubscriptionError::Remote(format!("{root}: collections: {e}")))?;
    let doc = json(url.as_str(), &remote.document(url.as_str(), &[]).await?)?;
    let all: Vec<&serde_json::Value> =
        doc.get("collections").and_then(|c| c.as_array()).map(|c| c.iter().collect()).unwrap_or_default();
    let field = |c: &serde_json::Value, k: &str| c.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let wanted = wanted.trim();
    let by_title: Vec<&&serde_json::Value> =
        all.iter().filter(|c| field(c, "title").is_some_and(|t| t.eq_ignore_ascii_case(wanted))).collect();
    let found = all
        .iter()
        .find(|c| field(c, "id").as_deref() == Some(wanted))
        .or_else(|| all.iter().find(|c| field(c, "title").as_deref() == Some(wanted)))
        .or(match by_title.as_slice() {
            [only] => Some(*only),
            _ => None,
        });
    let Some(found) = found else {
        let titles: Vec<String> =
            all.iter().filter_map(|c| field(c, "title")).map(|t| format!("'{t}'")).collect();
        return Err(SubscriptionError::Remote(format!(
            "{url}: no collection '{wanted}' (by id or title) among {}",
            if titles.is_empty() { "none visible to these credentials".into() } else { titles.join(", ") }
        )));
    };
    if found.get("can_read").and_then(|v| v.as_bool()) == Some(false) {
        return Err(SubscriptionError::Remote(format!(
            "{url}: the collection '{wanted}' may not be read with these credentials"
        )));
    }
    let id =
        field(found, "id").filter(|id| !id.is_empty() && !id.contains(['/', '?', '#'])).ok_or_else(|| {
            SubscriptionError::Remote(format!("{url}: the collection '{wanted}' has no usable id"))
        })?;
    url.join(&format!("{id}/objects/"))
        .map_err(|e| SubscriptionError::Remote(format!("{url}: collection {id}: {e}")))
}

/// One poll of a TAXII 2.1 subscription: every page the remote has after the cursor.
pub(crate) async fn poll(w: &Worker) -> Result<(), SubscriptionError> {
    let cfg = w.cfg();
    let remote = Remote { client: w.client()?, auth: w.auth()? };
    let url = parse_url(&cfg.url).map_err(SubscriptionError::Config)?;
    let root = api_root(&remote, &url).await?;
    let objects_url = collection(&remote, &root, &cfg.collection).await?;
    let mut cursor = Cursor::read(w.cursor().await?.as_deref());
    let limit = w.page_size().to_string();
    // A remote that keeps saying "more" without moving on must not hold the task forever.
    let mut pages_left: u32 = 100_000;
    // A remote that refuses the `next` it has just given would walk the first page forever.
    let mut walks_left: u32 = 3;
    loop {
        pages_left = pages_left.checked_sub(1).ok_or_else(|| {
            SubscriptionError::Remote(format!("{objects_url}: more than 100000 pages in one poll"))
        })?;
        let mut query = vec![("limit", limit.clone())];
        if !cfg.types.is_empty() {
            query.push(("match[type]", cfg.types.join(",")));
        }
        if let Some(after) = &cursor.added_after {
            query.push(("added_after", after.clone()));
        }
        if let Some(next) = &cursor.next {
            query.push(("next", next.clone()));
        }
        let response = remote.get(objects_url.as_str(), &query).await?;
        if cursor.next.is_some() && matches!(response.status, 400 | 404 | 410 | 416 | 422) {
            // The remote forgot its `next` (restarted, expired): the walk starts again from its
            // own `added_after`. Objects sharing one `date_added` may straddle a page boundary,
            // so going on from the newest one taken could skip some; walking again only brings
            // duplicates, which change nothing.
            tracing::info!(subscription = %cfg.name, status = response.status, "the remote no longer knows its next; walking again from added_after");
            walks_left = walks_left.checked_sub(1).ok_or_else(|| {
                SubscriptionError::Remote(format!(
                    "GET {objects_url}: HTTP {} to the remote's own next, again and again",
                    response.status
                ))
            })?;
            cursor.next = None;
            w.set_cursor(cursor.text()).await?;
            continue;
        }
        check(objects_url.as_str(), &response)?;
        let envelope: Envelope<'_> = serde_json::from_slice(&response.body).map_err(|e| {
            SubscriptionError::Remote(format!("GET {objects_url}: not a TAXII envelope: {e}"))
        })?;
        let mut repaired = 0;
        let raws: Vec<String> = envelope
            .objects
            .unwrap_or_default()
            .iter()
            .map(|r| match repair_spec_version(r.get()) {
                Some(fixed) => {
                    repaired += 1;
                    fixed
                }
                None => r.get().to_string(),
            })
            .collect();
        if repaired > 0 {
            tracing::info!(subscription = %cfg.name, repaired, "objects whose spec_version was their type read as 2.1 (an OpenTAXII 0.9.3 defect)");
        }
        let last_added = match response.header("X-TAXII-Date-Added-Last") {
            Some(last) if TaxiiTimestamp::parse(last.trim()).is_ok() => Some(last.trim().to_string()),
            _ if raws.is_empty() => None,
            _ => newest_in_manifest(&remote, &objects_url, &raws).await?,
        };
        let before = cursor.clone();
        if let Some(last) = &last_added {
            cursor.raise_newest(last);
        }
        let next = envelope.next.filter(|n| !n.is_empty() && n.len() <= 4096);
        let more = envelope.more && (next.is_some() || cursor.newest != before.newest);
        match (envelope.more, &next) {
            (true, Some(n)) => cursor.next = Some(n.clone()),
            // Paging by added_after alone (§3.4.2 allows it), or the end.
            _ => cursor.finish_walk(),
        }
        let count = raws.len();
        if count > 0 || cursor != before {
            let outcome = w.store_page(raws, cursor.text()).await?;
            tracing::debug!(subscription = %cfg.name, count, taken = outcome.taken, duplicates = outcome.duplicates, rejected = outcome.rejected.len(), "page stored");
        }
        if !more {
            if envelope.more {
                tracing::warn!(subscription = %cfg.name, "the remote says more but gives neither next nor a later X-TAXII-Date-Added-Last: the poll ends here");
            }
            return Ok(());
        }
    }
}

/// OpenTAXII 0.9.3 serves every object with its `type` in `spec_version` (it stores the object
/// without its `spec_version` and writes `obj.type` there). A TAXII 2.1 collection serves STIX
/// 2.1 only, so such an object is read as `2.1`; anything else in it is kept and validated as
/// sent. `None`: nothing to repair.
fn repair_spec_version(raw: &str) -> Option<String> {
    let mut value: serde_json::Value = serde_json::from_str(raw).ok()?;
    let object = value.as_object_mut()?;
    let kind = object.get("type")?.as_str()?;
    if object.get("spec_version")?.as_str()? != kind || kind == "2.1" {
        return None;
    }
    object.insert("spec_version".into(), serde_json::Value::String("2.1".into()));
    serde_json::to_string(&value).ok()
}

/// The newest `date_added` of the objects of a page, read from the manifest (§5.3) for a
/// remote that sends no `X-TAXII-Date-Added-Last`: the records of exactly the versions taken.
async fn newest_in_manifest(
    remote: &Remote,
    objects_url: &url::Url,
    raws: &[String],
) -> Result<Option<String>, SubscriptionError> {
    #[derive(Deserialize)]
    struct Versioned {
        id: Option<String>,
        modified: Option<String>,
        created: Option<String>,
    }
    let mut taken: Vec<(String, Option<i64>)> = Vec::new();
    for raw in raws {
        if let Ok(v) = serde_json::from_str::<Versioned>(raw)
            && let Some(id) = v.id
        {
            let version =
                v.modified.or(v.created).and_then(|t| TaxiiTimestamp::parse(&t).ok()).map(|t| t.as_micros());
            taken.push((id, version));
        }
    }
    if taken.is_empty() {
        return Ok(None);
    }
    let manifest = objects_url
        .join("../manifest/")
        .map_err(|e| SubscriptionError::Remote(format!("{objects_url}: manifest: {e}")))?;
    let ids: Vec<&str> = taken.iter().map(|(id, _)| id.as_str()).collect();
    let query = [("match[id]", ids.join(",")), ("match[version]", "all".to_string())];
    let doc = json(manifest.as_str(), &remote.document(manifest.as_str(), &query).await?)?;
    let mut newest: Option<(i64, String)> = None;
    for record in doc.get("objects").and_then(|o| o.as_array()).into_iter().flatten() {
        let text = |k: &str| record.get(k).and_then(|v| v.as_str());
        let (Some(id), Some(added)) = (text("id"), text("date_added")) else { continue };
        let version = text("version").and_then(|v| TaxiiTimestamp::parse(v).ok()).map(|t| t.as_micros());
        let ours = taken.iter().any(|(i, v)| i == id && (v.is_none() || *v == version));
        if let (true, Ok(at)) = (ours, TaxiiTimestamp::parse(added)) {
            let at = at.as_micros();
            if newest.as_ref().is_none_or(|(n, _)| at > *n) {
                newest = Some((at, added.to_string()));
            }
        }
    }
    Ok(newest.map(|(_, text)| text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry_after: Option<&str>) -> Response {
        Response {
            status,
            content_type: Some("application/taxii+json;version=2.1".into()),
            headers: retry_after
                .map(|v| vec![("retry-after".to_string(), v.to_string())])
                .unwrap_or_default(),
            body: br#"{"title": "Too many requests"}"#.to_vec(),
        }
    }

    #[test]
    fn a_throttled_or_busy_remote_is_asked_again_when_it_says() {
        let later = |r: &Response| match check("https://x.test/", r) {
            Err(SubscriptionError::Later { retry_after, message }) => {
                assert!(message.contains(&format!("HTTP {}", r.status)), "{message}");
                Some(retry_after)
            }
            Err(_) => None,
            Ok(()) => panic!("an error status passed"),
        };
        assert_eq!(later(&answer(429, Some("7"))), Some(Duration::from_secs(7)));
        assert_eq!(later(&answer(503, Some(" 120 "))), Some(Duration::from_secs(120)));
        let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(90));
        let from_date = later(&answer(429, Some(&date))).expect("an HTTP-date");
        assert!(from_date > Duration::from_secs(80) && from_date <= Duration::from_secs(90), "{from_date:?}");
        // A date in the past: come back now (the back-off still applies).
        assert_eq!(later(&answer(429, Some("Sun, 06 Nov 1994 08:49:37 GMT"))), Some(Duration::ZERO));
        // No usable header, or a status that does not mean "later": an ordinary failure.
        assert_eq!(later(&answer(429, None)), None);
        assert_eq!(later(&answer(429, Some("soon"))), None);
        assert_eq!(later(&answer(401, Some("5"))), None);
        // However far off the remote says, at most an hour.
        let far =
            SubscriptionError::Later { message: String::new(), retry_after: Duration::from_secs(86_400) };
        assert_eq!(far.retry_after(), Some(super::super::MAX_RETRY_AFTER));
    }

    #[test]
    fn the_cursor_moves_forward_only() {
        let mut c = Cursor::default();
        c.raise_newest("2026-12-07T00:00:01.5Z");
        c.raise_newest("2026-12-07T00:00:01Z");
        c.raise_newest("not a time");
        assert_eq!(c.newest.as_deref(), Some("2026-12-07T00:00:01.5Z"));
        c.next = Some("n1".into());
        c.finish_walk();
        assert_eq!((c.next, c.added_after.as_deref()), (None, Some("2026-12-07T00:00:01.5Z")));
    }

    #[test]
    fn a_cursor_that_is_not_ours_starts_over() {
        assert_eq!(Cursor::read(Some("garbage")), Cursor::default());
        assert_eq!(Cursor::read(None), Cursor::default());
        let c =
            Cursor { added_after: Some("2026-01-01T00:00:00Z".into()), next: Some("x".into()), newest: None };
        assert_eq!(Cursor::read(Some(&c.text())), c);
    }

    #[test]
    fn an_envelope_keeps_each_object_as_sent() {
        let body = br#"{"more": true, "next": "abc", "objects": [{"type": "x", "id":  "y"}]}"#;
        let e: Envelope<'_> = serde_json::from_slice(body).expect("envelope");
        assert!(e.more);
        assert_eq!(e.objects.expect("objects")[0].get(), r#"{"type": "x", "id":  "y"}"#);
        let empty: Envelope<'_> = serde_json::from_slice(b"{}").expect("empty");
        assert!(!empty.more && empty.objects.is_none());
    }

    #[test]
    fn only_a_spec_version_that_is_the_type_is_repaired() {
        let fixed = repair_spec_version(r#"{"type": "indicator", "spec_version": "indicator", "id": "x"}"#)
            .expect("repaired");
        let v: serde_json::Value = serde_json::from_str(&fixed).expect("json");
        assert_eq!((v["spec_version"].as_str(), v["id"].as_str()), (Some("2.1"), Some("x")));
        assert_eq!(repair_spec_version(r#"{"type": "indicator", "spec_version": "2.1"}"#), None);
        assert_eq!(repair_spec_version(r#"{"type": "indicator", "spec_version": "2.0"}"#), None);
        assert_eq!(repair_spec_version(r#"{"type": "indicator"}"#), None);
        assert_eq!(repair_spec_version("[1]"), None);
    }

    #[test]
    fn remote_errors_say_what_the_remote_said() {
        let r = Response {
            status: 401,
            content_type: Some(TAXII_MEDIA.into()),
            headers: vec![],
            body: br#"{"title": "Unauthorized", "description": "bad token"}"#.to_vec(),
        };
        let e = check("https://x/", &r).expect_err("401").to_string();
        assert!(
            e.contains("HTTP 401") && e.contains("refused the credentials") && e.contains("bad token"),
            "{e}"
        );
        let html =
            Response { status: 200, content_type: Some("text/html".into()), headers: vec![], body: vec![] };
        assert!(check("https://x/", &html).expect_err("html").to_string().contains("not a TAXII response"));
    }
}
