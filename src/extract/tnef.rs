//! TNEF (`winmail.dat`, `application/ms-tnef`): Outlook's wrapper for a message's rich body and
//! attachments. A small bounded reader of its attribute stream (signature, then attributes of
//! level, id, length, data and checksum) and of the MAPI property lists inside it: the body
//! (`attBody`, `PR_BODY`, `PR_BODY_HTML`, `PR_RTF_COMPRESSED`) and the attachments with their
//! long file names. Nothing is trusted: every length is checked against what is left.

use super::rtf;

/// `0x223E9F78`, little-endian.
pub(crate) const MAGIC: &[u8] = &[0x78, 0x9F, 0x3E, 0x22];

/// Attributes read per stream, and properties per list: a real winmail.dat has dozens.
const MAX_ATTRIBUTES: usize = 10_000;
const MAX_PROPS: usize = 5_000;
/// Attachments taken from one stream (as many as MIME parts could give).
const MAX_ATTACHMENTS: usize = 1_000;

/// What a TNEF stream carries.
#[derive(Debug, Default)]
pub(crate) struct Tnef {
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    pub attachments: Vec<TnefAttachment>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct TnefAttachment {
    /// The long file name (MAPI) if given, else the 8.3 title.
    pub name: Option<String>,
    pub mime: Option<String>,
    pub data: Vec<u8>,
}

// Attribute ids, low 16 bits (the high 16 bits are the type and vary between writers).
const ATT_BODY: u16 = 0x800C;
const ATT_ATTACH_DATA: u16 = 0x800F;
const ATT_ATTACH_TITLE: u16 = 0x8010;
const ATT_ATTACH_RENDDATA: u16 = 0x9002;
const ATT_MSG_PROPS: u16 = 0x9003;
const ATT_ATTACHMENT: u16 = 0x9005;

const LVL_ATTACHMENT: u8 = 2;

/// Little-endian cursor that never reads past the end.
struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<u16> {
        let s = self.take(2)?;
        Some(u16::from_le_bytes([*s.first()?, *s.get(1)?]))
    }
    fn u32(&mut self) -> Option<u32> {
        let s = self.take(4)?;
        Some(u32::from_le_bytes([*s.first()?, *s.get(1)?, *s.get(2)?, *s.get(3)?]))
    }
    fn left(&self) -> usize {
        self.b.len().saturating_sub(self.pos)
    }
}

