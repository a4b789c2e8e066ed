//! The walk over one input: MIME tree, `.msg` properties, forwarded and attached messages, with
//! the §6 limits enforced as it goes. Collects attributes, attachments, texts and observables
//! into an [`Extraction`], then marks what is whitelisted.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::LazyLock;

use mail_parser::{HeaderName, HeaderValue, Host, MessageParser, MimeHeaders, PartType};
use regex::Regex;

use super::ExtractOptions;
use super::archive::{self, ArchiveLimits};
use super::forward;
use super::html;
use super::model::*;
use super::msg::{self, MsgMessage};
use super::scan::{self, Found, Mode};
use super::value::{self, IndicatorValue, IpScope, ObservableKind};

/// Occurrences kept per observable; the count goes on.
const MAX_PROVENANCE: usize = 32;
/// Values one text may yield before it is cut.
const MAX_FOUND_PER_TEXT: usize = 5_000;

/// Hosts of XML namespaces and schemas that HTML and Office bodies cite everywhere.
const WELL_KNOWN: &[&str] = &[
    "w3.org",
    "schemas.microsoft.com",
    "openxmlformats.org",
    "purl.org",
    "ns.adobe.com",
    "schema.org",
    "xmlsoap.org",
];

static AUTH: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)(?-u:\b)(spf|dkim|dmarc)\s*=\s*([a-z]+)").ok());

pub(crate) struct Collector<'o> {
    opts: &'o ExtractOptions,
    out: Extraction,
    index: HashMap<(ObservableKind, String), usize>,
    parts: usize,
    parts_warned: bool,
    obs_warned: bool,
    /// Addresses of the reporter's envelope (From, Sender, To, Cc): context wherever they appear.
    context_addrs: HashSet<String>,
    /// Received header texts of relay hops (not the origin): their values are `mail_relay`.
    relay_texts: HashSet<usize>,
}

fn mailbox_list(v: Option<&mail_parser::Address<'_>>) -> Vec<Mailbox> {
    v.map(|a| {
        a.iter()
            .take(1000)
            .map(|x| Mailbox {
                name: x.name().map(str::to_owned),
                address: x.address().map(str::to_owned),
            })
            .collect()
    })
    .unwrap_or_default()
}

fn lower_name(name: &Option<String>) -> String {
    name.as_deref().unwrap_or_default().to_ascii_lowercase()
}

impl<'o> Collector<'o> {
    pub(crate) fn new(opts: &'o ExtractOptions, input: InputKind) -> Self {
        Self {
            opts,
            out: Extraction {
                input,
                messages: Vec::new(),
                attachments: Vec::new(),
                observables: Vec::new(),
                texts: Vec::new(),
                warnings: Vec::new(),
            },
            index: HashMap::new(),
            parts: 0,
            parts_warned: false,
            obs_warned: false,
            context_addrs: HashSet::new(),
            relay_texts: HashSet::new(),
        }
    }

    pub(crate) fn warn(&mut self, kind: WarningKind, detail: impl Into<String>) {
        if self.out.warnings.len() < 1000 {
            self.out.warnings.push(Warning {
                kind,
                detail: detail.into(),
            });
        }
    }

    fn new_message(&mut self, parent: Option<usize>, source: MessageSource, path: String) -> usize {
        let index = self.out.messages.len();
        let role = match parent {
            Some(p) if source == MessageSource::SignedContent => self
                .out
                .messages
                .get(p)
                .map_or(MessageRole::Single, |m| m.role),
            Some(p) => {
                // The outermost message wrapping a forward is the reporter's envelope.
                if let Some(pm) = self.out.messages.get_mut(p)
                    && pm.role == MessageRole::Single
                {
                    pm.role = MessageRole::ReporterEnvelope;
                }
                MessageRole::Reported
            }
            None => MessageRole::Single,
        };
        self.out.messages.push(MessageInfo {
            index,
            parent,
            path,
            role,
            source,
            subject: None,
            from: Vec::new(),
            sender: Vec::new(),
            reply_to: Vec::new(),
            return_path: None,
            to: Vec::new(),
            cc: Vec::new(),
            bcc: Vec::new(),
            date: None,
            message_id: None,
            x_mailer: None,
            user_agent: None,
            x_originating_ip: None,
            received: Vec::new(),
            auth: AuthResults::default(),
        });
        index
    }

    fn message_mut(&mut self, mi: usize) -> Option<&mut MessageInfo> {
        self.out.messages.get_mut(mi)
    }

    fn add_text(
        &mut self,
        message: usize,
        location: Location,
        mut text: String,
        limit: usize,
    ) -> usize {
        if text.len() > limit {
            let mut cut = limit;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            self.warn(
                WarningKind::HeaderTooLong,
                format!("{location:?} cut to {limit} bytes"),
            );
        }
        self.out.texts.push(PartText {
            message,
            location,
            text,
        });
        self.out.texts.len() - 1
    }

