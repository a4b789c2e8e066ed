//! The administrator's use cases for subscriptions: create, change and delete them (REST, UI),
//! bring the configuration file's subscriptions into the database at start, and the view both
//! edges show. A secret given over REST or the UI is sealed at once; it is never returned,
//! logged or audited. Each subscription stores what it takes in an intake collection of its own
//! ("Subscription NAME", TLP ceiling RED so that nothing a partner marks is refused, readable by
//! administrators unless granted), kept when the subscription is deleted.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Supervisor, check_secrets, origin_of, parse_url, validate};
use crate::connectors::secret::{FeedBinding, SealKey};
use crate::db::audit::{self, AuditEntry};
use crate::db::collections::{self as collection_store, CollectionRow};
use crate::db::subscriptions::{self as store, ConfigChange, NewSubscription, SubscriptionRow};
use crate::db::{DbConn, now_micros, write_tx};
use crate::service::ServiceError;
use crate::service::collections::{self, CollectionSpec};
use crate::settings::{FeedSettings, SecretRules};
use crate::stix::TaxiiTimestamp;

/// The settings of a stored subscription (its name from the row).
pub fn config_of(row: &SubscriptionRow) -> Result<FeedSettings, ServiceError> {
    let mut cfg: FeedSettings = serde_json::from_str(&row.config).map_err(|e| {
        ServiceError::Internal(format!("subscription {}: stored configuration: {e}", row.name))
    })?;
    cfg.name.clone_from(&row.name);
    Ok(cfg)
}

/// A subscription as the REST API and the UI show it: the settings, whether a secret is
/// stored (never the secret), its collection, and its health.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionView {
    pub id: i64,
    /// `config` (the configuration file; read-only over REST and in the UI) or `api`.
    pub origin: String,
    #[serde(flatten)]
    pub settings: FeedSettings,
    pub secret_set: bool,
    /// The local intake collection the remote's objects are stored in.
    pub local_collection: LocalCollection,
    pub health: Health,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LocalCollection {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// `starting`, `ok`, `error`, `disabled` or `not running in this instance`.
    pub status: String,
    /// Polled by a task of the instance that answers.
    pub running: bool,
    pub last_success_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub consecutive_failures: i64,
    pub next_attempt_at: Option<String>,
    /// Objects stored (each once).
    pub objects_taken: i64,
    /// Objects refused (invalid, a wrong SCO id, a conflict), and the newest refusal.
    pub objects_rejected: i64,
    pub last_rejected: Option<String>,
    /// Where the next poll starts (the protocol's cursor).
    pub cursor: Option<Value>,
}

fn time(micros: i64) -> String {
    TaxiiTimestamp::from_micros(micros).map(|t| t.to_string()).unwrap_or_default()
}

/// The view of one row.
pub fn view(
    row: &SubscriptionRow,
    collection: Option<&CollectionRow>,
    running: bool,
) -> Result<SubscriptionView, ServiceError> {
    Ok(SubscriptionView {
        id: row.id,
        origin: row.origin.clone(),
        settings: config_of(row)?,
        secret_set: row.secret_sealed.is_some(),
        local_collection: LocalCollection {
            id: row.collection_id.clone(),
            title: collection.map(|c| c.title.clone()).unwrap_or_default(),
        },
        health: Health {
            status: row.status.clone(),
            running,
            last_success_at: row.last_success_at.map(time),
            last_error: row.last_error.clone(),
            last_error_at: row.last_error_at.map(time),
            consecutive_failures: row.consecutive_failures,
            next_attempt_at: row.next_attempt_at.map(time),
            objects_taken: row.objects_taken,
            objects_rejected: row.objects_rejected,
            last_rejected: row.last_rejected.clone(),
            cursor: row.cursor.as_deref().and_then(|c| serde_json::from_str(c).ok()),
        },
        created_by: row.created_by.clone(),
        created_at: time(row.created_at),
        updated_at: time(row.updated_at),
    })
}

