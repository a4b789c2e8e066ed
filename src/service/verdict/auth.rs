//! Sender authentication: `Authentication-Results` (RFC 8601) read by its grammar and trusted only
//! when its authserv-id is one of the organisation's own boundary's (anyone can write the header;
//! the boundary removes or overrides its own id on the way in, RFC 8601 §5), and DKIM signatures
//! verified here (`mail-auth`) through the configured resolver. A check that cannot be made (no
//! resolver, no answer, a timeout) is "unverifiable", never an error.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator};

/// One `method=result` of an Authentication-Results header, with its properties
/// (`header.from`, `smtp.mailfrom`, `header.d`, `header.i`…), lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    pub method: String,
    pub result: String,
    pub props: Vec<(String, String)>,
}

impl MethodResult {
    pub fn prop(&self, name: &str) -> Option<&str> {
        self.props.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// One Authentication-Results header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResultsHeader {
    pub authserv_id: String,
    pub results: Vec<MethodResult>,
}

/// Removes RFC 5322 comments (nested parentheses, quoted pairs), keeping quoted strings.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Parses one header value; `None` when it has no authserv-id (e.g. a header that starts with a
/// method, as some providers write it: such a header cannot be attributed to anyone).
pub fn parse(value: &str) -> Option<AuthResultsHeader> {
    let text = strip_comments(value);
    let mut parts = text.split(';');
    let head = parts.next()?.split_whitespace().next()?.trim().to_lowercase();
    if head.is_empty() || head.contains('=') {
        return None;
    }
    let mut results = Vec::new();
    for part in parts {
        let mut tokens = part.split_whitespace();
        let Some(first) = tokens.next() else { continue };
        let Some((method, result)) = first.split_once('=') else { continue };
        let method = method.split('/').next().unwrap_or_default().to_lowercase();
        if method.is_empty() || method == "none" {
            continue;
        }
        let mut props = Vec::new();
        for t in tokens {
            if let Some((k, v)) = t.split_once('=')
                && k.contains('.')
            {
                props.push((k.to_lowercase(), v.trim_matches('"').to_lowercase()));
            }
        }
        results.push(MethodResult { method, result: result.to_lowercase(), props });
    }
    Some(AuthResultsHeader { authserv_id: head, results })
}

/// The results of headers written by a trusted boundary, topmost first.
pub fn trusted<'a>(headers: &'a [AuthResultsHeader], ids: &[String]) -> Vec<&'a MethodResult> {
    headers
        .iter()
        .filter(|h| ids.iter().any(|id| id.eq_ignore_ascii_case(&h.authserv_id)))
        .flat_map(|h| h.results.iter())
        .collect()
}

/// What the boundary said, reduced to what a verdict needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoundarySays {
    pub dmarc: Option<String>,
    pub spf: Option<String>,
    /// DKIM passes with their signing domain.
    pub dkim_pass: Vec<String>,
    pub dkim_fail: bool,
}

pub fn summarise(results: &[&MethodResult]) -> BoundarySays {
    let mut s = BoundarySays::default();
    for r in results {
        match r.method.as_str() {
            "dmarc" if s.dmarc.is_none() => s.dmarc = Some(r.result.clone()),
            "spf" if s.spf.is_none() => s.spf = Some(r.result.clone()),
            "dkim" if r.result == "pass" => {
                if let Some(d) =
                    r.prop("header.d").or_else(|| r.prop("header.i").map(|i| i.trim_start_matches('@')))
                {
                    s.dkim_pass.push(d.rsplit('@').next().unwrap_or(d).to_string());
                }
            }
            "dkim" if r.result == "fail" => s.dkim_fail = true,
            _ => {}
        }
    }
    s
}

/// A DKIM verification done here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DkimCheck {
    /// No DKIM-Signature header.
    Unsigned,
    /// Verified signatures by these domains.
    Pass(Vec<String>),
    /// A signature whose key was found did not verify (the signed content was changed).
    Fail(Vec<String>),
    /// No key could be read (no resolver, no answer, a timeout, a malformed record).
    Unverifiable(String),
}

/// Verifies DKIM signatures through one resolver, on a runtime of its own so that the (blocking)
/// import path can wait for it; bounded by a timeout per message.
#[derive(Clone)]
pub struct DkimVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    /// Always `Some` until dropped (see `Drop`).
    runtime: Option<tokio::runtime::Runtime>,
    authenticator: MessageAuthenticator,
    timeout: Duration,
    breaker: Breaker,
}

/// Stops asking a resolver that does not answer: after [`Breaker::TRIPS`] checks in a row that
/// got no answer, checks are "unverifiable" without a lookup for [`Breaker::COOL_DOWN`], then one
/// check tries again; each failed try doubles the pause, up to [`Breaker::MAX_COOL_DOWN`]. A
/// resolver outage would otherwise add its timeout to every import.
#[derive(Debug, Default)]
struct Breaker {
    state: std::sync::Mutex<BreakerState>,
}

