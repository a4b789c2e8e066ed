//! Canonical indicator values: the one place that decides how a URL, domain, IP address, email
//! address, hash or CVE id is written, classified (public vs reserved IP, registered domain, IDN).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// What an observable is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObservableKind {
    Url,
    Domain,
    Ipv4,
    Ipv6,
    Email,
    Md5,
    Sha1,
    Sha256,
    Sha512,
    Cve,
}

impl ObservableKind {
    /// All kinds, in a stable order (reports, tests).
    pub const ALL: [ObservableKind; 10] = [
        Self::Url,
        Self::Domain,
        Self::Ipv4,
        Self::Ipv6,
        Self::Email,
        Self::Md5,
        Self::Sha1,
        Self::Sha256,
        Self::Sha512,
        Self::Cve,
    ];

    /// The lower-case name used in JSON and golden files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Url => "url",
            Self::Domain => "domain",
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
            Self::Email => "email",
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
            Self::Cve => "cve",
        }
    }

    /// Inverse of [`ObservableKind::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for ObservableKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an IP address lives: only `Public` addresses are proposed as indicators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IpScope {
    Public,
    Private,
    SharedCgnat,
    Loopback,
    LinkLocal,
    Documentation,
    Multicast,
    Unspecified,
    Reserved,
}

impl IpScope {
    /// Classifies an address (IPv4-mapped IPv6 is classified as its IPv4 address).
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => scope_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => scope_v4(v4),
                None => scope_v6(v6),
            },
        }
    }
}

fn scope_v4(ip: Ipv4Addr) -> IpScope {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, _, _) => IpScope::Unspecified,
        (10, _, _) | (192, 168, _) => IpScope::Private,
        (172, 16..=31, _) => IpScope::Private,
        (100, 64..=127, _) => IpScope::SharedCgnat,
        (127, _, _) => IpScope::Loopback,
        (169, 254, _) => IpScope::LinkLocal,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => IpScope::Documentation,
        (192, 0, 0) | (198, 18..=19, _) => IpScope::Reserved,
        (224..=239, _, _) => IpScope::Multicast,
        (240..=255, _, _) => IpScope::Reserved,
        _ => IpScope::Public,
    }
}

fn scope_v6(ip: Ipv6Addr) -> IpScope {
    let seg = ip.segments();
    let first = seg.first().copied().unwrap_or(0);
    let second = seg.get(1).copied().unwrap_or(0);
    if ip.is_unspecified() {
        IpScope::Unspecified
    } else if ip.is_loopback() {
        IpScope::Loopback
    } else if first & 0xfe00 == 0xfc00 {
        IpScope::Private
    } else if first & 0xffc0 == 0xfe80 {
        IpScope::LinkLocal
    } else if first & 0xff00 == 0xff00 {
        IpScope::Multicast
    } else if first == 0x2001 && second == 0x0db8 {
        IpScope::Documentation
    } else if first & 0xe000 != 0x2000 {
        // Only 2000::/3 is globally routed unicast today.
        IpScope::Reserved
    } else {
        IpScope::Public
    }
}

/// A value parsed into its canonical form, decided once for every kind:
/// domains lower-case ASCII (punycode) with the Unicode form kept; IPs in `std` notation, hex
/// and decimal URL hosts normalised; URLs with scheme and host lower-cased and the rest
/// (`%`-encoding included) kept as sent; email addresses lower-cased; hashes lower-case hex;
/// CVE ids upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndicatorValue {
    pub kind: ObservableKind,
    pub value: String,
    /// Unicode form of an IDN domain (or of a URL / address whose host is one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unicode: Option<String>,
    /// Registered domain (public suffix + one label) for domains, URLs and addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_domain: Option<String>,
    /// For IPs, and for URLs whose host is an IP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_scope: Option<IpScope>,
}

/// Why a text is not a value of the requested kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind:?} value")]
pub struct ValueError {
    pub kind: ObservableKind,
}

impl IndicatorValue {
    /// Parses `text` as a value of `kind` and canonicalises it.
    pub fn parse(kind: ObservableKind, text: &str) -> Result<Self, ValueError> {
        let text = text.trim();
        let parsed = match kind {
            ObservableKind::Url => parse_url(text).map(|u| u.url),
            ObservableKind::Domain => parse_domain(text).map(DomainParts::into_value),
            ObservableKind::Ipv4 => text.parse::<Ipv4Addr>().ok().map(|ip| ip_value(ip.into())),
            ObservableKind::Ipv6 => text
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<Ipv6Addr>()
                .ok()
                .map(|ip| ip_value(ip.into())),
            ObservableKind::Email => parse_email(text),
            ObservableKind::Md5 => parse_hash(kind, text, 32),
            ObservableKind::Sha1 => parse_hash(kind, text, 40),
            ObservableKind::Sha256 => parse_hash(kind, text, 64),
            ObservableKind::Sha512 => parse_hash(kind, text, 128),
            ObservableKind::Cve => parse_cve(text),
        };
        parsed.ok_or(ValueError { kind })
    }
}

