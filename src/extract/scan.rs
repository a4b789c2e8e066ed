//! The text scanner: finds URLs, domains, IPs, email addresses, hashes and CVE ids in one decoded
//! text, refanging defanged forms first, with the false-positive rules that regexes alone miss.
//! Linear time: every regex runs once over the text (the `regex` crate never backtracks), with
//! ASCII word boundaries only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;

use super::mapped::{Mapped, SegKind};
use super::value::{self, IndicatorValue, ObservableKind};

/// What to look for in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Human text: everything.
    Prose,
    /// Script, style, comments, attribute values: only URLs with a scheme and email addresses,
    /// because `e.style` and `t.target` are code, not domains.
    Code,
    /// The page text of a document (PDF): prose without bare domains. A domain written on a
    /// page without a scheme is nearly always the brand the document imitates or a letterhead
    /// (`amazon.com`, `gmail.com`); where the reader is sent is a link, which has one.
    PageText,
}

impl Mode {
    /// Human text (prose rules: hashes, CVEs, wrapped URLs), as opposed to code.
    pub(crate) fn is_text(self) -> bool {
        matches!(self, Mode::Prose | Mode::PageText)
    }
}

/// One value found, with its span in the scanned text.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub value: IndicatorValue,
    pub start: usize,
    pub end: usize,
    pub defanged: bool,
}

fn re(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

static DEFANG: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        // Every alternative starts with a literal byte, so the regex crate can skip ahead with
        // a prefilter; spaces around `[at]` are handled in `refang`.
        r"(?i)hxxp|h\[tt\]p|\[ ?(?:\.|dot|at|:|://|/) ?\]|\( ?(?:\.|dot|at) ?\)|\{\.\}",
    )
});
static URL: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r#"(?i)(?:https?|ftp)://[^\s<>"'`{}|\\^\x00-\x1f\x7f“”‘’«»]+"#));
static IPV6: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?::(?:[0-9]{1,3}\.){3}[0-9]{1,3})?"));
static CVE: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"(?i)(?-u:\b)CVE-[0-9]{4}-[0-9]{4,7}(?-u:\b)"));

/// Whether every scanner regex compiled (checked by a unit test; at run time a missing regex only
/// means that kind is not found).
#[cfg(test)]
pub(crate) fn regexes_ok() -> bool {
    [&DEFANG, &URL, &IPV6, &CVE].iter().all(|r| r.is_some())
}

/// Replaces defanged tokens, remembering where; `None` when the text has none.
fn refang(text: &str) -> Option<Mapped> {
    let re = DEFANG.as_ref()?;
    let mut out: Option<Mapped> = None;
    let mut last = 0;
    for m in re.find_iter(text) {
        let tok = m.as_str().to_ascii_lowercase();
        let t = tok.trim();
        let rep = if t.starts_with("hxxp") || t.starts_with("h[tt]p") {
            "http"
        } else if t.contains("://") {
            "://"
        } else if t.contains("dot") || t.contains('.') {
            "."
        } else if t.contains("at") {
            "@"
        } else if t.contains(':') {
            ":"
        } else {
            "/"
        };
        // `bob [at] evil.com`: the spaces around a defanged `@` go with it.
        let (mut ms, mut me) = (m.start(), m.end());
        if rep == "@" {
            if ms > last && text.as_bytes().get(ms - 1) == Some(&b' ') {
                ms -= 1;
            }
            if text.as_bytes().get(me) == Some(&b' ') {
                me += 1;
            }
        }
        let mapped = out.get_or_insert_with(|| Mapped::with_capacity(text.len()));
        mapped.copy(text.get(last..ms).unwrap_or_default(), last);
        mapped.replace(rep, ms, me, SegKind::Refanged);
        last = me;
    }
    if let Some(mapped) = out.as_mut() {
        mapped.copy(text.get(last..).unwrap_or_default(), last);
    }
    out
}

/// Spans already claimed by a URL or an address, sorted by start.
#[derive(Default)]
struct Covered(Vec<(usize, usize)>);

impl Covered {
    fn add(&mut self, s: usize, e: usize) {
        self.0.push((s, e));
    }
    fn sort(&mut self) {
        self.0.sort_unstable();
    }
    /// Overlap test; requires `sort` after the last `add`.
    fn overlaps(&self, s: usize, e: usize) -> bool {
        let i = self.0.partition_point(|&(_, ce)| ce <= s);
        self.0.get(i).is_some_and(|&(cs, _)| cs < e)
    }
}

