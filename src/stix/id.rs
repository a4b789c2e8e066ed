//! `StixId` (`type--uuid`): parsing, random ids for SDO/SRO/SMO and the deterministic UUIDv5
//! ids of cyber-observables (STIX 2.1 §2.9), matching python `stix2` 3.0.2 byte for byte.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::StixError;

/// The namespace of every SCO UUIDv5 (STIX 2.1 §2.9).
pub const SCO_ID_NAMESPACE: Uuid = Uuid::from_u128(0x00ab_edb4_aa42_466c_9c01_fed2_3315_a9b7);

/// ID-contributing properties of each STIX 2.1 SCO type, in the order of the specification
/// (and of python `stix2`). `process` has none: its ids are always UUIDv4.
const SCO_ID_PROPERTIES: &[(&str, &[&str])] = &[
    ("artifact", &["hashes", "payload_bin"]),
    ("autonomous-system", &["number"]),
    ("directory", &["path"]),
    ("domain-name", &["value"]),
    ("email-addr", &["value"]),
    ("email-message", &["from_ref", "subject", "body"]),
    ("file", &["hashes", "name", "parent_directory_ref", "extensions"]),
    ("ipv4-addr", &["value"]),
    ("ipv6-addr", &["value"]),
    ("mac-addr", &["value"]),
    ("mutex", &["name"]),
    (
        "network-traffic",
        &["start", "end", "src_ref", "dst_ref", "src_port", "dst_port", "protocols", "extensions"],
    ),
    ("process", &[]),
    ("software", &["name", "cpe", "swid", "vendor", "version"]),
    ("url", &["value"]),
    ("user-account", &["account_type", "user_id", "account_login"]),
    ("windows-registry-key", &["key", "values"]),
    ("x509-certificate", &["hashes", "serial_number"]),
];

/// A STIX identifier, `object-type--uuid`, kept exactly as written (hex case included) so that
/// an id received from a partner round-trips unchanged.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StixId(String);

impl StixId {
    /// Parses `type--uuid`: the type name as the specification constrains it (3–250 characters,
    /// `a-z 0-9 -`, starting and ending alphanumeric, no `--`) and an RFC 4122 UUID (version 1–5,
    /// variant `10xx`), as the OASIS JSON schema `identifier.json` checks it.
    pub fn parse(text: &str) -> Result<Self, StixError> {
        let (object_type, uuid) = text
            .split_once("--")
            .ok_or_else(|| StixError::InvalidId(text.to_owned(), "no `--` separator"))?;
        check_type_name(object_type).map_err(|e| match e {
            StixError::InvalidTypeName(_, why) => StixError::InvalidId(text.to_owned(), why),
            other => other,
        })?;
        check_rfc4122(uuid).map_err(|why| StixError::InvalidId(text.to_owned(), why))?;
        Ok(Self(text.to_owned()))
    }

    /// A fresh random (UUIDv4) id, for SDOs, SROs, marking definitions and bundles.
    pub fn new_v4(object_type: &str) -> Result<Self, StixError> {
        Self::from_parts(object_type, Uuid::new_v4())
    }

    /// Joins a type name and a UUID (lowercase hex, as `Uuid` prints it).
    pub fn from_parts(object_type: &str, uuid: Uuid) -> Result<Self, StixError> {
        check_type_name(object_type)?;
        let text = format!("{object_type}--{}", uuid.hyphenated());
        check_rfc4122(text.get(object_type.len() + 2..).unwrap_or_default())
            .map_err(|why| StixError::InvalidId(text.clone(), why))?;
        Ok(Self(text))
    }

    /// For ids built from constants that unit tests parse (the fixed TLP marking ids).
    pub(crate) fn from_checked_parts(object_type: &str, uuid: &str) -> Self {
        Self(format!("{object_type}--{uuid}"))
    }

    /// The deterministic id of a cyber-observable (STIX 2.1 §2.9): UUIDv5 in
    /// [`SCO_ID_NAMESPACE`] over the RFC 8785 canonical JSON of the type's ID-contributing
    /// properties found in `properties` (the object, with or without `type`/`id`).
    ///
    /// Mirrors python `stix2` 3.0.2: hash names are normalised as it does (`sha256` → `SHA-256`)
    /// and only one hash contributes, MD5 > SHA-1 > SHA-256 > SHA-512, else the first key in
    /// `properties`' map order (sorted, as `serde_json` keeps objects). Hash values of known
    /// algorithms must look like hashes. When no contributing property is present the
    /// specification asks for a UUIDv4, which is what this returns.
    pub fn sco(object_type: &str, properties: &Value) -> Result<Self, StixError> {
        match Self::sco_rule(object_type, properties)? {
            ScoIdRule::V5 { expected, .. } => Ok(expected),
            ScoIdRule::AnyUuid => Self::new_v4(object_type),
        }
    }

