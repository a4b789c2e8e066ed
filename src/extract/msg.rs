//! Outlook `.msg` files: a small MAPI property reader on top of the `cfb` compound-file crate
//! (MS-OXMSG). Reads subject, sender, recipients, transport headers, plain/HTML/RTF bodies,
//! attachments and embedded messages, decoding 8-bit strings with the message's code page.
//! Damaged files give an error or a partial message, never a panic.
//!
//! Bounded as a whole, not only per stream: every stream read counts against one total (the
//! input's remaining budget), attachment storages are counted against the input's parts, and a
//! stream whose sectors another stream already used is not read again (the compound file
//! format lets any number of directory entries name the same sector chain, so a small file
//! could otherwise be read as its size times its entries). `cfb` itself refuses loops in the
//! directory tree and in sector chains.

use std::collections::{HashMap, HashSet};
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
    /// Limits hit (streams over the stream limit, attachment storages over the parts limit),
    /// set on the outermost message only.
    pub limits: Vec<String>,
    /// Bytes read from streams in all (this message and those embedded in it), set on the
    /// outermost message only.
    pub decoded: u64,
    /// The total (`MsgLimits::max_total`) ran out: streams after it were not read.
    pub total_spent: bool,
}

/// Bounds for one `.msg` file.
pub(crate) struct MsgLimits {
    /// Embedded messages followed.
    pub max_depth: usize,
    /// Bytes of one stream.
    pub max_stream: u64,
    /// Bytes of all streams together.
    pub max_total: u64,
    /// Attachment storages read, embedded messages' included.
    pub max_attachments: usize,
    /// Time allowed: no attachment storage is started after it.
    pub max_time: std::time::Duration,
}

type Cfb<'a> = cfb::CompoundFile<Cursor<&'a [u8]>>;

struct Reader<'a> {
    cf: Cfb<'a>,
    max_stream: u64,
    total_left: u64,
    total_spent: bool,
    decoded: u64,
    attachments_left: usize,
    attachments_warned: bool,
    deadline: std::time::Instant,
    /// Each stream's first sector (`(in the mini stream, sector)`) by upper-cased path, read
    /// from the directory; `None` if the directory could not be read that way.
    chains: Option<HashMap<String, (bool, u32)>>,
    /// Chains already read, and the warnings about shared ones (one per file).
    chains_read: HashSet<(bool, u32)>,
    shared_warned: bool,
    warnings: Vec<String>,
    limits: Vec<String>,
}

/// Parses an Outlook message within `lim`.
pub(crate) fn parse(data: &[u8], lim: &MsgLimits) -> Result<MsgMessage, String> {
    let cf = cfb::CompoundFile::open(Cursor::new(data)).map_err(|e| format!("not a readable .msg: {e}"))?;
    let mut r = Reader {
        cf,
        max_stream: lim.max_stream,
        total_left: lim.max_total,
        total_spent: false,
        decoded: 0,
        attachments_left: lim.max_attachments,
        attachments_warned: false,
        deadline: std::time::Instant::now().checked_add(lim.max_time).unwrap_or_else(std::time::Instant::now),
        chains: stream_chains(data),
        chains_read: HashSet::new(),
        shared_warned: false,
        warnings: Vec::new(),
        limits: Vec::new(),
    };
    let mut m = r.message("", lim.max_depth, 32);
    m.warnings.append(&mut r.warnings);
    m.limits = r.limits;
    m.decoded = r.decoded;
    m.total_spent = r.total_spent;
    Ok(m)
}

/// Most directory entries looked at (a 50 MB file holds at most ~400,000).
const MAX_DIR_ENTRIES: usize = 500_000;