fn byte_before(t: &str, i: usize) -> Option<u8> {
    i.checked_sub(1).and_then(|j| t.as_bytes().get(j).copied())
}

fn byte_at(t: &str, i: usize) -> Option<u8> {
    t.as_bytes().get(i).copied()
}

/// TLDs that are far more often file extensions than domains when written without a scheme.
const FILE_TLDS: &[&str] = &[
    "zip", "mov", "md", "py", "sh", "one", "pub", "cab", "rs", "so", "ps", "pl", "cs", "mp", "bat", "exe",
    "doc", "pdf", "js", "css", "php", "asp", "htm", "html", "json", "xml", "txt", "csv", "jpg", "png", "gif",
    "rar", "img", "iso", "dll", "ai", "gz", "tar", "bin",
];

/// Trims trailing punctuation that prose puts after a URL, and unbalanced closing brackets.
fn trim_url(s: &str) -> &str {
    let mut t = s;
    loop {
        let Some(c) = t.chars().last() else { return t };
        let drop = match c {
            '.' | ',' | ';' | ':' | '!' | '?' | '*' | '\'' | '"' | '>' => true,
            ')' => t.matches('(').count() < t.matches(')').count(),
            ']' => t.matches('[').count() < t.matches(']').count(),
            _ => false,
        };
        if !drop {
            return t;
        }
        t = t.get(..t.len() - c.len_utf8()).unwrap_or_default();
    }
}

/// Scans `text` and returns what it finds (at most `limit` values; the flag says it stopped).
/// `file_names` are the message's attachment names: a domain equal to one is a file name.
pub(crate) fn scan(text: &str, mode: Mode, file_names: &[String], limit: usize) -> (Vec<Found>, bool) {
    let refanged = refang(text);
    let mut scan = Scan {
        t: refanged.as_ref().map_or(text, |m| m.text.as_str()),
        refanged: refanged.as_ref(),
        file_names,
        limit,
        found: Vec::new(),
        covered: Covered::default(),
    };
    let full = scan.passes(mode).is_err();
    (scan.found, full)
}

/// The value limit was reached: the scan stops where it is.
struct Full;

/// One scan of one text: the passes share what was found and which spans are taken.
struct Scan<'a> {
    /// The text scanned: the refanged text when there was anything to refang.
    t: &'a str,
    refanged: Option<&'a Mapped>,
    file_names: &'a [String],
    limit: usize,
    found: Vec<Found>,
    /// Spans already taken by a URL or an address: no domain or IP is read inside them.
    covered: Covered,
}

