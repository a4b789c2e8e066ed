//! What an operator watches: process-wide counters and histograms in the Prometheus text format
//! (`prometheus-client`), served at `GET /metrics` to an administrator or a `metrics` token, and
//! the request id every response echoes.
//!
//! One registry per process (like the log subscriber): requests are counted where they pass (the
//! HTTP middleware, imports, TAXII pages, operation runs) without threading a handle through every
//! use case; what lives in the database (connector health, pool usage) is read at scrape time.
//! Labels are bounded: a route *group* from the matched pattern (never the raw path), a
//! collection id (a handful, created by administrators), an outcome from a fixed list.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    group: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabel {
    group: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CollectionLabel {
    collection: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectorLabels {
    connector: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SubscriptionLabels {
    subscription: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~8 s: a TAXII page is well under a millisecond, an import of a big email seconds.
    Histogram::new([0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 8.0])
}

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<GroupLabel, Histogram, fn() -> Histogram>,
    taxii_reads: Family<CollectionLabel, Counter>,
    taxii_objects: Family<CollectionLabel, Counter>,
    taxii_ingested: Family<OutcomeLabel, Counter>,
    imports: Family<OutcomeLabel, Counter>,
    commits: Counter,
    runs: Family<RunLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("harpoon");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route group, method and status",
            requests.clone(),
        );
        let latency =
            Family::<GroupLabel, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route group",
            latency.clone(),
        );
        let taxii_reads = Family::<CollectionLabel, Counter>::default();
        registry.register(
            "taxii_reads",
            "TAXII reads (objects, manifest, object, versions pages) per collection",
            taxii_reads.clone(),
        );
        let taxii_objects = Family::<CollectionLabel, Counter>::default();
        registry.register(
            "taxii_objects_served",
            "objects or manifest records served per collection",
            taxii_objects.clone(),
        );
        let taxii_ingested = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "taxii_objects_ingested",
            "objects POSTed over TAXII by outcome (success, failure, pending)",
            taxii_ingested.clone(),
        );
        let imports = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "imports",
            "emails imported by outcome (created, existing, failed)",
            imports.clone(),
        );
        let commits = Counter::default();
        registry.register("commits", "drafts committed into events", commits.clone());
        let runs = Family::<RunLabels, Counter>::default();
        registry.register("operation_runs", "operation runs ended, by operation and outcome", runs.clone());
        Self {
            registry,
            requests,
            latency,
            taxii_reads,
            taxii_objects,
            taxii_ingested,
            imports,
            commits,
            runs,
        }
    }

    /// One HTTP request answered.
    pub fn request(&self, group: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                group: group.into(),
                method: method.into(),
                status: status.to_string(),
            })
            .inc();
        self.latency.get_or_create(&GroupLabel { group: group.into() }).observe(elapsed.as_secs_f64());
    }

    /// One TAXII read of `collection` that returned `objects` objects or records.
    pub fn taxii_read(&self, collection: &str, objects: usize) {
        let label = CollectionLabel { collection: collection.into() };
        self.taxii_reads.get_or_create(&label).inc();
        self.taxii_objects.get_or_create(&label).inc_by(u64::try_from(objects).unwrap_or(u64::MAX));
    }

    /// Objects of one TAXII POST by outcome.
    pub fn taxii_ingested(&self, success: usize, failure: usize, pending: usize) {
        for (outcome, n) in [("success", success), ("failure", failure), ("pending", pending)] {
            if n > 0 {
                self.taxii_ingested
                    .get_or_create(&OutcomeLabel { outcome: outcome.into() })
                    .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
            }
        }
    }

    /// One email imported: `created`, `existing` (the same bytes were imported before) or `failed`.
    pub fn import(&self, outcome: &'static str) {
        self.imports.get_or_create(&OutcomeLabel { outcome: outcome.into() }).inc();
    }

    /// One draft committed.
    pub fn commit(&self) {
        self.commits.inc();
    }

    /// One operation run ended.
    pub fn run_ended(&self, operation: &str, outcome: &str) {
        self.runs.get_or_create(&RunLabels { operation: operation.into(), outcome: outcome.into() }).inc();
    }

    /// The text exposition: the process's metrics, then `live` (read from the database now).
    pub fn render(&self, live: &Live) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        // `encode` ends with `# EOF`; the live gauges go in a registry of their own before it.
        let body = out.trim_end().strip_suffix("# EOF").unwrap_or(&out).to_string();
        let mut extra = String::new();
        encode(&mut extra, &live.registry())?;
        Ok(format!("{body}{extra}"))
    }
}