    fn add(&mut self, v: IndicatorValue, prov: Provenance) {
        let key = (v.kind, v.value.clone());
        if let Some(&i) = self.index.get(&key) {
            if let Some(o) = self.out.observables.get_mut(i) {
                o.occurrences += 1;
                o.defanged |= prov.defanged;
                if o.provenance.len() < MAX_PROVENANCE && !o.provenance.contains(&prov) {
                    o.provenance.push(prov);
                }
            }
            return;
        }
        if self.out.observables.len() >= self.opts.max_observables {
            if !self.obs_warned {
                self.obs_warned = true;
                let n = self.opts.max_observables;
                self.warn(
                    WarningKind::ObservableLimit,
                    format!("more than {n} distinct values; the rest dropped"),
                );
            }
            return;
        }
        self.index.insert(key, self.out.observables.len());
        self.out.observables.push(Observable {
            indicator: v,
            defanged: prov.defanged,
            whitelisted: None,
            role: MessageRole::Single,
            occurrences: 1,
            provenance: vec![prov],
        });
    }

    fn add_found(&mut self, text: usize, message: usize, f: Found) {
        let prov = Provenance {
            text,
            message,
            start: f.start,
            end: f.end,
            defanged: f.defanged,
        };
        self.add(f.value, prov);
    }

    fn text_of(&self, id: usize) -> &str {
        self.out.texts.get(id).map_or("", |t| t.text.as_str())
    }

    /// Scans a stored text; spans from `split.0` on belong to message `split.1`.
    fn scan_text(
        &mut self,
        id: usize,
        mi: usize,
        mode: Mode,
        files: &[String],
        split: Option<(usize, usize)>,
    ) {
        let (found, cut) = scan::scan(self.text_of(id), mode, files, MAX_FOUND_PER_TEXT);
        if cut {
            self.warn(
                WarningKind::ObservableLimit,
                format!("text {id}: more than {MAX_FOUND_PER_TEXT} values; rest not scanned"),
            );
        }
        for f in found {
            let m = match split {
                Some((at, child)) if f.start >= at => child,
                _ => mi,
            };
            self.add_found(id, m, f);
        }
    }

    /// Scans a plain-text body, splitting off an inline forward into its own message.
    fn scan_body_text(&mut self, id: usize, mi: usize, files: &[String], nesting: usize) {
        let split = if nesting < self.opts.max_nesting {
            forward::find(self.text_of(id)).map(|fw| {
                let path = format!(
                    "{}/inline",
                    self.out.messages.get(mi).map_or("", |m| m.path.as_str())
                );
                let child = self.new_message(Some(mi), MessageSource::InlineForward, path);
                let from = fw.from.as_deref().map(parse_mailbox).into_iter().collect();
                let to = fw.to.as_deref().map(parse_mailbox_list).unwrap_or_default();
                let cc = fw.cc.as_deref().map(parse_mailbox_list).unwrap_or_default();
                if let Some(m) = self.message_mut(child) {
                    m.from = from;
                    m.to = to;
                    m.cc = cc;
                    m.subject = fw.subject;
                    m.date = fw.date;
                }
                (fw.start, child)
            })
        } else {
            None
        };
        self.scan_text(id, mi, Mode::Prose, files, split);
    }

    fn scan_html(&mut self, id: usize, mi: usize, files: &[String]) {
        self.scan_html_at(id, mi, files, 0);
    }

    /// `depth` counts script-decoding rounds (`document.write(unescape(..))` inside another).
    fn scan_html_at(&mut self, id: usize, mi: usize, files: &[String], depth: usize) {
        let r = html::render(self.text_of(id));
        let mut results: Vec<Found> = Vec::new();
        for (mapped, mode) in [(&r.visible, Mode::Prose), (&r.code, Mode::Code)] {
            let (found, _) = scan::scan(&mapped.text, mode, files, MAX_FOUND_PER_TEXT);
            for mut f in found {
                let (s, e) = mapped.to_src(f.start, f.end);
                f.start = s;
                f.end = e;
                results.push(f);
            }
        }
        for a in &r.attrs {
            let (found, _) = scan::scan(&a.value, Mode::Code, files, 64);
            for mut f in found {
                if a.verbatim {
                    f.start += a.start;
                    f.end += a.start;
                } else {
                    f.start = a.start;
                    f.end = a.end;
                }
                results.push(f);
            }
        }
        // An inline forward in an HTML body: split on the rendered text's marker.
        let split = forward::find(&r.visible.text).map(|fw| r.visible.to_src(fw.start, fw.start).0);
        let split = split.map(|at| {
            let path = format!(
                "{}/inline",
                self.out.messages.get(mi).map_or("", |m| m.path.as_str())
            );
            (
                at,
                self.new_message(Some(mi), MessageSource::InlineForward, path),
            )
        });
        for f in results {
            let m = match split {
                Some((at, child)) if f.start >= at => child,
                _ => mi,
            };
            self.add_found(id, m, f);
        }
        // HTML attachments hide their page in `unescape("%3C..")` / `atob("PGh0..")`: decode
        // the literal into a text of its own and read it as HTML.
        if depth < 2 {
            for d in html::decode_script_literals(&r.code.text)
                .into_iter()
                .take(16)
            {
                let (s, e) = r.code.to_src(d.start, d.end);
                let loc = Location::Decoded {
                    text: id,
                    start: s,
                    end: e,
                    how: d.how.into(),
                };
                let nid = self.add_text(mi, loc, d.text, usize::MAX);
                self.scan_html_at(nid, mi, files, depth + 1);
            }
        }
    }

    fn count_part(&mut self) -> bool {
        self.parts += 1;
        if self.parts > self.opts.max_parts {
            if !self.parts_warned {
                self.parts_warned = true;
                let n = self.opts.max_parts;
                self.warn(
                    WarningKind::TooManyParts,
                    format!("more than {n} MIME parts; the rest skipped"),
                );
            }
            return false;
        }
        true
    }

