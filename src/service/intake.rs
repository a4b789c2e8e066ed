//! Partner intake: indicators partners POST over TAXII to an intake collection, or that a
//! subscription took from a remote feed into its own collection, become Harpoon indicators
//! (status Review, the collection or the subscription as source, linked back to the partner's
//! object and version).
//! A cursor per collection (membership `seq`) advances in the same transaction as the indicators
//! it produced, so a crash neither loses nor repeats anything; `run` is called after every POST
//! and by a periodic loop.

use serde_json::Value;

use super::ServiceError;
use super::indicators::Status;
use crate::db::indicators::{self as ind, NewHistory, NewIndicator};
use crate::db::{Db, DbConn, collections, now_micros, objects, write_tx};
use crate::extract::{IndicatorValue, ObservableKind};
use crate::service::ServiceContext;
use crate::stix::pattern::grammar::{
    self, Comparison, Literal, ObjectPath, Observation, Operator, Qualifier, Step,
};
use crate::stix::{StixId, Tlp};

/// What intake reads in one STIX pattern: the values it indicates on its own, and why anything
/// else in it was not taken.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PatternReading {
    pub values: Vec<(ObservableKind, String)>,
    /// Empty when every part of the pattern became a value.
    pub reasons: Vec<String>,
}

/// Reads a STIX pattern by the grammar. One Harpoon indicator is one value, so only a
/// disjunction gives values: observations joined by `OR`, each a disjunction of `=` (or `IN`)
/// comparisons on an observable path Harpoon knows; each such value alone satisfies the pattern.
/// Under `AND`, `FOLLOWEDBY` or a qualifier values only indicate together: that part yields
/// none, and the partner's object stays in its collection as a pattern, with the reason.
pub fn pattern_values(pattern: &str) -> PatternReading {
    let mut reading = PatternReading::default();
    match grammar::parse(pattern) {
        Ok(tree) => observation(&tree, &mut reading),
        Err(e) => reading.reasons.push(format!("invalid STIX pattern {e}")),
    }
    reading
}

fn observation(tree: &Observation, out: &mut PatternReading) {
    match tree {
        Observation::Bracket(c) => comparison(c, out),
        Observation::Group(inner) => observation(inner, out),
        Observation::Or(parts) => parts.iter().for_each(|p| observation(p, out)),
        Observation::And(_) => out.reasons.push("only together: observations joined by AND".into()),
        Observation::FollowedBy(_) => {
            out.reasons.push("only together: observations joined by FOLLOWEDBY".into())
        }
        Observation::Qualified(_, q) => {
            let q = match q {
                Qualifier::Within(_) => "WITHIN",
                Qualifier::Repeats(_) => "REPEATS",
                Qualifier::StartStop(..) => "START/STOP",
            };
            out.reasons.push(format!("only together: a {q} qualifier"));
        }
    }
}

