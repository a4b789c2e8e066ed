//! TAXII 2.1 media types and content negotiation (design.md §3): every response is
//! `application/taxii+json;version=2.1`; requests may accept it with or without the version,
//! or leniently `*/*` and `application/json`; only an explicit other TAXII version is refused.

pub const TAXII_MEDIA: &str = "application/taxii+json;version=2.1";
pub const STIX_MEDIA: &str = "application/stix+json;version=2.1";

/// One media range of an `Accept` or `Content-Type` header: type/subtype and its `version`.
fn parse_range(range: &str) -> (String, Option<String>) {
    let mut parts = range.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let version = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("version")).then(|| v.trim().trim_matches('"').to_string())
    });
    (essence, version)
}

/// Whether a response in TAXII 2.1 satisfies this `Accept` header.
pub fn accepts_taxii21(accept: Option<&str>) -> bool {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else { return true };
    let ranges: Vec<_> = accept.split(',').map(parse_range).collect();
    let explicit_other_version = |(essence, version): &(String, Option<String>)| {
        essence == "application/taxii+json" && version.as_deref().is_some_and(|v| v != "2.1")
    };
    // Refuse only when every range names another TAXII version.
    !ranges.iter().all(explicit_other_version)
}

/// Whether a POST body's `Content-Type` is a TAXII 2.1 envelope (leniently plain JSON).
pub fn is_taxii21_body(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let (essence, version) = parse_range(ct);
    match essence.as_str() {
        "application/taxii+json" => version.as_deref().is_none_or(|v| v == "2.1"),
        "application/json" => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_is_lenient_except_for_other_taxii_versions() {
        for ok in [
            None,
            Some(""),
            Some("application/taxii+json;version=2.1"),
            Some("application/taxii+json"),
            Some("application/taxii+json; version=\"2.1\""),
            Some("*/*"),
            Some("application/json"),
            Some("text/html"),
            Some("application/taxii+json;version=2.0, application/taxii+json;version=2.1"),
        ] {
            assert!(accepts_taxii21(ok), "{ok:?}");
        }
        assert!(!accepts_taxii21(Some("application/taxii+json;version=2.0")));
        assert!(!accepts_taxii21(Some(
            "application/taxii+json;version=3.0, application/taxii+json;version=2.0"
        )));
    }

    #[test]
    fn post_bodies_must_be_taxii_21_or_json() {
        assert!(is_taxii21_body(Some("application/taxii+json;version=2.1")));
        assert!(is_taxii21_body(Some("application/taxii+json")));
        assert!(is_taxii21_body(Some("application/json; charset=utf-8")));
        assert!(!is_taxii21_body(Some("application/taxii+json;version=2.0")));
        assert!(!is_taxii21_body(Some("text/plain")));
        assert!(!is_taxii21_body(None));
    }
}
