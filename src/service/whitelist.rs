//! Whitelist rules: exact value, CIDR range, domain suffix, regex; per observable type or all.
//! Matching is pure ([`Whitelist::matches`]); the service functions preview a rule against the
//! stored indicators, save it (whitelisting what it matches, revoking published ones), and ship
//! the defaults (non-public IP ranges, the organisation's own domains).

use std::net::IpAddr;

use super::ServiceError;
use super::indicators::{self, Status};
use crate::db::indicators::{IndicatorQuery, IndicatorRow};
use crate::db::whitelist::{self as store, NewRule, RuleRow};
use crate::db::{DbConn, imports, now_micros, write_tx};
use crate::extract::{IndicatorValue, ObservableKind};
use crate::service::ServiceContext;

/// How a rule matches.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// The canonical value, exactly.
    Exact(String),
    /// Addresses in a range: IPs, and URLs whose host is an IP.
    Cidr { network: IpAddr, prefix: u8 },
    /// A domain and everything under it: domains, URL hosts, email address domains.
    Suffix(String),
    /// A regular expression over the canonical value (linear time: the `regex` crate).
    Regex(regex::Regex),
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: i64,
    pub applies_to: Option<ObservableKind>,
    pub matcher: Matcher,
    pub reason: String,
}

/// What an analyst asks for.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// `exact`, `cidr`, `suffix` or `regex`.
    pub match_kind: String,
    pub pattern: String,
    /// An observable type, or `None` for all.
    pub applies_to: Option<ObservableKind>,
    pub reason: String,
}

const MAX_REGEX: usize = 1 << 20;

impl Rule {
    /// Compiles a rule; the pattern is checked and normalised (a suffix rule may be written
    /// `*.example.com`; an exact rule with a type is canonicalised like a value of that type).
    pub fn compile(id: i64, spec: &RuleSpec) -> Result<Self, ServiceError> {
        let pattern = spec.pattern.trim();
        if pattern.is_empty() {
            return Err(ServiceError::Invalid("a whitelist rule needs a pattern".into()));
        }
        let matcher = match spec.match_kind.as_str() {
            "exact" => Matcher::Exact(match spec.applies_to {
                Some(kind) => {
                    IndicatorValue::parse(kind, pattern)
                        .map_err(|e| {
                            ServiceError::Invalid(format!(
                                "'{pattern}' is not a valid {}: {e}",
                                kind.as_str()
                            ))
                        })?
                        .value
                }
                None => pattern.to_lowercase(),
            }),
            "cidr" => {
                let (addr, prefix) = parse_cidr(pattern)?;
                Matcher::Cidr { network: addr, prefix }
            }
            "suffix" => {
                let domain = pattern.trim_start_matches("*.").trim_start_matches('.').trim_end_matches('.');
                let parsed = IndicatorValue::parse(ObservableKind::Domain, domain)
                    .map_err(|e| ServiceError::Invalid(format!("'{pattern}' is not a domain suffix: {e}")))?;
                Matcher::Suffix(parsed.value)
            }
            "regex" => Matcher::Regex(
                regex::RegexBuilder::new(pattern)
                    .size_limit(MAX_REGEX)
                    .build()
                    .map_err(|e| ServiceError::Invalid(format!("invalid regex: {e}")))?,
            ),
            other => {
                return Err(ServiceError::Invalid(format!(
                    "unknown match kind '{other}' (use exact, cidr, suffix or regex)"
                )));
            }
        };
        Ok(Self { id, applies_to: spec.applies_to, matcher, reason: spec.reason.clone() })
    }

    /// The stored pattern text (normalised).
    pub fn pattern_text(&self) -> String {
        match &self.matcher {
            Matcher::Exact(v) | Matcher::Suffix(v) => v.clone(),
            Matcher::Cidr { network, prefix } => format!("{network}/{prefix}"),
            Matcher::Regex(r) => r.as_str().to_string(),
        }
    }