    /// What the id of a cyber-observable of `object_type` with these `properties` must be
    /// (STIX 2.1 §2.9): the UUIDv5 of the ID-contributing properties present, or, when none is
    /// present (or the type has none, like `process`), any UUID (the specification asks for a
    /// UUIDv4 then). Errors as [`Self::sco`] does (not an SCO type, a null or malformed hash).
    pub fn sco_rule(object_type: &str, properties: &Value) -> Result<ScoIdRule, StixError> {
        let contributing = SCO_ID_PROPERTIES
            .iter()
            .find(|(t, _)| *t == object_type)
            .map(|(_, props)| *props)
            .ok_or_else(|| StixError::NotAnSco(object_type.to_owned()))?;
        let object = properties
            .as_object()
            .ok_or_else(|| StixError::property("properties", "must be a JSON object"))?;
        let mut selected = Map::new();
        let mut used = Vec::new();
        for key in contributing {
            let Some(value) = object.get(*key) else {
                continue;
            };
            if value.is_null() {
                return Err(StixError::property("properties", format!("{key} is null")));
            }
            let value = if *key == "hashes" { choose_one_hash(value)? } else { value.clone() };
            selected.insert((*key).to_owned(), value);
            used.push(*key);
        }
        if selected.is_empty() {
            return Ok(ScoIdRule::AnyUuid);
        }
        let canonical = serde_json_canonicalizer::to_vec(&Value::Object(selected))
            .map_err(|e| StixError::Canonicalization(e.to_string()))?;
        let expected = Self::from_parts(object_type, Uuid::new_v5(&SCO_ID_NAMESPACE, canonical.as_slice()))?;
        Ok(ScoIdRule::V5 { expected, properties: used })
    }

    /// The type name before `--`.
    pub fn object_type(&self) -> &str {
        self.0.split_once("--").map_or(self.0.as_str(), |(t, _)| t)
    }

    /// The UUID after `--`.
    pub fn uuid(&self) -> Uuid {
        // Checked by every constructor, so the nil fallback is unreachable.
        self.0.split_once("--").and_then(|(_, u)| Uuid::parse_str(u).ok()).unwrap_or_else(Uuid::nil)
    }

    /// Whether the type is one of the STIX 2.1 cyber-observable types.
    pub fn is_sco(&self) -> bool {
        is_sco_type(self.object_type())
    }

    /// The identifier as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `object_type` is one of the eighteen STIX 2.1 cyber-observable types.
pub fn is_sco_type(object_type: &str) -> bool {
    SCO_ID_PROPERTIES.iter().any(|(t, _)| *t == object_type)
}

/// What a cyber-observable's id must be, from [`StixId::sco_rule`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScoIdRule {
    /// The UUIDv5 of these ID-contributing properties (in specification order).
    V5 { expected: StixId, properties: Vec<&'static str> },
    /// No ID-contributing property is present: any UUID is allowed.
    AnyUuid,
}

/// Checks the `id` of a received object against §2.9: for the eighteen STIX 2.1 SCO types it
/// must be exactly (lowercase hex included) the UUIDv5 of the ID-contributing properties, so
/// that nobody can file an observable under another value's id. Other types (SDOs, SROs,
/// custom SCOs, whose contributing properties we cannot know) pass.
pub fn check_sco_id(object: &Value) -> Result<(), StixError> {
    let Some(object_type) = object.get("type").and_then(Value::as_str).filter(|t| is_sco_type(t)) else {
        return Ok(());
    };
    let id = object.get("id").and_then(Value::as_str).unwrap_or_default();
    match StixId::sco_rule(object_type, object)? {
        ScoIdRule::AnyUuid => Ok(()),
        ScoIdRule::V5 { expected, .. } if expected.as_str() == id => Ok(()),
        ScoIdRule::V5 { expected, properties } => Err(StixError::ScoIdMismatch {
            properties: properties.join(", "),
            expected: expected.to_string(),
        }),
    }
}

/// Checks a STIX type name (the pattern of the OASIS schema's `identifier.json`/`core.json`).
pub fn check_type_name(name: &str) -> Result<(), StixError> {
    let err = |why| Err(StixError::InvalidTypeName(name.to_owned(), why));
    if name.len() < 3 {
        return err("shorter than 3 characters");
    }
    if name.len() > 250 {
        return err("longer than 250 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return err("only a-z, 0-9 and - are allowed");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return err("starts or ends with a hyphen");
    }
    if name.contains("--") {
        return err("contains a double hyphen");
    }
    Ok(())
}

/// An RFC 4122 UUID in its 36-character form: versions 1–5, variant `10xx`.
fn check_rfc4122(text: &str) -> Result<(), &'static str> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return Err("the UUID is not 36 characters");
    }
    for (i, b) in bytes.iter().enumerate() {
        let ok = match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        };
        if !ok {
            return Err("the UUID is not hyphenated hexadecimal");
        }
    }
    if !matches!(bytes.get(14), Some(b'1'..=b'5')) {
        return Err("the UUID version is not 1-5 (RFC 4122)");
    }
    if !matches!(bytes.get(19), Some(b'8' | b'9' | b'a' | b'b' | b'A' | b'B')) {
        return Err("the UUID variant is not RFC 4122");
    }
    Ok(())
}

