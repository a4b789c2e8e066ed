//! Indicators: their lifecycle (Review, Active, Indirect, Whitelisted, Expired), scores, TLP,
//! tags, the history of every change, expiry, and publication of every change that affects
//! what devices block (a new STIX version in `active-indicators`, see `publish`).

use std::collections::HashMap;

use super::publish::VersionState;
use super::{ServiceContext, ServiceError};
use crate::db::indicators::{self as store, IndicatorChanges, IndicatorRow, NewHistory};
use crate::db::{Db, DbConn, now_micros, write_tx};
use crate::extract::ObservableKind;
use crate::stix::parse_tlp;

/// An indicator's status (a closed set of the `indicators` table, defined beside it).
pub use crate::db::indicators::Status;

impl Status {
    pub fn parse(text: &str) -> Result<Self, ServiceError> {
        Self::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(text.trim())).ok_or_else(|| {
            ServiceError::Invalid(format!(
                "unknown status '{text}' (use review, active, indirect, whitelisted or expired)"
            ))
        })
    }
}

/// Expiry and scoring policy (from the settings).
#[derive(Debug, Clone)]
pub struct Policy {
    /// Days an Active indicator of a kind stays Active after it was last seen or activated;
    /// absent: never expires.
    pub expiry_days: HashMap<ObservableKind, u32>,
    pub default_score: u8,
    pub default_tlp: String,
}

impl Policy {
    /// When an indicator of `kind` activated (or seen) at `from` expires.
    pub fn expires_at(&self, kind: ObservableKind, from: i64) -> Option<i64> {
        let days = i64::from(*self.expiry_days.get(&kind)?);
        Some(from.saturating_add(days.saturating_mul(86_400_000_000)))
    }
}

fn tag_list(conn: &mut DbConn, id: i64) -> Result<Vec<String>, ServiceError> {
    Ok(store::tags(conn, &[id])?.into_iter().map(|(_, t)| t).collect())
}

/// Changes an indicator's status inside the caller's write transaction, records the history
/// entry and publishes what the change means to devices: becoming Active publishes a version;
/// leaving Active publishes one with `valid_until` now, or `revoked: true` when whitelisted
/// (a later re-activation then starts a new STIX indicator).
pub fn set_status(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    id: i64,
    status: Status,
    actor: &str,
    reason: Option<&str>,
    rule_id: Option<i64>,
) -> Result<IndicatorRow, ServiceError> {
    let row =
        store::get_for_update(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("indicator {id}")))?;
    let old = row.status;
    if old == status {
        return Ok(row);
    }
    let now = now_micros();
    let mut changes = IndicatorChanges {
        status: Some(status),
        status_changed_at: Some(now),
        expires_at: Some(if status == Status::Active { ctx.policy.expires_at(row.kind, now) } else { None }),
        whitelist_rule_id: Some(if status == Status::Whitelisted { rule_id } else { None }),
        updated_at: Some(now),
        ..IndicatorChanges::default()
    };
    let tags = tag_list(conn, id)?;
    let state = if status == Status::Active {
        Some(VersionState::Active { valid_from: now })
    } else if old == Status::Active {
        let valid_from = row.status_changed_at;
        Some(if status == Status::Whitelisted {
            VersionState::Revoked { valid_from }
        } else {
            VersionState::Inactive { valid_from, until: now }
        })
    } else {
        None
    };
    let tlp = row.tlp;
    // A version above the collection's TLP ceiling is not published, and the row does not
    // record it as if it were (`published` stays false, a later lower TLP publishes it whole).
    if let Some(state) = state
        && let Some(version) =
            ctx.publisher.version(&ctx.publisher.with_current_observation(conn, &row)?, &tags, state, now)?
        && ctx.publisher.publish(conn, &version.objects, tlp)?
    {
        if matches!(state, VersionState::Active { .. }) {
            // Sightings found while it was not Active are published with it.
            ctx.publisher.publish_pending(conn, &row.stix_id, tlp)?;
        }
        if matches!(state, VersionState::Revoked { .. }) {
            // A revoked object has no further versions: a re-activation starts a new indicator.
            changes.stix_id = Some(crate::stix::StixId::new_v4("indicator")?.to_string());
            changes.stix_created = Some(None);
            changes.stix_modified = Some(None);
            changes.stix_observed_id = Some(None);
            changes.stix_based_on_id = Some(None);
        } else {
            changes.stix_created = version.changes.stix_created;
            changes.stix_modified = version.changes.stix_modified;
            if version.changes.stix_observed_id.is_some() {
                changes.stix_observed_id = version.changes.stix_observed_id;
                changes.stix_based_on_id = version.changes.stix_based_on_id;
            }
        }
    }
    store::update(conn, id, &changes)?;
    store::add_history(
        conn,
        &[NewHistory {
            indicator_id: id,
            at: now,
            actor: actor.to_string(),
            field: "status".into(),
            old_value: Some(old.as_str().into()),
            new_value: Some(status.as_str().into()),
            reason: reason.map(str::to_string),
        }],
    )?;
    store::get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("indicator {id}")))
}

