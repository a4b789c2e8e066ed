//! Partner intake: indicators partners POST over TAXII to an intake collection become Harpoon
//! indicators (status Review, the collection as source, linked back to the partner's object).
//! A cursor per collection (membership `seq`) advances in the same transaction as the indicators
//! it produced, so a crash neither loses nor repeats anything; `run` is called after every POST
//! and by a periodic loop.

use serde_json::Value;

use super::ServiceError;
use super::indicators::{Status, TriageContext};
use crate::db::indicators::{self as ind, NewHistory, NewIndicator};
use crate::db::{Db, DbConn, collections, now_micros, objects, write_tx};
use crate::extract::{IndicatorValue, ObservableKind};
use crate::stix::{StixId, Tlp};

/// The values of a STIX pattern made of `=` comparisons joined by `OR` (the shape nearly every
/// shared indicator has). Anything else — `AND`, qualifiers, other operators — yields nothing,
/// since one Harpoon indicator is one value.
pub fn pattern_values(pattern: &str) -> Vec<(ObservableKind, String)> {
    let mut out = Vec::new();
    let body = pattern.trim();
    let upper = body.to_ascii_uppercase();
    if upper.contains(" AND ")
        || upper.contains(" FOLLOWEDBY ")
        || upper.contains(" WITHIN ")
        || upper.contains(" REPEATS ")
    {
        return out;
    }
    let mut rest = body;
    while let Some(open) = rest.find('[') {
        let Some(after) = rest.get(open + 1..) else { break };
        let (inner, next) = match split_bracket(after) {
            Some(x) => x,
            None => break,
        };
        rest = next;
        for comparison in split_or(inner) {
            if let Some(v) = comparison_value(comparison.trim()) {
                out.push(v);
            }
        }
    }
    out
}

/// Splits `…] rest` at the bracket that closes, honouring quoted strings.
fn split_bracket(s: &str) -> Option<(&str, &str)> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, ch) in s.char_indices() {
        match ch {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '\'' => quoted = !quoted,
            ']' if !quoted => return Some((s.get(..i)?, s.get(i + 1..)?)),
            _ => {}
        }
    }
    None
}

/// Splits a comparison expression at top-level `OR`.
fn split_or(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let ch = bytes.get(i).copied().unwrap_or(b' ');
        if escaped {
            escaped = false;
        } else if quoted && ch == b'\\' {
            escaped = true;
        } else if ch == b'\'' {
            quoted = !quoted;
        } else if !quoted && s.get(i..i + 4).is_some_and(|w| w.eq_ignore_ascii_case(" OR ")) {
            parts.push(s.get(start..i).unwrap_or(""));
            start = i + 4;
            i += 3;
        }
        i += 1;
    }
    parts.push(s.get(start..).unwrap_or(""));
    parts
}

fn comparison_value(c: &str) -> Option<(ObservableKind, String)> {
    let (path, value) = c.split_once('=')?;
    let path = path.trim();
    if path.ends_with('!') || path.ends_with('<') || path.ends_with('>') {
        return None;
    }
    let value = value.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    let value = value.replace("\\'", "'").replace("\\\\", "\\");
    let kind = match path.to_ascii_lowercase().replace(' ', "").as_str() {
        "url:value" => ObservableKind::Url,
        "domain-name:value" => ObservableKind::Domain,
        "ipv4-addr:value" => ObservableKind::Ipv4,
        "ipv6-addr:value" => ObservableKind::Ipv6,
        "email-addr:value" | "email-message:from_ref.value" | "email-message:sender_ref.value" => {
            ObservableKind::Email
        }
        "file:hashes.md5" | "file:hashes.'md5'" => ObservableKind::Md5,
        "file:hashes.'sha-1'" | "file:hashes.sha1" | "file:hashes.'sha1'" => ObservableKind::Sha1,
        "file:hashes.'sha-256'" | "file:hashes.sha256" | "file:hashes.'sha256'" => ObservableKind::Sha256,
        "file:hashes.'sha-512'" | "file:hashes.sha512" | "file:hashes.'sha512'" => ObservableKind::Sha512,
        _ => return None,
    };
    // A single-address CIDR is the address; wider ranges are not one indicator.
    let value = match kind {
        ObservableKind::Ipv4 => value.strip_suffix("/32").map(str::to_string).unwrap_or(value),
        ObservableKind::Ipv6 => value.strip_suffix("/128").map(str::to_string).unwrap_or(value),
        _ => value,
    };
    IndicatorValue::parse(kind, &value).ok().map(|v| (kind, v.value))
}

