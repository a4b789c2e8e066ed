//! Outlook messages: attributes from transport headers and MAPI properties, bodies, recipients,
//! attachments and embedded messages.

use super::super::model::*;
use super::super::msg::{self, MsgMessage};
use super::super::scan::Mode;
use super::Collector;

impl Collector<'_> {
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
                match super::parse_mime_headers(&raw[..]).ok().flatten() {
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
        for w in &m.limits {
            self.warn(WarningKind::TooManyParts, format!("{path}: {w}"));
        }
        self.msg_envelope(mi, m);
        let files: Vec<String> = m.attachments.iter().filter_map(|a| a.name.clone()).collect();
        self.msg_bodies(mi, m, &files, nesting);
        self.msg_attachments(mi, m, &path, &files, nesting);
        mi
    }

    /// The MAPI sender and recipients, where the transport headers did not give them.
    fn msg_envelope(&mut self, mi: usize, m: &MsgMessage) {
        let sender = m.sender_email.clone().filter(|e| e.contains('@'));
        let mapi_to: Vec<Mailbox> = m.recipients.iter().filter(|r| r.kind == 1).map(rcpt).collect();
        let mapi_cc: Vec<Mailbox> = m.recipients.iter().filter(|r| r.kind == 2).map(rcpt).collect();
        let mapi_bcc: Vec<Mailbox> = m.recipients.iter().filter(|r| r.kind == 3).map(rcpt).collect();
        let had_from = self.out.messages.get(mi).is_some_and(|x| !x.from.is_empty());
        if let Some(info) = self.message_mut(mi) {
            if info.subject.is_none() {
                info.subject = m.subject.clone();
            }
            if info.message_id.is_none() {
                info.message_id = m.message_id.clone().map(|s| s.trim_matches(['<', '>']).to_owned());
            }
            if info.from.is_empty() {
                info.from = vec![Mailbox { name: m.sender_name.clone(), address: sender.clone() }];
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
                Location::Header { name: "From".into() },
                s.clone(),
                self.opts.max_header_line,
            );
            self.add_address(id, mi, &s);
            if m.transport_headers.is_none()
                && let Some(subj) = m.subject.clone()
            {
                let id = self.add_text(
                    mi,
                    Location::Header { name: "Subject".into() },
                    subj,
                    self.opts.max_header_line,
                );
                self.scan_text(id, mi, Mode::Prose, &[], None);
            }
        }
    }

    fn msg_bodies(&mut self, mi: usize, m: &MsgMessage, files: &[String], nesting: usize) {
        if let Some(t) = &m.body_text {
            let id = self.add_text(
                mi,
                Location::Body { part: "body".into(), content_type: "text/plain".into() },
                t.clone(),
                usize::MAX,
            );
            self.scan_body_text(id, mi, files, nesting);
        }
        if let Some(h) = &m.body_html {
            let id = self.add_text(
                mi,
                Location::Body { part: "html".into(), content_type: "text/html".into() },
                h.clone(),
                usize::MAX,
            );
            self.scan_html(id, mi, files);
        }
    }

    /// Attachments: embedded messages walked (within the nesting limit), files handled as in MIME.
    fn msg_attachments(&mut self, mi: usize, m: &MsgMessage, path: &str, files: &[String], nesting: usize) {
        for (i, a) in m.attachments.iter().enumerate() {
            if !self.count_part() {
                break;
            }
            let apath = format!("{path}/attach{i}");
            match &a.embedded {
                Some(inner) => {
                    let name = a.name.clone().or_else(|| inner.subject.clone().map(|s| format!("{s}.msg")));
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
                    files,
                    nesting,
                ),
            }
        }
    }
}

fn rcpt(r: &msg::MsgRecipient) -> Mailbox {
    Mailbox { name: r.name.clone(), address: r.email.clone().filter(|e| e.contains('@')) }
}
