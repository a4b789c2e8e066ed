//! The walk over one input: MIME tree, `.msg` properties, forwarded and attached messages, with
//! the §6 limits enforced as it goes. Collects attributes, attachments, texts and observables
//! into an [`Extraction`], then marks what is whitelisted.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use mail_parser::{MessageParser, MimeHeaders, PartType};

use super::ExtractOptions;

mod headers;
mod outlook;
mod pdf;
mod unwrap;
use super::active_content;
use super::archive::{self, ArchiveLimits};
use super::budget::{Budget, Spent};
use super::forward;
use super::html;
use super::model::*;
use super::msg;
use super::qr::{self, ImageLimits, QrSkip};
use super::scan::{self, Found, Mode};
use super::value::{self, IndicatorValue, IpScope, ObservableKind};
use super::{ics, sevenz, tnef};

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
    /// Images read for QR codes so far (bounded by `ImageLimits::max_images`).
    images: usize,
    image_limits: ImageLimits,
    /// What the QR reader made of each image decoded so far, by the SHA-256 of its bytes: the
    /// same image often comes more than once in one input (a `.msg`'s attachment and its copy
    /// in the body, a logo repeated in a thread) and is decoded once. Per input, so at most
    /// `ImageLimits::max_images` entries; only results that do not depend on the time left.
    qr_seen: HashMap<[u8; 32], Result<Vec<String>, QrSkip>>,
    /// Redirect wrappers seen (canonical URL), their kind and decoded targets (`walk/unwrap`).
    wrappers: HashMap<String, unwrap::WrapperSeen>,
    /// Unwrapping rounds in progress (nested wrappers), bounded.
    unwrap_depth: usize,
    /// The input's one budget of decoded bytes, kept text and time (`budget.rs`).
    budget: Budget,
}