pub(crate) fn ip_value(ip: IpAddr) -> IndicatorValue {
    let kind = match ip {
        IpAddr::V4(_) => ObservableKind::Ipv4,
        IpAddr::V6(_) => ObservableKind::Ipv6,
    };
    IndicatorValue {
        kind,
        value: ip.to_string(),
        unicode: None,
        registered_domain: None,
        ip_scope: Some(IpScope::of(ip)),
    }
}

pub(crate) struct DomainParts {
    pub ascii: String,
    pub unicode: Option<String>,
    pub registered: String,
}

impl DomainParts {
    pub(crate) fn into_value(self) -> IndicatorValue {
        IndicatorValue {
            kind: ObservableKind::Domain,
            value: self.ascii,
            unicode: self.unicode,
            registered_domain: Some(self.registered),
            ip_scope: None,
        }
    }
}

/// Validates a host name against the public suffix list; IDNs become punycode.
pub(crate) fn parse_domain(text: &str) -> Option<DomainParts> {
    let t = text.strip_suffix('.').unwrap_or(text);
    if t.is_empty() || t.len() > 1024 {
        return None;
    }
    let ascii = if t.is_ascii() { t.to_ascii_lowercase() } else { idna::domain_to_ascii(t).ok()? };
    if ascii.is_empty() || ascii.len() > 253 {
        return None;
    }
    for label in ascii.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return None;
        }
    }
    let suffix = psl::suffix(ascii.as_bytes())?;
    if !suffix.is_known() {
        return None;
    }
    let registered = std::str::from_utf8(psl::domain(ascii.as_bytes())?.as_bytes()).ok()?.to_owned();
    let unicode = if ascii.contains("xn--") {
        let (u, res) = idna::domain_to_unicode(&ascii);
        res.ok().filter(|()| u != ascii).map(|()| u)
    } else {
        None
    };
    Some(DomainParts { ascii, unicode, registered })
}

/// WHATWG-style IPv4 host parsing: `0x7f000001`, `2130706433`, `0177.0.0.1`, `127.1`.
pub(crate) fn parse_ipv4_loose(host: &str) -> Option<Ipv4Addr> {
    if host.is_empty() || host.len() > 64 {
        return None;
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(4);
    for p in &parts {
        let n = if let Some(hex) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            if hex.is_empty() { 0 } else { u64::from_str_radix(hex, 16).ok()? }
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(p, 8).ok()?
        } else {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse::<u64>().ok()?
        };
        nums.push(n);
    }
    let (last, init) = nums.split_last()?;
    if init.iter().any(|&n| n > 255) {
        return None;
    }
    let rest_bytes = 4 - init.len();
    if *last >= 1u64 << (8 * rest_bytes) {
        return None;
    }
    let mut v: u64 = 0;
    for n in init {
        v = (v << 8) | n;
    }
    v = (v << (8 * rest_bytes)) | last;
    u32::try_from(v).ok().map(Ipv4Addr::from)
}

/// A URL with its host resolved: the URL value, the host as a domain or IP value, and the
/// byte range of the host inside the input text (for provenance spans).
pub(crate) struct ParsedUrl {
    pub url: IndicatorValue,
    pub host: IndicatorValue,
    pub host_range: (usize, usize),
}

