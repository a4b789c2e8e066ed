//! MISP both ways, in MISP's own JSON (the core format MISP's `app/Model/Feed.php` reads and
//! PyMISP writes): the mapping between Harpoon indicators and MISP attributes (types,
//! categories, `to_ids`, TLP tags, the UUIDs Harpoon derives), reading MISP event JSON for
//! partner intake (`import`), and polling a MISP feed (`poll`). The feed Harpoon serves is an
//! export format (`service::exports::misp`). Everything here is pure but `import` (the
//! database) and `poll` (`net::HttpClient`).
//!
//! Hostile input: a document is bounded in bytes by its edge and here in events, attributes,
//! tags and characters; anything Harpoon cannot take is refused per attribute with a reason,
//! never by failing the document.

pub mod import;
pub mod poll;

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::extract::{IndicatorValue, ObservableKind};
use crate::stix::Tlp2;
use crate::stix::parse_tlp;

pub use import::{EventReport, ImportReport, Refused, import_document};
pub use poll::{FeedAuth, FeedPoll, MispFeedError, poll_feed};

/// The namespace of the UUIDs Harpoon derives for MISP (version 5), so an attribute keeps its
/// UUID from one generation of a feed to the next.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_5c3e_8f0a_4d2b_9c7e_1a5d_3e9f_2b40);

/// Most events read from one document.
pub const MAX_EVENTS: usize = 1_000;
/// Most attributes (objects' attributes included) read from one event.
pub const MAX_ATTRIBUTES: usize = 100_000;
/// Most tags read per attribute or event.
const MAX_TAGS: usize = 64;
/// Characters kept of an event's `info` and an attribute's comment.
const MAX_TEXT: usize = 1_024;

/// An event's `threat_level_id` from the highest score of what it holds: 1 High (75-100),
/// 2 Medium (40-74), 3 Low (1-39), 4 Undefined.
pub fn threat_level(max_score: i32) -> &'static str {
    match max_score {
        75.. => "1",
        40..=74 => "2",
        1..=39 => "3",
        _ => "4",
    }
}

/// The MISP type and category an indicator is exported as.
pub fn attribute_type(kind: ObservableKind) -> (&'static str, &'static str) {
    match kind {
        ObservableKind::Url => ("url", "Network activity"),
        ObservableKind::Domain => ("domain", "Network activity"),
        // A phish's hosts are where victims connect to.
        ObservableKind::Ipv4 | ObservableKind::Ipv6 => ("ip-dst", "Network activity"),
        ObservableKind::Email => ("email-src", "Payload delivery"),
        ObservableKind::Md5 => ("md5", "Payload delivery"),
        ObservableKind::Sha1 => ("sha1", "Payload delivery"),
        ObservableKind::Sha256 => ("sha256", "Payload delivery"),
        ObservableKind::Sha512 => ("sha512", "Payload delivery"),
        ObservableKind::Cve => ("vulnerability", "External analysis"),
    }
}

/// The MISP `tlp` taxonomy tag of a level, with the taxonomy's colour.
pub fn tlp_tag(level: Tlp2) -> Value {
    let colour = match level {
        Tlp2::Clear => "#ffffff",
        Tlp2::Green => "#339900",
        Tlp2::Amber | Tlp2::AmberStrict => "#FFC000",
        Tlp2::Red => "#CC0033",
    };
    serde_json::json!({ "name": format!("tlp:{}", level.level()), "colour": colour })
}

/// The UUID of a Harpoon event in MISP: its STIX grouping's (stable, unique, and found again by
/// the event file's name).
pub fn event_uuid(grouping_id: &str) -> Option<Uuid> {
    grouping_id.strip_prefix("grouping--").and_then(|u| Uuid::parse_str(u).ok())
}

/// The UUID of the event holding an export's indicators that belong to no event.
pub fn standalone_event_uuid(export: &str, identity_id: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("standalone:{identity_id}:{export}").as_bytes())
}

/// The UUID of an indicator's attribute in one event (an attribute belongs to one event in MISP,
/// so the same value in two events has two attributes).
pub fn attribute_uuid(event: &Uuid, kind: ObservableKind, value: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("attribute:{event}:{}:{value}", kind.as_str()).as_bytes())
}