impl Scan<'_> {
    /// The passes, most specific first: a URL's host is not also a bare domain, an address's
    /// domain is not read again.
    fn passes(&mut self, mode: Mode) -> Result<(), Full> {
        self.urls()?;
        self.covered.sort();
        self.addresses()?;
        self.covered.sort();
        if mode == Mode::Prose {
            self.bare_domains()?;
        }
        self.ipv4s()?;
        self.ipv6s()?;
        if mode.is_text() {
            self.hashes();
            self.cves()?;
        }
        Ok(())
    }

    fn full(&self) -> Result<(), Full> {
        if self.found.len() >= self.limit { Err(Full) } else { Ok(()) }
    }

    /// Records a value found at `s..e` of the scanned text, with its span in the original text.
    fn push(&mut self, value: IndicatorValue, s: usize, e: usize) {
        let (start, end, defanged) = match self.refanged {
            Some(m) => {
                let (a, b) = m.to_src(s, e);
                (a, b, m.refanged_in(s, e))
            }
            None => (s, e, false),
        };
        self.found.push(Found { value, start, end, defanged });
    }

    fn urls(&mut self) -> Result<(), Full> {
        let Some(re) = URL.as_ref() else { return Ok(()) };
        let t = self.t;
        for m in re.find_iter(t) {
            self.full()?;
            let s = trim_url(m.as_str());
            let Some(u) = value::parse_url(s) else {
                continue;
            };
            let (hs, he) = u.host_range;
            self.push(u.url, m.start(), m.start() + s.len());
            self.push(u.host, m.start() + hs, m.start() + he);
            self.covered.add(m.start(), m.start() + s.len());
        }
        Ok(())
    }

    /// Email addresses: from each `@`, the local part back and the domain forward.
    fn addresses(&mut self) -> Result<(), Full> {
        let mut taken = Vec::new();
        let mut prev_end = 0;
        let mut result = Ok(());
        for (at, _) in self.t.match_indices('@') {
            if self.full().is_err() {
                result = Err(Full);
                break;
            }
            if let Some(span) = self.address_at(at, prev_end) {
                taken.push(span);
                prev_end = span.1;
            }
        }
        // Only the URLs' spans are checked while addresses are read; theirs count from now on.
        self.covered.0.extend(taken);
        result
    }

    /// The address around the `@` at `at` (its local part starts after `prev_end`), pushed with
    /// its domain; its span.
    fn address_at(&mut self, at: usize, prev_end: usize) -> Option<(usize, usize)> {
        let t = self.t;
        let bytes = t.as_bytes();
        let mut s = at;
        while s > prev_end
            && at - s < 64
            && byte_before(t, s).is_some_and(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(&b))
        {
            s -= 1;
        }
        // `mailto:?body=REMOVE%20bob@x.com`: an escape ends the local part before it.
        if let Some(local) = t.get(s..at) {
            let esc = local
                .as_bytes()
                .windows(3)
                .rposition(|w| w.first() == Some(&b'%') && w.iter().skip(1).all(u8::is_ascii_hexdigit));
            if let Some(p) = esc {
                s += p + 3;
            }
        }
        // A local part never starts with a dot.
        while s < at && bytes.get(s) == Some(&b'.') {
            s += 1;
        }
        let (ds, e) = host_run(t, at + 1, at + 1)?;
        if ds != at + 1 || s == at || self.covered.overlaps(s, e) {
            return None;
        }
        // `cid:` names are MIME content ids, not addresses.
        if t.get(s.saturating_sub(4)..s).is_some_and(|p| p.eq_ignore_ascii_case("cid:")) {
            return None;
        }
        let v = value::parse_email(t.get(s..e)?)?;
        let d = t.get(ds..e).and_then(value::parse_domain)?;
        self.push(v, s, e);
        self.push(d.into_value(), at + 1, e);
        Some((s, e))
    }

    /// Domains written without a scheme, in prose only.
    fn bare_domains(&mut self) -> Result<(), Full> {
        let t = self.t;
        let mut next_free = 0;
        while let Some(dot) = find_byte(t, next_free, b'.') {
            let (run_end, host) = host_run_scan(t, dot, next_free);
            next_free = run_end;
            let Some((s, e)) = host else {
                continue;
            };
            self.full()?;
            if let Some(s) = self.bare_domain_start(s, e) {
                let Some(raw) = t.get(s..e) else { continue };
                if !plausible_bare_domain(raw, self.file_names) {
                    continue;
                }
                if let Some(d) = value::parse_domain(raw) {
                    self.push(d.into_value(), s, e);
                }
            }
        }
        Ok(())
    }

    /// Where a host run at `s..e` starts as a domain, or `None` when it is no domain.
    fn bare_domain_start(&self, s: usize, e: usize) -> Option<usize> {
        let t = self.t;
        let mut s = s;
        if self.covered.overlaps(s, e) {
            return None;
        }
        let before = byte_before(t, s);
        // `%2Fcdn.example.com`: the `2F` belongs to the escape, not the host.
        if before == Some(b'%') && t.get(s..s + 2).is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())) {
            s += 2;
        }
        if matches!(before, Some(b'_' | b'@' | b'$' | b'\\'))
            || matches!(byte_at(t, e), Some(b'(' | b'_' | b'@' | b'='))
        {
            return None;
        }
        // CJK text has no spaces: `访问example.com` starts at `example`.
        if let Some(lead) = t.get(s..e) {
            let skip: usize = lead.chars().take_while(|&c| is_cjk(c)).map(char::len_utf8).sum();
            if skip > 0
                && lead.get(skip..).is_some_and(|r| r.starts_with(|c: char| c.is_ascii_alphanumeric()))
            {
                s += skip;
            }
        }
        Some(s)
    }

    /// Dotted quads: maximal runs of digits and dots around each dot, so `1.2.3.4.5` (versions,
    /// OIDs) and `2016.11.29.06.59.12` (ESMTP ids, dates) are one run that is not an address.
    fn ipv4s(&mut self) -> Result<(), Full> {
        let t = self.t;
        let b = t.as_bytes();
        let mut next_free = 0;
        // Jump from run to run instead of visiting every dot of a long run.
        while let Some(dot) = find_byte(t, next_free, b'.') {
            let is_dd = |c: &u8| c.is_ascii_digit() || *c == b'.';
            let mut s = dot;
            while s > next_free && b.get(s - 1).is_some_and(is_dd) {
                s -= 1;
            }
            let mut e = dot + 1;
            while b.get(e).is_some_and(is_dd) {
                e += 1;
            }
            next_free = e;
            while b.get(s) == Some(&b'.') && s < e {
                s += 1;
            }
            while e > s && b.get(e - 1) == Some(&b'.') {
                e -= 1;
            }
            let Some(run) = t.get(s..e) else { continue };
            let word = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_');
            if run.split('.').count() != 4 || word(byte_before(t, s)) || word(byte_at(t, e)) {
                continue;
            }
            if self.covered.overlaps(s, e) || !plausible_ipv4(t, s, e) {
                continue;
            }
            self.full()?;
            if let Ok(ip) = run.parse::<Ipv4Addr>() {
                self.push(value::ip_value(IpAddr::V4(ip)), s, e);
            }
        }
        Ok(())
    }

    fn ipv6s(&mut self) -> Result<(), Full> {
        let t = self.t;
        let Some(re) = IPV6.as_ref().filter(|_| may_hold_ipv6(t)) else {
            return Ok(());
        };
        for m in re.find_iter(t) {
            self.full()?;
            let (s, e) = (m.start(), m.end());
            if self.covered.overlaps(s, e) {
                continue;
            }
            let ok_edges = !byte_before(t, s).is_some_and(|b| b.is_ascii_alphanumeric() || b == b':')
                && !byte_at(t, e).is_some_and(|b| b.is_ascii_alphanumeric() || b == b':');
            let txt = m.as_str();
            let groups = txt.split(':').filter(|g| !g.is_empty()).count();
            if !ok_edges || groups < 3 {
                continue;
            }
            if let Ok(ip) = txt.parse::<Ipv6Addr>() {
                self.push(value::ip_value(IpAddr::V6(ip)), s, e);
            }
        }
        Ok(())
    }

    /// Hex runs of a hash's length. Past the limit they are skipped, not a stop: the CVE pass
    /// after them says whether the text was cut.
    fn hashes(&mut self) {
        let t = self.t;
        for (s, e) in hex_runs(t) {
            let Some(kind) = value::hash_kind(e - s) else {
                continue;
            };
            let Some(txt) = t.get(s..e) else { continue };
            // Random-looking hex has both digits and letters; all-digit runs are numbers.
            let mixed =
                txt.bytes().any(|b| b.is_ascii_digit()) && txt.bytes().any(|b| b.is_ascii_alphabetic());
            if !mixed || self.covered.overlaps(s, e) || self.full().is_err() {
                continue;
            }
            if let Ok(v) = IndicatorValue::parse(kind, txt) {
                self.push(v, s, e);
            }
        }
    }

    fn cves(&mut self) -> Result<(), Full> {
        let Some(re) = CVE.as_ref() else { return Ok(()) };
        let t = self.t;
        for m in re.find_iter(t) {
            self.full()?;
            if let Ok(v) = IndicatorValue::parse(ObservableKind::Cve, m.as_str()) {
                self.push(v, m.start(), m.end());
            }
        }
        Ok(())
    }
}

