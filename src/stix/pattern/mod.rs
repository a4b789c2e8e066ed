//! STIX patterns: built (here) from typed terms for the observables Harpoon indicates, so that
//! object paths, hash-key quoting and string escaping are right by construction; and read
//! ([`grammar`]) by the STIX 2.1 pattern grammar, for what partners send.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::StixError;
use super::objects::HashAlgorithm;

pub mod grammar;
mod lexer;

pub use grammar::{PatternError, parse};

/// Quotes a STIX pattern string literal: `'` and `\` are escaped with a backslash.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Url,
    DomainName,
    Ipv4Addr,
    Ipv6Addr,
    EmailAddr,
    FileHash(HashAlgorithm),
    FileName,
    EmailSubject,
    EmailFrom,
}

/// One comparison, `object-path OP 'value'`, about one observable value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PatternTerm {
    kind: Kind,
    value: String,
}

fn non_empty(property: &'static str, value: &str) -> Result<String, StixError> {
    if value.is_empty() {
        Err(StixError::property(property, "must not be empty"))
    } else {
        Ok(value.to_owned())
    }
}

/// RFC 5952 text without its dotted-quad exception: hex groups, the longest run of two or more
/// zero groups (the first of equals) as `::`.
fn hex_ipv6(address: Ipv6Addr) -> String {
    let groups = address.segments();
    let (mut best, mut run) = ((0, 0), (0, 0));
    for (i, g) in groups.iter().enumerate() {
        if *g == 0 {
            run = if run.1 == 0 { (i, 1) } else { (run.0, run.1 + 1) };
            if run.1 > best.1 {
                best = run;
            }
        } else {
            run = (0, 0);
        }
    }
    let hex = |gs: &[u16]| gs.iter().map(|g| format!("{g:x}")).collect::<Vec<_>>().join(":");
    if best.1 < 2 {
        return hex(&groups);
    }
    let (start, end) = (best.0, best.0 + best.1);
    format!(
        "{}::{}",
        hex(groups.get(..start).unwrap_or_default()),
        hex(groups.get(end..).unwrap_or_default())
    )
}

/// Splits `address/prefix` and checks the prefix length.
fn split_cidr(value: &str, max_prefix: u8) -> Result<(&str, bool), String> {
    match value.split_once('/') {
        None => Ok((value, false)),
        Some((address, prefix)) => {
            let ok = !prefix.is_empty()
                && prefix.bytes().all(|b| b.is_ascii_digit())
                && prefix.parse::<u8>().is_ok_and(|p| p <= max_prefix);
            if ok { Ok((address, true)) } else { Err(format!("bad prefix length in {value:?}")) }
        }
    }
}

impl PatternTerm {
    /// `[url:value = '…']` for a URL as found: the value compared is the URI STIX emits for it
    /// ([`super::uri::to_uri`]), the same as the `url` SCO's, so the pattern matches that SCO.
    pub fn url(value: &str) -> Result<Self, StixError> {
        Ok(Self { kind: Kind::Url, value: super::uri::to_uri(&non_empty("url", value)?)? })
    }

    /// `[domain-name:value = '…']`
    pub fn domain_name(value: &str) -> Result<Self, StixError> {
        if value.is_empty() || value.chars().any(char::is_whitespace) {
            return Err(StixError::property("domain-name", format!("{value:?} is not a domain name")));
        }
        Ok(Self { kind: Kind::DomainName, value: value.to_owned() })
    }

    /// `[ipv4-addr:value = '…']` for an address, `ISSUBSET '…/n'` for a CIDR block.
    pub fn ipv4(value: &str) -> Result<Self, StixError> {
        let (address, _) = split_cidr(value, 32).map_err(|e| StixError::property("ipv4-addr", e))?;
        address
            .parse::<Ipv4Addr>()
            .map_err(|_| StixError::property("ipv4-addr", format!("{value:?} is not an IPv4 address")))?;
        Ok(Self { kind: Kind::Ipv4Addr, value: value.to_owned() })
    }