#[derive(Debug, Default)]
struct BreakerState {
    unanswered_in_row: u32,
    open_until: Option<std::time::Instant>,
    /// Pauses in a row (the next pause is `COOL_DOWN` doubled this many times).
    opened: u32,
}

impl Breaker {
    const TRIPS: u32 = 3;
    const COOL_DOWN: Duration = Duration::from_secs(30);
    const MAX_COOL_DOWN: Duration = Duration::from_secs(600);

    /// `None` when a lookup may be made; else how long until one may.
    fn closed_for(&self, now: std::time::Instant) -> Option<Duration> {
        let mut st = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match st.open_until {
            Some(until) if until > now => Some(until - now),
            Some(_) => {
                // Half-open: this check tries; a failure opens it again at once.
                st.open_until = None;
                st.unanswered_in_row = Self::TRIPS.saturating_sub(1);
                None
            }
            None => None,
        }
    }

    fn answered(&self, answered: bool, now: std::time::Instant) {
        let mut st = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if answered {
            *st = BreakerState::default();
        } else {
            st.unanswered_in_row = st.unanswered_in_row.saturating_add(1);
            if st.unanswered_in_row >= Self::TRIPS {
                let pause = Self::COOL_DOWN.saturating_mul(1 << st.opened.min(5)).min(Self::MAX_COOL_DOWN);
                st.open_until = Some(now + pause);
                st.opened = st.opened.saturating_add(1);
            }
        }
    }
}

impl Drop for Inner {
    /// The last handle may go in an async context (a server stopping): a runtime dropped there
    /// panics, so it is shut down in the background instead.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for DkimVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimVerifier").field("timeout", &self.inner.timeout).finish_non_exhaustive()
    }
}

impl DkimVerifier {
    /// `server`: the DNS server to ask (`None`: the system's, from `/etc/resolv.conf`).
    pub fn new(server: Option<SocketAddr>, timeout: Duration) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("harpoon-dkim")
            .build()
            .map_err(|e| format!("DKIM runtime: {e}"))?;
        let mut opts = ResolverOpts::default();
        opts.timeout = timeout;
        opts.attempts = 1;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.ndots = 0;
        let builder = match server {
            Some(addr) => {
                let servers = NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_parts(None, Vec::new(), servers),
                    TokioConnectionProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio()
                .map_err(|e| format!("cannot read the system resolver configuration: {e}"))?,
        };
        let resolver = builder.with_options(opts).build();
        Ok(Self {
            inner: Arc::new(Inner {
                runtime: Some(runtime),
                authenticator: MessageAuthenticator(resolver),
                timeout,
                breaker: Breaker::default(),
            }),
        })
    }