/// What a REST body holds: the settings, and perhaps a secret (string: set; null: remove).
struct Input {
    settings: FeedSettings,
    secret: Option<Option<String>>,
}

fn parse_input(mut object: Map<String, Value>, rules: &SecretRules) -> Result<Input, ServiceError> {
    let secret = match object.remove("secret") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(p)) if !p.is_empty() && !p.contains(['\r', '\n']) => Some(Some(p)),
        Some(_) => {
            return Err(ServiceError::Invalid("secret must be a non-empty one-line string or null".into()));
        }
    };
    let settings: FeedSettings = serde_json::from_value(Value::Object(object))
        .map_err(|e| ServiceError::Invalid(format!("subscription: {e}")))?;
    validate(&settings).map_err(ServiceError::Invalid)?;
    check_secrets(&settings, rules).map_err(ServiceError::Invalid)?;
    // Over REST the files must be there now: the administrator learns of a wrong path at once.
    for file in
        [&settings.ca_file, &settings.client_cert_file, &settings.client_key_file].into_iter().flatten()
    {
        rules.ca_file(file).map_err(ServiceError::Invalid)?;
    }
    Ok(Input { settings, secret })
}

fn object(body: Value) -> Result<Map<String, Value>, ServiceError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(ServiceError::Invalid("the body must be a JSON object".into())),
    }
}

fn config_json(settings: &FeedSettings) -> Result<String, ServiceError> {
    serde_json::to_string(settings).map_err(|e| ServiceError::Internal(format!("subscription JSON: {e}")))
}

/// A secret is needed by every mode but `none`.
fn needs_secret(settings: &FeedSettings, sealed: Option<&str>) -> Result<(), ServiceError> {
    if settings.auth != crate::settings::FeedAuth::None && sealed.is_none() && settings.secret_env.is_none() {
        return Err(ServiceError::Invalid(format!(
            "auth = \"{}\" needs secret (REST, UI) or secret_env",
            settings.auth.as_str()
        )));
    }
    Ok(())
}

fn seal(key: &SealKey, s: &FeedSettings, secret: &str) -> Result<String, ServiceError> {
    let url = parse_url(&s.url).map_err(ServiceError::Invalid)?;
    let origin = origin_of(&url);
    let to =
        FeedBinding { subscription: &s.name, origin: &origin, username: s.username.as_deref().unwrap_or("") };
    key.seal(&to, secret).map_err(|e| ServiceError::Internal(e.to_string()))
}

/// The title of a subscription's collection.
pub fn collection_title(name: &str) -> String {
    format!("Subscription {name}")
}

/// The subscription's own intake collection: the one left by an earlier subscription of that
/// name, or a new one.
fn own_collection(conn: &mut DbConn, s: &FeedSettings) -> Result<CollectionRow, ServiceError> {
    let title = collection_title(&s.name);
    if let Some(existing) = collection_store::list(conn)?.into_iter().find(|c| c.title == title) {
        if !existing.intake || store::by_collection(conn, &existing.id)?.is_some() {
            return Err(ServiceError::Invalid(format!(
                "the collection '{title}' exists and is not a free subscription collection: choose another name"
            )));
        }
        return Ok(existing);
    }
    collections::create(
        conn,
        &CollectionSpec {
            title,
            description: Some(format!("Objects of the subscription {} ({})", s.name, s.url)),
            max_tlp: Some("red".into()),
            intake: true,
            ..CollectionSpec::default()
        },
    )
}

