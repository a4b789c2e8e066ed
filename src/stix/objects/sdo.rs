//! The SDOs, SROs and the marking-definition SMO Harpoon emits (design.md §2), with the
//! constructors and version helpers the services use.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::{
    ExternalReference, KillChainPhase, Sdo, SdoCommon, SpecVersion, StixData, check_non_empty, check_order,
    check_ref, is_false, type_tag,
};
use crate::stix::id::{check_type_name, is_sco_type};
use crate::stix::pattern::Pattern;
use crate::stix::{StixError, StixId, StixTimestamp};

type_tag!(IdentityType, "identity");
type_tag!(IndicatorType, "indicator");
type_tag!(RelationshipType, "relationship");
type_tag!(SightingType, "sighting");
type_tag!(ObservedDataType, "observed-data");
type_tag!(ReportType, "report");
type_tag!(GroupingType, "grouping");
type_tag!(NoteType, "note");
type_tag!(IntrusionSetType, "intrusion-set");
type_tag!(VulnerabilityType, "vulnerability");
type_tag!(MarkingDefinitionType, "marking-definition");

/// The largest `count`/`number_observed` the specification allows.
const MAX_COUNT: u32 = 999_999_999;

/// Implements `Sdo` and `StixData` for a struct with `common` and a `check` method.
macro_rules! sdo_impls {
    ($name:ident, $tag:ident) => {
        impl Sdo for $name {
            fn common(&self) -> &SdoCommon {
                &self.common
            }
            fn common_mut(&mut self) -> &mut SdoCommon {
                &mut self.common
            }
        }

        impl StixData for $name {
            fn stix_id(&self) -> Result<StixId, StixError> {
                Ok(self.common.id.clone())
            }
            fn validate(&self) -> Result<(), StixError> {
                self.common.validate($tag::NAME)?;
                self.check()
            }
        }

        impl $name {
            /// Checks what the specification requires beyond the types.
            pub fn validate(&self) -> Result<(), StixError> {
                StixData::validate(self)
            }
        }
    };
}

fn check_refs(
    property: &'static str,
    refs: &[StixId],
    expected: &'static [&'static str],
) -> Result<(), StixError> {
    refs.iter().try_for_each(|r| check_ref(property, r, expected))
}

fn check_count(property: &'static str, count: u32, min: u32) -> Result<(), StixError> {
    if (min..=MAX_COUNT).contains(&count) {
        Ok(())
    } else {
        Err(StixError::property(property, format!("{count} is outside {min}..={MAX_COUNT}")))
    }
}

fn non_empty_refs(property: &'static str, refs: &[StixId]) -> Result<(), StixError> {
    if refs.is_empty() { Err(StixError::property(property, "needs at least one reference")) } else { Ok(()) }
}

// ---------------------------------------------------------------------------------------------

/// `identity`: our organisation (the `created_by_ref` of what we create) or a partner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(rename = "type")]
    pub object_type: IdentityType,
    #[serde(flatten)]
    pub common: SdoCommon,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// `identity-class-ov`: `organization`, `individual`, `group`, `system`, `class`, `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_class: Option<String>,
    /// `industry-sector-ov`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sectors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_information: Option<String>,
}

impl Identity {
    /// An identity of the given class.
    pub fn new(name: &str, identity_class: &str) -> Result<Self, StixError> {
        check_non_empty("name", name)?;
        Ok(Self {
            object_type: IdentityType,
            common: SdoCommon::new(IdentityType::NAME)?,
            name: name.to_owned(),
            description: None,
            roles: Vec::new(),
            identity_class: Some(identity_class.to_owned()),
            sectors: Vec::new(),
            contact_information: None,
        })
    }

    /// An `organization` identity.
    pub fn organization(name: &str) -> Result<Self, StixError> {
        Self::new(name, "organization")
    }

    fn check(&self) -> Result<(), StixError> {
        check_non_empty("name", &self.name)
    }
}
sdo_impls!(Identity, IdentityType);

// ---------------------------------------------------------------------------------------------

/// `indicator` with a STIX pattern. A status change is a new version: see
/// [`Sdo::new_version`], [`Sdo::revoke`] and [`Indicator::expire`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indicator {
    #[serde(rename = "type")]
    pub object_type: IndicatorType,
    #[serde(flatten)]
    pub common: SdoCommon,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `indicator-type-ov`, e.g. `malicious-activity`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indicator_types: Vec<String>,
    pub pattern: String,
    pub pattern_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern_version: Option<String>,
    pub valid_from: StixTimestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<StixTimestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kill_chain_phases: Vec<KillChainPhase>,
}