/// Hash algorithms python `stix2` recognises, with the name STIX 2.1 gives them (None: known
/// to the library but not in the STIX vocabulary, kept under the caller's name) and the value
/// shape it checks.
const KNOWN_HASHES: &[(&str, Option<&str>, &[usize])] = &[
    ("MD5", Some("MD5"), &[32]),
    ("MD6", None, &[]),
    ("RIPEMD160", None, &[40]),
    ("SHA1", Some("SHA-1"), &[40]),
    ("SHA224", None, &[56]),
    ("SHA256", Some("SHA-256"), &[64]),
    ("SHA384", None, &[96]),
    ("SHA512", Some("SHA-512"), &[128]),
    ("SHA3224", None, &[56]),
    ("SHA3256", Some("SHA3-256"), &[64]),
    ("SHA3384", None, &[96]),
    ("SHA3512", Some("SHA3-512"), &[128]),
    ("SSDEEP", Some("SSDEEP"), &[]),
    ("WHIRLPOOL", None, &[128]),
    ("TLSH", Some("TLSH"), &[70]),
];

/// The single hash that contributes to an id, as python `stix2` chooses it.
fn choose_one_hash(hashes: &Value) -> Result<Value, StixError> {
    let map = hashes.as_object().ok_or_else(|| StixError::property("hashes", "must be a JSON object"))?;
    // Normalised names; like a python dict, a repeated key keeps its first position and its
    // last value.
    let mut normalised: Vec<(String, &Value)> = Vec::with_capacity(map.len());
    for (name, value) in map {
        let name = normalise_hash_name(name, value)?;
        if let Some(slot) = normalised.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value;
        } else {
            normalised.push((name, value));
        }
    }
    let chosen = ["MD5", "SHA-1", "SHA-256", "SHA-512"]
        .iter()
        .find_map(|preferred| normalised.iter().find(|(n, _)| n == preferred))
        .or_else(|| normalised.first())
        .ok_or_else(|| StixError::property("hashes", "no hashes given"))?;
    let mut one = Map::new();
    one.insert(chosen.0.clone(), chosen.1.clone());
    Ok(Value::Object(one))
}

