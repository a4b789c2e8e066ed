//! TLP at every way out (design.md §7): each collection and each export has a ceiling, and
//! every object leaving Harpoon is judged by its own markings (an indicator also by its own TLP),
//! never only by the event it belongs to. The judgements here are pure; the write paths
//! (`publish`, `events::share`, TAXII POST) and the reads (`db::objects` pages, export feeds)
//! apply them.
//!
//! An object a writer sends without any TLP marking takes the collection's own terms: it is
//! accepted and ranked at the ceiling, so that lowering the ceiling later stops serving it
//! (conservative: nothing unmarked is ever served under terms tighter than those it was sent
//! under). Harpoon's own unmarked objects (SCOs) are ranked by the indicator they belong to.

use super::ServiceError;
use super::ingest::Prepared;
use crate::db::collections::CollectionRow;
use crate::stix::Tlp2;
use crate::stix::marking::carried_in_text;

/// The ceiling of collections and exports that were not given one.
pub const DEFAULT_CEILING: Tlp2 = Tlp2::Amber;

/// A collection's ceiling; a rank out of range (never stored by us) is the tightest, CLEAR.
pub fn ceiling(row: &CollectionRow) -> Tlp2 {
    Tlp2::from_rank(row.tlp_ceiling).unwrap_or(Tlp2::Clear)
}

/// Why an object at `level` may not go where the ceiling is `ceiling`.
pub fn refusal(level: Tlp2, ceiling: Tlp2, what: &str) -> String {
    format!(
        "{} is above the TLP ceiling of {what} ({}): every object is judged by its own TLP markings",
        level.label(),
        ceiling.label()
    )
}

/// TAXII POST: an object whose own markings are above the collection's ceiling becomes a
/// per-object failure naming the rule; the rest of the request is unaffected.
pub fn screen(prepared: &mut [Prepared], ceiling: Tlp2) {
    for p in prepared {
        let level = match &p.object {
            Ok(object) => carried_in_text(&object.json),
            Err(_) => continue,
        };
        if let Some(level) = level.filter(|l| *l > ceiling) {
            p.object = Err(refusal(level, ceiling, "this collection"));
        }
    }
}

/// Parses a ceiling given by a user; `None` is the default (AMBER).
pub fn parse_ceiling(text: Option<&str>) -> Result<Tlp2, ServiceError> {
    text.map_or(Ok(DEFAULT_CEILING), |t| Ok(crate::stix::parse_tlp(t)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::objects::NewObject;
    use crate::stix::Tlp;

    fn prepared(json: &str) -> Prepared {
        Prepared {
            id: "x".into(),
            version: String::new(),
            object: Ok(NewObject {
                stix_id: "x".into(),
                stix_type: "indicator".into(),
                spec_version: "2.1".into(),
                created: None,
                modified: None,
                version: 0,
                revoked: false,
                json: json.into(),
                content_sha256: String::new(),
            }),
        }
    }

    #[test]
    fn screening_fails_only_what_is_above_the_ceiling() {
        let marked =
            |t: Tlp| format!(r#"{{"type":"indicator","object_marking_refs":["{}"]}}"#, t.marking_ref());
        let mut batch = vec![
            prepared(&marked(Tlp::V2(Tlp2::Red))),
            prepared(&marked(Tlp::V2(Tlp2::Amber))),
            prepared(&marked(Tlp::V1(crate::stix::Tlp1::Red))),
            prepared(r#"{"type":"indicator"}"#),
            prepared(&marked(Tlp::V2(Tlp2::AmberStrict))),
        ];
        screen(&mut batch, Tlp2::Amber);
        let failed: Vec<bool> = batch.iter().map(|p| p.object.is_err()).collect();
        assert_eq!(failed, [true, false, true, false, true]);
        let message = batch.first().and_then(|p| p.object.clone().err()).unwrap();
        assert!(
            message.contains("TLP:RED is above the TLP ceiling of this collection (TLP:AMBER)"),
            "{message}"
        );
        let mut red = vec![prepared(&marked(Tlp::V2(Tlp2::Red)))];
        screen(&mut red, Tlp2::Red);
        assert!(red.iter().all(|p| p.object.is_ok()), "a collection marked red takes RED");
    }
}
