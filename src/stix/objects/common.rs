//! Properties shared by the objects: the `type`/`spec_version` tags, the SDO/SRO common
//! properties and their builder methods, external references and kill-chain phases.

use serde::{Deserialize, Serialize};

use super::hashes::Hashes;
use crate::stix::marking::Tlp;
use crate::stix::{StixError, StixId, StixTimestamp};

/// Declares a zero-sized type that (de)serialises as one fixed string, so that a struct's
/// `type` (or `spec_version`) can only ever hold the right value.
macro_rules! type_tag {
    ($tag:ident, $name:literal) => {
        #[doc = concat!("The literal `\"", $name, "\"`.")]
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        pub struct $tag;

        impl $tag {
            pub const NAME: &'static str = $name;
        }

        impl ::serde::Serialize for $tag {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($name)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $tag {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                if text == $name {
                    Ok($tag)
                } else {
                    Err(::serde::de::Error::custom(format!("expected {:?}, found {text:?}", $name)))
                }
            }
        }
    };
}
pub(crate) use type_tag;

type_tag!(SpecVersion, "2.1");

/// What every object offers to bundles and collections.
pub trait StixData {
    /// The object's id (computed for SCOs).
    fn stix_id(&self) -> Result<StixId, StixError>;
    /// Checks what the specification requires beyond the types.
    fn validate(&self) -> Result<(), StixError>;
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// Fails unless `id` is of one of `expected` types.
pub(crate) fn check_ref(
    property: &'static str,
    id: &StixId,
    expected: &'static [&'static str],
) -> Result<(), StixError> {
    if expected.contains(&id.object_type()) {
        Ok(())
    } else {
        Err(StixError::WrongReferenceType {
            property,
            expected: expected.first().copied().unwrap_or("?"),
            found: id.to_string(),
        })
    }
}

/// Fails when `later` is before `earlier` (both present).
pub(crate) fn check_order(
    property: &'static str,
    earlier: Option<&StixTimestamp>,
    later: Option<&StixTimestamp>,
) -> Result<(), StixError> {
    match (earlier, later) {
        (Some(e), Some(l)) if l < e => Err(StixError::property(property, format!("{l} is before {e}"))),
        _ => Ok(()),
    }
}

pub(crate) fn check_non_empty(property: &'static str, value: &str) -> Result<(), StixError> {
    if value.is_empty() { Err(StixError::property(property, "must not be empty")) } else { Ok(()) }
}

/// An `external_reference`: a pointer to non-STIX information (a CVE entry, a web page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalReference {
    pub source_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Hashes of what `url` points to; the strict validator wants them whenever `url` is set.
    #[serde(default, skip_serializing_if = "Hashes::is_empty")]
    pub hashes: Hashes,
}

impl ExternalReference {
    /// A reference to a document at `url`, with its hashes (at least one).
    pub fn url(source_name: &str, url: &str, hashes: Hashes) -> Result<Self, StixError> {
        let reference = Self {
            source_name: source_name.to_owned(),
            description: None,
            url: Some(url.to_owned()),
            external_id: None,
            hashes,
        };
        reference.validate()?;
        Ok(reference)
    }

    /// A reference by identifier in some source (`cve`, `capec`, …).
    pub fn external_id(source_name: &str, external_id: &str) -> Self {
        Self {
            source_name: source_name.to_owned(),
            description: None,
            url: None,
            external_id: Some(external_id.to_owned()),
            hashes: Hashes::new(),
        }
    }

    /// `source_name` is required, and at least one of the other properties.
    pub fn validate(&self) -> Result<(), StixError> {
        check_non_empty("external_references.source_name", &self.source_name)?;
        if self.description.is_none() && self.url.is_none() && self.external_id.is_none() {
            return Err(StixError::property(
                "external_references",
                "needs a description, url or external_id",
            ));
        }
        if let Some(url) = &self.url {
            crate::stix::uri::check("external_references.url", url)?;
            if self.hashes.is_empty() {
                return Err(StixError::property(
                    "external_references",
                    "a url needs the hashes of what it points to",
                ));
            }
        }
        Ok(())
    }
}

/// A `kill_chain_phase` (e.g. `lockheed-martin-cyber-kill-chain` / `delivery`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillChainPhase {
    pub kill_chain_name: String,
    pub phase_name: String,
}

/// The common properties of SDOs and SROs (STIX 2.1 §3.2), flattened into each object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SdoCommon {
    pub spec_version: SpecVersion,
    pub id: StixId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_ref: Option<StixId>,
    pub created: StixTimestamp,
    pub modified: StixTimestamp,
    #[serde(default, skip_serializing_if = "is_false")]
    pub revoked: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_references: Vec<ExternalReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub object_marking_refs: Vec<StixId>,
}