/// New values to keep as indicators (a commit's items, an operation's findings).
#[derive(Debug, Clone)]
pub struct Observed<'a> {
    /// Canonical `(kind, value)` pairs.
    pub values: &'a [(String, String)],
    /// Status of the indicators this creates (existing ones keep theirs).
    pub status: Status,
    pub tlp: &'a str,
    /// Provenance recorded for every value: `import 3`'s source, `operation nslookup run 7`.
    pub source: &'a str,
    pub actor: &'a str,
    /// Why they were created (the history entry's reason).
    pub reason: &'a str,
}

/// Creates the indicators that do not exist yet and merges the others (seen again: `last_seen`
/// moves, an Active one's expiry restarts), records the source and a history entry per created
/// indicator, inside the caller's write transaction. The one path by which commits and
/// operations add indicators. Returns each row with whether it was created now.
pub fn create_or_merge(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    o: &Observed,
    now: i64,
) -> Result<Vec<(IndicatorRow, bool)>, ServiceError> {
    let new: Vec<store::NewIndicator> = o
        .values
        .iter()
        .map(|(kind, value)| {
            Ok(store::NewIndicator {
                kind: ObservableKind::from_name(kind)
                    .ok_or_else(|| ServiceError::Invalid(format!("unknown indicator kind '{kind}'")))?,
                value: value.clone(),
                status: o.status,
                score: i32::from(ctx.policy.default_score),
                tlp: o.tlp.to_string(),
                description: None,
                first_seen: now,
                last_seen: now,
                status_changed_at: now,
                stix_id: crate::stix::StixId::new_v4("indicator")?.to_string(),
                whitelist_rule_id: None,
                created_at: now,
                updated_at: now,
            })
        })
        .collect::<Result<_, ServiceError>>()?;
    let rows = store::upsert(conn, &new)?;
    let updated: Vec<i64> = rows.iter().filter(|(_, is_new)| !is_new).map(|(r, _)| r.id).collect();
    let all: Vec<i64> = rows.iter().map(|(r, _)| r.id).collect();
    store::touch_seen(conn, &updated, now)?;
    store::add_source(conn, &all, o.source, now)?;
    // Seen again while Active: the expiry clock restarts.
    for (r, _) in rows.iter().filter(|(r, is_new)| !is_new && r.status == Status::Active) {
        let changes =
            IndicatorChanges { expires_at: Some(ctx.policy.expires_at(r.kind, now)), ..Default::default() };
        store::update(conn, r.id, &changes)?;
    }
    let history: Vec<NewHistory> = rows
        .iter()
        .filter(|(_, is_new)| *is_new)
        .map(|(r, _)| NewHistory {
            indicator_id: r.id,
            at: now,
            actor: o.actor.to_string(),
            field: "created".into(),
            old_value: None,
            new_value: Some(o.status.as_str().into()),
            reason: Some(o.reason.to_string()),
        })
        .collect();
    store::add_history(conn, &history)?;
    Ok(rows)
}

/// What an analyst may change on an indicator.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    pub status: Option<Status>,
    pub score: Option<u8>,
    pub tlp: Option<String>,
    pub description: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub reason: Option<String>,
}

