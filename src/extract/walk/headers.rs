//! Header fields read by their grammar: addresses, Received hops (origin vs relays),
//! X-Originating-IP, Authentication-Results and Received-SPF. Never a regex over raw headers.

use std::net::IpAddr;
use std::sync::LazyLock;

use mail_parser::{HeaderName, HeaderValue, Host};
use regex::Regex;

use super::super::model::*;
use super::super::providers;
use super::super::scan::Mode;
use super::super::value::{self, IpScope};
use super::{Collector, empty_info, mailbox_list};

static AUTH: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)(?-u:\b)(spf|dkim|dmarc)\s*=\s*([a-z]+)").ok());

/// A header field as written in the message, trimmed.
fn raw_of(m: &mail_parser::Message<'_>, h: &mail_parser::Header<'_>) -> String {
    let (s, e) = (h.offset_start as usize, h.offset_end as usize);
    String::from_utf8_lossy(m.raw_message.get(s..e).unwrap_or_default()).trim().to_owned()
}

impl AuthResults {
    /// The first result of each method in one Authentication-Results field.
    fn read(&mut self, raw: &str) {
        let Some(re) = AUTH.as_ref() else { return };
        for c in re.captures_iter(raw).take(20) {
            let method = c.get(1).map_or(String::new(), |x| x.as_str().to_ascii_lowercase());
            let res = c.get(2).map(|x| x.as_str().to_ascii_lowercase());
            let slot = match method.as_str() {
                "spf" => &mut self.spf,
                "dkim" => &mut self.dkim,
                _ => &mut self.dmarc,
            };
            if slot.is_none() {
                *slot = res;
            }
        }
    }
}

