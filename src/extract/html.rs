//! HTML bodies: renders visible text (tags dropped, entities decoded, zero-width characters
//! removed), collects script/style/comment text separately, and pulls link-bearing attribute
//! values (`href`, `src`, `action`, …). Everything keeps spans into the HTML source.
//! Never renders or executes anything; linear in the input.

use std::sync::LazyLock;

use base64::Engine;
use regex::Regex;

use super::mapped::{Mapped, SegKind};

pub(crate) struct Rendered {
    /// What a reader sees.
    pub visible: Mapped,
    /// Script, style and comments: scanned for URLs only.
    pub code: Mapped,
    /// Decoded attribute values that may hold a link, with the raw value's span in the source.
    pub attrs: Vec<AttrValue>,
}

pub(crate) struct AttrValue {
    pub value: String,
    pub start: usize,
    pub end: usize,
    /// The decoded value has the same bytes as the source (spans inside it are exact).
    pub verbatim: bool,
}

const LINK_ATTRS: &[&str] = &[
    "href",
    "xlink:href",
    "src",
    "action",
    "formaction",
    "background",
    "poster",
    "data",
    "content",
    "cite",
    "style",
];
const BLOCK_TAGS: &[&str] = &[
    "p",
    "div",
    "br",
    "tr",
    "td",
    "th",
    "li",
    "ul",
    "ol",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "hr",
    "title",
    "body",
    "head",
    "html",
    "section",
    "article",
    "footer",
    "header",
    "pre",
    "center",
    "dd",
    "dt",
    "form",
    "option",
    "select",
    "img",
    "input",
    "button",
];