fn mailbox_list(v: Option<&mail_parser::Address<'_>>) -> Vec<Mailbox> {
    v.map(|a| {
        a.iter()
            .take(1000)
            .map(|x| Mailbox { name: x.name().map(str::to_owned), address: x.address().map(str::to_owned) })
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
                decoded_bytes: 0,
                images_read: 0,
            },
            index: HashMap::new(),
            parts: 0,
            parts_warned: false,
            obs_warned: false,
            context_addrs: HashSet::new(),
            relay_texts: HashSet::new(),
            images: 0,
            image_limits: ImageLimits::default(),
            qr_seen: HashMap::new(),
            wrappers: HashMap::new(),
            unwrap_depth: 0,
            budget: Budget::new(
                opts.max_decoded_bytes,
                opts.max_text_bytes,
                std::time::Duration::from_millis(opts.max_millis),
            ),
        }
    }

    /// The limits of a `.msg` file met `nesting` levels down: what is left of the input's
    /// nesting, parts and decoding budget.
    pub(crate) fn msg_limits(&self, nesting: usize) -> msg::MsgLimits {
        msg::MsgLimits {
            max_depth: self.opts.max_nesting.saturating_sub(nesting),
            max_stream: self.opts.max_message_bytes as u64,
            max_total: self.budget.decoded_left(),
            max_attachments: self.opts.max_parts.saturating_sub(self.parts),
            max_time: self.budget.time_left(),
        }
    }

    /// Charges what a `.msg` reader read to the input's budget.
    pub(crate) fn charge_msg(&mut self, m: &msg::MsgMessage, path: &str) {
        self.budget.spend(m.decoded);
        if m.total_spent {
            let what = if self.budget.expired() { Spent::Time } else { Spent::Decoded };
            self.spent(what, path);
        }
    }

    /// Records that `what` of the budget ran out at `place` (once per kind).
    fn spent(&mut self, what: Spent, place: &str) {
        if let Some((kind, detail)) = self.budget.exhausted(what, place) {
            self.warn(kind, detail);
        }
    }

    /// Charges `n` decoded bytes for `place`; `false` (and the warning) when they do not fit
    /// or the time is up: the caller does not read that branch.
    fn take(&mut self, n: usize, place: &str) -> bool {
        if self.budget.take(n as u64) {
            return true;
        }
        let what = if self.budget.expired() { Spent::Time } else { Spent::Decoded };
        self.spent(what, place);
        false
    }

    /// `false` (and the warning) once the input's time is up.
    fn in_time(&mut self, place: &str) -> bool {
        if self.budget.expired() {
            self.spent(Spent::Time, place);
            return false;
        }
        true
    }

    /// Bytes the archive and PDF readers may still decode: their own cap or what is left of
    /// the input's budget, whichever is less, and whether the budget is the smaller.
    fn decode_cap(&self, own: u64) -> (u64, bool) {
        let left = self.budget.decoded_left();
        (own.min(left), left < own)
    }

    pub(crate) fn warn(&mut self, kind: WarningKind, detail: impl Into<String>) {
        if self.out.warnings.len() < 1000 {
            self.out.warnings.push(Warning { kind, detail: detail.into() });
        }
    }

    fn new_message(&mut self, parent: Option<usize>, source: MessageSource, path: String) -> usize {
        let index = self.out.messages.len();
        let role = match parent {
            Some(p) if source == MessageSource::SignedContent => {
                self.out.messages.get(p).map_or(MessageRole::Single, |m| m.role)
            }
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

    fn add_text(&mut self, message: usize, location: Location, mut text: String, limit: usize) -> usize {
        if text.len() > limit {
            let mut cut = limit;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            self.warn(WarningKind::HeaderTooLong, format!("{location:?} cut to {limit} bytes"));
        }
        let kept = self.budget.keep_text(text.len());
        if kept < text.len() {
            let mut cut = kept;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            self.spent(Spent::Text, &format!("{location:?}"));
        }
        self.out.texts.push(PartText { message, location, text });
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
            unwraps_to: Vec::new(),
        });
    }

    fn add_found(&mut self, text: usize, message: usize, f: Found) {
        let prov = Provenance { text, message, start: f.start, end: f.end, defanged: f.defanged };
        let url = (f.value.kind == ObservableKind::Url).then(|| f.value.value.clone());
        self.add(f.value, prov);
        if let Some(url) = url {
            self.unwrap_url(text, message, &url, (f.start, f.end));
        }
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
        self.scan_text_split(id, mi, mode, files, split.as_slice());
    }

    /// Scans a stored text; spans from each `splits[k].0` on belong to message `splits[k].1`
    /// (in order of position: the last split before a span wins).
    fn scan_text_split(
        &mut self,
        id: usize,
        mi: usize,
        mode: Mode,
        files: &[String],
        splits: &[(usize, usize)],
    ) {
        let (mut found, cut) = scan::scan(self.text_of(id), mode, files, MAX_FOUND_PER_TEXT);
        if mode.is_text() {
            super::wrapped::join(self.text_of(id), &mut found);
        }
        if cut {
            self.warn(
                WarningKind::ObservableLimit,
                format!("text {id}: more than {MAX_FOUND_PER_TEXT} values; rest not scanned"),
            );
        }
        for f in found {
            let m = owner(splits, f.start, mi);
            self.add_found(id, m, f);
        }
    }

    /// Messages for the inline forwards of a text, each the child of the one before (a forward
    /// of a forward), within the nesting limit: `(where it starts, message)`.
    fn inline_forwards(
        &mut self,
        text: &str,
        to_src: &dyn Fn(usize) -> usize,
        mi: usize,
        nesting: usize,
    ) -> Vec<(usize, usize)> {
        let room = self.opts.max_nesting.saturating_sub(nesting);
        let blocks = forward::find_all(text, room.min(8));
        let mut out = Vec::new();
        let mut parent = mi;
        for fw in blocks {
            let path = format!("{}/inline", self.out.messages.get(parent).map_or("", |m| m.path.as_str()));
            let child = self.new_message(Some(parent), MessageSource::InlineForward, path);
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
            out.push((to_src(fw.start), child));
            parent = child;
        }
        out
    }

    /// Scans a plain-text body, splitting off each inline forward into its own message.
    fn scan_body_text(&mut self, id: usize, mi: usize, files: &[String], nesting: usize) {
        // The text is lent out while the forwards' messages are added (no copy of the body).
        let text = self.out.texts.get_mut(id).map(|t| std::mem::take(&mut t.text)).unwrap_or_default();
        let splits = self.inline_forwards(&text, &|p| p, mi, nesting);
        if let Some(t) = self.out.texts.get_mut(id) {
            t.text = text;
        }
        self.scan_text_split(id, mi, Mode::Prose, files, &splits);
    }

    fn scan_html(&mut self, id: usize, mi: usize, files: &[String]) {
        self.scan_html_at(id, mi, files, 0);
    }

    /// `depth` counts script-decoding rounds (`document.write(unescape(..))` inside another).
    fn scan_html_at(&mut self, id: usize, mi: usize, files: &[String], depth: usize) {
        if !self.in_time(&format!("text {id}")) {
            return;
        }
        let r = html::render(self.text_of(id));
        let mut results: Vec<Found> = Vec::new();
        for (mapped, mode) in [(&r.visible, Mode::Prose), (&r.code, Mode::Code)] {
            let (found, cut) = scan::scan(&mapped.text, mode, files, MAX_FOUND_PER_TEXT);
            if cut {
                self.warn(
                    WarningKind::ObservableLimit,
                    format!("text {id}: more than {MAX_FOUND_PER_TEXT} values; rest not scanned"),
                );
            }
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
        // Inline forwards in an HTML body: split on the rendered text's markers.
        let splits = self.inline_forwards(&r.visible.text, &|p| r.visible.to_src(p, p).0, mi, 0);
        for f in results {
            let m = owner(&splits, f.start, mi);
            self.add_found(id, m, f);
        }
        // `<img src="data:image/png;base64,…">`: a QR code drawn inline.
        for (n, (ct, bytes)) in data_url_images(self.text_of(id)).into_iter().enumerate() {
            let label = format!("data: URL {} in text {id}", n + 1);
            if !self.take(bytes.len(), &label) {
                break;
            }
            self.read_image(mi, &label, &ct, &bytes, files, None);
        }
        // HTML attachments hide their page in `unescape("%3C..")` / `atob("PGh0..")`: decode
        // the literal into a text of its own and read it as HTML.
        if depth < 2 {
            let mut decoded: Vec<(usize, usize, html::DecodedLiteral)> = Vec::new();
            let calls = html::decode_script_literals(&r.code.text);
            let spans: Vec<(usize, usize)> = calls.iter().map(|d| (d.start, d.end)).collect();
            // Base64 blobs and `data:` URLs in scripts (SVG and HTML attachments hide pages so).
            let code =
                calls.into_iter().take(16).chain(active_content::base64_literals(&r.code.text, &spans));
            for d in code.chain(active_content::data_urls(&r.code.text)) {
                let (s, e) = r.code.to_src(d.start, d.end);
                decoded.push((s, e, d));
            }
            for a in r.attrs.iter().filter(|a| {
                a.value.len() > 5 && a.value.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("data:"))
            }) {
                for d in active_content::data_urls(&a.value) {
                    decoded.push((a.start, a.end, d));
                }
            }
            for (s, e, d) in decoded.into_iter().take(32) {
                let loc = Location::Decoded { text: id, start: s, end: e, how: d.how.into() };
                let nid = self.add_text(mi, loc, d.text, usize::MAX);
                self.scan_html_at(nid, mi, files, depth + 1);
            }
        }
    }

    fn count_part(&mut self) -> bool {
        if !self.in_time("parts") {
            return false;
        }
        self.parts += 1;
        if self.parts > self.opts.max_parts {
            if !self.parts_warned {
                self.parts_warned = true;
                let n = self.opts.max_parts;
                self.warn(WarningKind::TooManyParts, format!("more than {n} MIME parts; the rest skipped"));
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
        match parse_mime(raw) {
            Ok(Some(m)) => Some(self.walk_eml(&m, parent, source, path, nesting)),
            Err(()) => {
                self.warn(
                    WarningKind::Malformed,
                    format!("{path}: MIME parser failed on this message; read as text"),
                );
                Some(self.walk_pasted_text(raw, parent, path))
            }
            Ok(None) => {
                self.warn(WarningKind::Malformed, format!("{path}: no message headers; read as text"));
                Some(self.walk_pasted_text(raw, parent, path))
            }
        }
    }

    /// Text with no header block: scanned as a body.
    pub(crate) fn walk_pasted_text(&mut self, raw: &[u8], parent: Option<usize>, path: String) -> usize {
        let mi = self.new_message(parent, MessageSource::Pasted, path);
        let text = String::from_utf8_lossy(raw).into_owned();
        let is_html =
            text.get(..text.len().min(2048)).is_some_and(|h| h.to_ascii_lowercase().contains("<html"));
        let ct = if is_html { "text/html" } else { "text/plain" };
        let id =
            self.add_text(mi, Location::Body { part: "1".into(), content_type: ct.into() }, text, usize::MAX);
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
        let files: Vec<String> =
            m.parts.iter().filter_map(|p| p.attachment_name().map(str::to_owned)).take(1000).collect();
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
                    format!("{path}: part {id} deeper than {} levels; skipped", self.opts.max_mime_depth),
                );
                continue;
            }
            let ppath = format!("{path}/part{id}");
            // A leaf's decoded content counts against the input's budget (containers are
            // counted through their leaves).
            match &part.body {
                PartType::Multipart(children) => {
                    for c in children.iter().rev() {
                        stack.push((*c, depth + 1));
                    }
                }
                PartType::Message(_) => self.read_part(mi, id, part, &ppath, &files, nesting),
                _ if self.take(part.contents().len(), &ppath) => {
                    self.read_part(mi, id, part, &ppath, &files, nesting);
                }
                _ => break,
            }
        }
        mi
    }

    /// One part of a MIME tree other than a multipart: a body text, an attached message
    /// (walked, within the nesting limit) or an attachment.
    fn read_part(
        &mut self,
        mi: usize,
        id: u32,
        part: &mail_parser::MessagePart<'_>,
        ppath: &str,
        files: &[String],
        nesting: usize,
    ) {
        let name = part.attachment_name().map(str::to_owned);
        let ct = part
            .content_type()
            .map(|c| format!("{}/{}", c.c_type, c.c_subtype.as_deref().unwrap_or("")).to_ascii_lowercase())
            .unwrap_or_else(|| "text/plain".into());
        let is_attachment = name.is_some()
            || part.content_disposition().is_some_and(|d| d.c_type.eq_ignore_ascii_case("attachment"));
        match &part.body {
            // Its children are walked by `walk_eml`.
            PartType::Multipart(_) => {}
            PartType::Text(t) if ics::is_calendar(&ct, name.as_deref().unwrap_or_default()) => {
                // An invitation, inline or attached: hashed when attached, and unfolded.
                if is_attachment {
                    self.add_attachment(mi, ppath, name.clone(), Some(ct.clone()), part.contents());
                }
                let loc = Location::Body { part: id.to_string(), content_type: ct };
                let id = self.add_text(mi, loc, ics::unfold(t), usize::MAX);
                self.scan_text(id, mi, Mode::Prose, files, None);
            }
            PartType::Text(t) if !is_attachment => {
                let id = self.add_text(
                    mi,
                    Location::Body { part: id.to_string(), content_type: ct },
                    t.to_string(),
                    usize::MAX,
                );
                self.scan_body_text(id, mi, files, nesting);
            }
            PartType::Html(h) if !is_attachment => {
                let id = self.add_text(
                    mi,
                    Location::Body { part: id.to_string(), content_type: ct },
                    h.to_string(),
                    usize::MAX,
                );
                self.scan_html(id, mi, files);
            }
            PartType::Message(inner) => {
                let att = self.add_attachment(
                    mi,
                    ppath,
                    name.or_else(|| Some("message.eml".into())),
                    Some(ct),
                    inner.raw_message(),
                );
                if nesting + 1 > self.opts.max_nesting {
                    self.warn(
                        WarningKind::NestingDepth,
                        format!("{ppath}: message nested deeper than {}; not read", self.opts.max_nesting),
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
            PartType::Text(_) | PartType::Html(_) | PartType::Binary(_) | PartType::InlineBinary(_) => {
                self.handle_attachment(mi, ppath, name, Some(ct), part.contents(), files, nesting);
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

    #[expect(clippy::too_many_arguments, reason = "one attachment's context; a struct would only rename it")]
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
        let file = FileRef { path, name, mime, data };
        self.read_file(mi, Some(att), file, files, nesting);
    }

    /// Reads what a file holds: archive members, a message, HTML, text or PDF links.
    /// `att` is the attachment record (archive members have none of their own).
    fn read_file(&mut self, mi: usize, att: Option<usize>, f: FileRef<'_>, files: &[String], nesting: usize) {
        let FileRef { path, name, mime, data } = f;
        if !self.in_time(path) {
            return;
        }
        let lname = lower_name(&name);
        let mime_l = mime.unwrap_or_default();
        let link = |this: &mut Self, child: usize| {
            if let Some(a) = att {
                this.link_attachment(a, child);
            }
        };
        let is_7z = data.starts_with(sevenz::MAGIC);
        if data.starts_with(b"PK\x03\x04") || is_7z {
            // An archive inside an archive is listed by name only.
            if let Some(att) = att {
                self.read_archive(mi, att, path, data, files, nesting);
            }
        } else if data.starts_with(tnef::MAGIC) {
            self.read_tnef(mi, path, data, files, nesting);
        } else if data.starts_with(msg::CFB_MAGIC) {
            if let Some(child) = self.read_attached_msg(mi, path, data, nesting) {
                link(self, child);
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
                self.warn(WarningKind::NestingDepth, format!("{path}: message nested too deep; not read"));
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
            let loc = Location::Attachment { name: name.unwrap_or_default(), content_type: mime_l };
            let id = self.add_text(mi, loc, text, usize::MAX);
            self.scan_html(id, mi, files);
        } else if ics::is_calendar(&mime_l, &lname) {
            let text = ics::unfold(&String::from_utf8_lossy(data));
            let loc = Location::Attachment { name: name.unwrap_or_default(), content_type: mime_l };
            let id = self.add_text(mi, loc, text, usize::MAX);
            self.scan_text(id, mi, Mode::Prose, files, None);
        } else if mime_l.starts_with("text/") || TEXT_EXT.iter().any(|x| lname.ends_with(x)) {
            let text = String::from_utf8_lossy(data).into_owned();
            let mode =
                if lname.ends_with(".txt") || mime_l == "text/plain" { Mode::Prose } else { Mode::Code };
            let loc = Location::Attachment { name: name.unwrap_or_default(), content_type: mime_l };
            let id = self.add_text(mi, loc, text, usize::MAX);
            self.scan_text(id, mi, mode, files, None);
        } else if qr::image_format(data).is_some() {
            // An attachment's SHA-256 is already known: not computed twice.
            let known = att
                .and_then(|a| self.out.attachments.get(a))
                .and_then(|a| <[u8; 32]>::try_from(hex::decode(&a.hashes.sha256).ok()?).ok());
            self.read_image(mi, name.as_deref().unwrap_or(path), &mime_l, data, files, known);
        } else if super::pdf::is_pdf(data) {
            self.read_pdf(mi, path, name, data, files, nesting);
        }
    }

    /// A zip or 7z attachment (`att`): its members listed on it, and those worth reading read.
    fn read_archive(
        &mut self,
        mi: usize,
        att: usize,
        path: &str,
        data: &[u8],
        files: &[String],
        nesting: usize,
    ) {
        let (max_bytes, budget_binds) = self.decode_cap(self.opts.max_archive_bytes);
        let lim = ArchiveLimits {
            max_members: self.opts.max_archive_members,
            max_ratio: self.opts.max_archive_ratio,
            max_bytes,
        };
        let listing = if data.starts_with(sevenz::MAGIC) {
            sevenz::members(data, &lim, &member_worth_reading)
        } else {
            archive::zip_members(data, &lim, &member_worth_reading)
        };
        self.budget.spend(listing.decoded);
        for w in listing.warnings {
            self.warn(WarningKind::ArchiveLimit, format!("{path}: {w}"));
        }
        if listing.capped && budget_binds {
            self.spent(Spent::Decoded, path);
        }
        if let Some(a) = self.out.attachments.get_mut(att) {
            a.members = listing.members;
        }
        for (mname, bytes) in listing.contents {
            let mpath = format!("{path}/{mname}");
            let f = FileRef { path: &mpath, name: Some(mname.clone()), mime: None, data: &bytes };
            self.read_file(mi, None, f, files, nesting);
        }
    }

    /// An attached Outlook `.msg`, walked as a message of its own (within the nesting limit).
    fn read_attached_msg(&mut self, mi: usize, path: &str, data: &[u8], nesting: usize) -> Option<usize> {
        if nesting + 1 > self.opts.max_nesting {
            self.warn(WarningKind::NestingDepth, format!("{path}: .msg nested too deep; not read"));
            return None;
        }
        match msg::parse(data, &self.msg_limits(nesting + 1)) {
            Ok(m) => {
                self.charge_msg(&m, path);
                Some(self.walk_msg(
                    &m,
                    Some(mi),
                    MessageSource::AttachedMsg,
                    format!("{path}/msg"),
                    nesting + 1,
                ))
            }
            Err(e) => {
                self.warn(WarningKind::Malformed, format!("{path}: {e}"));
                None
            }
        }
    }

    /// A `winmail.dat`: its body is scanned as the attachment's text, its attachments are
    /// hashed and read like the message's own (one nesting level deeper: TNEF can hold TNEF).
    fn read_tnef(&mut self, mi: usize, path: &str, data: &[u8], files: &[String], nesting: usize) {
        if nesting + 1 > self.opts.max_nesting {
            self.warn(WarningKind::NestingDepth, format!("{path}: TNEF nested too deep; not read"));
            return;
        }
        let max_out = (self.opts.max_message_bytes as u64).min(self.budget.decoded_left());
        let t = tnef::parse(data, usize::try_from(max_out).unwrap_or(usize::MAX));
        for w in t.warnings {
            self.warn(WarningKind::Malformed, format!("{path}: {w}"));
        }
        let ct = "application/ms-tnef";
        if let Some(h) = t.body_html {
            let loc = Location::Attachment { name: format!("{path} (body)"), content_type: ct.into() };
            let id = self.add_text(mi, loc, h, usize::MAX);
            self.scan_html(id, mi, files);
        }
        if let Some(b) = t.body_text.filter(|b| !b.trim().is_empty()) {
            let loc = Location::Attachment { name: format!("{path} (body)"), content_type: ct.into() };
            let id = self.add_text(mi, loc, b, usize::MAX);
            self.scan_text(id, mi, Mode::Prose, files, None);
        }
        for (i, a) in t.attachments.into_iter().enumerate() {
            if !self.count_part() {
                break;
            }
            let apath = format!("{path}/tnef{i}");
            if !self.take(a.data.len(), &apath) {
                break;
            }
            self.handle_attachment(mi, &apath, a.name, a.mime, &a.data, files, nesting + 1);
        }
    }

    /// Reads the QR codes of one image into a text of their own (`Location::QrCode`), scanned
    /// like prose: a QR code holds a URL, a bare host or a little text around them.
    /// `sha256`: the bytes' SHA-256 when the caller has it already.
    fn read_image(
        &mut self,
        mi: usize,
        label: &str,
        mime: &str,
        data: &[u8],
        files: &[String],
        sha256: Option<[u8; 32]>,
    ) {
        use sha2::Digest as _;
        let key: [u8; 32] = sha256.unwrap_or_else(|| sha2::Sha256::digest(data).into());
        let seen = self.qr_seen.get(&key).cloned();
        let mut decoded = None;
        self.read_qr(mi, label, mime, files, |lim| {
            seen.unwrap_or_else(|| {
                let r = qr::decode_image_bytes(data, lim);
                decoded = Some(r.clone());
                r
            })
        });
        // A limit (time, size) is not remembered: the next copy may have more time left.
        if let Some(r @ (Ok(_) | Err(QrSkip::Unreadable(_)))) = decoded {
            self.qr_seen.insert(key, r);
        }
    }

    /// The QR codes `decode` finds (in image bytes, or a PDF's raw pixels), within the
    /// per-input image count.
    pub(super) fn read_qr(
        &mut self,
        mi: usize,
        label: &str,
        mime: &str,
        files: &[String],
        decode: impl FnOnce(&ImageLimits) -> Result<Vec<String>, QrSkip>,
    ) {
        if self.images >= self.image_limits.max_images {
            if self.images == self.image_limits.max_images {
                let n = self.image_limits.max_images;
                self.warn(
                    WarningKind::ImageLimit,
                    format!("more than {n} images; the rest not read for QR codes"),
                );
            }
            self.images = self.images.saturating_add(1);
            return;
        }
        self.images += 1;
        if !self.in_time(label) {
            return;
        }
        // An image gets its own time allowance or what is left of the input's, if less.
        let lim = ImageLimits {
            budget: self.image_limits.budget.min(self.budget.time_left()),
            ..self.image_limits.clone()
        };
        match decode(&lim) {
            Ok(values) if !values.is_empty() => {
                let loc = Location::QrCode { image: label.to_owned(), content_type: mime.to_owned() };
                let id = self.add_text(mi, loc, values.join("\n"), usize::MAX);
                self.scan_text(id, mi, Mode::Prose, files, None);
            }
            Ok(_) | Err(QrSkip::Unreadable(_)) => {}
            Err(QrSkip::Limit(why)) => self.warn(WarningKind::ImageLimit, format!("{label}: {why}")),
        }
    }

    // ---- whitelisting ----

    pub(crate) fn finish(mut self) -> Extraction {
        // Context addresses: everyone on the reporter's envelope.
        for m in self.out.messages.iter().filter(|m| m.role == MessageRole::ReporterEnvelope) {
            for b in m.from.iter().chain(&m.sender).chain(&m.to).chain(&m.cc) {
                if let Some(a) = &b.address {
                    self.context_addrs.insert(a.to_ascii_lowercase());
                }
            }
        }
        let roles: Vec<MessageRole> = self.out.messages.iter().map(|m| m.role).collect();
        let header_text: Vec<bool> =
            self.out.texts.iter().map(|t| matches!(t.location, Location::Header { .. })).collect();
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
            o.whitelisted = whitelist(&o.indicator, opts, &self.context_addrs, only_envelope_headers);
            if o.whitelisted.is_none() && o.provenance.iter().all(|p| self.relay_texts.contains(&p.text)) {
                o.whitelisted = Some(WhitelistReason::MailRelay);
            }
        }
        unwrap::mark_wrappers(&mut self.out.observables, &self.wrappers);
        self.out.decoded_bytes = self.budget.decoded_used;
        self.out.images_read = self.images.min(self.image_limits.max_images);
        self.out
    }
}

/// `mail-parser` promises never to panic but does on some damaged multiparts (found by our
/// fuzzing: "Invalid part ID, could not find multipart"). Contain it here, so the message is still
/// read as text instead of the whole input being lost.
pub(super) fn parse_mime(raw: &[u8]) -> Result<Option<mail_parser::Message<'_>>, ()> {
    std::panic::catch_unwind(|| MessageParser::default().parse(raw)).map_err(|_| ())
}

/// `parse_mime` for a header block only.
pub(super) fn parse_mime_headers(raw: &[u8]) -> Result<Option<mail_parser::Message<'_>>, ()> {
    std::panic::catch_unwind(|| MessageParser::default().parse_headers(raw)).map_err(|_| ())
}

/// The message a span starting at `at` belongs to: the last split at or before it.
fn owner(splits: &[(usize, usize)], at: usize, default: usize) -> usize {
    splits.iter().rev().find(|(s, _)| at >= *s).map_or(default, |&(_, m)| m)
}

/// A file to read: an attachment or an archive member.
struct FileRef<'a> {
    path: &'a str,
    name: Option<String>,
    mime: Option<String>,
    data: &'a [u8],
}

const IMAGE_EXT: &[&str] = &[".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"];
const HTML_EXT: &[&str] = &[".htm", ".html", ".shtml", ".xhtml", ".svg", ".hta"];
const TEXT_EXT: &[&str] = &[".txt", ".url", ".js", ".vbs", ".ps1", ".bat", ".cmd", ".csv", ".lnk.txt"];

/// Archive members whose content is read (bounded by the archive limits): links and messages
/// hide in them.
fn member_worth_reading(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".eml")
        || n.ends_with(".msg")
        || n.ends_with(".pdf")
        || n.ends_with("winmail.dat")
        || n.ends_with(".ics")
        || IMAGE_EXT.iter().any(|x| n.ends_with(x))
        || HTML_EXT.iter().chain(TEXT_EXT).any(|x| n.ends_with(x))
}

