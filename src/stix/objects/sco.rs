//! The cyber-observables Harpoon emits (email-message, email-addr, url, domain-name,
//! ipv4/ipv6-addr, file, artifact) and their hashes. An SCO's id is computed from the
//! properties it serialises, by `StixId::sco`.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::common::{StixData, check_non_empty, check_ref};
use super::hashes::Hashes;
use crate::stix::pattern::PatternTerm;
use crate::stix::{StixError, StixId, StixTimestamp, uri};

/// Properties every SCO may carry besides its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScoCommon {
    pub object_marking_refs: Vec<StixId>,
    /// Whether values were defanged (Harpoon refangs, so normally false).
    pub defanged: bool,
}

/// What a cyber-observable type supplies; ids, JSON and validation are derived from it.
pub trait Sco {
    /// The STIX type name.
    const TYPE: &'static str;

    /// The type's own properties as they serialise (no `type`/`id`/`spec_version`/markings).
    fn properties(&self) -> Result<Map<String, Value>, StixError>;

    fn sco_common(&self) -> &ScoCommon;

    /// Type-specific checks.
    fn check(&self) -> Result<(), StixError>;

    /// The deterministic id, computed from [`Sco::properties`].
    fn id(&self) -> Result<StixId, StixError> {
        StixId::sco(Self::TYPE, &Value::Object(self.properties()?))
    }

    /// The full JSON object, with its computed id.
    fn to_value(&self) -> Result<Value, StixError> {
        let properties = self.properties()?;
        let id = StixId::sco(Self::TYPE, &Value::Object(properties.clone()))?;
        let mut object = Map::new();
        object.insert("type".to_owned(), Value::from(Self::TYPE));
        object.insert("spec_version".to_owned(), Value::from("2.1"));
        object.insert("id".to_owned(), Value::from(id.as_str()));
        object.extend(properties);
        let common = self.sco_common();
        if !common.object_marking_refs.is_empty() {
            object.insert("object_marking_refs".to_owned(), to_json(&common.object_marking_refs)?);
        }
        if common.defanged {
            object.insert("defanged".to_owned(), Value::Bool(true));
        }
        Ok(Value::Object(object))
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, StixError> {
    serde_json::to_value(value).map_err(|e| StixError::property("object", e.to_string()))
}

/// Builds the property map, leaving out absent and empty values.
#[derive(Default)]
struct Props(Map<String, Value>);

impl Props {
    fn put<T: Serialize>(mut self, key: &str, value: &T) -> Result<Self, StixError> {
        self.0.insert(key.to_owned(), to_json(value)?);
        Ok(self)
    }

    fn opt<T: Serialize>(self, key: &str, value: Option<&T>) -> Result<Self, StixError> {
        match value {
            Some(v) => self.put(key, v),
            None => Ok(self),
        }
    }

    fn list<T: Serialize>(self, key: &str, values: &[T]) -> Result<Self, StixError> {
        if values.is_empty() { Ok(self) } else { self.put(key, &values) }
    }

    fn hashes(self, hashes: &Hashes) -> Result<Self, StixError> {
        if hashes.is_empty() { Ok(self) } else { self.put("hashes", hashes) }
    }
}

/// Implements what every SCO offers from its `Sco` impl.
macro_rules! sco_impls {
    ($name:ident) => {
        impl $name {
            /// The deterministic id, computed from the object's properties.
            pub fn id(&self) -> Result<StixId, StixError> {
                Sco::id(self)
            }

            /// Checks what the specification requires beyond the types.
            pub fn validate(&self) -> Result<(), StixError> {
                StixData::validate(self)
            }

            /// Adds a marking definition to `object_marking_refs`.
            pub fn marked(mut self, marking: &StixId) -> Result<Self, StixError> {
                check_ref("object_marking_refs", marking, &["marking-definition"])?;
                if !self.common.object_marking_refs.contains(marking) {
                    self.common.object_marking_refs.push(marking.clone());
                }
                Ok(self)
            }
        }

        impl StixData for $name {
            fn stix_id(&self) -> Result<StixId, StixError> {
                Sco::id(self)
            }

            fn validate(&self) -> Result<(), StixError> {
                for marking in &self.common.object_marking_refs {
                    check_ref("object_marking_refs", marking, &["marking-definition"])?;
                }
                self.check()
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.to_value().map_err(serde::ser::Error::custom)?.serialize(serializer)
            }
        }
    };
}

/// The address shape the OASIS validator accepts (its `EMAIL_RE`, stricter than RFC 5322):
/// ASCII `local@label.rest`. An IDN domain must be given in punycode; a non-ASCII local part
/// cannot be emitted as a valid `email-addr`.
fn check_email(property: &'static str, value: &str) -> Result<(), StixError> {
    let local_ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-');
    let label_ok = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
    let ok = value.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && local.bytes().all(local_ok)
            && domain.split_once('.').is_some_and(|(first, rest)| {
                !first.is_empty()
                    && first.bytes().all(label_ok)
                    && !rest.is_empty()
                    && rest.bytes().all(|b| label_ok(b) || b == b'.')
            })
    });
    if ok {
        Ok(())
    } else {
        Err(StixError::property(
            property,
            format!("{value:?} is not an ASCII address (punycode an IDN domain)"),
        ))
    }
}

