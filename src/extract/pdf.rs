//! PDF attachments, read by a small bounded tokenizer of our own (see ARCHITECTURE.md,
//! Decisions: why not `lopdf`): link targets (`/URI`, Launch / GoToR / SubmitForm `/F`), page
//! text (`Tj`, `TJ`, `'`, `"`), embedded files and images, through the common filters
//! (Flate with PNG predictors, ASCIIHex, ASCII85, LZW).
//!
//! Hostile input rules: no recursion over the file's structure, every stream decoded into a
//! buffer capped per stream and per PDF (the archive expansion budget), at most
//! [`MAX_OBJECTS`] objects and [`MAX_STREAMS`] streams looked at. Nothing here panics on
//! input; arithmetic on sizes from the file saturates.

use std::io::Read;

/// Objects looked at (a real PDF with 100k objects is a rendering job, not a phish).
const MAX_OBJECTS: usize = 50_000;
/// Streams decoded per PDF.
const MAX_STREAMS: usize = 5_000;
/// One stream's decoded bytes are at most this many.
const MAX_STREAM_OUT: u64 = 16 * 1024 * 1024;
/// Link targets and text pieces kept.
const MAX_LINKS: usize = 2_000;
/// Page text kept per PDF.
const MAX_TEXT: usize = 4 * 1024 * 1024;

/// An image XObject, for decoders that read pixels (QR codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfImage {
    /// The last filter of the chain: `DCTDecode` (then `data` is the JPEG file as-is),
    /// `FlateDecode` (then `data` is the raw pixels, predictors undone), or another name
    /// (`JPXDecode`, `CCITTFaxDecode`: `data` is the encoded stream).
    pub filter: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub bits_per_component: Option<u32>,
    /// `DeviceRGB`, `DeviceGray`, … or `None` when indirect / absent.
    pub color_space: Option<String>,
    pub data: Vec<u8>,
}

/// What one PDF yields.
#[derive(Debug, Default)]
pub(crate) struct PdfContents {
    /// Action targets (`/URI`, `/F` of Launch, GoToR, SubmitForm), one per entry.
    pub links: Vec<String>,
    /// Text shown on pages, pieces joined within a text object.
    pub text: String,
    /// Embedded files: name (from the file specification when found) and bytes.
    pub embedded: Vec<(String, Vec<u8>)>,
    pub images: Vec<PdfImage>,
    pub warnings: Vec<String>,
    pub encrypted: bool,
    /// Bytes the stream filters produced, against `budget`.
    pub decoded: u64,
    /// The budget cut a stream.
    pub over_budget: bool,
}

/// Whether `data` looks like a PDF (`%PDF-` in the first KB, as readers accept).
pub(crate) fn is_pdf(data: &[u8]) -> bool {
    data.get(..data.len().min(1024)).is_some_and(|h| h.windows(5).any(|w| w == b"%PDF-"))
}

/// Reads a PDF within `budget` decoded bytes in all.
pub(crate) fn read(data: &[u8], budget: u64) -> PdfContents {
    let mut out = PdfContents::default();
    if is_encrypted(data) {
        out.encrypted = true;
        out.warnings.push("encrypted PDF: not read".into());
        return out;
    }
    let mut r = Reader { budget, budget_warned: false, streams: 0, out };
    // Object bodies (dictionaries) to look for actions in: top-level ones, then those packed
    // in object streams.
    let mut dicts: Vec<Vec<u8>> = Vec::new();
    let mut embedded_ids: Vec<(u32, Vec<u8>)> = Vec::new();
    for obj in objects(data).take(MAX_OBJECTS) {
        match obj.stream {
            None => dicts.push(obj.body.to_vec()),
            Some(raw) => {
                dicts.push(obj.body.to_vec());
                r.stream(obj.num, obj.body, raw, &mut dicts, &mut embedded_ids);
            }
        }
    }
    let names = file_names(&dicts);
    for (num, bytes) in embedded_ids {
        let name = names
            .iter()
            .find(|(n, _)| *n == num)
            .map_or_else(|| format!("embedded-{num}"), |(_, s)| s.clone());
        r.out.embedded.push((name, bytes));
    }
    for d in &dicts {
        actions(d, &mut r.out.links);
    }
    r.out.decoded = budget.saturating_sub(r.budget);
    r.out.over_budget = r.budget_warned;
    r.out
}

