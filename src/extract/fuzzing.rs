//! Entry points for the mutation fuzzer (`benches/fuzz.rs`, `scripts/fuzz`) and the replay of
//! what it found (`tests/api/fuzz_regressions.rs`): one function per parser, each taking
//! arbitrary bytes straight to that parser with the default limits, so a mutation reaches the
//! format's own code instead of being refused by the detection in front of it.

use super::archive::{self, ArchiveLimits};
use super::{ExtractOptions, html, msg, pdf, qr, rtf, sevenz, tnef};

/// A parser under fuzzing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The whole `extract` on an `.eml` (MIME, headers, bodies, attachments, scanners).
    Eml,
    /// The whole `extract` on an mbox.
    Mbox,
    /// The `.msg` reader (compound file, MAPI properties, embedded messages).
    Msg,
    Zip,
    SevenZ,
    Tnef,
    /// RTF to HTML/text conversion.
    Rtf,
    /// HTML rendering and the script-literal decoders.
    Html,
    /// Compressed streams: Outlook's LZFu (compressed RTF).
    Compressed,
    Pdf,
    /// Images read for QR codes.
    Qr,
}

impl Target {
    pub const ALL: [Target; 11] = [
        Target::Eml,
        Target::Mbox,
        Target::Msg,
        Target::Zip,
        Target::SevenZ,
        Target::Tnef,
        Target::Rtf,
        Target::Html,
        Target::Compressed,
        Target::Pdf,
        Target::Qr,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Eml => "eml",
            Target::Mbox => "mbox",
            Target::Msg => "msg",
            Target::Zip => "zip",
            Target::SevenZ => "7z",
            Target::Tnef => "tnef",
            Target::Rtf => "rtf",
            Target::Html => "html",
            Target::Compressed => "compressed",
            Target::Pdf => "pdf",
            Target::Qr => "qr",
        }
    }

    pub fn parse(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether `data` is a seed for this target (by magic bytes and shape).
    pub fn accepts_seed(self, data: &[u8]) -> bool {
        match self {
            Target::Eml => super::detect_input(data) == super::InputKind::Eml,
            Target::Mbox => data.starts_with(b"From "),
            Target::Msg => data.starts_with(msg::CFB_MAGIC),
            Target::Zip => data.starts_with(b"PK\x03\x04"),
            Target::SevenZ => data.starts_with(sevenz::MAGIC),
            Target::Tnef => data.starts_with(tnef::MAGIC),
            Target::Rtf => data.starts_with(b"{\\rtf"),
            Target::Html => {
                let head = String::from_utf8_lossy(data.get(..data.len().min(4096)).unwrap_or_default())
                    .to_ascii_lowercase();
                head.contains("<html") || head.contains("<a ") || head.contains("<script")
            }
            // LZFu: compressed size, raw size, "LZFu" or "MELA", CRC.
            Target::Compressed => data.get(8..12).is_some_and(|m| m == b"LZFu" || m == b"MELA"),
            Target::Pdf => pdf::is_pdf(data),
            Target::Qr => qr::image_format(data).is_some(),
        }
    }
}

/// Runs one input through `target`; returns a small number derived from the result so the
/// work cannot be optimised away. Panics propagate (the fuzzer catches them as findings).
pub fn run(target: Target, data: &[u8]) -> usize {
    let o = ExtractOptions::default();
    let lim = ArchiveLimits {
        max_members: o.max_archive_members,
        max_ratio: o.max_archive_ratio,
        max_bytes: o.max_archive_bytes,
    };
    match target {
        Target::Eml | Target::Mbox => {
            let x = super::extract(data, &o);
            x.observables.len() + x.warnings.len() + x.texts.len()
        }
        Target::Msg => {
            let l = msg::MsgLimits {
                max_depth: o.max_nesting,
                max_stream: o.max_message_bytes as u64,
                max_total: o.max_decoded_bytes,
                max_attachments: o.max_parts,
                max_time: std::time::Duration::from_millis(o.max_millis),
            };
            msg::parse(data, &l).map_or(0, |m| m.attachments.len() + m.warnings.len())
        }
        Target::Zip => {
            let l = archive::zip_members(data, &lim, &|_| true);
            l.members.len() + l.contents.len()
        }
        Target::SevenZ => {
            let l = sevenz::members(data, &lim, &|_| true);
            l.members.len() + l.contents.len()
        }
        Target::Tnef => {
            let t = tnef::parse(data, o.max_message_bytes);
            t.attachments.len() + t.warnings.len()
        }
        Target::Rtf => match rtf::convert(data, &|b| String::from_utf8_lossy(b).into_owned()) {
            rtf::RtfBody::Html(h) => h.len(),
            rtf::RtfBody::Text(t) => t.len(),
        },
        Target::Html => {
            let text = String::from_utf8_lossy(data);
            let r = html::render(&text);
            r.attrs.len() + html::decode_script_literals(&r.code.text).len()
        }
        Target::Compressed => rtf::decompress(data, o.max_message_bytes).map_or(0, |v| v.len()),
        Target::Pdf => {
            let c = pdf::read(data, o.max_archive_bytes);
            c.links.len() + c.embedded.len() + c.images.len()
        }
        Target::Qr => qr::decode_image_bytes(data, &qr::ImageLimits::default()).map_or(0, |v| v.len()),
    }
}

/// Seeds for `target` found in one file of a corpus: the file itself if it is one, and the
/// MIME parts of an email (attachments: archives, PDFs, images, `winmail.dat`, HTML) and the
/// streams of an Outlook message (compressed RTF, and that RTF decompressed) that are.
pub fn seeds_from(target: Target, file: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if target.accepts_seed(file) {
        out.push(file.to_vec());
    }
    if matches!(target, Target::Eml | Target::Mbox | Target::Msg) {
        return out;
    }
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    if file.starts_with(msg::CFB_MAGIC) {
        candidates.extend(msg_streams(file));
    } else if let Ok(Some(m)) = super::walk::parse_mime(file) {
        for p in m.parts.iter().take(200) {
            candidates.push(p.contents().to_vec());
        }
    }
    for c in candidates {
        if target.accepts_seed(&c) {
            out.push(c);
        } else if target == Target::Rtf
            && Target::Compressed.accepts_seed(&c)
            && let Some(raw) = rtf::decompress(&c, 4 << 20)
            && raw.starts_with(b"{\\rtf")
        {
            out.push(raw);
        }
    }
    out
}

/// Every stream of a compound file up to 4 MB (the compressed RTF body, attachment data).
fn msg_streams(data: &[u8]) -> Vec<Vec<u8>> {
    use std::io::Read as _;
    let Ok(mut cf) = cfb::CompoundFile::open(std::io::Cursor::new(data)) else {
        return Vec::new();
    };
    let paths: Vec<std::path::PathBuf> = cf
        .walk()
        .filter(|e| e.is_stream() && e.len() <= 4 << 20)
        .map(|e| e.path().to_owned())
        .take(500)
        .collect();
    let mut out = Vec::new();
    for p in paths {
        let mut buf = Vec::new();
        if let Ok(mut s) = cf.open_stream(&p)
            && s.read_to_end(&mut buf).is_ok()
        {
            out.push(buf);
        }
    }
    out
}
