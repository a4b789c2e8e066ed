//! Kit fingerprints, pure: the *shape* of a URL path (what a phishing kit keeps while its
//! per-victim tokens change) and a SimHash of an HTML body (near-duplicate bodies have hashes a
//! few bits apart). `service::campaigns` groups drafts by them.
//!
//! Why SimHash (Charikar 2002, as used for near-duplicate web pages by Manku et al. 2007) and
//! not MinHash: one 64-bit number per body is stored and compared in constant time, and its four
//! 16-bit bands index it in the database (two hashes within 3 bits share a band by the
//! pigeonhole principle), so finding near-duplicates at import is one indexed lookup. Its
//! features are 3-shingles of a token stream that keeps the markup's structure (tag names,
//! attribute names, class values) and the visible words, with numbers and hex runs folded, so
//! per-recipient names, links and tokens move few bits. Own code (about 100 lines): the crates
//! found hash differently per process or pull a tokenizer we do not need; this one is FNV-1a
//! over fixed bytes, stable across builds, machines and versions, which stored hashes require.

/// Bytes of HTML read for a hash: a kit's page is recognised by its beginning.
const MAX_HTML_BYTES: usize = 256 * 1024;
/// Tokens kept (bounds the work on hostile input).
const MAX_TOKENS: usize = 20_000;
/// Fewer shingles than this: too little text to call two bodies the same kit.
const MIN_SHINGLES: usize = 24;
/// Bits within which two bodies are near-duplicates.
pub const NEAR_BITS: u32 = 3;

fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A word with its digits and long hex runs folded (`invoice 48213` and `invoice 99120` read
/// alike).
fn fold(word: &str) -> String {
    let lower = word.to_lowercase();
    let hexish = lower.len() >= 8 && lower.chars().all(|c| c.is_ascii_hexdigit());
    if hexish || lower.chars().any(|c| c.is_ascii_digit()) {
        return "#".into();
    }
    lower
}

/// The token stream of an HTML text: `<tag`, `@attr`, `.class` and folded words.
fn tokens(html: &str) -> Vec<String> {
    let mut end = html.len().min(MAX_HTML_BYTES);
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    let html = html.get(..end).unwrap_or_default();
    let mut out = Vec::new();
    let mut rest = html;
    while !rest.is_empty() && out.len() < MAX_TOKENS {
        let Some(lt) = rest.find('<') else {
            words(rest, &mut out);
            break;
        };
        words(rest.get(..lt).unwrap_or_default(), &mut out);
        let after = rest.get(lt + 1..).unwrap_or_default();
        let gt = after.find('>').unwrap_or(after.len());
        let tag = after.get(..gt).unwrap_or_default();
        rest = after.get(gt + 1..).unwrap_or_default();
        if tag.starts_with('!') || tag.starts_with('?') {
            continue; // comments, doctype: nothing a kit keeps
        }
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        if matches!(name.as_str(), "style" | "script") && !tag.starts_with('/') {
            // Their contents are not words; skip to the closing tag.
            rest = rest.get(closing(rest, &name)..).unwrap_or_default();
        }
        if tag.starts_with('/') {
            continue;
        }
        out.push(format!("<{name}"));
        attributes(tag, &mut out);
    }
    out.truncate(MAX_TOKENS);
    out
}

/// Where `</name` starts in `rest` (ASCII case-insensitive), or its end: linear, no copy.
fn closing(rest: &str, name: &str) -> usize {
    rest.match_indices("</")
        .map(|(i, _)| i)
        .find(|&i| rest.get(i + 2..i + 2 + name.len()).is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .unwrap_or(rest.len())
}

fn words(text: &str, out: &mut Vec<String>) {
    for w in text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() > 1) {
        if out.len() >= MAX_TOKENS {
            return;
        }
        out.push(fold(w));
    }
}

/// Attribute names, and the values of `class` (kits keep their CSS).
fn attributes(tag: &str, out: &mut Vec<String>) {
    let mut s = tag.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    while let Some(eq) = s.find('=') {
        let name = s.get(..eq).unwrap_or_default().trim();
        let name = name.rsplit(char::is_whitespace).next().unwrap_or(name).to_ascii_lowercase();
        let v = s.get(eq + 1..).unwrap_or_default().trim_start();
        let (value, next) = match v.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = v.get(1..).unwrap_or_default();
                let end = body.find(q).unwrap_or(body.len());
                (body.get(..end).unwrap_or_default(), body.get(end + 1..).unwrap_or_default())
            }
            _ => {
                let end = v.find(char::is_whitespace).unwrap_or(v.len());
                (v.get(..end).unwrap_or_default(), v.get(end..).unwrap_or_default())
            }
        };
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            out.push(format!("@{name}"));
            if name == "class" {
                out.extend(value.split_whitespace().take(8).map(|c| format!(".{}", fold(c))));
            }
        }
        s = next;
    }
}