/// `POST /subscriptions`: a new subscription from a JSON body (the settings plus `secret`).
pub fn create(
    conn: &mut DbConn,
    key: &SealKey,
    rules: &SecretRules,
    body: Value,
    actor: &str,
    status: &dyn Fn(bool) -> &'static str,
) -> Result<SubscriptionRow, ServiceError> {
    let input = parse_input(object(body)?, rules)?;
    let s = &input.settings;
    let sealed = input.secret.flatten().map(|p| seal(key, s, &p)).transpose()?;
    needs_secret(s, sealed.as_deref())?;
    let config = config_json(s)?;
    let now = now_micros();
    write_tx(conn, |conn| {
        if store::by_name(conn, &s.name)?.is_some() {
            return Err(ServiceError::Conflict(format!("subscription '{}'", s.name)));
        }
        let collection = own_collection(conn, s)?;
        let row = store::insert(
            conn,
            &NewSubscription {
                name: &s.name,
                origin: "api",
                protocol: s.protocol.as_str(),
                enabled: s.enabled,
                config: &config,
                secret_sealed: sealed.as_deref(),
                collection_id: &collection.id,
                created_by: Some(actor),
                created_at: now,
                updated_at: now,
            },
        )?;
        store::set_status(conn, row.id, status(row.enabled))?;
        audit::insert(conn, &AuditEntry::new("subscription.create").actor(actor).target(&s.name))?;
        Ok(store::by_id(conn, row.id)?.unwrap_or(row))
    })
}

/// The subscription `name` as an administrator may change it (not one from the configuration
/// file).
fn editable(conn: &mut DbConn, name: &str) -> Result<SubscriptionRow, ServiceError> {
    let row = store::by_name(conn, name)?
        .ok_or_else(|| ServiceError::NotFound(format!("subscription '{name}'")))?;
    if row.origin == "config" {
        return Err(ServiceError::Forbidden(format!(
            "subscription '{name}' is defined in the configuration file; change it there"
        )));
    }
    Ok(row)
}

/// Whether a change points the subscription at other data: it then starts from the beginning.
fn other_source(before: &FeedSettings, after: &FeedSettings) -> bool {
    before.protocol != after.protocol
        || before.url.trim() != after.url.trim()
        || before.collection.trim() != after.collection.trim()
        || before.types != after.types
}

/// `PATCH /subscriptions/{name}`: the keys given replace the stored ones (null removes an
/// optional one); `secret` sets (or with null removes) the sealed secret. A stored secret
/// belongs to its URL's origin and user name: changing either without giving it again is
/// refused, so whoever may edit a subscription cannot send its secret to a server of their
/// choosing. A changed URL, collection, protocol or type filter starts over (the cursor is
/// forgotten; what was stored stays, and comes again only as duplicates).
pub fn update(
    conn: &mut DbConn,
    key: &SealKey,
    rules: &SecretRules,
    name: &str,
    patch: Value,
    actor: &str,
    status: &dyn Fn(bool) -> &'static str,
) -> Result<SubscriptionRow, ServiceError> {
    let patch = object(patch)?;
    write_tx(conn, |conn| {
        let row = editable(conn, name)?;
        let mut merged =
            object(serde_json::from_str(&row.config).map_err(|e| ServiceError::Internal(e.to_string()))?)?;
        for (k, v) in patch.clone() {
            if k == "name" && v.as_str() != Some(name) {
                return Err(ServiceError::Invalid("a subscription cannot be renamed".into()));
            }
            if v.is_null() && k != "secret" {
                merged.remove(&k);
            } else {
                merged.insert(k, v);
            }
        }
        merged.insert("name".into(), Value::String(name.to_string()));
        let input = parse_input(merged, rules)?;
        let before = config_of(&row)?;
        let (old_url, new_url) = (parse_url(&before.url), parse_url(&input.settings.url));
        let moved = old_url.map(|u| origin_of(&u)).ok() != new_url.map(|u| origin_of(&u)).ok()
            || before.username != input.settings.username;
        let sealed = match input.secret {
            None if moved && row.secret_sealed.is_some() => {
                return Err(ServiceError::Invalid(
                    "the stored secret belongs to the current server and username: give \"secret\" again \
                     to change either (or \"secret\": null to remove it)"
                        .into(),
                ));
            }
            None => row.secret_sealed.clone(),
            Some(None) => None,
            Some(Some(p)) => Some(seal(key, &input.settings, &p)?),
        };
        needs_secret(&input.settings, sealed.as_deref())?;
        let config = config_json(&input.settings)?;
        let updated = store::update_config(
            conn,
            row.id,
            &ConfigChange {
                protocol: input.settings.protocol.as_str(),
                enabled: input.settings.enabled,
                config: &config,
                secret_sealed: sealed.as_deref(),
                updated_at: now_micros(),
            },
            other_source(&before, &input.settings),
        )?;
        store::set_status(conn, updated.id, status(updated.enabled))?;
        audit::insert(conn, &AuditEntry::new("subscription.update").actor(actor).target(name))?;
        Ok(store::by_id(conn, updated.id)?.unwrap_or(updated))
    })
}

