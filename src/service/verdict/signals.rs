//! The signals of a verdict, each a small pure function from [`Facts`] (what the email says) and,
//! for the store-backed ones, [`Known`] (what our store says) to zero or one [`Reason`]. Weights
//! are the constants below; README "Automatic triage" says why each is what it is.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use super::auth::{BoundarySays, DkimCheck};
use super::lookalike::{self, How, Protected};
use super::{Facts, Known, Reason};

/// Weights (score points; the score starts at 50 and is clamped to 0-100).
pub mod weight {
    pub const ACTIVE_INDICATOR: i32 = 60;
    pub const SAME_PHISH_EVENT: i32 = 60;
    pub const SPECIFIC_VALUE_IN_EVENT: i32 = 60;
    pub const VALUE_IN_EVENT: i32 = 20;
    pub const EXPIRED_INDICATOR: i32 = 15;
    pub const DMARC_FAIL: i32 = 25;
    pub const SPF_FAIL: i32 = 10;
    pub const DKIM_FAIL: i32 = 10;
    pub const AUTHENTICATED: i32 = -20;
    pub const DKIM_ALIGNED: i32 = -15;
    pub const DISPLAY_NAME_ADDRESS: i32 = 25;
    /// The anchor shows one host and goes to another: the deception itself, rare in honest mail
    /// (click trackers of newsletters do it, hence not more).
    pub const LINK_TEXT_ELSEWHERE: i32 = 15;
    /// Lure wording (verify your account, mailbox full, …): words cost the attacker nothing to
    /// change, so it only adds and weighs little; it blocks `likely benign`.
    pub const CREDENTIAL_LURE: i32 = 20;
    /// Advance-fee and payout lures (inheritance, next of kin, a balance to withdraw): the plain
    /// text scams that show nothing else; blocks `likely benign`, so plain text can count.
    pub const MONEY_LURE: i32 = 15;
    pub const DISPLAY_NAME_BRAND: i32 = 25;
    pub const REPLY_TO_ELSEWHERE: i32 = 10;
    pub const HOMOGLYPH: i32 = 35;
    pub const TYPOSQUAT: i32 = 30;
    pub const BRAND_IN_NAME: i32 = 20;
    pub const BRAND_IN_PATH: i32 = 5;
    pub const CREDENTIAL_FORM: i32 = 35;
    pub const QR_CODE: i32 = 20;
    pub const RISKY_ATTACHMENT: i32 = 25;
    pub const IP_URL: i32 = 10;
    pub const NEWLY_SEEN: i32 = 5;
    pub const NOTHING_TO_ACT_ON: i32 = -15;
    /// List headers are the sender's own words: a phish can write them. Small, and any phish
    /// sign (weight >= [`super::BLOCKS_BENIGN`]) still forbids `likely benign`.
    pub const MAILING_LIST: i32 = -5;
    /// Plain text: no hidden link target, form or script, and every link shows where it goes.
    /// Free to send: it reaches `likely benign` (50 - 15) only when no phish sign speaks, and the
    /// plain-text scams that carry no link are caught by their wording ([`MONEY_LURE`]) or their
    /// Reply-To ([`REPLY_TO_ELSEWHERE`]).
    pub const PLAIN_TEXT: i32 = -15;
    /// A reply to a Message-ID our own mail system wrote. The attacker must know (or guess) how
    /// our Message-IDs look; forgeable, so small.
    pub const REPLY_TO_OURS: i32 = -5;
    /// HTML without a plain-text alternative: mail programs and bulk mailers send both, many
    /// phishing kits only HTML (SpamAssassin's MIME_HTML_ONLY). Said, not weighed: the HTML
    /// signs below say what it only hinted at.
    pub const HTML_ONLY: i32 = 0;
    /// Every web link goes elsewhere than the sender's domain: the message borrows the sender's
    /// name and sends the reader to someone else (click trackers of email services excepted).
    pub const LINKS_ELSEWHERE: i32 = 20;
    /// Most links go home: a newsletter's or a notice's shape; a spoofed From can copy it.
    pub const LINKS_TO_SENDER: i32 = -10;
    /// The destination is hidden from the reader and the filter alike.
    pub const URL_SHORTENER: i32 = 20;
    /// Text written for filters, not for the reader: an evasion, not a style.
    pub const HIDDEN_TEXT: i32 = 25;
    /// Words, free to change: small.
    pub const GENERIC_GREETING: i32 = 15;
    /// Newsletters rush their readers too: weak, never blocks.
    pub const URGENCY: i32 = 5;
    /// The message is a picture a filter cannot read.
    pub const IMAGE_ONLY: i32 = 20;
    /// A conversation; reply-chain hijacking quotes real threads, so small.
    pub const QUOTED_REPLY: i32 = -10;
    /// Organisations mail from their own domains.
    pub const FREEMAIL_ORGANISATION: i32 = 20;
    /// A header no mail program writes, made to show a name and hide the address.
    pub const FROM_SEVERAL: i32 = 20;
    /// Prize and survey wording: words, and newsletters run contests, so small.
    pub const PRIZE_LURE: i32 = 10;
    /// An address nobody can answer or authenticate.
    pub const FROM_INVALID_DOMAIN: i32 = 20;
}

/// A reason of at least this weight towards phishing forbids `likely benign`.
pub const BLOCKS_BENIGN: i32 = 10;

fn reason(signal: &str, weight: i32, text: impl Into<String>, evidence: Vec<String>) -> Reason {
    Reason { signal: signal.into(), weight, text: text.into(), evidence }
}

fn owned_by(host: &str, domains: &[String]) -> bool {
    domains.iter().any(|d| host == d || host.ends_with(&format!(".{d}")))
}

/// Values that match indicators the team made Active: the surest sign.
pub fn active_indicators(known: &Known) -> Option<Reason> {
    let hits: Vec<String> = known
        .values
        .iter()
        .filter(|k| k.status == "active")
        .map(|k| format!("{} {} (indicator {})", k.kind, k.value, k.id))
        .collect();
    (!hits.is_empty())
        .then(|| reason("active_indicator", weight::ACTIVE_INDICATOR, "values match Active indicators", hits))
}

/// The same phish (Message-ID, or sender + subject + URL hosts) is already an event.
pub fn same_phish(known: &Known) -> Option<Reason> {
    known.same_phish_event.map(|e| {
        reason(
            "same_phish_event",
            weight::SAME_PHISH_EVENT,
            format!("the same email is already event {e} (Message-ID or sender, subject and links)"),
            vec![format!("event {e}")],
        )
    })
}

/// Values in events: a URL, a file hash or the sender's address is specific to one phish; a
/// domain or an IP in an event may be collateral (a CDN, a tracker) and weighs less.
pub fn values_in_events(known: &Known) -> Vec<Reason> {
    let live =
        |k: &&super::KnownValue| k.status != "whitelisted" && k.status != "active" && !k.events.is_empty();
    let specific = |kind: &str| matches!(kind, "url" | "md5" | "sha1" | "sha256" | "sha512" | "email");
    let text = |k: &super::KnownValue| {
        format!(
            "{} {} (indicator {}, event {})",
            k.kind,
            k.value,
            k.id,
            k.events.first().copied().unwrap_or_default()
        )
    };
    let strong: Vec<String> =
        known.values.iter().filter(live).filter(|k| specific(&k.kind)).map(text).collect();
    let weak: Vec<String> =
        known.values.iter().filter(live).filter(|k| !specific(&k.kind)).map(text).collect();
    let mut out = Vec::new();
    if !strong.is_empty() {
        out.push(reason(
            "value_in_event",
            weight::SPECIFIC_VALUE_IN_EVENT,
            "a URL, attachment hash or sender address of an existing event",
            strong,
        ));
    }
    if !weak.is_empty() {
        out.push(reason(
            "domain_in_event",
            weight::VALUE_IN_EVENT,
            "domains or IPs of an existing event",
            weak,
        ));
    }
    out
}

pub fn expired_indicators(known: &Known) -> Option<Reason> {
    let hits: Vec<String> = known
        .values
        .iter()
        .filter(|k| k.status == "expired")
        .map(|k| format!("{} {} (indicator {})", k.kind, k.value, k.id))
        .collect();
    (!hits.is_empty()).then(|| {
        reason("expired_indicator", weight::EXPIRED_INDICATOR, "values match indicators that expired", hits)
    })
}