/// The SimHash of an HTML body, or `None` when it holds too little to compare.
pub fn simhash(html: &str) -> Option<u64> {
    let toks = tokens(html);
    if toks.len() < MIN_SHINGLES + 2 {
        return None;
    }
    let mut weights = [0i64; 64];
    for w in toks.windows(3) {
        let h = fnv1a(w.iter().flat_map(|t| t.bytes().chain(std::iter::once(0))));
        for (bit, weight) in weights.iter_mut().enumerate() {
            if h >> bit & 1 == 1 {
                *weight += 1;
            } else {
                *weight -= 1;
            }
        }
    }
    Some(weights.iter().enumerate().fold(0u64, |acc, (bit, w)| if *w > 0 { acc | 1 << bit } else { acc }))
}

/// Bits in which two hashes differ.
pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// The four 16-bit bands of a hash as index keys (`0:ab12`): hashes within [`NEAR_BITS`] bits
/// share at least one.
pub fn bands(h: u64) -> [String; 4] {
    [0u32, 1, 2, 3].map(|i| format!("{i}:{:04x}", (h >> (16 * i)) & 0xffff))
}

/// A path segment that varies per victim or per deployment.
fn variable(segment: &str) -> Option<&'static str> {
    let s = segment;
    let len = s.chars().count();
    if s.is_empty() {
        return None;
    }
    if s.chars().all(|c| c.is_ascii_digit()) {
        return Some("{n}");
    }
    let uuid = len == 36 && s.chars().enumerate().all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-'));
    if uuid && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit()) {
        return Some("{uuid}");
    }
    if len >= 8 && s.chars().all(|c| c.is_ascii_hexdigit()) && s.chars().any(|c| c.is_ascii_digit()) {
        return Some("{hex}");
    }
    if s.contains('@') {
        return Some("{email}");
    }
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let letters = s.chars().filter(char::is_ascii_alphabetic).count();
    let tokenish = s.chars().all(|c| c.is_ascii_alphanumeric() || "-_=.~".contains(c));
    if tokenish && len >= 16 && digits >= 2 && letters >= 2 && !s.contains('.') {
        return Some("{token}");
    }
    None
}

/// Static files: every site has them, no kit is recognised by them.
const STATIC: &[&str] = &[
    ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".css", ".js", ".woff", ".woff2", ".ttf", ".webp",
    ".bmp",
];