impl Collector<'_> {
    pub(super) fn read_headers(&mut self, mi: usize, m: &mail_parser::Message<'_>) {
        let info = self.message_info(mi, m);
        let limit = self.opts.max_header_line;
        // Addresses: by the address grammar, each found in its raw header for the span.
        let mut addr_fields: Vec<(String, Vec<String>)> = Vec::new();
        for (n, list) in [("From", &info.from), ("Sender", &info.sender), ("Reply-To", &info.reply_to)] {
            addr_fields.push((n.to_owned(), list.iter().filter_map(|b| b.address.clone()).collect()));
        }
        if let Some(rp) = &info.return_path {
            addr_fields.push(("Return-Path".into(), vec![rp.clone()]));
        }
        let (subject, xoip) = (info.subject.clone(), info.x_originating_ip.clone());
        if let Some(msg) = self.message_mut(mi) {
            *msg = info;
        }
        for (name, addrs) in addr_fields {
            self.address_field(mi, m, name, addrs);
        }
        if let Some(s) = subject {
            let id = self.add_text(mi, Location::Header { name: "Subject".into() }, s, limit);
            self.scan_text(id, mi, Mode::Prose, &[], None);
        }
        if let Some(x) = xoip {
            self.originating_ip(mi, x);
        }
        self.read_trace(mi, m);
    }

    /// The message's summary from its headers, over what the walk knew of it before.
    fn message_info(&self, mi: usize, m: &mail_parser::Message<'_>) -> MessageInfo {
        let text_hdr = |n: &str| m.header_raw(n).map(|s| s.trim().to_owned());
        MessageInfo {
            subject: m.subject().map(str::to_owned),
            from: mailbox_list(m.from()),
            sender: mailbox_list(m.sender()),
            reply_to: mailbox_list(m.reply_to()),
            // Only the Return-Path field itself, the topmost (written at final delivery):
            // `return_address` would fall back to Sender/From and `header_raw` picks the last one.
            return_path: m
                .headers()
                .iter()
                .find(|h| h.name().eq_ignore_ascii_case("Return-Path"))
                .map(|h| raw_of(m, h).trim().trim_start_matches('<').trim_end_matches('>').trim().to_owned())
                .filter(|r| !r.is_empty()),
            to: mailbox_list(m.to()),
            cc: mailbox_list(m.cc()),
            bcc: mailbox_list(m.bcc()),
            date: m.date().map(|d| d.to_rfc3339()),
            message_id: m.message_id().map(str::to_owned),
            x_mailer: text_hdr("X-Mailer"),
            user_agent: text_hdr("User-Agent"),
            x_originating_ip: text_hdr("X-Originating-IP"),
            ..self.out.messages.get(mi).cloned().unwrap_or_else(|| empty_info(mi))
        }
    }

    /// One address field (`name`) with the addresses parsed from it, kept as a text for the spans.
    fn address_field(&mut self, mi: usize, m: &mail_parser::Message<'_>, name: String, addrs: Vec<String>) {
        if addrs.is_empty() {
            return;
        }
        // The field the addresses were parsed from: with repeated fields, the one that holds
        // the first address.
        let first = addrs.first().map(|a| a.to_ascii_lowercase()).unwrap_or_default();
        let fields: Vec<String> = m
            .headers()
            .iter()
            .filter(|h| h.name().eq_ignore_ascii_case(&name))
            .map(|h| raw_of(m, h))
            .collect();
        let raw = fields
            .iter()
            .find(|r| r.to_ascii_lowercase().contains(&first))
            .or(fields.last())
            .cloned()
            .unwrap_or_else(|| addrs.join(", "));
        let id = self.add_text(mi, Location::Header { name }, raw, self.opts.max_header_line);
        for a in addrs {
            self.add_address(id, mi, &a);
        }
    }

    fn originating_ip(&mut self, mi: usize, x: String) {
        let limit = self.opts.max_header_line;
        let id = self.add_text(mi, Location::Header { name: "X-Originating-IP".into() }, x, limit);
        let t = self.text_of(id).to_owned();
        let inner = t.trim().trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = inner.parse::<IpAddr>() {
            let s = t.find(inner).unwrap_or(0);
            self.add(
                value::ip_value(ip),
                Provenance { text: id, message: mi, start: s, end: s + inner.len(), defanged: false },
            );
        }
    }

    /// The trace fields: Received hops (origin and relays), Authentication-Results, Received-SPF.
    fn read_trace(&mut self, mi: usize, m: &mail_parser::Message<'_>) {
        let limit = self.opts.max_header_line;
        let mut auth = AuthResults::default();
        let mut hops = Vec::new();
        let mut hop_texts: Vec<(usize, usize)> = Vec::new();
        for h in m.headers().iter().take(500) {
            match (&h.name, &h.value) {
                (HeaderName::Received, HeaderValue::Received(r)) => {
                    let hop = received_hop(r);
                    let id =
                        self.add_text(mi, Location::Header { name: "Received".into() }, raw_of(m, h), limit);
                    hop_texts.push((id, hops.len()));
                    hops.push(hop);
                }
                (HeaderName::Received, _) => hops.push(ReceivedHop::default()),
                (HeaderName::AuthenticationResults, _) => auth.read(&raw_of(m, h)),
                (HeaderName::ReceivedSpf, _) if auth.spf.is_none() => {
                    auth.spf = raw_of(m, h).split_whitespace().next().map(|w| w.to_ascii_lowercase());
                }
                _ => {}
            }
        }
        self.hop_observables(mi, m, &hops, hop_texts);
        if let Some(msg) = self.message_mut(mi) {
            msg.received = hops;
            msg.auth = auth;
        }
    }

    /// Only hops where mail crossed between organisations say anything; of those, the oldest
    /// with a public sender is the origin and is proposed. The rest are the providers' relays:
    /// kept, whitelisted `mail_relay`. `hop_texts` pairs each hop's text with its index in `hops`.
    fn hop_observables(
        &mut self,
        mi: usize,
        m: &mail_parser::Message<'_>,
        hops: &[ReceivedHop],
        hop_texts: Vec<(usize, usize)>,
    ) {
        let crossing: Vec<(usize, usize)> =
            hop_texts.into_iter().filter(|&(_, h)| hops.get(h).is_some_and(crosses_organisations)).collect();
        let public = |h: usize| {
            hops.get(h)
                .and_then(|x| x.from_ip.as_deref())
                .and_then(|ip| ip.parse::<IpAddr>().ok())
                .is_some_and(|ip| IpScope::of(ip) == IpScope::Public)
        };
        // Index in `crossing` (newest first) of the origin.
        let origin_at = crossing.iter().rposition(|&(_, h)| public(h)).or(crossing.len().checked_sub(1));
        let origin = origin_at.and_then(|i| crossing.get(i)).map(|&(id, _)| id);
        let sender_regs = self.sender_registered_domains(mi, m);
        // A hop from a host under the sender's own registered domain is the sender's own
        // server, proposed like the origin, only on a hop between the origin and the recipient
        // (hops behind the origin are the sending network's own plumbing, named by internal HELOs).
        let sender_owned = |at: usize, h: usize| {
            origin_at.is_some_and(|o| at < o)
                && hops.get(h).is_some_and(|hop| {
                    [hop.from_rdns.as_deref(), hop.from_host.as_deref()]
                        .into_iter()
                        .flatten()
                        .filter_map(value::parse_domain)
                        .any(|d| sender_regs.contains(&d.registered))
                })
        };
        for (at, &(id, h)) in crossing.iter().enumerate() {
            if let Some(hop) = hops.get(h) {
                self.received_observables(id, mi, hop);
                if Some(id) != origin && !sender_owned(at, h) {
                    self.relay_texts.insert(id);
                }
            }
        }
    }

    /// The registered domains of the sender (From and Reply-To) whose own relays say something
    /// about the sender: none when the sender's domain is a provider's (mailbox, ISP, mail
    /// service, platform: `providers`), the message is list mail (`List-Id`: the list's servers
    /// relay everyone's mail) or a provider signed it (DKIM `d=`).
    fn sender_registered_domains(&self, mi: usize, m: &mail_parser::Message<'_>) -> Vec<String> {
        let signed_by_provider = m
            .headers()
            .iter()
            .filter(|h| h.name().eq_ignore_ascii_case("DKIM-Signature"))
            .filter_map(|h| dkim_domain(&raw_of(m, h)))
            .any(|d| providers::is_provider(&d));
        match self.out.messages.get(mi) {
            Some(msg) if m.header_raw("List-Id").is_none() && !signed_by_provider => msg
                .from
                .iter()
                .chain(&msg.reply_to)
                .filter_map(|b| b.address.as_deref())
                .filter_map(|a| a.rsplit_once('@').and_then(|(_, d)| value::parse_domain(d)))
                .map(|d| d.registered)
                .filter(|r| !providers::is_provider(r))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub(super) fn add_address(&mut self, id: usize, mi: usize, addr: &str) {
        let Some(v) = value::parse_email(addr) else {
            return;
        };
        let text = self.text_of(id);
        let lower = text.to_ascii_lowercase();
        let (s, e) = match lower.find(&addr.to_ascii_lowercase()) {
            Some(s) => (s, s + addr.len()),
            None => (0, text.len()),
        };
        let found_at = lower.find(&addr.to_ascii_lowercase()).is_some();
        let (ds, de) = match addr.rfind('@') {
            Some(a) if found_at => (s + a + 1, e),
            _ => (s, e),
        };
        let dom = addr.rsplit_once('@').and_then(|(_, d)| value::parse_domain(d));
        self.add(v, Provenance { text: id, message: mi, start: s, end: e, defanged: false });
        if let Some(d) = dom {
            self.add(
                d.into_value(),
                Provenance { text: id, message: mi, start: ds, end: de, defanged: false },
            );
        }
    }

    /// A hop yields the sending server's IP and names, taken from the parsed fields (never from
    /// the `id` clause or the date), and only where mail crossed from one organisation to
    /// another: hops inside one provider (`*.prod.outlook.com` to `*.prod.outlook.com`) are
    /// plumbing, not indicators.
    fn received_observables(&mut self, id: usize, mi: usize, hop: &ReceivedHop) {
        let text = self.text_of(id).to_owned();
        let span = |needle: &str| -> (usize, usize) {
            text.to_ascii_lowercase()
                .find(&needle.to_ascii_lowercase())
                .map_or((0, text.len()), |s| (s, s + needle.len()))
        };
        if let Some(ip) = hop.from_ip.as_deref().and_then(|i| i.parse::<IpAddr>().ok()) {
            let (s, e) = span(&ip.to_string());
            self.add(
                value::ip_value(ip),
                Provenance { text: id, message: mi, start: s, end: e, defanged: false },
            );
        }
        for host in [hop.from_rdns.as_deref(), hop.from_host.as_deref()].into_iter().flatten() {
            if let Some(d) = value::parse_domain(host) {
                let (s, e) = span(host);
                self.add(
                    d.into_value(),
                    Provenance { text: id, message: mi, start: s, end: e, defanged: false },
                );
            }
        }
    }
}

/// The registered domain of a DKIM-Signature's `d=` tag.
fn dkim_domain(sig: &str) -> Option<String> {
    sig.split(';')
        .filter_map(|tag| tag.trim().strip_prefix("d="))
        .find_map(|d| value::parse_domain(d.trim()))
        .map(|d| d.registered)
}

/// Did this hop carry mail from one organisation to another (registered domains differ)?
fn crosses_organisations(hop: &ReceivedHop) -> bool {
    let reg = |h: Option<&str>| h.and_then(value::parse_domain).map(|d| d.registered);
    let from_reg = reg(hop.from_rdns.as_deref()).or_else(|| reg(hop.from_host.as_deref()));
    let by_reg = reg(hop.by_host.as_deref());
    from_reg.is_none() || from_reg != by_reg
}
fn received_hop(r: &mail_parser::Received<'_>) -> ReceivedHop {
    let host = |h: &Option<Host<'_>>| match h {
        Some(Host::Name(n)) => Some(n.to_string()),
        Some(Host::IpAddr(ip)) => Some(ip.to_string()),
        None => None,
    };
    ReceivedHop {
        from_host: host(&r.from),
        from_ip: r.from_ip.map(|ip| ip.to_string()).or_else(|| match &r.from {
            Some(Host::IpAddr(ip)) => Some(ip.to_string()),
            _ => None,
        }),
        from_rdns: r.from_iprev.as_ref().map(|s| s.to_string()),
        by_host: host(&r.by),
        protocol: r.with.map(|w| format!("{w:?}").to_ascii_uppercase()),
        time: r.date.map(|d| d.to_rfc3339()),
    }
}
