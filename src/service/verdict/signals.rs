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
    pub const MAILING_LIST: i32 = -10;
    pub const PLAIN_TEXT: i32 = -10;
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
    if let Some(re) = ADDRESS.as_ref()
        && let Some(m) = re.find(name)
        && !m.as_str().eq_ignore_ascii_case(address)
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

/// Replies go to another domain than the sender's (a mailing list's own address excepted).
pub fn reply_to_elsewhere(facts: &Facts) -> Option<Reason> {
    let from = facts.from_domain.as_deref()?;
    let elsewhere: Vec<String> = facts
        .reply_to
        .iter()
        .filter(|a| {
            let d = a.rsplit('@').next().and_then(registered);
            d.as_deref() != Some(from) && d.is_some() && d != facts.list_domain
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

/// Traffic of a mailing list (`List-Id` with `List-Post` or `List-Unsubscribe`).
pub fn mailing_list(facts: &Facts) -> Option<Reason> {
    facts.list_id.as_ref().filter(|_| facts.list_post_or_unsubscribe).map(|id| {
        reason(
            "mailing_list",
            weight::MAILING_LIST,
            "a mailing list's message",
            vec![format!("List-Id: {id}")],
        )
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
