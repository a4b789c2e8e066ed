//! Property test: hostile values through every builder. Whatever a builder accepts must come out
//! as an object our `StixValidator` accepts *and* whose formatted strings (URIs, email
//! addresses, host names, hashes, timestamps) pass the checks the OASIS validator applies in
//! strict mode, restated here independently of the builders (the URI grammar is python
//! `rfc3986-validator`'s regular expression, the address shape stix2-validator's `EMAIL_RE`, the
//! host rules python `idna`'s). A builder may refuse a value; it may never emit it malformed.
//! A sample of the same objects goes through the OASIS validator in `tests/api/stix_oracle.rs`.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use super::*;
use crate::stix::schema::StixValidator;
use crate::stix::{Pattern, PatternTerm, StixTimestamp};

/// python `rfc3986_validator` 0.1.1's `URI_RE` (used by jsonschema's `uri` format), `{,n}`
/// spelled `{0,n}` for Rust's regex syntax.
fn oasis_uri() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let h16 = "[0-9A-Fa-f]{1,4}";
        let dec = "(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)";
        let v4 = format!("(?:{dec}\\.){{3}}{dec}");
        let ls32 = format!("(?:{h16}:{h16}|{v4})");
        let v6 = [
            format!("(?:{h16}:){{6}}{ls32}"),
            format!("::(?:{h16}:){{5}}{ls32}"),
            format!("(?:{h16})?::(?:{h16}:){{4}}{ls32}"),
            format!("(?:(?:{h16}:)?{h16})?::(?:{h16}:){{3}}{ls32}"),
            format!("(?:(?:{h16}:){{0,2}}{h16})?::(?:{h16}:){{2}}{ls32}"),
            format!("(?:(?:{h16}:){{0,3}}{h16})?::(?:{h16}:){ls32}"),
            format!("(?:(?:{h16}:){{0,4}}{h16})?::{ls32}"),
            format!("(?:(?:{h16}:){{0,5}}{h16})?::{h16}"),
            format!("(?:(?:{h16}:){{0,6}}{h16})?::"),
        ]
        .join("|");
        let pct = "%[0-9A-Fa-f]{2}";
        let authority = format!(
            "(?:(?:[a-zA-Z0-9_.~\\-!$&'()*+,;=:]|{pct})*@)?\
             (?:\\[(?:{v6}|v[0-9A-Fa-f]+\\.[a-zA-Z0-9_.~\\-!$&'()*+,;=:]+)\\]|{v4}|(?:[a-zA-Z0-9_.~\\-!$&'()*+,;=]|{pct})*)\
             (?::[0-9]*)?"
        );
        let pchar = format!("(?:[a-zA-Z0-9_.~\\-!$&'()*+,;=:@]|{pct})");
        let query = format!("(?:[a-zA-Z0-9_.~\\-!$&'()*+,;=:@/?]|{pct})*");
        let uri = format!(
            "^[a-zA-Z][a-zA-Z0-9+.-]*:(?://{authority}(?:/{pchar}*)*|/(?:{pchar}+(?:/{pchar}*)*)?|{pchar}+(?:/{pchar}*)*|)\
             (?:\\?{query})?(?:\\#{query})?$"
        );
        Regex::new(&uri).unwrap()
    })
}

/// stix2-validator's `EMAIL_RE`.
fn oasis_email(value: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$").unwrap())
        .is_match(value)
}

/// python `idna.encode` (what jsonschema's `idn-hostname` runs), roughly: ASCII labels of
/// letters, digits and hyphens; Unicode labels of lower-case letters and digits (its PVALID
/// classes in short).
fn oasis_hostname(value: &str) -> bool {
    let name = value.strip_suffix('.').unwrap_or(value);
    let a_len = |l: &str| idna::domain_to_ascii(l).map_or(usize::MAX, |a| a.len());
    name.len() <= 253
        && name.split('.').all(|l| {
            let chars_ok = if l.is_ascii() {
                l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            } else {
                l.chars().all(|c| c == '-' || (c.is_alphanumeric() && !c.is_uppercase()))
            };
            !l.is_empty()
                && a_len(l) <= 63
                && chars_ok
                && !l.starts_with('-')
                && !l.ends_with('-')
                && (l.get(2..4) != Some("--") || l.to_ascii_lowercase().starts_with("xn--"))
        })
}

