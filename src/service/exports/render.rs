//! How each export format writes one indicator: pure functions from a canonical value to bytes.
//! Suricata rules get SIDs derived from the indicator's id (`sid_base + 4 × id + slot`), so a
//! rule keeps its SID across generations and two indicators never share one.

use super::super::ServiceError;
use super::Options;
use crate::db::indicators::IndicatorRow;
use crate::extract::ObservableKind;

/// Above the ranges public rule sets use (Emerging Threats 2,000,000-2,999,999; Snort/Talos
/// below 1,000,000; local rules conventionally 1,000,000-1,999,999 fill up at 250,000 indicators).
pub const DEFAULT_SID_BASE: u32 = 1_000_000_000;

/// Which protocol a domain rule inspects; each has a fixed SID slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainProtocol {
    /// `dns.query` (slot 0)
    Dns,
    /// `tls.sni` (slot 1)
    Tls,
    /// `http.host` (slot 2)
    Http,
}

impl DomainProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Tls => "tls",
            Self::Http => "http",
        }
    }

    pub fn parse(text: &str) -> Result<Self, ServiceError> {
        match text {
            "dns" => Ok(Self::Dns),
            "tls" => Ok(Self::Tls),
            "http" => Ok(Self::Http),
            other => Err(ServiceError::Invalid(format!(
                "options.domain_protocols: unknown protocol '{}' (use dns, tls or http)",
                other.escape_debug()
            ))),
        }
    }

    fn slot(self) -> u64 {
        match self {
            Self::Dns => 0,
            Self::Tls => 1,
            Self::Http => 2,
        }
    }
}

/// The SID of an indicator's rule in `slot` (0-3); `None` past the 32-bit SID space.
pub fn sid_for(sid_base: u32, indicator_id: i64, slot: u64) -> Option<u32> {
    let id = u64::try_from(indicator_id).ok()?;
    let sid = u64::from(sid_base).checked_add(id.checked_mul(4)?)?.checked_add(slot)?;
    u32::try_from(sid).ok()
}

/// Text: the value; a domain's `*.` wildcard line after it when asked; a URL without its scheme
/// when asked.
pub fn text_lines(out: &mut Vec<u8>, kind: ObservableKind, value: &str, options: &Options) {
    let value = if kind == ObservableKind::Url && options.strip_url_scheme {
        value.split_once("://").map_or(value, |(_, rest)| rest)
    } else {
        value
    };
    // A value never holds a line break (canonical forms), but a list must stay one per line.
    if value.contains(['\r', '\n']) {
        return;
    }
    out.extend_from_slice(value.as_bytes());
    out.push(b'\n');
    if kind == ObservableKind::Domain && options.domain_wildcards {
        out.extend_from_slice(b"*.");
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
}

pub const CSV_HEADER: &str = "type,value,status,score,tlp,first_seen,last_seen,tags\r\n";

/// CSV (RFC 4180): CRLF records, a field quoted when it holds a comma, quote, CR or LF (quotes
/// doubled). Tags are one field joined by `|`. Any field — and any tag — that a spreadsheet would
/// run as a formula (`=`, `+`, `-`, `@`, tab or CR first) is written with a leading `'` (OWASP's
/// CSV injection advice): values come from hostile email, so every field is guarded.
pub fn csv_record(out: &mut Vec<u8>, row: &IndicatorRow, tags: &[String]) {
    let tags: Vec<String> =
        tags.iter().map(|t| if is_formula(t) { format!("'{t}") } else { t.clone() }).collect();
    let fields = [
        row.kind.as_str(),
        row.value.as_str(),
        row.status.as_str(),
        &row.score.to_string(),
        row.tlp.as_str(),
        &rfc3339(row.first_seen),
        &rfc3339(row.last_seen),
        &tags.join("|"),
    ];
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        csv_field(out, field);
    }
    out.extend_from_slice(b"\r\n");
}

