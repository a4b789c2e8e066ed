//! Redirectors and link-rewriting gateways: the URL a wrapper hides, decoded offline.
//!
//! Reported phish forwarded from a protected mailbox arrive with every link rewritten (Safe
//! Links, Proofpoint, …), and the wrapper's host is exactly what a whitelist prunes: the target
//! is the indicator, the wrapper is context. Pure string work, bounded: wrappers longer than
//! [`MAX_WRAPPER`] bytes are not decoded, and the caller bounds nesting.

use base64::Engine;

/// Wrappers longer than this are left as they are (a real rewritten link is far shorter).
const MAX_WRAPPER: usize = 16 * 1024;

/// Which service wrote the wrapper (named in provenance and whitelist reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WrapperKind {
    Google,
    SafeLinks,
    ProofpointV1,
    ProofpointV2,
    ProofpointV3,
    Mimecast,
    Barracuda,
    Cisco,
    LinkedIn,
    Facebook,
}

impl WrapperKind {
    /// Human name, used in `unwrapped from <name>`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Google => "Google redirect",
            Self::SafeLinks => "Microsoft Safe Links",
            Self::ProofpointV1 => "Proofpoint URL Defense v1",
            Self::ProofpointV2 => "Proofpoint URL Defense v2",
            Self::ProofpointV3 => "Proofpoint URL Defense v3",
            Self::Mimecast => "Mimecast URL Protect",
            Self::Barracuda => "Barracuda Link Protection",
            Self::Cisco => "Cisco Secure Email",
            Self::LinkedIn => "LinkedIn redirect",
            Self::Facebook => "Facebook redirect",
        }
    }

    /// Whether the wrapper's host serves only as a gateway (its domain is context, never an
    /// indicator). Google, LinkedIn and Facebook hosts also serve content phishers abuse.
    pub(crate) fn dedicated_host(self) -> bool {
        !matches!(self, Self::Google | Self::LinkedIn | Self::Facebook)
    }
}

/// A recognised wrapper: its kind and, when it can be decoded offline, the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unwrapped {
    pub kind: WrapperKind,
    /// `None` for wrappers that only the gateway can resolve (Mimecast).
    pub target: Option<String>,
}

/// Query parameters that hold the target on wrapper hosts when the documented one is missing.
const GENERIC_PARAMS: &[&str] = &["url", "u", "q", "target", "dest", "destination", "redirect", "link"];

/// Recognises `url` (canonical form: scheme and host lower-case) as a wrapper and decodes it.
pub(crate) fn unwrap(url: &str) -> Option<Unwrapped> {
    if url.len() > MAX_WRAPPER {
        return None;
    }
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..auth_end)?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next()?.trim_end_matches('.');
    let path_query = rest.get(auth_end..)?;
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, q.split('#').next().unwrap_or(q)),
        None => (path_query.split('#').next().unwrap_or(path_query), ""),
    };
    let (kind, target) = if host.ends_with(".safelinks.protection.outlook.com") {
        (WrapperKind::SafeLinks, param(query, &["url"]))
    } else if host == "urldefense.proofpoint.com" && path.starts_with("/v1/url") {
        (WrapperKind::ProofpointV1, param(query, &["u"]))
    } else if host == "urldefense.proofpoint.com" && path.starts_with("/v2/url") {
        (WrapperKind::ProofpointV2, raw_param(query, "u").and_then(proofpoint_v2))
    } else if (host == "urldefense.com" || host == "urldefense.proofpoint.com") && path.starts_with("/v3/__")
    {
        (WrapperKind::ProofpointV3, proofpoint_v3(path_query))
    } else if host.starts_with("protect-") && host.ends_with(".mimecast.com") && path.starts_with("/s/") {
        (WrapperKind::Mimecast, None)
    } else if host == "linkprotect.cudasvc.com" {
        (WrapperKind::Barracuda, param(query, &["a"]))
    } else if host == "secure-web.cisco.com" {
        (WrapperKind::Cisco, cisco(path))
    } else if (host == "linkedin.com" || host.ends_with(".linkedin.com"))
        && path.starts_with("/redir/redirect")
    {
        (WrapperKind::LinkedIn, param(query, &["url"]))
    } else if matches!(host, "l.facebook.com" | "lm.facebook.com" | "l.messenger.com") && path == "/l.php" {
        (WrapperKind::Facebook, param(query, &["u"]))
    } else if is_google(host) && path == "/url" {
        (WrapperKind::Google, param(query, &["q", "url"]))
    } else {
        return None;
    };
    let target = target
        .or_else(|| if kind == WrapperKind::Mimecast { None } else { param(query, GENERIC_PARAMS) })
        .filter(|t| is_absolute(t));
    Some(Unwrapped { kind, target })
}