    // ---- RFC 5322 messages ----

    /// Parses and walks raw RFC 5322 bytes.
    pub(crate) fn walk_raw_eml(
        &mut self,
        raw: &[u8],
        parent: Option<usize>,
        source: MessageSource,
        path: String,
        nesting: usize,
    ) -> Option<usize> {
        let raw = strip_mbox_from_line(raw);
        match MessageParser::default().parse(raw) {
            Some(m) => Some(self.walk_eml(&m, parent, source, path, nesting)),
            None => {
                self.warn(
                    WarningKind::Malformed,
                    format!("{path}: no message headers; read as text"),
                );
                Some(self.walk_pasted_text(raw, parent, path))
            }
        }
    }

    /// Text with no header block: scanned as a body.
    pub(crate) fn walk_pasted_text(
        &mut self,
        raw: &[u8],
        parent: Option<usize>,
        path: String,
    ) -> usize {
        let mi = self.new_message(parent, MessageSource::Pasted, path);
        let text = String::from_utf8_lossy(raw).into_owned();
        let is_html = text
            .get(..text.len().min(2048))
            .is_some_and(|h| h.to_ascii_lowercase().contains("<html"));
        let ct = if is_html { "text/html" } else { "text/plain" };
        let id = self.add_text(
            mi,
            Location::Body {
                part: "1".into(),
                content_type: ct.into(),
            },
            text,
            usize::MAX,
        );
        if is_html {
            self.scan_html(id, mi, &[]);
        } else {
            self.scan_body_text(id, mi, &[], 0);
        }
        mi
    }

    fn walk_eml(
        &mut self,
        m: &mail_parser::Message<'_>,
        parent: Option<usize>,
        source: MessageSource,
        path: String,
        nesting: usize,
    ) -> usize {
        let mi = self.new_message(parent, source, path.clone());
        self.read_headers(mi, m);
        let files: Vec<String> = m
            .parts
            .iter()
            .filter_map(|p| p.attachment_name().map(str::to_owned))
            .take(1000)
            .collect();
        // Walk the tree from the root so MIME depth is known; parts are a flat arena.
        let mut stack: Vec<(u32, usize)> = vec![(0, 0)];
        let mut visited = HashSet::new();
        while let Some((id, depth)) = stack.pop() {
            if !visited.insert(id) {
                continue;
            }
            let Some(part) = m.parts.get(id as usize) else {
                continue;
            };
            if !self.count_part() {
                break;
            }
            if depth > self.opts.max_mime_depth {
                self.warn(
                    WarningKind::MimeDepth,
                    format!(
                        "{path}: part {id} deeper than {} levels; skipped",
                        self.opts.max_mime_depth
                    ),
                );
                continue;
            }
            let ppath = format!("{path}/part{id}");
            let name = part.attachment_name().map(str::to_owned);
            let ct = part
                .content_type()
                .map(|c| {
                    format!("{}/{}", c.c_type, c.c_subtype.as_deref().unwrap_or(""))
                        .to_ascii_lowercase()
                })
                .unwrap_or_else(|| "text/plain".into());
            let is_attachment = name.is_some()
                || part
                    .content_disposition()
                    .is_some_and(|d| d.c_type.eq_ignore_ascii_case("attachment"));
            match &part.body {
                PartType::Multipart(children) => {
                    for c in children.iter().rev() {
                        stack.push((*c, depth + 1));
                    }
                }
                PartType::Text(t) if !is_attachment => {
                    let id = self.add_text(
                        mi,
                        Location::Body {
                            part: id.to_string(),
                            content_type: ct,
                        },
                        t.to_string(),
                        usize::MAX,
                    );
                    self.scan_body_text(id, mi, &files, nesting);
                }
                PartType::Html(h) if !is_attachment => {
                    let id = self.add_text(
                        mi,
                        Location::Body {
                            part: id.to_string(),
                            content_type: ct,
                        },
                        h.to_string(),
                        usize::MAX,
                    );
                    self.scan_html(id, mi, &files);
                }
                PartType::Message(inner) => {
                    let att = self.add_attachment(
                        mi,
                        &ppath,
                        name.or_else(|| Some("message.eml".into())),
                        Some(ct),
                        inner.raw_message(),
                    );
                    if nesting + 1 > self.opts.max_nesting {
                        self.warn(
                            WarningKind::NestingDepth,
                            format!(
                                "{ppath}: message nested deeper than {}; not read",
                                self.opts.max_nesting
                            ),
                        );
                    } else {
                        let child = self.walk_eml(
                            inner,
                            Some(mi),
                            MessageSource::AttachedEml,
                            format!("{ppath}/eml"),
                            nesting + 1,
                        );
                        self.link_attachment(att, child);
                    }
                }
                PartType::Text(_)
                | PartType::Html(_)
                | PartType::Binary(_)
                | PartType::InlineBinary(_) => {
                    self.handle_attachment(
                        mi,
                        &ppath,
                        name,
                        Some(ct),
                        part.contents(),
                        &files,
                        nesting,
                    );
                }
            }
        }
        mi
    }

