//! What a request says about where it came from: the site that made a browser send it
//! (`Sec-Fetch-Site`, `Origin`), the body types a cross-site page can send without asking
//! (CORS "simple" bodies), and — behind a TLS-terminating proxy listed in `trusted_proxies` —
//! whether the client spoke HTTPS and from which address.
//!
//! Why: a browser that once saw Harpoon's Basic challenge replays the cached credentials on any
//! request a foreign page makes it send. Such a page cannot set `Authorization` itself, cannot send
//! a JSON or TAXII body without a CORS preflight (which Harpoon never grants), and modern browsers
//! label the request with `Sec-Fetch-Site` and `Origin`: refusing those closes the door.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::Method;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web;

use crate::service::accounts::TokenScope;
use crate::service::auth::{AuthError, Principal};

/// The methods that change state.
pub fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses a state-changing request that a browser made on behalf of another site. Non-browser
/// clients send neither header and pass.
pub fn refuse_cross_site(req: &HttpRequest) -> Result<(), AuthError> {
    if !changes_state(req.method()) {
        return Ok(());
    }
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return Err(AuthError::CrossSite(format!("a {site} browser request cannot change anything here")));
    }
    if let Some(origin) = foreign_origin(req) {
        return Err(AuthError::CrossSite(format!(
            "a request from the origin '{}' cannot change anything here",
            origin.escape_debug()
        )));
    }
    Ok(())
}

/// The request's `Origin` when it is present and not this host (`null` and unreadable values
/// included): the one origin rule of the REST/TAXII gate and the UI's CSRF check.
pub fn foreign_origin(req: &HttpRequest) -> Option<String> {
    let origin = req.headers().get("origin")?;
    let origin = origin.to_str().unwrap_or("null");
    let host = req.connection_info().host().to_string();
    let authority = origin.split_once("://").map(|(_, a)| a).unwrap_or("");
    (origin == "null" || !authority.eq_ignore_ascii_case(&host)).then(|| origin.to_string())
}

/// The body types a page of another site can make a browser send without a CORS preflight.
const SIMPLE_BODIES: [&str; 3] = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"];

/// Refuses a state-changing request whose body is of a type a cross-site form can send, unless
/// the caller is an `intake` token (a mail gateway or report button pushing raw email, which
/// no browser holds).
pub fn refuse_simple_body(req: &HttpRequest, principal: &Principal) -> Result<(), AuthError> {
    if !changes_state(req.method()) || principal.scope == TokenScope::Intake {
        return Ok(());
    }
    let media = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    match media {
        Some(m) if SIMPLE_BODIES.contains(&m.as_str()) => Err(AuthError::SimpleBody(format!(
            "a {m} body cannot change anything here: send application/json (or the TAXII media type)"
        ))),
        _ => Ok(()),
    }
}

/// The proxies whose forwarding headers (`X-Forwarded-For`, `X-Forwarded-Proto`, `Forwarded`)
/// are believed: addresses or CIDR blocks from `server.trusted_proxies`, plus whether TLS ends
/// here. Registered as app data by `build_app`.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    nets: Vec<(IpAddr, u8)>,
    local_tls: bool,
}

impl Proxies {
    /// Parses `trusted_proxies` entries (`10.0.0.5`, `10.0.0.0/8`, `::1`, `fd00::/8`).
    pub fn parse(entries: &[String], local_tls: bool) -> Result<Self, String> {
        let mut nets = Vec::with_capacity(entries.len());
        for entry in entries {
            let (addr, bits) = match entry.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (entry.as_str(), None),
            };
            let addr: IpAddr =
                addr.trim().parse().map_err(|_| format!("trusted_proxies: '{entry}' is not an address"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => max,
                Some(b) => b
                    .trim()
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("trusted_proxies: '{entry}' has a bad prefix length"))?,
            };
            nets.push((addr, bits));
        }
        Ok(Self { nets, local_tls })
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|(net, bits)| in_net(ip, canonical(*net), *bits))
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn proxies(req: &HttpRequest) -> Option<&Proxies> {
    req.app_data::<web::Data<Proxies>>().map(|d| d.get_ref())
}

/// Whether the request came from a trusted proxy (so its forwarding headers count).
fn via_trusted_proxy(req: &HttpRequest) -> bool {
    match (proxies(req), req.peer_addr()) {
        (Some(p), Some(peer)) => p.trusts(peer.ip()),
        _ => false,
    }
}

