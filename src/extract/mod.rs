//! Email parsing and indicator extraction (pure: no I/O, no database).
//!
//! Bytes in, [`Extraction`] out: [`extract`] recognises the input (`.eml`, Outlook `.msg`, mbox,
//! pasted headers or text), walks it within the limits of design §6, and returns the messages'
//! attributes, attachments with hashes, and observables with the span where each was found.
//! It never panics on any input and never allocates without bound.
//!
//! Code map: `walk` drives the walk (`walk/headers` reads header fields by their grammar,
//! `walk/outlook` Outlook messages); `scan` finds values in one text; `value` decides canonical
//! forms; `html`, `rtf`, `msg`, `archive`, `forward`, `pdf`, `qr` (QR codes in images), `tnef`,
//! `sevenz`, `ics` read one format each; `providers` lists the mail providers' domains; `wrappers` decodes redirect and link-rewriting wrappers;
//! `active_content` base64 blobs and `data:` URLs in scripts; `wrapped` joins URLs hard-wrapped
//! across lines; `mapped` keeps spans
//! pointing at the source through HTML rendering and refanging; `model` is the result type.

mod active_content;
mod archive;
mod budget;
pub mod bundle;
pub mod fetch;
pub(crate) mod forward;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod html;
mod ics;
mod mapped;
mod model;
mod msg;
pub mod pdf;
mod providers;
mod qr;
mod rtf;
mod scan;
mod sevenz;
pub mod similarity;
mod tnef;
mod value;
mod walk;
mod wrapped;
pub(crate) mod wrappers;

pub use model::*;
pub use value::{IndicatorValue, IpScope, ObservableKind, ValueError};

use serde::{Deserialize, Serialize};

/// Limits (design §6) and the organisation's own names. `Default` gives the documented limits;
/// deserialising fills missing fields from it and rejects unknown ones (for `Settings`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExtractOptions {
    /// Input beyond this is cut (50 MB).
    pub max_message_bytes: usize,
    /// Multipart nesting levels followed (32).
    pub max_mime_depth: usize,
    /// MIME parts (and `.msg` attachments) read per input (2,000).
    pub max_parts: usize,
    /// A header value longer than this is cut before it is scanned (1 MB).
    pub max_header_line: usize,
    /// Archive members listed (1,000).
    pub max_archive_members: usize,
    /// Archive expansion, as a multiple of the archive's size (100×) ...
    pub max_archive_ratio: u64,
    /// ... and in bytes (200 MB).
    pub max_archive_bytes: u64,
    /// Messages inside messages (8).
    pub max_nesting: usize,
    /// Distinct observables kept (10,000).
    pub max_observables: usize,
    /// Messages read from an mbox (10,000).
    pub max_mbox_messages: usize,
    /// Bytes decoded for one input in all (512 MB): MIME parts, nested messages, archive
    /// members at any depth, `.msg` streams, TNEF, PDF streams and embedded files, images.
    /// The corpus's largest total is about 1/10 of it (`scripts/bench-extract`).
    pub max_decoded_bytes: u64,
    /// Bytes of decoded text kept for scanning per input, in all (64 MB).
    pub max_text_bytes: usize,
    /// Milliseconds one input may take (20,000): past it nothing more is decoded.
    pub max_millis: u64,
    /// The organisation's domains: values under them are whitelisted `own_domain`.
    pub own_domains: Vec<String>,
    /// The organisation's mail servers (names or IPs): whitelisted `own_mail_host`.
    pub own_mail_hosts: Vec<String>,
    /// Whitelist XML namespace / schema hosts (`w3.org`, `schemas.microsoft.com`).
    pub whitelist_well_known: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        Self {
            max_message_bytes: 50 * 1024 * 1024,
            max_mime_depth: 32,
            max_parts: 2_000,
            max_header_line: 1024 * 1024,
            max_archive_members: 1_000,
            max_archive_ratio: 100,
            max_archive_bytes: 200 * 1024 * 1024,
            max_nesting: 8,
            max_observables: 10_000,
            max_mbox_messages: 10_000,
            max_decoded_bytes: 512 * 1024 * 1024,
            max_text_bytes: 64 * 1024 * 1024,
            max_millis: 20_000,
            own_domains: Vec::new(),
            own_mail_hosts: Vec::new(),
            whitelist_well_known: true,
        }
    }
}