/// `google.com`, `www.google.co.uk`, …: a registered domain whose first label is `google`.
fn is_google(host: &str) -> bool {
    let h = host.strip_prefix("www.").unwrap_or(host);
    h.strip_prefix("google.").is_some_and(|tld| {
        !tld.is_empty() && tld.len() <= 6 && tld.split('.').all(|l| l.bytes().all(|b| b.is_ascii_lowercase()))
    })
}

fn is_absolute(t: &str) -> bool {
    let l = t.get(..8).unwrap_or(t).to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://") || l.starts_with("ftp://")
}

/// The raw (still escaped) value of query parameter `name`.
fn raw_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The first of `names` present in the query, percent-decoded.
fn param(query: &str, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| raw_param(query, n)).map(percent_decode).map(|t| t.trim().to_owned())
}

/// `%XX` escapes decoded (invalid escapes kept as written); `+` is kept: it is a literal in a
/// URL, and a target with a space would not be a URL anyway.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|&h| (h as char).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Proofpoint v2: `u=` with `-` standing for `%` and `_` for `/`, then percent-decoded.
fn proofpoint_v2(u: &str) -> Option<String> {
    let s: String = u
        .chars()
        .map(|c| {
            if c == '-' {
                '%'
            } else if c == '_' {
                '/'
            } else {
                c
            }
        })
        .collect();
    Some(percent_decode(&s))
}

/// Proofpoint v3: `/v3/__URL__;BYTES!!…`. In URL, each `*` stands for the next character of
/// the URL-safe base64 BYTES, and `**X` for a run of them (`A` = 2, `B` = 3, …, `_` = 65), as
/// in Proofpoint's published decoder.
fn proofpoint_v3(path_query: &str) -> Option<String> {
    let body = path_query.strip_prefix("/v3/__")?;
    let end = body.find("__;")?;
    let url = percent_decode(body.get(..end)?);
    let rest = body.get(end + 3..)?;
    let enc = rest.split('!').next().unwrap_or_default();
    let dec: Vec<char> = if enc.is_empty() {
        Vec::new()
    } else {
        let bytes =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(enc.trim_end_matches('=')).ok()?;
        String::from_utf8(bytes).ok()?.chars().collect()
    };
    const RUNS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(url.len());
    let mut next = 0usize;
    let mut chars = url.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '*' {
            out.push(c);
            continue;
        }
        let mut n = 1;
        if chars.peek() == Some(&'*') {
            chars.next();
            let code = chars.next()?;
            n = RUNS.find(code)? + 2;
        }
        for _ in 0..n {
            out.push(*dec.get(next)?);
            next += 1;
        }
    }
    Some(out)
}