/// Whether the client spoke HTTPS: TLS ends here, or a trusted proxy says it ended there.
pub fn is_https(req: &HttpRequest) -> bool {
    if proxies(req).is_some_and(|p| p.local_tls) {
        return true;
    }
    if !via_trusted_proxy(req) {
        return false;
    }
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    if let Some(proto) = header("x-forwarded-proto") {
        // The proxy nearest to us appended last.
        return proto.rsplit(',').next().is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    }
    header("forwarded").is_some_and(|f| {
        f.rsplit(',').next().is_some_and(|hop| {
            hop.split(';').any(|kv| {
                kv.trim().split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("proto")
                        && v.trim().trim_matches('"').eq_ignore_ascii_case("https")
                })
            })
        })
    })
}

/// The client's address: the peer, or behind trusted proxies the nearest `X-Forwarded-For` hop
/// that is not itself a trusted proxy (an attacker may prepend any hop it likes, never append).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| canonical(a.ip()))?;
    let Some(p) = proxies(req).filter(|p| p.trusts(peer)) else { return Some(peer) };
    let forwarded =
        req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    let hops = forwarded.iter().flat_map(|v| v.split(',')).map(str::trim).collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if p.trusts(ip) => continue,
            Ok(ip) => return Some(canonical(ip)),
            Err(_) => return Some(peer),
        }
    }
    Some(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn with_proxies(req: TestRequest, entries: &[&str]) -> HttpRequest {
        let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
        let p = Proxies::parse(&entries, false).expect("proxies");
        req.app_data(web::Data::new(p)).to_http_request()
    }

    #[test]
    fn proxy_entries_parse_and_match() {
        let p =
            Proxies::parse(&["10.0.0.0/8".into(), "::1".into(), "192.0.2.7".into()], false).expect("parse");
        assert!(p.trusts("10.1.2.3".parse().expect("ip")));
        assert!(p.trusts("::ffff:10.1.2.3".parse().expect("ip")));
        assert!(p.trusts("::1".parse().expect("ip")));
        assert!(p.trusts("192.0.2.7".parse().expect("ip")));
        assert!(!p.trusts("192.0.2.8".parse().expect("ip")));
        assert!(!p.trusts("11.0.0.1".parse().expect("ip")));
        assert!(Proxies::parse(&["10.0.0.0/33".into()], false).is_err());
        assert!(Proxies::parse(&["proxy.example".into()], false).is_err());
        let all = Proxies::parse(&["0.0.0.0/0".into()], false).expect("parse");
        assert!(all.trusts("203.0.113.9".parse().expect("ip")));
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let peer: std::net::SocketAddr = "10.0.0.5:4000".parse().expect("addr");
        let req = with_proxies(
            TestRequest::default()
                .peer_addr(peer)
                .insert_header(("x-forwarded-proto", "https"))
                .insert_header(("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.6")),
            &["10.0.0.0/24"],
        );
        assert!(is_https(&req));
        assert_eq!(client_ip(&req), Some("203.0.113.9".parse().expect("ip")));

        let untrusted = with_proxies(
            TestRequest::default()
                .peer_addr("198.51.100.1:4000".parse().expect("addr"))
                .insert_header(("x-forwarded-proto", "https"))
                .insert_header(("x-forwarded-for", "203.0.113.9")),
            &["10.0.0.0/24"],
        );
        assert!(!is_https(&untrusted));
        assert_eq!(client_ip(&untrusted), Some("198.51.100.1".parse().expect("ip")));

        let forwarded = with_proxies(
            TestRequest::default().peer_addr(peer).insert_header(("forwarded", "for=1.2.3.4;proto=https")),
            &["10.0.0.5"],
        );
        assert!(is_https(&forwarded));
    }

    #[test]
    fn cross_site_browser_writes_are_refused() {
        let post = |headers: &[(&str, &str)]| {
            let mut r = TestRequest::post().uri("/api/v1/imports").insert_header(("host", "harpoon.test"));
            for h in headers {
                r = r.insert_header(*h);
            }
            refuse_cross_site(&r.to_http_request())
        };
        assert!(post(&[]).is_ok());
        assert!(post(&[("sec-fetch-site", "same-origin")]).is_ok());
        assert!(post(&[("origin", "http://harpoon.test")]).is_ok());
        assert!(post(&[("sec-fetch-site", "cross-site")]).is_err());
        assert!(post(&[("sec-fetch-site", "same-site")]).is_err());
        assert!(post(&[("origin", "https://evil.example")]).is_err());
        assert!(post(&[("origin", "null")]).is_err());
        let get = TestRequest::get()
            .uri("/api/v1/me")
            .insert_header(("sec-fetch-site", "cross-site"))
            .to_http_request();
        assert!(refuse_cross_site(&get).is_ok());
    }
}