    /// `[ipv6-addr:value = '…']` for an address, `ISSUBSET '…/n'` for a CIDR block. An address
    /// written with an embedded IPv4 quad (`::ffff:192.0.2.1`, as `std` prints a mapped one) is
    /// compared, and emitted by the `ipv6-addr` SCO, in hex (`::ffff:c000:201`): the OASIS
    /// validator's `ipv6-addr` pattern refuses the dotted form.
    pub fn ipv6(value: &str) -> Result<Self, StixError> {
        let (address, _) = split_cidr(value, 128).map_err(|e| StixError::property("ipv6-addr", e))?;
        let parsed = address
            .parse::<Ipv6Addr>()
            .map_err(|_| StixError::property("ipv6-addr", format!("{value:?} is not an IPv6 address")))?;
        let value = if address.contains('.') {
            let hex = hex_ipv6(parsed);
            value.split_once('/').map_or_else(|| hex.clone(), |(_, prefix)| format!("{hex}/{prefix}"))
        } else {
            value.to_owned()
        };
        Ok(Self { kind: Kind::Ipv6Addr, value })
    }

    /// `[email-addr:value = '…']`
    pub fn email_addr(value: &str) -> Result<Self, StixError> {
        if !value.contains('@') {
            return Err(StixError::property("email-addr", format!("{value:?} is not an email address")));
        }
        Ok(Self { kind: Kind::EmailAddr, value: value.to_owned() })
    }

    /// `[file:hashes.'SHA-256' = '…']` (value checked and lowercased).
    pub fn file_hash(algorithm: HashAlgorithm, value: &str) -> Result<Self, StixError> {
        Ok(Self { kind: Kind::FileHash(algorithm), value: algorithm.check(value)? })
    }

    /// `[file:name = '…']`
    pub fn file_name(value: &str) -> Result<Self, StixError> {
        Ok(Self { kind: Kind::FileName, value: non_empty("file name", value)? })
    }

    /// `[email-message:subject = '…']`
    pub fn email_subject(value: &str) -> Result<Self, StixError> {
        Ok(Self { kind: Kind::EmailSubject, value: non_empty("email subject", value)? })
    }

    /// `[email-message:from_ref.value = '…']`
    pub fn email_from(value: &str) -> Result<Self, StixError> {
        if !value.contains('@') {
            return Err(StixError::property(
                "email-message from",
                format!("{value:?} is not an email address"),
            ));
        }
        Ok(Self { kind: Kind::EmailFrom, value: value.to_owned() })
    }

    /// The SCO type the comparison is about.
    pub fn object_type(&self) -> &'static str {
        match self.kind {
            Kind::Url => "url",
            Kind::DomainName => "domain-name",
            Kind::Ipv4Addr => "ipv4-addr",
            Kind::Ipv6Addr => "ipv6-addr",
            Kind::EmailAddr => "email-addr",
            Kind::FileHash(_) | Kind::FileName => "file",
            Kind::EmailSubject | Kind::EmailFrom => "email-message",
        }
    }

    /// The compared value, unescaped.
    pub fn value(&self) -> &str {
        &self.value
    }

    fn is_cidr(&self) -> bool {
        matches!(self.kind, Kind::Ipv4Addr | Kind::Ipv6Addr) && self.value.contains('/')
    }
}

impl fmt::Display for PatternTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = match self.kind {
            Kind::FileHash(algorithm) => format!("file:hashes.{}", quote(algorithm.as_str())),
            Kind::FileName => "file:name".to_owned(),
            Kind::EmailSubject => "email-message:subject".to_owned(),
            Kind::EmailFrom => "email-message:from_ref.value".to_owned(),
            _ => format!("{}:value", self.object_type()),
        };
        // A block matches the addresses inside it, which `=` would not express.
        let operator = if self.is_cidr() { "ISSUBSET" } else { "=" };
        write!(f, "{path} {operator} {}", quote(&self.value))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Join {
    And,
    Or,
}

/// One observation expression, `[term (AND|OR term)*]`. AND binds tighter than OR, as in the
/// STIX patterning grammar.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    first: PatternTerm,
    rest: Vec<(Join, PatternTerm)>,
}