/// Parses `scheme://[userinfo@]host[:port][rest]`; the host is after the last `@` of the
/// authority, so `http://bank.example@evil.example/` points at `evil.example`.
pub(crate) fn parse_url(text: &str) -> Option<ParsedUrl> {
    let sep = text.find("://")?;
    let scheme = text.get(..sep)?.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https" | "ftp") {
        return None;
    }
    let auth_start = sep + 3;
    let after = text.get(auth_start..)?;
    let auth_len = after.find(['/', '?', '#', '\\']).unwrap_or(after.len());
    let authority = after.get(..auth_len)?;
    let rest = after.get(auth_len..)?;
    let (userinfo, host_port, host_off) = match authority.rfind('@') {
        Some(at) => (Some(authority.get(..at)?), authority.get(at + 1..)?, auth_start + at + 1),
        None => (None, authority, auth_start),
    };
    let (host_raw, port) = if let Some(inner) = host_port.strip_prefix('[') {
        let close = inner.find(']')?;
        (inner.get(..close)?, inner.get(close + 1..)?)
    } else {
        match host_port.rfind(':') {
            Some(c) => (host_port.get(..c)?, host_port.get(c..)?),
            None => (host_port, ""),
        }
    };
    if !port.is_empty() {
        let digits = port.strip_prefix(':')?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 5 {
            return None;
        }
    }
    let bracketed = host_port.starts_with('[');
    let mut host_off_fix = 0;
    let host = if bracketed {
        ip_value(IpAddr::V6(host_raw.parse().ok()?))
    } else if let Ok(ip) = host_raw.parse::<Ipv4Addr>() {
        ip_value(ip.into())
    } else if let Some(dom) = parse_domain(host_raw) {
        dom.into_value()
    } else if let Some(ip) = parse_ipv4_loose(host_raw) {
        ip_value(ip.into())
    } else {
        // Obfuscated hosts (`&#55349;&#57308;.evil.eu.com`, control characters): the labels a
        // resolver would still see on the right are the indicator.
        let cut = host_raw
            .match_indices('.')
            .map(|(p, _)| p)
            .find(|&p| host_raw.get(p + 1..).is_some_and(|rest| parse_domain(rest).is_some()))?;
        let dom = parse_domain(host_raw.get(cut + 1..)?)?;
        host_off_fix = cut + 1;
        dom.into_value()
    };
    let host_text = if bracketed { format!("[{}]", host.value) } else { host.value.clone() };
    let mut value = format!("{scheme}://");
    if let Some(u) = userinfo {
        value.push_str(u);
        value.push('@');
    }
    let prefix_len = value.len();
    value.push_str(&host_text);
    value.push_str(port);
    value.push_str(rest);
    let unicode = host.unicode.as_ref().map(|u| {
        let mut s = value.get(..prefix_len).unwrap_or_default().to_owned();
        s.push_str(u);
        s.push_str(port);
        s.push_str(rest);
        s
    });
    let host_start = host_off + usize::from(bracketed) + host_off_fix;
    Some(ParsedUrl {
        url: IndicatorValue {
            kind: ObservableKind::Url,
            value,
            unicode,
            registered_domain: host.registered_domain.clone(),
            ip_scope: host.ip_scope,
        },
        host,
        host_range: (host_start, host_off + usize::from(bracketed) + host_raw.len()),
    })
}

/// `local@domain`, lower-cased, the domain validated like any domain.
pub(crate) fn parse_email(text: &str) -> Option<IndicatorValue> {
    let (local, domain) = text.rsplit_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && local.bytes().all(|b| b.is_ascii_alphanumeric() || b"._%+-=!#$&'*/?^`{|}~".contains(&b));
    if !local_ok {
        return None;
    }
    let dom = parse_domain(domain)?;
    let local = local.to_ascii_lowercase();
    Some(IndicatorValue {
        kind: ObservableKind::Email,
        value: format!("{local}@{}", dom.ascii),
        unicode: dom.unicode.map(|u| format!("{local}@{u}")),
        registered_domain: Some(dom.registered),
        ip_scope: None,
    })
}

fn parse_hash(kind: ObservableKind, text: &str, len: usize) -> Option<IndicatorValue> {
    (text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())).then(|| IndicatorValue {
        kind,
        value: text.to_ascii_lowercase(),
        unicode: None,
        registered_domain: None,
        ip_scope: None,
    })
}

fn parse_cve(text: &str) -> Option<IndicatorValue> {
    let up = text.to_ascii_uppercase();
    let rest = up.strip_prefix("CVE-")?;
    let (year, num) = rest.split_once('-')?;
    let ok = year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && (4..=7).contains(&num.len())
        && num.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| IndicatorValue {
        kind: ObservableKind::Cve,
        value: up.clone(),
        unicode: None,
        registered_domain: None,
        ip_scope: None,
    })
}

/// The hash kind for a hex string of that length.
pub(crate) fn hash_kind(len: usize) -> Option<ObservableKind> {
    match len {
        32 => Some(ObservableKind::Md5),
        40 => Some(ObservableKind::Sha1),
        64 => Some(ObservableKind::Sha256),
        128 => Some(ObservableKind::Sha512),
        _ => None,
    }
}

