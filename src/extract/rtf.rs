//! Outlook RTF bodies: LZFu decompression (MS-OXRTFCP) and conversion of the RTF to text, or to
//! the original HTML when the RTF encapsulates HTML (`\fromhtml1`, MS-OXRTFEX).

const PREBUF: &[u8] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

/// Decompresses a `PR_RTF_COMPRESSED` stream; `max_out` bounds the output.
pub(crate) fn decompress(data: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let u32_at = |i: usize| -> Option<u32> {
        let b = data.get(i..i + 4)?;
        Some(u32::from_le_bytes([*b.first()?, *b.get(1)?, *b.get(2)?, *b.get(3)?]))
    };
    let raw_size = usize::try_from(u32_at(4)?).ok()?;
    let magic = u32_at(8)?;
    let body = data.get(16..)?;
    match magic {
        0x414c_454d => return Some(body.iter().take(raw_size.min(max_out)).copied().collect()),
        0x7546_5a4c => {}
        _ => return None,
    }
    let mut dict = [0u8; 4096];
    for (d, s) in dict.iter_mut().zip(PREBUF) {
        *d = *s;
    }
    let mut wpos = PREBUF.len();
    let cap = raw_size.min(max_out);
    let mut out = Vec::with_capacity(cap.min(1 << 20));
    let mut i = 0;
    'outer: while i < body.len() {
        let control = *body.get(i)?;
        i += 1;
        for bit in 0..8 {
            if out.len() >= cap {
                break 'outer;
            }
            if control & (1 << bit) == 0 {
                let Some(&c) = body.get(i) else { break 'outer };
                i += 1;
                out.push(c);
                if let Some(d) = dict.get_mut(wpos) {
                    *d = c;
                }
                wpos = (wpos + 1) % 4096;
            } else {
                let (Some(&hi), Some(&lo)) = (body.get(i), body.get(i + 1)) else {
                    break 'outer;
                };
                i += 2;
                let word = (usize::from(hi) << 8) | usize::from(lo);
                let offset = word >> 4;
                let len = (word & 0xf) + 2;
                if offset == wpos {
                    break 'outer;
                }
                for k in 0..len {
                    let c = dict.get((offset + k) % 4096).copied().unwrap_or(0);
                    out.push(c);
                    if let Some(d) = dict.get_mut(wpos) {
                        *d = c;
                    }
                    wpos = (wpos + 1) % 4096;
                }
            }
        }
    }
    out.truncate(cap);
    Some(out)
}

/// What an RTF body turned out to be.
pub(crate) enum RtfBody {
    Html(String),
    Text(String),
}

const SKIP_DESTS: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "info",
    "pict",
    "object",
    "header",
    "footer",
    "xmlnstbl",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "generator",
    "themedata",
    "colorschememapping",
    "datastore",
    "latentstyles",
    "pgdsctbl",
    "mmathPr",
    "filetbl",
    "revtbl",
];

#[derive(Clone, Copy)]
struct Group {
    skip: bool,
    htmlrtf: bool,
    htmltag: bool,
    uc: usize,
}

/// Converts RTF to HTML (if it encapsulates HTML) or plain text. `decode` turns `\'hh` bytes
/// into text in the document's code page.
pub(crate) fn convert(rtf: &[u8], decode: &dyn Fn(&[u8]) -> String) -> RtfBody {
    let from_html = rtf.windows(10).take(4096).any(|w| w == b"\\fromhtml1");
    let mut c = Converter {
        rtf,
        decode,
        from_html,
        out: String::new(),
        pending: Vec::new(),
        stack: Vec::new(),
        g: Group { skip: false, htmltag: false, htmlrtf: false, uc: 1 },
        skip_chars: 0,
        i: 0,
    };
    while let Some(&byte) = c.rtf.get(c.i) {
        match byte {
            b'{' => c.open_group(),
            b'}' => {
                c.flush();
                c.g = c.stack.pop().unwrap_or(c.g);
                c.i += 1;
            }
            b'\\' => c.control(),
            b'\r' | b'\n' => c.i += 1,
            _ => {
                c.i += 1;
                if c.skip_chars > 0 {
                    c.skip_chars -= 1;
                } else if c.visible() {
                    c.pending.push(byte);
                }
            }
        }
    }
    c.flush();
    if from_html { RtfBody::Html(c.out) } else { RtfBody::Text(c.out) }
}

/// The state of one conversion: the text so far, bytes waiting to be decoded in the document's
/// code page, the group stack and the read position.
struct Converter<'a> {
    rtf: &'a [u8],
    decode: &'a dyn Fn(&[u8]) -> String,
    /// Encapsulated HTML (`\fromhtml1`): only `htmltag` groups and text outside `htmlrtf` count.
    from_html: bool,
    out: String,
    pending: Vec<u8>,
    stack: Vec<Group>,
    g: Group,
    /// Fallback characters still to skip after a `\u` (the group's `\uc`).
    skip_chars: usize,
    i: usize,
}