/// Only the embedded images of a PDF (for QR decoding), within `budget` decoded bytes.
pub fn images(data: &[u8], budget: u64) -> Vec<PdfImage> {
    read(data, budget).images
}

fn is_encrypted(data: &[u8]) -> bool {
    // `/Encrypt` in a trailer or a cross-reference stream's dictionary, both near the end
    // (an incremental update can put a trailer anywhere, so the whole file is searched).
    find_all(data, b"/Encrypt").any(|p| {
        let after = data.get(p + 8).copied();
        after.is_none_or(|b| !b.is_ascii_alphanumeric())
    })
}

fn find_all<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let finder = memchr_find(needle);
    let mut pos = 0;
    std::iter::from_fn(move || {
        let p = finder(hay.get(pos..)?)? + pos;
        pos = p + needle.len();
        Some(p)
    })
}

fn memchr_find(needle: &[u8]) -> impl Fn(&[u8]) -> Option<usize> + '_ {
    move |h: &[u8]| {
        let first = *needle.first()?;
        let mut i = 0;
        while let Some(p) = h.get(i..)?.iter().position(|&b| b == first) {
            let s = i + p;
            if h.get(s..s + needle.len()) == Some(needle) {
                return Some(s);
            }
            i = s + 1;
        }
        None
    }
}

/// One `N G obj … endobj`: its dictionary / value bytes and, for a stream, the raw data.
struct Obj<'a> {
    num: u32,
    body: &'a [u8],
    stream: Option<&'a [u8]>,
}

/// The objects of a PDF in file order, found by their `obj` keywords (the cross-reference
/// table is not trusted: damaged and hostile files lie in it).
fn objects(data: &[u8]) -> impl Iterator<Item = Obj<'_>> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        loop {
            // `12 0 obj`: any white space before `obj` (writers use spaces or new lines).
            let p = memchr_find(b"obj")(data.get(pos..)?)? + pos;
            let next = p + 3;
            pos = next;
            let before_ws = p.checked_sub(1).and_then(|i| data.get(i)).is_some_and(u8::is_ascii_whitespace);
            if !before_ws || data.get(next).is_some_and(u8::is_ascii_alphanumeric) {
                continue;
            }
            let Some(num) = object_number(data, p) else { continue };
            let body_start = next;
            let end_obj =
                memchr_find(b"endobj")(data.get(body_start..)?).map_or(data.len(), |e| body_start + e);
            let region = data.get(body_start..end_obj)?;
            // The `stream` keyword: after the dictionary's `>>`, before an end of line (not the
            // word inside a string such as `(https://openstream.ch/)`).
            let keyword = |s: &usize| {
                region.get(..*s).is_some_and(|h| h.trim_ascii_end().ends_with(b">>"))
                    && matches!(region.get(s + 6), Some(b'\r' | b'\n'))
            };
            let Some(s) = find_all(region, b"stream").find(keyword) else {
                pos = end_obj;
                return Some(Obj { num, body: region, stream: None });
            };
            let dict = region.get(..s)?;
            let mut ds = body_start + s + 6;
            if data.get(ds) == Some(&b'\r') {
                ds += 1;
            }
            if data.get(ds) == Some(&b'\n') {
                ds += 1;
            }
            // `/Length N` when direct and consistent, else up to `endstream`.
            let declared = dict_int(dict, b"/Length").and_then(|n| usize::try_from(n).ok()).filter(|&n| {
                data.get(ds + n..).is_some_and(|t| t.trim_ascii_start().starts_with(b"endstream"))
            });
            let de = match declared {
                Some(n) => ds + n,
                None => memchr_find(b"endstream")(data.get(ds..)?).map_or(data.len(), |e| ds + e),
            };
            let raw = data.get(ds..de)?;
            let after = memchr_find(b"endobj")(data.get(de..)?).map_or(data.len(), |e| de + e);
            pos = after.max(de);
            return Some(Obj { num, body: dict, stream: Some(raw) });
        }
    })
}