fn find_ci(hay: &str, from: usize, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    let first = n.first()?.to_ascii_lowercase();
    let mut i = from;
    while i + n.len() <= h.len() {
        // memchr-free but linear: compare only where the first byte matches.
        if h.get(i).map(u8::to_ascii_lowercase) == Some(first)
            && h.get(i..i + n.len()).is_some_and(|w| w.eq_ignore_ascii_case(n))
        {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Renders `src`.
pub(crate) fn render(src: &str) -> Rendered {
    let mut out = Rendered {
        visible: Mapped::with_capacity(src.len() / 2),
        code: Mapped::default(),
        attrs: Vec::new(),
    };
    let b = src.as_bytes();
    let mut i = 0;
    let mut text_start = 0;
    while i < b.len() {
        let c = b.get(i).copied().unwrap_or(0);
        if c == b'&' {
            flush_text(&mut out.visible, src, text_start, i);
            let (dec, len) = decode_entity(src.get(i..).unwrap_or_default());
            match dec {
                Some(d) => {
                    out.visible.replace(&d, i, i + len, SegKind::Decoded);
                    i += len;
                }
                None => {
                    out.visible.copy("&", i);
                    i += 1;
                }
            }
            text_start = i;
            continue;
        }
        if c != b'<' {
            i = next_markup(b, i + 1);
            continue;
        }
        let next = b.get(i + 1).copied().unwrap_or(0);
        if !(next.is_ascii_alphabetic() || next == b'/' || next == b'!' || next == b'?') {
            i += 1;
            continue;
        }
        flush_text(&mut out.visible, src, text_start, i);
        if src.get(i..i + 4) == Some("<!--") {
            let end = src.get(i + 4..).and_then(|r| r.find("-->")).map_or(b.len(), |p| i + 4 + p);
            out.code.copy(src.get(i + 4..end).unwrap_or_default(), i + 4);
            out.code.replace("\n", end, end, SegKind::Decoded);
            i = (end + 3).min(b.len());
            text_start = i;
            continue;
        }
        let Some(close) = tag_end(b, i + 1) else {
            // An unterminated tag: the rest is not text anyone sees.
            out.code.copy(src.get(i..).unwrap_or_default(), i);
            i = b.len();
            text_start = i;
            break;
        };
        let tag = src.get(i + 1..close).unwrap_or_default();
        let name_end = tag
            .find(|ch: char| ch.is_ascii_whitespace() || ch == '>' || ch == '/')
            .map_or(tag.len(), |p| if p == 0 && tag.starts_with('/') { 1 } else { p });
        let name_end = if tag.starts_with('/') {
            tag.get(1..)
                .and_then(|t| t.find(|ch: char| ch.is_ascii_whitespace() || ch == '>'))
                .map_or(tag.len(), |p| p + 1)
        } else {
            name_end
        };
        let name = tag.get(..name_end).unwrap_or_default().trim_start_matches('/').to_ascii_lowercase();
        if !tag.starts_with('/') {
            collect_attrs(src, i + 1 + name_end, close, &mut out.attrs);
        }
        if BLOCK_TAGS.contains(&name.as_str()) {
            out.visible.replace("\n", i, close + 1, SegKind::Decoded);
        }
        i = close + 1;
        if !tag.starts_with('/') && (name == "script" || name == "style") {
            let end = find_ci(src, i, &format!("</{name}")).unwrap_or(b.len());
            out.code.copy(src.get(i..end).unwrap_or_default(), i);
            out.code.replace("\n", end, end, SegKind::Decoded);
            i = end;
        }
        text_start = i;
    }
    flush_text(&mut out.visible, src, text_start, b.len().min(i.max(text_start)));
    out
}

/// The first `<` or `&` at or after `from` (or the end): sixteen bytes at a time while none
/// is among them (a test the compiler turns into vector compares), then byte by byte.
fn next_markup(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(block) = b.get(i..i + 16) {
        if block.iter().fold(false, |any, &c| any | (c == b'<') | (c == b'&')) {
            break;
        }
        i += 16;
    }
    while let Some(&c) = b.get(i) {
        if c == b'<' || c == b'&' {
            break;
        }
        i += 1;
    }
    i.min(b.len())
}

/// Copies text, dropping zero-width characters used to split domains (`evil\u{200b}.com`).
fn flush_text(m: &mut Mapped, src: &str, start: usize, end: usize) {
    let Some(run) = src.get(start..end) else {
        return;
    };
    // Every dropped character is non-ASCII: an ASCII run is copied whole.
    if run.is_ascii() {
        m.copy(run, start);
        return;
    }
    let mut seg = 0;
    for (p, ch) in run.char_indices() {
        if is_invisible(ch) {
            m.copy(run.get(seg..p).unwrap_or_default(), start + seg);
            seg = p + ch.len_utf8();
        }
    }
    m.copy(run.get(seg..).unwrap_or_default(), start + seg);
}

fn is_invisible(ch: char) -> bool {
    matches!(ch, '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{00ad}')
}

/// Index of the `>` closing the tag that starts at `from`, skipping quoted attribute values.
fn tag_end(b: &[u8], from: usize) -> Option<usize> {
    let mut quote = 0u8;
    for (j, &c) in b.iter().enumerate().skip(from) {
        if quote != 0 {
            if c == quote {
                quote = 0;
            }
        } else if c == b'"' || c == b'\'' {
            quote = c;
        } else if c == b'>' {
            return Some(j);
        }
    }
    None
}

fn collect_attrs(src: &str, from: usize, to: usize, attrs: &mut Vec<AttrValue>) {
    let b = src.as_bytes();
    let mut i = from;
    while i < to {
        while i < to && !b.get(i).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
        }
        let ns = i;
        while i < to && b.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b':') {
            i += 1;
        }
        let name = src.get(ns..i).unwrap_or_default().to_ascii_lowercase();
        while i < to && b.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while i < to && b.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let (vs, ve) = match b.get(i) {
            Some(&q) if q == b'"' || q == b'\'' => {
                let s = i + 1;
                let e = (s..to).find(|&j| b.get(j) == Some(&q)).unwrap_or(to);
                i = e + 1;
                (s, e)
            }
            _ => {
                let s = i;
                while i < to && !b.get(i).is_some_and(u8::is_ascii_whitespace) {
                    i += 1;
                }
                (s, i)
            }
        };
        if LINK_ATTRS.contains(&name.as_str()) {
            let raw = src.get(vs..ve).unwrap_or_default();
            let value = decode_entities(raw);
            let lead = value.len() - value.trim_start().len();
            let verbatim = value == raw;
            attrs.push(AttrValue {
                value: value.trim().to_owned(),
                start: vs + if verbatim { lead } else { 0 },
                end: ve,
                verbatim,
            });
        }
    }
}

/// A string literal decoded out of script code.
pub(crate) struct DecodedLiteral {
    pub text: String,
    /// Span of the call in the script text.
    pub start: usize,
    pub end: usize,
    pub how: &'static str,
}

/// No capture groups (the parts are split off by hand): captures over a long literal would run
/// in the slow PikeVM, the match alone in the lazy DFA.
static SCRIPT_LITERAL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?-u:\b)(?:unescape|decodeURIComponent|decodeURI|atob)\s*\(\s*(?:"[^"]{16,}"|'[^']{16,}')"#)
        .ok()
});

