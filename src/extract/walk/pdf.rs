//! A PDF met during the walk (attachment or archive member): its link targets and page text
//! become texts of their own, its embedded files are hashed and read like attachments, within
//! the archive expansion budget and the nesting limit.

use super::super::model::*;
use super::super::scan::Mode;
use super::super::{pdf, qr};
use super::{Collector, FileRef, Spent};

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
        // The same budget as a zip archive's members: a multiple of the file's size, capped,
        // and never more than what is left of the input's.
        let own =
            (data.len() as u64).saturating_mul(self.opts.max_archive_ratio).min(self.opts.max_archive_bytes);
        let (budget, budget_binds) = self.decode_cap(own);
        let c = pdf::read(data, budget);
        self.budget.spend(c.decoded);
        if c.over_budget && budget_binds {
            self.spent(Spent::Decoded, path);
        }
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
            // Page text: links, addresses, IPs, hashes, but no bare domains (`Mode::PageText`).
            let id = self.add_text(mi, loc(), c.text, usize::MAX);
            self.scan_text(id, mi, Mode::PageText, files, None);
        }
        // QR codes in the page images ("scan to sign"): JPEG streams as they are, 8-bit
        // grey or RGB pixels after their filters; other encodings are not decoded.
        for (n, img) in c.images.iter().enumerate() {
            let label = format!("{} image {}", if name.is_empty() { path } else { &name }, n + 1);
            match (img.filter.as_deref(), img.width, img.height, img.bits_per_component) {
                (Some("DCTDecode"), ..) => {
                    self.read_qr(mi, &label, "image/jpeg", files, |lim| {
                        qr::decode_image_bytes(&img.data, lim)
                    });
                }
                (Some("FlateDecode") | None, Some(w), Some(h), Some(8)) => {
                    let layout = match img.color_space.as_deref() {
                        Some("DeviceGray" | "CalGray") => qr::Pixels::Luma8,
                        Some("DeviceRGB" | "CalRGB") => qr::Pixels::Rgb8,
                        _ => continue,
                    };
                    self.read_qr(mi, &label, "image/x-pdf-pixels", files, |lim| {
                        qr::decode_raw_pixels(w, h, layout, &img.data, lim)
                    });
                }
                _ => {}
            }
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