/// Cisco Secure Email: `secure-web.cisco.com/<token>/<percent-encoded target>`.
fn cisco(path: &str) -> Option<String> {
    let p = path.to_ascii_lowercase();
    let at = p.find("/http%3a").or_else(|| p.find("/https%3a")).or_else(|| p.find("/http:"))?;
    Some(percent_decode(path.get(at + 1..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(u: &str) -> Option<(WrapperKind, Option<String>)> {
        unwrap(u).map(|w| (w.kind, w.target))
    }

    #[test]
    fn google_safelinks_linkedin_facebook_barracuda() {
        assert_eq!(
            t("https://www.google.com/url?sa=t&q=https%3A%2F%2Fevil.example%2Fa%3Fb%3D1&usg=x"),
            Some((WrapperKind::Google, Some("https://evil.example/a?b=1".into())))
        );
        assert_eq!(
            t("https://google.co.uk/url?url=http://evil.example/"),
            Some((WrapperKind::Google, Some("http://evil.example/".into())))
        );
        assert_eq!(
            t(
                "https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fevil.example%2F&data=05%7C01"
            ),
            Some((WrapperKind::SafeLinks, Some("https://evil.example/".into())))
        );
        assert_eq!(
            t("https://www.linkedin.com/redir/redirect?url=https%3A%2F%2Fevil.example&urlhash=x"),
            Some((WrapperKind::LinkedIn, Some("https://evil.example".into())))
        );
        assert_eq!(
            t("https://l.facebook.com/l.php?u=https%3A%2F%2Fevil.example%2F&h=AT0"),
            Some((WrapperKind::Facebook, Some("https://evil.example/".into())))
        );
        assert_eq!(
            t("https://linkprotect.cudasvc.com/url?a=https%3a%2f%2fevil.example%2fx&c=E,1,abc"),
            Some((WrapperKind::Barracuda, Some("https://evil.example/x".into())))
        );
        assert_eq!(t("https://www.google.com/search?q=https://x.example/"), None);
        assert_eq!(t("https://evil.example/url?q=https://x.example/"), None);
    }

    #[test]
    fn proofpoint_v1_v2_v3() {
        assert_eq!(
            t("https://urldefense.proofpoint.com/v1/url?u=http://www.example.com/&k=abc"),
            Some((WrapperKind::ProofpointV1, Some("http://www.example.com/".into())))
        );
        assert_eq!(
            t(
                "https://urldefense.proofpoint.com/v2/url?u=https-3A__evil.example_login-3Fa-3D1&d=DwM&c=x&r=y&m=z&s=w&e="
            ),
            Some((WrapperKind::ProofpointV2, Some("https://evil.example/login?a=1".into())))
        );
        // From Proofpoint's decoder tests: `*` takes the next decoded character.
        assert_eq!(
            t("https://urldefense.com/v3/__https://google.com:443/search?q=a*test&gs=ps__;Kw!!abc"),
            Some((WrapperKind::ProofpointV3, Some("https://google.com:443/search?q=a+test&gs=ps".into())))
        );
        // `**A` is a run of two.
        assert_eq!(
            t("https://urldefense.com/v3/__https://x.example/a**Ab__;Kys!!tok"),
            Some((WrapperKind::ProofpointV3, Some("https://x.example/a++b".into())))
        );
        assert_eq!(
            t("https://urldefense.com/v3/__https://x.example/plain__;!!tok$"),
            Some((WrapperKind::ProofpointV3, Some("https://x.example/plain".into())))
        );
    }

    #[test]
    fn mimecast_and_cisco() {
        assert_eq!(
            t("https://protect-eu.mimecast.com/s/AbCdEfGh?domain=evil.example"),
            Some((WrapperKind::Mimecast, None))
        );
        assert_eq!(
            t("https://secure-web.cisco.com/1AbC-dEf/https%3A%2F%2Fevil.example%2Fpay"),
            Some((WrapperKind::Cisco, Some("https://evil.example/pay".into())))
        );
    }

    #[test]
    fn hostile_inputs() {
        assert_eq!(
            t("https://urldefense.com/v3/__https://x/*****__;!!"),
            Some((WrapperKind::ProofpointV3, None))
        );
        assert_eq!(t("https://urldefense.com/v3/__**"), Some((WrapperKind::ProofpointV3, None)));
        let long = format!("https://www.google.com/url?q=https://x.example/{}", "a".repeat(MAX_WRAPPER));
        assert_eq!(t(&long), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}

#[cfg(test)]
mod nested_tests {
    use super::*;

    #[test]
    fn safelinks_around_proofpoint() {
        let outer = "https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Furldefense.proofpoint.com%2Fv2%2Furl%3Fu%3Dhttps-3A__wrap-2Dpp2.top_login-3Fa-3D1%26d%3DDwMFaQ%26c%3Dabc%26r%3Ddef%26m%3Dghi%26s%3Djkl%26e%3D&data=05%7C01%7Cbob%40harpoon-corp.com&reserved=0";
        let inner = unwrap(outer).and_then(|w| w.target);
        assert_eq!(
            inner.as_deref(),
            Some(
                "https://urldefense.proofpoint.com/v2/url?u=https-3A__wrap-2Dpp2.top_login-3Fa-3D1&d=DwMFaQ&c=abc&r=def&m=ghi&s=jkl&e="
            )
        );
        let target = inner.as_deref().and_then(unwrap).and_then(|w| w.target);
        assert_eq!(target.as_deref(), Some("https://wrap-pp2.top/login?a=1"));
    }
}