/// Reads a TNEF stream; `max_out` bounds a decompressed RTF body.
pub(crate) fn parse(data: &[u8], max_out: usize) -> Tnef {
    let mut t = Tnef::default();
    let mut c = Cur { b: data, pos: 0 };
    if c.take(4) != Some(MAGIC) || c.u16().is_none() {
        t.warnings.push("not a TNEF stream".into());
        return t;
    }
    let mut current: Option<TnefAttachment> = None;
    let mut attrs = 0;
    while c.left() > 0 {
        attrs += 1;
        if attrs > MAX_ATTRIBUTES {
            t.warnings.push(format!("more than {MAX_ATTRIBUTES} TNEF attributes; rest not read"));
            break;
        }
        let (Some(level), Some(id), Some(len)) = (c.u8(), c.u32(), c.u32()) else {
            t.warnings.push("TNEF stream truncated".into());
            break;
        };
        let Some(body) = usize::try_from(len).ok().and_then(|l| c.take(l)) else {
            t.warnings.push("TNEF attribute longer than the stream".into());
            break;
        };
        let _checksum = c.u16();
        let id = (id & 0xFFFF) as u16;
        match (level, id) {
            (LVL_ATTACHMENT, ATT_ATTACH_RENDDATA) => {
                if let Some(a) = current.take() {
                    push_attachment(&mut t, a);
                }
                current = Some(TnefAttachment::default());
            }
            (LVL_ATTACHMENT, ATT_ATTACH_TITLE) => {
                let a = current.get_or_insert_with(TnefAttachment::default);
                if a.name.is_none() {
                    a.name = Some(cstring(body)).filter(|s| !s.is_empty());
                }
            }
            (LVL_ATTACHMENT, ATT_ATTACH_DATA) => {
                current.get_or_insert_with(TnefAttachment::default).data = body.to_vec();
            }
            (LVL_ATTACHMENT, ATT_ATTACHMENT) => {
                let a = current.get_or_insert_with(TnefAttachment::default);
                for (pid, v) in props(body, &mut t.warnings) {
                    match (pid, v) {
                        (0x3707, Prop::Str(s)) if !s.is_empty() => a.name = Some(s),
                        (0x3704, Prop::Str(s)) if a.name.is_none() && !s.is_empty() => a.name = Some(s),
                        (0x370E, Prop::Str(s)) => a.mime = Some(s),
                        (0x3701, Prop::Bin(b)) if a.data.is_empty() => a.data = b,
                        _ => {}
                    }
                }
            }
            (_, ATT_BODY) if t.body_text.is_none() => t.body_text = Some(cstring(body)),
            (_, ATT_MSG_PROPS) => {
                for (pid, v) in props(body, &mut t.warnings) {
                    match (pid, v) {
                        (0x1000, Prop::Str(s)) if t.body_text.is_none() => t.body_text = Some(s),
                        (0x1013, Prop::Str(s)) => t.body_html = Some(s),
                        (0x1013, Prop::Bin(b)) => t.body_html = Some(win1252(&b)),
                        (0x1009, Prop::Bin(b)) => match rtf::decompress(&b, max_out) {
                            Some(raw) => {
                                let dec = |b: &[u8]| win1252(b);
                                match rtf::convert(&raw, &dec) {
                                    rtf::RtfBody::Html(h) if t.body_html.is_none() => t.body_html = Some(h),
                                    rtf::RtfBody::Text(s) if t.body_text.is_none() => t.body_text = Some(s),
                                    _ => {}
                                }
                            }
                            None => t.warnings.push("TNEF compressed RTF body unreadable".into()),
                        },
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(a) = current.take() {
        push_attachment(&mut t, a);
    }
    t
}

fn push_attachment(t: &mut Tnef, a: TnefAttachment) {
    if a.data.is_empty() && a.name.is_none() {
        return;
    }
    if t.attachments.len() < MAX_ATTACHMENTS {
        t.attachments.push(a);
    } else if t.attachments.len() == MAX_ATTACHMENTS {
        t.warnings.push(format!("more than {MAX_ATTACHMENTS} TNEF attachments; rest not read"));
    }
}

/// An 8-bit string up to its first NUL, in the Windows code page TNEF writers use.
fn cstring(b: &[u8]) -> String {
    let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    win1252(b.get(..end).unwrap_or_default())
}

fn win1252(b: &[u8]) -> String {
    encoding_rs::WINDOWS_1252.decode(b).0.into_owned()
}

fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|p| match p {
            [a, b] => u16::from_le_bytes([*a, *b]),
            _ => 0,
        })
        .collect();
    let s = String::from_utf16_lossy(&units);
    s.trim_end_matches('\0').to_owned()
}

/// A MAPI property value, as far as this reader cares.
enum Prop {
    Str(String),
    Bin(Vec<u8>),
    Other,
}

const MV_FLAG: u16 = 0x1000;

/// The properties of a MAPI property list (`attMsgProps`, `attAttachment`), by property id.
fn props(b: &[u8], warnings: &mut Vec<String>) -> Vec<(u16, Prop)> {
    let mut out = Vec::new();
    let mut c = Cur { b, pos: 0 };
    let Some(n) = c.u32() else {
        return out;
    };
    for _ in 0..(n as usize).min(MAX_PROPS) {
        match prop(&mut c) {
            Some(p) => out.push(p),
            None => {
                warnings.push("TNEF property list truncated".into());
                break;
            }
        }
    }
    out
}

fn pad4(c: &mut Cur<'_>, len: usize) -> Option<()> {
    let pad = (4 - len % 4) % 4;
    c.take(pad.min(c.left())).map(|_| ())
}

fn prop(c: &mut Cur<'_>) -> Option<(u16, Prop)> {
    let ty = c.u16()?;
    let id = c.u16()?;
    if id >= 0x8000 {
        // Named property: GUID, then a number or a UTF-16 name.
        c.take(16)?;
        if c.u32()? == 0 {
            c.u32()?;
        } else {
            let l = c.u32()? as usize;
            c.take(l)?;
            pad4(c, l)?;
        }
    }
    let base = ty & !MV_FLAG;
    let multi = ty & MV_FLAG != 0;
    let fixed = match base {
        0x0002 | 0x0003 | 0x0004 | 0x000A | 0x000B => Some(4),
        0x0005 | 0x0006 | 0x0007 | 0x0014 | 0x0040 => Some(8),
        0x0048 => Some(16),
        0x0001 => Some(0),
        _ => None,
    };
    if let Some(size) = fixed {
        let count = if multi { c.u32()? as usize } else { 1 };
        let total = count.checked_mul(size)?;
        c.take(total)?;
        // Short and boolean values are padded to 4 like everything else.
        pad4(c, total)?;
        return Some((id, Prop::Other));
    }
    // Strings, binaries and objects: a count (always present), then length-prefixed values.
    let count = c.u32()? as usize;
    let mut first: Option<Prop> = None;
    for _ in 0..count.min(MAX_PROPS) {
        let l = c.u32()? as usize;
        let v = c.take(l)?;
        pad4(c, l)?;
        if first.is_none() {
            first = Some(match base {
                0x001E => Prop::Str(cstring(v)),
                0x001F => Prop::Str(utf16(v)),
                // An embedded object starts with its interface id.
                0x000D => Prop::Bin(v.get(16..).unwrap_or_default().to_vec()),
                _ => Prop::Bin(v.to_vec()),
            });
        }
    }
    Some((id, first.unwrap_or(Prop::Other)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(level: u8, id: u32, data: &[u8]) -> Vec<u8> {
        let mut v = vec![level];
        v.extend_from_slice(&id.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        let sum: u32 = data.iter().map(|&b| u32::from(b)).sum();
        v.extend_from_slice(&((sum & 0xFFFF) as u16).to_le_bytes());
        v
    }

    fn unicode_prop(id: u16, s: &str) -> Vec<u8> {
        let mut b: Vec<u8> = s.encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect();
        let l = b.len();
        b.resize(l + (4 - l % 4) % 4, 0);
        let mut v = Vec::new();
        v.extend_from_slice(&0x001Fu16.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&(l as u32).to_le_bytes());
        v.extend_from_slice(&b);
        v
    }

    #[test]
    fn reads_body_and_attachment_with_long_name() {
        let mut s = MAGIC.to_vec();
        s.extend_from_slice(&0x1234u16.to_le_bytes());
        s.extend(attr(1, 0x0002_800C, b"Body with https://tnef-body.example.top/a\0"));
        s.extend(attr(2, 0x0006_9002, &[0; 14]));
        s.extend(attr(2, 0x0001_8010, b"INVOIC~1.HTM\0"));
        s.extend(attr(2, 0x0006_800F, b"<a href=\"https://tnef-att.example.top/\">x</a>"));
        let mut props = 2u32.to_le_bytes().to_vec();
        props.extend(unicode_prop(0x3707, "Invoice March.html"));
        // A 4-byte long property before it, to check the walk over fixed values.
        props.extend_from_slice(&0x0003u16.to_le_bytes());
        props.extend_from_slice(&0x0E21u16.to_le_bytes());
        props.extend_from_slice(&7u32.to_le_bytes());
        s.extend(attr(2, 0x0006_9005, &props));
        let t = parse(&s, 1 << 20);
        assert_eq!(t.body_text.as_deref(), Some("Body with https://tnef-body.example.top/a"));
        assert_eq!(t.attachments.len(), 1, "{:?}", t.warnings);
        let a = t.attachments.first();
        assert_eq!(a.and_then(|a| a.name.as_deref()), Some("Invoice March.html"));
        assert!(a.is_some_and(|a| a.data.starts_with(b"<a href")));
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    }

    #[test]
    fn junk_is_bounded() {
        assert!(!parse(b"nope", 10).warnings.is_empty());
        let mut s = MAGIC.to_vec();
        s.extend_from_slice(&[0, 0, 2, 0x0F, 0x80, 6, 0, 0xFF, 0xFF, 0xFF, 0x7F, 1]);
        let t = parse(&s, 10);
        assert!(t.attachments.is_empty() && !t.warnings.is_empty());
        let mut s = MAGIC.to_vec();
        s.extend_from_slice(&[0, 0]);
        s.extend(attr(1, 0x0006_9003, &[0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0, 0x07, 0x37, 9, 9, 9, 9]));
        let t = parse(&s, 10);
        assert!(t.body_text.is_none());
    }
}