    fn read_headers(&mut self, mi: usize, m: &mail_parser::Message<'_>) {
        let raw_of = |h: &mail_parser::Header<'_>| -> String {
            let s = h.offset_start as usize;
            let e = h.offset_end as usize;
            String::from_utf8_lossy(m.raw_message.get(s..e).unwrap_or_default())
                .trim()
                .to_owned()
        };
        let date = m.date().map(|d| d.to_rfc3339());
        let subject = m.subject().map(str::to_owned);
        let text_hdr = |n: &str| m.header_raw(n).map(|s| s.trim().to_owned());
        let (x_mailer, user_agent, xoip) = (
            text_hdr("X-Mailer"),
            text_hdr("User-Agent"),
            text_hdr("X-Originating-IP"),
        );
        let info = MessageInfo {
            subject: subject.clone(),
            from: mailbox_list(m.from()),
            sender: mailbox_list(m.sender()),
            reply_to: mailbox_list(m.reply_to()),
            // Only the Return-Path field itself (`return_address` falls back to Sender/From).
            // The topmost Return-Path (written at final delivery); `return_address` would fall
            // back to Sender/From and `header_raw` picks the last one.
            return_path: m
                .headers()
                .iter()
                .find(|h| h.name().eq_ignore_ascii_case("Return-Path"))
                .map(|h| {
                    raw_of(h)
                        .trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .trim()
                        .to_owned()
                })
                .filter(|r| !r.is_empty()),
            to: mailbox_list(m.to()),
            cc: mailbox_list(m.cc()),
            bcc: mailbox_list(m.bcc()),
            date,
            message_id: m.message_id().map(str::to_owned),
            x_mailer,
            user_agent,
            x_originating_ip: xoip.clone(),
            ..self
                .out
                .messages
                .get(mi)
                .cloned()
                .unwrap_or_else(|| empty_info(mi))
        };
        let limit = self.opts.max_header_line;
        // Addresses: by the address grammar, each found in its raw header for the span.
        let mut addr_fields: Vec<(String, Vec<String>)> = Vec::new();
        for (n, list) in [
            ("From", &info.from),
            ("Sender", &info.sender),
            ("Reply-To", &info.reply_to),
        ] {
            addr_fields.push((
                n.to_owned(),
                list.iter().filter_map(|b| b.address.clone()).collect(),
            ));
        }
        if let Some(rp) = &info.return_path {
            addr_fields.push(("Return-Path".into(), vec![rp.clone()]));
        }
        if let Some(msg) = self.message_mut(mi) {
            *msg = info;
        }
        for (name, addrs) in addr_fields {
            if addrs.is_empty() {
                continue;
            }
            // The field the addresses were parsed from: with repeated fields, the one that
            // holds the first address.
            let first = addrs
                .first()
                .map(|a| a.to_ascii_lowercase())
                .unwrap_or_default();
            let fields: Vec<String> = m
                .headers()
                .iter()
                .filter(|h| h.name().eq_ignore_ascii_case(&name))
                .map(raw_of)
                .collect();
            let raw = fields
                .iter()
                .find(|r| r.to_ascii_lowercase().contains(&first))
                .or(fields.last())
                .cloned()
                .unwrap_or_else(|| addrs.join(", "));
            let id = self.add_text(mi, Location::Header { name: name.clone() }, raw, limit);
            for a in addrs {
                self.add_address(id, mi, &a);
            }
        }
        if let Some(s) = subject {
            let id = self.add_text(
                mi,
                Location::Header {
                    name: "Subject".into(),
                },
                s,
                limit,
            );
            self.scan_text(id, mi, Mode::Prose, &[], None);
        }
        if let Some(x) = xoip {
            let id = self.add_text(
                mi,
                Location::Header {
                    name: "X-Originating-IP".into(),
                },
                x,
                limit,
            );
            let t = self.text_of(id).to_owned();
            let inner = t.trim().trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = inner.parse::<IpAddr>() {
                let s = t.find(inner).unwrap_or(0);
                self.add(
                    value::ip_value(ip),
                    Provenance {
                        text: id,
                        message: mi,
                        start: s,
                        end: s + inner.len(),
                        defanged: false,
                    },
                );
            }
        }
        let mut auth = AuthResults::default();
        let mut hops = Vec::new();
        let mut hop_texts: Vec<(usize, usize)> = Vec::new();
        for h in m.headers().iter().take(500) {
            match (&h.name, &h.value) {
                (HeaderName::Received, HeaderValue::Received(r)) => {
                    let raw = raw_of(h);
                    let hop = received_hop(r);
                    let id = self.add_text(
                        mi,
                        Location::Header {
                            name: "Received".into(),
                        },
                        raw,
                        limit,
                    );
                    hop_texts.push((id, hops.len()));
                    hops.push(hop);
                }
                (HeaderName::Received, _) => hops.push(ReceivedHop::default()),
                (HeaderName::AuthenticationResults, _) => {
                    let raw = raw_of(h);
                    if let Some(re) = AUTH.as_ref() {
                        for c in re.captures_iter(&raw).take(20) {
                            let method = c
                                .get(1)
                                .map_or(String::new(), |x| x.as_str().to_ascii_lowercase());
                            let res = c.get(2).map(|x| x.as_str().to_ascii_lowercase());
                            let slot = match method.as_str() {
                                "spf" => &mut auth.spf,
                                "dkim" => &mut auth.dkim,
                                _ => &mut auth.dmarc,
                            };
                            if slot.is_none() {
                                *slot = res;
                            }
                        }
                    }
                }
                (HeaderName::ReceivedSpf, _) if auth.spf.is_none() => {
                    auth.spf = raw_of(h)
                        .split_whitespace()
                        .next()
                        .map(|w| w.to_ascii_lowercase());
                }
                _ => {}
            }
        }
        // Only hops where mail crossed between organisations say anything; of those, the
        // oldest with a public sender is the origin and is proposed. The rest are the
        // providers' relays: kept, whitelisted `mail_relay`.
        let crossing: Vec<(usize, usize)> = hop_texts
            .into_iter()
            .filter(|&(_, h)| hops.get(h).is_some_and(crosses_organisations))
            .collect();
        let public = |h: usize| {
            hops.get(h)
                .and_then(|x| x.from_ip.as_deref())
                .and_then(|ip| ip.parse::<IpAddr>().ok())
                .is_some_and(|ip| IpScope::of(ip) == IpScope::Public)
        };
        let origin = crossing
            .iter()
            .rev()
            .find(|&&(_, h)| public(h))
            .or(crossing.last())
            .map(|&(id, _)| id);
        for &(id, h) in &crossing {
            if let Some(hop) = hops.get(h).cloned() {
                self.received_observables(id, mi, &hop);
                if Some(id) != origin {
                    self.relay_texts.insert(id);
                }
            }
        }
        if let Some(msg) = self.message_mut(mi) {
            msg.received = hops;
            msg.auth = auth;
        }
    }

    fn add_address(&mut self, id: usize, mi: usize, addr: &str) {
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
        let dom = addr
            .rsplit_once('@')
            .and_then(|(_, d)| value::parse_domain(d));
        self.add(
            v,
            Provenance {
                text: id,
                message: mi,
                start: s,
                end: e,
                defanged: false,
            },
        );
        if let Some(d) = dom {
            self.add(
                d.into_value(),
                Provenance {
                    text: id,
                    message: mi,
                    start: ds,
                    end: de,
                    defanged: false,
                },
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
        if let Some(ip) = hop
            .from_ip
            .as_deref()
            .and_then(|i| i.parse::<IpAddr>().ok())
        {
            let (s, e) = span(&ip.to_string());
            self.add(
                value::ip_value(ip),
                Provenance {
                    text: id,
                    message: mi,
                    start: s,
                    end: e,
                    defanged: false,
                },
            );
        }
        for host in [hop.from_rdns.as_deref(), hop.from_host.as_deref()]
            .into_iter()
            .flatten()
        {
            if let Some(d) = value::parse_domain(host) {
                let (s, e) = span(host);
                self.add(
                    d.into_value(),
                    Provenance {
                        text: id,
                        message: mi,
                        start: s,
                        end: e,
                        defanged: false,
                    },
                );
            }
        }
    }

    // ---- attachments ----

    fn add_attachment(
        &mut self,
        mi: usize,
        path: &str,
        name: Option<String>,
        mime: Option<String>,
        data: &[u8],
    ) -> usize {
        self.out.attachments.push(AttachmentInfo {
            message: mi,
            path: path.to_owned(),
            name,
            mime_type: mime,
            size: data.len() as u64,
            hashes: archive::hashes(data),
            members: Vec::new(),
            nested_message: None,
        });
        self.out.attachments.len() - 1
    }

    fn link_attachment(&mut self, att: usize, child: usize) {
        if let Some(a) = self.out.attachments.get_mut(att) {
            a.nested_message = Some(child);
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one attachment's context; a struct would only rename it"
    )]
    fn handle_attachment(
        &mut self,
        mi: usize,
        path: &str,
        name: Option<String>,
        mime: Option<String>,
        data: &[u8],
        files: &[String],
        nesting: usize,
    ) {
        let att = self.add_attachment(mi, path, name.clone(), mime.clone(), data);
        let file = FileRef {
            path,
            name,
            mime,
            data,
        };
        self.read_file(mi, Some(att), file, files, nesting);
    }

    /// Reads what a file holds: archive members, a message, HTML, text or PDF links.
    /// `att` is the attachment record (archive members have none of their own).
    fn read_file(
        &mut self,
        mi: usize,
        att: Option<usize>,
        f: FileRef<'_>,
        files: &[String],
        nesting: usize,
    ) {
        let FileRef {
            path,
            name,
            mime,
            data,
        } = f;
        let lname = lower_name(&name);
        let mime_l = mime.unwrap_or_default();
        let link = |this: &mut Self, child: usize| {
            if let Some(a) = att {
                this.link_attachment(a, child);
            }
        };
        if data.starts_with(b"PK\x03\x04") {
            let Some(att) = att else {
                // An archive inside an archive is listed by name only.
                return;
            };
            let lim = ArchiveLimits {
                max_members: self.opts.max_archive_members,
                max_ratio: self.opts.max_archive_ratio,
                max_bytes: self.opts.max_archive_bytes,
            };
            let (members, contents, warns) =
                archive::zip_members(data, &lim, &member_worth_reading);
            for w in warns {
                self.warn(WarningKind::ArchiveLimit, format!("{path}: {w}"));
            }
            if let Some(a) = self.out.attachments.get_mut(att) {
                a.members = members;
            }
            for (mname, bytes) in contents {
                let mpath = format!("{path}/{mname}");
                let f = FileRef {
                    path: &mpath,
                    name: Some(mname.clone()),
                    mime: None,
                    data: &bytes,
                };
                self.read_file(mi, None, f, files, nesting);
            }
        } else if data.starts_with(msg::CFB_MAGIC) {
            if nesting + 1 > self.opts.max_nesting {
                self.warn(
                    WarningKind::NestingDepth,
                    format!("{path}: .msg nested too deep; not read"),
                );
                return;
            }
            match msg::parse(
                data,
                self.opts.max_nesting.saturating_sub(nesting + 1),
                self.opts.max_message_bytes as u64,
            ) {
                Ok(m) => {
                    let child = self.walk_msg(
                        &m,
                        Some(mi),
                        MessageSource::AttachedMsg,
                        format!("{path}/msg"),
                        nesting + 1,
                    );
                    link(self, child);
                }
                Err(e) => self.warn(WarningKind::Malformed, format!("{path}: {e}")),
            }
        } else if mime_l == "multipart/signed" {
            // Outlook keeps an S/MIME-signed message's whole MIME body as its one attachment.
            if let Some(child) = self.walk_raw_eml(
                data,
                Some(mi),
                MessageSource::SignedContent,
                format!("{path}/signed"),
                nesting + 1,
            ) {
                link(self, child);
            }
        } else if lname.ends_with(".eml") || mime_l == "message/rfc822" {
            if nesting + 1 > self.opts.max_nesting {
                self.warn(
                    WarningKind::NestingDepth,
                    format!("{path}: message nested too deep; not read"),
                );
                return;
            }
            if let Some(child) = self.walk_raw_eml(
                data,
                Some(mi),
                MessageSource::AttachedEml,
                format!("{path}/eml"),
                nesting + 1,
            ) {
                link(self, child);
            }
        } else if mime_l == "text/html" || HTML_EXT.iter().any(|x| lname.ends_with(x)) {
            let text = String::from_utf8_lossy(data).into_owned();
            let loc = Location::Attachment {
                name: name.unwrap_or_default(),
                content_type: mime_l,
            };
            let id = self.add_text(mi, loc, text, usize::MAX);
            self.scan_html(id, mi, files);
        } else if mime_l.starts_with("text/") || TEXT_EXT.iter().any(|x| lname.ends_with(x)) {
            let text = String::from_utf8_lossy(data).into_owned();
            let mode = if lname.ends_with(".txt") || mime_l == "text/plain" {
                Mode::Prose
            } else {
                Mode::Code
            };
            let loc = Location::Attachment {
                name: name.unwrap_or_default(),
                content_type: mime_l,
            };
            let id = self.add_text(mi, loc, text, usize::MAX);
            self.scan_text(id, mi, mode, files, None);
        } else if data.starts_with(b"%PDF") {
            // Links in a PDF are `/URI (…)` actions; uncompressed objects only.
            let uris = pdf_uris(data);
            if !uris.is_empty() {
                let loc = Location::Attachment {
                    name: name.unwrap_or_default(),
                    content_type: "application/pdf".into(),
                };
                let id = self.add_text(mi, loc, uris, usize::MAX);
                self.scan_text(id, mi, Mode::Code, files, None);
            }
        }
    }

    // ---- Outlook ----

    pub(crate) fn walk_msg(
        &mut self,
        m: &MsgMessage,
        parent: Option<usize>,
        source: MessageSource,
        path: String,
        nesting: usize,
    ) -> usize {
        let mi = match m.transport_headers.as_deref().filter(|h| h.contains(':')) {
            Some(h) => {
                let mut raw = h.trim_end().as_bytes().to_vec();
                raw.extend_from_slice(b"\r\n\r\n");
                match MessageParser::default().parse_headers(&raw[..]) {
                    Some(parsed) => {
                        let mi = self.new_message(parent, source, path.clone());
                        self.read_headers(mi, &parsed);
                        mi
                    }
                    None => self.new_message(parent, source, path.clone()),
                }
            }
            None => self.new_message(parent, source, path.clone()),
        };
        for w in &m.warnings {
            self.warn(WarningKind::Malformed, format!("{path}: {w}"));
        }
        let sender = m.sender_email.clone().filter(|e| e.contains('@'));
        let mapi_to: Vec<Mailbox> = m
            .recipients
            .iter()
            .filter(|r| r.kind == 1)
            .map(rcpt)
            .collect();
        let mapi_cc: Vec<Mailbox> = m
            .recipients
            .iter()
            .filter(|r| r.kind == 2)
            .map(rcpt)
            .collect();
        let mapi_bcc: Vec<Mailbox> = m
            .recipients
            .iter()
            .filter(|r| r.kind == 3)
            .map(rcpt)
            .collect();
        let had_from = self
            .out
            .messages
            .get(mi)
            .is_some_and(|x| !x.from.is_empty());
        if let Some(info) = self.message_mut(mi) {
            if info.subject.is_none() {
                info.subject = m.subject.clone();
            }
            if info.message_id.is_none() {
                info.message_id = m
                    .message_id
                    .clone()
                    .map(|s| s.trim_matches(['<', '>']).to_owned());
            }
            if info.from.is_empty() {
                info.from = vec![Mailbox {
                    name: m.sender_name.clone(),
                    address: sender.clone(),
                }];
            }
            if info.to.is_empty() {
                info.to = mapi_to;
            }
            if info.cc.is_empty() {
                info.cc = mapi_cc;
            }
            if info.bcc.is_empty() {
                info.bcc = mapi_bcc;
            }
        }
        if !had_from && let Some(s) = sender {
            let id = self.add_text(
                mi,
                Location::Header {
                    name: "From".into(),
                },
                s.clone(),
                self.opts.max_header_line,
            );
            self.add_address(id, mi, &s);
            if m.transport_headers.is_none()
                && let Some(subj) = m.subject.clone()
            {
                let id = self.add_text(
                    mi,
                    Location::Header {
                        name: "Subject".into(),
                    },
                    subj,
                    self.opts.max_header_line,
                );
                self.scan_text(id, mi, Mode::Prose, &[], None);
            }
        }
        let files: Vec<String> = m
            .attachments
            .iter()
            .filter_map(|a| a.name.clone())
            .collect();
        if let Some(t) = &m.body_text {
            let id = self.add_text(
                mi,
                Location::Body {
                    part: "body".into(),
                    content_type: "text/plain".into(),
                },
                t.clone(),
                usize::MAX,
            );
            self.scan_body_text(id, mi, &files, nesting);
        }
        if let Some(h) = &m.body_html {
            let id = self.add_text(
                mi,
                Location::Body {
                    part: "html".into(),
                    content_type: "text/html".into(),
                },
                h.clone(),
                usize::MAX,
            );
            self.scan_html(id, mi, &files);
        }
        for (i, a) in m.attachments.iter().enumerate() {
            if !self.count_part() {
                break;
            }
            let apath = format!("{path}/attach{i}");
            match &a.embedded {
                Some(inner) => {
                    let name = a
                        .name
                        .clone()
                        .or_else(|| inner.subject.clone().map(|s| format!("{s}.msg")));
                    let att = self.add_attachment(
                        mi,
                        &apath,
                        name,
                        Some("application/vnd.ms-outlook".into()),
                        &a.data,
                    );
                    if nesting + 1 > self.opts.max_nesting {
                        self.warn(
                            WarningKind::NestingDepth,
                            format!("{apath}: message nested too deep; not read"),
                        );
                    } else {
                        let child = self.walk_msg(
                            inner,
                            Some(mi),
                            MessageSource::AttachedMsg,
                            format!("{apath}/msg"),
                            nesting + 1,
                        );
                        self.link_attachment(att, child);
                    }
                }
                None => self.handle_attachment(
                    mi,
                    &apath,
                    a.name.clone(),
                    a.mime.clone(),
                    &a.data,
                    &files,
                    nesting,
                ),
            }
        }
        mi
    }

    // ---- whitelisting ----

    pub(crate) fn finish(mut self) -> Extraction {
        // Context addresses: everyone on the reporter's envelope.
        for m in self
            .out
            .messages
            .iter()
            .filter(|m| m.role == MessageRole::ReporterEnvelope)
        {
            for b in m.from.iter().chain(&m.sender).chain(&m.to).chain(&m.cc) {
                if let Some(a) = &b.address {
                    self.context_addrs.insert(a.to_ascii_lowercase());
                }
            }
        }
        let roles: Vec<MessageRole> = self.out.messages.iter().map(|m| m.role).collect();
        let header_text: Vec<bool> = self
            .out
            .texts
            .iter()
            .map(|t| matches!(t.location, Location::Header { .. }))
            .collect();
        let opts = self.opts;
        for o in &mut self.out.observables {
            let prov_roles: Vec<MessageRole> = o
                .provenance
                .iter()
                .map(|p| roles.get(p.message).copied().unwrap_or(MessageRole::Single))
                .collect();
            o.role = if prov_roles.contains(&MessageRole::Reported) {
                MessageRole::Reported
            } else {
                prov_roles.first().copied().unwrap_or(MessageRole::Single)
            };
            let only_envelope_headers = o.provenance.iter().all(|p| {
                roles.get(p.message) == Some(&MessageRole::ReporterEnvelope)
                    && header_text.get(p.text).copied().unwrap_or(false)
            });
            o.whitelisted = whitelist(
                &o.indicator,
                opts,
                &self.context_addrs,
                only_envelope_headers,
            );
            if o.whitelisted.is_none()
                && o.provenance
                    .iter()
                    .all(|p| self.relay_texts.contains(&p.text))
            {
                o.whitelisted = Some(WhitelistReason::MailRelay);
            }
        }
        self.out
    }
}

/// Did this hop carry mail from one organisation to another (registered domains differ)?
fn crosses_organisations(hop: &ReceivedHop) -> bool {
    let reg = |h: Option<&str>| h.and_then(value::parse_domain).map(|d| d.registered);
    let from_reg = reg(hop.from_rdns.as_deref()).or_else(|| reg(hop.from_host.as_deref()));
    let by_reg = reg(hop.by_host.as_deref());
    from_reg.is_none() || from_reg != by_reg
}

/// A file to read: an attachment or an archive member.
struct FileRef<'a> {
    path: &'a str,
    name: Option<String>,
    mime: Option<String>,
    data: &'a [u8],
}

