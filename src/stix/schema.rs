//! Harpoon's own STIX 2.1 JSON Schemas (`stix-schemas/`, embedded at compile time) and the
//! validator that applies them to what partners POST: schema chosen by `type`, violations named
//! by object id, JSON pointer and rule. Pure: no file or network I/O, every `$ref` resolves from
//! the embedded documents.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, FixedOffset};
use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, PatternOptions, Registry, ValidationError, Validator};
use serde_json::Value;

/// Every schema's `$id` starts with this; the relative path below it is the file under
/// `stix-schemas/`. The host is `.invalid` (RFC 2606) so nothing could ever fetch it.
pub const SCHEMA_BASE_URI: &str = "https://harpoon.invalid/stix-schemas/";

/// The embedded schema documents: (path under `stix-schemas/`, text).
const DOCUMENTS: &[(&str, &str)] = &[
    ("common/types.json", include_str!("../../stix-schemas/common/types.json")),
    ("common/core.json", include_str!("../../stix-schemas/common/core.json")),
    (
        "common/cyber-observable-core.json",
        include_str!("../../stix-schemas/common/cyber-observable-core.json"),
    ),
    ("common/marking-definition.json", include_str!("../../stix-schemas/common/marking-definition.json")),
    ("common/bundle.json", include_str!("../../stix-schemas/common/bundle.json")),
    ("sdos/indicator.json", include_str!("../../stix-schemas/sdos/indicator.json")),
    ("sdos/report.json", include_str!("../../stix-schemas/sdos/report.json")),
    ("sdos/grouping.json", include_str!("../../stix-schemas/sdos/grouping.json")),
    ("sdos/identity.json", include_str!("../../stix-schemas/sdos/identity.json")),
    ("sdos/intrusion-set.json", include_str!("../../stix-schemas/sdos/intrusion-set.json")),
    ("sdos/vulnerability.json", include_str!("../../stix-schemas/sdos/vulnerability.json")),
    ("sdos/note.json", include_str!("../../stix-schemas/sdos/note.json")),
    ("sdos/observed-data.json", include_str!("../../stix-schemas/sdos/observed-data.json")),
    ("sros/relationship.json", include_str!("../../stix-schemas/sros/relationship.json")),
    ("sros/sighting.json", include_str!("../../stix-schemas/sros/sighting.json")),
    ("observables/email-message.json", include_str!("../../stix-schemas/observables/email-message.json")),
    ("observables/email-addr.json", include_str!("../../stix-schemas/observables/email-addr.json")),
    ("observables/url.json", include_str!("../../stix-schemas/observables/url.json")),
    ("observables/domain-name.json", include_str!("../../stix-schemas/observables/domain-name.json")),
    ("observables/ipv4-addr.json", include_str!("../../stix-schemas/observables/ipv4-addr.json")),
    ("observables/ipv6-addr.json", include_str!("../../stix-schemas/observables/ipv6-addr.json")),
    ("observables/file.json", include_str!("../../stix-schemas/observables/file.json")),
    ("observables/artifact.json", include_str!("../../stix-schemas/observables/artifact.json")),
];

/// The STIX types with a schema of their own: (type, document path).
const TYPED_SCHEMAS: &[(&str, &str)] = &[
    ("indicator", "sdos/indicator.json"),
    ("report", "sdos/report.json"),
    ("grouping", "sdos/grouping.json"),
    ("identity", "sdos/identity.json"),
    ("intrusion-set", "sdos/intrusion-set.json"),
    ("vulnerability", "sdos/vulnerability.json"),
    ("note", "sdos/note.json"),
    ("observed-data", "sdos/observed-data.json"),
    ("relationship", "sros/relationship.json"),
    ("sighting", "sros/sighting.json"),
    ("marking-definition", "common/marking-definition.json"),
    ("email-message", "observables/email-message.json"),
    ("email-addr", "observables/email-addr.json"),
    ("url", "observables/url.json"),
    ("domain-name", "observables/domain-name.json"),
    ("ipv4-addr", "observables/ipv4-addr.json"),
    ("ipv6-addr", "observables/ipv6-addr.json"),
    ("file", "observables/file.json"),
    ("artifact", "observables/artifact.json"),
];

const SDO_COMMON: &str = "common/core.json";
const SCO_COMMON: &str = "common/cyber-observable-core.json";
const BUNDLE: &str = "common/bundle.json";