// ---------------------------------------------------------------------------------------------

/// `email-addr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddr {
    pub value: String,
    pub display_name: Option<String>,
    pub common: ScoCommon,
}

impl EmailAddr {
    pub fn new(value: &str) -> Result<Self, StixError> {
        check_email("email-addr value", value)?;
        Ok(Self { value: value.to_owned(), display_name: None, common: ScoCommon::default() })
    }

    #[must_use]
    pub fn with_display_name(mut self, display_name: &str) -> Self {
        self.display_name = Some(display_name.to_owned());
        self
    }
}

impl Sco for EmailAddr {
    const TYPE: &'static str = "email-addr";
    fn properties(&self) -> Result<Map<String, Value>, StixError> {
        Ok(Props::default().put("value", &self.value)?.opt("display_name", self.display_name.as_ref())?.0)
    }
    fn sco_common(&self) -> &ScoCommon {
        &self.common
    }
    fn check(&self) -> Result<(), StixError> {
        check_email("email-addr value", &self.value)
    }
}
sco_impls!(EmailAddr);

// ---------------------------------------------------------------------------------------------

/// `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub value: String,
    pub common: ScoCommon,
}

impl Url {
    /// A URL that is already a valid URI (RFC 3986), as the validator requires.
    pub fn new(value: &str) -> Result<Self, StixError> {
        uri::check("url value", value)?;
        Ok(Self { value: value.to_owned(), common: ScoCommon::default() })
    }

    /// A URL as found (an IRI, a sloppy URL from an email) in the form STIX emits, by the one
    /// rule of [`uri::to_uri`]. The text as found stays with whoever found it (the indicator's
    /// value and name, the extraction's provenance); the SCO id follows the emitted value.
    pub fn from_iri(text: &str) -> Result<Self, StixError> {
        Self::new(&uri::to_uri(text)?)
    }
}

impl Sco for Url {
    const TYPE: &'static str = "url";
    fn properties(&self) -> Result<Map<String, Value>, StixError> {
        Ok(Props::default().put("value", &self.value)?.0)
    }
    fn sco_common(&self) -> &ScoCommon {
        &self.common
    }
    fn check(&self) -> Result<(), StixError> {
        uri::check("url value", &self.value)
    }
}
sco_impls!(Url);

// ---------------------------------------------------------------------------------------------

/// `domain-name`, optionally with what it resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainName {
    pub value: String,
    pub resolves_to_refs: Vec<StixId>,
    pub common: ScoCommon,
}