/// Finds `unescape("%3C..")`, `decodeURIComponent(..)` and `atob("..")` calls with a literal
/// argument and decodes them (percent-decoding or base64; output never longer than input).
pub(crate) fn decode_script_literals(code: &str) -> Vec<DecodedLiteral> {
    let Some(re) = SCRIPT_LITERAL.as_ref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for all in re.find_iter(code) {
        // NAME `(` QUOTE ARG QUOTE: the first quote opens the literal, the match's last byte
        // closes it.
        let call = all.as_str();
        let Some(open) = call.find(['"', '\'']) else {
            continue;
        };
        let Some(arg) = call.get(open + 1..call.len() - 1) else {
            continue;
        };
        let (text, how) = if call.starts_with("atob") {
            let cleaned: String = arg.chars().filter(|c| !c.is_whitespace()).collect();
            match base64::engine::general_purpose::STANDARD.decode(cleaned.as_bytes()) {
                Ok(b) => (String::from_utf8_lossy(&b).into_owned(), "atob"),
                Err(_) => continue,
            }
        } else {
            (percent_decode(arg), "unescape")
        };
        out.push(DecodedLiteral { text, start: all.start(), end: all.end(), how });
    }
    out
}

/// `%XX` and `%uXXXX` (JavaScript `unescape`) decoding; invalid escapes are kept.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut bytes = Vec::with_capacity(b.len());
    let mut out = String::with_capacity(b.len());
    let hex = |x: &[u8]| std::str::from_utf8(x).ok().and_then(|h| u32::from_str_radix(h, 16).ok());
    let mut i = 0;
    while i < b.len() {
        let c = b.get(i).copied().unwrap_or(0);
        if c == b'%' {
            if b.get(i + 1) == Some(&b'u')
                && let Some(ch) = b.get(i + 2..i + 6).and_then(hex).and_then(char::from_u32)
            {
                out.push_str(&String::from_utf8_lossy(&bytes));
                bytes.clear();
                out.push(ch);
                i += 6;
                continue;
            }
            if let Some(v) = b.get(i + 1..i + 3).and_then(hex).and_then(|v| u8::try_from(v).ok()) {
                bytes.push(v);
                i += 3;
                continue;
            }
        }
        bytes.push(c);
        i += 1;
    }
    out.push_str(&String::from_utf8_lossy(&bytes));
    out
}