/// What the scrape reads from the database and the pool at that moment.
#[derive(Debug, Default, Clone)]
pub struct Live {
    /// (open, idle, max) connections of this instance's pool.
    pub pool: (u32, u32, u32),
    /// Per connector: (name, healthy, consecutive failures, seconds since the last success or
    /// -1, messages taken, messages failed).
    pub connectors: Vec<(String, bool, i64, i64, i64, i64)>,
    /// Operation runs by state (queued, running).
    pub runs: Vec<(String, i64)>,
    /// Per enabled subscription: (name, healthy, consecutive failures, seconds since the last
    /// successful poll or -1, objects taken, objects refused).
    pub subscriptions: Vec<(String, bool, i64, i64, i64, i64)>,
}

impl Live {
    fn registry(&self) -> Registry {
        let mut r = Registry::with_prefix("harpoon");
        let pool = Family::<StateLabel, Gauge>::default();
        r.register(
            "db_pool_connections",
            "database pool connections by state (open, idle, max)",
            pool.clone(),
        );
        for (state, n) in [("open", self.pool.0), ("idle", self.pool.1), ("max", self.pool.2)] {
            pool.get_or_create(&StateLabel { state: state.into() }).set(i64::from(n));
        }
        let healthy = Family::<ConnectorLabels, Gauge>::default();
        r.register("connector_healthy", "1 when the connector's last session succeeded", healthy.clone());
        let failures = Family::<ConnectorLabels, Gauge>::default();
        r.register("connector_consecutive_failures", "failed sessions in a row", failures.clone());
        let lag = Family::<ConnectorLabels, Gauge>::default();
        r.register(
            "connector_seconds_since_success",
            "seconds since the connector's last successful pass (-1: never)",
            lag.clone(),
        );
        let taken = Family::<ConnectorLabels, Gauge>::default();
        r.register("connector_messages_taken", "messages the connector stored", taken.clone());
        let failed = Family::<ConnectorLabels, Gauge>::default();
        r.register("connector_messages_failed", "messages the connector could not import", failed.clone());
        for (name, ok, fails, since, t, f) in &self.connectors {
            let l = ConnectorLabels { connector: name.clone() };
            healthy.get_or_create(&l).set(i64::from(*ok));
            failures.get_or_create(&l).set(*fails);
            lag.get_or_create(&l).set(*since);
            taken.get_or_create(&l).set(*t);
            failed.get_or_create(&l).set(*f);
        }
        let s_healthy = Family::<SubscriptionLabels, Gauge>::default();
        r.register(
            "subscription_healthy",
            "1 when the subscription's last poll succeeded",
            s_healthy.clone(),
        );
        let s_failures = Family::<SubscriptionLabels, Gauge>::default();
        r.register("subscription_consecutive_failures", "failed polls in a row", s_failures.clone());
        let s_lag = Family::<SubscriptionLabels, Gauge>::default();
        r.register(
            "subscription_seconds_since_success",
            "seconds since the subscription's last successful poll (-1: never)",
            s_lag.clone(),
        );
        let s_taken = Family::<SubscriptionLabels, Gauge>::default();
        r.register(
            "subscription_objects_taken",
            "objects the subscription stored (each once)",
            s_taken.clone(),
        );
        let s_rejected = Family::<SubscriptionLabels, Gauge>::default();
        r.register(
            "subscription_objects_rejected",
            "objects from the remote that were refused",
            s_rejected.clone(),
        );
        for (name, ok, fails, since, t, f) in &self.subscriptions {
            let l = SubscriptionLabels { subscription: name.clone() };
            s_healthy.get_or_create(&l).set(i64::from(*ok));
            s_failures.get_or_create(&l).set(*fails);
            s_lag.get_or_create(&l).set(*since);
            s_taken.get_or_create(&l).set(*t);
            s_rejected.get_or_create(&l).set(*f);
        }
        let runs = Family::<StateLabel, Gauge>::default();
        r.register("operation_runs_open", "operation runs not ended, by state", runs.clone());
        for (state, n) in &self.runs {
            runs.get_or_create(&StateLabel { state: state.clone() }).set(*n);
        }
        r
    }
}