/// Images in `data:image/…;base64,` URLs of an HTML text (at most 16, each at most 10 MB of
/// base64), decoded: content type and bytes.
fn data_url_images(html: &str) -> Vec<(String, Vec<u8>)> {
    use base64::Engine as _;
    // No capture groups: the lazy DFA finds each URL, and its two parts are split off by hand.
    // Captures over a long base64 payload ran in the PikeVM (the backtracker's limit is a few
    // kilobytes for this pattern): 6 % of the corpus's extraction time.
    static DATA: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
        regex::Regex::new(
            r"(?i)data:image/(?:png|jpeg|jpg|gif|bmp|webp)\s*;\s*base64\s*,[A-Za-z0-9+/=\s]{40,}",
        )
        .ok()
    });
    let Some(re) = DATA.as_ref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in re.find_iter(html).take(16) {
        // `data:` TYPE (up to a space or `;`) ... `,` PAYLOAD (the first comma: none before it).
        let url = m.as_str();
        let head = url.get(5..).unwrap_or_default();
        let ct = head.split(|c: char| c == ';' || c.is_whitespace()).next().unwrap_or_default();
        let Some((_, b)) = url.split_once(',') else {
            continue;
        };
        if b.len() > 14 * 1024 * 1024 {
            continue;
        }
        let clean: Vec<u8> = b.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
                .with_decode_allow_trailing_bits(true),
        );
        if let Ok(bytes) = engine.decode(&clean) {
            out.push((ct.to_ascii_lowercase(), bytes));
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

/// `Name <addr>`, `"Name" [mailto:addr]`, or a bare address, as written in a forwarded block.
fn parse_mailbox(s: &str) -> Mailbox {
    let s = s.trim();
    let addr_start = s.rfind(['<', '[']);
    let (name, addr) = match addr_start {
        Some(p) => {
            let inner = s.get(p + 1..).unwrap_or_default();
            let inner = inner.trim_end_matches(['>', ']']).trim();
            let inner = inner.strip_prefix("mailto:").unwrap_or(inner);
            (s.get(..p).map(|n| n.trim().trim_matches('"').trim().to_owned()), inner.to_owned())
        }
        None => (None, s.to_owned()),
    };
    Mailbox { name: name.filter(|n| !n.is_empty()), address: value::parse_email(&addr).map(|_| addr) }
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
        if opts.whitelist_well_known && WELL_KNOWN.iter().any(|w| value::host_under(h, &[(*w).to_owned()])) {
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