/// Where the first ASCII `needle` at or after `from` is, as `t.get(from..)?.find(needle)`
/// would say: sixteen bytes at a time while none is among them (a test the compiler turns
/// into vector compares; `str::find` goes a word at a time), then byte by byte.
fn find_byte(t: &str, from: usize, needle: u8) -> Option<usize> {
    if !t.is_char_boundary(from) {
        return None;
    }
    let b = t.as_bytes();
    let mut i = from;
    while let Some(block) = b.get(i..i + 16) {
        if block.iter().fold(false, |any, &c| any | (c == needle)) {
            break;
        }
        i += 16;
    }
    b.get(i..)?.iter().position(|&c| c == needle).map(|p| p + i)
}

/// Whether [`IPV6`] can match anywhere in `t`: each of its matches holds two colons with at
/// most four hex digits between them. Most texts have none, and this memchr walk is far cheaper
/// than the regex's full pass (it has no literal to skip ahead with).
fn may_hold_ipv6(t: &str) -> bool {
    let b = t.as_bytes();
    let mut from = 0;
    while let Some(c) = find_byte(t, from, b':') {
        let hex =
            b.get(c + 1..).unwrap_or_default().iter().take(4).take_while(|b| b.is_ascii_hexdigit()).count();
        if b.get(c + 1 + hex) == Some(&b':') {
            return true;
        }
        from = c + 1;
    }
    false
}