/// Reads what partners added to every intake collection since the last run. Returns how many
/// partner indicators were read.
pub fn run(conn: &mut DbConn, ctx: &TriageContext) -> Result<usize, ServiceError> {
    let mut read = 0;
    for collection in collections::intake(conn)? {
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
                    take(conn, ctx, &collection.id, &collection.title, json)?;
                }
                collections::set_intake_cursor(conn, &collection.id, last)?;
                Ok::<_, ServiceError>(())
            })?;
        }
    }
    Ok(read)
}

/// One partner indicator: its values become (or update) Harpoon indicators.
fn take(
    conn: &mut DbConn,
    ctx: &TriageContext,
    collection_id: &str,
    title: &str,
    json: &str,
) -> Result<(), ServiceError> {
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
    let mut values = pattern_values(pattern);
    values.sort();
    values.dedup();
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
        .unwrap_or_else(|| ctx.policy.default_tlp.clone());
    let new: Vec<NewIndicator> = values
        .iter()
        .map(|(kind, value)| {
            Ok(NewIndicator {
                kind: kind.as_str().into(),
                value: value.clone(),
                status: Status::Review.as_str().into(),
                score,
                tlp: tlp.clone(),
                description: object.get("description").and_then(Value::as_str).map(str::to_string),
                first_seen: now,
                last_seen: now,
                status_changed_at: now,
                stix_id: StixId::new_v4("indicator")?.to_string(),
                whitelist_rule_id: None,
                created_at: now,
                updated_at: now,
            })
        })
        .collect::<Result<_, ServiceError>>()?;
    let rows = ind::upsert(conn, &new)?;
    let ids: Vec<i64> = rows.iter().map(|(r, _)| r.id).collect();
    let source = format!("partner:{title}");
    ind::add_source(conn, &ids, &source, now)?;
    ind::touch_seen(conn, &ids, now)?;
    for id_ in &ids {
        ind::link_partner_object(conn, *id_, id, collection_id, now)?;
    }
    // Values our whitelist covers are recorded but whitelisted at once.
    let rules = super::whitelist::load(conn)?;
    let mut history = Vec::new();
    for (row, created) in &rows {
        if *created {
            history.push(NewHistory {
                indicator_id: row.id,
                at: now,
                actor: source.clone(),
                field: "created".into(),
                old_value: None,
                new_value: Some(Status::Review.as_str().into()),
                reason: Some(format!("partner object {id}")),
            });
            if let Some(kind) = ObservableKind::from_name(&row.kind)
                && let Some(rule) = rules.matches(kind, &row.value)
            {
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
    }
    ind::add_history(conn, &history)?;
    Ok(())
}

/// Runs [`run`] every `interval` for as long as the server runs.
pub async fn intake_loop(
    db: Db,
    ctx: std::sync::Arc<TriageContext>,
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
        match db.run(move |conn| Ok(run(conn, &ctx))).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!("{n} partner indicators read"),
            Ok(Err(e)) => tracing::error!("partner intake: {e}"),
            Err(e) => tracing::error!("partner intake: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_patterns_give_their_values() {
        assert_eq!(
            pattern_values("[domain-name:value = 'Evil.Example.com']"),
            vec![(ObservableKind::Domain, "evil.example.com".into())]
        );
        assert_eq!(
            pattern_values("[ipv4-addr:value = '198.51.100.7/32' OR url:value = 'http://x.evil.net/a]b']"),
            vec![
                (ObservableKind::Ipv4, "198.51.100.7".into()),
                (ObservableKind::Url, "http://x.evil.net/a]b".into())
            ]
        );
        assert_eq!(
            pattern_values(
                "[file:hashes.'SHA-256' = 'AABBCCDDEEFF00112233445566778899AABBCCDDEEFF00112233445566778899']"
            ),
            vec![(
                ObservableKind::Sha256,
                "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899".into()
            )]
        );
        assert_eq!(pattern_values("[ipv4-addr:value = '10.0.0.0/8']"), vec![]);
        assert_eq!(
            pattern_values("[domain-name:value = 'a.evil.net' AND domain-name:value = 'b.evil.net']"),
            vec![]
        );
        assert_eq!(pattern_values("[domain-name:value != 'a.evil.net']"), vec![]);
        assert_eq!(pattern_values("[x-custom:value = 'a']"), vec![]);
    }
}