/// The boundary's SPF/DKIM/DMARC results (trusted authserv-ids only) and our own DKIM check.
pub fn authentication(facts: &Facts, said: &BoundarySays, dkim: &DkimCheck) -> Vec<Reason> {
    let mut out = Vec::new();
    let from = facts.from_domain.as_deref().unwrap_or_default();
    let aligned = |d: &String| !from.is_empty() && registered(d).as_deref() == Some(from);
    match said.dmarc.as_deref() {
        Some("pass") => out.push(reason(
            "authenticated",
            weight::AUTHENTICATED,
            "DMARC passed at our boundary: the From domain is authenticated",
            vec![format!("dmarc=pass header.from={from}")],
        )),
        Some("fail") => out.push(reason(
            "dmarc_fail",
            weight::DMARC_FAIL,
            "DMARC failed at our boundary: the From domain did not send this",
            vec![format!("dmarc=fail header.from={from}")],
        )),
        _ => {}
    }
    let boundary_dkim_aligned = said.dkim_pass.iter().any(aligned);
    if matches!(said.spf.as_deref(), Some("fail" | "softfail"))
        && said.dkim_pass.is_empty()
        && said.dmarc.is_none()
    {
        out.push(reason(
            "spf_fail",
            weight::SPF_FAIL,
            "SPF failed at our boundary and no DKIM signature passed",
            vec![format!("spf={}", said.spf.clone().unwrap_or_default())],
        ));
    }
    match dkim {
        DkimCheck::Pass(domains) if domains.iter().any(aligned) || boundary_dkim_aligned => {
            if said.dmarc.as_deref() != Some("pass") {
                out.push(reason(
                    "dkim_aligned",
                    weight::DKIM_ALIGNED,
                    "a DKIM signature of the From domain verified",
                    domains.clone(),
                ));
            }
        }
        DkimCheck::Pass(domains) => out.push(reason(
            "dkim_unaligned",
            0,
            "DKIM verified, but for another domain than the From domain's",
            domains.clone(),
        )),
        DkimCheck::Fail(domains) => out.push(reason(
            "dkim_fail",
            weight::DKIM_FAIL,
            "a DKIM signature did not verify: the signed content was changed",
            domains.clone(),
        )),
        DkimCheck::Unverifiable(why) => {
            if boundary_dkim_aligned && said.dmarc.as_deref() != Some("pass") {
                out.push(reason(
                    "dkim_aligned",
                    weight::DKIM_ALIGNED,
                    "our boundary verified a DKIM signature of the From domain",
                    said.dkim_pass.clone(),
                ));
            } else {
                out.push(reason(
                    "dkim_unverifiable",
                    0,
                    "DKIM could not be verified here",
                    vec![why.clone()],
                ));
            }
        }
        DkimCheck::Unsigned => {}
    }
    out
}

fn registered(host: &str) -> Option<String> {
    crate::extract::IndicatorValue::parse(crate::extract::ObservableKind::Domain, host)
        .ok()?
        .registered_domain
}

static ADDRESS: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)[a-z0-9._%+-]+@([a-z0-9-]+(?:\.[a-z0-9-]+)+)").ok());

/// The display name carries another address, or names a brand the address does not belong to.
pub fn display_name(facts: &Facts, brands: &[Protected]) -> Option<Reason> {
    let name = facts.from_name.as_deref()?.trim();
    let address = facts.from_address.as_deref().unwrap_or_default();
    let domain = address.rsplit('@').next().unwrap_or_default();
    // `"fork-admin@xent.com" <>` shows no other address: there is none. An address of the same
    // registered domain (`"info@example.com" <news@example.com>`) claims nobody else either.
    if let Some(re) = ADDRESS.as_ref()
        && address.contains('@')
        && let Some(m) = re.captures(name)
        && let Some(shown) = m.get(1)
        && registered(shown.as_str()) != facts.from_domain
    {
        return Some(reason(
            "display_name_address",
            weight::DISPLAY_NAME_ADDRESS,
            "the display name shows another address than the one that sent it",
            vec![format!("\"{name}\" <{address}>")],
        ));
    }
    let words: Vec<String> =
        name.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    let joined = words.concat();
    for b in brands.iter().filter(|b| b.name.chars().count() >= 3) {
        let named = words.contains(&b.name) || (b.name.len() >= 6 && joined.contains(&b.name));
        if named && !owned_by(domain, &b.domains) {
            return Some(reason(
                "display_name_brand",
                weight::DISPLAY_NAME_BRAND,
                format!("the display name says {} but the address is not theirs", b.name),
                vec![format!("\"{name}\" <{address}>")],
            ));
        }
    }
    None
}

/// Replies go to another domain than the sender's. A list that asks for replies to itself
/// (`Reply-To` = its posting address, or its domain) is list traffic, not a diversion; a phish
/// faking that must also write list headers naming the reply address, and gains only this.
pub fn reply_to_elsewhere(facts: &Facts) -> Option<Reason> {
    let from = facts.from_domain.as_deref()?;
    let elsewhere: Vec<String> = facts
        .reply_to
        .iter()
        .filter(|a| {
            let d = a.rsplit('@').next().and_then(registered);
            let the_list = facts.list.addresses.contains(a)
                || d.as_ref().is_some_and(|d| facts.list.domains.contains(d));
            d.as_deref() != Some(from) && d.is_some() && !the_list
        })
        .cloned()
        .collect();
    (!elsewhere.is_empty()).then(|| {
        reason(
            "reply_to_elsewhere",
            weight::REPLY_TO_ELSEWHERE,
            format!("replies go to another domain than the sender's ({from})"),
            elsewhere,
        )
    })
}

/// Hosts imitating our domains or a configured brand; the strongest kind found counts once.
pub fn lookalikes(facts: &Facts, protected: &[Protected]) -> Option<Reason> {
    if protected.is_empty() {
        return None;
    }
    let mut found = Vec::new();
    let mut best = 0;
    let mut seen = std::collections::HashSet::new();
    for (host, path) in &facts.hosts {
        if !seen.insert((host.clone(), path.clone())) {
            continue;
        }
        if let Some(l) = lookalike::check(host, path.as_deref(), protected) {
            let w = match l.how {
                How::Homoglyph => weight::HOMOGLYPH,
                How::Typosquat => weight::TYPOSQUAT,
                How::BrandInName => weight::BRAND_IN_NAME,
                How::BrandInPath => weight::BRAND_IN_PATH,
            };
            best = best.max(w);
            let item = format!("{} imitates {} ({})", l.host, l.imitates, l.how.as_str());
            if !found.contains(&item) {
                found.push(item);
            }
        }
    }
    (!found.is_empty())
        .then(|| reason("lookalike_domain", best, "lookalike of our domains or a brand", found))
}

static PASSWORD_INPUT: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"(?is)<input\b[^>]{0,500}?\btype\s*=\s*["']?password"#).ok());

/// An HTML form asking for a password, in the body or in an attachment.
pub fn credential_form(facts: &Facts) -> Option<Reason> {
    let re = PASSWORD_INPUT.as_ref()?;
    let places: Vec<String> =
        facts.html.iter().filter(|(_, html)| re.is_match(html)).map(|(place, _)| place.clone()).collect();
    (!places.is_empty()).then(|| {
        reason("credential_form", weight::CREDENTIAL_FORM, "an HTML form asks for a password", places)
    })
}

/// Links read from QR codes (a way around link scanners).
pub fn qr_codes(facts: &Facts) -> Option<Reason> {
    (!facts.qr_values.is_empty())
        .then(|| reason("qr_code", weight::QR_CODE, "links hidden in QR codes", facts.qr_values.clone()))
}

const RISKY: &[&str] = &[
    "html", "htm", "shtml", "xhtml", "svg", "js", "jse", "vbs", "vbe", "wsf", "hta", "exe", "scr", "com",
    "pif", "bat", "cmd", "ps1", "lnk", "iso", "img", "vhd", "vhdx", "jar", "msi", "docm", "xlsm", "pptm",
    "one",
];

/// Attachments of the kinds used to deliver phishing pages and malware.
pub fn risky_attachments(facts: &Facts) -> Option<Reason> {
    let risky: Vec<String> = facts
        .attachment_names
        .iter()
        .filter(|n| {
            n.rsplit_once('.').is_some_and(|(_, ext)| RISKY.contains(&ext.to_ascii_lowercase().as_str()))
        })
        .cloned()
        .collect();
    (!risky.is_empty()).then(|| {
        reason(
            "risky_attachment",
            weight::RISKY_ATTACHMENT,
            "attachments of a kind that carries phishing pages or code",
            risky,
        )
    })
}

/// Links to a bare IP address.
pub fn ip_urls(facts: &Facts) -> Option<Reason> {
    (!facts.ip_urls.is_empty())
        .then(|| reason("ip_url", weight::IP_URL, "links to a bare IP address", facts.ip_urls.clone()))
}

/// Registered domains that neither our store nor an earlier import has seen.
pub fn newly_seen(known: &Known) -> Option<Reason> {
    (!known.new_domains.is_empty()).then(|| {
        reason(
            "newly_seen_domain",
            weight::NEWLY_SEEN,
            "domains never seen before in our store or imports",
            known.new_domains.clone(),
        )
    })
}

/// No indicator is proposed: everything found is whitelisted (or nothing was found).
pub fn nothing_to_act_on(facts: &Facts) -> Option<Reason> {
    (facts.proposed == 0).then(|| {
        reason(
            "everything_whitelisted",
            weight::NOTHING_TO_ACT_ON,
            if facts.whitelisted > 0 {
                "every value found is whitelisted"
            } else {
                "no link, address or attachment to act on"
            },
            vec![format!("{} whitelisted", facts.whitelisted)],
        )
    })
}

/// Traffic of a mailing list: the list names itself and another list header agrees
/// ([`super::ListFacts::is_list`]).
pub fn mailing_list(facts: &Facts) -> Option<Reason> {
    facts.list.is_list().then(|| {
        reason("mailing_list", weight::MAILING_LIST, "a mailing list's message", facts.list.headers.clone())
    })
}