/// `stix2.hashes.infer_hash_algorithm` and `check_hash`: returns the spec name to use.
fn normalise_hash_name(name: &str, value: &Value) -> Result<String, StixError> {
    let key = name.replace('-', "").to_uppercase();
    let Some((_, spec_name, lengths)) = KNOWN_HASHES.iter().find(|(k, _, _)| *k == key) else {
        return Ok(name.to_owned());
    };
    let text = value
        .as_str()
        .ok_or_else(|| StixError::InvalidHash { algorithm: name.to_owned(), value: value.to_string() })?;
    let shaped = if key == "SSDEEP" {
        (1..=128).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b':' | b'.'))
    } else {
        lengths.is_empty() || (lengths.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    if !shaped {
        return Err(StixError::InvalidHash { algorithm: name.to_owned(), value: text.to_owned() });
    }
    Ok(spec_name.map_or_else(|| name.to_owned(), str::to_owned))
}

impl fmt::Display for StixId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for StixId {
    type Err = StixError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for StixId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for StixId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for StixId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_valid_ids() {
        let id = StixId::parse("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").unwrap();
        assert_eq!(id.object_type(), "indicator");
        assert_eq!(id.uuid().to_string(), "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
        assert!(!id.is_sco());
        let custom = StixId::parse("x-acme-thing--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F").unwrap();
        assert_eq!(custom.as_str(), "x-acme-thing--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F");
        assert!(StixId::parse("url--c1477287-23ac-5971-a010-5c287877fa60").unwrap().is_sco());
    }

    #[test]
    fn rejects_bad_ids() {
        for bad in [
            "",
            "indicator",
            "indicator--",
            "in--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "-indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator---8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "x--y--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "ind_cator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3g",
            "indicator--00000000-0000-0000-0000-000000000000",
            " indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        ] {
            assert!(StixId::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "a".repeat(251));
        assert!(StixId::parse(&long).is_err());
        let max = format!("{}--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "a".repeat(250));
        assert!(StixId::parse(&max).is_ok());
    }

    #[test]
    fn v4_ids_round_trip_through_serde() {
        let id = StixId::new_v4("report").unwrap();
        assert_eq!(id.uuid().get_version_num(), 4);
        let json = serde_json::to_string(&id).unwrap();
        let back: StixId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<StixId>("\"report--nope\"").is_err());
        assert!(StixId::new_v4("Report").is_err());
    }

    #[test]
    fn sco_ids_are_pinned_to_python_stix2() {
        // Computed by python stix2 3.0.2 (the oracle tests compare many more live).
        for (object_type, object, expected) in [
            ("url", json!({"value": "https://example.com/"}), "url--be22e93a-5e33-5678-b19f-8b4ea06df0bd"),
            (
                "file",
                json!({"hashes": {
                    "MD5": "5d41402abc4b2a76b9719d911017c592",
                    "SHA-256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
                }}),
                "file--32599a9d-fa78-59dc-ae71-88bf2c596e1a",
            ),
            (
                "email-addr",
                json!({"value": "ceo@x.example"}),
                "email-addr--660bd491-232f-54f8-a86c-76b5aed61c0f",
            ),
            (
                "domain-name",
                json!({"value": "bücher.example"}),
                "domain-name--dbf3aff2-b3cd-57d2-9616-0ddfde9d01ad",
            ),
        ] {
            assert_eq!(StixId::sco(object_type, &object).unwrap().as_str(), expected);
        }
        let url = StixId::sco("url", &json!({"value": "https://example.com/"})).unwrap();
        let again =
            StixId::sco("url", &json!({"type": "url", "value": "https://example.com/", "defanged": false}))
                .unwrap();
        assert_eq!(url, again, "non-contributing properties must not matter");
    }

    #[test]
    fn one_hash_contributes_in_preference_order() {
        let md5 = "d41d8cd98f00b204e9800998ecf8427e";
        let sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let both = StixId::sco("file", &json!({"hashes": {"SHA-256": sha256, "MD5": md5}}));
        let only_md5 = StixId::sco("file", &json!({"hashes": {"MD5": md5}}));
        assert_eq!(both.unwrap(), only_md5.unwrap());
        let lower = StixId::sco("file", &json!({"hashes": {"sha256": sha256}})).unwrap();
        let spec = StixId::sco("file", &json!({"hashes": {"SHA-256": sha256}})).unwrap();
        assert_eq!(lower, spec, "hash names are normalised like python stix2");
        assert!(StixId::sco("file", &json!({"hashes": {"MD5": "xyz"}})).is_err());
        assert!(StixId::sco("file", &json!({"hashes": {}})).is_err());
    }

    #[test]
    fn received_sco_ids_must_be_their_uuid_v5() {
        let right = StixId::sco("domain-name", &json!({"value": "a.example"})).unwrap().to_string();
        let ok = json!({"type": "domain-name", "id": right, "value": "a.example"});
        assert_eq!(check_sco_id(&ok), Ok(()));
        let forged = json!({"type": "domain-name", "id": right, "value": "b.example"});
        let expected = StixId::sco("domain-name", &json!({"value": "b.example"})).unwrap();
        assert_eq!(
            check_sco_id(&forged).unwrap_err().to_string(),
            format!("id is not the UUIDv5 of its id-contributing properties (value): expected {expected}")
        );
        let upper = json!({"type": "domain-name", "id": right.to_uppercase().replace("DOMAIN-NAME", "domain-name"), "value": "a.example"});
        assert!(check_sco_id(&upper).is_err(), "the exact (lowercase) id");
        let file = json!({"type": "file", "id": "file--00000000-0000-4000-8000-000000000000", "name": "x", "hashes": {"MD5": "d41d8cd98f00b204e9800998ecf8427e"}});
        assert!(check_sco_id(&file).unwrap_err().to_string().contains("(hashes, name)"));
        // Any UUID where nothing contributes; SDOs and custom SCOs are not ours to judge.
        for pass in [
            json!({"type": "process", "id": "process--00000000-0000-4000-8000-000000000000", "pid": 4}),
            json!({"type": "email-message", "id": "email-message--00000000-0000-4000-8000-000000000000", "is_multipart": true}),
            json!({"type": "indicator", "id": "indicator--00000000-0000-4000-8000-000000000000"}),
            json!({"type": "x-acme-thing", "id": "x-acme-thing--00000000-0000-4000-8000-000000000000", "value": "v"}),
        ] {
            assert_eq!(check_sco_id(&pass), Ok(()), "{pass}");
        }
    }

    #[test]
    fn no_contributing_property_means_v4() {
        let id = StixId::sco("email-message", &json!({"is_multipart": false})).unwrap();
        assert_eq!(id.uuid().get_version_num(), 4);
        assert!(StixId::sco("indicator", &json!({"name": "x"})).is_err());
    }
}