impl ExtractOptions {
    /// Defaults plus the organisation's domains and mail hosts (lower-cased).
    pub fn for_organisation(domains: &[&str], mail_hosts: &[&str]) -> Self {
        Self {
            own_domains: domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
            own_mail_hosts: mail_hosts.iter().map(|d| d.to_ascii_lowercase()).collect(),
            ..Self::default()
        }
    }
}

/// Recognises the input by magic bytes and shape.
pub fn detect_input(raw: &[u8]) -> InputKind {
    if raw.starts_with(msg::CFB_MAGIC) {
        return InputKind::Msg;
    }
    let body = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    if body.starts_with(b"From ") {
        return InputKind::Mbox;
    }
    let first =
        body.split(|&b| b == b'\n').find(|l| !l.iter().all(u8::is_ascii_whitespace)).unwrap_or_default();
    let is_header = |l: &[u8]| {
        let colon = l.iter().position(|&b| b == b':');
        colon.is_some_and(|c| {
            c > 0 && l.get(..c).is_some_and(|n| n.iter().all(|&b| b.is_ascii_graphic() && b != b':'))
        })
    };
    if !is_header(first) {
        return InputKind::PastedText;
    }
    // A blank line (`\n\n` or `\r\n\r\n`) anywhere: looked for in one pass from newline to
    // newline that stops at the first, normally the end of the header (two passes over a
    // CRLF message's whole body used to be 3 % of the extraction's time).
    let has_body = body.iter().enumerate().any(|(i, &b)| {
        b == b'\n'
            && match body.get(i + 1) {
                Some(b'\n') => true,
                Some(b'\r') => {
                    body.get(i + 2) == Some(&b'\n')
                        && i.checked_sub(1).and_then(|p| body.get(p)) == Some(&b'\r')
                }
                _ => false,
            }
    });
    if has_body { InputKind::Eml } else { InputKind::PastedHeaders }
}

/// Splits an mbox into its messages (at `From ` lines that start a line after a blank line or
/// at the start), each without its `From ` line. Borrowed slices: no copy.
pub fn split_mbox(raw: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut pos = 0;
    let mut prev_blank = true;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if prev_blank && line.starts_with(b"From ") {
            starts.push((pos, pos + line.len()));
        }
        prev_blank = line.iter().all(u8::is_ascii_whitespace);
        pos += line.len();
    }
    if starts.is_empty() {
        return vec![raw];
    }
    let mut out = Vec::with_capacity(starts.len());
    for (i, &(_, body_start)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(raw.len(), |&(s, _)| s);
        if let Some(m) = raw.get(body_start..end) {
            out.push(m);
        }
    }
    out
}

