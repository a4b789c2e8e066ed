//! Suggested verdicts of drafts (issue 20): `known phish`, `likely phish`, `unknown`,
//! `likely benign`, with a score and every reason that produced them. [`Facts`] are read once from
//! the extraction and the reported message's headers (pure), [`Known`] from the store; each signal
//! (`signals.rs`) is a small pure function; [`decide`] turns the reasons into a verdict. `actions`
//! stores it after an import and applies the rules the team controls (auto-join, close, undo).

pub mod actions;
pub mod auth;
pub mod lookalike;
pub mod signals;

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::db::imports::{ItemSection, ItemState, NewItem};
pub use crate::db::verdicts::KnownValue;
use crate::extract::{Extraction, Location, MessageRole, MessageSource, ObservableKind};
use auth::{AuthResultsHeader, DkimCheck, DkimVerifier};
use lookalike::Protected;

/// Which set of signals and weights computed a stored verdict (raise when either changes).
pub const INPUTS_VERSION: i32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    KnownPhish,
    LikelyPhish,
    Unknown,
    LikelyBenign,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::KnownPhish => "known_phish",
            Verdict::LikelyPhish => "likely_phish",
            Verdict::Unknown => "unknown",
            Verdict::LikelyBenign => "likely_benign",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Verdict::KnownPhish, Verdict::LikelyPhish, Verdict::Unknown, Verdict::LikelyBenign]
            .into_iter()
            .find(|v| v.as_str() == s)
    }

    /// For people: `known phish`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::KnownPhish => "known phish",
            Verdict::LikelyPhish => "likely phish",
            Verdict::Unknown => "unknown",
            Verdict::LikelyBenign => "likely benign",
        }
    }
}

/// One signal that spoke: its weight towards phishing (negative: towards benign), what it means,
/// and what in the email made it speak.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reason {
    pub signal: String,
    pub weight: i32,
    pub text: String,
    pub evidence: Vec<String>,
}

/// A verdict with its score (0-100, higher: more likely phishing) and reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub verdict: Verdict,
    pub score: i32,
    pub reasons: Vec<Reason>,
    /// For `known phish`: what decided it and the event to join (if any).
    pub known: Option<KnownMatch>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnownMatch {
    pub event: Option<i64>,
    /// `matched indicator 7 (domain evil.example)`.
    pub why: String,
}

/// The verdict settings, checked and compiled once (`[triage.verdicts]`).
#[derive(Debug, Clone)]
pub struct VerdictConfig {
    pub enabled: bool,
    /// Brands and our own domains.
    pub protected: Vec<Protected>,
    /// Brands only (display names).
    pub brands: Vec<Protected>,
    /// Our own registered domains (a reply to a message of ours).
    pub own_domains: Vec<String>,
    pub trusted_authserv_ids: Vec<String>,
    pub dkim: Option<DkimVerifier>,
    pub auto_join_known_phish: bool,
    pub auto_close_likely_benign: bool,
    pub likely_phish_at: i32,
    pub likely_benign_below: i32,
}

impl Default for VerdictConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            protected: Vec::new(),
            brands: Vec::new(),
            own_domains: Vec::new(),
            trusted_authserv_ids: Vec::new(),
            dkim: None,
            auto_join_known_phish: true,
            auto_close_likely_benign: false,
            likely_phish_at: 70,
            likely_benign_below: 40,
        }
    }
}

impl VerdictConfig {
    /// From the settings: brands (name → domains) and the organisation's own domains.
    pub fn new(
        s: &crate::settings::VerdictSettings,
        own_domains: &[String],
        dkim: Option<DkimVerifier>,
    ) -> Result<Self, String> {
        if !(0..=100).contains(&s.likely_phish_at) || !(0..=100).contains(&s.likely_benign_below) {
            return Err("triage.verdicts: thresholds are scores 0-100".into());
        }
        if s.likely_benign_below > s.likely_phish_at {
            return Err("triage.verdicts.likely_benign_below must not exceed likely_phish_at".into());
        }
        let brands: Vec<Protected> =
            s.brands.iter().map(|(name, domains)| Protected::new(name, domains)).collect();
        let mut protected: Vec<Protected> = own_domains.iter().map(|d| Protected::own_domain(d)).collect();
        protected.extend(brands.iter().cloned());
        Ok(Self {
            enabled: s.enabled,
            own_domains: own_domains
                .iter()
                .map(|d| Protected::own_domain(d))
                .flat_map(|p| p.domains)
                .collect(),
            protected,
            brands,
            trusted_authserv_ids: s.trusted_authserv_ids.iter().map(|i| i.trim().to_lowercase()).collect(),
            dkim,
            auto_join_known_phish: s.auto_join_known_phish,
            auto_close_likely_benign: s.auto_close_likely_benign,
            likely_phish_at: s.likely_phish_at,
            likely_benign_below: s.likely_benign_below,
        })
    }
}