impl Indicator {
    /// An indicator with a STIX pattern (`pattern_type: stix`, `pattern_version: 2.1`).
    pub fn new(pattern: &Pattern, valid_from: StixTimestamp) -> Result<Self, StixError> {
        Ok(Self {
            object_type: IndicatorType,
            common: SdoCommon::new(IndicatorType::NAME)?,
            name: None,
            description: None,
            indicator_types: Vec::new(),
            pattern: pattern.to_string(),
            pattern_type: "stix".to_owned(),
            pattern_version: Some("2.1".to_owned()),
            valid_from,
            valid_until: None,
            kill_chain_phases: Vec::new(),
        })
    }

    /// Sets `name` and `description` (the OASIS validator wants both on an indicator).
    #[must_use]
    pub fn described(mut self, name: &str, description: &str) -> Self {
        self.name = Some(name.to_owned());
        self.description = Some(description.to_owned());
        self
    }

    /// Adds an `indicator-type-ov` value.
    #[must_use]
    pub fn with_type(mut self, indicator_type: &str) -> Self {
        self.indicator_types.push(indicator_type.to_owned());
        self
    }

    /// Sets `valid_until`, which must be after `valid_from`.
    pub fn with_valid_until(mut self, valid_until: StixTimestamp) -> Result<Self, StixError> {
        self.valid_until = Some(valid_until);
        self.check()?;
        Ok(self)
    }

    /// The version that stops being valid at `at` (`valid_until`), modified at `at`.
    pub fn expire(&self, at: StixTimestamp) -> Result<Self, StixError> {
        self.new_version(at)?.with_valid_until(at)
    }

    fn check(&self) -> Result<(), StixError> {
        check_non_empty("pattern", &self.pattern)?;
        check_non_empty("pattern_type", &self.pattern_type)?;
        if let Some(until) = &self.valid_until
            && *until <= self.valid_from
        {
            return Err(StixError::property(
                "valid_until",
                format!("{until} is not after valid_from {}", self.valid_from),
            ));
        }
        Ok(())
    }
}
sdo_impls!(Indicator, IndicatorType);

// ---------------------------------------------------------------------------------------------

/// Types that may not be the source or target of a relationship (not SDOs or SCOs).
const NOT_RELATABLE: &[&str] =
    &["bundle", "language-content", "marking-definition", "sighting", "relationship", "extension-definition"];

/// Relationship types any two objects may have.
const COMMON_RELATIONSHIPS: &[&str] = &["derived-from", "duplicate-of", "related-to"];