/// What a MISP attribute of `misp_type` holds for Harpoon: its canonical values (two for
/// `domain|ip`), or why it is not taken.
pub fn indicator_values(misp_type: &str, value: &str) -> Result<Vec<(ObservableKind, String)>, String> {
    let parts: Vec<&str> = value.split('|').collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();
    let composite = misp_type.contains('|') || misp_type == "malware-sample";
    if composite && parts.len() != 2 {
        return Err(format!("a {misp_type} value has two parts separated by '|'"));
    }
    let wanted: Vec<(Option<ObservableKind>, &str)> = match misp_type {
        "url" | "uri" => vec![(Some(ObservableKind::Url), value)],
        "domain" | "hostname" => vec![(Some(ObservableKind::Domain), value)],
        "hostname|port" => vec![(Some(ObservableKind::Domain), part(0))],
        "domain|ip" => vec![(Some(ObservableKind::Domain), part(0)), (None, part(1))],
        "ip-src" | "ip-dst" => vec![(None, value)],
        "ip-src|port" | "ip-dst|port" => vec![(None, part(0))],
        "email" | "email-src" | "email-dst" | "email-reply-to" => vec![(Some(ObservableKind::Email), value)],
        "md5" => vec![(Some(ObservableKind::Md5), value)],
        "sha1" => vec![(Some(ObservableKind::Sha1), value)],
        "sha256" => vec![(Some(ObservableKind::Sha256), value)],
        "sha512" => vec![(Some(ObservableKind::Sha512), value)],
        "filename|md5" | "malware-sample" => vec![(Some(ObservableKind::Md5), part(1))],
        "filename|sha1" => vec![(Some(ObservableKind::Sha1), part(1))],
        "filename|sha256" => vec![(Some(ObservableKind::Sha256), part(1))],
        "filename|sha512" => vec![(Some(ObservableKind::Sha512), part(1))],
        "vulnerability" => vec![(Some(ObservableKind::Cve), value)],
        other => {
            return Err(format!("MISP type '{}' is not one Harpoon indicates", clip(other, 64)));
        }
    };
    wanted
        .into_iter()
        .map(|(kind, text)| {
            let kind = match kind {
                Some(kind) => kind,
                // An address: its family decides; a one-address CIDR is the address.
                None => {
                    let text = text.trim();
                    let bare = text.strip_suffix("/32").or_else(|| text.strip_suffix("/128")).unwrap_or(text);
                    match bare.parse::<std::net::IpAddr>() {
                        Ok(std::net::IpAddr::V4(_)) => ObservableKind::Ipv4,
                        Ok(std::net::IpAddr::V6(_)) => ObservableKind::Ipv6,
                        Err(_) => return Err(format!("'{}' is not an IP address", clip(text, 64))),
                    }
                }
            };
            let text = if matches!(kind, ObservableKind::Ipv4 | ObservableKind::Ipv6) {
                let t = text.trim();
                t.strip_suffix("/32").or_else(|| t.strip_suffix("/128")).unwrap_or(t)
            } else {
                text
            };
            IndicatorValue::parse(kind, text)
                .map(|v| (kind, v.value))
                .map_err(|e| format!("{}: {e}", kind.as_str()))
        })
        .collect()
}

/// An event read from MISP JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct MispEvent {
    /// Lower-case hyphenated.
    pub uuid: String,
    pub info: String,
    /// The creating organisation's name (or UUID when it has none).
    pub orgc: String,
    pub tags: Vec<String>,
    pub attributes: Vec<Result<MispAttribute, Refused>>,
}

/// An attribute read from MISP JSON (standalone or in an object).
#[derive(Debug, Clone, PartialEq)]
pub struct MispAttribute {
    pub uuid: String,
    pub misp_type: String,
    pub value: String,
    pub to_ids: bool,
    pub comment: String,
    pub tags: Vec<String>,
    pub deleted: bool,
}

impl MispEvent {
    /// The most restrictive TLP among the event's tags.
    pub fn tlp(&self) -> Option<Tlp2> {
        tlp_of(&self.tags)
    }
}

/// The most restrictive TLP among tags (`tlp:white` is `clear`); other `tlp:` tags (e.g.
/// `tlp:ex:chr`) are not TLP levels.
pub fn tlp_of(tags: &[String]) -> Option<Tlp2> {
    tags.iter().filter(|t| t.to_ascii_lowercase().starts_with("tlp:")).filter_map(|t| parse_tlp(t).ok()).max()
}

/// The events of a MISP JSON document: `{"Event": {...}}`, a list of those, MISP's REST
/// answer `{"response": [...]}`, or a bare event object. An event that cannot be read is an
/// error naming it; the document is refused only when it holds no event at all.
pub fn parse_document(doc: &Value) -> Result<Vec<Result<MispEvent, Refused>>, String> {
    let items: Vec<&Value> = match doc {
        Value::Array(items) => items.iter().collect(),
        Value::Object(o) => match o.get("response") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(Value::Object(_)) | None => vec![doc],
            Some(_) => return Err("'response' is neither an event nor a list of events".into()),
        },
        _ => return Err("a MISP document is an event object or a list of events".into()),
    };
    if items.is_empty() {
        return Err("the document holds no event".into());
    }
    if items.len() > MAX_EVENTS {
        return Err(format!("{} events in one document (at most {MAX_EVENTS})", items.len()));
    }
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let wrapped = item.get("response").filter(|r| r.is_object()).unwrap_or(item);
            let event = wrapped.get("Event").unwrap_or(wrapped);
            parse_event(event).map_err(|reason| Refused {
                attribute: None,
                misp_type: None,
                value: None,
                reason: format!("event #{}: {reason}", i + 1),
            })
        })
        .collect())
}

