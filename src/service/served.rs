//! What the TAXII feeds served (the dashboard's "last day"): each read (objects, manifest,
//! object, versions) is counted in memory, per collection and hour, and the counts are added to
//! the database every few seconds, so a poll never waits for a write and every instance's
//! traffic adds up. Counts not yet flushed when a process dies are lost: a statistic, not a
//! record.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::db::{self, Db};

const HOUR_US: i64 = 3_600_000_000;

/// Counts kept since the last flush: (collection id, hour start in micros) → (requests, objects).
#[derive(Debug, Default)]
pub struct Served {
    pending: Mutex<HashMap<(String, i64), (i64, i64)>>,
}

impl Served {
    /// One read of `collection_id` that returned `objects` objects or manifest records.
    pub fn record(&self, collection_id: &str, objects: usize) {
        crate::metrics::global().taxii_read(collection_id, objects);
        let hour = db::now_micros().div_euclid(HOUR_US) * HOUR_US;
        if let Ok(mut p) = self.pending.lock() {
            let e = p.entry((collection_id.to_string(), hour)).or_insert((0, 0));
            e.0 += 1;
            e.1 += i64::try_from(objects).unwrap_or(i64::MAX);
        }
    }

    fn take(&self) -> Vec<(String, i64, i64, i64)> {
        let Ok(mut p) = self.pending.lock() else { return Vec::new() };
        p.drain().map(|((c, h), (r, o))| (c, h, r, o)).collect()
    }

    /// Adds the counts to the database (on failure they are put back for the next flush).
    pub async fn flush(&self, db: &Db) {
        let counts = self.take();
        if counts.is_empty() {
            return;
        }
        let kept = counts.clone();
        if let Err(e) = db.run(move |conn| db::served::add(conn, &counts)).await {
            tracing::warn!("cannot store TAXII traffic counts: {e}");
            if let Ok(mut p) = self.pending.lock() {
                for (c, h, r, o) in kept {
                    let e = p.entry((c, h)).or_insert((0, 0));
                    e.0 += r;
                    e.1 += o;
                }
            }
        }
    }

    /// Flushes every `interval`; forgets counts older than a week once an hour.
    pub async fn flush_loop(self: std::sync::Arc<Self>, db: Db, interval: Duration) {
        let mut tick = tokio::time::interval(interval);
        let mut last_prune = None::<std::time::Instant>;
        loop {
            tick.tick().await;
            self.flush(&db).await;
            if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
                last_prune = Some(std::time::Instant::now());
                let before = db::now_micros() - 7 * 24 * HOUR_US;
                if let Err(e) = db.run(move |conn| db::served::prune(conn, before)).await {
                    tracing::warn!("cannot prune TAXII traffic counts: {e}");
                }
            }
        }
    }
}

/// Requests and objects served per collection id in the last 24 hours (whole hours: the hour
/// that began 24 hours ago counts).
pub async fn last_day(db: &Db) -> Result<Vec<(String, i64, i64)>, db::DbError> {
    let since = (db::now_micros() - 24 * HOUR_US).div_euclid(HOUR_US) * HOUR_US;
    db.run(move |conn| db::served::since(conn, since)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_collection_and_hour() {
        let s = Served::default();
        s.record("a", 100);
        s.record("a", 5);
        s.record("b", 0);
        let mut taken = s.take();
        taken.sort();
        assert_eq!(taken.len(), 2);
        assert_eq!((taken[0].0.as_str(), taken[0].2, taken[0].3), ("a", 2, 105));
        assert_eq!((taken[1].0.as_str(), taken[1].2, taken[1].3), ("b", 1, 0));
        assert_eq!(taken[0].1 % HOUR_US, 0, "hours start on the hour");
        assert!(s.take().is_empty(), "taken once");
    }
}