/// The relationships the specification defines (its Appendix B, as the OASIS validator 3.2.0
/// holds them): source type, relationship type, allowed target types. The strict validator
/// rejects anything else between STIX types, so the builder does too.
const SPEC_RELATIONSHIPS: &[(&str, &str, &[&str])] = &[
    ("attack-pattern", "delivers", &["malware"]),
    ("attack-pattern", "targets", &["location", "vulnerability", "identity"]),
    ("attack-pattern", "uses", &["malware", "tool"]),
    ("campaign", "attributed-to", &["intrusion-set", "threat-actor"]),
    ("campaign", "compromises", &["infrastructure"]),
    ("campaign", "originates-from", &["location"]),
    ("campaign", "targets", &["location", "identity", "vulnerability"]),
    ("campaign", "uses", &["attack-pattern", "infrastructure", "malware", "tool"]),
    ("course-of-action", "investigates", &["indicator"]),
    ("course-of-action", "mitigates", &["attack-pattern", "indicator", "malware", "tool", "vulnerability"]),
    ("course-of-action", "remediates", &["malware", "vulnerability"]),
    ("domain-name", "resolves-to", &["domain-name", "ipv4-addr", "ipv6-addr"]),
    ("identity", "located-at", &["location"]),
    (
        "indicator",
        "indicates",
        &["attack-pattern", "campaign", "infrastructure", "intrusion-set", "malware", "threat-actor", "tool"],
    ),
    ("indicator", "based-on", &["observed-data"]),
    (
        "infrastructure",
        "communicates-with",
        &["infrastructure", "ipv4-addr", "ipv6-addr", "domain-name", "url"],
    ),
    ("infrastructure", "controls", &["infrastructure", "malware"]),
    ("infrastructure", "delivers", &["malware"]),
    ("infrastructure", "has", &["vulnerability"]),
    ("infrastructure", "hosts", &["tool", "malware"]),
    ("infrastructure", "located-at", &["location"]),
    ("infrastructure", "uses", &["infrastructure"]),
    ("intrusion-set", "attributed-to", &["threat-actor"]),
    ("intrusion-set", "compromises", &["infrastructure"]),
    ("intrusion-set", "hosts", &["infrastructure"]),
    ("intrusion-set", "originates-from", &["location"]),
    ("intrusion-set", "owns", &["infrastructure"]),
    ("intrusion-set", "targets", &["identity", "location", "vulnerability"]),
    ("intrusion-set", "uses", &["attack-pattern", "infrastructure", "malware", "tool"]),
    ("ipv4-addr", "resolves-to", &["mac-addr"]),
    ("ipv4-addr", "belongs-to", &["autonomous-system"]),
    ("ipv6-addr", "resolves-to", &["mac-addr"]),
    ("ipv6-addr", "belongs-to", &["autonomous-system"]),
    ("malware", "authored-by", &["threat-actor", "intrusion-set"]),
    ("malware", "beacons-to", &["infrastructure"]),
    ("malware", "exfiltrates-to", &["infrastructure"]),
    ("malware", "communicates-with", &["ipv4-addr", "ipv6-addr", "domain-name", "url"]),
    ("malware", "controls", &["malware"]),
    ("malware", "downloads", &["malware", "file", "tool"]),
    ("malware", "drops", &["malware", "file", "tool"]),
    ("malware", "exploits", &["vulnerability"]),
    ("malware", "originates-from", &["location"]),
    ("malware", "targets", &["identity", "infrastructure", "location"]),
    ("malware", "uses", &["attack-pattern", "infrastructure", "malware", "tool"]),
    ("malware", "variant-of", &["malware"]),
    ("malware-analysis", "characterizes", &["malware"]),
    ("malware-analysis", "analysis-of", &["malware"]),
    ("malware-analysis", "static-analysis-of", &["malware"]),
    ("malware-analysis", "dynamic-analysis-of", &["malware"]),
    ("threat-actor", "attributed-to", &["identity"]),
    ("threat-actor", "compromises", &["infrastructure"]),
    ("threat-actor", "hosts", &["infrastructure"]),
    ("threat-actor", "owns", &["infrastructure"]),
    ("threat-actor", "impersonates", &["identity"]),
    ("threat-actor", "located-at", &["location"]),
    ("threat-actor", "targets", &["identity", "location", "vulnerability"]),
    ("threat-actor", "uses", &["attack-pattern", "infrastructure", "malware", "tool"]),
    ("tool", "delivers", &["malware"]),
    ("tool", "drops", &["malware"]),
    ("tool", "uses", &["infrastructure"]),
    ("tool", "has", &["vulnerability"]),
    ("tool", "targets", &["identity", "infrastructure", "location", "vulnerability"]),
    ("vulnerability", "impacts", &["infrastructure"]),
];

/// Source and target must be SDOs or SCOs, and the relationship one the specification defines
/// between their types (or `derived-from`, `duplicate-of`, `related-to`). Custom types are
/// not second-guessed.
fn check_relationship(kind: &str, source: &StixId, target: &StixId) -> Result<(), StixError> {
    check_type_name(kind).map_err(|_| {
        StixError::property(
            "relationship_type",
            format!("{kind:?} must be 3-250 characters of a-z, 0-9 and -"),
        )
    })?;
    for (property, id) in [("source_ref", source), ("target_ref", target)] {
        if NOT_RELATABLE.contains(&id.object_type()) {
            return Err(StixError::WrongReferenceType {
                property,
                expected: "an SDO or SCO",
                found: id.to_string(),
            });
        }
    }
    if COMMON_RELATIONSHIPS.contains(&kind) {
        return Ok(());
    }
    let (source_type, target_type) = (source.object_type(), target.object_type());
    let from_source: Vec<_> = SPEC_RELATIONSHIPS.iter().filter(|(s, _, _)| *s == source_type).collect();
    let is_custom = |t: &str| t.starts_with("x-") || !(is_sco_type(t) || SDO_TYPES.contains(&t));
    if from_source.is_empty() && is_custom(source_type) {
        return Ok(());
    }
    match from_source.iter().find(|(_, k, _)| *k == kind) {
        Some((_, _, targets)) if targets.contains(&target_type) => Ok(()),
        Some(_) => Err(StixError::property(
            "target_ref",
            format!("STIX defines no {source_type} {kind} {target_type} relationship"),
        )),
        None => Err(StixError::property(
            "relationship_type",
            format!("STIX defines no {kind:?} relationship from {source_type}"),
        )),
    }
}

/// The STIX 2.1 SDO types.
const SDO_TYPES: &[&str] = &[
    "attack-pattern",
    "campaign",
    "course-of-action",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "location",
    "malware",
    "malware-analysis",
    "note",
    "observed-data",
    "opinion",
    "report",
    "threat-actor",
    "tool",
    "vulnerability",
];