const RESOLVES_TO: &[&str] = &["ipv4-addr", "ipv6-addr", "domain-name"];

/// The name shape the OASIS validator's `idn-hostname` format accepts (IDNA2008 through python
/// `idna`): labels of 1-63 characters (ASCII form), no hyphen at either end nor in the 3rd and
/// 4th place unless it is a valid A-label (`xn--…`), at most 253 characters, one trailing dot
/// allowed. An ASCII label holds letters, digits and hyphens (`_dmarc`, `r3--sn-x` cannot be
/// emitted); a Unicode label lower-case letters, digits and hyphens already in their IDNA
/// form (`bücher`, not `Bücher`, no emoji, no zero-width characters).
fn check_domain(property: &'static str, value: &str) -> Result<(), StixError> {
    PatternTerm::domain_name(value)?;
    let bad = |why: &str| StixError::property(property, format!("{value:?} is not a host name: {why}"));
    let name = value.strip_suffix('.').unwrap_or(value);
    let ascii = idna::domain_to_ascii(name).map_err(|_| bad("IDNA refuses it"))?;
    if ascii.len() > 253 {
        return Err(bad("longer than 253 characters"));
    }
    for label in name.split('.') {
        let a_label = if label.is_ascii() {
            label.to_owned()
        } else {
            let unicode_ok = label.chars().all(|c| c == '-' || (c.is_alphanumeric() && !c.is_uppercase()));
            match idna::domain_to_ascii_strict(label) {
                Ok(a) if unicode_ok && idna::domain_to_unicode(&a).0 == label => a,
                _ => return Err(bad("a Unicode label IDNA2008 does not allow as written")),
            }
        };
        if label.is_empty() || a_label.len() > 63 {
            return Err(bad("a label is empty or longer than 63 characters"));
        }
        if !a_label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(bad("a label holds other than letters, digits and hyphens"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("a label starts or ends with a hyphen"));
        }
        if label.is_ascii() && label.get(2..4) == Some("--") {
            let lower = label.to_ascii_lowercase();
            let valid_a_label = lower.starts_with("xn--") && {
                let (unicode, decoded) = idna::domain_to_unicode(&lower);
                decoded.is_ok()
                    && unicode != lower
                    && idna::domain_to_ascii_strict(&unicode).is_ok_and(|again| again == lower)
            };
            if !valid_a_label {
                return Err(bad("hyphens in the 3rd and 4th place of a label that is no A-label"));
            }
        }
    }
    Ok(())
}

impl DomainName {
    pub fn new(value: &str) -> Result<Self, StixError> {
        check_domain("domain-name value", value)?;
        Ok(Self { value: value.to_owned(), resolves_to_refs: Vec::new(), common: ScoCommon::default() })
    }

    /// Adds an address (or domain) this name resolves to.
    pub fn resolves_to(mut self, target: &StixId) -> Result<Self, StixError> {
        check_ref("resolves_to_refs", target, RESOLVES_TO)?;
        self.resolves_to_refs.push(target.clone());
        Ok(self)
    }
}

impl Sco for DomainName {
    const TYPE: &'static str = "domain-name";
    fn properties(&self) -> Result<Map<String, Value>, StixError> {
        Ok(Props::default().put("value", &self.value)?.list("resolves_to_refs", &self.resolves_to_refs)?.0)
    }
    fn sco_common(&self) -> &ScoCommon {
        &self.common
    }
    fn check(&self) -> Result<(), StixError> {
        check_domain("domain-name value", &self.value)?;
        self.resolves_to_refs.iter().try_for_each(|r| check_ref("resolves_to_refs", r, RESOLVES_TO))
    }
}
sco_impls!(DomainName);

// ---------------------------------------------------------------------------------------------

/// `ipv4-addr`: an address or a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Addr {
    pub value: String,
    pub common: ScoCommon,
}

impl Ipv4Addr {
    pub fn new(value: &str) -> Result<Self, StixError> {
        PatternTerm::ipv4(value)?;
        Ok(Self { value: value.to_owned(), common: ScoCommon::default() })
    }
}