/// Whether a spreadsheet would evaluate a cell starting like this.
fn is_formula(field: &str) -> bool {
    field.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

fn csv_field(out: &mut Vec<u8>, field: &str) {
    let guarded;
    let field = if is_formula(field) {
        guarded = format!("'{field}");
        guarded.as_str()
    } else {
        field
    };
    if field.contains([',', '"', '\r', '\n']) {
        out.push(b'"');
        out.extend_from_slice(field.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(field.as_bytes());
    }
}

fn rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

pub fn suricata_header(out: &mut Vec<u8>, name: &str, generated_at: i64) {
    out.extend_from_slice(
        format!(
            "# Harpoon export {name}: Suricata rules generated {}\n\
             # One rule per indicator (domains: per protocol); SID = base + 4 x indicator id + slot.\n\
             # Email addresses, file hashes and CVE ids have no rule here.\n",
            rfc3339(generated_at)
        )
        .as_bytes(),
    );
}

/// Suricata rules of one indicator: IPs match traffic to or from the address, domains (and their
/// subdomains, via `dotprefix`) the DNS query, TLS SNI or HTTP Host, URLs the HTTP Host and the
/// start of the raw request URI. Kinds without a network form write nothing.
pub fn suricata_rules(out: &mut Vec<u8>, kind: ObservableKind, id: i64, value: &str, options: &Options) {
    let mut rule = |proto: &str, slot: u64, what: &str, detection: &str| {
        let Some(sid) = sid_for(options.sid_base, id, slot) else {
            tracing::warn!(indicator = id, "no SID left for this indicator: rule left out");
            return;
        };
        out.extend_from_slice(
            format!(
                "alert {proto} any any -> any any (msg:\"Harpoon {what} {}\"; {detection} \
                 metadata:harpoon_indicator {id}; sid:{sid}; rev:1;)\n",
                msg_text(value)
            )
            .as_bytes(),
        );
    };
    match kind {
        ObservableKind::Ipv4 | ObservableKind::Ipv6 => {
            // `<>`: either direction; the address in a list so an IPv6 address parses as one.
            let Some(sid) = sid_for(options.sid_base, id, 0) else { return };
            if value.parse::<std::net::IpAddr>().is_err() {
                return;
            }
            out.extend_from_slice(
                format!(
                    "alert ip any any <> [{value}] any (msg:\"Harpoon IP {value}\"; \
                     metadata:harpoon_indicator {id}; sid:{sid}; rev:1;)\n"
                )
                .as_bytes(),
            );
        }
        ObservableKind::Domain => {
            let dotted = content(&format!(".{value}"));
            for protocol in &options.domain_protocols {
                let (proto, buffer, label, nocase) = match protocol {
                    DomainProtocol::Dns => ("dns", "dns.query", "domain", " nocase;"),
                    DomainProtocol::Tls => ("tls", "tls.sni", "domain (TLS SNI)", " nocase;"),
                    // The Host buffer is lower-cased by Suricata, which refuses `nocase` on it.
                    DomainProtocol::Http => ("http", "http.host", "domain (HTTP Host)", ""),
                };
                let detection = format!("{buffer}; dotprefix; content:\"{dotted}\"; endswith;{nocase}");
                rule(proto, protocol.slot(), label, &detection);
            }
        }
        ObservableKind::Url => {
            let Some(host) = crate::extract::bundle::url_host(value) else { return };
            let path = url_path(value);
            let detection = format!(
                "flow:established,to_server; http.host; content:\"{}\"; bsize:{}; \
                 http.uri.raw; content:\"{}\"; startswith;",
                content(&host),
                host.len(),
                content(path)
            );
            rule("http", 0, "URL", &detection);
        }
        ObservableKind::Email
        | ObservableKind::Md5
        | ObservableKind::Sha1
        | ObservableKind::Sha256
        | ObservableKind::Sha512
        | ObservableKind::Cve => {}
    }
}

/// The path and query of a URL (no fragment: it never reaches the server); `/` when empty.
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find(['/', '?']).and_then(|i| rest.get(i..)).unwrap_or("/");
    let path = path.split('#').next().unwrap_or(path);
    if path.is_empty() { "/" } else { path }
}

/// A Suricata `content` string: printable ASCII as is, everything else and the characters the
/// rule grammar reserves (`"`, `;`, `\`, `|`) as `|xx|` hex bytes.
fn content(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if (0x20..0x7f).contains(&b) && !b"\";\\|".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("|{b:02x}|"));
        }
    }
    out
}