/// `relationship` (SRO). Harpoon's: `resolves-to` (domain-name → ipv4/ipv6-addr),
/// `related-to` (url → domain-name), `indicates` (indicator → intrusion-set) and `based-on`
/// (indicator → observed-data: the specification allows no SCO target for `based-on`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relationship {
    #[serde(rename = "type")]
    pub object_type: RelationshipType,
    #[serde(flatten)]
    pub common: SdoCommon,
    pub relationship_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub source_ref: StixId,
    pub target_ref: StixId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<StixTimestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_time: Option<StixTimestamp>,
}

impl Relationship {
    /// `source relationship_type target`, checked against the specification's table.
    pub fn new(relationship_type: &str, source: &StixId, target: &StixId) -> Result<Self, StixError> {
        check_relationship(relationship_type, source, target)?;
        Ok(Self {
            object_type: RelationshipType,
            common: SdoCommon::new(RelationshipType::NAME)?,
            relationship_type: relationship_type.to_owned(),
            description: None,
            source_ref: source.clone(),
            target_ref: target.clone(),
            start_time: None,
            stop_time: None,
        })
    }

    /// `domain-name resolves-to ipv4-addr|ipv6-addr|domain-name`.
    pub fn resolves_to(domain: &StixId, address: &StixId) -> Result<Self, StixError> {
        Self::new("resolves-to", domain, address)
    }

    /// `x related-to y` (e.g. url → its domain-name).
    pub fn related_to(source: &StixId, target: &StixId) -> Result<Self, StixError> {
        Self::new("related-to", source, target)
    }

    /// `indicator indicates intrusion-set|malware|…`.
    pub fn indicates(indicator: &StixId, target: &StixId) -> Result<Self, StixError> {
        Self::new("indicates", indicator, target)
    }

    /// `indicator based-on observed-data`.
    pub fn based_on(indicator: &StixId, observed_data: &StixId) -> Result<Self, StixError> {
        Self::new("based-on", indicator, observed_data)
    }

    fn check(&self) -> Result<(), StixError> {
        check_relationship(&self.relationship_type, &self.source_ref, &self.target_ref)?;
        // The specification wants stop_time strictly later than start_time.
        if let (Some(start), Some(stop)) = (&self.start_time, &self.stop_time)
            && stop <= start
        {
            return Err(StixError::property("stop_time", "must be after start_time"));
        }
        Ok(())
    }
}
sdo_impls!(Relationship, RelationshipType);

// ---------------------------------------------------------------------------------------------

/// `sighting` (SRO): an indicator seen in our SIEM: where (our `identity`), how often, and
/// the `observed-data` naming the internal hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sighting {
    #[serde(rename = "type")]
    pub object_type: SightingType,
    #[serde(flatten)]
    pub common: SdoCommon,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<StixTimestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<StixTimestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    pub sighting_of_ref: StixId,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed_data_refs: Vec<StixId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub where_sighted_refs: Vec<StixId>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub summary: bool,
}

impl Sighting {
    /// A sighting of an SDO (usually an indicator).
    pub fn new(sighting_of: &StixId) -> Result<Self, StixError> {
        let sighting = Self {
            object_type: SightingType,
            common: SdoCommon::new(SightingType::NAME)?,
            description: None,
            first_seen: None,
            last_seen: None,
            count: None,
            sighting_of_ref: sighting_of.clone(),
            observed_data_refs: Vec::new(),
            where_sighted_refs: Vec::new(),
            summary: false,
        };
        sighting.check()?;
        Ok(sighting)
    }

    /// Sets `count` (0–999,999,999) and the window it was seen in.
    pub fn seen(
        mut self,
        count: u32,
        first_seen: StixTimestamp,
        last_seen: StixTimestamp,
    ) -> Result<Self, StixError> {
        self.count = Some(count);
        self.first_seen = Some(first_seen);
        self.last_seen = Some(last_seen);
        self.check()?;
        Ok(self)
    }

    /// Adds a `where_sighted_refs` entry (an `identity` or `location`).
    pub fn where_sighted(mut self, at: &StixId) -> Result<Self, StixError> {
        check_ref("where_sighted_refs", at, &["identity", "location"])?;
        self.where_sighted_refs.push(at.clone());
        Ok(self)
    }

    /// Adds an `observed_data_refs` entry.
    pub fn observed(mut self, observed_data: &StixId) -> Result<Self, StixError> {
        check_ref("observed_data_refs", observed_data, &["observed-data"])?;
        self.observed_data_refs.push(observed_data.clone());
        Ok(self)
    }