impl Sco for Ipv4Addr {
    const TYPE: &'static str = "ipv4-addr";
    fn properties(&self) -> Result<Map<String, Value>, StixError> {
        Ok(Props::default().put("value", &self.value)?.0)
    }
    fn sco_common(&self) -> &ScoCommon {
        &self.common
    }
    fn check(&self) -> Result<(), StixError> {
        PatternTerm::ipv4(&self.value).map(drop)
    }
}
sco_impls!(Ipv4Addr);

/// `ipv6-addr`: an address or a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Addr {
    pub value: String,
    pub common: ScoCommon,
}

impl Ipv6Addr {
    /// The address in the text its pattern compares (an embedded IPv4 quad in hex).
    pub fn new(value: &str) -> Result<Self, StixError> {
        Ok(Self { value: PatternTerm::ipv6(value)?.value().to_owned(), common: ScoCommon::default() })
    }
}

impl Sco for Ipv6Addr {
    const TYPE: &'static str = "ipv6-addr";
    fn properties(&self) -> Result<Map<String, Value>, StixError> {
        Ok(Props::default().put("value", &self.value)?.0)
    }
    fn sco_common(&self) -> &ScoCommon {
        &self.common
    }
    fn check(&self) -> Result<(), StixError> {
        PatternTerm::ipv6(&self.value)?;
        if self.value.contains('.') {
            return Err(StixError::property(
                "ipv6-addr value",
                "an embedded IPv4 address must be written in hex",
            ));
        }
        Ok(())
    }
}
sco_impls!(Ipv6Addr);

// ---------------------------------------------------------------------------------------------

/// `file`: an attachment (name, size, MIME type, hashes). Needs a name or hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct File {
    pub name: Option<String>,
    pub size: Option<u64>,
    pub mime_type: Option<String>,
    pub hashes: Hashes,
    pub common: ScoCommon,
}

impl File {
    /// A file known by name only.
    pub fn named(name: &str) -> Result<Self, StixError> {
        check_non_empty("file name", name)?;
        Ok(Self { name: Some(name.to_owned()), ..Self::default() })
    }

    /// A file known by its hashes (at least one).
    pub fn with_hashes(hashes: Hashes) -> Result<Self, StixError> {
        let file = Self { hashes, ..Self::default() };
        file.check()?;
        Ok(file)
    }

    /// An attachment: name, size, MIME type and MD5/SHA-1/SHA-256 of its bytes.
    pub fn attachment(name: &str, mime_type: &str, bytes: &[u8]) -> Result<Self, StixError> {
        check_non_empty("file name", name)?;
        Ok(Self {
            name: Some(name.to_owned()),
            size: u64::try_from(bytes.len()).ok(),
            mime_type: Some(mime_type.to_owned()),
            hashes: Hashes::of_bytes(bytes),
            common: ScoCommon::default(),
        })
    }
}

impl Sco for File {
    const TYPE: &'static str = "file";
    fn properties(&self) -> Result<Map<String, Value>, StixError> {
        Ok(Props::default()
            .hashes(&self.hashes)?
            .opt("size", self.size.as_ref())?
            .opt("name", self.name.as_ref())?
            .opt("mime_type", self.mime_type.as_ref())?
            .0)
    }
    fn sco_common(&self) -> &ScoCommon {
        &self.common
    }
    fn check(&self) -> Result<(), StixError> {
        if self.name.as_deref().is_none_or(str::is_empty) && self.hashes.is_empty() {
            return Err(StixError::property("file", "needs a name or hashes"));
        }
        if let Some(mime) = &self.mime_type {
            check_mime_type(mime)?;
        }
        Ok(())
    }
}
sco_impls!(File);