    pub fn match_kind(&self) -> &'static str {
        match self.matcher {
            Matcher::Exact(_) => "exact",
            Matcher::Cidr { .. } => "cidr",
            Matcher::Suffix(_) => "suffix",
            Matcher::Regex(_) => "regex",
        }
    }

    /// Whether the rule matches a canonical value of this kind.
    pub fn matches(&self, kind: ObservableKind, value: &str) -> bool {
        if self.applies_to.is_some_and(|k| k != kind) {
            return false;
        }
        match &self.matcher {
            Matcher::Exact(v) => v == value,
            Matcher::Regex(r) => r.is_match(value),
            Matcher::Cidr { network, prefix } => {
                let host = match kind {
                    ObservableKind::Ipv4 | ObservableKind::Ipv6 => Some(value.to_string()),
                    ObservableKind::Url => crate::extract::bundle::url_host(value),
                    _ => None,
                };
                host.and_then(|h| h.parse::<IpAddr>().ok()).is_some_and(|ip| in_cidr(ip, *network, *prefix))
            }
            Matcher::Suffix(domain) => {
                let host = match kind {
                    ObservableKind::Domain => Some(value.to_string()),
                    ObservableKind::Url => crate::extract::bundle::url_host(value),
                    ObservableKind::Email => value.rsplit_once('@').map(|(_, d)| d.to_string()),
                    _ => None,
                };
                host.is_some_and(|h| {
                    h == *domain
                        || (h.len() > domain.len() && h.ends_with(domain.as_str()) && {
                            let cut = h.len() - domain.len() - 1;
                            h.as_bytes().get(cut) == Some(&b'.')
                        })
                })
            }
        }
    }
}

fn parse_cidr(text: &str) -> Result<(IpAddr, u8), ServiceError> {
    let bad = || ServiceError::Invalid(format!("'{text}' is not a CIDR range (e.g. 10.0.0.0/8)"));
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a.parse::<IpAddr>().map_err(|_| bad())?, p.parse::<u8>().map_err(|_| bad())?),
        None => {
            let a = text.parse::<IpAddr>().map_err(|_| bad())?;
            (a, if a.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(bad());
    }
    Ok((mask(addr, prefix), prefix))
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            IpAddr::V6((bits & m).into())
        }
    }
}

fn in_cidr(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    ip.is_ipv4() == network.is_ipv4() && mask(ip, prefix) == network
}

/// A set of compiled rules.
#[derive(Debug, Clone, Default)]
pub struct Whitelist {
    pub rules: Vec<Rule>,
}

impl Whitelist {
    /// The first rule matching, if any.
    pub fn matches(&self, kind: ObservableKind, value: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.matches(kind, value))
    }
}

fn spec_of(row: &RuleRow) -> RuleSpec {
    RuleSpec {
        match_kind: row.match_kind.clone(),
        pattern: row.pattern.clone(),
        applies_to: ObservableKind::from_name(&row.applies_to),
        reason: row.reason.clone(),
    }
}

/// Loads and compiles every stored rule (a rule that no longer compiles is skipped and logged).
pub fn load(conn: &mut DbConn) -> Result<Whitelist, ServiceError> {
    let rules = store::list(conn)?
        .iter()
        .filter_map(|row| match Rule::compile(row.id, &spec_of(row)) {
            Ok(rule) => Some(rule),
            Err(e) => {
                tracing::warn!(rule = row.id, "whitelist rule skipped: {e}");
                None
            }
        })
        .collect();
    Ok(Whitelist { rules })
}