/// What the email says, read once for every signal.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub from_name: Option<String>,
    pub from_address: Option<String>,
    /// Registered domain of the From address.
    pub from_domain: Option<String>,
    /// Mailboxes in the From header (name-only ones included).
    pub from_mailboxes: usize,
    pub reply_to: Vec<String>,
    /// What the headers say about list traffic.
    pub list: ListFacts,
    /// `In-Reply-To` and `References` Message-IDs (without angle brackets), lower case.
    pub replies_to: Vec<String>,
    pub auth_results: Vec<AuthResultsHeader>,
    /// The reported message carries a DKIM-Signature.
    pub dkim_signed: bool,
    /// Hosts to check for lookalikes, with the URL's path when from a URL.
    pub hosts: Vec<(String, Option<String>)>,
    /// HTML texts (body or attachment) with where they are.
    pub html: Vec<(String, String)>,
    pub has_body: bool,
    /// Plain-text bodies of the reported message (for wording; capped at [`MAX_WORDING`] bytes).
    pub plain: String,
    pub qr_values: Vec<String>,
    pub ip_urls: Vec<String>,
    pub attachment_names: Vec<String>,
    /// Proposed and whitelisted indicator values (kind, value).
    pub values: Vec<(String, String)>,
    /// Registered domains of the proposed URLs, domains and the sender.
    pub domains: Vec<String>,
    pub proposed: usize,
    pub whitelisted: usize,
    /// Message-ID and fingerprint of the draft (for the same-phish match).
    pub message_id: Option<String>,
    pub fingerprint: Option<String>,
    /// What several signals read, computed once on first use: the visible texts (plain, then
    /// each HTML without tags) and the links of each HTML text (`html`'s order).
    pub visible: std::sync::OnceLock<Vec<String>>,
    pub anchors: std::sync::OnceLock<Vec<Vec<(String, String)>>>,
    /// Which wording patterns match each visible text.
    pub wording: std::sync::OnceLock<Vec<regex::SetMatches>>,
}

/// Plain text read for wording signals: lures sit near the top, and the regexes stay cheap.
pub const MAX_WORDING: usize = 64 * 1024;

/// What the headers say about list traffic: RFC 2369/2919 `List-*` headers and the older list
/// managers' own (ezmlm and Yahoo Groups `Mailing-List`, SmartList `X-Mailing-List`, Mailman
/// `X-BeenThere`, an owner/bounce `Sender`, `Precedence: list|bulk`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFacts {
    /// The headers that say so, `Name: value` (the evidence).
    pub headers: Vec<String>,
    /// The list's posting addresses, lower case.
    pub addresses: Vec<String>,
    /// Registered domains of the list (posting addresses, `List-Id`).
    pub domains: Vec<String>,
}