/// A reply (`In-Reply-To`/`References`) to a message whose Message-ID our own mail system wrote:
/// a thread the user took part in.
pub fn reply_to_ours(facts: &Facts, own_domains: &[String]) -> Option<Reason> {
    let ours: Vec<String> = facts
        .replies_to
        .iter()
        .filter(|id| id.rsplit('@').next().is_some_and(|host| owned_by(host, own_domains)))
        .cloned()
        .collect();
    (!ours.is_empty()).then(|| {
        reason("reply_to_ours", weight::REPLY_TO_OURS, "a reply in a thread with a message of ours", ours)
    })
}

/// Anchor text that is a URL or a bare host name (`https://bank.example/login`, `www.bank.example`).
static SHOWN_HOST: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:https?://)?((?:[a-z0-9-]+\.)+[a-z][a-z0-9-]{1,62})\.?(?::\d+)?(?:[/?#]\S*)?$").ok()
});

/// Links of HTML (body or attachment) as `(what the reader sees, href)`, entities decoded; at
/// most 500. Read by [`next_anchor`], a scanner: the equivalent regular expression (bounded
/// repetitions, captures) ran on the slowest regex engine over every HTML body, and was a
/// quarter of an import's time.
pub fn anchors(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    while out.len() < 500 {
        let Some(a) = next_anchor(html, from) else { break };
        from = a.end;
        let text = strip_tags(a.text, "");
        let text = crate::extract::html::decode_entities(&text);
        out.push((
            text.split_whitespace().collect::<Vec<_>>().join(" "),
            crate::extract::html::decode_entities(a.href),
        ));
    }
    out
}

/// One `<a … href=…>text</a>` of [`next_anchor`].
struct Anchor<'a> {
    href: &'a str,
    text: &'a str,
    /// Where the search for the next one goes on.
    end: usize,
}

/// The longest stretch, in characters, of an anchor's attributes before and after the href, and
/// of its text.
const ANCHOR_SPAN: usize = 2000;

/// The first anchor at or after byte `from`: `<a` (any case, a word ending there), within
/// [`ANCHOR_SPAN`] characters of the tag an `href` (a word starting there) `=` a quoted or bare
/// value, the tag closed by `>` within as many characters, and the text closed by `</a>` within
/// as many. A `<a` that does not make a whole anchor is skipped.
fn next_anchor(html: &str, mut from: usize) -> Option<Anchor<'_>> {
    let b = html.as_bytes();
    let word = |i: usize| b.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
    // Positions below come from ASCII bytes, so they are character boundaries.
    let within = |a: usize, z: usize| {
        z - a <= ANCHOR_SPAN || html.get(a..z).is_some_and(|t| t.chars().count() <= ANCHOR_SPAN)
    };
    let starts_with_ci =
        |i: usize, what: &[u8]| b.get(i..i + what.len()).is_some_and(|t| t.eq_ignore_ascii_case(what));
    loop {
        let open = from + b.get(from..)?.iter().position(|c| *c == b'<')?;
        from = open + 1;
        if !starts_with_ci(open + 1, b"a") || word(open + 2) {
            continue;
        }
        let attrs = open + 2;
        let Some((href, value_end)) = anchor_href(b, attrs, &word, &within) else { continue };
        let Some(close) =
            b.get(value_end..).and_then(|t| t.iter().position(|c| *c == b'>')).map(|p| value_end + p)
        else {
            continue;
        };
        if !within(value_end, close) {
            continue;
        }
        let body = close + 1;
        let mut at = body;
        let end = loop {
            let Some(p) = b.get(at..).and_then(|t| t.iter().position(|c| *c == b'<')).map(|p| at + p) else {
                break None;
            };
            if !within(body, p) {
                break None;
            }
            if starts_with_ci(p + 1, b"/a") {
                let mut q = p + 3;
                while b.get(q).is_some_and(u8::is_ascii_whitespace) {
                    q += 1;
                }
                if b.get(q) == Some(&b'>') {
                    break Some((p, q + 1));
                }
            }
            at = p + 1;
        };
        let Some((text_end, end)) = end else { continue };
        return Some(Anchor { href: html.get(href.0..href.1)?, text: html.get(body..text_end)?, end });
    }
}

/// The href value of a tag whose attributes start at `attrs`: `(value span, end of the value)`.
fn anchor_href(
    b: &[u8],
    attrs: usize,
    word: &dyn Fn(usize) -> bool,
    within: &dyn Fn(usize, usize) -> bool,
) -> Option<((usize, usize), usize)> {
    let mut at = attrs;
    loop {
        let rel = b.get(at..)?.iter().position(|c| *c == b'>' || *c == b'h' || *c == b'H')?;
        let h = at + rel;
        if b.get(h) == Some(&b'>') || !within(attrs, h) {
            return None;
        }
        at = h + 1;
        if !b.get(h..h + 4).is_some_and(|t| t.eq_ignore_ascii_case(b"href")) || (h > 0 && word(h - 1)) {
            continue;
        }
        let mut q = h + 4;
        while b.get(q).is_some_and(u8::is_ascii_whitespace) {
            q += 1;
        }
        if b.get(q) != Some(&b'=') {
            continue;
        }
        q += 1;
        while b.get(q).is_some_and(u8::is_ascii_whitespace) {
            q += 1;
        }
        match b.get(q) {
            Some(&quote) if quote == b'"' || quote == b'\'' => {
                let Some(len) = b.get(q + 1..).and_then(|t| t.iter().position(|c| *c == quote)) else {
                    continue;
                };
                return Some(((q + 1, q + 1 + len), q + 2 + len));
            }
            Some(_) => {
                let len = b
                    .get(q..)?
                    .iter()
                    .position(|c| c.is_ascii_whitespace() || *c == b'>')
                    .unwrap_or(b.len() - q);
                if len == 0 {
                    continue;
                }
                return Some(((q, q + len), q + len));
            }
            None => return None,
        }
    }
}

/// The registered domain an anchor text shows, if it shows a host.
fn shown_domain(text: &str) -> Option<String> {
    let c = SHOWN_HOST.as_ref()?.captures(text.trim())?;
    registered(c.get(1)?.as_str())
}

/// The registered domain an href goes to, through link-rewriting gateways (Safe Links, …).
fn target_domain(href: &str) -> Option<String> {
    let href = href.trim();
    let lower = href.to_ascii_lowercase();
    let url = match crate::extract::wrappers::unwrap(&lower).and_then(|u| u.target) {
        Some(target) => target,
        None => href.to_string(),
    };
    registered(&crate::extract::bundle::url_host(&url)?)
}

/// Link text shows one host and the link goes to another (`<a href="https://evil.example">
/// https://bank.example</a>`): the reader is told where they are going, and it is not true.
pub fn link_text_elsewhere(facts: &Facts) -> Option<Reason> {
    let mut found = Vec::new();
    for links in html_anchors(facts) {
        for (text, href) in links {
            if let (Some(shown), Some(goes)) = (shown_domain(text), target_domain(href))
                && shown != goes
            {
                let item = format!("\"{text}\" goes to {goes}");
                if !found.contains(&item) && found.len() < 10 {
                    found.push(item);
                }
            }
        }
    }
    (!found.is_empty()).then(|| {
        reason(
            "link_text_elsewhere",
            weight::LINK_TEXT_ELSEWHERE,
            "a link shows one address and goes to another",
            found,
        )
    })
}

/// The lures of credential phishing, worded as field reports and awareness trainings list them.
const LURE_PATTERN: &str = concat!(
    r"(?i)(?-u:\b)(?:",
    r"(?:verify|confirm|validate|update|unlock|reactivate|re-activate|restore)\s+your\s+",
    r"(?:account|identity|e-?mail|mailbox|password|login|credentials|billing|payment)",
    r"|your\s+(?:account|mailbox|password|e-?mail)\s+(?:has\s+been\s+|was\s+|is\s+|will\s+be\s+)?",
    r"(?:suspended|locked|limited|disabled|deactivated|blocked|restricted|on\s+hold|expired?|closed)",
    r"|password\s+(?:will\s+)?expires?",
    r"|unusual\s+(?:sign-?in|login|activity)",
    r"|mailbox\s+(?:is\s+)?(?:full|storage|quota)",
    r"|(?:storage|mailbox)\s+quota",
    r")(?-u:\b)"
);
static LURE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(LURE_PATTERN).ok());

/// The wording of advance-fee and payout scams, as fraud-awareness pages list it.
const MONEY_PATTERN: &str = concat!(
    r"(?i)(?-u:\b)(?:",
    r"next\s+of\s+kin|inheritance|beneficiary|consignment|compensation\s+(?:fund|payment)",
    r"|(?:fund|funds|payment)\s+(?:transfer|release|remittance)|atm\s+card|lottery|won\s+the\s+sum",
    r"|(?:million|billion)\s+(?:us\s+)?(?:dollars|usd|euros?|pounds)|donat(?:ed|ion)(?-u:\b)[^\n]{0,40}?(?-u:\b)to\s+you",
    r"|\d{1,3}(?:,\d{3}){2,}(?:\.\d\d)?\s*(?:usd|us\s+dollars|dollars|euros?|eur)",
    r"|bitcoin|(?-u:\b)btc(?-u:\b)|crypto\s*wallet|withdraw(?:al)?\s+(?:your|the)\s+(?:funds|balance|money|profit)",
    r"|hours\s+to\s+withdraw|your\s+balance\s+(?:has\s+been|is)",
    r"|(?:investment|partnership|business)\s+(?:offer|proposal|opportunity)",
    r"|whatsapp|telegram",
    r")(?-u:\b)"
);
static MONEY: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(MONEY_PATTERN).ok());