/// The object number before ` obj` at `p` (`12 0 obj`), if the bytes there say so.
fn object_number(data: &[u8], p: usize) -> Option<u32> {
    let head = data.get(p.saturating_sub(24)..p)?.trim_ascii_end();
    let mut parts = head.rsplit(|b| b.is_ascii_whitespace()).filter(|t| !t.is_empty());
    let gen_tok = parts.next()?;
    let num_tok = parts.next()?;
    let num_tok = num_tok.rsplit(|b| !b.is_ascii_digit()).next()?;
    if !gen_tok.iter().all(u8::is_ascii_digit) || num_tok.is_empty() {
        return None;
    }
    std::str::from_utf8(num_tok).ok()?.parse().ok()
}

/// The integer after `key` in a dictionary, when direct (`/Length 12 0 R` is indirect: `None`).
fn dict_int(dict: &[u8], key: &[u8]) -> Option<i64> {
    let p = key_pos(dict, key)?;
    let rest = dict.get(p..)?.trim_ascii_start();
    let n: Vec<u8> = rest.iter().take_while(|b| b.is_ascii_digit() || **b == b'-').copied().collect();
    let after = rest.get(n.len()..)?.trim_ascii_start();
    // `12 0 R`: an indirect reference, not a number.
    if after.first().is_some_and(u8::is_ascii_digit) {
        let tail = after.iter().skip_while(|b| b.is_ascii_digit()).copied().collect::<Vec<u8>>();
        if tail.trim_ascii_start().starts_with(b"R") {
            return None;
        }
    }
    std::str::from_utf8(&n).ok()?.parse().ok()
}

/// Where the value of `key` starts (just after the key, which must end at a delimiter).
fn key_pos(dict: &[u8], key: &[u8]) -> Option<usize> {
    find_all(dict, key)
        .find(|&p| dict.get(p + key.len()).is_none_or(|b| !b.is_ascii_alphanumeric()))
        .map(|p| p + key.len())
}

/// The names after `key` (`/Filter /FlateDecode` or `/Filter [/A85 /Fl]`).
fn dict_names(dict: &[u8], key: &[u8]) -> Vec<String> {
    let Some(p) = key_pos(dict, key) else { return Vec::new() };
    let rest = dict.get(p..).unwrap_or_default().trim_ascii_start();
    let (list, single) = match rest.strip_prefix(b"[") {
        Some(r) => (r.get(..r.iter().position(|&b| b == b']').unwrap_or(r.len())).unwrap_or_default(), false),
        None => (rest, true),
    };
    let mut out = Vec::new();
    for tok in list.split(|&b| b == b'/').skip(1) {
        let name: String =
            tok.iter().take_while(|b| b.is_ascii_alphanumeric()).map(|&b| char::from(b)).collect();
        if !name.is_empty() {
            out.push(name);
        }
        if single || out.len() >= 8 {
            break;
        }
    }
    // `/Filter/FlateDecode`: the single name directly follows.
    if single && !rest.starts_with(b"/") {
        out.clear();
    }
    out
}

fn has_name(dict: &[u8], key: &[u8], name: &str) -> bool {
    dict_names(dict, key).iter().any(|n| n == name)
}

struct Reader {
    budget: u64,
    budget_warned: bool,
    streams: usize,
    out: PdfContents,
}