const HTML_EXT: &[&str] = &[".htm", ".html", ".shtml", ".xhtml", ".svg", ".hta"];
const TEXT_EXT: &[&str] = &[
    ".txt", ".url", ".js", ".vbs", ".ps1", ".bat", ".cmd", ".csv", ".lnk.txt",
];

/// Archive members whose content is read (bounded by the archive limits): links and messages
/// hide in them.
fn member_worth_reading(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".eml")
        || n.ends_with(".msg")
        || n.ends_with(".pdf")
        || HTML_EXT.iter().chain(TEXT_EXT).any(|x| n.ends_with(x))
}

/// The `/URI (…)` strings of a PDF, one per line.
fn pdf_uris(data: &[u8]) -> String {
    static URI: LazyLock<Option<regex::bytes::Regex>> =
        LazyLock::new(|| regex::bytes::Regex::new(r"/URI\s*\(([^)]{1,4096})\)").ok());
    let Some(re) = URI.as_ref() else {
        return String::new();
    };
    let mut out = String::new();
    for c in re.captures_iter(data).take(1000) {
        if let Some(m) = c.get(1) {
            out.push_str(&String::from_utf8_lossy(m.as_bytes()).replace('\\', ""));
            out.push('\n');
        }
    }
    out
}

fn empty_info(index: usize) -> MessageInfo {
    MessageInfo {
        index,
        parent: None,
        path: String::new(),
        role: MessageRole::Single,
        source: MessageSource::Eml,
        subject: None,
        from: Vec::new(),
        sender: Vec::new(),
        reply_to: Vec::new(),
        return_path: None,
        to: Vec::new(),
        cc: Vec::new(),
        bcc: Vec::new(),
        date: None,
        message_id: None,
        x_mailer: None,
        user_agent: None,
        x_originating_ip: None,
        received: Vec::new(),
        auth: AuthResults::default(),
    }
}