/// The process's metrics (created on first use).
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// The bounded label of a request: its edge and resource, from the matched route pattern (never
/// the raw path, which would make a series per id).
pub fn route_group(pattern: Option<&str>) -> String {
    let Some(p) = pattern else { return "unmatched".into() };
    let mut segs = p.trim_start_matches('/').split('/').filter(|s| !s.is_empty() && !s.starts_with('{'));
    match segs.next() {
        Some("api") => {
            let _version = segs.next();
            format!("api:{}", segs.next().unwrap_or("root"))
        }
        Some("taxii2") => match p.rsplit('/').find(|s| !s.is_empty() && !s.starts_with('{')) {
            Some("taxii2") => "taxii:discovery".into(),
            Some(last) => format!("taxii:{last}"),
            None => "taxii:api_root".into(),
        },
        Some("ui") => "ui".into(),
        Some(other) => other.to_string(),
        None => "root".into(),
    }
}

/// A request id: the caller's `X-Request-Id` when it is short and plain, else a new one.
pub fn request_id(given: Option<&str>) -> String {
    match given {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
        {
            id.to_string()
        }
        _ => {
            let mut b = [0u8; 12];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
            hex::encode(b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_bounded() {
        assert_eq!(route_group(Some("/api/v1/imports/{id}/raw")), "api:imports");
        assert_eq!(route_group(Some("/taxii2/{root}/collections/{collection}/objects")), "taxii:objects");
        assert_eq!(
            route_group(Some("/taxii2/{root}/collections/{collection}/objects/{object}")),
            "taxii:objects"
        );
        assert_eq!(route_group(Some("/taxii2/{root}/collections")), "taxii:collections");
        assert_eq!(route_group(Some("/taxii2")), "taxii:discovery");
        assert_eq!(route_group(Some("/ui/drafts/{id}")), "ui");
        assert_eq!(route_group(Some("/healthz")), "healthz");
        assert_eq!(route_group(None), "unmatched");
    }

    #[test]
    fn request_ids_are_kept_only_when_plain() {
        assert_eq!(request_id(Some("abc-123")), "abc-123");
        assert_eq!(request_id(Some("x\r\ny")).len(), 24);
        assert_eq!(request_id(Some(&"a".repeat(65))).len(), 24);
        assert_ne!(request_id(None), request_id(None));
    }

    #[test]
    fn the_exposition_is_prometheus_text() {
        let m = Metrics::new();
        m.request("api:imports", "POST", 201, Duration::from_millis(3));
        m.taxii_read("c1", 100);
        m.import("created");
        let live = Live {
            pool: (3, 1, 16),
            connectors: vec![("reports".into(), true, 0, 5, 7, 1)],
            runs: vec![],
            subscriptions: vec![("cert".into(), false, 3, -1, 0, 2)],
        };
        let text = m.render(&live).expect("render");
        assert!(
            text.contains(
                "harpoon_http_requests_total{group=\"api:imports\",method=\"POST\",status=\"201\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("harpoon_taxii_objects_served_total{collection=\"c1\"} 100"), "{text}");
        assert!(text.contains("harpoon_db_pool_connections{state=\"max\"} 16"), "{text}");
        assert!(text.contains("harpoon_connector_messages_taken{connector=\"reports\"} 7"), "{text}");
        assert!(text.contains("harpoon_subscription_healthy{subscription=\"cert\"} 0"), "{text}");
        assert!(text.contains("harpoon_subscription_objects_rejected{subscription=\"cert\"} 2"), "{text}");
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1);
    }
}
