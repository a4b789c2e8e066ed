//! The Traffic Light Protocol marking definitions: TLP 1.0 as STIX 2.1 predefines them
//! (§7.2.1.4) and TLP 2.0 as FIRST/OASIS publish them in cti-stix-common-objects (an extension,
//! `extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d`). Their ids are fixed: consumers
//! recognise a TLP marking by id, so these are never generated. [`carried`] reads which TLP an
//! object carries: Harpoon judges every object leaving it by that (design.md §7).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::objects::MarkingDefinition;
use super::{StixId, StixTimestamp};

/// The extension every TLP 2.0 marking definition is expressed with.
pub const TLP2_EXTENSION_ID: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// TLP 1.0, `definition_type: tlp`, created 2017-01-20.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tlp1 {
    White,
    Green,
    Amber,
    Red,
}

/// TLP 2.0 (extension-based), created 2022-10-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tlp2 {
    Clear,
    Green,
    Amber,
    AmberStrict,
    Red,
}

/// A TLP level in either version; a collection chooses which version it publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tlp {
    V1(Tlp1),
    V2(Tlp2),
}

impl Tlp1 {
    pub const ALL: [Self; 4] = [Self::White, Self::Green, Self::Amber, Self::Red];

    /// The lowercase level, as in `definition.tlp`.
    pub fn level(self) -> &'static str {
        match self {
            Self::White => "white",
            Self::Green => "green",
            Self::Amber => "amber",
            Self::Red => "red",
        }
    }

    fn uuid(self) -> &'static str {
        match self {
            Self::White => "613f2e26-407d-48c7-9eca-b8e91df99dc9",
            Self::Green => "34098fce-860f-48ae-8e50-ebd3cc5e41da",
            Self::Amber => "f88d31f6-486f-44da-b317-01333bde0b82",
            Self::Red => "5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        }
    }
}

/// A TLP level that is none of TLP 2.0's (nor TLP 1.0's `white`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown TLP level '{0}' (use clear, green, amber, amber+strict or red)")]
pub struct UnknownTlp(pub String);

/// Parses a TLP level as people write it: TLP 2.0's names, TLP 1.0's `white` for `clear`, any
/// case, with or without `TLP:`.
pub fn parse_tlp(text: &str) -> Result<Tlp2, UnknownTlp> {
    match text.trim().to_ascii_lowercase().trim_start_matches("tlp:") {
        "clear" | "white" => Ok(Tlp2::Clear),
        "green" => Ok(Tlp2::Green),
        "amber" => Ok(Tlp2::Amber),
        "amber+strict" => Ok(Tlp2::AmberStrict),
        "red" => Ok(Tlp2::Red),
        other => Err(UnknownTlp(other.to_owned())),
    }
}

impl Tlp2 {
    pub const ALL: [Self; 5] = [Self::Clear, Self::Green, Self::Amber, Self::AmberStrict, Self::Red];

    /// The lowercase level, as in the extension's `tlp_2_0`.
    pub fn level(self) -> &'static str {
        match self {
            Self::Clear => "clear",
            Self::Green => "green",
            Self::Amber => "amber",
            Self::AmberStrict => "amber+strict",
            Self::Red => "red",
        }
    }

    /// The stored form (the level, as [`Tlp2::level`]).
    pub fn as_str(self) -> &'static str {
        self.level()
    }

    /// A stored or written level, as [`parse_tlp`] reads it.
    pub fn from_name(text: &str) -> Option<Self> {
        parse_tlp(text).ok()
    }

    /// The position in the order of restriction (clear 0 … red 4): what the database stores as
    /// a collection's ceiling and a membership's rank, so that "above the ceiling" is `>`.
    pub fn rank(self) -> i32 {
        match self {
            Self::Clear => 0,
            Self::Green => 1,
            Self::Amber => 2,
            Self::AmberStrict => 3,
            Self::Red => 4,
        }
    }

    /// The level of a rank; `None` outside 0-4.
    pub fn from_rank(rank: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.rank() == rank)
    }

    /// `TLP:AMBER+STRICT`.
    pub fn label(self) -> String {
        format!("TLP:{}", self.level().to_uppercase())
    }

    fn uuid(self) -> &'static str {
        match self {
            Self::Clear => "94868c89-83c2-464b-929b-a1a8aa3c8487",
            Self::Green => "bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
            Self::Amber => "55d920b0-5e8b-4f79-9ee9-91f868d9b421",
            Self::AmberStrict => "939a9414-2ddd-4d32-a0cd-375ea402b003",
            Self::Red => "e828b379-4e03-4974-9ac4-e53a884c97c1",
        }
    }
}