/// The wording patterns in one set, in [`Wording`]'s order: one pass over each visible text says
/// which of them speak, and only those run again for the words (five passes were 2.3 % of an
/// import's CPU, perf on scripts/bench-triage).
static WORDING: LazyLock<Option<RegexSet>> = LazyLock::new(|| {
    RegexSet::new([LURE_PATTERN, MONEY_PATTERN, PRIZE_PATTERN, GREETING_PATTERN, URGENCY_PATTERN]).ok()
});

/// A wording pattern: its place in [`WORDING`].
#[derive(Debug, Clone, Copy)]
enum Wording {
    Lure = 0,
    Money = 1,
    Prize = 2,
    Greeting = 3,
    Urgency = 4,
}

impl Wording {
    /// The pattern alone (for the words it matched).
    fn regex(self) -> Option<&'static Regex> {
        match self {
            Wording::Lure => LURE.as_ref(),
            Wording::Money => MONEY.as_ref(),
            Wording::Prize => PRIZE.as_ref(),
            Wording::Greeting => GREETING.as_ref(),
            Wording::Urgency => URGENCY.as_ref(),
        }
    }
}

/// `html` with every tag replaced by `by`: what replacing the regex `(?s)<[^>]*>` did, in one
/// scan (a `<` with no `>` after it is text).
fn strip_tags(html: &str, by: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        let (text, tag) = rest.split_at(lt);
        let Some(gt) = tag.find('>') else { break };
        out.push_str(text);
        out.push_str(by);
        rest = tag.get(gt + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// Visible text of the reported message: plain bodies, and HTML bodies without tags.
fn visible_texts(facts: &Facts) -> &[String] {
    facts.visible.get_or_init(|| {
        let mut out = vec![facts.plain.clone()];
        for (_, html) in &facts.html {
            let end = (0..=html.len().min(4 * super::MAX_WORDING)).rev().find(|&i| html.is_char_boundary(i));
            let visible = strip_tags(html.get(..end.unwrap_or(0)).unwrap_or_default(), " ");
            out.push(crate::extract::html::decode_entities(&visible));
        }
        out
    })
}

/// Which wording patterns match each visible text (in [`visible_texts`]' order), read once.
fn wording_hits(facts: &Facts) -> &[regex::SetMatches] {
    facts.wording.get_or_init(|| match WORDING.as_ref() {
        Some(set) => visible_texts(facts).iter().map(|t| set.matches(t)).collect(),
        None => Vec::new(),
    })
}

/// The links of each HTML text (in `facts.html`'s order), read once.
fn html_anchors(facts: &Facts) -> &[Vec<(String, String)>] {
    facts.anchors.get_or_init(|| facts.html.iter().map(|(_, html)| anchors(html)).collect())
}

/// What the pattern `which` finds in the visible text, lower case, each once (at most 5 per
/// text).
fn wording(which: Wording, facts: &Facts) -> Vec<String> {
    wording_n(which, facts, 5)
}

/// [`wording`], reading up to `n` matches per text.
fn wording_n(which: Wording, facts: &Facts, n: usize) -> Vec<String> {
    let Some(re) = which.regex() else { return Vec::new() };
    let hits = wording_hits(facts);
    let mut found: Vec<String> = Vec::new();
    for (i, text) in visible_texts(facts).iter().enumerate() {
        // Without the set (it failed to build), every text is read.
        if hits.get(i).is_some_and(|h| !h.matched(which as usize)) {
            continue;
        }
        for m in re.find_iter(text).take(n) {
            let w = m.as_str().split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
            if !found.contains(&w) {
                found.push(w);
            }
        }
    }
    found
}

/// Wording of an advance-fee or payout scam.
pub fn money_lure(facts: &Facts) -> Option<Reason> {
    let found = wording(Wording::Money, facts);
    (!found.is_empty())
        .then(|| reason("money_lure", weight::MONEY_LURE, "wording of an advance-fee or payout scam", found))
}

/// Wording of a credential lure in the text the reader sees (plain text, or HTML without tags).
pub fn credential_lure(facts: &Facts) -> Option<Reason> {
    let found = wording(Wording::Lure, facts);
    (!found.is_empty()).then(|| {
        reason(
            "credential_lure",
            weight::CREDENTIAL_LURE,
            "wording that lures the reader to give credentials",
            found,
        )
    })
}

/// The body is HTML with no plain-text alternative.
pub fn html_only(facts: &Facts) -> Option<Reason> {
    let html_body = facts.html.iter().any(|(place, _)| place.starts_with("body "));
    (html_body && facts.plain.is_empty()).then(|| {
        reason("html_only", weight::HTML_ONLY, "an HTML body without a plain-text alternative", vec![])
    })
}

/// No HTML: what the reader sees is what the links say; no hidden targets, forms or scripts.
pub fn plain_text(facts: &Facts) -> Option<Reason> {
    (facts.html.is_empty() && facts.has_body).then(|| {
        reason(
            "plain_text",
            weight::PLAIN_TEXT,
            "plain text only: no hidden link targets, forms or scripts",
            vec![],
        )
    })
}

/// Free webmail: anyone can open an address there in a minute, under any display name.
const FREEMAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.co.jp",
    "yahoo.fr",
    "yahoo.de",
    "yahoo.es",
    "yahoo.it",
    "yahoo.com.br",
    "ymail.com",
    "rocketmail.com",
    "hotmail.com",
    "hotmail.fr",
    "hotmail.de",
    "hotmail.co.uk",
    "hotmail.it",
    "hotmail.es",
    "outlook.com",
    "outlook.fr",
    "outlook.de",
    "live.com",
    "live.fr",
    "live.de",
    "live.co.uk",
    "msn.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "gmx.at",
    "gmx.ch",
    "web.de",
    "mail.com",
    "mail.ru",
    "inbox.ru",
    "list.ru",
    "bk.ru",
    "yandex.ru",
    "yandex.com",
    "rambler.ru",
    "proton.me",
    "protonmail.com",
    "pm.me",
    "tutanota.com",
    "tuta.io",
    "zohomail.com",
    "qq.com",
    "163.com",
    "126.com",
    "sina.com",
    "naver.com",
    "daum.net",
    "rediffmail.com",
    "ukr.net",
    "libero.it",
    "laposte.net",
    "wp.pl",
    "o2.pl",
    "onet.pl",
    "interia.pl",
    "seznam.cz",
    "hushmail.com",
    "gmx.fr",
    "bol.com.br",
    "uol.com.br",
];

/// Words by which a display name presents an organisation or one of its departments rather
/// than a person (English, German, French, Spanish, Portuguese).
static ORGANISATION_NAME: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)\b(?:support|service|services|team|security|account|accounts|billing|admin|administrator",
        r"|helpdesk|help\s+desk|customer|customers|notification|notifications|alert|alerts|department",
        r"|verification|official|payroll|webmail|mailbox|delivery|shipping|invoice|invoices|payment",
        r"|payments|bank|banking|no-?reply|it\s+desk|hr|human\s+resources|compliance|office",
        r"|kundenservice|kundendienst|sicherheit|konto|abteilung|assistance|sécurité|compte|soporte",
        r"|servicio|cuenta|seguridad|suporte|atendimento|conta|segurança|banco|cliente|clientes",
        r")\b"
    ))
    .ok()
});

/// The display name presents an organisation (support, security, billing, a bank…) and the
/// address is at a free webmail provider: organisations mail from their own domains.
pub fn freemail_organisation(facts: &Facts) -> Option<Reason> {
    let name = facts.from_name.as_deref()?.trim();
    let domain = facts.from_domain.as_deref()?;
    if !FREEMAIL.contains(&domain) {
        return None;
    }
    let words: Vec<String> =
        ORGANISATION_NAME.as_ref()?.find_iter(name).map(|m| m.as_str().to_lowercase()).collect();
    (!words.is_empty()).then(|| {
        reason(
            "freemail_organisation",
            weight::FREEMAIL_ORGANISATION,
            format!("the display name presents an organisation, the address is free webmail ({domain})"),
            vec![format!("\"{name}\" <{}>", facts.from_address.as_deref().unwrap_or_default())],
        )
    })
}

/// The From header holds several mailboxes (`"Team", <a@b.example>, <c@d.example>`): mail
/// programs show one name and hide the addresses; RFC 5322 allows it only with a Sender, and mail
/// programs never write it.
pub fn from_several(facts: &Facts) -> Option<Reason> {
    (facts.from_mailboxes > 1).then(|| {
        reason(
            "from_several",
            weight::FROM_SEVERAL,
            "the From header holds several mailboxes: one name is shown, the addresses are hidden",
            vec![format!("{} mailboxes", facts.from_mailboxes)],
        )
    })
}