impl Pattern {
    /// A pattern of one comparison.
    pub fn new(term: PatternTerm) -> Self {
        Self { first: term, rest: Vec::new() }
    }

    /// Any of the terms (joined by OR); at least one is needed.
    pub fn any(terms: impl IntoIterator<Item = PatternTerm>) -> Result<Self, StixError> {
        let mut terms = terms.into_iter();
        let first = terms.next().ok_or_else(|| StixError::property("pattern", "no comparison given"))?;
        Ok(terms.fold(Self::new(first), Self::or))
    }

    /// Adds an alternative.
    #[must_use]
    pub fn or(mut self, term: PatternTerm) -> Self {
        self.rest.push((Join::Or, term));
        self
    }

    /// Adds a comparison that must hold on the same object as the previous one, so it must be
    /// about the same object type (STIX patterning §9.5).
    pub fn and(mut self, term: PatternTerm) -> Result<Self, StixError> {
        let previous = self.rest.last().map_or(&self.first, |(_, t)| t);
        if previous.object_type() != term.object_type() {
            return Err(StixError::property(
                "pattern",
                format!(
                    "AND joins comparisons on one object: {} and {}",
                    previous.object_type(),
                    term.object_type()
                ),
            ));
        }
        self.rest.push((Join::And, term));
        Ok(self)
    }

    /// The comparisons, in order.
    pub fn terms(&self) -> impl Iterator<Item = &PatternTerm> {
        std::iter::once(&self.first).chain(self.rest.iter().map(|(_, t)| t))
    }
}

impl From<PatternTerm> for Pattern {
    fn from(term: PatternTerm) -> Self {
        Self::new(term)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}", self.first)?;
        for (join, term) in &self.rest {
            let join = match join {
                Join::And => "AND",
                Join::Or => "OR",
            };
            write!(f, " {join} {term}")?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256: &str = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";

    #[test]
    fn simple_patterns() {
        let p = Pattern::new(PatternTerm::domain_name("x.example").unwrap());
        assert_eq!(p.to_string(), "[domain-name:value = 'x.example']");
        let p = Pattern::new(PatternTerm::url("https://x.example/a?b=c").unwrap());
        assert_eq!(p.to_string(), "[url:value = 'https://x.example/a?b=c']");
        let p = Pattern::new(PatternTerm::email_addr("ceo@x.example").unwrap());
        assert_eq!(p.to_string(), "[email-addr:value = 'ceo@x.example']");
        let p = Pattern::new(PatternTerm::ipv4("198.51.100.7").unwrap());
        assert_eq!(p.to_string(), "[ipv4-addr:value = '198.51.100.7']");
        let p = Pattern::new(PatternTerm::ipv6("2001:db8::1").unwrap());
        assert_eq!(p.to_string(), "[ipv6-addr:value = '2001:db8::1']");
    }

    #[test]
    fn cidr_blocks_use_issubset() {
        let p = Pattern::new(PatternTerm::ipv4("198.51.100.0/24").unwrap());
        assert_eq!(p.to_string(), "[ipv4-addr:value ISSUBSET '198.51.100.0/24']");
        let p = Pattern::new(PatternTerm::ipv6("2001:db8::/32").unwrap());
        assert_eq!(p.to_string(), "[ipv6-addr:value ISSUBSET '2001:db8::/32']");
        assert!(PatternTerm::ipv4("198.51.100.0/33").is_err());
        assert!(PatternTerm::ipv4("198.51.100.0/").is_err());
        assert!(PatternTerm::ipv4("198.51.100.0/+8").is_err());
        assert!(PatternTerm::ipv6("2001:db8::/129").is_err());
        assert!(PatternTerm::ipv4("999.1.1.1").is_err());
        assert!(PatternTerm::ipv4("2001:db8::1").is_err());
        assert!(PatternTerm::ipv6("198.51.100.7").is_err());
        // An embedded IPv4 quad is compared in hex.
        assert_eq!(PatternTerm::ipv6("::ffff:8.41.221.48").unwrap().value(), "::ffff:829:dd30");
        assert_eq!(PatternTerm::ipv6("64:ff9b::192.0.2.1/120").unwrap().value(), "64:ff9b::c000:201/120");
        assert_eq!(PatternTerm::ipv6("1:0:0:2:0:0:0.0.0.3").unwrap().value(), "1:0:0:2::3");
        assert_eq!(PatternTerm::ipv6("::0.0.0.0").unwrap().value(), "::");
        assert_eq!(PatternTerm::ipv6("2001:DB8::1").unwrap().value(), "2001:DB8::1");
    }

    #[test]
    fn hash_keys_are_quoted_and_values_lowercased() {
        for (algorithm, key, value) in [
            (HashAlgorithm::Md5, "MD5", "d41d8cd98f00b204e9800998ecf8427e".to_owned()),
            (HashAlgorithm::Sha1, "SHA-1", "da39a3ee5e6b4b0d3255bfef95601890afd80709".to_owned()),
            (HashAlgorithm::Sha256, "SHA-256", SHA256.to_lowercase()),
            (HashAlgorithm::Sha512, "SHA-512", "ab".repeat(64)),
        ] {
            let p = Pattern::new(PatternTerm::file_hash(algorithm, &value.to_uppercase()).unwrap());
            assert_eq!(p.to_string(), format!("[file:hashes.'{key}' = '{value}']"));
        }
        assert!(PatternTerm::file_hash(HashAlgorithm::Sha256, "abc").is_err());
        assert!(PatternTerm::file_hash(HashAlgorithm::Md5, &"g".repeat(32)).is_err());
    }

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        let p = Pattern::new(PatternTerm::url(r"http://x.example/it's\here").unwrap());
        assert_eq!(p.to_string(), r"[url:value = 'http://x.example/it\'s%5Chere']");
        let p = Pattern::new(PatternTerm::file_name(r"C:\invoice 'final'.pdf.exe").unwrap());
        assert_eq!(p.to_string(), r"[file:name = 'C:\\invoice \'final\'.pdf.exe']");
        assert_eq!(quote(r"\'"), r"'\\\''");
    }