impl From<Tlp1> for Tlp {
    fn from(level: Tlp1) -> Self {
        Self::V1(level)
    }
}

impl From<Tlp2> for Tlp {
    fn from(level: Tlp2) -> Self {
        Self::V2(level)
    }
}

/// A fixed marking-definition id (the tests check each parses as a `StixId`).
fn fixed_id(uuid: &'static str) -> StixId {
    StixId::from_checked_parts("marking-definition", uuid)
}

impl Tlp {
    /// Every level of both versions.
    pub fn all() -> impl Iterator<Item = Self> {
        Tlp1::ALL.into_iter().map(Self::V1).chain(Tlp2::ALL.into_iter().map(Self::V2))
    }

    /// The `marking-definition--…` id to put in `object_marking_refs`.
    pub fn marking_ref(self) -> StixId {
        fixed_id(match self {
            Self::V1(level) => level.uuid(),
            Self::V2(level) => level.uuid(),
        })
    }

    /// The name, e.g. `TLP:AMBER+STRICT`.
    pub fn name(self) -> String {
        let level = match self {
            Self::V1(level) => level.level(),
            Self::V2(level) => level.level(),
        };
        format!("TLP:{}", level.to_uppercase())
    }

    /// The TLP 2.0 level of the same restriction (TLP 1.0 WHITE is CLEAR; its AMBER is AMBER).
    pub fn as_v2(self) -> Tlp2 {
        match self {
            Self::V2(level) => level,
            Self::V1(Tlp1::White) => Tlp2::Clear,
            Self::V1(Tlp1::Green) => Tlp2::Green,
            Self::V1(Tlp1::Amber) => Tlp2::Amber,
            Self::V1(Tlp1::Red) => Tlp2::Red,
        }
    }

    /// The level whose marking definition has this id, if any.
    pub fn from_marking_ref(id: &StixId) -> Option<Self> {
        Self::all().find(|tlp| tlp.marking_ref() == *id)
    }

    /// The marking-definition object exactly as the specification (TLP 1.0) or FIRST/OASIS
    /// (TLP 2.0) publish it.
    pub fn definition(self) -> MarkingDefinition {
        match self {
            Self::V1(level) => {
                let mut definition = Map::new();
                definition.insert("tlp".to_owned(), Value::from(level.level()));
                MarkingDefinition {
                    object_type: Default::default(),
                    spec_version: Default::default(),
                    id: self.marking_ref(),
                    created_by_ref: None,
                    created: StixTimestamp::from_unix_seconds(1_484_870_400),
                    name: Some(self.name()),
                    definition_type: Some("tlp".to_owned()),
                    definition: Some(Value::Object(definition)),
                    extensions: Map::new(),
                    external_references: Vec::new(),
                    object_marking_refs: Vec::new(),
                }
            }
            Self::V2(level) => {
                let mut extensions = Map::new();
                extensions.insert(
                    TLP2_EXTENSION_ID.to_owned(),
                    json!({"extension_type": "property-extension", "tlp_2_0": level.level()}),
                );
                MarkingDefinition {
                    object_type: Default::default(),
                    spec_version: Default::default(),
                    id: self.marking_ref(),
                    created_by_ref: None,
                    created: StixTimestamp::from_unix_seconds(1_664_582_400),
                    name: Some(self.name()),
                    definition_type: None,
                    definition: None,
                    extensions,
                    external_references: Vec::new(),
                    object_marking_refs: Vec::new(),
                }
            }
        }
    }
}