fn rcpt(r: &msg::MsgRecipient) -> Mailbox {
    Mailbox {
        name: r.name.clone(),
        address: r.email.clone().filter(|e| e.contains('@')),
    }
}

fn received_hop(r: &mail_parser::Received<'_>) -> ReceivedHop {
    let host = |h: &Option<Host<'_>>| match h {
        Some(Host::Name(n)) => Some(n.to_string()),
        Some(Host::IpAddr(ip)) => Some(ip.to_string()),
        None => None,
    };
    ReceivedHop {
        from_host: host(&r.from),
        from_ip: r
            .from_ip
            .map(|ip| ip.to_string())
            .or_else(|| match &r.from {
                Some(Host::IpAddr(ip)) => Some(ip.to_string()),
                _ => None,
            }),
        from_rdns: r.from_iprev.as_ref().map(|s| s.to_string()),
        by_host: host(&r.by),
        protocol: r.with.map(|w| format!("{w:?}").to_ascii_uppercase()),
        time: r.date.map(|d| d.to_rfc3339()),
    }
}

/// `Name <addr>`, `"Name" [mailto:addr]`, or a bare address, as written in a forwarded block.
fn parse_mailbox(s: &str) -> Mailbox {
    let s = s.trim();
    let addr_start = s.rfind(['<', '[']);
    let (name, addr) = match addr_start {
        Some(p) => {
            let inner = s.get(p + 1..).unwrap_or_default();
            let inner = inner.trim_end_matches(['>', ']']).trim();
            let inner = inner.strip_prefix("mailto:").unwrap_or(inner);
            (
                s.get(..p)
                    .map(|n| n.trim().trim_matches('"').trim().to_owned()),
                inner.to_owned(),
            )
        }
        None => (None, s.to_owned()),
    };
    Mailbox {
        name: name.filter(|n| !n.is_empty()),
        address: value::parse_email(&addr).map(|_| addr),
    }
}