/// Rule texts are cut here: a hostile object may carry megabytes in one property, and the
/// violation ends up in a TAXII status resource.
const MAX_RULE_CHARS: usize = 300;

/// Violations reported per object: enough to fix an object, bounded for one carrying thousands
/// of bad properties.
pub const MAX_VIOLATIONS_PER_OBJECT: usize = 50;

/// Timestamp orderings the specification requires (later, comparison, earlier) per type
/// (STIX 2.1 sections 3.2, 4.7, 4.8, 4.13, 5.1, 5.2): JSON Schema cannot compare two values.
const TIMESTAMP_ORDER: &[(&str, &str, Ordering, &str)] = &[
    ("*", "modified", Ordering::LaterOrEqual, "created"),
    ("indicator", "valid_until", Ordering::Later, "valid_from"),
    ("intrusion-set", "last_seen", Ordering::LaterOrEqual, "first_seen"),
    ("sighting", "last_seen", Ordering::LaterOrEqual, "first_seen"),
    ("observed-data", "last_observed", Ordering::LaterOrEqual, "first_observed"),
    ("relationship", "stop_time", Ordering::Later, "start_time"),
];

/// Top-level properties holding STIX timestamps, checked for a real calendar date (the schema
/// pattern accepts 2026-02-30).
const TIMESTAMP_PROPERTIES: &[&str] = &[
    "created",
    "modified",
    "valid_from",
    "valid_until",
    "first_seen",
    "last_seen",
    "first_observed",
    "last_observed",
    "published",
    "start_time",
    "stop_time",
    "date",
    "ctime",
    "mtime",
    "atime",
];

#[derive(Debug, Clone, Copy)]
enum Ordering {
    Later,
    LaterOrEqual,
}

/// One rule one object breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object_id}: {pointer}: {rule}", pointer = display_pointer(&self.pointer))]
pub struct SchemaViolation {
    /// The object's `id`, or `(no id)` when it has none usable.
    pub object_id: String,
    /// JSON pointer (RFC 6901) to the offending property inside the object; empty for the
    /// object itself.
    pub pointer: String,
    /// The rule broken, e.g. `required property missing`.
    pub rule: String,
}

fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

/// The embedded schemas failed to load: a bug in `stix-schemas/`, caught by the unit tests.
#[derive(Debug, thiserror::Error)]
pub enum SchemaLoadError {
    #[error("embedded schema {path} is not JSON: {source}")]
    Json { path: &'static str, source: serde_json::Error },
    #[error("embedded schemas do not form a registry: {0}")]
    Registry(String),
    #[error("embedded schema {path} does not compile: {message}")]
    Compile { path: &'static str, message: String },
}

/// Validates STIX 2.1 objects against Harpoon's schemas. Build once at startup and share
/// (`Send + Sync`; behind an `Arc` it is one pointer to clone).
pub struct StixValidator {
    by_type: HashMap<&'static str, Validator>,
    sdo_common: Validator,
    sco_common: Validator,
    bundle: Validator,
}

impl fmt::Debug for StixValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StixValidator").field("types", &self.by_type.len()).finish_non_exhaustive()
    }
}