/// The level of a marking-definition id given as text, if it is a TLP one.
fn level_of_ref(id: &str) -> Option<Tlp2> {
    Tlp::all().find(|tlp| tlp.marking_ref().as_str() == id).map(Tlp::as_v2)
}

/// The marking properties of an object; everything else is ignored. Duplicate keys are an error
/// (serde refuses them), so an object cannot show one list to us and another to a consumer.
#[derive(Deserialize)]
struct Marked {
    #[serde(default, rename = "type")]
    object_type: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    object_marking_refs: Option<Vec<String>>,
    #[serde(default)]
    granular_markings: Option<Vec<Granular>>,
}

#[derive(Deserialize)]
struct Granular {
    #[serde(default)]
    marking_ref: Option<String>,
}

/// The most restrictive TLP level an object carries: its `object_marking_refs` and the
/// `marking_ref` of its `granular_markings` (a marking of any part counts for the whole object,
/// which is served whole), TLP 1.0 and 2.0 alike. `None` when it carries no TLP marking: other
/// markings (statements, PAP) do not say who may receive it; the caller decides what an unmarked
/// object is worth. A TLP marking definition is itself public: `Some(Clear)`. An object whose
/// markings cannot be read is `Some(Red)`: fail closed.
pub fn carried(object: &Value) -> Option<Tlp2> {
    match Marked::deserialize(object) {
        Ok(m) => judge(&m),
        Err(_) => Some(Tlp2::Red),
    }
}

/// [`carried`] from an object's JSON text, without building it: text that mentions no marking
/// (and escapes nothing, since `\u006d…` could spell one) is unmarked.
pub fn carried_in_text(text: &str) -> Option<Tlp2> {
    if !text.contains("marking") && !text.contains("\\u") {
        return None;
    }
    match serde_json::from_str::<Marked>(text) {
        Ok(m) => judge(&m),
        Err(_) => Some(Tlp2::Red),
    }
}