    #[test]
    fn email_message_terms() {
        let p = Pattern::new(PatternTerm::email_from("boss@evil.example").unwrap())
            .and(PatternTerm::email_subject("Urgent: wire").unwrap())
            .unwrap();
        assert_eq!(
            p.to_string(),
            "[email-message:from_ref.value = 'boss@evil.example' AND email-message:subject = 'Urgent: wire']"
        );
        assert!(
            Pattern::new(PatternTerm::email_subject("x").unwrap())
                .and(PatternTerm::url("http://x").unwrap())
                .is_err()
        );
    }

    #[test]
    fn alternatives_are_ored() {
        let p = Pattern::any([
            PatternTerm::domain_name("a.example").unwrap(),
            PatternTerm::domain_name("b.example").unwrap(),
            PatternTerm::ipv4("192.0.2.1").unwrap(),
        ])
        .unwrap();
        assert_eq!(
            p.to_string(),
            "[domain-name:value = 'a.example' OR domain-name:value = 'b.example' OR ipv4-addr:value = '192.0.2.1']"
        );
        assert_eq!(p.terms().count(), 3);
        assert!(Pattern::any([]).is_err());
    }

    #[test]
    fn empty_and_malformed_values_are_rejected() {
        assert!(PatternTerm::url("").is_err());
        assert!(PatternTerm::url("x.example/a").is_err());
        let p = PatternTerm::url("http://x.example/track/[open]").unwrap();
        assert_eq!(p.value(), "http://x.example/track/%5Bopen%5D");
        assert!(PatternTerm::domain_name("a b.example").is_err());
        assert!(PatternTerm::email_addr("nobody").is_err());
        assert!(PatternTerm::file_name("").is_err());
        assert!(PatternTerm::email_subject("").is_err());
        assert!(PatternTerm::email_from("nobody").is_err());
    }
}