/// `DELETE /subscriptions/{name}`: the subscription (its collection and indicators stay).
pub fn delete(conn: &mut DbConn, name: &str, actor: &str) -> Result<SubscriptionRow, ServiceError> {
    write_tx(conn, |conn| {
        let row = editable(conn, name)?;
        store::delete(conn, row.id)?;
        audit::insert(conn, &AuditEntry::new("subscription.delete").actor(actor).target(name))?;
        Ok(row)
    })
}

/// Brings the configuration file's subscriptions into the database: new ones are created,
/// changed ones updated (their cursor kept unless they point at other data), removed ones
/// deleted. A name already used by a subscription made over REST is an error. Returns every
/// subscription.
pub fn sync_config(
    conn: &mut DbConn,
    feeds: &[FeedSettings],
    rules: &SecretRules,
    status: &dyn Fn(bool) -> &'static str,
) -> Result<Vec<SubscriptionRow>, ServiceError> {
    write_tx(conn, |conn| {
        let names: Vec<String> = feeds.iter().map(|f| f.name.clone()).collect();
        for gone in store::delete_config_except(conn, &names)? {
            tracing::info!(subscription = %gone, "subscription removed from the configuration file");
        }
        for f in feeds {
            validate(f)
                .and_then(|()| check_secrets(f, rules))
                .map_err(|e| ServiceError::Invalid(format!("subscription '{}': {e}", f.name)))?;
            needs_secret(f, None).map_err(|_| {
                ServiceError::Invalid(format!(
                    "subscription '{}': the configuration file needs secret_env",
                    f.name
                ))
            })?;
            let config = config_json(f)?;
            let now = now_micros();
            match store::by_name(conn, &f.name)? {
                Some(row) if row.origin != "config" => {
                    return Err(ServiceError::Conflict(format!(
                        "subscription '{}' (made over REST; the configuration file cannot reuse its name)",
                        f.name
                    )));
                }
                Some(row) if row.config != config || row.enabled != f.enabled => {
                    let before = config_of(&row)?;
                    store::update_config(
                        conn,
                        row.id,
                        &ConfigChange {
                            protocol: f.protocol.as_str(),
                            enabled: f.enabled,
                            config: &config,
                            secret_sealed: None,
                            updated_at: now,
                        },
                        other_source(&before, f),
                    )?;
                }
                Some(_) => {}
                None => {
                    let collection = own_collection(conn, f)?;
                    store::insert(
                        conn,
                        &NewSubscription {
                            name: &f.name,
                            origin: "config",
                            protocol: f.protocol.as_str(),
                            enabled: f.enabled,
                            config: &config,
                            secret_sealed: None,
                            collection_id: &collection.id,
                            created_by: None,
                            created_at: now,
                            updated_at: now,
                        },
                    )?;
                }
            }
        }
        let rows = store::list(conn)?;
        for row in &rows {
            store::set_status(conn, row.id, status(row.enabled))?;
        }
        Ok(store::list(conn)?)
    })
}