/// Runs of ASCII hex digits bounded by non-word bytes (candidate hashes), in one pass.
fn hex_runs(t: &str) -> Vec<(usize, usize)> {
    let b = t.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b.get(i).is_some_and(u8::is_ascii_hexdigit) {
            i += 1;
            continue;
        }
        let s = i;
        while b.get(i).is_some_and(u8::is_ascii_hexdigit) {
            i += 1;
        }
        let word = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
        let before = s.checked_sub(1).and_then(|p| b.get(p));
        if (32..=128).contains(&(i - s)) && !word(before) && !word(b.get(i)) {
            out.push((s, i));
        }
        // A word continuing past the run (`…abcdefg`) is skipped whole.
        while b.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
            i += 1;
        }
    }
    out
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && c.is_alphanumeric())
}

/// The host name around byte `at` (a `.`, or the first byte after an `@`): label characters and
/// dots, expanded left (not before `floor`) and right, trimmed of stray dots and hyphens, and
/// cut back to the last label that can be a TLD (letters, or `xn--`; an ASCII TLD stops at the
/// first non-ASCII character, as in `example.com获取`). Linear: callers skip past the run.
fn host_run(t: &str, at: usize, floor: usize) -> Option<(usize, usize)> {
    host_run_scan(t, at, floor).1
}

/// [`host_run`] plus the end of the scanned run, which callers must skip past even when it
/// holds no host: otherwise `1.1.1.1…` would be rescanned from every dot (quadratic).
fn host_run_scan(t: &str, at: usize, floor: usize) -> (usize, Option<(usize, usize)>) {
    let mut run_end = at + 1;
    let found = host_run_inner(t, at, floor, &mut run_end);
    (run_end, found)
}

fn host_run_inner(t: &str, at: usize, floor: usize, run_end: &mut usize) -> Option<(usize, usize)> {
    let head = t.get(floor..at)?;
    let mut s = at;
    for (i, c) in head.char_indices().rev() {
        if is_label_char(c) || c == '.' {
            s = floor + i;
        } else {
            break;
        }
    }
    let mut e = at;
    for (i, c) in t.get(at..)?.char_indices() {
        if is_label_char(c) || c == '.' {
            e = at + i + c.len_utf8();
        } else {
            break;
        }
    }
    *run_end = e.max(at + 1);
    let run = t.get(s..e)?;
    let lead = run.len() - run.trim_start_matches(['.', '-']).len();
    let run = run.trim_start_matches(['.', '-']).trim_end_matches(['.', '-']);
    let s = s + lead;
    let mut end = s + run.len();
    // Cut back to a label that can be a TLD.
    loop {
        let cand = t.get(s..end)?;
        let (rest, tld) = cand.rsplit_once('.')?;
        if rest.is_empty() || rest.ends_with('.') {
            return None;
        }
        let ascii_alpha = tld.bytes().take_while(u8::is_ascii_alphabetic).count();
        if tld.len() >= 6 && tld.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--")) {
            return Some((s, end));
        }
        if ascii_alpha >= 2 {
            // `com获取`: an ASCII TLD ends at the first non-ASCII character.
            let tld_end = if tld.get(ascii_alpha..).is_some_and(|r| r.starts_with(|c: char| !c.is_ascii())) {
                ascii_alpha
            } else {
                tld.len()
            };
            if tld.get(..tld_end).is_some_and(|x| x.bytes().all(|b| b.is_ascii_alphabetic())) {
                return Some((s, end - (tld.len() - tld_end)));
            }
        } else if tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic) {
            return Some((s, end));
        }
        end = s + rest.len();
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30ff}' | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{ac00}'..='\u{d7af}' | '\u{f900}'..='\u{faff}')
}