fn judge(m: &Marked) -> Option<Tlp2> {
    let refs = m.object_marking_refs.iter().flatten().map(String::as_str);
    let granular = m.granular_markings.iter().flatten().filter_map(|g| g.marking_ref.as_deref());
    let carried = refs.chain(granular).filter_map(level_of_ref).max();
    let definition = m.object_type.as_deref() == Some("marking-definition")
        && m.id.as_deref().and_then(level_of_ref).is_some();
    carried.or(definition.then_some(Tlp2::Clear))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tlp1_matches_the_specification() {
        let white = serde_json::to_value(Tlp::V1(Tlp1::White).definition()).unwrap();
        assert_eq!(
            white,
            json!({
                "type": "marking-definition",
                "spec_version": "2.1",
                "id": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
                "created": "2017-01-20T00:00:00.000Z",
                "definition_type": "tlp",
                "name": "TLP:WHITE",
                "definition": {"tlp": "white"}
            })
        );
        let ids: Vec<String> = Tlp1::ALL.iter().map(|l| Tlp::V1(*l).marking_ref().to_string()).collect();
        assert_eq!(
            ids,
            [
                "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
                "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
                "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
                "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
            ]
        );
    }

    #[test]
    fn tlp2_matches_the_published_objects() {
        // cti-stix-common-objects/extension-definition-specifications/tlp-2.0/examples
        let amber_strict = serde_json::to_value(Tlp::V2(Tlp2::AmberStrict).definition()).unwrap();
        assert_eq!(
            amber_strict,
            json!({
                "type": "marking-definition",
                "spec_version": "2.1",
                "id": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
                "created": "2022-10-01T00:00:00.000Z",
                "name": "TLP:AMBER+STRICT",
                "extensions": {
                    "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
                        "extension_type": "property-extension",
                        "tlp_2_0": "amber+strict"
                    }
                }
            })
        );
        let expected = [
            ("clear", "TLP:CLEAR", "94868c89-83c2-464b-929b-a1a8aa3c8487"),
            ("green", "TLP:GREEN", "bab4a63c-aed9-4cf5-a766-dfca5abac2bb"),
            ("amber", "TLP:AMBER", "55d920b0-5e8b-4f79-9ee9-91f868d9b421"),
            ("amber+strict", "TLP:AMBER+STRICT", "939a9414-2ddd-4d32-a0cd-375ea402b003"),
            ("red", "TLP:RED", "e828b379-4e03-4974-9ac4-e53a884c97c1"),
        ];
        for (level, (tlp_2_0, name, uuid)) in Tlp2::ALL.iter().zip(expected) {
            let md = serde_json::to_value(Tlp::V2(*level).definition()).unwrap();
            assert_eq!(md["id"], format!("marking-definition--{uuid}"));
            assert_eq!(md["name"], name);
            assert_eq!(md["extensions"][TLP2_EXTENSION_ID]["tlp_2_0"], tlp_2_0);
        }
    }

    #[test]
    fn an_object_carries_its_most_restrictive_tlp() {
        let red1 = Tlp::V1(Tlp1::Red).marking_ref().to_string();
        let green2 = Tlp::V2(Tlp2::Green).marking_ref().to_string();
        let strict = Tlp::V2(Tlp2::AmberStrict).marking_ref().to_string();
        let statement = "marking-definition--a6f25e46-0b8d-4c3b-9ac8-9d8a5e0d1b1a";
        let cases = [
            (json!({"type": "domain-name", "value": "a.example"}), None),
            (json!({"type": "indicator", "object_marking_refs": [statement]}), None),
            (json!({"type": "indicator", "object_marking_refs": [green2]}), Some(Tlp2::Green)),
            (json!({"type": "indicator", "object_marking_refs": [green2, red1]}), Some(Tlp2::Red)),
            (
                json!({"type": "indicator", "object_marking_refs": [green2],
                       "granular_markings": [{"marking_ref": strict, "selectors": ["description"]},
                                             {"lang": "en", "selectors": ["name"]}]}),
                Some(Tlp2::AmberStrict),
            ),
            (json!({"type": "indicator", "object_marking_refs": "not a list"}), Some(Tlp2::Red)),
            (serde_json::to_value(Tlp::V2(Tlp2::Red).definition()).unwrap(), Some(Tlp2::Clear)),
        ];
        for (object, expected) in cases {
            assert_eq!(carried(&object), expected, "{object}");
            assert_eq!(carried_in_text(&object.to_string()), expected, "{object}");
        }
        // An escaped key or id is read as the consumer will read it.
        let escaped = format!(r#"{{"type":"indicator","object_\u006darking_refs":["{red1}"]}}"#);
        assert_eq!(carried_in_text(&escaped), Some(Tlp2::Red));
        // One list for us and another for a consumer is refused.
        let twice = format!(r#"{{"object_marking_refs":["{red1}"],"object_marking_refs":[]}}"#);
        assert_eq!(carried_in_text(&twice), Some(Tlp2::Red));
        for level in Tlp2::ALL {
            assert_eq!(Tlp2::from_rank(level.rank()), Some(level));
        }
        assert_eq!(Tlp2::from_rank(5), None);
        assert_eq!(Tlp::V1(Tlp1::White).as_v2(), Tlp2::Clear);
    }

    #[test]
    fn fixed_ids_are_valid() {
        for tlp in Tlp::all() {
            let id = tlp.marking_ref();
            assert_eq!(StixId::parse(id.as_str()).unwrap(), id);
        }
    }

    #[test]
    fn every_definition_validates_and_round_trips_by_id() {
        for tlp in Tlp::all() {
            let definition = tlp.definition();
            definition.validate().unwrap();
            assert_eq!(Tlp::from_marking_ref(&definition.id), Some(tlp));
        }
        assert_eq!(Tlp::all().count(), 9);
        assert_eq!(Tlp::from_marking_ref(&StixId::new_v4("marking-definition").unwrap()), None);
    }
}