impl Reader {
    fn stream(
        &mut self,
        num: u32,
        dict: &[u8],
        raw: &[u8],
        dicts: &mut Vec<Vec<u8>>,
        embedded: &mut Vec<(u32, Vec<u8>)>,
    ) {
        self.streams += 1;
        if self.streams > MAX_STREAMS {
            if self.streams == MAX_STREAMS + 1 {
                self.out.warnings.push(format!("more than {MAX_STREAMS} streams; the rest not decoded"));
            }
            return;
        }
        let filters = dict_names(dict, b"/Filter");
        let is_image = has_name(dict, b"/Subtype", "Image");
        let is_font = key_pos(dict, b"/Length1").is_some() || has_name(dict, b"/Subtype", "Type1C");
        if is_font || has_name(dict, b"/Type", "XRef") || has_name(dict, b"/Type", "Metadata") {
            return;
        }
        // Image pixels stay encoded when a picture decoder needs the file (DCT, JPX).
        let keep_last =
            is_image && filters.last().is_some_and(|f| !matches!(f.as_str(), "FlateDecode" | "Fl"));
        let n = if keep_last { filters.len().saturating_sub(1) } else { filters.len() };
        let Some(decoded) = self.decode(dict, raw, filters.get(..n).unwrap_or_default()) else { return };
        if is_image {
            let num_of = |k: &[u8]| dict_int(dict, k).and_then(|v| u32::try_from(v).ok());
            self.out.images.push(PdfImage {
                filter: filters.last().cloned(),
                width: num_of(b"/Width"),
                height: num_of(b"/Height"),
                bits_per_component: num_of(b"/BitsPerComponent"),
                color_space: dict_names(dict, b"/ColorSpace").into_iter().next(),
                data: decoded,
            });
        } else if has_name(dict, b"/Type", "ObjStm") {
            // Objects packed after the `/First` offset: each is a body to look for actions in.
            let first = dict_int(dict, b"/First").and_then(|f| usize::try_from(f).ok()).unwrap_or(0);
            let body = decoded.get(first..).unwrap_or_default();
            for part in body.split(|&b| b == b'\n' || b == b'\r').take(MAX_OBJECTS) {
                if !part.is_empty() {
                    dicts.push(part.to_vec());
                }
            }
            // Objects are not always one per line: keep the whole for dictionaries across lines.
            dicts.push(body.to_vec());
        } else if has_name(dict, b"/Type", "EmbeddedFile") {
            embedded.push((num, decoded));
        } else {
            page_text(&decoded, &mut self.out.text);
        }
    }

    /// Undoes `filters` in order, within the stream and PDF budgets; `None` for a filter we do
    /// not read or an empty result.
    fn decode(&mut self, dict: &[u8], raw: &[u8], filters: &[String]) -> Option<Vec<u8>> {
        let mut cur = raw.to_vec();
        for f in filters {
            let cap = MAX_STREAM_OUT.min(self.budget);
            let next = match f.as_str() {
                "FlateDecode" | "Fl" => unpredict(dict, inflate(&cur, cap)),
                "ASCIIHexDecode" | "AHx" => ascii_hex(&cur),
                "ASCII85Decode" | "A85" => ascii85(&cur),
                "LZWDecode" | "LZW" => unpredict(dict, lzw(&cur, cap)),
                _ => return None,
            };
            let used = next.len() as u64;
            if used >= cap {
                self.over_budget();
            }
            self.budget = self.budget.saturating_sub(used);
            cur = next;
        }
        (!cur.is_empty()).then_some(cur)
    }

    fn over_budget(&mut self) {
        if !self.budget_warned {
            self.budget_warned = true;
            self.out.warnings.push("PDF stream over the expansion limit; cut".into());
        }
    }
}

/// Inflates a zlib stream (or raw deflate), keeping what decoded before any damage, at most
/// `cap` bytes.
fn inflate(data: &[u8], cap: u64) -> Vec<u8> {
    let zlib = data.first().is_some_and(|&b| b & 0x0f == 8) && data.len() >= 2;
    let mut out = Vec::new();
    let res = if zlib {
        flate2::read::ZlibDecoder::new(data).take(cap).read_to_end(&mut out)
    } else {
        flate2::read::DeflateDecoder::new(data).take(cap).read_to_end(&mut out)
    };
    // A truncated or damaged stream still yields what came before the damage.
    let _ = res;
    out
}