/// The sender's address has no domain that exists on the internet (`notifica@bank`,
/// `x@%offers.example`, `Winner@Today!`): nobody can answer it or authenticate it; a mail system
/// of an organisation does not write it.
pub fn from_invalid_domain(facts: &Facts) -> Option<Reason> {
    let address = facts.from_address.as_deref()?;
    let domain = address.rsplit_once('@').map(|(_, d)| d.trim_end_matches('.')).unwrap_or_default();
    // A domain that is itself a public suffix (`iki.fi`) has no registered domain and is real;
    // a name without a dot is never a mail domain (ICANN forbids dotless TLDs).
    let real =
        domain.contains('.') && (facts.from_domain.is_some() || registered(&format!("x.{domain}")).is_some());
    (!real).then(|| {
        reason(
            "from_invalid_domain",
            weight::FROM_INVALID_DOMAIN,
            "the sender's address has no real internet domain",
            vec![address.to_string()],
        )
    })
}

/// Prize, survey and gift lures (English, German, French, Spanish, Portuguese).
const PRIZE_PATTERN: &str = concat!(
    r"(?i)(?-u:\b)(?:congratulations|you(?:'ve|\s+have)?\s+(?:just\s+)?(?:won|been\s+(?:selected|chosen))",
    r"|winners?|prizes?|gift\s*cards?|rewards?|free\s+gift|claim\s+your|survey|sweepstakes?|giveaway",
    r"|gewinn\w*|gewonnen|gutschein\w*|glückwunsch|gratulieren|gagn\w+|félicitations|cadeau|récompense",
    r"|sondage|ganhe|ganhador|prêmio|parabéns|premio|ganador|felicidades|sorteo|sorteio",
    r")(?-u:\b)"
);
static PRIZE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(PRIZE_PATTERN).ok());

/// Fewest different prize words for [`prize_lure`]: one "winner" or "survey" is news.
pub const PRIZE_WORDS_MIN: usize = 2;

/// Wording of a prize, survey or gift-card lure ("congratulations, you have been selected…").
pub fn prize_lure(facts: &Facts) -> Option<Reason> {
    let found = wording_n(Wording::Prize, facts, 50);
    (found.len() >= PRIZE_WORDS_MIN)
        .then(|| reason("prize_lure", weight::PRIZE_LURE, "wording of a prize, survey or gift lure", found))
}

/// The reported message's HTML bodies (not attachments): what the reader sees and clicks.
fn html_bodies(facts: &Facts) -> impl Iterator<Item = &str> {
    facts.html.iter().filter(|(place, _)| place.starts_with("body ")).map(|(_, html)| html.as_str())
}

/// Registered domains of email service providers' click trackers: a newsletter sent through
/// them links there whoever sent it, so they count neither as the sender's nor as elsewhere.
const LINK_TRACKERS: &[&str] = &[
    "list-manage.com",
    "mailchi.mp",
    "mcsv.net",
    "sendgrid.net",
    "hubspotlinks.com",
    "hubspotemail.net",
    "hs-email.net",
    "rs6.net",
    "ccsend.com",
    "exct.net",
    "mjt.lu",
    "mlsend.com",
    "klclick.com",
    "klclick1.com",
    "cmail19.com",
    "cmail20.com",
    "createsend.com",
    "createsend1.com",
    "mandrillapp.com",
    "sparkpostmail.com",
    "mailgun.org",
    "awstrack.me",
    "pstmrk.it",
    "emltrk.com",
    "sendibt2.com",
    "sendibt3.com",
    "sendibm1.com",
    "aweber.com",
    "mkt.com",
    "mktoweb.com",
    "mailerlite.com",
];

/// Where the HTML bodies' web links go: `(sender's own, elsewhere)`, each link counted once per
/// href; `elsewhere` lists the other registered domains. Gateways (Safe Links, …) are unwrapped;
/// [`LINK_TRACKERS`] count neither way.
fn link_targets(facts: &Facts) -> (usize, usize, Vec<String>) {
    let Some(from) = facts.from_domain.as_deref() else { return (0, 0, Vec::new()) };
    let mut seen = std::collections::HashSet::new();
    let (mut own, mut other, mut domains) = (0, 0, Vec::new());
    let bodies =
        facts.html.iter().zip(html_anchors(facts)).filter(|((place, _), _)| place.starts_with("body "));
    for (_, links) in bodies {
        for (_, href) in links {
            let lower = href.trim().to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://")) || !seen.insert(lower) {
                continue;
            }
            match target_domain(href) {
                Some(d) if d == from => own += 1,
                // An email service's click tracker stands for every sender it mails for.
                Some(d) if LINK_TRACKERS.contains(&d.as_str()) => {}
                Some(d) => {
                    other += 1;
                    if !domains.contains(&d) {
                        domains.push(d);
                    }
                }
                // An IP target has no registered domain: `ip_url` speaks for it.
                None => other += 1,
            }
        }
    }
    (own, other, domains)
}

/// Every web link of the HTML body goes to another registered domain than the sender's: the
/// message asks to be trusted as the sender and sends the reader somewhere else.
pub fn links_elsewhere(facts: &Facts) -> Option<Reason> {
    let (own, other, domains) = link_targets(facts);
    let from = facts.from_domain.as_deref().unwrap_or_default();
    (own == 0 && other > 0).then(|| {
        reason(
            "links_elsewhere",
            weight::LINKS_ELSEWHERE,
            format!("every link goes to another domain than the sender's ({from})"),
            domains.into_iter().take(10).collect(),
        )
    })
}

/// Most web links of the HTML body (at least [`OWN_LINKS_MIN`]) go to the sender's own
/// registered domain: a newsletter or a notice that sends the reader to its own site.
pub fn links_to_sender(facts: &Facts) -> Option<Reason> {
    let (own, other, _) = link_targets(facts);
    let from = facts.from_domain.as_deref().unwrap_or_default();
    (own >= OWN_LINKS_MIN && own >= other).then(|| {
        reason(
            "links_to_sender",
            weight::LINKS_TO_SENDER,
            format!("most links go to the sender's own domain ({from})"),
            vec![format!("{own} of {} links", own + other)],
        )
    })
}

/// Fewest links to the sender's own domain for [`links_to_sender`]: one link home is decoration
/// (a logo) a phish copies from the brand it imitates.
pub const OWN_LINKS_MIN: usize = 3;

/// Public URL shorteners: the reader cannot see where the link goes, and neither can a filter.
const SHORTENERS: &[&str] = &[
    "bit.ly",
    "bitly.com",
    "tinyurl.com",
    "t.co",
    "goo.gl",
    "ow.ly",
    "is.gd",
    "v.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "shorturl.at",
    "rb.gy",
    "t.ly",
    "tiny.cc",
    "s.id",
    "lnkd.in",
    "shorte.st",
    "clck.ru",
    "u.to",
    "x.co",
    "tr.im",
    "snip.ly",
    "qrco.de",
    "bl.ink",
    "short.io",
    "shorturl.com",
    "tiny.one",
    "urlz.fr",
    "2no.co",
    "surl.li",
    "lnk.bio",
];

/// Links through a public URL shortener.
pub fn url_shortener(facts: &Facts) -> Option<Reason> {
    let mut found: Vec<String> = Vec::new();
    for (host, path) in &facts.hosts {
        let bare = host.strip_prefix("www.").unwrap_or(host);
        let has_path = path.as_deref().is_some_and(|p| p.trim_matches('/').len() >= 2);
        if has_path && SHORTENERS.contains(&bare) {
            let item = format!("{host}{}", path.as_deref().unwrap_or_default());
            if !found.contains(&item) && found.len() < 10 {
                found.push(item);
            }
        }
    }
    (!found.is_empty()).then(|| {
        reason(
            "url_shortener",
            weight::URL_SHORTENER,
            "links through a URL shortener hide where they go",
            found,
        )
    })
}

/// An element styled not to be seen (`display:none`, `visibility:hidden`, zero font size, zero
/// opacity or height) that holds text.
static HIDDEN_ELEMENT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?is)<[a-z][a-z0-9]*(?-u:\b)[^>]*?(?-u:\b)style\s*=\s*["'][^"'>]*?"#,
        r#"(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0*\.?0+(?:px|pt|em|rem|%)?\s*(?:[;!"']|$)"#,
        r#"|opacity\s*:\s*0*\.?0+\s*(?:[;!"']|$)|(?:max-)?height\s*:\s*0+(?:px)?\s*(?:[;!"']|$))"#,
        r#"[^>]*>\s*[^<\s][^<]{2,}"#
    ))
    .ok()
});

/// Zero-width characters (raw or as entities) between two Latin letters: a word broken for
/// filters and whole for the reader. (Between letters of scripts that need joiners — Persian,
/// Indic — they are spelling, hence Latin only; soft hyphens are typography, not counted.)
static BROKEN_WORD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
            r"(?i)[a-z](?:[\u{200B}-\u{200D}\u{2060}\u{FEFF}]|&#(?:8203|8204|8205|8288|65279|x200[bcd]|x2060|xfeff);|&zwn?j;)+[a-z]",
        )
        .ok()
});