/// `type/subtype` with the characters IANA templates use.
fn check_mime_type(mime: &str) -> Result<(), StixError> {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'_' | b'-'))
    };
    match mime.split_once('/') {
        Some((kind, sub)) if token(kind) && token(sub) => Ok(()),
        _ => Err(StixError::property("mime_type", format!("{mime:?} is not type/subtype"))),
    }
}

// ---------------------------------------------------------------------------------------------

/// `artifact`: raw bytes (the verbatim email), base64 in `payload_bin`, with their hashes;
/// or a URL to them, which then needs hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifact {
    pub mime_type: Option<String>,
    pub payload: Option<Vec<u8>>,
    pub url: Option<String>,
    pub hashes: Hashes,
    pub common: ScoCommon,
}

impl Artifact {
    /// The bytes themselves, with their MD5/SHA-1/SHA-256.
    pub fn from_bytes(bytes: &[u8], mime_type: Option<&str>) -> Result<Self, StixError> {
        let artifact = Self {
            mime_type: mime_type.map(str::to_owned),
            payload: Some(bytes.to_vec()),
            url: None,
            hashes: Hashes::of_bytes(bytes),
            common: ScoCommon::default(),
        };
        artifact.check()?;
        Ok(artifact)
    }

    /// Bytes kept elsewhere.
    pub fn from_url(url: &str, hashes: Hashes) -> Result<Self, StixError> {
        let artifact = Self { url: Some(url.to_owned()), hashes, ..Self::default() };
        artifact.check()?;
        Ok(artifact)
    }
}

impl Sco for Artifact {
    const TYPE: &'static str = "artifact";
    fn properties(&self) -> Result<Map<String, Value>, StixError> {
        let payload = self.payload.as_ref().map(|p| base64::engine::general_purpose::STANDARD.encode(p));
        Ok(Props::default()
            .opt("mime_type", self.mime_type.as_ref())?
            .opt("payload_bin", payload.as_ref())?
            .opt("url", self.url.as_ref())?
            .hashes(&self.hashes)?
            .0)
    }
    fn sco_common(&self) -> &ScoCommon {
        &self.common
    }
    fn check(&self) -> Result<(), StixError> {
        match (&self.payload, &self.url) {
            (Some(_), Some(_)) => {
                Err(StixError::property("artifact", "payload_bin and url are mutually exclusive"))
            }
            (None, Some(_)) if self.hashes.is_empty() => {
                Err(StixError::property("artifact", "an artifact by url needs hashes"))
            }
            (None, None) => Err(StixError::property("artifact", "needs payload_bin or url")),
            (Some(payload), None) if payload.is_empty() => Err(StixError::property(
                "artifact",
                "an empty payload_bin is no base64 the validator accepts",
            )),
            (_, url) => {
                url.as_deref().map_or(Ok(()), |u| uri::check("artifact url", u))?;
                self.mime_type.as_deref().map_or(Ok(()), check_mime_type)
            }
        }
    }
}
sco_impls!(Artifact);

// ---------------------------------------------------------------------------------------------

/// One MIME part of a multipart email: inline text, or a reference to an artifact or file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MimePart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_raw_ref: Option<StixId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
}

impl MimePart {
    fn check(&self) -> Result<(), StixError> {
        if let Some(raw) = &self.body_raw_ref {
            check_ref("body_raw_ref", raw, &["artifact", "file"])?;
        }
        if self.body.is_some() == self.body_raw_ref.is_some() {
            return Err(StixError::property("body_multipart", "a part has either body or body_raw_ref"));
        }
        Ok(())
    }
}

/// `email-message`: the reported email, its addresses, selected headers and the raw bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailMessage {
    pub is_multipart: bool,
    pub date: Option<StixTimestamp>,
    pub content_type: Option<String>,
    pub from_ref: Option<StixId>,
    pub sender_ref: Option<StixId>,
    pub to_refs: Vec<StixId>,
    pub cc_refs: Vec<StixId>,
    pub bcc_refs: Vec<StixId>,
    pub message_id: Option<String>,
    pub subject: Option<String>,
    pub received_lines: Vec<String>,
    /// Header name (as written) → values, in order.
    pub additional_header_fields: BTreeMap<String, Vec<String>>,
    /// Only when not multipart.
    pub body: Option<String>,
    /// Only when multipart.
    pub body_multipart: Vec<MimePart>,
    pub raw_email_ref: Option<StixId>,
    pub common: ScoCommon,
}