/// PNG predictors (`/Predictor` 10–15) undone row by row; other predictors left as they are.
fn unpredict(dict: &[u8], data: Vec<u8>) -> Vec<u8> {
    let predictor = dict_int(dict, b"/Predictor").unwrap_or(1);
    if predictor < 10 {
        return data;
    }
    // Clamped so a hostile `/Columns` cannot ask for a huge row (at most 4 MB).
    let get = |k: &[u8], d: i64, max: i64| dict_int(dict, k).unwrap_or(d).clamp(1, max) as usize;
    let (colors, bpc, columns) =
        (get(b"/Colors", 1, 32), get(b"/BitsPerComponent", 8, 16), get(b"/Columns", 1, 1 << 16));
    let bpp = (colors * bpc).div_ceil(8).max(1);
    let row_len = (colors * bpc * columns).div_ceil(8);
    let mut out = Vec::with_capacity(data.len());
    let mut prev = vec![0u8; row_len];
    for row in data.chunks(row_len + 1) {
        let Some((&kind, bytes)) = row.split_first() else { break };
        let mut cur = bytes.to_vec();
        cur.resize(row_len, 0);
        for i in 0..row_len {
            let left = if i >= bpp { cur.get(i - bpp).copied().unwrap_or(0) } else { 0 };
            let up = prev.get(i).copied().unwrap_or(0);
            let ul = if i >= bpp { prev.get(i - bpp).copied().unwrap_or(0) } else { 0 };
            let add = match kind {
                1 => left,
                2 => up,
                3 => ((u16::from(left) + u16::from(up)) / 2) as u8,
                4 => paeth(left, up, ul),
                _ => 0,
            };
            if let Some(c) = cur.get_mut(i) {
                *c = c.wrapping_add(add);
            }
        }
        out.extend_from_slice(&cur);
        prev = cur;
    }
    out
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

fn ascii_hex(data: &[u8]) -> Vec<u8> {
    let digits: Vec<u8> = data
        .iter()
        .take_while(|&&b| b != b'>')
        .filter_map(|&b| char::from(b).to_digit(16))
        .map(|d| d as u8)
        .collect();
    digits
        .chunks(2)
        .map(|p| (p.first().copied().unwrap_or(0) << 4) | p.get(1).copied().unwrap_or(0))
        .collect()
}

fn ascii85(data: &[u8]) -> Vec<u8> {
    let body = data.strip_prefix(b"<~").unwrap_or(data);
    let mut out = Vec::with_capacity(body.len());
    let mut group: Vec<u32> = Vec::with_capacity(5);
    for &b in body {
        match b {
            b'~' => break,
            b'z' if group.is_empty() => out.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                group.push(u32::from(b - b'!'));
                if group.len() == 5 {
                    let v = group.iter().fold(0u32, |acc, &d| acc.wrapping_mul(85).wrapping_add(d));
                    out.extend_from_slice(&v.to_be_bytes());
                    group.clear();
                }
            }
            _ => {}
        }
    }
    if group.len() > 1 {
        let n = group.len() - 1;
        group.resize(5, 84);
        let v = group.iter().fold(0u32, |acc, &d| acc.wrapping_mul(85).wrapping_add(d));
        out.extend_from_slice(v.to_be_bytes().get(..n).unwrap_or_default());
    }
    out
}

/// LZW as PDF writes it (early change), at most `cap` bytes out.
fn lzw(data: &[u8], cap: u64) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    let mut table: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    table.push(Vec::new());
    table.push(Vec::new());
    let mut width = 9u32;
    let mut prev: Option<Vec<u8>> = None;
    let (mut acc, mut nbits) = (0u32, 0u32);
    for &byte in data {
        acc = (acc << 8) | u32::from(byte);
        nbits += 8;
        while nbits >= width {
            let code = ((acc >> (nbits - width)) & ((1 << width) - 1)) as usize;
            nbits -= width;
            acc &= (1u32 << nbits).wrapping_sub(1);
            match code {
                256 => {
                    table.truncate(258);
                    width = 9;
                    prev = None;
                    continue;
                }
                257 => return out,
                _ => {}
            }
            let entry = match (table.get(code), &prev) {
                (Some(e), _) if code < table.len() && (code < 256 || !e.is_empty()) => e.clone(),
                (_, Some(p)) if code == table.len() => {
                    let mut e = p.clone();
                    e.push(p.first().copied().unwrap_or(0));
                    e
                }
                _ => return out,
            };
            out.extend_from_slice(&entry);
            if out.len() as u64 >= cap {
                out.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
                return out;
            }
            if let Some(mut p) = prev.take()
                && table.len() < 4096
            {
                p.push(entry.first().copied().unwrap_or(0));
                table.push(p);
            }
            prev = Some(entry);
            if table.len() + 1 >= (1 << width) && width < 12 {
                width += 1;
            }
        }
    }
    out
}