static MAILBOX: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)[a-z0-9._%+=-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+").ok());

/// Addresses in a header value (`<mailto:a@b>`, `list a@b; contact c@d`), lower case.
fn mailboxes(v: &str) -> Vec<String> {
    MAILBOX
        .as_ref()
        .map(|re| re.find_iter(v).map(|m| m.as_str().to_lowercase()).collect())
        .unwrap_or_default()
}

/// `<a@b> <c@d>` → `a@b`, `c@d` (lower case); at most 50.
fn message_ids(v: &str) -> Vec<String> {
    v.split(['<', '>', ' ', '\t', '\r', '\n', ','])
        .filter(|s| s.contains('@'))
        .take(50)
        .map(str::to_lowercase)
        .collect()
}

impl ListFacts {
    /// Reads the list headers through `header` (name → trimmed raw value).
    pub fn read(header: impl Fn(&str) -> Option<String>) -> Self {
        let mut l = ListFacts::default();
        let posting = |l: &mut ListFacts, addresses: Vec<String>| {
            for a in addresses {
                if let Some(d) = a.rsplit('@').next().and_then(registered) {
                    l.domains.push(d);
                }
                l.addresses.push(a);
            }
        };
        if let Some(id) = header("List-Id") {
            let inner = id.rsplit('<').next().unwrap_or(&id).trim_end_matches(['>', ' ']);
            if let Some(d) = inner.split_once('.').and_then(|(_, host)| registered(host)) {
                l.domains.push(d);
            }
            l.headers.push(format!("List-Id: {id}"));
        }
        for name in ["List-Post", "X-Mailing-List", "X-BeenThere"] {
            if let Some(v) = header(name) {
                posting(&mut l, mailboxes(&v));
                l.headers.push(format!("{name}: {v}"));
            }
        }
        if let Some(v) = header("Mailing-List") {
            // `list zzz@yahoogroups.com; contact zzz-owner@yahoogroups.com`: the first is the list.
            posting(&mut l, mailboxes(&v).into_iter().take(1).collect());
            l.headers.push(format!("Mailing-List: {v}"));
        }
        if let Some(v) =
            header("Delivered-To").filter(|v| v.to_ascii_lowercase().starts_with("mailing list "))
        {
            posting(&mut l, mailboxes(&v));
            l.headers.push(format!("Delivered-To: {v}"));
        }
        for name in ["List-Unsubscribe", "List-Subscribe", "List-Help", "List-Archive"] {
            if let Some(v) = header(name) {
                l.headers.push(format!("{name}: {v}"));
            }
        }
        if let Some(v) = header("Sender") {
            let list_sender = mailboxes(&v).iter().any(|a| {
                let local = a.split('@').next().unwrap_or_default();
                local.starts_with("owner-")
                    || ["-owner", "-admin", "-bounces", "-request", "-errors"]
                        .iter()
                        .any(|s| local.ends_with(s))
            });
            if list_sender {
                l.headers.push(format!("Sender: {v}"));
            }
        }
        if let Some(v) =
            header("Precedence").filter(|v| matches!(v.to_ascii_lowercase().as_str(), "list" | "bulk"))
        {
            l.headers.push(format!("Precedence: {v}"));
        }
        l.addresses.sort();
        l.addresses.dedup();
        l.domains.sort();
        l.domains.dedup();
        l
    }

    /// A list names itself (an identity: `List-Id` or a posting address) and one more header
    /// agrees: what every list manager writes, not one stray header.
    pub fn is_list(&self) -> bool {
        let identity = !self.addresses.is_empty() || self.headers.iter().any(|h| h.starts_with("List-Id:"));
        identity && self.headers.len() >= 2
    }
}

/// What our store says about the email's values.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub values: Vec<KnownValue>,
    pub same_phish_event: Option<i64>,
    pub new_domains: Vec<String>,
}

fn registered(host: &str) -> Option<String> {
    crate::extract::IndicatorValue::parse(ObservableKind::Domain, host).ok()?.registered_domain
}

/// The reported message inside the raw input, parsed (the top message, or a forwarded one
/// attached to the reporter's envelope, found by its Message-ID or subject).
fn reported_message<'a>(
    parsed: &'a mail_parser::Message<'a>,
    x: &Extraction,
) -> Option<&'a mail_parser::Message<'a>> {
    let reported = x.reported()?;
    if reported.index == 0 {
        return Some(parsed);
    }
    fn walk<'b>(
        m: &'b mail_parser::Message<'b>,
        want: &crate::extract::MessageInfo,
        depth: usize,
    ) -> Option<&'b mail_parser::Message<'b>> {
        if depth > 8 {
            return None;
        }
        for part in m.attachments() {
            if let Some(inner) = part.message() {
                let same_id = want.message_id.is_some() && inner.message_id() == want.message_id.as_deref();
                let same_subject = want.subject.is_some() && inner.subject() == want.subject.as_deref();
                if same_id || (want.message_id.is_none() && same_subject) {
                    return Some(inner);
                }
                if let Some(found) = walk(inner, want, depth + 1) {
                    return Some(found);
                }
            }
        }
        None
    }
    walk(parsed, reported, 0)
}

