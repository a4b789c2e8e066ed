//! Active content in HTML and SVG attachments beyond plain links: base64 blobs in script string
//! literals that decode to a URL or to HTML, and `data:` URLs carrying HTML, SVG or text. One
//! level, bounded: the caller scans what comes out as HTML (and does not decode again past its
//! own depth limit).

use std::sync::LazyLock;

use base64::Engine;
use regex::Regex;

use super::html::DecodedLiteral;

/// Literals and `data:` URLs decoded per text.
const MAX_BLOBS: usize = 16;
/// A blob longer than this is not decoded (a real page hides kilobytes, not megabytes).
const MAX_BLOB: usize = 1024 * 1024;

// No capture groups in these two: the lazy DFA finds the matches and their parts are split off
// by hand (captures over a long blob would run in the slow PikeVM).
static B64_LITERAL: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#""[A-Za-z0-9+/_-]{16,}={0,2}"|'[A-Za-z0-9+/_-]{16,}={0,2}'"#).ok());
static DATA_URL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?i)data:(?:text/html|image/svg\+xml|text/plain|application/xhtml\+xml)(?:;[a-z0-9=_-]+)*,[^"'\s<>)]+"#)
        .ok()
});

/// Base64 string literals in script code whose decoded bytes are a URL or HTML (`atob(u)` with
/// `u` set elsewhere, or a blob passed around). Literals already decoded at `skip` are left.
pub(crate) fn base64_literals(code: &str, skip: &[(usize, usize)]) -> Vec<DecodedLiteral> {
    let Some(re) = B64_LITERAL.as_ref() else { return Vec::new() };
    let mut out = Vec::new();
    for all in re.find_iter(code) {
        if out.len() >= MAX_BLOBS {
            break;
        }
        // The literal between its quotes.
        let Some(arg) = all.as_str().get(1..all.len() - 1) else { continue };
        if arg.len() > MAX_BLOB || skip.iter().any(|&(s, e)| s < all.end() && all.start() < e) {
            continue;
        }
        let Some(text) = decode_b64(arg) else { continue };
        if looks_like_link_or_html(&text) {
            out.push(DecodedLiteral { text, start: all.start(), end: all.end(), how: "base64" });
        }
    }
    out
}

/// `data:text/html;base64,…`, `data:image/svg+xml,%3Csvg…` and the like in `text`: decoded
/// bodies with the span of each URL.
pub(crate) fn data_urls(text: &str) -> Vec<DecodedLiteral> {
    let Some(re) = DATA_URL.as_ref() else { return Vec::new() };
    let mut out = Vec::new();
    for all in re.find_iter(text).take(MAX_BLOBS) {
        // `data:` TYPE PARAMETERS `,` BODY: neither type nor parameters hold a comma; base64
        // when the last parameter is `;base64`.
        let Some((head, body)) = all.as_str().split_once(',') else { continue };
        if body.len() > MAX_BLOB {
            continue;
        }
        let base64 =
            head.len() >= 7 && head.get(head.len() - 7..).is_some_and(|p| p.eq_ignore_ascii_case(";base64"));
        let decoded = if base64 {
            decode_b64(&super::wrappers::percent_decode(body))
        } else {
            Some(super::wrappers::percent_decode(body))
        };
        if let Some(text) = decoded.filter(|t| !t.trim().is_empty()) {
            out.push(DecodedLiteral { text, start: all.start(), end: all.end(), how: "data: URL" });
        }
    }
    out
}

fn decode_b64(s: &str) -> Option<String> {
    let cleaned: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let trimmed = cleaned.trim_end_matches('=');
    let bytes = if trimmed.contains(['-', '_']) {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed)
    } else {
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed)
    };
    let bytes = bytes.ok()?;
    String::from_utf8(bytes).ok()
}

/// A decoded blob worth scanning: a URL, or markup.
fn looks_like_link_or_html(t: &str) -> bool {
    let head = t.trim_start().get(..t.trim_start().len().min(512)).unwrap_or_default().to_ascii_lowercase();
    head.starts_with("http://")
        || head.starts_with("https://")
        || head.starts_with("//")
        || head.contains("<html")
        || head.contains("<script")
        || head.contains("<a ")
        || head.contains("<form")
        || head.contains("<svg")
        || head.contains("<iframe")
        || head.contains("<meta")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_literals_that_are_links_or_html() {
        let code = r#"var u = "aHR0cHM6Ly9ldmlsLmV4YW1wbGUvbG9naW4="; var k = "QUFBQUFBQUFBQUFBQUFBQUFBQUE="; window.location = atob(u);"#;
        let d = base64_literals(code, &[]);
        assert_eq!(d.len(), 1);
        assert_eq!(d.first().map(|d| d.text.as_str()), Some("https://evil.example/login"));
        assert!(base64_literals(code, &[(0, code.len())]).is_empty());
    }

    #[test]
    fn data_urls_decoded_one_level() {
        let t = r#"<iframe src="data:text/html;base64,PGEgaHJlZj0iaHR0cHM6Ly9kYXRhLmV4YW1wbGUvIj54PC9hPg=="></iframe>
<a href="data:text/html,%3Cform%20action%3D%22https://post.example/%22%3E">"#;
        let d = data_urls(t);
        assert_eq!(d.first().map(|d| d.text.as_str()), Some(r#"<a href="https://data.example/">x</a>"#));
        assert_eq!(d.get(1).map(|d| d.text.as_str()), Some(r#"<form action="https://post.example/">"#));
        assert!(data_urls("data:image/png;base64,iVBORw0KGgo=").is_empty());
    }
}