impl StixValidator {
    /// Compiles every embedded schema. Offline: a `$ref` outside the embedded set is an error,
    /// never a fetch.
    pub fn new() -> Result<Self, SchemaLoadError> {
        let mut resources = Vec::with_capacity(DOCUMENTS.len());
        for (path, text) in DOCUMENTS {
            let value: Value =
                serde_json::from_str(text).map_err(|source| SchemaLoadError::Json { path, source })?;
            resources.push((format!("{SCHEMA_BASE_URI}{path}"), value));
        }
        let registry = Registry::new()
            .extend(resources)
            .and_then(|builder| builder.prepare())
            .map_err(|e| SchemaLoadError::Registry(e.to_string()))?;
        let compile = |path: &'static str| -> Result<Validator, SchemaLoadError> {
            let root = serde_json::json!({ "$ref": format!("{SCHEMA_BASE_URI}{path}") });
            jsonschema::options()
                .with_draft(Draft::Draft202012)
                .with_registry(&registry)
                .offline()
                .should_validate_formats(false)
                // Linear-time matching: the instances are hostile, the patterns are ours and
                // need no look-around.
                .with_pattern_options(PatternOptions::regex())
                .build(&root)
                .map_err(|e| SchemaLoadError::Compile { path, message: e.to_string() })
        };
        let mut by_type = HashMap::with_capacity(TYPED_SCHEMAS.len());
        for (stix_type, path) in TYPED_SCHEMAS {
            by_type.insert(*stix_type, compile(path)?);
        }
        Ok(Self {
            by_type,
            sdo_common: compile(SDO_COMMON)?,
            sco_common: compile(SCO_COMMON)?,
            bundle: compile(BUNDLE)?,
        })
    }

    /// The STIX types that have a schema of their own; any other type is held to the common
    /// SDO/SRO properties (if it carries `created` or `modified`) or the common SCO properties.
    pub fn typed(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_type.keys().copied()
    }

    /// Validates one STIX object (a bundle is validated as by [`Self::validate_bundle`]).
    pub fn validate(&self, object: &Value) -> Result<(), Vec<SchemaViolation>> {
        let stix_type = object.get("type").and_then(Value::as_str);
        if stix_type == Some("bundle") {
            return self.validate_bundle(object);
        }
        let violations = self.object_violations(object);
        if violations.is_empty() { Ok(()) } else { Err(violations) }
    }

    /// Validates a bundle envelope and then every object in it on its own, so each violation
    /// names the object it belongs to.
    pub fn validate_bundle(&self, bundle: &Value) -> Result<(), Vec<SchemaViolation>> {
        let mut violations = Vec::new();
        collect(&self.bundle, bundle, object_id(bundle), &mut violations);
        if let Some(objects) = bundle.get("objects").and_then(Value::as_array) {
            for object in objects {
                violations.extend(self.object_violations(object));
            }
        }
        if violations.is_empty() { Ok(()) } else { Err(violations) }
    }

    fn object_violations(&self, object: &Value) -> Vec<SchemaViolation> {
        let id = object_id(object);
        let mut violations = Vec::new();
        let stix_type = object.get("type").and_then(Value::as_str);
        let typed = stix_type.and_then(|t| self.by_type.get(t));
        let schema = match typed {
            Some(schema) => schema,
            None if looks_like_sdo(object) => &self.sdo_common,
            None => &self.sco_common,
        };
        collect(schema, object, id, &mut violations);
        if typed.is_none() {
            check_id_prefix(object, id, &mut violations);
        }
        check_timestamps(object, stix_type.unwrap_or_default(), id, &mut violations);
        check_pattern(object, id, &mut violations);
        violations
    }
}

/// An indicator's STIX pattern must follow the pattern grammar (a schema can only say "string").
/// Patterns in other languages (`pattern_type` sigma, snort, …) are not ours to judge.
fn check_pattern(object: &Value, id: &str, out: &mut Vec<SchemaViolation>) {
    let is_stix = object.get("type").and_then(Value::as_str) == Some("indicator")
        && object.get("pattern_type").and_then(Value::as_str) == Some("stix");
    let Some(pattern) = object.get("pattern").and_then(Value::as_str).filter(|_| is_stix) else {
        return;
    };
    if let Err(e) = super::pattern::parse(pattern) {
        out.push(SchemaViolation {
            object_id: id.to_owned(),
            pointer: "/pattern".to_owned(),
            rule: truncate(format!("invalid STIX pattern {e}")),
        });
    }
}

/// Custom SDOs and SROs carry `created`/`modified`; custom SCOs never do (section 11.1).
fn looks_like_sdo(object: &Value) -> bool {
    object.get("created").is_some() || object.get("modified").is_some()
}

fn object_id(object: &Value) -> &str {
    object.get("id").and_then(Value::as_str).unwrap_or("(no id)")
}

fn collect(schema: &Validator, object: &Value, id: &str, out: &mut Vec<SchemaViolation>) {
    let mut found = Vec::new();
    for error in schema.iter_errors(object) {
        if found.len() == MAX_VIOLATIONS_PER_OBJECT {
            found.push(SchemaViolation {
                object_id: id.to_owned(),
                pointer: String::new(),
                rule: format!("more than {MAX_VIOLATIONS_PER_OBJECT} violations; the rest are not listed"),
            });
            break;
        }
        let violation = to_violation(&error, id);
        if !found.contains(&violation) {
            found.push(violation);
        }
    }
    out.append(&mut found);
}