    fn check(&self) -> Result<(), StixError> {
        let target = self.sighting_of_ref.object_type();
        if !(SDO_TYPES.contains(&target) || target.starts_with("x-")) {
            return Err(StixError::WrongReferenceType {
                property: "sighting_of_ref",
                expected: "an SDO",
                found: self.sighting_of_ref.to_string(),
            });
        }
        if let Some(count) = self.count {
            check_count("count", count, 0)?;
        }
        check_order("last_seen", self.first_seen.as_ref(), self.last_seen.as_ref())?;
        check_refs("observed_data_refs", &self.observed_data_refs, &["observed-data"])?;
        check_refs("where_sighted_refs", &self.where_sighted_refs, &["identity", "location"])
    }
}
sdo_impls!(Sighting, SightingType);

// ---------------------------------------------------------------------------------------------

/// `observed-data`: SCOs seen together (an internal host that talked to a hostile server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedData {
    #[serde(rename = "type")]
    pub object_type: ObservedDataType,
    #[serde(flatten)]
    pub common: SdoCommon,
    pub first_observed: StixTimestamp,
    pub last_observed: StixTimestamp,
    pub number_observed: u32,
    pub object_refs: Vec<StixId>,
}

impl ObservedData {
    /// Observations of `object_refs` (SCOs and relationships), `number_observed` ≥ 1 times.
    pub fn new(
        first_observed: StixTimestamp,
        last_observed: StixTimestamp,
        number_observed: u32,
        object_refs: Vec<StixId>,
    ) -> Result<Self, StixError> {
        let observed = Self {
            object_type: ObservedDataType,
            common: SdoCommon::new(ObservedDataType::NAME)?,
            first_observed,
            last_observed,
            number_observed,
            object_refs,
        };
        observed.check()?;
        Ok(observed)
    }

    fn check(&self) -> Result<(), StixError> {
        check_count("number_observed", self.number_observed, 1)?;
        check_order("last_observed", Some(&self.first_observed), Some(&self.last_observed))?;
        non_empty_refs("object_refs", &self.object_refs)?;
        for r in &self.object_refs {
            if !(r.is_sco() || r.object_type() == "relationship") {
                return Err(StixError::WrongReferenceType {
                    property: "object_refs",
                    expected: "an SCO or relationship",
                    found: r.to_string(),
                });
            }
        }
        Ok(())
    }
}
sdo_impls!(ObservedData, ObservedDataType);

// ---------------------------------------------------------------------------------------------

/// `report`: a spear-phish event shared with partners (`threat-report`, label `spearphish`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    #[serde(rename = "type")]
    pub object_type: ReportType,
    #[serde(flatten)]
    pub common: SdoCommon,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `report-type-ov`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub report_types: Vec<String>,
    pub published: StixTimestamp,
    pub object_refs: Vec<StixId>,
}

impl Report {
    /// A report of the given objects.
    pub fn new(name: &str, published: StixTimestamp, object_refs: Vec<StixId>) -> Result<Self, StixError> {
        let report = Self {
            object_type: ReportType,
            common: SdoCommon::new(ReportType::NAME)?,
            name: name.to_owned(),
            description: None,
            report_types: Vec::new(),
            published,
            object_refs,
        };
        report.check()?;
        Ok(report)
    }

    /// design.md §2: `report_types: ["threat-report"]`, `labels: ["spearphish"]`.
    pub fn spearphish(
        name: &str,
        published: StixTimestamp,
        object_refs: Vec<StixId>,
    ) -> Result<Self, StixError> {
        let mut report = Self::new(name, published, object_refs)?;
        report.report_types.push("threat-report".to_owned());
        report.common.labels.push("spearphish".to_owned());
        Ok(report)
    }

    fn check(&self) -> Result<(), StixError> {
        check_non_empty("name", &self.name)?;
        non_empty_refs("object_refs", &self.object_refs)
    }
}
sdo_impls!(Report, ReportType);

// ---------------------------------------------------------------------------------------------

/// `grouping`: a spear-phish event in triage or internal (`context: suspicious-activity`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grouping {
    #[serde(rename = "type")]
    pub object_type: GroupingType,
    #[serde(flatten)]
    pub common: SdoCommon,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `grouping-context-ov`.
    pub context: String,
    pub object_refs: Vec<StixId>,
}

impl Grouping {
    /// A grouping of the given objects.
    pub fn new(context: &str, object_refs: Vec<StixId>) -> Result<Self, StixError> {
        let grouping = Self {
            object_type: GroupingType,
            common: SdoCommon::new(GroupingType::NAME)?,
            name: None,
            description: None,
            context: context.to_owned(),
            object_refs,
        };
        grouping.check()?;
        Ok(grouping)
    }

    /// design.md §2: an event in triage, `context: suspicious-activity`.
    pub fn suspicious_activity(name: &str, object_refs: Vec<StixId>) -> Result<Self, StixError> {
        let mut grouping = Self::new("suspicious-activity", object_refs)?;
        grouping.name = Some(name.to_owned());
        Ok(grouping)
    }