/// A PDF string token: `(literal)` with escapes, or `<hex>`. Returns the bytes and the end.
fn string_at(b: &[u8], i: usize) -> Option<(Vec<u8>, usize)> {
    match b.get(i)? {
        b'(' => {
            let mut out = Vec::new();
            let mut depth = 1usize;
            let mut j = i + 1;
            while let Some(&c) = b.get(j) {
                j += 1;
                match c {
                    b'\\' => {
                        let Some(&e) = b.get(j) else { break };
                        j += 1;
                        match e {
                            b'n' => out.push(b'\n'),
                            b'r' => out.push(b'\r'),
                            b't' => out.push(b'\t'),
                            b'b' => out.push(8),
                            b'f' => out.push(12),
                            b'0'..=b'7' => {
                                let mut v = u32::from(e - b'0');
                                for _ in 0..2 {
                                    match b.get(j) {
                                        Some(&d @ b'0'..=b'7') => {
                                            v = v * 8 + u32::from(d - b'0');
                                            j += 1;
                                        }
                                        _ => break,
                                    }
                                }
                                out.push((v & 0xff) as u8);
                            }
                            b'\r' => {
                                if b.get(j) == Some(&b'\n') {
                                    j += 1;
                                }
                            }
                            b'\n' => {}
                            other => out.push(other),
                        }
                    }
                    b'(' => {
                        depth += 1;
                        out.push(c);
                    }
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some((out, j));
                        }
                        out.push(c);
                    }
                    _ => out.push(c),
                }
            }
            Some((out, j))
        }
        b'<' if b.get(i + 1) != Some(&b'<') => {
            let end = b.get(i..)?.iter().position(|&c| c == b'>').map_or(b.len(), |p| i + p);
            Some((ascii_hex(b.get(i + 1..end)?), end + 1))
        }
        _ => None,
    }
}

/// Bytes of a PDF text string as text: UTF-16BE with a BOM, else Latin-1 (close enough to
/// PDFDocEncoding for URLs).
fn pdf_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xfe, 0xff]) {
        let units: Vec<u16> = rest
            .chunks(2)
            .map(|c| u16::from_be_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0)]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Text shown by a content stream: strings of `Tj`, `'`, `"` and `TJ` arrays, joined within a
