//! The one rule that turns a URL as found (in an email, a partner's pattern, an analyst's form)
//! into the URI STIX emits (`url` values, `url:value` patterns): RFC 3986 exactly, as the OASIS
//! validator's `uri` format checks it. Every path from a URL to STIX goes through [`to_uri`];
//! [`check`] is the same grammar as a test. Pure.
//!
//! The rule, per component (RFC 3986 §3, appendix A):
//! - scheme: kept as written (it must be valid: no scheme, no URI);
//! - userinfo: unreserved, sub-delims and `:`; everything else percent-encoded;
//! - host: an IP literal (`[IPv6]`, `[vX.…]`) is kept; a non-ASCII host becomes punycode (IDNA,
//!   as browsers do); any other character outside unreserved and sub-delims is percent-encoded
//!   (so a broken literal like `[fe80::1%eth0]` becomes a well-formed reg-name);
//! - port: digits only (a non-digit "port" was never one and stays in the host, encoded);
//! - path: pchar and `/`; query and fragment: pchar, `/` and `?` (a second `#` is encoded);
//! - `%` followed by two hex digits is an escape and kept as it is; a lone `%` becomes `%25`;
//! - every byte outside those sets, non-ASCII included (as UTF-8), becomes `%XX`.
//!
//! A valid URI comes back unchanged, and the rule is idempotent, so a value already emitted
//! (or sent by a partner in URI form) keeps its SCO id.

use std::net::Ipv6Addr;

use super::StixError;

/// The components of a URI reference, split the way RFC 3986 §3 delimits them (not checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parts<'a> {
    /// `http:` (colon included).
    scheme: &'a str,
    authority: Option<Authority<'a>>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Authority<'a> {
    userinfo: Option<&'a str>,
    host: &'a str,
    port: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Component {
    UserInfo,
    Host,
    Path,
    /// Query and fragment have the same characters.
    Query,
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn sub_delim(b: u8) -> bool {
    matches!(b, b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=')
}

/// Whether `b` may stand unescaped in `component`.
fn allowed(component: Component, b: u8) -> bool {
    let pchar = || unreserved(b) || sub_delim(b) || matches!(b, b':' | b'@');
    match component {
        Component::UserInfo => unreserved(b) || sub_delim(b) || b == b':',
        Component::Host => unreserved(b) || sub_delim(b),
        Component::Path => pchar() || b == b'/',
        Component::Query => pchar() || matches!(b, b'/' | b'?'),
    }
}

/// The length of a valid `scheme:` prefix (RFC 3986 §3.1), colon included.
fn scheme_len(value: &str) -> Option<usize> {
    let (scheme, _) = value.split_once(':')?;
    let mut bytes = scheme.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    (first_ok && rest_ok).then_some(scheme.len() + 1)
}

fn is_port(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

/// `[…]` holding an IPv6 address or an IPvFuture (`v1.x`): the only place a URI may hold `[`.
fn is_ip_literal(host: &str) -> bool {
    let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) else { return false };
    if inner.parse::<Ipv6Addr>().is_ok() {
        return true;
    }
    // IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
    inner.strip_prefix(['v', 'V']).and_then(|f| f.split_once('.')).is_some_and(|(version, address)| {
        !version.is_empty()
            && version.bytes().all(|b| b.is_ascii_hexdigit())
            && !address.is_empty()
            && address.bytes().all(|b| unreserved(b) || sub_delim(b) || b == b':')
    })
}

fn split(value: &str) -> Option<Parts<'_>> {
    let (scheme, rest) = value.split_at(scheme_len(value)?);
    let (authority, rest) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            let (authority, tail) = after.split_at(end);
            (Some(split_authority(authority)), tail)
        }
        None => (None, rest),
    };
    let (rest, fragment) = match rest.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (rest, None),
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    Some(Parts { scheme, authority, path, query, fragment })
}

fn split_authority(authority: &str) -> Authority<'_> {
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    // An IP literal ends at its `]`; a port is digits after the last colon otherwise.
    if hostport.starts_with('[')
        && let Some(end) = hostport.find(']')
    {
        let (literal, after) = hostport.split_at(end + 1);
        match after.strip_prefix(':') {
            Some(port) if is_port(port) => return Authority { userinfo, host: literal, port: Some(port) },
            None if after.is_empty() => return Authority { userinfo, host: literal, port: None },
            _ => {}
        }
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) if is_port(port) && !host.starts_with('[') => {
            Authority { userinfo, host, port: Some(port) }
        }
        _ => Authority { userinfo, host: hostport, port: None },
    }
}

/// Percent-encodes what `component` may not hold, keeping well-formed escapes.
fn encode_into(out: &mut String, text: &str, component: Component) {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let escape =
            b == b'%' && bytes.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
        if escape || allowed(component, b) {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            for nibble in [b >> 4, b & 0xF] {
                out.push(HEX.get(usize::from(nibble)).map_or('0', |&h| char::from(h)));
            }
        }
    }
}

