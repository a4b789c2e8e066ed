//! Outlook `.msg` files: a small MAPI property reader on top of the `cfb` compound-file crate
//! (MS-OXMSG). Reads subject, sender, recipients, transport headers, plain/HTML/RTF bodies,
//! attachments and embedded messages, decoding 8-bit strings with the message's code page.
//! Damaged files give an error or a partial message, never a panic.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use encoding_rs::Encoding;

use super::rtf;

pub(crate) const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

#[derive(Debug, Default)]
pub(crate) struct MsgRecipient {
    pub name: Option<String>,
    pub email: Option<String>,
    /// MAPI recipient type: 1 To, 2 Cc, 3 Bcc.
    pub kind: u32,
}

#[derive(Debug, Default)]
pub(crate) struct MsgAttachment {
    pub name: Option<String>,
    pub mime: Option<String>,
    pub data: Vec<u8>,
    pub embedded: Option<Box<MsgMessage>>,
}

#[derive(Debug, Default)]
pub(crate) struct MsgMessage {
    pub transport_headers: Option<String>,
    pub subject: Option<String>,
    pub sender_name: Option<String>,
    pub sender_email: Option<String>,
    pub message_id: Option<String>,
    pub recipients: Vec<MsgRecipient>,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    pub attachments: Vec<MsgAttachment>,
    pub warnings: Vec<String>,
}

type Cfb<'a> = cfb::CompoundFile<Cursor<&'a [u8]>>;

struct Reader<'a> {
    cf: Cfb<'a>,
    max_stream: u64,
}

/// Parses an Outlook message. `max_depth` bounds embedded messages; `max_stream` each stream.
pub(crate) fn parse(data: &[u8], max_depth: usize, max_stream: u64) -> Result<MsgMessage, String> {
    let cf = cfb::CompoundFile::open(Cursor::new(data)).map_err(|e| format!("not a readable .msg: {e}"))?;
    let mut r = Reader { cf, max_stream };
    Ok(r.message("", max_depth, 32))
}

fn codepage_encoding(cp: u32) -> Option<&'static Encoding> {
    let label = match cp {
        65001 => "utf-8",
        1200 => "utf-16le",
        874 => "windows-874",
        932 => "shift_jis",
        936 => "gbk",
        949 => "euc-kr",
        950 => "big5",
        1250..=1258 => return Encoding::for_label(format!("windows-{cp}").as_bytes()),
        20866 => "koi8-r",
        21866 => "koi8-u",
        28591 => "windows-1252",
        28592..=28606 => return Encoding::for_label(format!("iso-8859-{}", cp - 28590).as_bytes()),
        50220..=50222 => "iso-2022-jp",
        51932 => "euc-jp",
        51949 => "euc-kr",
        54936 => "gb18030",
        866 => "ibm866",
        _ => return None,
    };
    Encoding::for_label(label.as_bytes())
}

/// ANSI code page of a Windows locale id (the primary language is enough).
fn lcid_codepage(lcid: u32) -> Option<u32> {
    Some(match lcid & 0x3ff {
        0x11 => 932,
        0x04 if lcid == 0x0404 || lcid == 0x0c04 || lcid == 0x1404 => 950,
        0x04 => 936,
        0x12 => 949,
        0x19 | 0x22 | 0x23 | 0x02 | 0x2f => 1251,
        0x05 | 0x15 | 0x0e | 0x1b | 0x24 | 0x18 | 0x1a => 1250,
        0x08 => 1253,
        0x1f => 1254,
        0x0d => 1255,
        0x01 | 0x29 | 0x20 => 1256,
        0x25..=0x27 => 1257,
        0x2a => 1258,
        0x1e => 874,
        _ => 1252,
    })
}

/// The ANSI code page matching an internet (MIME) code page.
fn ansi_for_internet(cp: u32) -> u32 {
    match cp {
        50220..=50222 | 51932 => 932,
        20866 | 21866 | 28595 => 1251,
        51949 => 949,
        52936 | 54936 => 936,
        28592 => 1250,
        28597 => 1253,
        28599 => 1254,
        other => other,
    }
}

