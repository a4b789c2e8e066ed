//! URL query parameters of the TAXII endpoints (spec §3.4.1), parsed at the edge into typed
//! filters. A parameter given twice, a bad timestamp, `limit=0` or `match[version]=all,last`
//! is a 400, never silently ignored.

use serde::{Deserialize, Serialize};

use super::error::TaxiiError;
use crate::db::objects::VersionFilter;
use crate::stix::{StixId, StixTimestamp, TaxiiTimestamp};

/// The filters a page query carries (and a cursor preserves).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    /// `added_after` in microseconds (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_after: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// `match[version]` tokens as given (`last`, `first`, `all` or timestamps in microseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<Versions>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spec_versions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versions {
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub first: bool,
    #[serde(default)]
    pub last: bool,
    #[serde(default)]
    pub exact: Vec<i64>,
}

impl Versions {
    /// The storage filter; `None` means the default (`last`).
    pub fn to_filter(versions: Option<&Versions>) -> VersionFilter {
        match versions {
            None => VersionFilter::last(),
            Some(v) => VersionFilter { all: v.all, first: v.first, last: v.last, exact: v.exact.clone() },
        }
    }
}

/// A parsed query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub filters: Filters,
    pub limit: Option<u32>,
    pub next: Option<String>,
}

fn list(value: &str, name: &str) -> Result<Vec<String>, TaxiiError> {
    let items: Vec<String> = value.split(',').map(|s| s.trim().to_string()).collect();
    if items.iter().any(String::is_empty) {
        return Err(TaxiiError::BadRequest(format!("{name} has an empty item")));
    }
    Ok(items)
}

/// `added_after` as consumers send it: any RFC 3339 date-time (0-9 fractional digits, `Z`, `z`
/// or any offset), plus two slips seen in the wild: an offset's `+` left unencoded (the query
/// string decodes it to a space), no zone at all (a naive `isoformat()`) and a bare date (typed
/// by hand into MISP's module), read as UTC.
fn parse_added_after(value: &str) -> Result<TaxiiTimestamp, TaxiiError> {
    let e = match TaxiiTimestamp::parse(value) {
        Ok(t) => return Ok(t),
        Err(e) => e,
    };
    let plus = value.rfind(' ').filter(|at| *at >= 19).map(|at| {
        let mut fixed = value.to_owned();
        fixed.replace_range(at..=at, "+");
        fixed
    });
    let utc = value.ends_with(|c: char| c.is_ascii_digit()).then(|| format!("{value}Z"));
    let midnight = (value.len() == 10).then(|| format!("{value}T00:00:00Z"));
    plus.into_iter()
        .chain(utc)
        .chain(midnight)
        .find_map(|candidate| TaxiiTimestamp::parse(&candidate).ok())
        .ok_or_else(|| TaxiiError::BadRequest(format!("added_after: {e}")))
}