fn is_encoded(text: &str, component: Component) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            if !bytes.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
        } else if allowed(component, b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// The URI STIX emits for a URL as found: see the module documentation for the rule. Fails only
/// without a scheme (`x.example/a` is no absolute URI, whatever is encoded) or with nothing after it.
pub fn to_uri(text: &str) -> Result<String, StixError> {
    let parts = split(text).ok_or_else(|| StixError::property("url", format!("{text:?} has no scheme")))?;
    if parts.scheme.len() == text.len() {
        return Err(StixError::property("url", format!("{text:?} has nothing after its scheme")));
    }
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(parts.scheme);
    if let Some(authority) = parts.authority {
        out.push_str("//");
        if let Some(userinfo) = authority.userinfo {
            encode_into(&mut out, userinfo, Component::UserInfo);
            out.push('@');
        }
        let host = authority.host;
        if is_ip_literal(host) {
            out.push_str(host);
        } else if host.is_ascii() {
            encode_into(&mut out, host, Component::Host);
        } else {
            // An IDN host in punycode, as today's browsers send it; a name IDNA refuses is
            // still a reg-name once its UTF-8 is percent-encoded (RFC 3986 §3.2.2).
            let ascii = idna::domain_to_ascii(host).unwrap_or_else(|_| host.to_owned());
            encode_into(&mut out, &ascii, Component::Host);
        }
        if let Some(port) = authority.port {
            out.push(':');
            out.push_str(port);
        }
    }
    encode_into(&mut out, parts.path, Component::Path);
    if let Some(query) = parts.query {
        out.push('?');
        encode_into(&mut out, query, Component::Query);
    }
    if let Some(fragment) = parts.fragment {
        out.push('#');
        encode_into(&mut out, fragment, Component::Query);
    }
    Ok(out)
}

/// Whether `value` is an absolute URI (RFC 3986 `URI`), the grammar [`to_uri`] produces.
pub fn is_uri(value: &str) -> bool {
    why_not_uri(value).is_none()
}

fn why_not_uri(value: &str) -> Option<&'static str> {
    let Some(parts) = split(value) else { return Some("no scheme") };
    if parts.scheme.len() == value.len() {
        // RFC 3986 allows `http:`; it locates nothing, and STIX's url wants a value after it.
        return Some("nothing after the scheme");
    }
    if let Some(a) = parts.authority {
        if !a.userinfo.is_none_or(|u| is_encoded(u, Component::UserInfo)) {
            return Some("a character the user info must percent-encode");
        }
        if !(is_ip_literal(a.host) || is_encoded(a.host, Component::Host)) {
            return Some("a host that is neither a name nor an IP literal");
        }
    }
    if !is_encoded(parts.path, Component::Path) {
        return Some("a path character that must be percent-encoded");
    }
    if !parts.query.is_none_or(|q| is_encoded(q, Component::Query)) {
        return Some("a query character that must be percent-encoded");
    }
    if !parts.fragment.is_none_or(|f| is_encoded(f, Component::Query)) {
        return Some("a fragment character that must be percent-encoded");
    }
    None
}