fn parse_event(event: &Value) -> Result<MispEvent, String> {
    let Value::Object(e) = event else { return Err("not an object".into()) };
    let uuid = uuid_field(e).ok_or("no valid 'uuid'")?;
    let info = text_field(e, "info").unwrap_or_default();
    let org = |key: &str| {
        e.get(key).and_then(Value::as_object).and_then(|o| {
            text_field(o, "name").filter(|n| !n.trim().is_empty()).or_else(|| text_field(o, "uuid"))
        })
    };
    let orgc = org("Orgc").or_else(|| org("orgc")).or_else(|| org("Org")).unwrap_or_else(|| "unknown".into());
    let tags = tags(e.get("Tag"));
    let mut attributes = Vec::new();
    let read = |list: Option<&Value>,
                object: Option<&str>,
                out: &mut Vec<Result<MispAttribute, Refused>>|
     -> Result<(), String> {
        let Some(list) = list else { return Ok(()) };
        let Value::Array(list) = list else {
            return Err(format!(
                "{}'Attribute' is not a list",
                object.map(|o| format!("object {o}: ")).unwrap_or_default()
            ));
        };
        for (i, a) in list.iter().enumerate() {
            if out.len() >= MAX_ATTRIBUTES {
                return Err(format!("more than {MAX_ATTRIBUTES} attributes"));
            }
            out.push(parse_attribute(a).map_err(|reason| Refused {
                attribute: a.get("uuid").and_then(Value::as_str).map(|u| clip(u, 64)),
                misp_type: a.get("type").and_then(Value::as_str).map(|t| clip(t, 64)),
                value: a.get("value").and_then(Value::as_str).map(|v| clip(v, 256)),
                reason: match object {
                    Some(o) => format!("object {o}, attribute #{}: {reason}", i + 1),
                    None => format!("attribute #{}: {reason}", i + 1),
                },
            }));
        }
        Ok(())
    };
    read(e.get("Attribute"), None, &mut attributes)?;
    match e.get("Object") {
        None | Some(Value::Null) => {}
        Some(Value::Array(objects)) => {
            for (i, o) in objects.iter().enumerate() {
                let name = o
                    .get("name")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("#{}", i + 1), |n| format!("#{} ({})", i + 1, clip(n, 64)));
                if o.get("deleted").and_then(Value::as_bool) == Some(true) {
                    continue;
                }
                read(o.get("Attribute"), Some(&name), &mut attributes)?;
            }
        }
        Some(_) => return Err("'Object' is not a list".into()),
    }
    Ok(MispEvent { uuid, info: clip(&info, MAX_TEXT), orgc: clip(&orgc, 256), tags, attributes })
}

fn parse_attribute(a: &Value) -> Result<MispAttribute, String> {
    let Value::Object(a) = a else { return Err("not an object".into()) };
    let uuid = uuid_field(a).ok_or("no valid 'uuid'")?;
    let misp_type = text_field(a, "type").ok_or("no 'type'")?;
    let value = match a.get("value") {
        Some(Value::String(v)) => v.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("no 'value' string".into()),
    };
    Ok(MispAttribute {
        uuid,
        misp_type: clip(&misp_type, 64),
        value,
        to_ids: flag(a.get("to_ids")),
        comment: clip(&text_field(a, "comment").unwrap_or_default(), MAX_TEXT),
        tags: tags(a.get("Tag")),
        deleted: flag(a.get("deleted")),
    })
}

/// A MISP boolean: `true`, `1`, `"1"` or `"true"` (MISP writes all of them).
fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(Value::String(s)) => s == "1" || s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn text_field(o: &Map<String, Value>, key: &str) -> Option<String> {
    o.get(key).and_then(Value::as_str).map(str::to_string)
}

fn uuid_field(o: &Map<String, Value>) -> Option<String> {
    o.get("uuid").and_then(Value::as_str).and_then(|u| Uuid::parse_str(u.trim()).ok()).map(|u| u.to_string())
}

fn tags(v: Option<&Value>) -> Vec<String> {
    let Some(Value::Array(list)) = v else { return Vec::new() };
    list.iter()
        .filter_map(|t| t.get("name").and_then(Value::as_str).or_else(|| t.as_str()))
        .map(|t| clip(t.trim(), 128))
        .filter(|t| !t.is_empty())
        .take(MAX_TAGS)
        .collect()
}