fn to_violation(error: &ValidationError<'_>, id: &str) -> SchemaViolation {
    let at = error.instance_path().as_str().to_owned();
    let (pointer, rule) = match error.kind() {
        ValidationErrorKind::Required { property } => (
            child_pointer(&at, property.as_str().unwrap_or_default()),
            "required property missing".to_owned(),
        ),
        ValidationErrorKind::PropertyNames { error: inner } => {
            let name = inner.instance().as_str().unwrap_or_default().to_owned();
            (child_pointer(&at, &name), format!("property name not allowed: {inner}"))
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            (at, format!("must satisfy one of: {}", alternatives(context)))
        }
        ValidationErrorKind::OneOfMultipleValid { .. } => {
            (at, "must satisfy exactly one of its alternatives, but satisfies several".to_owned())
        }
        // `false` appears only for the property names STIX 2.1 reserves.
        ValidationErrorKind::FalseSchema => {
            (at, "reserved property name: STIX 2.1 objects must not use it".to_owned())
        }
        ValidationErrorKind::Not { schema } => (at, format!("must not match {schema}")),
        kind => (at, format!("{}: {error}", kind.keyword())),
    };
    SchemaViolation { object_id: id.to_owned(), pointer, rule: truncate(rule) }
}

/// Says what each branch of an `anyOf`/`oneOf` wanted, instead of echoing the whole object.
fn alternatives(context: &[Vec<ValidationError<'static>>]) -> String {
    context
        .iter()
        .map(|branch| {
            branch
                .iter()
                .map(|error| {
                    let v = to_violation(error, "");
                    format!("{}: {}", display_pointer(&v.pointer), v.rule)
                })
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .collect::<Vec<_>>()
        .join("; or ")
}

/// Appends one reference token, escaped as RFC 6901 requires.
fn child_pointer(parent: &str, name: &str) -> String {
    format!("{parent}/{}", name.replace('~', "~0").replace('/', "~1"))
}

fn truncate(mut rule: String) -> String {
    if let Some((cut, _)) = rule.char_indices().nth(MAX_RULE_CHARS) {
        rule.truncate(cut);
        rule.push('…');
    }
    rule
}

/// For types without their own schema: section 2.9 says the id's prefix is the object's type.
fn check_id_prefix(object: &Value, id: &str, out: &mut Vec<SchemaViolation>) {
    let (Some(stix_type), Some(object_id)) =
        (object.get("type").and_then(Value::as_str), object.get("id").and_then(Value::as_str))
    else {
        return;
    };
    let matches = object_id.strip_prefix(stix_type).is_some_and(|rest| rest.starts_with("--"));
    if !matches {
        out.push(SchemaViolation {
            object_id: id.to_owned(),
            pointer: "/id".to_owned(),
            rule: format!("id must start with the object's type followed by -- ({stix_type}--)"),
        });
    }
}

fn check_timestamps(object: &Value, stix_type: &str, id: &str, out: &mut Vec<SchemaViolation>) {
    // Only values the schema already accepted as timestamps are looked at; anything else has
    // been reported by the schema.
    let parsed = |name: &str| -> Option<DateTime<FixedOffset>> {
        object
            .get(name)
            .and_then(Value::as_str)
            .filter(|text| text.ends_with('Z'))
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
    };
    for name in TIMESTAMP_PROPERTIES {
        let Some(text) = object.get(*name).and_then(Value::as_str) else {
            continue;
        };
        if looks_like_timestamp(text) && DateTime::parse_from_rfc3339(text).is_err() {
            out.push(SchemaViolation {
                object_id: id.to_owned(),
                pointer: format!("/{name}"),
                rule: format!("not a real date and time: {}", truncate(text.to_owned())),
            });
        }
    }
    for (for_type, later, ordering, earlier) in TIMESTAMP_ORDER {
        if *for_type != "*" && *for_type != stix_type {
            continue;
        }
        let (Some(l), Some(e)) = (parsed(later), parsed(earlier)) else {
            continue;
        };
        let (ok, words) = match ordering {
            Ordering::Later => (l > e, "later than"),
            Ordering::LaterOrEqual => (l >= e, "later than or equal to"),
        };
        if !ok {
            out.push(SchemaViolation {
                object_id: id.to_owned(),
                pointer: format!("/{later}"),
                rule: format!("must be {words} {earlier}"),
            });
        }
    }
}

/// The shape of the schema's timestamp pattern, without its range checks.
fn looks_like_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 20
        && bytes.get(4) == Some(&b'-')
        && bytes.get(10) == Some(&b'T')
        && bytes.last() == Some(&b'Z')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::{Arc, OnceLock};

    fn validator() -> &'static StixValidator {
        static V: OnceLock<StixValidator> = OnceLock::new();
        V.get_or_init(|| StixValidator::new().expect("embedded schemas compile"))
    }

    fn indicator() -> Value {
        json!({
            "type": "indicator",
            "spec_version": "2.1",
            "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2026-03-02T09:14:07.120Z",
            "modified": "2026-03-02T09:14:07.120Z",
            "name": "Phishing domain",
            "description": "Sender domain of a reported spear-phish",
            "indicator_types": ["malicious-activity"],
            "pattern": "[domain-name:value = 'login-micros0ft.example']",
            "pattern_type": "stix",
            "valid_from": "2026-03-02T09:14:07Z"
        })
    }

    fn errors_of(object: &Value) -> Vec<SchemaViolation> {
        validator().validate(object).expect_err("object must be invalid")
    }

    #[test]
    fn validator_is_send_sync_and_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<StixValidator>();
        let shared = Arc::new(StixValidator::new().expect("compiles"));
        let clone = Arc::clone(&shared);
        std::thread::spawn(move || assert!(clone.validate(&indicator()).is_ok())).join().expect("thread");
    }

    #[test]
    fn every_embedded_document_has_the_id_of_its_path() {
        for (path, text) in DOCUMENTS {
            let value: Value = serde_json::from_str(text).expect("json");
            assert_eq!(value["$id"], json!(format!("{SCHEMA_BASE_URI}{path}")), "{path}");
            assert_eq!(value["$schema"], json!("https://json-schema.org/draft/2020-12/schema"));
        }
    }

    #[test]
    fn valid_indicator_passes() {
        assert_eq!(validator().validate(&indicator()), Ok(()));
    }

    #[test]
    fn an_invalid_stix_pattern_is_named_with_its_position() {
        let mut object = indicator();
        object["pattern"] = json!("[domain-name:value = 'a.example' AND]");
        let errors = errors_of(&object);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].pointer, "/pattern");
        assert!(
            errors[0].rule.starts_with("invalid STIX pattern at byte 36 (line 1, column 37): expected"),
            "{}",
            errors[0]
        );
        // Another pattern language is not judged by the STIX grammar.
        object["pattern_type"] = json!("sigma");
        assert_eq!(validator().validate(&object), Ok(()));
    }

    #[test]
    fn missing_required_property_is_named_by_id_pointer_and_rule() {
        let mut object = indicator();
        object.as_object_mut().unwrap().remove("pattern_type");
        let errors = errors_of(&object);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            errors[0].to_string(),
            "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: /pattern_type: required property missing"
        );
    }

    #[test]
    fn id_must_carry_its_type_prefix() {
        let mut object = indicator();
        object["id"] = json!("malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
        let errors = errors_of(&object);
        assert!(errors.iter().all(|e| e.pointer == "/id"), "{errors:?}");
    }

    #[test]
    fn modified_before_created_is_rejected() {
        let mut object = indicator();
        object["modified"] = json!("2026-03-01T09:14:07.120Z");
        let errors = errors_of(&object);
        assert_eq!(errors[0].pointer, "/modified");
        assert!(errors[0].rule.contains("later than or equal to created"));
    }

    #[test]
    fn impossible_calendar_date_is_rejected() {
        let mut object = indicator();
        object["valid_from"] = json!("2026-02-30T00:00:00Z");
        let errors = errors_of(&object);
        assert_eq!(errors[0].pointer, "/valid_from");
    }

    #[test]
    fn leap_second_is_a_real_time() {
        let mut object = indicator();
        object["valid_from"] = json!("2016-12-31T23:59:60Z");
        assert_eq!(validator().validate(&object), Ok(()));
    }

    #[test]
    fn custom_property_names_follow_the_naming_rule() {
        let mut object = indicator();
        object["x_harpoon_event"] = json!("ev-1");
        assert_eq!(validator().validate(&object), Ok(()));
        object["X-Harpoon"] = json!("ev-1");
        let errors = errors_of(&object);
        assert_eq!(errors[0].pointer, "/X-Harpoon");
        assert!(errors[0].rule.starts_with("property name not allowed"));
    }

    #[test]
    fn unknown_types_fall_back_to_common_properties() {
        let custom_sdo = json!({
            "type": "x-harpoon-campaign-note",
            "spec_version": "2.1",
            "id": "x-harpoon-campaign-note--0b5a5a0e-7a6c-4f43-9a53-7c1a8f3a7d11",
            "created": "2026-03-02T09:14:07.120Z",
            "modified": "2026-03-02T09:14:07.120Z",
            "summary_text": "seen twice"
        });
        assert_eq!(validator().validate(&custom_sdo), Ok(()));
        let mut broken = custom_sdo.clone();
        broken.as_object_mut().unwrap().remove("spec_version");
        assert_eq!(errors_of(&broken)[0].pointer, "/spec_version");
        let mut wrong_prefix = custom_sdo;
        wrong_prefix["id"] = json!("indicator--0b5a5a0e-7a6c-4f43-9a53-7c1a8f3a7d11");
        assert_eq!(errors_of(&wrong_prefix)[0].pointer, "/id");

        let custom_sco = json!({
            "type": "x-harpoon-mailbox",
            "id": "x-harpoon-mailbox--4f1c1c2e-5c0d-5e3e-8f55-1a2b3c4d5e6f",
            "address_hint": "phish@corp.example"
        });
        assert_eq!(validator().validate(&custom_sco), Ok(()));
    }

    #[test]
    fn bundle_reports_each_object_by_its_own_id() {
        let mut bad = indicator();
        bad["id"] = json!("indicator--4b1ffef4-0d1c-4c7e-9a0a-8b9f3e3c2f10");
        bad.as_object_mut().unwrap().remove("valid_from");
        let bundle = json!({
            "type": "bundle",
            "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
            "objects": [indicator(), bad]
        });
        let errors = validator().validate(&bundle).expect_err("one bad object");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].object_id, "indicator--4b1ffef4-0d1c-4c7e-9a0a-8b9f3e3c2f10");
        assert_eq!(errors[0].pointer, "/valid_from");
        let empty =
            json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": []});
        assert!(validator().validate_bundle(&empty).is_err());
    }

    #[test]
    fn long_hostile_values_are_cut_in_rules() {
        let mut object = indicator();
        object["created_by_ref"] = json!("x".repeat(100_000));
        let errors = errors_of(&object);
        assert!(errors.iter().all(|e| e.rule.chars().count() <= MAX_RULE_CHARS + 1));
    }

    #[test]
    fn alternatives_are_spelled_out_not_echoed() {
        let file = json!({
            "type": "file",
            "spec_version": "2.1",
            "id": "file--74bbcd81-a8f0-5123-8a72-69005732d34f",
            "size": 48213
        });
        let errors = errors_of(&file);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            errors[0].rule,
            "must satisfy one of: /hashes: required property missing; or /name: required property missing"
        );
    }

    #[test]
    fn sco_and_tlp_marking_rules() {
        let tlp_amber = json!({
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
            "created": "2017-01-20T00:00:00.000Z",
            "definition_type": "tlp",
            "name": "TLP:AMBER",
            "definition": {"tlp": "amber"}
        });
        assert_eq!(validator().validate(&tlp_amber), Ok(()));
        let mut relabelled = tlp_amber;
        relabelled["definition"] = json!({"tlp": "red"});
        assert!(validator().validate(&relabelled).is_err());

        let ip = json!({
            "type": "ipv6-addr",
            "id": "ipv6-addr--715da5f6-9289-58f3-bb4b-b9b56097768f",
            "value": "2001:db8:4f2a::25"
        });
        assert_eq!(validator().validate(&ip), Ok(()));
        let mut bad = ip;
        bad["value"] = json!("2001:db8:::25");
        assert_eq!(errors_of(&bad)[0].pointer, "/value");
    }

    #[test]
    fn reserved_property_names_are_rejected() {
        let mut object = indicator();
        object["severity"] = json!("high");
        let errors = errors_of(&object);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].pointer, "/severity");
        assert!(errors[0].rule.starts_with("reserved property name"));
    }

    #[test]
    fn violations_per_object_are_bounded() {
        let mut object = indicator();
        for i in 0..500 {
            object[format!("Bad-{i}")] = json!(i);
        }
        let errors = errors_of(&object);
        assert_eq!(errors.len(), MAX_VIOLATIONS_PER_OBJECT + 1);
        assert!(errors[MAX_VIOLATIONS_PER_OBJECT].rule.starts_with("more than"));
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        assert_eq!(child_pointer("/hashes", "a/b~c"), "/hashes/a~1b~0c");
    }
}