fn rtf_codepage(rtf: &[u8]) -> Option<u32> {
    let head = rtf.get(..rtf.len().min(1024))?;
    let p = head.windows(8).position(|w| w == b"\\ansicpg")? + 8;
    let digits: Vec<u8> = head.get(p..)?.iter().take_while(|c| c.is_ascii_digit()).copied().collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// A `charset=` declared in the first bytes of an HTML body.
fn html_charset(b: &[u8]) -> Option<&'static Encoding> {
    let head = b.get(..b.len().min(4096))?;
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let p = lower.windows(8).position(|w| w == b"charset=")? + 8;
    let rest = lower.get(p..)?;
    let rest = rest.strip_prefix(b"\"").unwrap_or(rest);
    let end = rest.iter().position(|c| !(c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_'))?;
    Encoding::for_label(rest.get(..end)?)
}

fn utf16le(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0)]))
        .collect();
    String::from_utf16_lossy(&units).trim_end_matches('\0').to_owned()
}

impl Reader<'_> {
    fn read(&mut self, path: &str) -> Option<Vec<u8>> {
        let len = self.cf.entry(path).ok()?.len();
        if len > self.max_stream {
            return None;
        }
        let s = self.cf.open_stream(path).ok()?;
        let mut buf = Vec::new();
        s.take(self.max_stream).read_to_end(&mut buf).ok()?;
        Some(buf)
    }

    /// Fixed-size properties of a storage: id → 32-bit value (integers, booleans).
    fn int_props(&mut self, storage: &str, header: usize) -> HashMap<u16, u32> {
        let mut map = HashMap::new();
        let Some(b) = self.read(&format!("{storage}/__properties_version1.0")) else {
            return map;
        };
        for e in b.get(header..).unwrap_or_default().chunks_exact(16) {
            let word = |i: usize| -> u32 {
                let s = e.get(i..i + 4).unwrap_or(&[0, 0, 0, 0]);
                u32::from_le_bytes([
                    s.first().copied().unwrap_or(0),
                    s.get(1).copied().unwrap_or(0),
                    s.get(2).copied().unwrap_or(0),
                    s.get(3).copied().unwrap_or(0),
                ])
            };
            let tag = word(0);
            let ty = tag & 0xffff;
            if ty == 0x0003 || ty == 0x000B {
                map.insert((tag >> 16) as u16, word(8));
            }
        }
        map
    }

    fn string(&mut self, storage: &str, id: u16, enc: &'static Encoding) -> Option<String> {
        if let Some(b) = self.read(&format!("{storage}/__substg1.0_{id:04X}001F")) {
            return Some(utf16le(&b)).filter(|s| !s.is_empty());
        }
        let b = self.read(&format!("{storage}/__substg1.0_{id:04X}001E"))?;
        let (s, _, _) = enc.decode(&b);
        Some(s.trim_end_matches('\0').to_owned()).filter(|s| !s.is_empty())
    }

    fn binary(&mut self, storage: &str, id: u16) -> Option<Vec<u8>> {
        self.read(&format!("{storage}/__substg1.0_{id:04X}0102"))
    }

    fn children(&self, storage: &str, prefix: &str) -> Vec<String> {
        let path = if storage.is_empty() { "/" } else { storage };
        match self.cf.read_storage(path) {
            Ok(entries) => entries
                .filter(|e| e.is_storage() && e.name().starts_with(prefix))
                .map(|e| format!("{storage}/{}", e.name()))
                .take(10_000)
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    fn message(&mut self, storage: &str, depth: usize, header: usize) -> MsgMessage {
        let props = self.int_props(storage, header);
        // 8-bit strings are in the sender's ANSI code page: the message code page if stored,
        // else the one of the message locale, else the internet code page's ANSI counterpart.
        let enc = props
            .get(&0x3FFD)
            .and_then(|&cp| codepage_encoding(cp))
            .or_else(|| props.get(&0x3FF1).and_then(|&lcid| lcid_codepage(lcid)).and_then(codepage_encoding))
            .or_else(|| props.get(&0x3FDE).map(|&cp| ansi_for_internet(cp)).and_then(codepage_encoding))
            .unwrap_or(encoding_rs::WINDOWS_1252);
        let mut m = MsgMessage {
            transport_headers: self.string(storage, 0x007D, enc),
            subject: self.string(storage, 0x0037, enc),
            sender_name: self.string(storage, 0x0C1A, enc).or_else(|| self.string(storage, 0x0042, enc)),
            sender_email: self
                .string(storage, 0x5D01, enc)
                .or_else(|| self.string(storage, 0x0C1F, enc))
                .or_else(|| self.string(storage, 0x0065, enc)),
            message_id: self.string(storage, 0x1035, enc),
            body_text: self.string(storage, 0x1000, enc),
            ..MsgMessage::default()
        };
        m.body_html = match self.binary(storage, 0x1013) {
            Some(b) => {
                // The HTML's own declaration first; then every code page the message names,
                // keeping the first that decodes without errors.
                let candidates = [
                    html_charset(&b),
                    Some(enc),
                    props.get(&0x3FF1).and_then(|&l| lcid_codepage(l)).and_then(codepage_encoding),
                    props.get(&0x3FDE).and_then(|&cp| codepage_encoding(cp)),
                    Some(encoding_rs::UTF_8),
                ];
                let mut chosen = None;
                for e in candidates.into_iter().flatten() {
                    let (text, _, errors) = e.decode(&b);
                    if !errors {
                        chosen = Some(text.into_owned());
                        break;
                    }
                }
                Some(chosen.unwrap_or_else(|| enc.decode(&b).0.into_owned()))
            }
            None => self.string(storage, 0x1013, enc),
        };
        if m.body_html.is_none()
            && let Some(c) = self.binary(storage, 0x1009)
        {
            match rtf::decompress(&c, usize::try_from(self.max_stream).unwrap_or(usize::MAX)) {
                Some(raw) => {
                    // `\ansicpgN` in the RTF header names the code page of its `\'hh` bytes.
                    let renc = rtf_codepage(&raw).and_then(codepage_encoding).unwrap_or(enc);
                    let dec = |b: &[u8]| renc.decode(b).0.into_owned();
                    match rtf::convert(&raw, &dec) {
                        rtf::RtfBody::Html(h) => m.body_html = Some(h),
                        rtf::RtfBody::Text(t) if m.body_text.is_none() => m.body_text = Some(t),
                        rtf::RtfBody::Text(_) => {}
                    }
                }
                None => m.warnings.push("compressed RTF body unreadable".into()),
            }
        }
        for r in self.children(storage, "__recip_version1.0_") {
            let p = self.int_props(&r, 8);
            m.recipients.push(MsgRecipient {
                name: self.string(&r, 0x3001, enc),
                email: self.string(&r, 0x39FE, enc).or_else(|| self.string(&r, 0x3003, enc)),
                kind: p.get(&0x0C15).copied().unwrap_or(1),
            });
        }
        for a in self.children(storage, "__attach_version1.0_") {
            let mut att = MsgAttachment {
                name: self
                    .string(&a, 0x3707, enc)
                    .or_else(|| self.string(&a, 0x3704, enc))
                    .or_else(|| self.string(&a, 0x3001, enc)),
                mime: self.string(&a, 0x370E, enc),
                data: self.binary(&a, 0x3701).unwrap_or_default(),
                embedded: None,
            };
            let sub = format!("{a}/__substg1.0_3701000D");
            if self.cf.is_storage(&sub) {
                if depth == 0 {
                    m.warnings.push("embedded message over the nesting limit; not read".into());
                } else {
                    att.embedded = Some(Box::new(self.message(&sub, depth - 1, 24)));
                }
            }
            m.attachments.push(att);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse(b"hello world", 8, 1 << 20).is_err());
        let mut b = CFB_MAGIC.to_vec();
        b.extend_from_slice(&[0u8; 600]);
        assert!(parse(&b, 8, 1 << 20).is_err());
    }

    #[test]
    fn codepages() {
        assert_eq!(codepage_encoding(1251).map(|e| e.name()), Some("windows-1251"));
        assert_eq!(codepage_encoding(932).map(|e| e.name()), Some("Shift_JIS"));
        assert_eq!(codepage_encoding(28595).map(|e| e.name()), Some("ISO-8859-5"));
    }
}