    /// Parses the `IP:port` or `IP` of a resolver setting; empty: the system resolver.
    pub fn server_of(text: &str) -> Result<Option<SocketAddr>, String> {
        match text.trim() {
            "" => Ok(None),
            t => t
                .parse::<SocketAddr>()
                .or_else(|_| t.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                .map(Some)
                .map_err(|_| format!("'{t}' is not an IP address or IP:port")),
        }
    }

    /// Verifies the signatures of one RFC 5322 message (its raw bytes).
    pub fn verify(&self, raw: &[u8]) -> DkimCheck {
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            return DkimCheck::Unverifiable("the message could not be parsed for DKIM".into());
        };
        if message.dkim_headers.is_empty() {
            return DkimCheck::Unsigned;
        }
        let inner = &self.inner;
        if let Some(wait) = inner.breaker.closed_for(std::time::Instant::now()) {
            return DkimCheck::Unverifiable(format!(
                "the resolver did not answer the last {} checks; not asked again for {} s",
                Breaker::TRIPS,
                wait.as_secs().max(1)
            ));
        }
        // Several signatures share one timeout's worth (the lookups of one message run in turn;
        // a resolver slower than that for one message is as good as none for imports).
        let budget = inner.timeout;
        // On a thread of its own: the caller may be a blocking-pool thread or a plain one, and
        // a runtime cannot be driven from inside another's async context.
        let outputs = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    inner.runtime.as_ref().map(|runtime| {
                        runtime.block_on(async {
                            tokio::time::timeout(budget, inner.authenticator.verify_dkim(&message)).await
                        })
                    })
                })
                .join()
        });
        let Ok(Some(Ok(outputs))) = outputs else {
            inner.breaker.answered(false, std::time::Instant::now());
            return DkimCheck::Unverifiable("DNS did not answer in time".into());
        };
        // A lookup error (no answer, refused, a timeout) says nothing of the resolver's health
        // only when some other lookup of the same check was answered.
        let lookups: Vec<bool> = outputs
            .iter()
            .filter_map(|o| match o.result() {
                DkimResult::TempError(mail_auth::Error::DnsError(_)) => Some(false),
                DkimResult::Pass | DkimResult::Fail(_) | DkimResult::PermError(_) => Some(true),
                _ => None,
            })
            .collect();
        if !lookups.is_empty() {
            inner.breaker.answered(lookups.contains(&true), std::time::Instant::now());
        }
        let mut pass = Vec::new();
        let mut fail = Vec::new();
        let mut why = Vec::new();
        for o in &outputs {
            let domain = o.signature().map(|s| s.d.to_lowercase()).unwrap_or_default();
            match o.result() {
                DkimResult::Pass => pass.push(domain),
                // The signed content changed, or the signature is false: a real failure, whatever
                // the variant it comes in (mail-auth reports a body hash mismatch as neutral).
                DkimResult::Fail(e) | DkimResult::Neutral(e) | DkimResult::PermError(e)
                    if matches!(
                        e,
                        mail_auth::Error::FailedBodyHashMatch
                            | mail_auth::Error::FailedVerification
                            | mail_auth::Error::FailedAuidMatch
                    ) =>
                {
                    fail.push(domain)
                }
                // No key, no answer, an expired signature: nothing learnt about the message.
                DkimResult::Fail(e)
                | DkimResult::Neutral(e)
                | DkimResult::PermError(e)
                | DkimResult::TempError(e) => why.push(format!("{domain}: {e}")),
                DkimResult::None => {}
            }
        }
        if !pass.is_empty() {
            DkimCheck::Pass(pass)
        } else if !fail.is_empty() {
            DkimCheck::Fail(fail)
        } else {
            DkimCheck::Unverifiable(if why.is_empty() {
                "no verifiable signature".into()
            } else {
                why.join("; ")
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rfc8601_headers_with_comments_and_versions() {
        let h = parse(
            "mx.example.org 1; spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=bounce@news.example.com;\r\n \
             dkim=pass header.d=news.example.com header.s=s1; dmarc=pass (p=reject) header.from=example.com",
        )
        .unwrap();
        assert_eq!(h.authserv_id, "mx.example.org");
        assert_eq!(h.results.len(), 3);
        assert_eq!(h.results[0].prop("smtp.mailfrom"), Some("bounce@news.example.com"));
        assert_eq!(h.results[1].prop("header.d"), Some("news.example.com"));
        assert_eq!(summarise(&h.results.iter().collect::<Vec<_>>()).dmarc.as_deref(), Some("pass"));
        assert_eq!(parse("example.net; none").unwrap().results, vec![]);
    }

    #[test]
    fn the_breaker_opens_after_unanswered_checks_and_tries_again_after_the_cool_down() {
        let b = Breaker::default();
        let t0 = std::time::Instant::now();
        for _ in 0..Breaker::TRIPS - 1 {
            assert_eq!(b.closed_for(t0), None);
            b.answered(false, t0);
        }
        b.answered(true, t0);
        assert_eq!(b.closed_for(t0), None, "an answer resets the count");
        for _ in 0..Breaker::TRIPS {
            b.answered(false, t0);
        }
        assert!(b.closed_for(t0 + Duration::from_secs(1)).is_some());
        let later = t0 + Breaker::COOL_DOWN + Duration::from_secs(1);
        assert_eq!(b.closed_for(later), None, "half-open: one check may try");
        b.answered(false, later);
        let pause = b.closed_for(later).expect("a failed try opens it again at once");
        assert!(pause > Breaker::COOL_DOWN, "for longer: {pause:?}");
        let much_later = later + Breaker::MAX_COOL_DOWN + Duration::from_secs(1);
        assert_eq!(b.closed_for(much_later), None);
        b.answered(true, much_later);
        for _ in 0..Breaker::TRIPS {
            b.answered(false, much_later);
        }
        assert!(
            b.closed_for(much_later).is_some_and(|p| p <= Breaker::COOL_DOWN),
            "an answer resets the pause"
        );
    }

    #[test]
    fn a_header_without_authserv_id_is_not_attributed() {
        assert_eq!(parse("spf=pass (sender IP is 1.2.3.4) smtp.mailfrom=x.example; dkim=none"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn only_the_boundarys_own_results_count() {
        let forged = parse("mx.example.org; dmarc=pass header.from=bank.example").unwrap();
        let attacker = parse("evil.example; dmarc=pass header.from=bank.example").unwrap();
        let real = parse("boundary.corp.example; dmarc=fail header.from=bank.example").unwrap();
        let headers = vec![attacker, real, forged];
        let ids = vec!["boundary.corp.example".to_string()];
        let said = summarise(&trusted(&headers, &ids));
        assert_eq!(said.dmarc.as_deref(), Some("fail"));
        assert_eq!(summarise(&trusted(&headers, &[])), BoundarySays::default());
    }
}