    fn check(&self) -> Result<(), StixError> {
        check_non_empty("context", &self.context)?;
        non_empty_refs("object_refs", &self.object_refs)
    }
}
sdo_impls!(Grouping, GroupingType);

// ---------------------------------------------------------------------------------------------

/// `note`: e.g. a SIEM search that found nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    #[serde(rename = "type")]
    pub object_type: NoteType,
    #[serde(flatten)]
    pub common: SdoCommon,
    #[serde(rename = "abstract", default, skip_serializing_if = "Option::is_none")]
    pub abstract_: Option<String>,
    pub content: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    pub object_refs: Vec<StixId>,
}

impl Note {
    /// A note about the given objects.
    pub fn new(content: &str, object_refs: Vec<StixId>) -> Result<Self, StixError> {
        let note = Self {
            object_type: NoteType,
            common: SdoCommon::new(NoteType::NAME)?,
            abstract_: None,
            content: content.to_owned(),
            authors: Vec::new(),
            object_refs,
        };
        note.check()?;
        Ok(note)
    }

    fn check(&self) -> Result<(), StixError> {
        check_non_empty("content", &self.content)?;
        non_empty_refs("object_refs", &self.object_refs)
    }
}
sdo_impls!(Note, NoteType);

// ---------------------------------------------------------------------------------------------

/// `intrusion-set`: the adversary an event is attributed to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntrusionSet {
    #[serde(rename = "type")]
    pub object_type: IntrusionSetType,
    #[serde(flatten)]
    pub common: SdoCommon,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<StixTimestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<StixTimestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goals: Vec<String>,
    /// `attack-resource-level-ov`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_level: Option<String>,
    /// `attack-motivation-ov`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_motivation: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_motivations: Vec<String>,
}

impl IntrusionSet {
    /// An intrusion set by name.
    pub fn new(name: &str) -> Result<Self, StixError> {
        check_non_empty("name", name)?;
        Ok(Self {
            object_type: IntrusionSetType,
            common: SdoCommon::new(IntrusionSetType::NAME)?,
            name: name.to_owned(),
            description: None,
            aliases: Vec::new(),
            first_seen: None,
            last_seen: None,
            goals: Vec::new(),
            resource_level: None,
            primary_motivation: None,
            secondary_motivations: Vec::new(),
        })
    }

    fn check(&self) -> Result<(), StixError> {
        check_non_empty("name", &self.name)?;
        check_order("last_seen", self.first_seen.as_ref(), self.last_seen.as_ref())
    }
}
sdo_impls!(IntrusionSet, IntrusionSetType);

// ---------------------------------------------------------------------------------------------

/// `vulnerability`; a CVE carries an external reference with `source_name: cve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vulnerability {
    #[serde(rename = "type")]
    pub object_type: VulnerabilityType,
    #[serde(flatten)]
    pub common: SdoCommon,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `CVE-YYYY-NNNN…` (four or more digits), upper case.
fn check_cve(cve: &str) -> Result<(), StixError> {
    let bad = || StixError::property("cve", format!("{cve:?} is not CVE-YYYY-NNNN"));
    let rest = cve.strip_prefix("CVE-").ok_or_else(bad)?;
    let (year, number) = rest.split_once('-').ok_or_else(bad)?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if year.len() == 4 && digits(year) && number.len() >= 4 && digits(number) { Ok(()) } else { Err(bad()) }
}

impl Vulnerability {
    /// A vulnerability by name.
    pub fn new(name: &str) -> Result<Self, StixError> {
        check_non_empty("name", name)?;
        Ok(Self {
            object_type: VulnerabilityType,
            common: SdoCommon::new(VulnerabilityType::NAME)?,
            name: name.to_owned(),
            description: None,
        })
    }

    /// A CVE: named after it, with the `cve` external reference (`cve` is upper-cased).
    pub fn cve(cve: &str) -> Result<Self, StixError> {
        let cve = cve.to_ascii_uppercase();
        check_cve(&cve)?;
        let mut vulnerability = Self::new(&cve)?;
        vulnerability.common.external_references.push(ExternalReference::external_id("cve", &cve));
        Ok(vulnerability)
    }

    fn check(&self) -> Result<(), StixError> {
        check_non_empty("name", &self.name)?;
        for reference in &self.common.external_references {
            if reference.source_name == "cve" {
                check_cve(reference.external_id.as_deref().unwrap_or_default())?;
            }
        }
        Ok(())
    }
}
sdo_impls!(Vulnerability, VulnerabilityType);

// ---------------------------------------------------------------------------------------------

