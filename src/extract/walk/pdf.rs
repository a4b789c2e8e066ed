//! A PDF met during the walk (attachment or archive member): its link targets and page text
//! become texts of their own, its embedded files are hashed and read like attachments, within
//! the archive expansion budget and the nesting limit.

use super::super::model::*;
use super::super::pdf;
use super::super::scan::Mode;
use super::{Collector, FileRef};

impl Collector<'_> {
    pub(super) fn read_pdf(
        &mut self,
        mi: usize,
        path: &str,
        name: Option<String>,
        data: &[u8],
        files: &[String],
        nesting: usize,
    ) {
        // The same budget as a zip archive's members: a multiple of the file's size, capped.
        let budget =
            (data.len() as u64).saturating_mul(self.opts.max_archive_ratio).min(self.opts.max_archive_bytes);
        let c = pdf::read(data, budget);
        for w in &c.warnings {
            let kind = if c.encrypted { WarningKind::Malformed } else { WarningKind::ArchiveLimit };
            self.warn(kind, format!("{path}: {w}"));
        }
        let name = name.unwrap_or_default();
        let loc = || Location::Attachment { name: name.clone(), content_type: "application/pdf".into() };
        if !c.links.is_empty() {
            let id = self.add_text(mi, loc(), c.links.join("\n"), usize::MAX);
            self.scan_text(id, mi, Mode::Code, files, None);
        }
        if !c.text.trim().is_empty() {
            let id = self.add_text(mi, loc(), c.text, usize::MAX);
            self.scan_text(id, mi, Mode::Prose, files, None);
        }
        for (ename, bytes) in c.embedded.into_iter().take(self.opts.max_archive_members) {
            if nesting + 1 > self.opts.max_nesting {
                self.warn(
                    WarningKind::NestingDepth,
                    format!("{path}: embedded file nested too deep; not read"),
                );
                break;
            }
            let epath = format!("{path}/{ename}");
            let att = self.add_attachment(mi, &epath, Some(ename.clone()), None, &bytes);
            let f = FileRef { path: &epath, name: Some(ename), mime: None, data: &bytes };
            self.read_file(mi, Some(att), f, files, nesting + 1);
        }
    }
}