/// At most `max` characters of `text`, control characters as spaces.
pub fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).map(|c| if c.is_control() { ' ' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn types_map_both_ways() {
        for kind in ObservableKind::ALL {
            let (t, _) = attribute_type(kind);
            let value = match kind {
                ObservableKind::Url => "http://evil-phish.net/a",
                ObservableKind::Domain => "evil-phish.net",
                ObservableKind::Ipv4 => "192.0.2.7",
                ObservableKind::Ipv6 => "2001:db8::7",
                ObservableKind::Email => "x@evil-phish.net",
                ObservableKind::Md5 => "d41d8cd98f00b204e9800998ecf8427e",
                ObservableKind::Sha1 => "da39a3ee5e6b4b0d3255bfef95601890afd80709",
                ObservableKind::Sha256 => "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                ObservableKind::Sha512 => {
                    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
                }
                ObservableKind::Cve => "CVE-2024-3094",
            };
            let back = indicator_values(t, value).unwrap();
            assert_eq!(back.len(), 1, "{kind:?}");
            assert_eq!(back.first().map(|b| b.0), Some(kind), "{t}");
        }
    }

    #[test]
    fn composite_and_hostile_types() {
        assert_eq!(
            indicator_values("domain|ip", "Evil-Phish.net|192.0.2.1").unwrap(),
            vec![
                (ObservableKind::Domain, "evil-phish.net".into()),
                (ObservableKind::Ipv4, "192.0.2.1".into())
            ]
        );
        assert_eq!(indicator_values("ip-dst|port", "2001:db8::1|443").unwrap().len(), 1);
        assert_eq!(
            indicator_values("ip-src", "198.51.100.9/32").unwrap(),
            vec![(ObservableKind::Ipv4, "198.51.100.9".into())]
        );
        assert!(indicator_values("ip-src", "198.51.100.0/24").unwrap_err().contains("not an IP"));
        assert!(indicator_values("filename|sha256", "a.exe").unwrap_err().contains("two parts"));
        assert!(indicator_values("mutex", "Global\\x").unwrap_err().contains("not one Harpoon indicates"));
        assert!(indicator_values("md5", "zz").is_err());
    }

    #[test]
    fn documents_in_every_shape() {
        let event = json!({"uuid": "5E0A6E1E-0000-4000-8000-000000000001", "info": "x\u{7}y",
            "Orgc": {"name": "CIRCL", "uuid": "55f6ea5e-2c60-40e5-964f-47a8950d210f"},
            "Tag": [{"name": "tlp:green"}, {"name": "tlp:amber"}, {"name": "tlp:ex:chr"}],
            "Attribute": [{"uuid": "5e0a6e1e-0000-4000-8000-000000000002", "type": "domain", "value": "a.example", "to_ids": "1"},
                          {"type": "domain", "value": "no-uuid.example"}, 7],
            "Object": [{"name": "url", "Attribute": [{"uuid": "5e0a6e1e-0000-4000-8000-000000000003", "type": "url", "value": "http://a.example/", "to_ids": true}]}]});
        for doc in [
            json!({"Event": event}),
            json!([{"Event": event}]),
            json!({"response": [{"Event": event}]}),
            event.clone(),
        ] {
            let events = parse_document(&doc).unwrap();
            let e = events.first().unwrap().as_ref().unwrap();
            assert_eq!(e.uuid, "5e0a6e1e-0000-4000-8000-000000000001");
            assert_eq!((e.info.as_str(), e.orgc.as_str(), e.tlp()), ("x y", "CIRCL", Some(Tlp2::Amber)));
            assert_eq!(e.attributes.len(), 4);
            assert!(e.attributes.first().unwrap().as_ref().unwrap().to_ids);
            let refused: Vec<String> =
                e.attributes.iter().filter_map(|a| a.as_ref().err()).map(|r| r.reason.clone()).collect();
            assert_eq!(refused, vec!["attribute #2: no valid 'uuid'", "attribute #3: not an object"]);
        }
        assert!(parse_document(&json!([])).is_err());
        assert!(parse_document(&json!("x")).is_err());
        let bad = parse_document(&json!([{"Event": {"info": "no uuid"}}])).unwrap();
        assert!(bad.first().unwrap().as_ref().unwrap_err().reason.starts_with("event #1: no valid 'uuid'"));
    }

    #[test]
    fn uuids_are_stable_and_distinct() {
        let e = Uuid::parse_str("5e0a6e1e-0000-4000-8000-000000000001").unwrap();
        let a = attribute_uuid(&e, ObservableKind::Domain, "a.example");
        assert_eq!(a, attribute_uuid(&e, ObservableKind::Domain, "a.example"));
        assert_ne!(a, attribute_uuid(&e, ObservableKind::Domain, "b.example"));
        assert_eq!(event_uuid("grouping--5e0a6e1e-0000-4000-8000-000000000001"), Some(e));
        assert_eq!(threat_level(80), "1");
        assert_eq!(threat_level(0), "4");
    }
}