impl Converter<'_> {
    fn visible(&self) -> bool {
        !self.g.skip && (!self.from_html || self.g.htmltag || !self.g.htmlrtf)
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.out.push_str(&(self.decode)(&self.pending));
            self.pending.clear();
        }
    }

    fn open_group(&mut self) {
        let rtf = self.rtf;
        if self.stack.len() < 256 {
            self.stack.push(self.g);
        }
        self.i += 1;
        let i = self.i;
        // `{\*\dest` groups are optional destinations: skip unless we know them.
        if rtf.get(i..i + 2) == Some(b"\\*") {
            let rest = rtf.get(i + 2..).unwrap_or_default();
            let word: Vec<u8> =
                rest.iter().skip(1).take_while(|b| b.is_ascii_alphabetic()).copied().collect();
            if word == b"htmltag" {
                self.g.htmltag = true;
            } else if word != b"mhtmltag" || !self.from_html {
                self.g.skip = true;
            }
        }
    }

    /// A backslash: a hex byte (`\'hh`), an escaped symbol or a control word.
    fn control(&mut self) {
        let rtf = self.rtf;
        let i = self.i;
        let next = rtf.get(i + 1).copied().unwrap_or(0);
        if next == b'\'' {
            let hex = rtf.get(i + 2..i + 4).unwrap_or_default();
            self.i += 4;
            if self.skip_chars > 0 {
                self.skip_chars -= 1;
            } else if let Ok(b) = u8::from_str_radix(std::str::from_utf8(hex).unwrap_or("zz"), 16)
                && self.visible()
            {
                self.pending.push(b);
            }
        } else if !next.is_ascii_alphabetic() {
            // Escaped symbol: `\{`, `\}`, `\\`, `\~` (nbsp), `\-` (optional hyphen).
            if self.visible() {
                self.flush();
                match next {
                    b'{' | b'}' | b'\\' => self.out.push(char::from(next)),
                    b'~' => self.out.push(' '),
                    b'\n' | b'\r' if !self.from_html => self.out.push('\n'),
                    _ => {}
                }
            }
            self.i += 2;
        } else {
            self.control_word();
        }
    }

    /// `\word` with an optional signed parameter and one optional space.
    fn control_word(&mut self) {
        let rtf = self.rtf;
        let ws = self.i + 1;
        let mut j = ws;
        while rtf.get(j).is_some_and(u8::is_ascii_alphabetic) && j - ws < 32 {
            j += 1;
        }
        let word = std::str::from_utf8(rtf.get(ws..j).unwrap_or_default()).unwrap_or("");
        let ns = j;
        if rtf.get(j) == Some(&b'-') {
            j += 1;
        }
        while rtf.get(j).is_some_and(u8::is_ascii_digit) && j - ns < 12 {
            j += 1;
        }
        let param: Option<i64> =
            std::str::from_utf8(rtf.get(ns..j).unwrap_or_default()).ok().and_then(|s| s.parse().ok());
        if rtf.get(j) == Some(&b' ') {
            j += 1;
        }
        self.i = j;
        if SKIP_DESTS.contains(&word) {
            self.g.skip = true;
            return;
        }
        let visible = self.visible();
        let line = !self.from_html || !self.g.htmltag;
        match word {
            "htmlrtf" => self.g.htmlrtf = param != Some(0),
            "uc" => self.g.uc = usize::try_from(param.unwrap_or(1)).unwrap_or(1).min(8),
            "u" if visible => {
                self.flush();
                let v = param.unwrap_or(0);
                let v = if v < 0 { v + 65536 } else { v };
                if let Some(ch) = u32::try_from(v).ok().and_then(char::from_u32) {
                    self.out.push(ch);
                }
                self.skip_chars = self.g.uc;
            }
            "par" | "line" if visible && line => {
                self.flush();
                self.out.push('\n');
            }
            "tab" if visible => {
                self.flush();
                self.out.push('\t');
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompresses_spec_example() {
        // MS-OXRTFCP 3.1.1: "{\rtf1\ansi\ansicpg1252\pard hello world}\r\n"
        let data: [u8; 61] = [
            0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5, 0xc7, 0xa7,
            0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42, 0x32, 0x0a, 0xf3, 0x20,
            0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0, 0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f,
            0xa0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        let out = decompress(&data, 1 << 20).unwrap_or_default();
        assert_eq!(String::from_utf8_lossy(&out), "{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n");
    }

    #[test]
    fn deencapsulates_html() {
        let rtf = br#"{\rtf1\ansi\fromhtml1 {\fonttbl{\f0 Arial;}}{\*\htmltag64 <a href="http://evil.example.com/">}\htmlrtf {\b\htmlrtf0 click\htmlrtf }\htmlrtf0 {\*\htmltag72 </a>}}"#;
        let dec = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match convert(rtf, &dec) {
            RtfBody::Html(h) => {
                assert!(h.contains("<a href=\"http://evil.example.com/\">"), "{h}");
                assert!(h.contains("click"), "{h}");
                assert!(!h.contains("Arial"), "{h}");
            }
            RtfBody::Text(t) => panic!("not html: {t}"),
        }
    }
}