/// Applies a patch in one transaction, with a history entry per changed field; an Active
/// indicator whose published properties change (score, TLP, description, tags) gets a new version.
pub fn patch(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    id: i64,
    p: &Patch,
    actor: &str,
) -> Result<IndicatorRow, ServiceError> {
    if p.score.is_some_and(|s| s > 100) {
        return Err(ServiceError::Invalid("score must be 0-100".into()));
    }
    let tlp = p.tlp.as_deref().map(parse_tlp).transpose()?.map(|t| t.level().to_string());
    let tags = p.tags.as_ref().map(|t| normalise_tags(t)).transpose()?;
    write_tx(conn, |conn| {
        let row = store::get_for_update(conn, id)?
            .ok_or_else(|| ServiceError::NotFound(format!("indicator {id}")))?;
        let now = now_micros();
        let mut history = Vec::new();
        let mut note = |field: &str, old: Option<String>, new: Option<String>| {
            if old != new {
                history.push(NewHistory {
                    indicator_id: id,
                    at: now,
                    actor: actor.to_string(),
                    field: field.to_string(),
                    old_value: old,
                    new_value: new,
                    reason: p.reason.clone(),
                });
                true
            } else {
                false
            }
        };
        let mut published_change = false;
        let mut changes = IndicatorChanges { updated_at: Some(now), ..IndicatorChanges::default() };
        if let Some(score) = p.score
            && note("score", Some(row.score.to_string()), Some(score.to_string()))
        {
            changes.score = Some(i32::from(score));
            published_change = true;
        }
        if let Some(tlp) = &tlp
            && note("tlp", Some(row.tlp.level().to_string()), Some(tlp.clone()))
        {
            changes.tlp = Some(tlp.clone());
            published_change = true;
        }
        if let Some(description) = &p.description
            && note("description", row.description.clone(), description.clone())
        {
            changes.description = Some(description.clone());
            published_change = true;
        }
        let old_tags = tag_list(conn, id)?;
        if let Some(tags) = &tags
            && note("tags", Some(old_tags.join(",")), Some(tags.join(",")))
        {
            store::set_tags(conn, id, tags)?;
            published_change = true;
        }
        store::update(conn, id, &changes)?;
        store::add_history(conn, &history)?;
        let row = store::get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("indicator {id}")))?;
        if published_change && row.status == Status::Active && p.status.is_none_or(|s| s == Status::Active) {
            let tags = tag_list(conn, id)?;
            let state = VersionState::Active { valid_from: row.status_changed_at };
            let row = ctx.publisher.with_current_observation(conn, &row)?;
            if let Some(version) = ctx.publisher.version(&row, &tags, state, now)?
                && ctx.publisher.publish(conn, &version.objects, row.tlp)?
            {
                store::update(conn, id, &version.changes)?;
            }
        }
        if tlp.is_some() && row.stix_modified.is_some() {
            // Its own TLP now above the ceiling: what was published of it is no longer served.
            ctx.publisher.withhold(conn, &row)?;
        }
        match p.status {
            Some(status) => set_status(conn, ctx, id, status, actor, p.reason.as_deref(), None),
            None => Ok(row),
        }
    })
}

/// Trims, drops empties and duplicates; a tag is 1-64 characters without control characters.
pub fn normalise_tags(tags: &[String]) -> Result<Vec<String>, ServiceError> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let t = tag.trim();
        if t.is_empty() {
            continue;
        }
        if t.chars().count() > 64 || t.chars().any(char::is_control) {
            return Err(ServiceError::Invalid(format!("invalid tag '{t}': 1-64 printable characters")));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

/// Expires every Active indicator whose time has come (each in its own transaction, so one bad
/// row never blocks the others). Returns how many expired.
pub fn expire_due(conn: &mut DbConn, ctx: &ServiceContext, now: i64) -> Result<usize, ServiceError> {
    let mut expired = 0;
    loop {
        let due = store::due_to_expire(conn, now, 500)?;
        if due.is_empty() {
            return Ok(expired);
        }
        for id in &due {
            let result = write_tx(conn, |conn| {
                set_status(conn, ctx, *id, Status::Expired, "harpoon", Some("expiry policy"), None)
            });
            match result {
                Ok(_) => expired += 1,
                Err(e) => {
                    tracing::error!(indicator = id, "expiry failed: {e}");
                    return Err(e);
                }
            }
        }
    }
}

/// Runs [`expire_due`] every `interval` for as long as the server runs.
pub async fn expiry_loop(
    db: Db,
    ctx: std::sync::Arc<ServiceContext>,
    interval: std::time::Duration,
    leases: super::leases::Leases,
) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        // One instance expires indicators (the lease `job:expiry`).
        if !leases.hold("job:expiry").await {
            continue;
        }
        let ctx = ctx.clone();
        match db.run(move |conn| expire_due(conn, &ctx, now_micros())).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("{n} indicators expired"),
            Err(e) => tracing::error!("expiry: {e}"),
        }
    }
}