/// Rules for a domain written without a scheme, where prose, code and file names look alike.
fn plausible_bare_domain(raw: &str, file_names: &[String]) -> bool {
    let labels: Vec<&str> = raw.split('.').collect();
    let Some(tld) = labels.last() else {
        return false;
    };
    // `Thanks.Regards`: a TLD in mixed case is a sentence without a space.
    let has_upper = tld.chars().any(char::is_uppercase);
    let has_lower = tld.chars().any(char::is_lowercase);
    if has_upper && has_lower {
        return false;
    }
    let tld_l = tld.to_ascii_lowercase();
    if labels.len() == 2 && FILE_TLDS.contains(&tld_l.as_str()) {
        return false;
    }
    // `e.style`, `t.target`: a one-letter name before a generic TLD is a code token.
    if labels.first().is_some_and(|l| l.chars().count() == 1) && tld_l.len() > 2 {
        return false;
    }
    !file_names.iter().any(|f| f.eq_ignore_ascii_case(raw))
}

/// Rejects version strings, OIDs and date-like dotted runs around an IPv4-looking match.
fn plausible_ipv4(t: &str, s: usize, e: usize) -> bool {
    let before = byte_before(t, s);
    let before2 = s.checked_sub(2).and_then(|i| byte_at(t, i));
    if before == Some(b'.') && before2.is_some_and(|b| b.is_ascii_digit()) {
        return false;
    }
    if byte_at(t, e) == Some(b'.') && byte_at(t, e + 1).is_some_and(|b| b.is_ascii_digit()) {
        return false;
    }
    let ctx = t.get(s.saturating_sub(16)..s).or_else(|| t.get(..s)).unwrap_or_default();
    let ctx = ctx.to_ascii_lowercase();
    let tail = ctx.trim_end_matches([' ', ':', '=', '\t', '(']);
    !(ctx.contains("version")
        || tail.ends_with(" v")
        || tail.ends_with("ver")
        || tail.ends_with("build")
        || tail.ends_with("release"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(text: &str) -> Vec<String> {
        let (f, _) = scan(text, Mode::Prose, &[], 1000);
        f.into_iter().map(|f| format!("{}:{}", f.value.kind.as_str(), f.value.value)).collect()
    }

    #[test]
    fn regexes_compile() {
        assert!(regexes_ok());
    }

    #[test]
    fn urls_domains_and_spans() {
        let text = "Go to https://Evil.Example.com/login?a=1. Now";
        let (f, _) = scan(text, Mode::Prose, &[], 100);
        let url = f.iter().find(|f| f.value.kind == ObservableKind::Url);
        assert_eq!(url.map(|u| u.value.value.as_str()), Some("https://evil.example.com/login?a=1"));
        assert_eq!(url.map(|u| &text[u.start..u.end]), Some("https://Evil.Example.com/login?a=1"));
        let dom = f.iter().find(|f| f.value.kind == ObservableKind::Domain);
        assert_eq!(dom.map(|d| &text[d.start..d.end]), Some("Evil.Example.com"));
    }

    #[test]
    fn refanged_values_keep_source_spans() {
        let text = "bad: hxxps://evil[.]example[.]com/x and 185[.]23[.]4[.]9 or bob[at]evil.com";
        let (f, _) = scan(text, Mode::Prose, &[], 100);
        let url = f.iter().find(|f| f.value.kind == ObservableKind::Url);
        assert_eq!(url.map(|u| u.value.value.as_str()), Some("https://evil.example.com/x"));
        assert_eq!(url.map(|u| &text[u.start..u.end]), Some("hxxps://evil[.]example[.]com/x"));
        assert!(url.is_some_and(|u| u.defanged));
        let v = vals(text);
        assert!(v.contains(&"ipv4:185.23.4.9".into()), "{v:?}");
        assert!(v.contains(&"email:bob@evil.com".into()), "{v:?}");
    }

    #[test]
    fn false_positives() {
        let v = vals(
            "e.style.color t.target invoice.pdf backup.zip Version 2.1.3.4 \
             1.2.3.4.5 2016.11.29.06.59.12 Thanks.Regards cid:image001.png@01D9A1B2.C3D4E5F0 10:30:00",
        );
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn user_at_host_and_percent_leftovers() {
        let v = vals("mailto:x?subject=REMOVE%202157%20bob+list@lists.example.org");
        assert!(v.contains(&"email:bob+list@lists.example.org".into()), "{v:?}");
        let v = vals("http://paypal.com@evil.example.net/x  u=https%3A%2F%2Fcdn.badhost.org%2Fp");
        assert!(v.contains(&"domain:evil.example.net".into()), "{v:?}");
        assert!(!v.contains(&"domain:paypal.com".into()), "{v:?}");
        assert!(v.contains(&"domain:cdn.badhost.org".into()), "{v:?}");
        assert!(!v.iter().any(|x| x.contains("2fcdn")), "{v:?}");
    }

    #[test]
    fn cjk_text_without_spaces() {
        let v = vals("请访问example-shop.com获取优惠 お支払いはpay-check.topへ");
        assert!(v.contains(&"domain:example-shop.com".into()), "{v:?}");
        assert!(v.contains(&"domain:pay-check.top".into()), "{v:?}");
        let v = vals("аpple.com");
        assert!(v.contains(&"domain:xn--pple-43d.com".into()), "{v:?}");
    }

    #[test]
    fn hashes_ips_cves() {
        let v = vals(
            "md5 d41d8cd98f00b204e9800998ecf8427e ip 8.8.8.8 v6 2a00:1450:4001:82b::200e CVE-2023-23397",
        );
        assert!(v.contains(&"md5:d41d8cd98f00b204e9800998ecf8427e".into()), "{v:?}");
        assert!(v.contains(&"ipv4:8.8.8.8".into()), "{v:?}");
        assert!(v.contains(&"ipv6:2a00:1450:4001:82b::200e".into()), "{v:?}");
        assert!(v.contains(&"cve:CVE-2023-23397".into()), "{v:?}");
    }

    #[test]
    fn find_byte_is_str_find() {
        let t = format!("{}é.a:{}.x", "a".repeat(40), "b".repeat(17));
        for from in 0..t.len() + 2 {
            for needle in [b'.', b':', b'z'] {
                let want = t.get(from..).and_then(|r| r.find(char::from(needle))).map(|p| p + from);
                assert_eq!(find_byte(&t, from, needle), want, "{from} {needle}");
            }
        }
    }

    #[test]
    fn hostile_inputs_are_linear() {
        let dots = "a.".repeat(10_000);
        let long = "x".repeat(1_000_000);
        let t0 = std::time::Instant::now();
        for (name, input) in [
            ("dots", dots),
            ("long", long),
            ("long100k", "x".repeat(100_000)),
            ("words", "hello world ".repeat(80_000)),
            ("only dots", ".".repeat(100_000)),
            ("1.", "1.".repeat(100_000)),
            ("a@", "a@".repeat(100_000)),
            ("hex", "ab".repeat(100_000)),
            ("colons", "a:".repeat(100_000)),
            ("defang", "[.]".repeat(100_000)),
            ("urls", "http://a.com/ ".repeat(50_000)),
        ] {
            let t = std::time::Instant::now();
            let _ = scan(&input, Mode::Prose, &[], 1000);
            eprintln!("{name}: {:?}", t.elapsed());
        }
        // Generous: this catches quadratic blow-ups (minutes), not speed (see the benchmark).
        assert!(t0.elapsed().as_secs() < 60);
    }
}

#[cfg(test)]
mod perf_probe {
    use super::*;

    #[test]
    #[ignore = "timing probe; run in release"]
    fn per_regex() {
        for input in [
            "abcdefgh".repeat(131_072),
            "hello world. see you at 10 ".repeat(40_000),
            ".".repeat(1 << 20),
            "1.".repeat(1 << 19),
            "a@".repeat(1 << 19),
            "[.]".repeat(1 << 18),
            "a:".repeat(1 << 19),
        ] {
            for (n, r) in [("defang", &DEFANG), ("url", &URL), ("ipv6", &IPV6), ("cve", &CVE)] {
                let t = std::time::Instant::now();
                let c = r.as_ref().map_or(0, |r| r.find_iter(&input).count());
                eprintln!("{n}: {c} {:?}", t.elapsed());
            }
            let t = std::time::Instant::now();
            let _ = scan(&input, Mode::Prose, &[], 100_000);
            eprintln!("scan total {:?}", t.elapsed());
        }
    }
}