/// A `msg` text: reserved characters escaped with a backslash, anything unprintable as `?`.
fn msg_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' | ';' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii_graphic() || c == ' ' => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options::default()
    }

    #[test]
    fn sids_are_stable_and_distinct() {
        assert_eq!(sid_for(1_000_000_000, 7, 0), Some(1_000_000_028));
        assert_eq!(sid_for(1_000_000_000, 7, 2), Some(1_000_000_030));
        assert_ne!(sid_for(1_000_000_000, 7, 3), sid_for(1_000_000_000, 8, 0));
        assert_eq!(sid_for(u32::MAX, 1, 0), None);
        assert_eq!(sid_for(1, -1, 0), None);
    }

    #[test]
    fn content_escapes_reserved_bytes() {
        assert_eq!(content("a\"b;c\\d|e"), "a|22|b|3b|c|5c|d|7c|e");
        assert_eq!(content("é"), "|c3||a9|");
        assert_eq!(msg_text("x\"y;z"), "x\\\"y\\;z");
    }

    #[test]
    fn url_paths() {
        assert_eq!(url_path("http://a.com/x/y?q=1#frag"), "/x/y?q=1");
        assert_eq!(url_path("http://a.com"), "/");
        assert_eq!(url_path("http://a.com?q"), "?q");
    }

    #[test]
    fn text_wildcards_and_schemes() {
        let mut out = Vec::new();
        let o = Options { domain_wildcards: true, strip_url_scheme: true, ..options() };
        text_lines(&mut out, ObservableKind::Domain, "evil.com", &o);
        text_lines(&mut out, ObservableKind::Url, "https://evil.com/a", &o);
        text_lines(&mut out, ObservableKind::Ipv4, "1.2.3.4", &o);
        assert_eq!(String::from_utf8_lossy(&out), "evil.com\n*.evil.com\nevil.com/a\n1.2.3.4\n");
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let mut out = Vec::new();
        csv_field(&mut out, "a,b");
        out.push(b' ');
        csv_field(&mut out, "say \"hi\"");
        out.push(b' ');
        csv_field(&mut out, "plain");
        assert_eq!(String::from_utf8_lossy(&out), "\"a,b\" \"say \"\"hi\"\"\" plain");
    }

    #[test]
    fn csv_guards_every_field_against_formulas() {
        for hostile in ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"] {
            let mut out = Vec::new();
            csv_field(&mut out, hostile);
            let text = String::from_utf8_lossy(&out).trim_start_matches('"').to_string();
            assert!(text.starts_with('\''), "{hostile:?} -> {text:?}");
        }
        let mut out = Vec::new();
        csv_field(&mut out, "evil.example");
        assert_eq!(out, b"evil.example");
    }

    #[test]
    fn rules_per_kind() {
        let mut out = Vec::new();
        let o = Options {
            domain_protocols: vec![DomainProtocol::Dns, DomainProtocol::Tls, DomainProtocol::Http],
            ..options()
        };
        suricata_rules(&mut out, ObservableKind::Domain, 1, "evil.com", &o);
        suricata_rules(&mut out, ObservableKind::Sha256, 2, "ab", &o);
        let text = String::from_utf8_lossy(&out);
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.contains("dns.query; dotprefix; content:\".evil.com\"; endswith; nocase;"));
        assert!(text.contains("sid:1000000006;"));
    }
}
