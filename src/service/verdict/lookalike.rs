//! Lookalike domains (pure): a host that imitates one of the organisation's own domains or a
//! configured brand, by homoglyphs (the UTS #39 confusable skeleton of the Unicode form equals the
//! protected name's), by a typo (Damerau-Levenshtein distance 1, or 2 for names of 9+
//! characters), or by carrying the brand in a subdomain, in the registered name, or in the URL
//! path. A host under one of the protected domains is never a lookalike.

use unicode_security::confusable_detection::skeleton;

use crate::extract::{IndicatorValue, ObservableKind};

/// A name to protect: a brand or one of our domains, with the domains that really are it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected {
    /// The name as it appears in a domain label, lower case (`paypal`, `example`).
    pub name: String,
    /// Registered domains that belong to it (`paypal.com`).
    pub domains: Vec<String>,
    /// The name's confusable skeleton, computed once (every host of every draft is compared).
    skeleton: String,
}

impl Protected {
    /// A brand by name with its domains, or one of our domains (its label becomes the name).
    pub fn new(name: &str, domains: &[String]) -> Self {
        let name: String = name.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect();
        let domains = domains.iter().map(|d| d.trim().trim_end_matches('.').to_lowercase()).collect();
        let skeleton = skel(&name);
        Self { name, domains, skeleton }
    }

    pub fn own_domain(domain: &str) -> Self {
        let d = domain.trim().trim_end_matches('.').to_lowercase();
        let registered = IndicatorValue::parse(ObservableKind::Domain, &d)
            .ok()
            .and_then(|v| v.registered_domain)
            .unwrap_or_else(|| d.clone());
        let label = registered.split('.').next().unwrap_or_default().to_string();
        let skeleton = skel(&label);
        Self { name: label, domains: vec![registered], skeleton }
    }