/// text object (`BT … ET`) so a URL split over several operators comes out whole; a new line
/// at `ET`, `T*`, `'`, `"` and at `Td`/`TD` that move down.
fn page_text(content: &[u8], out: &mut String) {
    let mut pending: Vec<u8> = Vec::new();
    let mut in_array = false;
    let mut nums: Vec<f64> = Vec::new();
    let mut i = 0;
    let push_line = |out: &mut String| {
        if !out.is_empty() && !out.ends_with('\n') && out.len() < MAX_TEXT {
            out.push('\n');
        }
    };
    while let Some(&c) = content.get(i) {
        if out.len() >= MAX_TEXT {
            return;
        }
        match c {
            b'(' | b'<' if c == b'(' || content.get(i + 1) != Some(&b'<') => {
                let Some((s, end)) = string_at(content, i) else { break };
                pending.extend_from_slice(&s);
                i = end.max(i + 1);
                continue;
            }
            b'[' => {
                in_array = true;
                pending.clear();
            }
            b']' => in_array = false,
            b'%' => {
                // A comment runs to the end of the line.
                while content.get(i).is_some_and(|&b| b != b'\n' && b != b'\r') {
                    i += 1;
                }
                continue;
            }
            b if b.is_ascii_alphabetic() || b == b'\'' || b == b'"' || b == b'*' => {
                let start = i;
                while content
                    .get(i)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'*' || *b == b'\'' || *b == b'"')
                {
                    i += 1;
                }
                let op = content.get(start..i).unwrap_or_default();
                match op {
                    b"Tj" | b"TJ" if out.len() + pending.len() < MAX_TEXT => {
                        out.push_str(&pdf_text(&pending));
                    }
                    b"'" | b"\"" => {
                        push_line(out);
                        out.push_str(&pdf_text(&pending));
                    }
                    b"ET" | b"T*" => push_line(out),
                    b"Td" | b"TD" if nums.last().is_some_and(|&ty| ty.abs() > 0.01) => push_line(out),
                    _ => {}
                }
                if !in_array {
                    pending.clear();
                }
                nums.clear();
                continue;
            }
            b'-' | b'+' | b'.' | b'0'..=b'9' => {
                let start = i;
                while content.get(i).is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.')) {
                    i += 1;
                }
                if let Some(v) = std::str::from_utf8(content.get(start..i).unwrap_or_default())
                    .ok()
                    .and_then(|s| s.parse().ok())
                {
                    nums.push(v);
                    if nums.len() > 16 {
                        nums.remove(0);
                    }
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    push_line(out);
}

/// Action targets in one object body: `/URI (…)`, and `/F` of Launch, GoToR, GoToE and
/// SubmitForm actions (a string, or the `/F` / `/UF` of a file specification dictionary).
fn actions(body: &[u8], links: &mut Vec<String>) {
    for p in find_all(body, b"/URI").take(MAX_LINKS) {
        if links.len() >= MAX_LINKS {
            return;
        }
        let rest = body.get(p + 4..).unwrap_or_default();
        let ws = rest.len() - rest.trim_ascii_start().len();
        if let Some((s, _)) = string_at(body, p + 4 + ws) {
            links.push(pdf_text(&s));
        }
    }
    let is_action =
        [&b"/Launch"[..], b"/GoToR", b"/GoToE", b"/SubmitForm"].iter().any(|k| key_pos(body, k).is_some());
    if !is_action {
        return;
    }
    for key in [&b"/F"[..], b"/UF", b"/Unix", b"/Win", b"/DOS"] {
        for p in find_all(body, key).take(64) {
            if body.get(p + key.len()).is_some_and(u8::is_ascii_alphanumeric) {
                continue;
            }
            let rest = body.get(p + key.len()..).unwrap_or_default();
            let ws = rest.len() - rest.trim_ascii_start().len();
            if let Some((s, _)) = string_at(body, p + key.len() + ws)
                && links.len() < MAX_LINKS
            {
                links.push(pdf_text(&s));
            }
        }
    }
}

/// File specifications naming embedded files: `/EF << /F 12 0 R >>` with `/UF (name)` or
/// `/F (name)` → (12, name).
fn file_names(dicts: &[Vec<u8>]) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for d in dicts {
        let Some(ef) = key_pos(d, b"/EF") else { continue };
        let Some(refs) = d.get(ef..) else { continue };
        let Some(f) = key_pos(refs, b"/F") else { continue };
        let num: String = refs
            .get(f..)
            .unwrap_or_default()
            .trim_ascii_start()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .map(|&b| char::from(b))
            .collect();
        let Ok(num) = num.parse::<u32>() else { continue };
        let name = [&b"/UF"[..], b"/F"].iter().find_map(|k| {
            let p = key_pos(d, k)?;
            let rest = d.get(p..)?;
            let ws = rest.len() - rest.trim_ascii_start().len();
            string_at(d, p + ws).map(|(s, _)| pdf_text(&s))
        });
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            out.push((num, name));
        }
        if out.len() >= MAX_LINKS {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zlib(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        let _ = e.write_all(b);
        e.finish().unwrap_or_default()
    }

    fn pdf(objs: &[Vec<u8>]) -> Vec<u8> {
        let mut out = b"%PDF-1.7\n".to_vec();
        for (i, o) in objs.iter().enumerate() {
            let sep = if i % 2 == 0 { " " } else { "\n" };
            out.extend_from_slice(format!("{}{sep}0{sep}obj\n", i + 1).as_bytes());
            out.extend_from_slice(o);
            out.extend_from_slice(b"\nendobj\n");
        }
        out.extend_from_slice(b"trailer\n<< /Root 1 0 R >>\n%%EOF\n");
        out
    }

    fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut o = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
        o.extend_from_slice(data);
        o.extend_from_slice(b"\nendstream");
        o
    }

    #[test]
    fn flate_content_text_and_uri_in_object_stream() {
        let content = zlib(
            b"BT /F1 12 Tf 72 700 Td (Visit https://evil) Tj (.example/lo\\147in) Tj [(?id)-20(=1)] TJ ET",
        );
        let objstm = zlib(b"5 0 << /Type /Annot /A << /S /URI /URI (https://annot.example/x) >> >>");
        let data = pdf(&[
            stream("/Filter /FlateDecode", &content),
            stream("/Type /ObjStm /N 1 /First 4 /Filter [/FlateDecode]", &objstm),
            b"<< /S /Launch /F (\\\\\\\\share.example\\\\run.exe) >>".to_vec(),
            b"<< /Annots [<< /A << /S /URI /URI (https://openstream.example/) >> >> << /A << /S /URI /URI (https://after.example/) >> >>] >>".to_vec(),
            b"<< /S /SubmitForm /F << /FS /URL /F <68747470733a2f2f666f726d2e6578616d706c652f> >> >>"
                .to_vec(),
        ]);
        let c = read(&data, 1 << 30);
        assert!(c.text.contains("Visit https://evil.example/login?id=1"), "{:?}", c.text);
        assert!(c.links.contains(&"https://annot.example/x".to_owned()), "{:?}", c.links);
        assert!(c.links.contains(&"https://form.example/".to_owned()), "{:?}", c.links);
        assert!(c.links.iter().any(|l| l.contains("share.example")), "{:?}", c.links);
        assert!(c.links.contains(&"https://after.example/".to_owned()), "{:?}", c.links);
    }

    #[test]
    fn filters_predictors_and_images() {
        assert_eq!(ascii85(b"<~87cURD]i,\"Ebo80~>"), b"Hello World!");
        assert_eq!(ascii_hex(b"48 65 6c6C6f>"), b"Hello");
        // LZW example from the PDF reference (7.4.4.2).
        assert_eq!(lzw(&[0x80, 0x0B, 0x60, 0x50, 0x22, 0x0C, 0x0C, 0x85, 0x01], 1000), b"-----A---B");
        // PNG Up predictor: two rows of two bytes.
        let rows = zlib(&[2, 1, 2, 2, 1, 1]);
        let data = pdf(&[stream(
            "/Type /XObject /Subtype /Image /Width 2 /Height 2 /BitsPerComponent 8 /ColorSpace /DeviceGray /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 2 >>",
            &rows,
        )]);
        let imgs = images(&data, 1 << 30);
        assert_eq!(imgs.first().map(|i| i.data.clone()), Some(vec![1, 2, 2, 3]));
        assert_eq!(imgs.first().and_then(|i| i.color_space.clone()).as_deref(), Some("DeviceGray"));
        let jpeg =
            pdf(&[stream("/Subtype /Image /Width 1 /Height 1 /Filter /DCTDecode", b"\xff\xd8\xff\xe0JFIF")]);
        let imgs = images(&jpeg, 1 << 30);
        assert_eq!(
            imgs.first().map(|i| (i.filter.clone(), i.data.clone())),
            Some((Some("DCTDecode".into()), b"\xff\xd8\xff\xe0JFIF".to_vec()))
        );
    }

    #[test]
    fn embedded_files_encryption_and_bombs() {
        let data = pdf(&[
            b"<< /Type /Filespec /UF (inner.html) /EF << /F 2 0 R >> >>".to_vec(),
            stream(
                "/Type /EmbeddedFile /Filter /FlateDecode",
                &zlib(b"<a href=\"https://inner.example/\">x</a>"),
            ),
        ]);
        let c = read(&data, 1 << 30);
        assert_eq!(c.embedded.first().map(|(n, _)| n.as_str()), Some("inner.html"));
        let enc =
            b"%PDF-1.4\n1 0 obj\n<< /URI (https://x.example/) >>\nendobj\ntrailer\n<< /Encrypt 5 0 R >>\n";
        let c = read(enc, 1 << 30);
        assert!(c.encrypted && c.links.is_empty());
        // 50 MB of zeros in a small stream: cut at the budget, with a warning.
        let bomb = pdf(&[stream("/Filter /FlateDecode", &zlib(&vec![0u8; 50 << 20]))]);
        let c = read(&bomb, 1 << 20);
        assert!(!c.warnings.is_empty());
    }

    #[test]
    fn junk_never_panics() {
        for junk in [
            &b"%PDF-"[..],
            b"%PDF-1 obj stream",
            b"%PDF-1.1\n1 0 obj << /Length 999999 >> stream\nabc",
            b"%PDF 1 0 obj (\\",
            b"%PDF-1.7\n1 0 obj\n<< /Filter /LZW >>stream\n\xff\xff\xff\xff\nendstream",
            b"%PDF-1.7\n1 0 obj\n<< /Filter /FlateDecode /DecodeParms << /Predictor 15 /Columns 99999999999 >> >>stream\nx\nendstream",
            b"1 0 obj << /S /Launch /F",
            b"BT ( Tj",
        ] {
            let _ = read(junk, 1 << 20);
            let mut s = String::new();
            page_text(junk, &mut s);
        }
    }
}