fn oasis_timestamp(value: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^[0-9]{4}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)(\.[0-9]+)?Z$",
        )
        .unwrap()
    })
    .is_match(value)
}

/// Every formatted string of `object` (top level, hashes, external references) in its format.
fn format_problems(object: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expect = |ok: bool, what: &str, value: &Value| {
        if !ok {
            problems.push(format!("{what}: {value}"));
        }
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match object["type"].as_str().unwrap_or_default() {
        "url" => expect(oasis_uri().is_match(&text(&object["value"])), "url value", &object["value"]),
        "email-addr" => expect(oasis_email(&text(&object["value"])), "email-addr value", &object["value"]),
        "domain-name" => {
            expect(oasis_hostname(&text(&object["value"])), "domain-name value", &object["value"]);
        }
        "artifact" if object.get("url").is_some() => {
            expect(oasis_uri().is_match(&text(&object["url"])), "artifact url", &object["url"]);
        }
        _ => {}
    }
    for reference in object["external_references"].as_array().into_iter().flatten() {
        if let Some(url) = reference.get("url") {
            expect(oasis_uri().is_match(&text(url)), "external_references.url", url);
        }
    }
    let hash_hex = |(alg, v): (&String, &Value)| {
        let len = match alg.as_str() {
            "MD5" => 32,
            "SHA-1" => 40,
            "SHA-256" => 64,
            "SHA-512" => 128,
            _ => return false,
        };
        let v = text(v);
        v.len() == len && v.bytes().all(|b| b.is_ascii_hexdigit())
    };
    for hashes in [&object["hashes"]]
        .into_iter()
        .chain(object["external_references"].as_array().into_iter().flatten().map(|r| &r["hashes"]))
    {
        for pair in hashes.as_object().into_iter().flatten() {
            expect(hash_hex(pair), "hash", pair.1);
        }
    }
    for key in [
        "created",
        "modified",
        "valid_from",
        "valid_until",
        "first_observed",
        "last_observed",
        "date",
        "published",
    ] {
        if let Some(v) = object.get(key) {
            expect(oasis_timestamp(&text(v)), key, v);
        }
    }
    problems
}

/// Deterministic hostile strings: delimiters, escapes, controls, Unicode, lookalikes.
struct Hostile(u64);

impl Hostile {
    const PIECES: &'static [&'static str] = &[
        "a",
        "Z",
        "0",
        "9",
        "f",
        "-",
        "--",
        "_",
        ".",
        "..",
        "~",
        "@",
        "@@",
        ":",
        "/",
        "//",
        "?",
        "#",
        "[",
        "]",
        "%",
        "%4",
        "%41",
        "%zz",
        " ",
        "\t",
        "\n",
        "\r\n",
        "\0",
        "\u{7f}",
        "\"",
        "'",
        "\\",
        "<",
        ">",
        "^",
        "`",
        "{",
        "|",
        "}",
        "!",
        "$",
        "&",
        "(",
        ")",
        "*",
        "+",
        ",",
        ";",
        "=",
        "ä",
        "Ä",
        "例え",
        "ß",
        "\u{200b}",
        "\u{202e}",
        "\u{fffd}",
        "😀",
        "xn--",
        "xn--zz",
        "xn--bcher-kva",
        "::1",
        "[::1]",
        "127.0.0.1",
        "http://",
        "mailto:",
        "example",
        "com",
        ".com",
        "x.example",
        "T",
        "Z",
        "2026-02-30T25:00:00Z",
        "1970-01-01T00:00:00Z",
        "d41d8cd98f00b204e9800998ecf8427e",
        "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
    ];

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn string(&mut self) -> String {
        let mut out = String::new();
        let n = self.next() % 12;
        for _ in 0..n {
            let i = (self.next() as usize) % Self::PIECES.len();
            out.push_str(Self::PIECES[i]);
        }
        if self.next().is_multiple_of(50) {
            out = out.repeat(40);
        }
        out
    }
}