    fn owns(&self, host: &str) -> bool {
        self.domains.iter().any(|d| host == d || host.ends_with(&format!(".{d}")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    Homoglyph,
    Typosquat,
    BrandInName,
    BrandInPath,
}

impl How {
    pub fn as_str(self) -> &'static str {
        match self {
            How::Homoglyph => "homoglyph",
            How::Typosquat => "typosquat",
            How::BrandInName => "brand in the domain name",
            How::BrandInPath => "brand in the URL path",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookalike {
    pub host: String,
    pub imitates: String,
    pub how: How,
}

/// Shortest names checked for typos and substrings: shorter ones collide with ordinary words.
const MIN_NAME: usize = 4;

fn skel(s: &str) -> String {
    skeleton(&s.to_lowercase()).collect::<String>().to_lowercase()
}

/// Damerau-Levenshtein distances allowed for a name of this length.
fn typo_budget(len: usize) -> usize {
    if len >= 9 { 2 } else { 1 }
}

/// The lookalike a host (and, for a URL, its path) is of the protected names, if any.
/// `host` is the canonical (punycode) host; its Unicode form is derived here.
pub fn check(host: &str, path: Option<&str>, protected: &[Protected]) -> Option<Lookalike> {
    let host = host.trim_end_matches('.').to_lowercase();
    let parsed = IndicatorValue::parse(ObservableKind::Domain, &host).ok()?;
    let registered = parsed.registered_domain.clone()?;
    if protected.iter().any(|p| p.owns(&host)) {
        return None;
    }
    let unicode_registered = idna::domain_to_unicode(&registered).0;
    let label = unicode_registered.split('.').next().unwrap_or_default().to_string();
    let ascii_label = registered.split('.').next().unwrap_or_default();
    let found = |p: &Protected, how| Lookalike { host: host.clone(), imitates: p.name.clone(), how };
    // The whole registered label and each of its hyphen-separated parts (`paypa1-verify`).
    let mut unicode_parts: Vec<&str> = vec![label.as_str()];
    unicode_parts.extend(label.split('-').filter(|t| !t.is_empty() && *t != label));
    let mut ascii_parts: Vec<&str> = vec![ascii_label];
    ascii_parts.extend(ascii_label.split('-').filter(|t| !t.is_empty() && *t != ascii_label));
    let unicode_skeletons: Vec<(&str, String)> = unicode_parts.iter().map(|t| (*t, skel(t))).collect();
    for p in protected.iter().filter(|p| !p.name.is_empty()) {
        if unicode_skeletons.iter().any(|(t, s)| *t != p.name && *s == p.skeleton) {
            return Some(found(p, How::Homoglyph));
        }
    }
    for p in protected.iter().filter(|p| p.name.chars().count() >= MIN_NAME) {
        let budget = typo_budget(p.name.chars().count());
        let typo = ascii_parts.iter().any(|t| {
            let d = strsim::damerau_levenshtein(t, &p.name);
            t.len() >= MIN_NAME && d >= 1 && d <= budget
        });
        if typo {
            return Some(found(p, How::Typosquat));
        }
    }
    // The brand as a label of the subdomain part, as a token of the registered label
    // (`paypal-secure.com`), or inside it when long enough not to be a common word.
    let sub = host.strip_suffix(&registered).unwrap_or_default();
    let sub_skeletons: Vec<(&str, String)> =
        sub.split(['.', '-']).filter(|t| !t.is_empty()).map(|t| (t, skel(t))).collect();
    for p in protected.iter().filter(|p| p.name.chars().count() >= MIN_NAME) {
        let in_sub = sub_skeletons.iter().any(|(t, s)| *t == p.name || *s == p.skeleton);
        let in_label = ascii_label != p.name && ascii_label.contains(&p.name);
        if in_sub || in_label {
            return Some(found(p, How::BrandInName));
        }
    }
    let path = path.unwrap_or_default().to_lowercase();
    for p in protected.iter().filter(|p| p.name.chars().count() >= MIN_NAME) {
        let in_path = path
            .split(|c: char| !c.is_alphanumeric())
            .any(|t| t == p.name || (p.name.len() >= 6 && t.starts_with(&p.name)));
        if in_path {
            return Some(found(p, How::BrandInPath));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brands() -> Vec<Protected> {
        vec![
            Protected::new("PayPal", &["paypal.com".into()]),
            Protected::new("Microsoft", &["microsoft.com".into(), "office.com".into()]),
            Protected::own_domain("example-bank.com"),
        ]
    }

    #[test]
    fn homoglyphs_after_idn_normalisation() {
        // Cyrillic а (U+0430) in "pаypal.com": punycode host, same skeleton.
        let host = idna::domain_to_ascii("pаypal.com").unwrap();
        let l = check(&host, None, &brands()).unwrap();
        assert_eq!((l.imitates.as_str(), l.how), ("paypal", How::Homoglyph));
        // A digit for a letter: `paypa1` has the skeleton of `paypal`.
        assert_eq!(check("paypa1.com", None, &brands()).unwrap().how, How::Homoglyph);
        // `rn` for `m`.
        assert_eq!(check("rnicrosoft.com", None, &brands()).unwrap().how, How::Homoglyph);
    }

    #[test]
    fn typosquats_by_edit_distance() {
        assert_eq!(check("paypall.com", None, &brands()).unwrap().how, How::Typosquat);
        assert_eq!(check("micorsoft.net", None, &brands()).unwrap().how, How::Typosquat);
        let own = check("example-bamk.com", None, &brands()).unwrap();
        assert_eq!((own.imitates.as_str(), own.how), ("example-bank", How::Typosquat));
        assert_eq!(check("exampel-bank.com", None, &brands()).unwrap().how, How::Typosquat);
    }

    #[test]
    fn brand_in_subdomain_name_or_path() {
        let l = check("paypal.com.secure-login.xyz", None, &brands()).unwrap();
        assert_eq!(l.how, How::BrandInName);
        assert_eq!(check("login.microsoft-verify.top", None, &brands()).unwrap().how, How::BrandInName);
        assert_eq!(check("evil-host.com", Some("/paypal/signin"), &brands()).unwrap().how, How::BrandInPath);
    }

    #[test]
    fn the_real_domains_and_strangers_are_not_lookalikes() {
        for host in ["paypal.com", "www.paypal.com", "login.microsoft.com", "office.com", "example-bank.com"]
        {
            assert_eq!(check(host, Some("/paypal"), &brands()), None, "{host}");
        }
        for host in ["github.com", "lists.sourceforge.net", "pay.gov", "example.org"] {
            assert_eq!(check(host, None, &brands()), None, "{host}");
        }
    }
}