impl Facts {
    /// Reads the facts from an extraction, the raw input and the draft's items. Also returns
    /// the reported message's raw bytes when it could be parsed (for the DKIM check).
    pub fn read(raw: &[u8], x: &Extraction, items: &[NewItem]) -> (Self, Option<Vec<u8>>) {
        let mut f = Facts::default();
        if let Some(m) = x.reported() {
            f.read_sender(m);
        }
        let reported_raw = f.read_headers(raw, x);
        f.read_texts(x);
        f.read_attachments(x);
        f.read_observables(x, items);
        f.read_items(items);
        (f, reported_raw)
    }

    /// The reported message's sender and Reply-To, from the extraction.
    fn read_sender(&mut self, m: &crate::extract::MessageInfo) {
        // The sender is the first mailbox with an address; the display name, every name the
        // header writes (`Team ,_<a@b.example>` shows "Team" and hides the address).
        let names: Vec<&str> = m
            .from
            .iter()
            .filter_map(|b| b.name.as_deref())
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        if let Some(from) = m.from.iter().find(|b| b.address.is_some()).or_else(|| m.from.first()) {
            self.from_name = (!names.is_empty()).then(|| names.join(", "));
            self.from_address = from.address.as_ref().map(|a| a.to_lowercase());
            self.from_domain =
                self.from_address.as_deref().and_then(|a| a.rsplit('@').next()).and_then(registered);
        }
        self.from_mailboxes = m.from.len();
        self.reply_to =
            m.reply_to.iter().filter_map(|r| r.address.as_ref().map(|a| a.to_lowercase())).collect();
        self.message_id = m.message_id.clone();
    }

    /// The reported message's own header fields (list traffic, replies, authentication
    /// results), read from the raw input; its raw bytes when it parsed.
    fn read_headers(&mut self, raw: &[u8], x: &Extraction) -> Option<Vec<u8>> {
        let reported = x.reported();
        // The reported email's headers are all that is read here: when it is the input itself
        // (most reports), its headers alone are parsed (the extraction decoded the body already).
        let parser = mail_parser::MessageParser::default();
        let parsed = if reported.is_some_and(|m| m.index == 0) {
            parser.parse_headers(raw)
        } else {
            parser.parse(raw)
        };
        let m = reported_message(parsed.as_ref()?, x)?;
        let header = |name: &str| m.header_raw(name).map(|v| v.trim().to_string());
        self.dkim_signed = header("DKIM-Signature").is_some();
        self.list = ListFacts::read(header);
        for name in ["In-Reply-To", "References"] {
            if let Some(v) = header(name) {
                self.replies_to.extend(message_ids(&v));
            }
        }
        for h in m.headers().iter().filter(|h| h.name().eq_ignore_ascii_case("Authentication-Results")) {
            let start = h.offset_start as usize;
            let end = h.offset_end as usize;
            if let Some(bytes) = m.raw_message.get(start..end)
                && let Some(parsed) = auth::parse(&String::from_utf8_lossy(bytes))
            {
                self.auth_results.push(parsed);
            }
        }
        Some(m.raw_message.to_vec())
    }