const EMAIL_ADDR: &[&str] = &["email-addr"];

impl EmailMessage {
    /// An email; everything else is set through the public fields or the methods below.
    pub fn new(is_multipart: bool) -> Self {
        Self { is_multipart, ..Self::default() }
    }

    pub fn from(mut self, from: &EmailAddr) -> Result<Self, StixError> {
        self.from_ref = Some(from.id()?);
        Ok(self)
    }

    pub fn to(mut self, to: &EmailAddr) -> Result<Self, StixError> {
        self.to_refs.push(to.id()?);
        Ok(self)
    }

    pub fn cc(mut self, cc: &EmailAddr) -> Result<Self, StixError> {
        self.cc_refs.push(cc.id()?);
        Ok(self)
    }

    /// The verbatim message.
    pub fn raw(mut self, raw: &Artifact) -> Result<Self, StixError> {
        self.raw_email_ref = Some(raw.id()?);
        Ok(self)
    }

    #[must_use]
    pub fn with_subject(mut self, subject: &str) -> Self {
        self.subject = Some(subject.to_owned());
        self
    }

    /// Adds a header value under `additional_header_fields`.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.additional_header_fields.entry(name.to_owned()).or_default().push(value.to_owned());
        self
    }
}

impl Sco for EmailMessage {
    const TYPE: &'static str = "email-message";
    fn properties(&self) -> Result<Map<String, Value>, StixError> {
        // The schema wants a string, or a list of two or more strings.
        let headers: Option<Map<String, Value>> = if self.additional_header_fields.is_empty() {
            None
        } else {
            Some(
                self.additional_header_fields
                    .iter()
                    .map(|(name, values)| {
                        let value = match values.as_slice() {
                            [one] => Value::from(one.as_str()),
                            many => Value::from(many.to_vec()),
                        };
                        (name.clone(), value)
                    })
                    .collect(),
            )
        };
        Ok(Props::default()
            .put("is_multipart", &self.is_multipart)?
            .opt("date", self.date.as_ref())?
            .opt("content_type", self.content_type.as_ref())?
            .opt("from_ref", self.from_ref.as_ref())?
            .opt("sender_ref", self.sender_ref.as_ref())?
            .list("to_refs", &self.to_refs)?
            .list("cc_refs", &self.cc_refs)?
            .list("bcc_refs", &self.bcc_refs)?
            .opt("message_id", self.message_id.as_ref())?
            .opt("subject", self.subject.as_ref())?
            .list("received_lines", &self.received_lines)?
            .opt("additional_header_fields", headers.as_ref())?
            .opt("body", self.body.as_ref())?
            .list("body_multipart", &self.body_multipart)?
            .opt("raw_email_ref", self.raw_email_ref.as_ref())?
            .0)
    }
    fn sco_common(&self) -> &ScoCommon {
        &self.common
    }
    fn check(&self) -> Result<(), StixError> {
        for (property, id) in [("from_ref", &self.from_ref), ("sender_ref", &self.sender_ref)] {
            if let Some(id) = id {
                check_ref(property, id, EMAIL_ADDR)?;
            }
        }
        for (property, refs) in
            [("to_refs", &self.to_refs), ("cc_refs", &self.cc_refs), ("bcc_refs", &self.bcc_refs)]
        {
            refs.iter().try_for_each(|r| check_ref(property, r, EMAIL_ADDR))?;
        }
        if let Some(raw) = &self.raw_email_ref {
            check_ref("raw_email_ref", raw, &["artifact"])?;
        }
        if self.is_multipart && self.body.is_some() {
            return Err(StixError::property("body", "a multipart email uses body_multipart"));
        }
        if !self.is_multipart && !self.body_multipart.is_empty() {
            return Err(StixError::property("body_multipart", "only a multipart email has parts"));
        }
        if self.additional_header_fields.iter().any(|(name, values)| name.is_empty() || values.is_empty()) {
            return Err(StixError::property("additional_header_fields", "empty header name or no value"));
        }
        self.body_multipart.iter().try_for_each(MimePart::check)
    }
}
sco_impls!(EmailMessage);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stix::objects::HashAlgorithm;

    #[test]
    fn ids_follow_the_contributing_properties() {
        let a = EmailAddr::new("ceo@x.example").unwrap();
        let b = EmailAddr::new("ceo@x.example").unwrap().with_display_name("The CEO");
        assert_eq!(a.id().unwrap(), b.id().unwrap(), "display_name does not contribute");
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(json["id"], a.id().unwrap().as_str());
        assert_eq!(json["type"], "email-addr");
        assert_eq!(json["display_name"], "The CEO");
    }

    #[test]
    fn file_hashes_are_canonical() {
        let upper = Hashes::new().with(HashAlgorithm::Md5, "D41D8CD98F00B204E9800998ECF8427E").unwrap();
        let file = File::with_hashes(upper).unwrap();
        let attachment = File::attachment("empty.txt", "text/plain", b"").unwrap();
        assert_eq!(attachment.hashes.get(HashAlgorithm::Md5), Some("d41d8cd98f00b204e9800998ecf8427e"));
        let only = File::with_hashes(
            Hashes::new().with(HashAlgorithm::Md5, "d41d8cd98f00b204e9800998ecf8427e").unwrap(),
        )
        .unwrap();
        assert_eq!(file.id().unwrap(), only.id().unwrap());
        assert_ne!(attachment.id().unwrap(), only.id().unwrap(), "name contributes");
        assert!(File::with_hashes(Hashes::new()).is_err());
        assert!(Hashes::new().with(HashAlgorithm::Sha1, "abc").is_err());
        let json = serde_json::to_value(&attachment).unwrap();
        assert_eq!(json["hashes"]["SHA-256"].as_str().unwrap().len(), 64);
        let back: Hashes = serde_json::from_value(json["hashes"].clone()).unwrap();
        assert_eq!(back, attachment.hashes);
    }

    #[test]
    fn artifacts_carry_base64_and_hashes() {
        let a = Artifact::from_bytes(b"hello", Some("message/rfc822")).unwrap();
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["payload_bin"], "aGVsbG8=");
        assert_eq!(json["hashes"]["MD5"], "5d41402abc4b2a76b9719d911017c592");
        assert!(Artifact::from_url("https://x.example/a", Hashes::new()).is_err());
    }

    #[test]
    fn email_messages_check_their_references() {
        let from = EmailAddr::new("a@x.example").unwrap();
        let msg = EmailMessage::new(false)
            .from(&from)
            .unwrap()
            .with_subject("Invoice")
            .with_header("X-Mailer", "Evil 1.0");
        assert!(msg.validate().is_ok());
        let json = serde_json::to_value(&msg).unwrap();
        assert_eq!(json["from_ref"], from.id().unwrap().as_str());
        assert_eq!(json["is_multipart"], false);
        let mut bad = msg.clone();
        bad.to_refs.push(StixId::new_v4("identity").unwrap());
        assert!(bad.validate().is_err());
        let mut bad = msg;
        bad.body_multipart.push(MimePart { body: Some("x".to_owned()), ..MimePart::default() });
        assert!(bad.validate().is_err());
    }

    #[test]
    fn urls_must_be_uris() {
        assert!(Url::new("https://x.example/a?b=c&d=%C3%A4#frag").is_ok());
        assert!(Url::new("https://x.example/it's").is_ok());
        for bad in [
            "x.example/a",
            "https://x.example/a b",
            "https://x.example/\"q\"",
            "https://例え.テスト/",
            "https://x.example/%zz",
            "https://x.example/#a#b",
            "https://x.example/track/[open]",
            "1http://x.example/",
        ] {
            assert!(Url::new(bad).is_err(), "{bad}");
        }
        let url = Url::from_iri("https://例え.テスト:8443/パス?q=a b&x=\"y\"#frag#2").unwrap();
        assert_eq!(
            url.value,
            "https://xn--r8jz45g.xn--zckzah:8443/%E3%83%91%E3%82%B9?q=a%20b&x=%22y%22#frag%232"
        );
        let url = Url::from_iri("http://user@[2001:db8::1]:80/%41%zz").unwrap();
        assert_eq!(url.value, "http://user@[2001:db8::1]:80/%41%25zz");
    }

    #[test]
    fn values_take_the_shape_the_validator_checks() {
        // Host names: python idna's rules (IDNA2008) for the ASCII form.
        for good in [
            "x.example",
            "EVIL.Example.",
            "xn--bcher-kva.example",
            "a-b.example",
            &"a".repeat(63),
            "bücher.example",
            "пример.рф",
        ] {
            assert!(DomainName::new(good).is_ok(), "{good}");
        }
        for bad in [
            "_dmarc.x.example",
            "r3--sn-x.example",
            "-a.example",
            "a..example",
            "xn--zz.example",
            &"a".repeat(64),
        ] {
            assert!(DomainName::new(bad).is_err(), "{bad}");
        }
        assert!(DomainName::new(&format!("{}.example", "a.".repeat(124))).is_err(), "over 253");
        // IPv6 with an embedded IPv4 quad is emitted in hex; an empty payload is no artifact.
        assert_eq!(Ipv6Addr::new("::ffff:8.41.221.48").unwrap().value, "::ffff:829:dd30");
        let mut dotted = Ipv6Addr::new("::1").unwrap();
        dotted.value = "::ffff:8.41.221.48".into();
        assert!(dotted.validate().is_err());
        assert!(Artifact::from_bytes(b"", None).is_err());
        assert!(Artifact::from_bytes(b"x", None).is_ok());
        assert!(Artifact::from_url("http://x.example/[a]", Hashes::of_bytes(b"x")).is_err());
    }

    #[test]
    fn email_addresses_use_the_validator_shape() {
        for good in ["a@x.example", "first.last+tag@sub-1.x.example", "A_B@X.EXAMPLE"] {
            assert!(EmailAddr::new(good).is_ok(), "{good}");
        }
        for bad in ["jürgen@x.example", "a@localhost", "o'brien@x.example", "a@.x", "@x.example", "a@x."] {
            assert!(EmailAddr::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn one_header_value_is_a_string() {
        let msg = EmailMessage::new(false)
            .with_header("X-Mailer", "Evil 1.0")
            .with_header("Received", "a")
            .with_header("Received", "b");
        let json = serde_json::to_value(&msg).unwrap();
        assert_eq!(json["additional_header_fields"]["X-Mailer"], "Evil 1.0");
        assert_eq!(json["additional_header_fields"]["Received"], serde_json::json!(["a", "b"]));
    }

    #[test]
    fn values_are_checked() {
        assert!(Ipv4Addr::new("10.0.0.0/8").is_ok());
        assert!(Ipv4Addr::new("10.0.0.256").is_err());
        assert!(Ipv6Addr::new("::1").is_ok());
        assert!(EmailAddr::new("nobody").is_err());
        assert!(Url::new("").is_err());
        let ip = Ipv4Addr::new("192.0.2.1").unwrap();
        let d = DomainName::new("x.example").unwrap();
        assert!(d.clone().resolves_to(&ip.id().unwrap()).is_ok());
        assert!(d.resolves_to(&StixId::new_v4("indicator").unwrap()).is_err());
    }
}