fn parse_mailbox_list(s: &str) -> Vec<Mailbox> {
    s.split([';', ','])
        .map(parse_mailbox)
        .filter(|m| m.address.is_some() || m.name.is_some())
        .take(1000)
        .collect()
}

fn strip_mbox_from_line(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") {
        match raw.iter().position(|&b| b == b'\n') {
            Some(p) => raw.get(p + 1..).unwrap_or_default(),
            None => raw,
        }
    } else {
        raw
    }
}

fn whitelist(
    v: &IndicatorValue,
    opts: &ExtractOptions,
    context: &HashSet<String>,
    only_envelope_headers: bool,
) -> Option<WhitelistReason> {
    if v.ip_scope.is_some_and(|s| s != IpScope::Public) {
        return Some(WhitelistReason::NonPublicIp);
    }
    let host: Option<String> = match v.kind {
        ObservableKind::Domain => Some(v.value.clone()),
        ObservableKind::Email => v.value.rsplit_once('@').map(|(_, d)| d.to_owned()),
        ObservableKind::Url => value::parse_url(&v.value).map(|u| u.host.value),
        ObservableKind::Ipv4 | ObservableKind::Ipv6 => Some(v.value.clone()),
        _ => None,
    };
    if let Some(h) = &host {
        if value::host_under(h, &opts.own_domains) {
            return Some(WhitelistReason::OwnDomain);
        }
        if value::host_under(h, &opts.own_mail_hosts) {
            return Some(WhitelistReason::OwnMailHost);
        }
        if opts.whitelist_well_known
            && WELL_KNOWN
                .iter()
                .any(|w| value::host_under(h, &[(*w).to_owned()]))
        {
            return Some(WhitelistReason::WellKnown);
        }
    }
    if v.kind == ObservableKind::Email && context.contains(&v.value) {
        return Some(WhitelistReason::Reporter);
    }
    if only_envelope_headers {
        return Some(WhitelistReason::Reporter);
    }
    None
}