/// `marking-definition` (SMO): TLP 1.0 (`definition_type: tlp`), TLP 2.0 (an extension, see
/// `stix::marking`) or a statement. Not versioned: no `modified`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkingDefinition {
    #[serde(rename = "type")]
    pub object_type: MarkingDefinitionType,
    pub spec_version: SpecVersion,
    pub id: StixId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_ref: Option<StixId>,
    pub created: StixTimestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extensions: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_references: Vec<ExternalReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub object_marking_refs: Vec<StixId>,
}

impl MarkingDefinition {
    /// A statement marking (`definition_type: statement`), e.g. a copyright notice.
    pub fn statement(statement: &str, created: StixTimestamp) -> Result<Self, StixError> {
        check_non_empty("statement", statement)?;
        let mut definition = Map::new();
        definition.insert("statement".to_owned(), Value::from(statement));
        Ok(Self {
            object_type: MarkingDefinitionType,
            spec_version: SpecVersion,
            id: StixId::new_v4(MarkingDefinitionType::NAME)?,
            created_by_ref: None,
            created,
            name: None,
            definition_type: Some("statement".to_owned()),
            definition: Some(Value::Object(definition)),
            extensions: Map::new(),
            external_references: Vec::new(),
            object_marking_refs: Vec::new(),
        })
    }

    /// Sets `created_by_ref` (an `identity`).
    pub fn created_by(mut self, identity: &StixId) -> Result<Self, StixError> {
        check_ref("created_by_ref", identity, &["identity"])?;
        self.created_by_ref = Some(identity.clone());
        Ok(self)
    }

    /// Checks what the specification requires beyond the types.
    pub fn validate(&self) -> Result<(), StixError> {
        StixData::validate(self)
    }
}

impl StixData for MarkingDefinition {
    fn stix_id(&self) -> Result<StixId, StixError> {
        Ok(self.id.clone())
    }