impl SdoCommon {
    /// A fresh id of `object_type`, created and modified now.
    pub fn new(object_type: &str) -> Result<Self, StixError> {
        let now = StixTimestamp::now();
        Ok(Self {
            spec_version: SpecVersion,
            id: StixId::new_v4(object_type)?,
            created_by_ref: None,
            created: now,
            modified: now,
            revoked: false,
            labels: Vec::new(),
            confidence: None,
            lang: None,
            external_references: Vec::new(),
            object_marking_refs: Vec::new(),
        })
    }

    /// Checks the common properties of an object of `object_type`.
    pub fn validate(&self, object_type: &str) -> Result<(), StixError> {
        if self.id.object_type() != object_type {
            return Err(StixError::property("id", format!("{} is not a {object_type} id", self.id)));
        }
        check_order("modified", Some(&self.created), Some(&self.modified))?;
        if let Some(creator) = &self.created_by_ref {
            check_ref("created_by_ref", creator, &["identity"])?;
        }
        if self.confidence.is_some_and(|c| c > 100) {
            return Err(StixError::property("confidence", "must be 0-100"));
        }
        if self.labels.iter().any(String::is_empty) {
            return Err(StixError::property("labels", "a label is empty"));
        }
        for marking in &self.object_marking_refs {
            check_ref("object_marking_refs", marking, &["marking-definition"])?;
        }
        self.external_references.iter().try_for_each(ExternalReference::validate)
    }
}

/// Builder methods every SDO and SRO shares: `Indicator::new(..)?.created_by(&org)?.with_tlp(..)`.
pub trait Sdo: Sized {
    fn common(&self) -> &SdoCommon;
    fn common_mut(&mut self) -> &mut SdoCommon;

    /// The id (SDO/SRO ids are stored, unlike SCO ids).
    fn id(&self) -> &StixId {
        &self.common().id
    }

    /// The next version: same id and `created`, `modified` set to `modified`, which must be
    /// later than the current one. A revoked object has no further versions.
    fn new_version(&self, modified: StixTimestamp) -> Result<Self, StixError>
    where
        Self: Clone,
    {
        let common = self.common();
        if common.revoked {
            return Err(StixError::property("revoked", "a revoked object cannot be versioned"));
        }
        if modified <= common.modified {
            return Err(StixError::property(
                "modified",
                format!("a new version needs modified after {}, not {modified}", common.modified),
            ));
        }
        let mut next = self.clone();
        next.common_mut().modified = modified;
        Ok(next)
    }

    /// The revoked version (`revoked: true`), modified at `at`.
    fn revoke(&self, at: StixTimestamp) -> Result<Self, StixError>
    where
        Self: Clone,
    {
        let mut next = self.new_version(at)?;
        next.common_mut().revoked = true;
        Ok(next)
    }

    /// Sets `created_by_ref` (an `identity`).
    fn created_by(mut self, identity: &StixId) -> Result<Self, StixError> {
        check_ref("created_by_ref", identity, &["identity"])?;
        self.common_mut().created_by_ref = Some(identity.clone());
        Ok(self)
    }

    /// Sets `created` and `modified` (a first version).
    #[must_use]
    fn created_at(mut self, at: StixTimestamp) -> Self {
        let common = self.common_mut();
        common.created = at;
        common.modified = at;
        self
    }

    /// Adds a marking definition to `object_marking_refs` (once).
    fn marked(mut self, marking: &StixId) -> Result<Self, StixError> {
        check_ref("object_marking_refs", marking, &["marking-definition"])?;
        let refs = &mut self.common_mut().object_marking_refs;
        if !refs.contains(marking) {
            refs.push(marking.clone());
        }
        Ok(self)
    }

    /// Adds a TLP marking to `object_marking_refs` (once).
    #[must_use]
    fn with_tlp(mut self, tlp: Tlp) -> Self {
        let marking = tlp.marking_ref();
        let refs = &mut self.common_mut().object_marking_refs;
        if !refs.contains(&marking) {
            refs.push(marking);
        }
        self
    }

    /// Sets `confidence` (0–100).
    fn with_confidence(mut self, confidence: u8) -> Result<Self, StixError> {
        if confidence > 100 {
            return Err(StixError::property("confidence", "must be 0-100"));
        }
        self.common_mut().confidence = Some(confidence);
        Ok(self)
    }

    /// Adds a label.
    #[must_use]
    fn with_label(mut self, label: &str) -> Self {
        self.common_mut().labels.push(label.to_owned());
        self
    }

    /// Adds an external reference.
    fn with_external_reference(mut self, reference: ExternalReference) -> Result<Self, StixError> {
        reference.validate()?;
        self.common_mut().external_references.push(reference);
        Ok(self)
    }
}