/// Every builder of this module fed with `s` (raw and inside plausible shapes).
fn built_from(s: &str) -> Vec<Result<StixObject, StixError>> {
    let url_like = format!("http://{s}");
    let host_like = format!("{s}.example.com");
    let mail_like = format!("{s}@{s}.example.com");
    let mut out: Vec<Result<StixObject, StixError>> = Vec::new();
    for v in [s, url_like.as_str()] {
        out.push(Url::from_iri(v).map(Into::into));
        out.push(Url::new(v).map(Into::into));
        out.push(Artifact::from_url(v, Hashes::of_bytes(b"x")).map(Into::into));
        out.push(ExternalReference::url("src", v, Hashes::of_bytes(b"x")).and_then(|r| {
            let mut i = Identity::organization("Acme")?;
            i.common.external_references.push(r);
            Ok(i.into())
        }));
        out.push(PatternTerm::url(v).and_then(|t| {
            Indicator::new(&Pattern::new(t), StixTimestamp::from_micros(0)?).map(|i| i.described(s, s).into())
        }));
    }
    for v in [s, host_like.as_str()] {
        out.push(DomainName::new(v).map(Into::into));
        out.push(Ipv4Addr::new(v).map(Into::into));
        out.push(Ipv6Addr::new(v).map(Into::into));
    }
    for v in [s, mail_like.as_str()] {
        out.push(EmailAddr::new(v).map(|a| a.with_display_name(s).into()));
        out.push(EmailAddr::new(v).and_then(|a| EmailMessage::new(false).from(&a)).map(Into::into));
    }
    for alg in HashAlgorithm::ALL {
        out.push(Hashes::new().with(alg, s).and_then(File::with_hashes).map(Into::into));
    }
    out.push(File::named(s).map(Into::into));
    out.push(Ok(EmailMessage::new(false).with_subject(s).with_header("X-Hostile", s).into()));
    out.push(StixTimestamp::parse(s).and_then(|t| {
        Indicator::new(&Pattern::new(PatternTerm::domain_name("x.example")?), t)
            .map(|i| i.described("x", "y").into())
    }));
    out.push(Vulnerability::cve(s).map(Into::into));
    out.push(Vulnerability::new(s).map(Into::into));
    out.push(Identity::organization(s).map(Into::into));
    out.push(Note::new(s, vec![StixId::new_v4("indicator").unwrap()]).map(Into::into));
    out
}

#[test]
fn hostile_values_are_refused_or_emitted_valid() {
    let validator = StixValidator::new().unwrap();
    let mut hostile = Hostile(0x9E37_79B9_7F4A_7C15);
    let (mut accepted, mut refused) = (0usize, 0usize);
    for _ in 0..3_000 {
        let s = hostile.string();
        for built in built_from(&s) {
            let Ok(object) = built else {
                refused += 1;
                continue;
            };
            let Ok(json) = object.to_value() else {
                refused += 1;
                continue;
            };
            accepted += 1;
            if let Err(v) = validator.validate(&json) {
                panic!("{s:?}: our schemas refuse what a builder made: {v:?}\n{json}");
            }
            let problems = format_problems(&json);
            assert!(problems.is_empty(), "{s:?}: {problems:?}\n{json}");
        }
    }
    // Both outcomes happen: the generator is hostile enough, and not only refused.
    assert!(accepted > 10_000 && refused > 10_000, "accepted {accepted}, refused {refused}");
}

#[test]
fn the_oracles_here_agree_with_known_cases() {
    for ok in ["http://[::1]/", "http://x.example/%5Bopen%5D?q=1#f", "mailto:a@b", "http://u:p@1.2.3.4:80/"] {
        assert!(oasis_uri().is_match(ok), "{ok}");
    }
    for bad in
        ["http://x.example/[open]", "http://x.example/a b", "http://x/#a#b", "x.example", "http://[::g]/"]
    {
        assert!(!oasis_uri().is_match(bad), "{bad}");
    }
    assert!(oasis_hostname("xn--bcher-kva.example") && !oasis_hostname("_dmarc.x.example"));
    assert!(!oasis_hostname("r3--sn-x.example") && !oasis_hostname("a..b"));
    assert!(oasis_hostname("bücher.example") && !oasis_hostname("Bücher.example") && !oasis_hostname("😀.x"));
    assert!(oasis_email("a.b+c@x-y.example") && !oasis_email("a@localhost"));
}
