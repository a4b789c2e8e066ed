//! Typed STIX 2.1 objects Harpoon emits (design.md §2): the SDOs/SROs/SMO in `sdo`, the
//! cyber-observables in `sco`, the properties they share here, and `Bundle`.
//!
//! Objects serialise with serde, leaving out absent and empty optional properties. SCO ids are
//! never stored: they are computed from the object's own serialised properties, so they cannot
//! disagree with them. Every object has `validate()`, which checks what the specification (and
//! the OASIS validator in strict mode) requires beyond the types; `Bundle::push` calls it.

mod common;
#[cfg(test)]
mod formats;
mod hashes;
mod sco;
mod sdo;

pub use common::{ExternalReference, KillChainPhase, Sdo, SdoCommon, SpecVersion, StixData};
pub use hashes::{HashAlgorithm, Hashes};
pub use sco::{
    Artifact, DomainName, EmailAddr, EmailMessage, File, Ipv4Addr, Ipv6Addr, MimePart, Sco, ScoCommon, Url,
};
pub use sdo::{
    Grouping, Identity, Indicator, IntrusionSet, MarkingDefinition, Note, ObservedData, Relationship, Report,
    Sighting, Vulnerability,
};

use serde::{Serialize, Serializer};

use super::{StixError, StixId};

/// Any object Harpoon emits, for bundles and collections.
#[derive(Debug, Clone, PartialEq)]
pub enum StixObject {
    Identity(Identity),
    Indicator(Indicator),
    Relationship(Relationship),
    Sighting(Sighting),
    ObservedData(ObservedData),
    Report(Report),
    Grouping(Grouping),
    Note(Note),
    IntrusionSet(IntrusionSet),
    Vulnerability(Vulnerability),
    MarkingDefinition(MarkingDefinition),
    EmailMessage(EmailMessage),
    EmailAddr(EmailAddr),
    Url(Url),
    DomainName(DomainName),
    Ipv4Addr(Ipv4Addr),
    Ipv6Addr(Ipv6Addr),
    File(File),
    Artifact(Artifact),
}

/// Calls `$body` with the object inside whatever variant `$value` is.
macro_rules! each_variant {
    ($value:expr, $object:ident => $body:expr) => {
        match $value {
            StixObject::Identity($object) => $body,
            StixObject::Indicator($object) => $body,
            StixObject::Relationship($object) => $body,
            StixObject::Sighting($object) => $body,
            StixObject::ObservedData($object) => $body,
            StixObject::Report($object) => $body,
            StixObject::Grouping($object) => $body,
            StixObject::Note($object) => $body,
            StixObject::IntrusionSet($object) => $body,
            StixObject::Vulnerability($object) => $body,
            StixObject::MarkingDefinition($object) => $body,
            StixObject::EmailMessage($object) => $body,
            StixObject::EmailAddr($object) => $body,
            StixObject::Url($object) => $body,
            StixObject::DomainName($object) => $body,
            StixObject::Ipv4Addr($object) => $body,
            StixObject::Ipv6Addr($object) => $body,
            StixObject::File($object) => $body,
            StixObject::Artifact($object) => $body,
        }
    };
}

macro_rules! from_variant {
    ($($variant:ident),* $(,)?) => {
        $(impl From<$variant> for StixObject {
            fn from(object: $variant) -> Self {
                Self::$variant(object)
            }
        })*
    };
}

from_variant!(
    Identity,
    Indicator,
    Relationship,
    Sighting,
    ObservedData,
    Report,
    Grouping,
    Note,
    IntrusionSet,
    Vulnerability,
    MarkingDefinition,
    EmailMessage,
    EmailAddr,
    Url,
    DomainName,
    Ipv4Addr,
    Ipv6Addr,
    File,
    Artifact,
);

impl StixObject {
    /// The object's id (computed for SCOs).
    pub fn id(&self) -> Result<StixId, StixError> {
        each_variant!(self, o => o.stix_id())
    }

    /// Checks what the specification requires beyond the types.
    pub fn validate(&self) -> Result<(), StixError> {
        each_variant!(self, o => o.validate())
    }

    /// The object as JSON, validated first.
    pub fn to_value(&self) -> Result<serde_json::Value, StixError> {
        self.validate()?;
        serde_json::to_value(self).map_err(|e| StixError::property("object", e.to_string()))
    }
}

impl Serialize for StixObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        each_variant!(self, o => o.serialize(serializer))
    }
}

common::type_tag!(BundleType, "bundle");

/// A STIX bundle (`bundle--uuidv4`): a transport wrapper, not versioned, no `spec_version`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bundle {
    #[serde(rename = "type")]
    pub object_type: BundleType,
    pub id: StixId,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<StixObject>,
}

impl Bundle {
    /// An empty bundle with a fresh id.
    pub fn new() -> Result<Self, StixError> {
        Ok(Self { object_type: BundleType, id: StixId::new_v4("bundle")?, objects: Vec::new() })
    }

    /// Validates and appends an object.
    pub fn push(&mut self, object: impl Into<StixObject>) -> Result<(), StixError> {
        let object = object.into();
        object.validate()?;
        self.objects.push(object);
        Ok(())
    }

    /// Validates and appends objects, stopping at the first invalid one.
    pub fn extend(&mut self, objects: impl IntoIterator<Item = StixObject>) -> Result<(), StixError> {
        objects.into_iter().try_for_each(|o| self.push(o))
    }
}