/// [`is_uri`] as the error builders report it.
pub fn check(property: &'static str, value: &str) -> Result<(), StixError> {
    match why_not_uri(value) {
        None => Ok(()),
        Some(why) => Err(StixError::property(property, format!("{value:?} is not a URI: {why}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> String {
        let out = to_uri(text).unwrap();
        assert!(is_uri(&out), "{text:?} -> {out:?} is no URI");
        assert_eq!(to_uri(&out).unwrap(), out, "not idempotent on {text:?}");
        out
    }

    #[test]
    fn valid_uris_are_unchanged() {
        for ok in [
            "https://x.example/a?b=c&d=%C3%A4#frag",
            "https://x.example/it's(1)*+,;=:@/~_-.!$",
            "http://user:pw@X.Example:8080/p?q=/?:@#f/?",
            "http://[::1]/",
            "http://[2001:db8::1]:443/x",
            "http://[v1.fe80::a+en1]/",
            "http://192.0.2.1:/",
            "mailto:a@x.example",
            "urn:isbn:0451450523",
            "http://x.example/%7e%7E",
            "http://",
        ] {
            assert!(is_uri(ok), "{ok}");
            assert_eq!(uri(ok), ok);
        }
    }

    #[test]
    fn brackets_in_path_and_query_are_encoded() {
        assert_eq!(
            uri("http://dignitygambling.com/track/[open]"),
            "http://dignitygambling.com/track/%5Bopen%5D"
        );
        assert_eq!(
            uri("http://ad.doubleclick.net/ad/N1090.cnet/B926801.16;sz=160x600;ord=[timestamp]?"),
            "http://ad.doubleclick.net/ad/N1090.cnet/B926801.16;sz=160x600;ord=%5Btimestamp%5D?"
        );
        assert_eq!(uri("http://x.example/?a[]=1&b[k]=2"), "http://x.example/?a%5B%5D=1&b%5Bk%5D=2");
        assert!(!is_uri("http://dignitygambling.com/track/[open]"));
    }

    #[test]
    fn spaces_quotes_and_other_excluded_characters_are_encoded() {
        assert_eq!(
            uri("http://x.example/a b\"<>\\^`{|}?q= x|y"),
            "http://x.example/a%20b%22%3C%3E%5C%5E%60%7B%7C%7D?q=%20x%7Cy"
        );
        assert_eq!(uri("http://x.example/\u{7f}\t"), "http://x.example/%7F%09");
    }

    #[test]
    fn unicode_path_query_and_fragment_are_utf8_escapes() {
        assert_eq!(uri("http://x.example/パス?q=ä#é"), "http://x.example/%E3%83%91%E3%82%B9?q=%C3%A4#%C3%A9");
    }

    #[test]
    fn a_lone_percent_is_encoded_but_escapes_are_kept() {
        assert_eq!(uri("http://x.example/100%?p=%zz&q=%4"), "http://x.example/100%25?p=%25zz&q=%254");
        assert_eq!(uri("http://x.example/%41%c3%a4%"), "http://x.example/%41%c3%a4%25");
    }

    #[test]
    fn one_fragment_and_its_characters() {
        assert_eq!(uri("http://x.example/a#b#c[d]"), "http://x.example/a#b%23c%5Bd%5D");
        assert_eq!(uri("http://x.example#?/:@"), "http://x.example#?/:@");
    }

    #[test]
    fn userinfo_keeps_colon_and_encodes_the_rest() {
        assert_eq!(uri("http://us er:p@ss@x.example/"), "http://us%20er:p%40ss@x.example/");
        assert_eq!(uri("ftp://[a]@x.example/"), "ftp://%5Ba%5D@x.example/");
    }

    #[test]
    fn ip_literals_are_kept_and_broken_ones_become_names() {
        assert_eq!(uri("http://[::1]/[x]"), "http://[::1]/%5Bx%5D");
        assert_eq!(uri("http://u@[2001:db8::1]:80/%41%zz"), "http://u@[2001:db8::1]:80/%41%25zz");
        assert_eq!(uri("http://[fe80::1%eth0]:8080/"), "http://%5Bfe80%3A%3A1%25eth0%5D:8080/");
        assert_eq!(uri("http://[nothing/"), "http://%5Bnothing/");
        assert_eq!(uri("http://x.example:abc/"), "http://x.example%3Aabc/");
    }

    #[test]
    fn idn_hosts_become_punycode() {
        assert_eq!(
            uri("https://例え.テスト:8443/パス?q=a b&x=\"y\"#frag#2"),
            "https://xn--r8jz45g.xn--zckzah:8443/%E3%83%91%E3%82%B9?q=a%20b&x=%22y%22#frag%232"
        );
        assert_eq!(uri("http://bücher.example/"), "http://xn--bcher-kva.example/");
    }

    #[test]
    fn without_a_scheme_there_is_no_uri() {
        for bad in ["x.example/a", "", ":x", "1http://x.example/", "ht tp://x", "http:", "mailto:"] {
            assert!(to_uri(bad).is_err(), "{bad}");
            assert!(!is_uri(bad), "{bad}");
        }
    }

    #[test]
    fn check_names_the_component() {
        for (bad, why) in [
            ("https://x.example/a b", "path"),
            ("https://x.example/?a[]", "query"),
            ("https://x.example/#a#b", "fragment"),
            ("https://例え.テスト/", "host"),
            ("https://x.example/%zz", "path"),
            ("http://a b@x.example/", "user info"),
            ("http://[::g]/", "host"),
        ] {
            let e = check("url value", bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    /// Hostile strings (xorshift, printable ASCII, delimiters, UTF-8, `%`): whatever comes in,
    /// what comes out is a URI and a fixed point.
    #[test]
    fn any_text_with_a_scheme_becomes_a_uri() {
        const PIECES: &[&str] = &[
            "/", "?", "#", "[", "]", "@", ":", "%", "%4", "%41", "%zz", " ", "\"", "<", ">", "\\", "^", "`",
            "{", "|", "}", "ä", "例", "\u{0}", "\u{7f}", "\u{200b}", "a", "Z", "9", "-", ".", "_", "~", "!",
            "$", "&", "'", "(", ")", "*", "+", ",", ";", "=", "::1", "//", "xn--", "\n",
        ];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut text = String::from(["http://", "https:", "mailto:", "x+y.z://"][(next() % 4) as usize]);
            for _ in 0..1 + next() % 24 {
                text.push_str(PIECES[(next() as usize) % PIECES.len()]);
            }
            uri(&text);
        }
    }
}