    /// The reported message's body texts (plain wording, HTML bodies) and HTML attachments.
    fn read_texts(&mut self, x: &Extraction) {
        let reported = x.reported();
        // A message forwarded inline has no body part of its own: it is the reporter's body from
        // the forward's marker on (the HTML body whole: its marker is split by markup, and the
        // reporter's own lines above it are few).
        let inline_in = reported.filter(|m| m.source == MessageSource::InlineForward).and_then(|m| m.parent);
        for t in &x.texts {
            let reported_text = match inline_in {
                Some(parent) => t.message == parent,
                None => reported.is_none_or(|r| t.message == r.index),
            };
            match &t.location {
                Location::Body { content_type, part } if reported_text => {
                    self.has_body = true;
                    if content_type.to_ascii_lowercase().contains("html") {
                        self.html.push((format!("body {part}"), t.text.clone()));
                    } else if self.plain.len() < MAX_WORDING {
                        let start = inline_in
                            .and_then(|_| crate::extract::forward::first_start(&t.text))
                            .unwrap_or(0);
                        let text = t.text.get(start..).unwrap_or_default();
                        let room = MAX_WORDING - self.plain.len();
                        let end =
                            (0..=room.min(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
                        self.plain.push_str(text.get(..end).unwrap_or_default());
                        self.plain.push('\n');
                    }
                }
                Location::Attachment { name, content_type } => {
                    let lower = name.to_ascii_lowercase();
                    if content_type.to_ascii_lowercase().contains("html")
                        || lower.ends_with(".html")
                        || lower.ends_with(".htm")
                        || lower.ends_with(".svg")
                    {
                        self.html.push((format!("attachment {name}"), t.text.clone()));
                    }
                }
                _ => {}
            }
        }
    }

    fn read_attachments(&mut self, x: &Extraction) {
        for a in &x.attachments {
            if a.nested_message.is_none()
                && let Some(n) = &a.name
            {
                self.attachment_names.push(n.clone());
            }
            for m in &a.members {
                self.attachment_names.push(m.name.clone());
            }
        }
    }

    /// The proposed values: hosts, registered domains, URLs on an IP, URLs from QR codes; the
    /// sender's and Reply-To's hosts with them.
    fn read_observables(&mut self, x: &Extraction, items: &[NewItem]) {
        let qr_texts: Vec<usize> = x
            .texts
            .iter()
            .enumerate()
            .filter(|(_, t)| matches!(t.location, Location::QrCode { .. }))
            .map(|(i, _)| i)
            .collect();
        for o in &x.observables {
            if o.role == MessageRole::ReporterEnvelope {
                continue;
            }
            let kind = o.indicator.kind;
            let value = &o.indicator.value;
            let proposed = items.iter().any(|i| {
                i.section == ItemSection::Indicator
                    && i.item_type == kind.as_str()
                    && i.value == *value
                    && i.state == ItemState::Proposed
            });
            if o.provenance.iter().any(|p| qr_texts.contains(&p.text)) && kind == ObservableKind::Url {
                self.qr_values.push(value.clone());
            }
            if !proposed {
                continue;
            }
            match kind {
                ObservableKind::Url => {
                    if let Some(host) = crate::extract::bundle::url_host(value) {
                        if host.parse::<std::net::IpAddr>().is_ok()
                            || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok()
                        {
                            self.ip_urls.push(value.clone());
                        } else {
                            let path = value.splitn(4, '/').nth(3).map(|p| format!("/{p}"));
                            self.hosts.push((host.clone(), path));
                            if let Some(r) =
                                o.indicator.registered_domain.clone().or_else(|| registered(&host))
                            {
                                self.domains.push(r);
                            }
                        }
                    }
                }
                ObservableKind::Domain => {
                    self.hosts.push((value.clone(), None));
                    if let Some(r) = &o.indicator.registered_domain {
                        self.domains.push(r.clone());
                    }
                }
                _ => {}
            }
        }
        if let Some(a) = &self.from_address
            && let Some(host) = a.rsplit('@').next()
        {
            self.hosts.push((host.to_string(), None));
            if let Some(d) = &self.from_domain {
                self.domains.push(d.clone());
            }
        }
        for r in &self.reply_to {
            if let Some(host) = r.rsplit('@').next() {
                self.hosts.push((host.to_string(), None));
            }
        }
        self.domains.sort();
        self.domains.dedup();
    }

    /// How many values the draft proposes and whitelists, and every value it holds.
    fn read_items(&mut self, items: &[NewItem]) {
        for i in items {
            if i.section != ItemSection::Indicator {
                continue;
            }
            match i.state.as_str() {
                "proposed" => self.proposed += 1,
                "whitelisted" => self.whitelisted += 1,
                _ => {}
            }
            self.values.push((i.item_type.clone(), i.value.clone()));
        }
    }
}

/// Every signal over the facts, the store's knowledge and the authentication checks.
pub fn reasons(facts: &Facts, known: &Known, cfg: &VerdictConfig, dkim: &DkimCheck) -> Vec<Reason> {
    let said = auth::summarise(&auth::trusted(&facts.auth_results, &cfg.trusted_authserv_ids));
    let mut out: Vec<Reason> = Vec::new();
    out.extend(signals::same_phish(known));
    out.extend(signals::active_indicators(known));
    out.extend(signals::values_in_events(known));
    out.extend(signals::expired_indicators(known));
    out.extend(signals::authentication(facts, &said, dkim));
    out.extend(signals::display_name(facts, &cfg.brands));
    out.extend(signals::reply_to_elsewhere(facts));
    out.extend(signals::lookalikes(facts, &cfg.protected));
    out.extend(signals::link_text_elsewhere(facts));
    out.extend(signals::credential_form(facts));
    out.extend(signals::credential_lure(facts));
    out.extend(signals::money_lure(facts));
    out.extend(signals::qr_codes(facts));
    out.extend(signals::risky_attachments(facts));
    out.extend(signals::ip_urls(facts));
    out.extend(signals::newly_seen(known));
    out.extend(signals::nothing_to_act_on(facts));
    out.extend(signals::mailing_list(facts));
    out.extend(signals::reply_to_ours(facts, &cfg.own_domains));
    out.extend(signals::plain_text(facts));
    out.extend(signals::html_only(facts));
    out.extend(signals::links_elsewhere(facts));
    out.extend(signals::links_to_sender(facts));
    out.extend(signals::url_shortener(facts));
    out.extend(signals::hidden_text(facts));
    out.extend(signals::generic_greeting(facts));
    out.extend(signals::urgency(facts));
    out.extend(signals::image_only(facts));
    out.extend(signals::quoted_reply(facts));
    out.extend(signals::freemail_organisation(facts));
    out.extend(signals::from_several(facts));
    out.extend(signals::from_invalid_domain(facts));
    out.extend(signals::prize_lure(facts));
    out
}

/// The verdict: `known phish` on a match with what the team decided (an Active indicator, the
/// same phish, a specific value of an event); else by score, `likely benign` only when no reason
/// of weight [`signals::BLOCKS_BENIGN`] or more points to phishing.
pub fn decide(reasons: &[Reason], known: &Known, cfg: &VerdictConfig) -> Assessment {
    let sum: i32 = reasons.iter().map(|r| r.weight).sum();
    let score = (50 + sum).clamp(0, 100);
    let matched = known_match(known);
    let verdict = if matched.is_some() {
        Verdict::KnownPhish
    } else if score >= cfg.likely_phish_at {
        Verdict::LikelyPhish
    } else if score < cfg.likely_benign_below && reasons.iter().all(|r| r.weight < signals::BLOCKS_BENIGN) {
        Verdict::LikelyBenign
    } else {
        Verdict::Unknown
    };
    Assessment { verdict, score, reasons: reasons.to_vec(), known: matched }
}

/// What makes an email `known phish`, and the event it joins: the same phish's event first, then
/// the newest event of an Active indicator, then of a specific value (URL, hash, sender address).
fn known_match(known: &Known) -> Option<KnownMatch> {
    if let Some(e) = known.same_phish_event {
        return Some(KnownMatch { event: Some(e), why: "the same email (Message-ID or fingerprint)".into() });
    }
    let specific = |kind: &str| matches!(kind, "url" | "md5" | "sha1" | "sha256" | "sha512" | "email");
    let why = |k: &KnownValue| format!("matched indicator {} ({} {})", k.id, k.kind, k.value);
    let active: Vec<&KnownValue> = known.values.iter().filter(|k| k.status == "active").collect();
    let in_event = known
        .values
        .iter()
        .filter(|k| k.status != "active" && k.status != "whitelisted" && specific(&k.kind));
    let with_event = active.iter().copied().chain(in_event).find(|k| !k.events.is_empty());
    if let Some(k) = with_event {
        return Some(KnownMatch { event: k.events.first().copied(), why: why(k) });
    }
    // An Active indicator in no event still makes the email known; there is no event to join.
    active.first().map(|k| KnownMatch { event: None, why: why(k) })
}

/// Reasons → the stored JSON.
pub fn reasons_json(reasons: &[Reason]) -> String {
    serde_json::to_string(reasons).unwrap_or_else(|_| "[]".into())
}

/// Stored JSON → reasons (an unreadable text reads as none).
pub fn reasons_of(text: &str) -> Vec<Reason> {
    serde_json::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> VerdictConfig {
        VerdictConfig { enabled: true, ..VerdictConfig::default() }
    }

    fn r(weight: i32) -> Reason {
        Reason { signal: "s".into(), weight, text: String::new(), evidence: vec![] }
    }

    #[test]
    fn scores_and_thresholds() {
        let k = Known::default();
        assert_eq!(decide(&[r(25)], &k, &cfg()).verdict, Verdict::LikelyPhish);
        assert_eq!(decide(&[r(-15)], &k, &cfg()).verdict, Verdict::LikelyBenign);
        assert_eq!(
            decide(&[r(-25), r(10)], &k, &cfg()).verdict,
            Verdict::Unknown,
            "a phish sign blocks benign"
        );
        assert_eq!(decide(&[], &k, &cfg()).score, 50);
        assert_eq!(decide(&[r(90)], &k, &cfg()).score, 100);
    }

    #[test]
    fn known_phish_names_its_event_and_indicator() {
        let k = Known {
            values: vec![KnownValue {
                id: 7,
                kind: "domain".into(),
                value: "evil.example".into(),
                status: "active".into(),
                events: vec![3, 1],
            }],
            ..Known::default()
        };
        let a = decide(&[r(-40)], &k, &cfg());
        assert_eq!(a.verdict, Verdict::KnownPhish);
        let want = KnownMatch { event: Some(3), why: "matched indicator 7 (domain evil.example)".into() };
        assert_eq!(a.known, Some(want));
        // A domain merely in an event (Review) is not enough to be known.
        let k = Known { values: vec![KnownValue { status: "review".into(), ..k.values[0].clone() }], ..k };
        assert_eq!(decide(&[], &k, &cfg()).verdict, Verdict::Unknown);
    }

    fn facts_of(raw: &str) -> Facts {
        let x = crate::extract::extract(raw.as_bytes(), &crate::extract::ExtractOptions::default());
        Facts::read(raw.as_bytes(), &x, &[]).0
    }

    #[test]
    fn the_display_name_is_every_name_the_from_header_writes() {
        let f = facts_of(
            "From: Microsoft account team ,_<no-reply@access-secure.net>\r\nTo: a@b.com\r\n\
             Subject: x\r\n\r\nhello\r\n",
        );
        assert_eq!(f.from_address.as_deref(), Some("no-reply@access-secure.net"));
        assert_eq!(f.from_domain.as_deref(), Some("access-secure.net"));
        assert_eq!(f.from_name.as_deref(), Some("Microsoft account team, _"));
        assert_eq!(f.from_mailboxes, 2);
        let one = facts_of("From: Jane Doe <jane@example.com>\r\nSubject: x\r\n\r\nhello\r\n");
        assert_eq!((one.from_name.as_deref(), one.from_mailboxes), (Some("Jane Doe"), 1));
    }

    #[test]
    fn an_inline_forward_is_read_from_its_marker() {
        let f = facts_of(
            "From: Employee <e@corp.com>\r\nTo: soc@corp.com\r\nSubject: Fwd: x\r\n\r\n\
             Is this real?\r\n\r\n---------- Forwarded message ---------\r\n\
             From: Bank <alerts@bank-secure.net>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
             Subject: Your account\r\nTo: e@corp.com\r\n\r\nDear customer, verify your account.\r\n",
        );
        assert_eq!(f.from_address.as_deref(), Some("alerts@bank-secure.net"));
        assert!(f.has_body);
        assert!(f.plain.starts_with("---------- Forwarded message"), "{:?}", f.plain);
        assert!(!f.plain.contains("Is this real?"), "the reporter's own words are not the phish's");
        assert!(signals::generic_greeting(&f).is_some());
    }
}