/// The edges' entry points: each runs on the blocking pool and keeps the tasks in line with
/// the rows.
impl Supervisor {
    fn views(
        &self,
        rows: &[SubscriptionRow],
        collections: &[CollectionRow],
    ) -> Result<Vec<SubscriptionView>, ServiceError> {
        rows.iter()
            .map(|r| view(r, collections.iter().find(|c| c.id == r.collection_id), self.is_running(r.id)))
            .collect()
    }

    /// Every subscription with its health.
    pub async fn list(&self) -> Result<Vec<SubscriptionView>, ServiceError> {
        let (rows, collections) = self
            .db()
            .run(|conn| Ok::<_, crate::db::DbError>((store::list(conn)?, collection_store::list(conn)?)))
            .await?;
        self.views(&rows, &collections)
    }

    /// One subscription by name.
    pub async fn get(&self, name: &str) -> Result<SubscriptionView, ServiceError> {
        let lookup = name.to_string();
        let (row, collections) = self
            .db()
            .run(move |conn| {
                Ok::<_, crate::db::DbError>((store::by_name(conn, &lookup)?, collection_store::list(conn)?))
            })
            .await?;
        let row = row.ok_or_else(|| ServiceError::NotFound(format!("subscription '{name}'")))?;
        self.views(&[row], &collections)?
            .pop()
            .ok_or_else(|| ServiceError::Internal(format!("subscription '{name}': no view")))
    }

    /// Creates a subscription and starts it.
    pub async fn create(&self, body: Value, actor: &str) -> Result<SubscriptionView, ServiceError> {
        let (key, rules, actor) = (self.key().clone(), self.rules().clone(), actor.to_string());
        let statuses = self.statuses();
        let row =
            self.db().run(move |conn| create(conn, &key, &rules, body, &actor, &|e| statuses.of(e))).await?;
        self.apply(&row);
        self.get(&row.name).await
    }

    /// Changes a subscription and restarts it (or stops it when disabled).
    pub async fn update(
        &self,
        name: &str,
        body: Value,
        actor: &str,
    ) -> Result<SubscriptionView, ServiceError> {
        let (key, rules) = (self.key().clone(), self.rules().clone());
        let (actor, name_) = (actor.to_string(), name.to_string());
        let statuses = self.statuses();
        let row = self
            .db()
            .run(move |conn| update(conn, &key, &rules, &name_, body, &actor, &|e| statuses.of(e)))
            .await?;
        self.apply(&row);
        self.get(name).await
    }

    /// Stops and deletes a subscription.
    pub async fn delete(&self, name: &str, actor: &str) -> Result<(), ServiceError> {
        let (name, actor) = (name.to_string(), actor.to_string());
        let row = self.db().run(move |conn| delete(conn, &name, &actor)).await?;
        self.stop(row.id);
        Ok(())
    }

    /// Polls a subscription now (its task restarts; the back-off is forgotten).
    pub async fn poll_now(&self, name: &str) -> Result<SubscriptionView, ServiceError> {
        let lookup = name.to_string();
        let row = self
            .db()
            .run(move |conn| store::by_name(conn, &lookup))
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("subscription '{name}'")))?;
        if !row.enabled {
            return Err(ServiceError::Invalid(format!("subscription '{name}' is disabled")));
        }
        self.apply(&row);
        self.get(name).await
    }

    fn statuses(&self) -> Statuses {
        Statuses { run: self.initial_status(true) != "not running in this instance" }
    }
}

/// [`Supervisor::initial_status`] without the supervisor (for the blocking pool).
#[derive(Debug, Clone, Copy)]
struct Statuses {
    run: bool,
}

impl Statuses {
    fn of(self, enabled: bool) -> &'static str {
        match (self.run, enabled) {
            (false, _) => "not running in this instance",
            (true, false) => "disabled",
            (true, true) => "starting",
        }
    }
}