/// Non-public address ranges (RFC 1918, 6598, 5737, 3849, loopback, link-local, multicast,
/// reserved), the organisation's own domains and redirect wrappers: shipped rules, re-created
/// at every start.
pub fn ensure_defaults(conn: &mut DbConn, own_domains: &[String]) -> Result<usize, ServiceError> {
    const RANGES: &[(&str, &str)] = &[
        ("0.0.0.0/8", "unspecified (RFC 1122)"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "shared address space (RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation (RFC 5737)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("198.18.0.0/15", "benchmarking (RFC 2544)"),
        ("198.51.100.0/24", "documentation (RFC 5737)"),
        ("203.0.113.0/24", "documentation (RFC 5737)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fc00::/7", "unique local (RFC 4193)"),
        ("fe80::/10", "link-local"),
        ("ff00::/8", "multicast"),
        ("2001:db8::/32", "documentation (RFC 3849)"),
    ];
    let now = now_micros();
    let own: Vec<(String, String)> = own_domains
        .iter()
        .filter_map(|d| IndicatorValue::parse(ObservableKind::Domain, d.trim().trim_start_matches("*.")).ok())
        .map(|v| (v.value, "the organisation's own domain".to_string()))
        .collect();
    let mut rules: Vec<NewRule<'_>> = RANGES
        .iter()
        .map(|(range, why)| NewRule {
            match_kind: "cidr",
            pattern: range,
            applies_to: "any",
            reason: why,
            author: "harpoon",
            builtin: true,
            created_at: now,
        })
        .collect();
    rules.extend(own.iter().map(|(domain, why)| NewRule {
        match_kind: "suffix",
        pattern: domain,
        applies_to: "any",
        reason: why,
        author: "harpoon",
        builtin: true,
        created_at: now,
    }));
    rules.extend(WRAPPER_RULES.iter().map(|(kind, pattern, applies_to, why)| NewRule {
        match_kind: kind,
        pattern,
        applies_to,
        reason: why,
        author: "harpoon",
        builtin: true,
        created_at: now,
    }));
    Ok(store::insert_missing(conn, &rules)?)
}

/// Redirectors and link-rewriting gateways (README, Extraction: wrappers): the wrapper is
/// context; extraction proposes the target it hides. Gateway hosts serve nothing else; on
/// Google, LinkedIn and Facebook only the redirect path is a wrapper. A Mimecast link cannot be
/// decoded offline, so only its host is whitelisted and the link itself stays proposed.
const WRAPPER_RULES: &[(&str, &str, &str, &str)] = &[
    (
        "suffix",
        "safelinks.protection.outlook.com",
        "any",
        "link-rewriting gateway (Microsoft Safe Links); its target is proposed",
    ),
    (
        "suffix",
        "urldefense.proofpoint.com",
        "any",
        "link-rewriting gateway (Proofpoint URL Defense); its target is proposed",
    ),
    (
        "suffix",
        "urldefense.com",
        "any",
        "link-rewriting gateway (Proofpoint URL Defense v3); its target is proposed",
    ),
    (
        "suffix",
        "linkprotect.cudasvc.com",
        "any",
        "link-rewriting gateway (Barracuda); its target is proposed",
    ),
    (
        "suffix",
        "secure-web.cisco.com",
        "any",
        "link-rewriting gateway (Cisco Secure Email); its target is proposed",
    ),
    (
        "regex",
        r"^protect-[a-z0-9-]+\.mimecast\.com$",
        "domain",
        "link-rewriting gateway host (Mimecast); its links stay proposed (not decodable offline)",
    ),
    (
        "regex",
        r"^https?://(www\.)?google\.[a-z]{2,3}(\.[a-z]{2})?/url\?",
        "url",
        "redirect wrapper (Google /url); its target is proposed",
    ),
    (
        "regex",
        r"^https?://([a-z0-9-]+\.)?linkedin\.com/redir/redirect\?",
        "url",
        "redirect wrapper (LinkedIn); its target is proposed",
    ),
    (
        "regex",
        r"^https?://(l|lm)\.facebook\.com/l\.php\?",
        "url",
        "redirect wrapper (Facebook); its target is proposed",
    ),
];

/// The stored indicators a rule would whitelist (not already whitelisted), at most `limit`.
pub fn preview(
    conn: &mut DbConn,
    rule: &Rule,
    limit: usize,
) -> Result<(Vec<IndicatorRow>, usize), ServiceError> {
    let mut hits = Vec::new();
    let mut total = 0usize;
    let mut after = None;
    loop {
        let batch = crate::db::indicators::search(
            conn,
            &IndicatorQuery {
                kinds: rule.applies_to.map(|k| vec![k.as_str().to_string()]).unwrap_or_default(),
                after,
                limit: 5_000,
                ..IndicatorQuery::default()
            },
        )?;
        let Some(last) = batch.last() else { break };
        after = Some(last.id);
        for row in batch {
            let kind = row.kind;
            if row.status != Status::Whitelisted && rule.matches(kind, &row.value) {
                total += 1;
                if hits.len() < limit {
                    hits.push(row);
                }
            }
        }
    }
    Ok((hits, total))
}

/// Saves a rule and applies it, in one transaction: matching indicators become Whitelisted (an
/// Active one gets a revoked STIX version), and matching proposed items of open drafts are
/// marked. Returns the rule and the indicators it whitelisted.
pub fn create(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    spec: &RuleSpec,
    author: &str,
) -> Result<(RuleRow, Vec<i64>), ServiceError> {
    let compiled = Rule::compile(0, spec)?;
    if spec.reason.trim().is_empty() {
        return Err(ServiceError::Invalid("a whitelist rule needs a reason".into()));
    }
    let pattern = compiled.pattern_text();
    let applies_to = spec.applies_to.map_or("any", ObservableKind::as_str);
    write_tx(conn, |conn| {
        crate::db::lock_indicator_writers(conn)?;
        let row = store::insert(
            conn,
            &NewRule {
                match_kind: compiled.match_kind(),
                pattern: &pattern,
                applies_to,
                reason: spec.reason.trim(),
                author,
                builtin: false,
                created_at: now_micros(),
            },
        )?;
        let rule = Rule { id: row.id, ..compiled.clone() };
        let (hits, _) = preview(conn, &rule, usize::MAX)?;
        let mut changed = Vec::with_capacity(hits.len());
        for hit in hits {
            indicators::set_status(
                conn,
                ctx,
                hit.id,
                Status::Whitelisted,
                author,
                Some(&format!("whitelist rule {}: {}", row.id, row.reason)),
                Some(row.id),
            )?;
            changed.push(hit.id);
        }
        for item in imports::open_indicator_items(conn)? {
            if let Some(kind) = ObservableKind::from_name(&item.item_type)
                && rule.matches(kind, &item.value)
            {
                imports::set_item_state(
                    conn,
                    item.id,
                    crate::db::imports::ItemState::Whitelisted,
                    Some(&format!("rule {}", row.id)),
                )?;
            }
        }
        Ok::<_, ServiceError>((row, changed))
    })
    .map_err(|e| match e {
        ServiceError::Conflict(_) => ServiceError::Conflict("an identical whitelist rule".into()),
        other => other,
    })
}

/// Deletes a rule an analyst made (shipped rules come back at the next start, so they are kept).
pub fn delete(conn: &mut DbConn, id: i64) -> Result<(), ServiceError> {
    let row =
        store::by_id(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("whitelist rule {id}")))?;
    if row.builtin {
        return Err(ServiceError::Forbidden("shipped rules cannot be deleted".into()));
    }
    store::delete(conn, id)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapper_rules_compile_and_match_only_wrappers() {
        let rules: Vec<Rule> = WRAPPER_RULES
            .iter()
            .enumerate()
            .filter_map(|(i, (kind, pattern, applies_to, why))| {
                let spec = RuleSpec {
                    match_kind: (*kind).into(),
                    pattern: (*pattern).into(),
                    applies_to: ObservableKind::from_name(applies_to),
                    reason: (*why).into(),
                };
                Rule::compile(i as i64, &spec).ok()
            })
            .collect();
        assert_eq!(rules.len(), WRAPPER_RULES.len());
        let wl = Whitelist { rules };
        for (kind, v) in [
            (ObservableKind::Url, "https://www.google.com/url?q=https://evil.example/"),
            (ObservableKind::Url, "https://nam12.safelinks.protection.outlook.com/?url=x"),
            (ObservableKind::Domain, "urldefense.com"),
            (ObservableKind::Domain, "protect-eu.mimecast.com"),
            (ObservableKind::Url, "https://l.facebook.com/l.php?u=x"),
        ] {
            assert!(wl.matches(kind, v).is_some(), "{v}");
        }
        for (kind, v) in [
            (ObservableKind::Url, "https://docs.google.com/forms/d/x"),
            (ObservableKind::Url, "https://protect-eu.mimecast.com/s/abc"),
            (ObservableKind::Domain, "www.google.com"),
        ] {
            assert!(wl.matches(kind, v).is_none(), "{v}");
        }
    }

    fn rule(kind: &str, pattern: &str, applies_to: Option<ObservableKind>) -> Rule {
        Rule::compile(
            1,
            &RuleSpec { match_kind: kind.into(), pattern: pattern.into(), applies_to, reason: "r".into() },
        )
        .unwrap()
    }

    #[test]
    fn suffix_matches_domain_and_below_only() {
        let r = rule("suffix", "*.Example.com", None);
        assert!(r.matches(ObservableKind::Domain, "example.com"));
        assert!(r.matches(ObservableKind::Domain, "a.b.example.com"));
        assert!(!r.matches(ObservableKind::Domain, "badexample.com"));
        assert!(r.matches(ObservableKind::Url, "https://www.example.com/x"));
        assert!(!r.matches(ObservableKind::Url, "https://example.com.evil.net/"));
        assert!(r.matches(ObservableKind::Email, "ceo@mail.example.com"));
        assert!(!r.matches(ObservableKind::Ipv4, "1.2.3.4"));
    }

    #[test]
    fn cidr_matches_ips_and_ip_urls() {
        let r = rule("cidr", "10.1.0.0/16", None);
        assert!(r.matches(ObservableKind::Ipv4, "10.1.200.3"));
        assert!(!r.matches(ObservableKind::Ipv4, "10.2.0.1"));
        assert!(r.matches(ObservableKind::Url, "http://10.1.2.3:8080/a"));
        let v6 = rule("cidr", "2001:db8::/32", None);
        assert!(v6.matches(ObservableKind::Ipv6, "2001:db8::1"));
        assert!(!v6.matches(ObservableKind::Ipv6, "2001:db9::1"));
        assert!(
            Rule::compile(
                1,
                &RuleSpec {
                    match_kind: "cidr".into(),
                    pattern: "10.0.0.0/33".into(),
                    applies_to: None,
                    reason: "r".into()
                }
            )
            .is_err()
        );
    }

    #[test]
    fn exact_is_canonical_and_typed() {
        let r = rule("exact", "EVIL.example.COM", Some(ObservableKind::Domain));
        assert!(r.matches(ObservableKind::Domain, "evil.example.com"));
        assert!(!r.matches(ObservableKind::Url, "evil.example.com"));
        let any = rule("exact", "1.2.3.4", None);
        assert!(any.matches(ObservableKind::Ipv4, "1.2.3.4"));
    }

    #[test]
    fn regex_and_bad_patterns() {
        let r = rule("regex", r"^https?://[^/]*\.top/", Some(ObservableKind::Url));
        assert!(r.matches(ObservableKind::Url, "http://x.top/a"));
        assert!(!r.matches(ObservableKind::Url, "http://x.topaz.com/a"));
        let bad = RuleSpec {
            match_kind: "regex".into(),
            pattern: "(".into(),
            applies_to: None,
            reason: "r".into(),
        };
        assert!(Rule::compile(1, &bad).is_err());
        let unknown =
            RuleSpec { match_kind: "glob".into(), pattern: "x".into(), applies_to: None, reason: "r".into() };
        assert!(Rule::compile(1, &unknown).is_err());
    }
}