/// Is `host` equal to or under one of `roots` (both canonical, lower-case)?
pub(crate) fn host_under(host: &str, roots: &[String]) -> bool {
    roots.iter().any(|r| {
        let r = r.trim_end_matches('.');
        !r.is_empty()
            && (host.eq_ignore_ascii_case(r)
                || host.len().checked_sub(r.len() + 1).and_then(|cut| host.get(cut..)).is_some_and(|tail| {
                    tail.starts_with('.') && tail.get(1..).is_some_and(|t| t.eq_ignore_ascii_case(r))
                }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(kind: ObservableKind, s: &str) -> Option<String> {
        IndicatorValue::parse(kind, s).ok().map(|v| v.value)
    }

    #[test]
    fn domains_are_lowercase_psl_checked_and_punycoded() {
        assert_eq!(v(ObservableKind::Domain, "Evil.Example.COM."), Some("evil.example.com".into()));
        assert_eq!(v(ObservableKind::Domain, "invoice.pdf"), None);
        assert_eq!(v(ObservableKind::Domain, "com"), None);
        let d = IndicatorValue::parse(ObservableKind::Domain, "аpple.com").ok();
        let d = d.as_ref();
        assert_eq!(d.map(|d| d.value.as_str()), Some("xn--pple-43d.com"));
        assert_eq!(d.and_then(|d| d.unicode.as_deref()), Some("аpple.com"));
        let d = IndicatorValue::parse(ObservableKind::Domain, "a.b.evil.co.uk").ok();
        assert_eq!(d.and_then(|d| d.registered_domain), Some("evil.co.uk".into()));
    }

    #[test]
    fn loose_ipv4_hosts_are_normalised() {
        assert_eq!(parse_ipv4_loose("0x7f000001"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(parse_ipv4_loose("3232235777"), Some(Ipv4Addr::new(192, 168, 1, 1)));
        assert_eq!(parse_ipv4_loose("0300.0250.1.1"), Some(Ipv4Addr::new(192, 168, 1, 1)));
        assert_eq!(parse_ipv4_loose("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(parse_ipv4_loose("1.2.3.4.5"), None);
        assert_eq!(parse_ipv4_loose("99999999999"), None);
    }

    #[test]
    fn urls_keep_path_and_lowercase_host() {
        let u = parse_url("HTTP://User@Evil.EXAMPLE.com:8080/A%2Fb?x=Y");
        let u = u.as_ref();
        assert_eq!(u.map(|u| u.url.value.as_str()), Some("http://User@evil.example.com:8080/A%2Fb?x=Y"));
        assert_eq!(u.map(|u| u.host.value.as_str()), Some("evil.example.com"));
        assert_eq!(u.map(|u| u.host_range), Some((12, 28)));
        let u = parse_url("http://0xC0A80101/x");
        assert_eq!(u.map(|u| u.url.value), Some("http://192.168.1.1/x".into()));
        assert!(parse_url("http://intranet/").is_none());
        let u = parse_url("http://\u{9f}x.evil.eu.com/p");
        assert_eq!(u.map(|u| u.host.value), Some("evil.eu.com".into()));
        let u = parse_url("https://[2001:4860::8888]:443/");
        assert_eq!(u.map(|u| u.host.value), Some("2001:4860::8888".into()));
    }

    #[test]
    fn scopes() {
        let s = |t: &str| t.parse::<IpAddr>().ok().map(IpScope::of);
        assert_eq!(s("10.1.2.3"), Some(IpScope::Private));
        assert_eq!(s("172.20.0.1"), Some(IpScope::Private));
        assert_eq!(s("8.8.8.8"), Some(IpScope::Public));
        assert_eq!(s("203.0.113.5"), Some(IpScope::Documentation));
        assert_eq!(s("fe80::1"), Some(IpScope::LinkLocal));
        assert_eq!(s("2a00:1450::1"), Some(IpScope::Public));
        assert_eq!(s("::ffff:10.0.0.1"), Some(IpScope::Private));
    }

    #[test]
    fn other_kinds() {
        assert_eq!(v(ObservableKind::Email, "Bob@Evil.COM"), Some("bob@evil.com".into()));
        assert_eq!(v(ObservableKind::Cve, "cve-2021-44228"), Some("CVE-2021-44228".into()));
        assert_eq!(
            v(ObservableKind::Md5, "D41D8CD98F00B204E9800998ECF8427E"),
            Some("d41d8cd98f00b204e9800998ecf8427e".into())
        );
        assert!(host_under("mail.corp.example.com", &["corp.example.com".into()]));
        assert!(!host_under("evilcorp.example.com", &["corp.example.com".into()]));
    }
}