/// Decodes all entities of an attribute value.
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(rest.get(..p).unwrap_or_default());
        let tail = rest.get(p..).unwrap_or_default();
        let (dec, len) = decode_entity(tail);
        match dec {
            Some(d) => {
                out.push_str(&d);
                rest = tail.get(len..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = tail.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes the entity at the start of `s` (which begins with `&`): the text and bytes consumed.
fn decode_entity(s: &str) -> (Option<String>, usize) {
    let body_end = s
        .bytes()
        .take(34)
        .skip(1)
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'#'))
        .map_or(s.len().min(34), |p| p + 1);
    let body = s.get(1..body_end).unwrap_or_default();
    let semi = s.as_bytes().get(body_end) == Some(&b';');
    let len = body_end + usize::from(semi);
    let ch = if let Some(num) = body.strip_prefix('#') {
        let n = match num.strip_prefix(['x', 'X']) {
            Some(h) => u32::from_str_radix(h, 16).ok(),
            None => num.parse::<u32>().ok(),
        };
        let Some(n) = n else { return (None, 0) };
        if (0xD800..0xDC00).contains(&n) {
            // A surrogate pair written as two entities (`&#55349;&#57308;`): browsers show the
            // character, so the text a victim reads has it.
            let (low, low_len) = match s.get(len..).filter(|r| r.starts_with("&#")) {
                Some(r) => {
                    let end = r.find(';').filter(|&e| e < 12);
                    let num = end.and_then(|e| r.get(2..e));
                    let v = num.and_then(|d| match d.strip_prefix(['x', 'X']) {
                        Some(h) => u32::from_str_radix(h, 16).ok(),
                        None => d.parse::<u32>().ok(),
                    });
                    (v, end.map_or(0, |e| e + 1))
                }
                None => (None, 0),
            };
            return match low.filter(|l| (0xDC00..0xE000).contains(l)) {
                Some(l) => {
                    let c = char::from_u32(0x10000 + ((n - 0xD800) << 10) + (l - 0xDC00));
                    (c.map(|c| c.to_string()), len + low_len)
                }
                None => (Some('\u{FFFD}'.to_string()), len),
            };
        }
        match char::from_u32(n) {
            Some(c) if is_invisible(c) => return (Some(String::new()), len),
            Some(c) => c,
            None => return (Some('\u{FFFD}'.to_string()), len),
        }
    } else {
        let c = match body.to_ascii_lowercase().as_str() {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" | "ensp" | "emsp" | "thinsp" => ' ',
            "shy" | "zwnj" | "zwj" => return (Some(String::new()), len),
            "period" => '.',
            "colon" => ':',
            "sol" => '/',
            "commat" => '@',
            "lpar" => '(',
            "rpar" => ')',
            "lowbar" => '_',
            "hyphen" | "dash" => '-',
            "copy" => '©',
            "reg" => '®',
            "hellip" => '…',
            "ndash" => '–',
            "mdash" => '—',
            "lsquo" => '‘',
            "rsquo" => '’',
            "ldquo" => '“',
            "rdquo" => '”',
            "laquo" => '«',
            "raquo" => '»',
            "bull" => '•',
            "middot" => '·',
            "euro" => '€',
            _ => return (None, 0),
        };
        if !semi && !matches!(body, "amp" | "lt" | "gt" | "quot" | "nbsp") {
            return (None, 0);
        }
        c
    };
    (Some(ch.to_string()), len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_text_and_attrs() {
        let src = "<html><style>e.style{}</style><p>Go&nbsp;to evil&#46;example.com</p>\
                   <a href=\"https://x.example.com/?a=1&amp;b=2\">here</a><!-- c.example.org -->\
                   <script>t.target='http://js.example.net/'</script>ev<span>il.ex</span>ample.org";
        let r = render(src);
        assert!(r.visible.text.contains("Go to evil.example.com"), "{}", r.visible.text);
        assert!(r.visible.text.contains("evil.example.org"), "{}", r.visible.text);
        assert!(!r.visible.text.contains("e.style"));
        assert!(r.code.text.contains("e.style") && r.code.text.contains("js.example.net"));
        let a = r.attrs.first();
        assert_eq!(a.map(|a| a.value.as_str()), Some("https://x.example.com/?a=1&b=2"));
        assert!(a.is_some_and(|a| &src[a.start..a.end] == "https://x.example.com/?a=1&amp;b=2"));
        let p = r.visible.text.find("evil.example.com").unwrap_or(0);
        let (s, e) = r.visible.to_src(p, p + "evil.example.com".len());
        assert_eq!(&src[s..e], "evil&#46;example.com");
    }

    #[test]
    fn decodes_script_literals() {
        let code = r#"document.write(unescape("%3Ca%20href%3D%22https%3A//x.example.com/%22%3E")); var p = atob('PGEgaHJlZj0iaHR0cHM6Ly95LmV4YW1wbGUuY29tLyI+');"#;
        let d = decode_script_literals(code);
        assert_eq!(d.first().map(|d| d.text.as_str()), Some("<a href=\"https://x.example.com/\">"));
        assert_eq!(d.get(1).map(|d| d.text.as_str()), Some("<a href=\"https://y.example.com/\">"));
    }

    #[test]
    fn hostile_html_is_linear() {
        let t0 = std::time::Instant::now();
        let _ = render(&"<a href=\"".repeat(100_000));
        let _ = render(&"<".repeat(1_000_000));
        let _ = render(&"&".repeat(1_000_000));
        let _ = render(&"<b>".repeat(300_000));
        // Generous: this catches quadratic blow-ups (minutes), not speed (see the benchmark).
        assert!(t0.elapsed().as_secs() < 60);
    }
}