/// The shape of a URL's path and query: each segment that varies (numbers, hex, UUIDs, long
/// tokens, addresses) replaced by a placeholder, the rest lowercased; query parameter names
/// kept sorted, their values dropped. `None` for paths too generic to link two emails (fewer
/// than two segments and no query, or a static file).
pub fn path_shape(url: &str) -> Option<String> {
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let path_start = after_scheme.find(['/', '?', '#'])?;
    let rest = after_scheme.get(path_start..)?;
    let rest = rest.split('#').next().unwrap_or_default();
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let lower = path.to_ascii_lowercase();
    if STATIC.iter().any(|x| lower.ends_with(x)) {
        return None;
    }
    let mut names: Vec<String> = query
        .split('&')
        .filter_map(|p| p.split('=').next())
        .filter(|n| !n.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    names.sort();
    names.dedup();
    if segments.len() < 2 && names.is_empty() {
        return None;
    }
    // A path of placeholders only says nothing of the kit (`/{n}/{token}`).
    let shaped: Vec<String> =
        segments.iter().map(|s| variable(s).map_or_else(|| s.to_ascii_lowercase(), str::to_string)).collect();
    if shaped.iter().all(|s| s.starts_with('{')) && names.is_empty() {
        return None;
    }
    let mut out = format!("/{}", shaped.join("/"));
    if !names.is_empty() {
        out.push('?');
        out.push_str(&names.join("&"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kit_path_keeps_its_literals_and_folds_its_tokens() {
        assert_eq!(
            path_shape("https://a.example/wp-content/x/9f86d081884c7d65/login.php").as_deref(),
            Some("/wp-content/x/{hex}/login.php")
        );
        assert_eq!(
            path_shape("http://b.example/wp-content/x/0123abcd4567ef89/login.php?u=bob@acme.com&id=7")
                .as_deref(),
            Some("/wp-content/x/{hex}/login.php?id&u")
        );
        assert_eq!(
            path_shape("https://c.example/s/3f2504e0-4f89-11d3-9a0c-0305e82c3301/auth").as_deref(),
            Some("/s/{uuid}/auth")
        );
        assert_eq!(path_shape("https://c.example/r/aZ3k9Qw2Lm8Xp4Rt7").as_deref(), Some("/r/{token}"));
    }

    #[test]
    fn generic_paths_and_static_files_have_no_shape() {
        assert_eq!(path_shape("https://a.example/"), None);
        assert_eq!(path_shape("https://a.example"), None);
        assert_eq!(path_shape("https://a.example/login"), None);
        assert_eq!(path_shape("https://a.example/img/logo.png"), None);
        assert_eq!(path_shape("https://a.example/123/aZ3k9Qw2Lm8Xp4Rt7"), None);
        assert_eq!(path_shape("https://a.example/login?next=1").as_deref(), Some("/login?next"));
    }

    fn page(name: &str, amount: u32) -> String {
        format!(
            "<html><head><style>.x{{color:red}}</style></head><body><div class=\"card main\">\
             <img src=\"https://cdn.example/logo.png\"><h1>Your mailbox is almost full</h1>\
             <p>Dear {name}, your account storage has reached {amount} MB of the allowed quota. \
             To avoid losing incoming messages please verify your account within 24 hours.</p>\
             <form action=\"https://evil.example/{amount}/post.php\" method=\"post\">\
             <input type=\"password\" name=\"pw\"><button class=\"btn\">Verify now</button></form>\
             <p class=\"foot\">Microsoft Corporation, One Microsoft Way, Redmond</p>\
             <p class=\"legal\">This message was sent from an unmonitored address. Please do not reply \
             to this message. Your privacy is important to us: read our privacy statement to learn how \
             we protect your personal information and how you can manage the messages you receive from \
             the service. You are receiving this notice because you are a registered user of the mail \
             service and your mailbox settings require verification whenever the storage limit of the \
             account is close to being reached or when unusual activity is detected on the account. \
             If you did not request this change, contact the support team from the help centre page. \
             Messages that cannot be delivered will be returned to the sender with a notice explaining \
             why the delivery failed, and the sender may try again later once the quota allows it.</p>\
             </div></body></html>"
        )
    }

    /// A kit's page is a few hundred tokens; on a page of 60 a single changed word already moves
    /// the hash by more than [`NEAR_BITS`] (SimHash is a statistic over the shingles).
    #[test]
    fn near_duplicates_are_within_a_few_bits_and_others_are_not() {
        let a = simhash(&page("alice", 4812)).expect("enough text");
        let b = simhash(&page("bob", 99)).expect("enough text");
        assert!(distance(a, b) <= NEAR_BITS, "{a:016x} {b:016x}: {}", distance(a, b));
        let other = "<html><body><table><tr><td>Weekly newsletter</td></tr><tr><td>Here are the \
                     articles our editors picked for you this week: gardening in winter, the best \
                     soups, a short history of the bicycle and ten tips for better sleep at night. \
                     Unsubscribe at any time from the preferences page.</td></tr></table></body></html>";
        let c = simhash(other).expect("enough text");
        assert!(distance(a, c) > NEAR_BITS * 3, "{}", distance(a, c));
        // Sharing a band is what the index finds: near hashes share one.
        let (ba, bb) = (bands(a), bands(b));
        assert!(ba.iter().zip(&bb).any(|(x, y)| x == y));
    }

    #[test]
    fn small_or_hostile_bodies_are_bounded() {
        assert_eq!(simhash("<p>Hi</p>"), None);
        assert_eq!(simhash(""), None);
        let huge = "<div class=\"a\">word ".repeat(200_000);
        assert!(simhash(&huge).is_some());
        let broken = "<<<>>><a href=\"x\" class='y z'<b =>=\"\"é<script>never closed";
        let _ = simhash(&broken.repeat(100));
        assert!(tokens(&huge).len() <= MAX_TOKENS);
    }
}
