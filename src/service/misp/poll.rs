//! Polling a MISP feed (what MISP itself does in `Feed::getNewEventUuids`): read
//! `manifest.json` (event UUID → its metadata and `timestamp`), fetch `<uuid>.json` of each
//! event that is new or whose timestamp grew since the cursor, and hand the events back as sent
//! for `import_document`. The cursor is opaque text for the caller to store: the timestamp last
//! read of every event the manifest lists, so a restart resumes without re-reading anything,
//! an event that failed is tried again next time, and events that left the manifest are
//! forgotten. At most [`MAX_EVENTS_PER_POLL`] events per call (`more` says when others wait).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::net::{HttpClient, NetError};

/// How a feed is fetched: `Auth::Header` sends a MISP-style `Authorization` value as is.
pub type FeedAuth = crate::net::Auth;

/// Most events fetched in one poll.
pub const MAX_EVENTS_PER_POLL: usize = 200;

/// What one poll brought.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedPoll {
    /// New or changed events, each the document of its `<uuid>.json`, oldest change first.
    pub events: Vec<Value>,
    /// Events the manifest lists that could not be fetched or read (UUID or key, reason); they
    /// are tried again at the next poll.
    pub failures: Vec<(String, String)>,
    /// More changed events wait than one poll fetches.
    pub more: bool,
    /// To pass to the next poll.
    pub cursor: String,
}

/// Why a poll brought nothing.
#[derive(Debug, thiserror::Error)]
pub enum MispFeedError {
    #[error("invalid MISP feed URL '{0}': an http:// or https:// URL")]
    Url(String),
    #[error("{url}: {source}")]
    Net { url: String, source: NetError },
    #[error("{url}: HTTP status {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {reason}")]
    Manifest { url: String, reason: String },
}

/// The cursor's stored form.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursor {
    v: u32,
    /// Event UUID → the manifest timestamp read.
    seen: BTreeMap<String, i64>,
}

/// Polls the MISP feed at `base_url` (the URL a MISP administrator would add: the files are
/// `base_url/manifest.json`, `base_url/<uuid>.json`). `cursor` is what the previous poll
/// returned (`None`, or a cursor that cannot be read: from the start).
pub async fn poll_feed(
    client: &HttpClient,
    base_url: &str,
    auth: &FeedAuth,
    cursor: Option<&str>,
) -> Result<FeedPoll, MispFeedError> {
    let base = base_url.trim().trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) || base.contains(['?', '#']) {
        return Err(MispFeedError::Url(super::clip(base_url, 256)));
    }
    let mut seen = match cursor.map(serde_json::from_str::<Cursor>) {
        Some(Ok(c)) if c.v == 1 => c.seen,
        Some(_) => {
            tracing::warn!("MISP feed {base}: unreadable cursor, reading the feed from the start");
            BTreeMap::new()
        }
        None => BTreeMap::new(),
    };
    let manifest_url = format!("{base}/manifest.json");
    let manifest = fetch_json(client, &manifest_url, auth).await?;
    let Value::Object(manifest) = manifest else {
        return Err(MispFeedError::Manifest { url: manifest_url, reason: "not a JSON object".into() });
    };
    let mut failures = Vec::new();
    let mut listed: BTreeMap<String, i64> = BTreeMap::new();
    for (key, entry) in &manifest {
        let Ok(uuid) = Uuid::parse_str(key) else {
            failures.push((super::clip(key, 64), "not an event UUID".to_string()));
            continue;
        };
        listed.insert(uuid.to_string(), timestamp(entry.get("timestamp")));
    }
    // Events that left the manifest are forgotten.
    seen.retain(|uuid, _| listed.contains_key(uuid));
    let mut changed: Vec<(i64, &String)> = listed
        .iter()
        .filter(|(uuid, ts)| seen.get(*uuid).is_none_or(|old| old < *ts))
        .map(|(uuid, ts)| (*ts, uuid))
        .collect();
    changed.sort();
    let more = changed.len() > MAX_EVENTS_PER_POLL;
    let mut events = Vec::new();
    for (ts, uuid) in changed.into_iter().take(MAX_EVENTS_PER_POLL) {
        let url = format!("{base}/{uuid}.json");
        match fetch_json(client, &url, auth).await {
            Ok(doc) => {
                let inner = doc.get("Event").and_then(|e| e.get("uuid")).and_then(Value::as_str);
                if inner.and_then(|u| Uuid::parse_str(u).ok()).map(|u| u.to_string()).as_ref() == Some(uuid) {
                    events.push(doc);
                    seen.insert(uuid.clone(), ts);
                } else {
                    failures.push((
                        uuid.clone(),
                        "the file does not hold this event ({\"Event\": {\"uuid\": …}})".into(),
                    ));
                }
            }
            Err(e) => failures.push((uuid.clone(), e.to_string())),
        }
    }
    let cursor = serde_json::to_string(&Cursor { v: 1, seen }).unwrap_or_default();
    Ok(FeedPoll { events, failures, more, cursor })
}

/// A manifest timestamp: MISP writes strings, PyMISP numbers; anything else is 0.
fn timestamp(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

async fn fetch_json(client: &HttpClient, url: &str, auth: &FeedAuth) -> Result<Value, MispFeedError> {
    let response = client
        .get(url, &[], "application/json", auth)
        .await
        .map_err(|source| MispFeedError::Net { url: url.to_string(), source })?;
    if response.status != 200 {
        return Err(MispFeedError::Status { url: url.to_string(), status: response.status });
    }
    serde_json::from_slice(&response.body)
        .map_err(|e| MispFeedError::Manifest { url: url.to_string(), reason: format!("not JSON: {e}") })
}