/// Parses one input and extracts everything (see the module documentation).
pub fn extract(raw: &[u8], options: &ExtractOptions) -> Extraction {
    let kind = detect_input(raw);
    let run = || {
        let mut c = walk::Collector::new(options, kind);
        let raw = match raw.get(..options.max_message_bytes) {
            Some(cut) if cut.len() < raw.len() => {
                c.warn(
                    WarningKind::MessageTooLarge,
                    format!("input of {} bytes cut to {}", raw.len(), options.max_message_bytes),
                );
                cut
            }
            _ => raw,
        };
        match kind {
            InputKind::Msg => match msg::parse(raw, &c.msg_limits(0)) {
                Ok(m) => {
                    c.charge_msg(&m, "msg");
                    c.walk_msg(&m, None, MessageSource::Msg, "msg".into(), 0);
                }
                Err(e) => c.warn(WarningKind::Malformed, e),
            },
            InputKind::Mbox => {
                let msgs = split_mbox(raw);
                if msgs.len() > options.max_mbox_messages {
                    c.warn(
                        WarningKind::TooManyParts,
                        format!("mbox has {} messages; first {} read", msgs.len(), options.max_mbox_messages),
                    );
                }
                for (i, m) in msgs.into_iter().take(options.max_mbox_messages).enumerate() {
                    c.walk_raw_eml(m, None, MessageSource::Eml, format!("mbox{i}"), 0);
                }
            }
            InputKind::Eml | InputKind::PastedHeaders => {
                c.walk_raw_eml(raw, None, MessageSource::Eml, "eml".into(), 0);
            }
            InputKind::PastedText => {
                c.walk_pasted_text(raw, None, "text".into());
            }
        }
        c.finish()
    };
    // Belt and braces: the parsers below are meant never to panic; if one does, the input still
    // yields a (empty) result with a warning instead of taking the server down.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(x) => x,
        Err(_) => Extraction {
            input: kind,
            messages: Vec::new(),
            attachments: Vec::new(),
            observables: Vec::new(),
            texts: Vec::new(),
            warnings: vec![Warning {
                kind: WarningKind::Internal,
                detail: "internal error while parsing; nothing extracted".into(),
            }],
            decoded_bytes: 0,
            images_read: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_inputs() {
        assert_eq!(detect_input(b"From: a@b.com\r\nSubject: x\r\n\r\nhi"), InputKind::Eml);
        assert_eq!(detect_input(b"From: a@b.com\nReceived: x\n"), InputKind::PastedHeaders);
        assert_eq!(detect_input(b"please check hxxp://x[.]com"), InputKind::PastedText);
        assert_eq!(detect_input(b"From MAILER-DAEMON Mon\nFrom: a\n\nx"), InputKind::Mbox);
        assert_eq!(detect_input(msg::CFB_MAGIC), InputKind::Msg);
    }

    #[test]
    fn options_deserialise_with_defaults() {
        let o: Result<ExtractOptions, _> =
            serde_json::from_str(r#"{"own_domains": ["corp.example"], "max_nesting": 4}"#);
        let o = o.ok();
        assert_eq!(o.as_ref().map(|o| o.max_nesting), Some(4));
        assert_eq!(o.as_ref().map(|o| o.max_parts), Some(2_000));
        assert!(serde_json::from_str::<ExtractOptions>(r#"{"nope": 1}"#).is_err());
    }

    #[test]
    fn splits_mbox() {
        let m = b"From a Mon\nSubject: 1\n\nbody From here\n\nFrom b Tue\nSubject: 2\n\nx\n";
        let parts = split_mbox(m);
        assert_eq!(parts.len(), 2);
        assert!(parts.first().is_some_and(|p| p.starts_with(b"Subject: 1")));
    }

    #[test]
    fn never_panics_on_junk() {
        let o = ExtractOptions::default();
        for junk in [&b""[..], b"\xff\xfe", b":", b"From ", b"a: b\n\n<html><a href=", msg::CFB_MAGIC] {
            let _ = extract(junk, &o);
        }
    }
}

#[cfg(test)]
mod evasion_tests {
    use super::*;

    #[test]
    fn style_and_obfuscated_href() {
        let raw = "From: a@b.com\r\nContent-Type: text/html\r\n\r\n<form action=\"\"><A   HREF  =   \"   &#104;&#116;&#116;&#112;&#58;&#47;&#47;&#55349;&#57308;.webrentals.eu.com/r754e.php?32=1o\" style=\"text-d\">\r\n<h4 style=\"color:#FF0000; font-size=25pt;\">C-ad</h4><BR>\r\n<div style=\"display: block; max-width: 100% ;  background: url('https://imgur.com/LLybuij.png') no-repeat;\"> </div></form >";
        let x = extract(raw.as_bytes(), &ExtractOptions::default());
        let vals: Vec<String> = x.observables.iter().map(|o| o.indicator.value.clone()).collect();
        assert!(vals.contains(&"https://imgur.com/LLybuij.png".to_owned()), "{vals:?}");
        assert!(vals.contains(&"4.webrentals.eu.com".to_owned()), "{vals:?}");
    }
}