/// Every stream's first sector by path (upper-cased, `/`-separated from the root), read from
/// the compound file's own directory: `cfb` does not say where a stream starts. `None` when
/// the header, FAT or directory chain is not as expected (then `cfb` decides alone).
fn stream_chains(data: &[u8]) -> Option<HashMap<String, (bool, u32)>> {
    let u16_at = |o: usize| -> Option<u16> { Some(u16::from_le_bytes(data.get(o..o + 2)?.try_into().ok()?)) };
    let u32_at = |o: usize| -> Option<u32> { Some(u32::from_le_bytes(data.get(o..o + 4)?.try_into().ok()?)) };
    let shift = u16_at(0x1E)?;
    if !(9..=12).contains(&shift) {
        return None;
    }
    let sector_len = 1usize << shift;
    let sector = |n: u32| -> Option<&[u8]> {
        let start = (usize::try_from(n).ok()?.checked_add(1)?).checked_mul(sector_len)?;
        data.get(start..start.checked_add(sector_len)?)
    };
    let cutoff = u64::from(u32_at(0x38)?);
    // FAT sectors: the 109 in the header, then the DIFAT chain.
    let mut fat_sectors: Vec<u32> =
        (0..109).filter_map(|i| u32_at(0x4C + 4 * i)).filter(|&s| s < 0xFFFF_FFFA).collect();
    let mut difat = u32_at(0x44)?;
    let mut seen = HashSet::new();
    while difat < 0xFFFF_FFFA && seen.insert(difat) {
        let s = sector(difat)?;
        let words: Vec<u32> =
            s.chunks_exact(4).filter_map(|c| c.try_into().ok().map(u32::from_le_bytes)).collect();
        let (next, entries) = words.split_last()?;
        fat_sectors.extend(entries.iter().copied().filter(|&s| s < 0xFFFF_FFFA));
        difat = *next;
    }
    let mut fat: Vec<u32> = Vec::new();
    for f in fat_sectors {
        let s = sector(f)?;
        fat.extend(s.chunks_exact(4).filter_map(|c| c.try_into().ok().map(u32::from_le_bytes)));
    }
    // The directory's own chain, each sector once.
    let mut dir: Vec<u8> = Vec::new();
    let mut next = u32_at(0x30)?;
    let mut seen = HashSet::new();
    while next < 0xFFFF_FFFA && seen.insert(next) && dir.len() < MAX_DIR_ENTRIES * 128 {
        dir.extend_from_slice(sector(next)?);
        next = *fat.get(usize::try_from(next).ok()?)?;
    }
    let entry = |i: u32| -> Option<&[u8]> {
        let o = usize::try_from(i).ok()?.checked_mul(128)?;
        dir.get(o..o + 128)
    };
    let field = |e: &[u8], o: usize| -> u32 {
        e.get(o..o + 4).and_then(|b| b.try_into().ok()).map_or(0xFFFF_FFFF, u32::from_le_bytes)
    };
    let mut out = HashMap::new();
    let root = entry(0)?;
    let mut stack: Vec<(u32, String)> = vec![(field(root, 76), String::new())];
    let mut visited = HashSet::new();
    while let Some((id, parent)) = stack.pop() {
        if id >= 0xFFFF_FFFA || !visited.insert(id) {
            continue;
        }
        let Some(e) = entry(id) else { continue };
        let name_len =
            usize::from(e.get(64..66).and_then(|b| b.try_into().ok()).map_or(0, u16::from_le_bytes));
        let units: Vec<u16> = e
            .get(..name_len.min(64).saturating_sub(2))
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0)]))
            .collect();
        let path = format!("{parent}/{}", String::from_utf16_lossy(&units).to_uppercase());
        stack.push((field(e, 68), parent.clone()));
        stack.push((field(e, 72), parent));
        match e.get(66) {
            Some(1) => stack.push((field(e, 76), path)),
            Some(2) => {
                let size = u64::from(field(e, 120));
                if size > 0 {
                    out.insert(path, (size < cutoff, field(e, 116)));
                }
            }
            _ => {}
        }
    }
    Some(out)
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
            self.limits.push(format!("stream {path} of {len} bytes over the stream limit; not read"));
            return None;
        }
        if len > self.total_left {
            self.total_left = 0;
            self.total_spent = true;
            return None;
        }
        let chain = self.chains.as_ref().and_then(|c| c.get(&path.to_uppercase()).copied());
        if let Some(chain) = chain
            && !self.chains_read.insert(chain)
        {
            if !self.shared_warned {
                self.shared_warned = true;
                self.warnings.push(format!(
                    "stream {path} shares its sectors with a stream already read; such streams not read again"
                ));
            }
            return None;
        }
        let s = self.cf.open_stream(path).ok()?;
        let mut buf = Vec::new();
        s.take(len.min(self.max_stream)).read_to_end(&mut buf).ok()?;
        let n = buf.len() as u64;
        self.total_left = self.total_left.saturating_sub(n);
        self.decoded = self.decoded.saturating_add(n);
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
        self.bodies(storage, enc, &props, &mut m);
        for r in self.children(storage, "__recip_version1.0_") {
            let p = self.int_props(&r, 8);
            m.recipients.push(MsgRecipient {
                name: self.string(&r, 0x3001, enc),
                email: self.string(&r, 0x39FE, enc).or_else(|| self.string(&r, 0x3003, enc)),
                kind: p.get(&0x0C15).copied().unwrap_or(1),
            });
        }
        self.attachments(storage, depth, enc, &mut m);
        m
    }

    /// The HTML body (decoded in the first code page that fits), else the compressed RTF body
    /// (encapsulated HTML, or plain text where there is none).
    fn bodies(
        &mut self,
        storage: &str,
        enc: &'static Encoding,
        props: &HashMap<u16, u32>,
        m: &mut MsgMessage,
    ) {
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
            let cap = self.max_stream.min(self.total_left);
            match rtf::decompress(&c, usize::try_from(cap).unwrap_or(usize::MAX)) {
                Some(raw) => {
                    self.total_left = self.total_left.saturating_sub(raw.len() as u64);
                    self.decoded = self.decoded.saturating_add(raw.len() as u64);
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
    }

    /// The attachment storages, within the parts limit, the time and the total; an embedded
    /// message is read as one (within the nesting limit).
    fn attachments(&mut self, storage: &str, depth: usize, enc: &'static Encoding, m: &mut MsgMessage) {
        for a in self.children(storage, "__attach_version1.0_") {
            if std::time::Instant::now() >= self.deadline {
                self.total_spent = true;
            }
            if self.attachments_left == 0 || self.total_spent {
                if !self.attachments_warned && !self.total_spent {
                    self.attachments_warned = true;
                    self.limits
                        .push("more attachment storages than the parts limit; the rest not read".into());
                }
                break;
            }
            self.attachments_left -= 1;
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let lim = MsgLimits {
            max_depth: 8,
            max_stream: 1 << 20,
            max_total: 1 << 24,
            max_attachments: 100,
            max_time: std::time::Duration::from_secs(5),
        };
        assert!(parse(b"hello world", &lim).is_err());
        let mut b = CFB_MAGIC.to_vec();
        b.extend_from_slice(&[0u8; 600]);
        assert!(parse(&b, &lim).is_err());
    }

    #[test]
    fn codepages() {
        assert_eq!(codepage_encoding(1251).map(|e| e.name()), Some("windows-1251"));
        assert_eq!(codepage_encoding(932).map(|e| e.name()), Some("Shift_JIS"));
        assert_eq!(codepage_encoding(28595).map(|e| e.name()), Some("ISO-8859-5"));
    }
}