/// What every [`BROKEN_WORD`] holds: a literal search (memchr-fast) that spares most texts the
/// full pattern, which no literal starts.
static INVISIBLE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"[\u{200B}-\u{200D}\u{2060}\u{FEFF}]|&#|(?i:&zw)").ok());

/// Words broken by invisible characters in `text` (at most 200).
fn broken_words(text: &str) -> usize {
    let (Some(broken), Some(invisible)) = (BROKEN_WORD.as_ref(), INVISIBLE.as_ref()) else {
        return 0;
    };
    if !invisible.is_match(text) {
        return 0;
    }
    broken.find_iter(text).take(200).count()
}

/// Blocks of hidden text that a single preheader (one hidden element, the preview line of a
/// newsletter) does not reach: filler written for filters, not for the reader.
pub const HIDDEN_BLOCKS_MIN: usize = 2;

/// Text the reader does not see: hidden elements holding text ("hidden text salting": words
/// for filters, the reader sees the lure), or words broken by invisible characters.
pub fn hidden_text(facts: &Facts) -> Option<Reason> {
    let hidden = HIDDEN_ELEMENT.as_ref()?;
    let mut blocks = 0;
    let mut broken_words = 0;
    let mut evidence = Vec::new();
    for html in html_bodies(facts) {
        // Matches without captures (which would run the slowest engine over the match): the
        // hidden text is what follows the tag's first `>`, the pattern allowing none before it.
        for m in hidden.find_iter(html).take(200) {
            blocks += 1;
            if evidence.len() < 3
                && let Some((_, t)) = m.as_str().split_once('>')
            {
                let text: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
                evidence.push(format!("hidden: \"{}\"", text.chars().take(60).collect::<String>()));
            }
        }
        broken_words += self::broken_words(html);
    }
    broken_words += self::broken_words(&facts.plain);
    if broken_words > 0 {
        evidence.push(format!("{broken_words} words broken by invisible characters"));
    }
    (blocks >= HIDDEN_BLOCKS_MIN || broken_words > 0).then(|| {
        if blocks > 0 {
            evidence.insert(0, format!("{blocks} hidden elements with text"));
        }
        reason(
            "hidden_text",
            weight::HIDDEN_TEXT,
            "text hidden from the reader (written for filters)",
            evidence,
        )
    })
}

/// Greetings that do not know the reader's name ("Dear customer", "Hello user").
const GREETING_PATTERN: &str = concat!(
    r"(?i)(?-u:\b)(?:dear|hello|hi|greetings|attention)[\s,:]+(?:valued\s+|our\s+|esteemed\s+)?",
    r"(?:customer|user|client|member|account\s*(?:holder|owner)|subscriber|e-?mail\s+(?:user|owner)",
    r"|sir(?:\s*/\s*madam)?|madam|beneficiary|recipient|webmail\s+user)(?-u:\b)"
);
static GREETING: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(GREETING_PATTERN).ok());

/// A greeting that does not know the reader: mass mail pretending to be personal.
pub fn generic_greeting(facts: &Facts) -> Option<Reason> {
    let found = wording(Wording::Greeting, facts);
    (!found.is_empty()).then(|| {
        reason(
            "generic_greeting",
            weight::GENERIC_GREETING,
            "a greeting that does not know the reader",
            found,
        )
    })
}

/// Deadlines and threats that rush the reader (awareness trainings' "sense of urgency").
const URGENCY_PATTERN: &str = concat!(
    r"(?i)(?-u:\b)(?:urgent(?:ly)?|immediate(?:ly)?|within\s+(?:12|24|48|72)\s*(?:hours|hrs)",
    r"|as\s+soon\s+as\s+possible|action\s+required|final\s+(?:notice|warning|reminder)",
    r"|last\s+(?:chance|warning|notice|reminder)|expires?\s+(?:today|soon|tomorrow)",
    r"|(?:will\s+be|has\s+been)\s+(?:suspended|terminated|deleted|closed|cancell?ed|blocked)",
    r")(?-u:\b)"
);
static URGENCY: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(URGENCY_PATTERN).ok());

/// Wording that rushes the reader: deadlines, final notices, threatened closures.
pub fn urgency(facts: &Facts) -> Option<Reason> {
    let found = wording(Wording::Urgency, facts);
    (!found.is_empty()).then(|| reason("urgency", weight::URGENCY, "wording that rushes the reader", found))
}

static IMG: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"(?i)<img\b").ok());
static STYLE_OR_SCRIPT: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?is)<(style|script|title)\b.*?</(?:style|script|title)\s*>").ok());

/// Fewest words of text an HTML body needs not to be [`image_only`].
pub const IMAGE_ONLY_WORDS: usize = 30;

/// An HTML body that is pictures with (almost) no text: the message is in an image, where a
/// filter cannot read it.
pub fn image_only(facts: &Facts) -> Option<Reason> {
    let (Some(img), Some(skip)) = (IMG.as_ref(), STYLE_OR_SCRIPT.as_ref()) else {
        return None;
    };
    if facts.plain.split_whitespace().count() >= IMAGE_ONLY_WORDS {
        return None;
    }
    let images: usize = html_bodies(facts).map(|html| img.find_iter(html).take(100).count()).sum();
    if images == 0 {
        return None;
    }
    // The words only up to the threshold: most bodies with pictures have text enough.
    let mut words = 0;
    for html in html_bodies(facts) {
        let text = strip_tags(&skip.replace_all(html, " "), " ");
        words +=
            crate::extract::html::decode_entities(&text).split_whitespace().take(IMAGE_ONLY_WORDS).count();
        if words >= IMAGE_ONLY_WORDS {
            return None;
        }
    }
    Some(reason(
        "image_only",
        weight::IMAGE_ONLY,
        "the HTML body is images with almost no text",
        vec![format!("{images} images, {words} words")],
    ))
}

/// Lines quoting an earlier message (`> …`), or the header of a quoted one.
static QUOTE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?m)^(?:>|-{2,}\s*Original Message\s*-{2,}|On .{5,120} wrote:\s*$)").ok());

/// Fewest quoting lines for [`quoted_reply`].
pub const QUOTED_LINES_MIN: usize = 3;

