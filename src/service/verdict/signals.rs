//! The signals of a verdict, each a small pure function from [`Facts`] (what the email says) and,
//! for the store-backed ones, [`Known`] (what our store says) to zero or one [`Reason`]. Weights
//! are the constants below; README "Automatic triage" says why each is what it is.

use std::sync::LazyLock;

use regex::Regex;

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
    pub const LINK_TEXT_ELSEWHERE: i32 = 20;
    /// Lure wording (verify your account, mailbox full, …): words cost the attacker nothing to
    /// change, so it only adds and weighs little; it blocks `likely benign`.
    pub const CREDENTIAL_LURE: i32 = 15;
    /// Advance-fee and payout lures (inheritance, next of kin, a balance to withdraw): the plain
    /// text scams that show nothing else; blocks `likely benign`, so plain text can count.
    pub const MONEY_LURE: i32 = 15;
    pub const DISPLAY_NAME_BRAND: i32 = 20;
    pub const REPLY_TO_ELSEWHERE: i32 = 15;
    pub const HOMOGLYPH: i32 = 35;
    pub const TYPOSQUAT: i32 = 30;
    pub const BRAND_IN_NAME: i32 = 25;
    pub const BRAND_IN_PATH: i32 = 15;
    pub const CREDENTIAL_FORM: i32 = 35;
    pub const QR_CODE: i32 = 20;
    pub const RISKY_ATTACHMENT: i32 = 25;
    pub const IP_URL: i32 = 15;
    pub const NEWLY_SEEN: i32 = 5;
    pub const NOTHING_TO_ACT_ON: i32 = -15;
    /// List headers are the sender's own words: a phish can write them. Small, and any phish
    /// sign (weight >= [`super::BLOCKS_BENIGN`]) still forbids `likely benign`.
    pub const MAILING_LIST: i32 = -10;
    /// Plain text: no hidden link target, form or script, and every link shows where it goes.
    /// Free to send: it reaches `likely benign` (50 - 15) only when no phish sign speaks, and the
    /// plain-text scams that carry no link are caught by their wording ([`MONEY_LURE`]) or their
    /// Reply-To ([`REPLY_TO_ELSEWHERE`]).
    pub const PLAIN_TEXT: i32 = -15;
    /// A reply to a Message-ID our own mail system wrote. The attacker must know (or guess) how
    /// our Message-IDs look; forgeable, so small.
    pub const REPLY_TO_OURS: i32 = -5;
    /// HTML without a plain-text alternative: mail programs and bulk mailers send both, many
    /// phishing kits only HTML (SpamAssassin's MIME_HTML_ONLY). Weak: it never blocks.
    pub const HTML_ONLY: i32 = 5;
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

static ANCHOR: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?is)<a\b[^>]{0,2000}?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))[^>]{0,2000}>(.{0,2000}?)</a\s*>"#).ok()
});
static TAG: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"(?s)<[^>]*>").ok());
/// Anchor text that is a URL or a bare host name (`https://bank.example/login`, `www.bank.example`).
static SHOWN_HOST: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:https?://)?((?:[a-z0-9-]+\.)+[a-z][a-z0-9-]{1,62})\.?(?::\d+)?(?:[/?#]\S*)?$").ok()
});

/// Links of HTML (body or attachment) as `(what the reader sees, href)`, entities decoded.
pub fn anchors(html: &str) -> Vec<(String, String)> {
    let (Some(anchor), Some(tag)) = (ANCHOR.as_ref(), TAG.as_ref()) else {
        return Vec::new();
    };
    anchor
        .captures_iter(html)
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
    for (_, html) in &facts.html {
        for (text, href) in anchors(html) {
            if let (Some(shown), Some(goes)) = (shown_domain(&text), target_domain(&href))
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
static LURE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)\b(?:",
        r"(?:verify|confirm|validate|update|unlock|reactivate|re-activate|restore)\s+your\s+",
        r"(?:account|identity|e-?mail|mailbox|password|login|credentials|billing|payment)",
        r"|your\s+(?:account|mailbox|password|e-?mail)\s+(?:has\s+been\s+|was\s+|is\s+|will\s+be\s+)?",
        r"(?:suspended|locked|limited|disabled|deactivated|blocked|restricted|on\s+hold|expired?|closed)",
        r"|password\s+(?:will\s+)?expires?",
        r"|unusual\s+(?:sign-?in|login|activity)",
        r"|mailbox\s+(?:is\s+)?(?:full|storage|quota)",
        r"|(?:storage|mailbox)\s+quota",
        r")\b"
    ))
    .ok()
});

/// The wording of advance-fee and payout scams, as fraud-awareness pages list it.
static MONEY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)\b(?:",
        r"next\s+of\s+kin|inheritance|beneficiary|consignment|compensation\s+(?:fund|payment)",
        r"|(?:fund|funds|payment)\s+(?:transfer|release|remittance)|atm\s+card|lottery|won\s+the\s+sum",
        r"|(?:million|billion)\s+(?:us\s+)?(?:dollars|usd|euros?|pounds)|donat(?:ed|ion)\b[^\n]{0,40}?\bto\s+you",
        r"|\d{1,3}(?:,\d{3}){2,}(?:\.\d\d)?\s*(?:usd|us\s+dollars|dollars|euros?|eur)",
        r"|bitcoin|\bbtc\b|crypto\s*wallet|withdraw(?:al)?\s+(?:your|the)\s+(?:funds|balance|money|profit)",
        r"|hours\s+to\s+withdraw|your\s+balance\s+(?:has\s+been|is)",
        r"|(?:investment|partnership|business)\s+(?:offer|proposal|opportunity)",
        r"|whatsapp|telegram",
        r")\b"
    ))
    .ok()
});

/// Visible text of the reported message: plain bodies, and HTML bodies without tags.
fn visible_texts(facts: &Facts) -> Vec<String> {
    let mut out = vec![facts.plain.clone()];
    if let Some(tag) = TAG.as_ref() {
        for (_, html) in &facts.html {
            let end = (0..=html.len().min(4 * super::MAX_WORDING)).rev().find(|&i| html.is_char_boundary(i));
            let visible = tag.replace_all(html.get(..end.unwrap_or(0)).unwrap_or_default(), " ");
            out.push(crate::extract::html::decode_entities(&visible));
        }
    }
    out
}

/// What `re` finds in the visible text, lower case, each once (at most 5 per text).
fn wording(re: &Regex, facts: &Facts) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for text in visible_texts(facts) {
        for m in re.find_iter(&text).take(5) {
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
    let found = wording(MONEY.as_ref()?, facts);
    (!found.is_empty())
        .then(|| reason("money_lure", weight::MONEY_LURE, "wording of an advance-fee or payout scam", found))
}

/// Wording of a credential lure in the text the reader sees (plain text, or HTML without tags).
pub fn credential_lure(facts: &Facts) -> Option<Reason> {
    let found = wording(LURE.as_ref()?, facts);
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
}