fn comparison(c: &Comparison, out: &mut PatternReading) {
    match c {
        Comparison::Or(parts) => parts.iter().for_each(|p| comparison(p, out)),
        Comparison::And(_) => out.reasons.push("only together: comparisons joined by AND".into()),
        Comparison::Test(test) => {
            let strings: Vec<&str> = match (&test.op, &test.value, test.negated) {
                (Operator::Eq, Some(Literal::String(v)), false) => vec![v.as_str()],
                (Operator::In, Some(Literal::Set(set)), false) => set
                    .iter()
                    .filter_map(|v| match v {
                        Literal::String(s) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect(),
                _ => {
                    let not = if test.negated { "NOT " } else { "" };
                    out.reasons.push(format!("{} {not}{}: not an equality on a string", test.path, test.op));
                    return;
                }
            };
            let Some(kind) = observable_kind(&test.path) else {
                out.reasons.push(format!("{}: not an observable path Harpoon indicates", test.path));
                return;
            };
            for value in strings {
                // A single-address CIDR is the address; wider ranges are not one indicator.
                let value = match kind {
                    ObservableKind::Ipv4 => value.strip_suffix("/32").unwrap_or(value),
                    ObservableKind::Ipv6 => value.strip_suffix("/128").unwrap_or(value),
                    _ => value,
                };
                match IndicatorValue::parse(kind, value) {
                    Ok(v) => out.values.push((kind, v.value)),
                    Err(e) => out.reasons.push(format!("{}: {e}", test.path)),
                }
            }
        }
    }
}

/// The observable kinds intake takes, by object path (type and keys compared case-blind, hash
/// names without their hyphen).
fn observable_kind(path: &ObjectPath) -> Option<ObservableKind> {
    let mut keys = Vec::with_capacity(path.steps.len());
    for step in &path.steps {
        let Step::Key(k) = step else { return None };
        keys.push(k.to_ascii_lowercase());
    }
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    Some(match (path.object_type.to_ascii_lowercase().as_str(), keys.as_slice()) {
        ("url", ["value"]) => ObservableKind::Url,
        ("domain-name", ["value"]) => ObservableKind::Domain,
        ("ipv4-addr", ["value"]) => ObservableKind::Ipv4,
        ("ipv6-addr", ["value"]) => ObservableKind::Ipv6,
        ("email-addr", ["value"]) | ("email-message", ["from_ref" | "sender_ref", "value"]) => {
            ObservableKind::Email
        }
        ("file", ["hashes", algorithm]) => match algorithm.replace('-', "").as_str() {
            "md5" => ObservableKind::Md5,
            "sha1" => ObservableKind::Sha1,
            "sha256" => ObservableKind::Sha256,
            "sha512" => ObservableKind::Sha512,
            _ => return None,
        },
        _ => return None,
    })
}

/// Reads what partners added to every intake collection since the last run. Returns how many
/// partner indicators were read.
pub fn run(conn: &mut DbConn, ctx: &ServiceContext) -> Result<usize, ServiceError> {
    let mut read = 0;
    for collection in collections::intake(conn)? {
        let origin = Origin::of(conn, ctx, &collection)?;
        loop {
            let cursor = collections::intake_cursor(conn, &collection.id)?;
            let batch = objects::added_since(conn, &collection.id, "indicator", cursor, 200)?;
            let Some(last) = batch.last().map(|(seq, _)| *seq) else {
                // Nothing left: skip the other object types at once next time.
                let end = objects::last_seq(conn, &collection.id)?;
                if end > cursor {
                    collections::set_intake_cursor(conn, &collection.id, end)?;
                }
                break;
            };
            read += batch.len();
            write_tx(conn, |conn| {
                crate::db::lock_indicator_writers(conn)?;
                for (_, json) in &batch {
                    take(conn, ctx, &origin, json)?;
                }
                collections::set_intake_cursor(conn, &collection.id, last)?;
                Ok::<_, ServiceError>(())
            })?;
        }
    }
    Ok(read)
}

/// Where partner objects come from: an intake collection partners POST to, or the collection
/// a subscription fills.
struct Origin {
    collection_id: String,
    /// `partner:TITLE` or `subscription:NAME`.
    source: String,
    /// What log lines and history call it.
    label: String,
    /// TLP of an indicator whose object carries no TLP marking.
    default_tlp: String,
}

impl Origin {
    fn of(
        conn: &mut DbConn,
        ctx: &ServiceContext,
        collection: &collections::CollectionRow,
    ) -> Result<Self, ServiceError> {
        let subscription = crate::db::subscriptions::by_collection(conn, &collection.id)?;
        Ok(match subscription {
            Some(sub) => {
                let tlp = serde_json::from_str::<Value>(&sub.config)
                    .ok()
                    .and_then(|c| c.get("tlp").and_then(Value::as_str).map(str::to_string))
                    .and_then(|t| crate::stix::parse_tlp(&t).ok())
                    .map(|t| t.level().to_string());
                Self {
                    collection_id: collection.id.clone(),
                    source: format!("subscription:{}", sub.name),
                    label: format!("subscription {}", sub.name),
                    default_tlp: tlp.unwrap_or_else(|| ctx.policy.default_tlp.clone()),
                }
            }
            None => Self {
                collection_id: collection.id.clone(),
                source: format!("partner:{}", collection.title),
                label: collection.title.clone(),
                default_tlp: ctx.policy.default_tlp.clone(),
            },
        })
    }
}

/// One partner indicator: its values become (or update) Harpoon indicators.
fn take(conn: &mut DbConn, ctx: &ServiceContext, origin: &Origin, json: &str) -> Result<(), ServiceError> {
    let Ok(object) = serde_json::from_str::<Value>(json) else { return Ok(()) };
    if object.get("revoked").and_then(Value::as_bool).unwrap_or(false) {
        return Ok(());
    }
    let (Some(id), Some(pattern)) =
        (object.get("id").and_then(Value::as_str), object.get("pattern").and_then(Value::as_str))
    else {
        return Ok(());
    };
    if object.get("pattern_type").and_then(Value::as_str).is_some_and(|t| t != "stix") {
        return Ok(());
    }
    let PatternReading { mut values, reasons } = pattern_values(pattern);
    values.sort();
    values.dedup();
    if !reasons.is_empty() {
        // The object itself stays in the partner's collection, pattern and all.
        tracing::info!(
            "partner object {id} in {}: {} value(s) taken; kept as a pattern: {}",
            origin.label,
            values.len(),
            reasons.join("; ")
        );
    }
    if values.is_empty() {
        return Ok(());
    }
    let now = now_micros();
    let score = object
        .get("confidence")
        .and_then(Value::as_i64)
        .and_then(|c| i32::try_from(c.clamp(0, 100)).ok())
        .unwrap_or(i32::from(ctx.policy.default_score));
    let tlp = object
        .get("object_marking_refs")
        .and_then(Value::as_array)
        .and_then(|refs| {
            refs.iter()
                .filter_map(Value::as_str)
                .filter_map(|r| StixId::parse(r).ok())
                .find_map(|r| Tlp::from_marking_ref(&r))
        })
        .map(|t| match t {
            Tlp::V2(level) => level.level().to_string(),
            Tlp::V1(level) => {
                if level.level() == "white" {
                    "clear".into()
                } else {
                    level.level().to_string()
                }
            }
        })
        .unwrap_or_else(|| origin.default_tlp.clone());
    let version = object.get("modified").or_else(|| object.get("created")).and_then(Value::as_str);
    let description = object.get("description").and_then(Value::as_str).map(str::to_string);
    let new: Vec<NewIndicator> = values
        .iter()
        .map(|(kind, value)| {
            new_indicator(*kind, value, Status::Review, score, &tlp, description.clone(), now)
        })
        .collect::<Result<_, ServiceError>>()?;
    let source = origin.source.clone();
    let rows = upsert_with_source(conn, &new, &source, now)?;
    let ids: Vec<i64> = rows.iter().map(|(r, _)| r.id).collect();
    for id_ in &ids {
        ind::link_partner_object(conn, *id_, id, &origin.collection_id, now)?;
    }
    let created: Vec<(&ind::IndicatorRow, String)> = rows
        .iter()
        .filter(|(_, created)| *created)
        .map(|(row, _)| {
            let reason = match version {
                Some(v) => format!("partner object {id} version {v} ({})", origin.label),
                None => format!("partner object {id} ({})", origin.label),
            };
            (row, reason)
        })
        .collect();
    record_new(conn, ctx, &created, &source)
}

/// An indicator a partner's data may create (every time `now`).
pub(super) fn new_indicator(
    kind: ObservableKind,
    value: &str,
    status: Status,
    score: i32,
    tlp: &str,
    description: Option<String>,
    now: i64,
) -> Result<NewIndicator, ServiceError> {
    Ok(NewIndicator {
        kind,
        value: value.to_string(),
        status,
        score,
        tlp: tlp.to_string(),
        description,
        first_seen: now,
        last_seen: now,
        status_changed_at: now,
        stix_id: StixId::new_v4("indicator")?.to_string(),
        whitelist_rule_id: None,
        created_at: now,
        updated_at: now,
    })
}

/// Creates what does not exist (an existing indicator keeps its state), and gives every one
/// `source`, seen now. Returns each row with whether it was created.
pub(super) fn upsert_with_source(
    conn: &mut DbConn,
    new: &[NewIndicator],
    source: &str,
    now: i64,
) -> Result<Vec<(ind::IndicatorRow, bool)>, ServiceError> {
    let rows = ind::upsert(conn, new)?;
    let ids: Vec<i64> = rows.iter().map(|(r, _)| r.id).collect();
    ind::add_source(conn, &ids, source, now)?;
    ind::touch_seen(conn, &ids, now)?;
    Ok(rows)
}

/// The history of indicators a partner's data created (actor: the source), each with its reason;
/// values our whitelist covers are recorded but whitelisted at once.
pub(super) fn record_new(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    created: &[(&ind::IndicatorRow, String)],
    source: &str,
) -> Result<(), ServiceError> {
    let rules = super::whitelist::load(conn)?;
    let mut history = Vec::new();
    for (row, reason) in created {
        history.push(NewHistory {
            indicator_id: row.id,
            at: row.created_at,
            actor: source.to_string(),
            field: "created".into(),
            old_value: None,
            new_value: Some(row.status.to_string()),
            reason: Some(reason.clone()),
        });
        if let Some(rule) = rules.matches(row.kind, &row.value) {
            super::indicators::set_status(
                conn,
                ctx,
                row.id,
                Status::Whitelisted,
                "harpoon",
                Some(&format!("whitelist rule {}", rule.id)),
                Some(rule.id),
            )?;
        }
    }
    ind::add_history(conn, &history)?;
    Ok(())
}

/// Runs [`run`] every `interval` for as long as the server runs.
pub async fn intake_loop(
    db: Db,
    ctx: std::sync::Arc<ServiceContext>,
    interval: std::time::Duration,
    leases: super::leases::Leases,
) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        // One instance reads the partners' objects (the lease `job:intake`).
        if !leases.hold("job:intake").await {
            continue;
        }
        let ctx = ctx.clone();
        match db.run(move |conn| run(conn, &ctx)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("{n} partner indicators read"),
            Err(e) => tracing::error!("partner intake: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(p: &str) -> Vec<(ObservableKind, String)> {
        pattern_values(p).values
    }

    #[test]
    fn simple_patterns_give_their_values() {
        assert_eq!(
            values("[domain-name:value = 'Evil.Example.com']"),
            vec![(ObservableKind::Domain, "evil.example.com".into())]
        );
        assert_eq!(
            values("[ipv4-addr:value = '198.51.100.7/32' OR url:value = 'http://x.evil.net/a]b']"),
            vec![
                (ObservableKind::Ipv4, "198.51.100.7".into()),
                (ObservableKind::Url, "http://x.evil.net/a]b".into())
            ]
        );
        assert_eq!(
            values(
                "[file:hashes.'SHA-256' = 'AABBCCDDEEFF00112233445566778899AABBCCDDEEFF00112233445566778899']"
            ),
            vec![(
                ObservableKind::Sha256,
                "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899".into()
            )]
        );
        assert_eq!(values("[ipv4-addr:value = '10.0.0.0/8']"), vec![]);
        assert_eq!(values("[domain-name:value = 'a.evil.net' AND domain-name:value = 'b.evil.net']"), vec![]);
        assert_eq!(values("[domain-name:value != 'a.evil.net']"), vec![]);
        assert_eq!(values("[x-custom:value = 'a']"), vec![]);
    }

    #[test]
    fn quoted_values_are_read_by_the_grammar() {
        // A quoted ` AND ` or `]` is data, not structure.
        assert_eq!(
            values("[url:value = 'http://a.evil.net/x AND y]'] OR [url:value = 'http://b.evil.net/it\\'s']"),
            vec![
                (ObservableKind::Url, "http://a.evil.net/x AND y]".into()),
                (ObservableKind::Url, "http://b.evil.net/it's".into())
            ]
        );
        assert_eq!(
            values(
                "([domain-name:value IN ('a.evil.net', 'b.evil.net')]) OR [email-message:from_ref.value = 'x@evil.net']"
            ),
            vec![
                (ObservableKind::Domain, "a.evil.net".into()),
                (ObservableKind::Domain, "b.evil.net".into()),
                (ObservableKind::Email, "x@evil.net".into())
            ]
        );
    }

    #[test]
    fn anything_else_is_kept_with_a_reason() {
        let r = pattern_values("[domain-name:value = 'a.evil.net'] AND [url:value = 'http://b.evil.net/']");
        assert_eq!((r.values, r.reasons), (vec![], vec!["only together: observations joined by AND".into()]));
        let r = pattern_values("[domain-name:value = 'a.evil.net'] REPEATS 5 TIMES");
        assert_eq!((r.values, r.reasons), (vec![], vec!["only together: a REPEATS qualifier".into()]));
        let r = pattern_values("[domain-name:value = 'a.evil.net' OR process:name = 'x.exe']");
        assert_eq!(r.values, vec![(ObservableKind::Domain, "a.evil.net".into())]);
        assert_eq!(r.reasons, vec!["process:name: not an observable path Harpoon indicates".to_string()]);
        let r = pattern_values(
            "[url:value = 'http://a.evil.net/'] OR ([domain-name:value = 'b.evil.net'] AND [url:value = 'http://c.evil.net/'])",
        );
        assert_eq!(r.values, vec![(ObservableKind::Url, "http://a.evil.net/".into())]);
        let r = pattern_values("[domain-name:value LIKE '%.evil.net']");
        assert_eq!(r.reasons, vec!["domain-name:value LIKE: not an equality on a string".to_string()]);
        let r = pattern_values("[domain-name:value = 'a.evil.net'");
        assert!(r.values.is_empty() && r.reasons[0].starts_with("invalid STIX pattern at byte 33"), "{r:?}");
    }
}