/// The plain text answers an earlier message it quotes: a conversation. Reply-chain hijacking
/// quotes real threads too, so it is small and never outweighs a phishing sign.
pub fn quoted_reply(facts: &Facts) -> Option<Reason> {
    let n = QUOTE.as_ref()?.find_iter(&facts.plain).take(1000).count();
    (n >= QUOTED_LINES_MIN).then(|| {
        reason(
            "quoted_reply",
            weight::QUOTED_REPLY,
            "a reply that quotes an earlier message",
            vec![format!("{n} quoted lines")],
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::ListFacts;
    use super::*;

    fn from(name: Option<&str>, address: &str) -> Facts {
        let address = (!address.is_empty()).then(|| address.to_string());
        Facts {
            from_name: name.map(str::to_string),
            from_domain: address.as_deref().and_then(|a| a.rsplit('@').next()).and_then(registered),
            from_address: address,
            ..Facts::default()
        }
    }

    fn list(headers: &[(&str, &str)]) -> ListFacts {
        ListFacts::read(|name| {
            headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.to_string())
        })
    }

    fn html(body: &str) -> Facts {
        Facts { html: vec![("body 1".into(), body.into())], has_body: true, ..Facts::default() }
    }

    #[test]
    fn display_name_address_needs_another_address() {
        let shown = |f: &Facts| display_name(f, &[]).map(|r| r.signal);
        let spoof = from(Some("ceo@bank.com"), "x@mailer.net");
        assert_eq!(shown(&spoof).as_deref(), Some("display_name_address"));
        // An empty address shows nothing else: there is none.
        assert_eq!(shown(&from(Some("fork-admin@xent.com"), "")), None);
        assert_eq!(shown(&from(Some("info@example.com"), "news@lists.example.com")), None);
        assert_eq!(shown(&from(Some("Jane Doe"), "jane@example.com")), None);
    }

    #[test]
    fn list_headers_of_the_old_managers_are_read() {
        let yahoo = list(&[
            ("Mailing-List", "list zzzzteana@yahoogroups.com; contact zzzzteana-owner@yahoogroups.com"),
            ("Precedence", "bulk"),
        ]);
        assert_eq!(yahoo.addresses, vec!["zzzzteana@yahoogroups.com".to_string()]);
        assert_eq!(yahoo.domains, vec!["yahoogroups.com".to_string()]);
        assert!(yahoo.is_list());
        let mailman = list(&[
            ("List-Id", "Talk <talk.lists.example.org>"),
            ("List-Post", "<mailto:talk@lists.example.org>"),
            ("Sender", "talk-admin@lists.example.org"),
        ]);
        assert_eq!(mailman.domains, vec!["example.org".to_string()]);
        assert_eq!(mailman.headers.len(), 3);
        assert!(mailman.is_list());
        // One stray header, or no list identity, is not a list.
        assert!(!list(&[("List-Unsubscribe", "<https://x.example/u>")]).is_list());
        assert!(!list(&[("Precedence", "bulk"), ("List-Unsubscribe", "<https://x.example/u>")]).is_list());
        assert!(!list(&[("Precedence", "junk"), ("X-BeenThere", "a@b.example")]).is_list());
        assert!(!list(&[("Delivered-To", "someone@b.example"), ("Precedence", "list")]).is_list());
    }

    #[test]
    fn reply_to_the_list_is_not_elsewhere() {
        let mut f = from(Some("Bob"), "bob@home.net");
        f.reply_to = vec!["zzzzteana@yahoogroups.com".into()];
        assert!(reply_to_elsewhere(&f).is_some(), "no list headers: elsewhere");
        f.list = list(&[("Mailing-List", "list zzzzteana@yahoogroups.com"), ("Precedence", "list")]);
        assert!(reply_to_elsewhere(&f).is_none());
        f.reply_to = vec!["collect@drop.net".into()];
        assert_eq!(reply_to_elsewhere(&f).map(|r| r.evidence), Some(vec!["collect@drop.net".to_string()]));
        assert!(mailing_list(&f).is_some());
    }

    /// The tag stripper against the regular expression it replaced.
    #[test]
    fn tags_are_stripped_as_the_regex_did() {
        let tag = Regex::new(r"(?s)<[^>]*>").unwrap();
        for html in [
            "",
            "plain",
            "<b>bold</b> and <i\nclass='x'>it</i>",
            "a < b and c > d",
            "unclosed <tag and more <text",
            "<<nested>> <> <a href='>'>x</a>",
            "trailing <",
            ">lead",
            "é<span>ü</span>€ <p>日本</p>",
        ] {
            for by in [" ", ""] {
                assert_eq!(strip_tags(html, by), tag.replace_all(html, by), "{html:?} by {by:?}");
            }
        }
    }

    /// The one-pass wording set says exactly what each pattern says.
    #[test]
    fn the_wording_set_agrees_with_each_pattern() {
        let set = WORDING.as_ref().unwrap();
        let patterns = [Wording::Lure, Wording::Money, Wording::Prize, Wording::Greeting, Wording::Urgency];
        for text in [
            "Dear customer, verify your account within 24 hours or it will be suspended.",
            "Congratulations! You have won a gift card. Claim your prize.",
            "Next of kin: 10,500,000.00 USD inheritance, contact me on WhatsApp.",
            "Hello team, the minutes of today's meeting are attached.",
            "",
        ] {
            let hits = set.matches(text);
            for w in patterns {
                let i = w as usize;
                assert_eq!(hits.matched(i), w.regex().unwrap().is_match(text), "pattern {i} on {text:?}");
            }
        }
        assert_eq!(set.len(), patterns.len());
    }

    /// The scanner against the regular expression it replaced, on crafted and corpus-like HTML.
    #[test]
    fn the_anchor_scanner_reads_what_the_regex_read() {
        let re = Regex::new(
            r#"(?is)<a(?-u:\b)[^>]{0,2000}?(?-u:\b)href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))[^>]{0,2000}>(.{0,2000}?)</a\s*>"#,
        )
        .unwrap();
        let tag = Regex::new(r"(?s)<[^>]*>").unwrap();
        let by_regex = |html: &str| -> Vec<(String, String)> {
            re.captures_iter(html)
                .take(500)
                .filter_map(|c| {
                    let href = c.get(1).or_else(|| c.get(2)).or_else(|| c.get(3))?.as_str();
                    let text = tag.replace_all(c.get(4)?.as_str(), "");
                    let text = crate::extract::html::decode_entities(&text);
                    Some((
                        text.split_whitespace().collect::<Vec<_>>().join(" "),
                        crate::extract::html::decode_entities(href),
                    ))
                })
                .collect()
        };
        let long = "x".repeat(2100);
        let cases = [
            r#"<p><A HREF='https://a.example/x?a=1&amp;b=2'><b>Bank</b>  &amp; co</a> <a href=x>y</a>"#.to_string(),
            r#"<a class="btn" data-href="no" href = "https://b.example/">Sign in</A ><a name=top>no href</a>"#.into(),
            r#"<abbr href="x">not an anchor</abbr><a\nhref="https://c.example">line</a>"#.into(),
            r#"<a href="https://d.example/>q">quoted &gt;</a><a href=>empty</a><a href=e.example>e</a>"#.into(),
            format!(r#"<a title="{long}" href="https://far.example">too far</a><a href="https://near.example">ok</a>"#),
            format!(r#"<a href="https://t.example">{long}</a><a href="https://u.example">u</a>"#),
            r#"<a href="https://v.example">never closed <a href="https://w.example">w</a>"#.into(),
            "<a href=\"https://é.example\">été — 日本</a><a href='x'>ü</a></a>".into(),
            r#"<ahref="x">glued</a><a hrefx="y">no</a><a xhref="z">no</a>"#.into(),
            String::new(),
            "<a".into(),
        ];
        for html in &cases {
            assert_eq!(anchors(html), by_regex(html), "{html:.120}");
        }
    }

    #[test]
    fn anchors_are_read_with_their_text() {
        let a = anchors(
            r#"<p><A HREF='https://a.example/x?a=1&amp;b=2'><b>Bank</b>  &amp; co</a> <a href=x>y</a>"#,
        );
        assert_eq!(
            a,
            vec![
                ("Bank & co".to_string(), "https://a.example/x?a=1&b=2".to_string()),
                ("y".to_string(), "x".to_string())
            ]
        );
    }

    #[test]
    fn link_text_showing_another_host() {
        let speaks = |body: &str| link_text_elsewhere(&html(body)).map(|r| r.evidence);
        assert_eq!(
            speaks(r#"<a href="http://198.51.100.7/x">https://www.bank.example/login</a>"#),
            None,
            "an IP target has no registered domain (ip_url speaks for it)"
        );
        assert_eq!(
            speaks(r#"<a href="https://evil.net/pp">www.paypal.com</a>"#),
            Some(vec!["\"www.paypal.com\" goes to evil.net".to_string()])
        );
        assert_eq!(speaks(r#"<a href="https://login.bank.com/a">https://bank.com</a>"#), None);
        assert_eq!(speaks(r#"<a href="https://evil.example/">Log in</a>"#), None, "words, not a host");
        assert_eq!(speaks(r#"<a href="mailto:a@b.example">c.example</a>"#), None);
        let safelinks =
            "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fbank.com%2F&amp;data=1";
        assert_eq!(
            speaks(&format!(r#"<a href="{safelinks}">bank.com</a>"#)),
            None,
            "the gateway is unwrapped"
        );
    }

    #[test]
    fn credential_lures_in_plain_and_html() {
        let plain = Facts {
            plain: "Dear user,\nYour account has been suspended. Verify your account now.".into(),
            ..Facts::default()
        };
        let r = credential_lure(&plain).map(|r| r.evidence);
        assert_eq!(
            r,
            Some(vec!["your account has been suspended".to_string(), "verify your account".to_string()])
        );
        assert!(
            credential_lure(&html("<p>Your <b>mailbox</b> is full</p><p>mailbox storage quota</p>"))
                .is_some()
        );
        let talk = Facts {
            plain: "I updated the account page; the password field is fine.".into(),
            ..Facts::default()
        };
        assert!(credential_lure(&talk).is_none());
    }

    #[test]
    fn money_lures() {
        let scam = Facts {
            plain: "You have 24 hours to withdraw +13185$. Contact me on WhatsApp.".into(),
            ..Facts::default()
        };
        assert_eq!(
            money_lure(&scam).map(|r| r.evidence),
            Some(vec!["hours to withdraw".to_string(), "whatsapp".to_string()])
        );
        let gift = Facts { plain: "Mr. X has donated $ 3,500,000.00 USD to you".into(), ..Facts::default() };
        assert_eq!(
            money_lure(&gift).map(|r| r.evidence),
            Some(vec!["donated $ 3,500,000.00 usd to you".to_string()])
        );
        let heir = html("<p>You are the <b>next of kin</b> of a client worth 12 million US dollars</p>");
        assert!(money_lure(&heir).is_some());
        let talk = Facts {
            plain: "The release is out; the transfer of the bug tracker is done.".into(),
            ..Facts::default()
        };
        assert!(money_lure(&talk).is_none());
    }

    #[test]
    fn replies_to_our_messages() {
        let f = Facts {
            replies_to: vec!["abc@mail.example.com".into(), "x@elsewhere.example".into()],
            ..Facts::default()
        };
        let r = reply_to_ours(&f, &["example.com".into()]);
        assert_eq!(r.map(|r| r.evidence), Some(vec!["abc@mail.example.com".to_string()]));
        assert!(reply_to_ours(&f, &["other.example".into()]).is_none());
        assert!(reply_to_ours(&f, &[]).is_none());
    }

    #[test]
    fn html_only_without_alternative() {
        assert!(html_only(&html("<p>x</p>")).is_some());
        let both = Facts { plain: "x\n".into(), ..html("<p>x</p>") };
        assert!(html_only(&both).is_none());
        let attachment = Facts { html: vec![("attachment a.html".into(), "<p>".into())], ..Facts::default() };
        assert!(html_only(&attachment).is_none());
    }

    #[test]
    fn plain_text_only_without_html() {
        let plain = Facts { has_body: true, ..Facts::default() };
        assert_eq!(plain_text(&plain).map(|r| r.weight), Some(weight::PLAIN_TEXT));
        assert!(plain_text(&html("<p>x</p>")).is_none());
        assert!(plain_text(&Facts::default()).is_none(), "no body at all says nothing");
    }

    fn html_from(body: &str, address: &str) -> Facts {
        Facts { html: vec![("body 1".into(), body.into())], has_body: true, ..from(None, address) }
    }

    #[test]
    fn links_elsewhere_and_to_the_sender() {
        let elsewhere = html_from(
            r#"<a href="https://login.evil.net/a">Sign in</a> <a href="https://cdn.other.org/x">x</a>"#,
            "service@bank.com",
        );
        let r = links_elsewhere(&elsewhere).map(|r| r.evidence);
        assert_eq!(r, Some(vec!["evil.net".to_string(), "other.org".to_string()]));
        assert!(links_to_sender(&elsewhere).is_none());
        // One link home (a logo) is enough not to be "every link elsewhere", not enough to be "most".
        let logo = html_from(
            r#"<a href="https://www.bank.com/">logo</a><a href="https://evil.net/">Sign in</a>"#,
            "service@bank.com",
        );
        assert!(links_elsewhere(&logo).is_none());
        assert!(links_to_sender(&logo).is_none());
        let newsletter = html_from(
            r#"<a href="https://news.shop.com/1">a</a><a href="https://shop.com/2">b</a>
               <a href="https://www.shop.com/3">c</a><a href="https://twitter.com/shop">d</a>"#,
            "news@mail.shop.com",
        );
        assert_eq!(links_to_sender(&newsletter).map(|r| r.evidence), Some(vec!["3 of 4 links".to_string()]));
        // An email service's click tracker counts neither way; mailto and relative links are not web links.
        let tracked = html_from(
            r#"<a href="https://shop.us1.list-manage.com/track/click?u=1">a</a><a href="mailto:x@evil.net">b</a><a href="/x">c</a>"#,
            "news@shop.com",
        );
        assert!(links_elsewhere(&tracked).is_none() && links_to_sender(&tracked).is_none());
        // No sender domain: nothing to compare with.
        assert!(links_elsewhere(&html(r#"<a href="https://evil.net/">x</a>"#)).is_none());
    }

    #[test]
    fn url_shorteners_with_a_path() {
        let f = Facts {
            hosts: vec![
                ("bit.ly".into(), Some("/3xYz".into())),
                ("www.tinyurl.com".into(), Some("/abc".into())),
                ("bit.ly".into(), Some("/".into())),
                ("example.com".into(), Some("/bit.ly".into())),
            ],
            ..Facts::default()
        };
        assert_eq!(
            url_shortener(&f).map(|r| r.evidence),
            Some(vec!["bit.ly/3xYz".to_string(), "www.tinyurl.com/abc".to_string()])
        );
        assert!(url_shortener(&Facts::default()).is_none());
    }

    #[test]
    fn hidden_text_salting_but_not_one_preheader() {
        let preheader = html(r#"<div style="display:none;max-height:0">Our spring offers</div><p>Hello</p>"#);
        assert!(hidden_text(&preheader).is_none(), "one hidden preview line is a newsletter's preheader");
        let salted = html(concat!(
            r#"<p>Your account is locked</p><span style="font-size:0px">weather garden recipe</span>"#,
            r#"<div style='color:#fff; display: none'>holiday invoice meeting</div>"#,
            r#"<font style="opacity:0;">lorem ipsum dolor</font>"#
        ));
        let r = hidden_text(&salted).map(|r| r.evidence);
        assert_eq!(
            r.as_ref().and_then(|e| e.first()).map(String::as_str),
            Some("3 hidden elements with text")
        );
        let broken = html("<p>Pay\u{200B}Pal: conf&#8203;irm your acc&zwnj;ount</p>");
        let r = hidden_text(&broken).map(|r| r.evidence);
        assert_eq!(r, Some(vec!["3 words broken by invisible characters".to_string()]));
        // Joiners between letters of scripts that need them are spelling; soft hyphens are typography.
        assert!(hidden_text(&html("<p>\u{645}\u{200C}\u{627} Donau&shy;dampf&shy;schiff</p>")).is_none());
        // Hidden elements without text (spacers) say nothing.
        assert!(hidden_text(&html(r#"<td style="height:0"></td><td style="height:0"> </td>"#)).is_none());
    }

    #[test]
    fn greetings_that_do_not_know_the_reader() {
        let found =
            |t: &str| generic_greeting(&Facts { plain: t.into(), ..Facts::default() }).map(|r| r.evidence);
        assert_eq!(found("Dear Customer,\nyour parcel"), Some(vec!["dear customer".to_string()]));
        assert_eq!(found("Hello valued member"), Some(vec!["hello valued member".to_string()]));
        assert!(generic_greeting(&html("<p>Dear <b>user</b>,</p>")).is_some());
        assert_eq!(found("Dear Anna,\nthe customer called"), None);
        assert_eq!(found("Hi all, the user list is down"), None);
    }

    #[test]
    fn urgency_wording() {
        let f = Facts {
            plain: "Act within 24 hours or your account will be suspended.".into(),
            ..Facts::default()
        };
        assert_eq!(
            urgency(&f).map(|r| r.evidence),
            Some(vec!["within 24 hours".to_string(), "will be suspended".to_string()])
        );
        let talk = Facts { plain: "The build was suspended last week; no hurry.".into(), ..Facts::default() };
        assert!(urgency(&talk).is_none());
    }

    #[test]
    fn image_only_bodies() {
        let pic = html(
            r#"<html><head><style>p { color: red }</style></head><body><a href="https://x.example"><img src="cid:1"></a><p>Open</p></body></html>"#,
        );
        assert_eq!(image_only(&pic).map(|r| r.evidence), Some(vec!["1 images, 1 words".to_string()]));
        let words = "word ".repeat(IMAGE_ONLY_WORDS);
        assert!(image_only(&html(&format!("<img src=a.png><p>{words}</p>"))).is_none());
        assert!(image_only(&html("<p>short note</p>")).is_none(), "no image");
        let with_plain = Facts { plain: words.clone(), ..html("<img src=a.png>") };
        assert!(image_only(&with_plain).is_none(), "the plain alternative says it in words");
    }

    #[test]
    fn quoted_replies() {
        let reply = Facts {
            plain: "Agreed.\n\nOn Mon, 2 Sep 2002, Bob Smith wrote:\n> the build\n> is broken\n".into(),
            ..Facts::default()
        };
        assert_eq!(quoted_reply(&reply).map(|r| r.evidence), Some(vec!["3 quoted lines".to_string()]));
        let outlook = Facts {
            plain: "See below\n-----Original Message-----\nFrom: a\n> x\n> y\n".into(),
            ..Facts::default()
        };
        assert!(quoted_reply(&outlook).is_some());
        let one = Facts { plain: "> one quoted line\nand text".into(), ..Facts::default() };
        assert!(quoted_reply(&one).is_none());
    }

    #[test]
    fn freemail_posing_as_an_organisation() {
        let posing = from(Some("PayPal Security Team"), "paypal.alerts2024@gmail.com");
        assert_eq!(
            freemail_organisation(&posing).map(|r| r.signal).as_deref(),
            Some("freemail_organisation")
        );
        assert!(freemail_organisation(&from(Some("Suporte Atendimento"), "x@hotmail.com")).is_some());
        assert!(freemail_organisation(&from(Some("Jane Doe"), "jane.doe@gmail.com")).is_none());
        assert!(freemail_organisation(&from(Some("Security Team"), "security@bank.com")).is_none());
        assert!(freemail_organisation(&from(None, "support@gmail.com")).is_none(), "no display name");
    }

    #[test]
    fn from_headers_with_several_mailboxes_or_no_real_domain() {
        let several = Facts { from_mailboxes: 3, ..from(Some("Bank"), "x@mailer.net") };
        assert_eq!(from_several(&several).map(|r| r.evidence), Some(vec!["3 mailboxes".to_string()]));
        assert!(from_several(&Facts { from_mailboxes: 1, ..several.clone() }).is_none());
        let invalid = |a: &str| from_invalid_domain(&from(Some("x"), a)).is_some();
        assert!(invalid("notifica@bank"), "no dot");
        assert!(invalid("offers@%promo.com"));
        assert!(invalid("promo@survey,net"));
        assert!(invalid("douglas"), "no domain at all");
        assert!(!invalid("ville@iki.fi"), "a public suffix that takes mail is real");
        assert!(!invalid("news@mail.shop.co.uk"));
        assert!(from_invalid_domain(&from(Some("x"), "")).is_none(), "no address: nothing to judge");
    }

    #[test]
    fn prize_lures_need_two_words() {
        let lure = Facts {
            plain: "Congratulations! You have been selected to claim your gift card. Winner #3".into(),
            ..Facts::default()
        };
        let r = prize_lure(&lure).map(|r| r.evidence.len());
        assert_eq!(r, Some(5));
        assert!(prize_lure(&html("<p>Herzlichen Glückwunsch, Ihr Gutschein wartet</p>")).is_some());
        let news = Facts { plain: "The winner of the chess match was Bob.".into(), ..Facts::default() };
        assert!(prize_lure(&news).is_none());
    }
}