/// Parses a TAXII query string. Parameters this server does not know are ignored (clients send
/// vendor extras); known ones are strictly checked.
pub fn parse(query_string: &str) -> Result<Query, TaxiiError> {
    let mut q = Query::default();
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in form_urlencoded::parse(query_string.as_bytes()) {
        let key = key.into_owned();
        let known = matches!(
            key.as_str(),
            "added_after"
                | "limit"
                | "next"
                | "match[id]"
                | "match[type]"
                | "match[version]"
                | "match[spec_version]"
        );
        if !known {
            continue;
        }
        if seen.contains(&key) {
            return Err(TaxiiError::BadRequest(format!("{key} is given more than once")));
        }
        seen.push(key.clone());
        match key.as_str() {
            "added_after" => {
                let t = parse_added_after(&value)?;
                q.filters.added_after = Some(t.as_micros());
            }
            "limit" => {
                let n: u32 = value.trim().parse().map_err(|_| {
                    TaxiiError::BadRequest(format!("limit must be a positive integer, not '{value}'"))
                })?;
                if n == 0 {
                    return Err(TaxiiError::BadRequest("limit must be at least 1".into()));
                }
                q.limit = Some(n);
            }
            "next" => {
                if value.is_empty() {
                    return Err(TaxiiError::BadRequest("next is empty".into()));
                }
                q.next = Some(value.into_owned());
            }
            "match[id]" => {
                let ids = list(&value, "match[id]")?;
                for id in &ids {
                    StixId::parse(id).map_err(|e| TaxiiError::BadRequest(format!("match[id]: {e}")))?;
                }
                q.filters.ids = ids;
            }
            "match[type]" => {
                let types = list(&value, "match[type]")?;
                for t in &types {
                    crate::stix::id::check_type_name(t)
                        .map_err(|e| TaxiiError::BadRequest(format!("match[type]: {e}")))?;
                }
                q.filters.types = types;
            }
            "match[version]" => {
                let mut v = Versions::default();
                let tokens = list(&value, "match[version]")?;
                for token in &tokens {
                    match token.as_str() {
                        "all" => v.all = true,
                        "first" => v.first = true,
                        "last" => v.last = true,
                        ts => v.exact.push(
                            StixTimestamp::parse(ts)
                                .map_err(|e| TaxiiError::BadRequest(format!("match[version]: {e}")))?
                                .as_micros(),
                        ),
                    }
                }
                if v.all && tokens.len() > 1 {
                    return Err(TaxiiError::BadRequest(
                        "match[version]=all cannot be combined with other values".into(),
                    ));
                }
                q.filters.versions = Some(v);
            }
            "match[spec_version]" => {
                let versions = list(&value, "match[spec_version]")?;
                for v in &versions {
                    let ok = v.split_once('.').is_some_and(|(a, b)| {
                        !a.is_empty()
                            && !b.is_empty()
                            && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
                    });
                    if !ok {
                        return Err(TaxiiError::BadRequest(format!(
                            "match[spec_version]: '{v}' is not a version like 2.1"
                        )));
                    }
                }
                q.filters.spec_versions = versions;
            }
            _ => {}
        }
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_filter() {
        let q = parse(
            "added_after=2024-01-02T03:04:05.678901Z&limit=5&match%5Bid%5D=indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\
             &match[type]=indicator,url&match[version]=first,last,2024-01-01T00:00:00.000Z&match[spec_version]=2.1&x=1",
        )
        .expect("parses");
        assert_eq!(q.limit, Some(5));
        assert_eq!(q.filters.types, ["indicator", "url"]);
        assert_eq!(q.filters.ids.len(), 1);
        let v = q.filters.versions.expect("versions");
        assert!(v.first && v.last && !v.all && v.exact.len() == 1);
        assert_eq!(
            q.filters.added_after,
            Some(TaxiiTimestamp::parse("2024-01-02T03:04:05.678901Z").expect("ts").as_micros())
        );
    }

    #[test]
    fn added_after_in_every_form_consumers_send() {
        let at = |q: &str| parse(q).unwrap_or_else(|e| panic!("{q}: {e:?}")).filters.added_after;
        let want = at("added_after=2024-01-02T03:04:05Z");
        for q in [
            "added_after=2024-01-02T03:04:05.Z",
            "added_after=2024-01-02T03:04:05.0Z",
            "added_after=2024-01-02T03:04:05.000Z",
            "added_after=2024-01-02T03:04:05.000000Z",
            "added_after=2024-01-02T03:04:05.000000000Z",
            "added_after=2024-01-02t03:04:05z",
            "added_after=2024-01-02T03:04:05%2B00:00",
            "added_after=2024-01-02T03:04:05+00:00",
            "added_after=2024-01-02T03:04:05.000+00:00",
            "added_after=2024-01-02T05:04:05%2B02:00",
            "added_after=2024-01-01T22:04:05-05:00",
            "added_after=2024-01-02T03:04:05",
            "added_after=2024-01-02T03:04:05.000000",
        ] {
            if q.ends_with(".Z") {
                assert!(parse(q).is_err(), "a point needs digits: {q}");
                continue;
            }
            assert_eq!(at(q), want, "{q}");
        }
        let nine = at("added_after=2024-01-02T03:04:05.123456789Z").unwrap() - want.unwrap();
        assert_eq!(nine, 123_456, "digits beyond the microsecond are dropped");
    }

    #[test]
    fn rejects_what_the_issue_lists() {
        for bad in [
            "added_after=2024-01-01T00:00:00Z&added_after=2024-01-02T00:00:00Z",
            "limit=0",
            "limit=-3",
            "limit=ten",
            "match[version]=all,last",
            "added_after=yesterday",
            "match[id]=not-an-id",
            "match[type]=Indicator",
            "match[spec_version]=two",
            "match[type]=indicator,,url",
            "next=",
        ] {
            assert!(matches!(parse(bad), Err(TaxiiError::BadRequest(_))), "{bad}");
        }
    }
}