    fn validate(&self) -> Result<(), StixError> {
        check_ref("id", &self.id, &["marking-definition"])?;
        if let Some(creator) = &self.created_by_ref {
            check_ref("created_by_ref", creator, &["identity"])?;
        }
        // definition_type and definition come together; without them, an extension defines
        // the marking (STIX 2.1 §7.2.1).
        match (&self.definition_type, &self.definition) {
            (Some(_), Some(Value::Object(_))) => {}
            (None, None) if !self.extensions.is_empty() => {}
            _ => {
                return Err(StixError::property(
                    "definition",
                    "needs definition_type with an object definition, or extensions",
                ));
            }
        }
        check_refs("object_marking_refs", &self.object_marking_refs, &["marking-definition"])?;
        self.external_references.iter().try_for_each(ExternalReference::validate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stix::pattern::PatternTerm;

    fn ts(s: &str) -> StixTimestamp {
        StixTimestamp::parse(s).unwrap()
    }

    fn indicator() -> Indicator {
        let pattern = Pattern::new(PatternTerm::domain_name("x.example").unwrap());
        Indicator::new(&pattern, ts("2024-01-01T00:00:00Z")).unwrap().created_at(ts("2024-01-01T00:00:00Z"))
    }

    #[test]
    fn indicator_versions_keep_id_and_created() {
        let v1 = indicator();
        let v2 = v1.new_version(ts("2024-01-02T00:00:00Z")).unwrap();
        assert_eq!(v2.common.id, v1.common.id);
        assert_eq!(v2.common.created, v1.common.created);
        assert!(v2.common.modified > v1.common.modified);
        assert!(v1.new_version(ts("2024-01-01T00:00:00Z")).is_err());
        let revoked = v2.revoke(ts("2024-01-03T00:00:00Z")).unwrap();
        assert!(revoked.common.revoked);
        assert!(revoked.new_version(ts("2024-01-04T00:00:00Z")).is_err());
        let expired = v2.expire(ts("2024-01-03T00:00:00Z")).unwrap();
        assert_eq!(expired.valid_until, Some(ts("2024-01-03T00:00:00Z")));
        let json = serde_json::to_value(&revoked).unwrap();
        assert_eq!(json["revoked"], true);
        assert_eq!(json["created"], "2024-01-01T00:00:00.000Z");
        let back: Indicator = serde_json::from_value(json).unwrap();
        assert_eq!(back, revoked);
    }

    #[test]
    fn indicator_valid_until_must_follow_valid_from() {
        assert!(indicator().with_valid_until(ts("2023-12-31T00:00:00Z")).is_err());
        assert!(indicator().with_valid_until(ts("2024-01-01T00:00:00Z")).is_err());
        assert!(indicator().with_valid_until(ts("2024-01-01T00:00:00.001Z")).is_ok());
    }

    #[test]
    fn common_properties_are_checked() {
        let org = Identity::organization("ACME").unwrap();
        assert!(indicator().created_by(org.id()).is_ok());
        assert!(indicator().created_by(&indicator().common.id).is_err());
        assert!(indicator().with_confidence(101).is_err());
        assert!(indicator().marked(org.id()).is_err());
        let mut bad = indicator();
        bad.common.modified = ts("2023-01-01T00:00:00Z");
        assert!(bad.validate().is_err());
        let json = serde_json::to_value(indicator()).unwrap();
        assert_eq!(json["type"], "indicator");
        assert_eq!(json["spec_version"], "2.1");
        assert!(json.get("revoked").is_none());
        assert!(json.get("labels").is_none());
    }

    #[test]
    fn relationships_follow_the_specification() {
        let ind = StixId::new_v4("indicator").unwrap();
        let domain = StixId::parse("domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5").unwrap();
        let ip = StixId::parse("ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd").unwrap();
        let url = StixId::parse("url--c1477287-23ac-5971-a010-5c287877fa60").unwrap();
        let od = StixId::new_v4("observed-data").unwrap();
        let set = StixId::new_v4("intrusion-set").unwrap();
        assert!(Relationship::resolves_to(&domain, &ip).is_ok());
        assert!(Relationship::related_to(&url, &domain).is_ok());
        assert!(Relationship::indicates(&ind, &set).is_ok());
        assert!(Relationship::based_on(&ind, &od).is_ok());
        assert!(Relationship::new("based-on", &ind, &domain).is_err());
        assert!(Relationship::resolves_to(&ip, &domain).is_err());
        assert!(Relationship::new("frobs", &ind, &set).is_err());
        let marking = StixId::new_v4("marking-definition").unwrap();
        assert!(Relationship::related_to(&ind, &marking).is_err());
        let custom = StixId::new_v4("x-acme-widget").unwrap();
        assert!(Relationship::new("frobs", &custom, &set).is_ok());
        assert!(Relationship::new("Related_To", &url, &domain).is_err());
    }

    #[test]
    fn sightings_are_checked() {
        let ind = StixId::new_v4("indicator").unwrap();
        let first = ts("2024-01-01T00:00:00Z");
        let last = ts("2024-01-02T00:00:00Z");
        assert!(Sighting::new(&ind).unwrap().seen(999_999_999, first, last).is_ok());
        assert!(Sighting::new(&ind).unwrap().seen(1_000_000_000, first, last).is_err());
        assert!(Sighting::new(&ind).unwrap().seen(0, last, first).is_err());
        let url = StixId::parse("url--c1477287-23ac-5971-a010-5c287877fa60").unwrap();
        assert!(Sighting::new(&url).is_err());
        assert!(Sighting::new(&ind).unwrap().where_sighted(&ind).is_err());
        assert!(Sighting::new(&ind).unwrap().observed(&ind).is_err());
    }

    #[test]
    fn observed_data_is_checked() {
        let url = StixId::parse("url--c1477287-23ac-5971-a010-5c287877fa60").unwrap();
        let t = ts("2024-01-01T00:00:00Z");
        assert!(ObservedData::new(t, t, 1, vec![url.clone()]).is_ok());
        assert!(ObservedData::new(t, t, 0, vec![url.clone()]).is_err());
        assert!(ObservedData::new(t, t, 1, vec![]).is_err());
        let ind = StixId::new_v4("indicator").unwrap();
        assert!(ObservedData::new(t, t, 1, vec![ind]).is_err());
    }

    #[test]
    fn cve_vulnerabilities() {
        let v = Vulnerability::cve("cve-2024-12345").unwrap();
        assert_eq!(v.name, "CVE-2024-12345");
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(
            json["external_references"],
            serde_json::json!([{"source_name": "cve", "external_id": "CVE-2024-12345"}])
        );
        for bad in ["CVE-24-1234", "CVE-2024-123", "2024-1234", "CVE-2024-12a4"] {
            assert!(Vulnerability::cve(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn any_sdo_can_be_versioned() {
        let t = ts("2024-01-01T00:00:00Z");
        let ind = StixId::new_v4("indicator").unwrap();
        let report = Report::spearphish("Invoice 4711", t, vec![ind.clone()]).unwrap().created_at(t);
        let mut next = report.new_version(ts("2024-01-02T00:00:00Z")).unwrap();
        next.object_refs.push(StixId::new_v4("indicator").unwrap());
        assert_eq!(next.common.id, report.common.id);
        assert!(next.validate().is_ok());
        assert!(next.revoke(ts("2024-01-02T00:00:00Z")).is_err());
    }

    #[test]
    fn reports_and_groupings_need_objects() {
        let t = ts("2024-01-01T00:00:00Z");
        assert!(Report::spearphish("x", t, vec![]).is_err());
        assert!(Grouping::suspicious_activity("x", vec![]).is_err());
        assert!(Note::new("nothing found", vec![]).is_err());
    }
}
