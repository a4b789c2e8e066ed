//! The administrator's use cases for connectors: create, change and delete them over REST, and
//! bring the configuration file's connectors into the database at start. A password given over
//! REST is sealed at once ([`SealKey`]); it is never returned, logged or audited.

use serde_json::{Map, Value};

use super::secret::{Binding, SealKey};
use super::{check_secrets, validate};
use crate::db::audit::{self, AuditEntry};
use crate::db::connectors::{self as store, ConfigChange, ConnectorRow, NewConnector};
use crate::db::{DbConn, now_micros, write_tx};
use crate::service::ServiceError;
use crate::settings::{MailboxSettings, SecretRules};

/// The settings of a stored connector (its name from the row).
pub fn config_of(row: &ConnectorRow) -> Result<MailboxSettings, ServiceError> {
    let mut cfg: MailboxSettings = serde_json::from_str(&row.config)
        .map_err(|e| ServiceError::Internal(format!("connector {}: stored configuration: {e}", row.name)))?;
    cfg.name.clone_from(&row.name);
    Ok(cfg)
}

/// What a REST body holds: the settings, and perhaps a password (string: set; null: remove).
struct Input {
    settings: MailboxSettings,
    password: Option<Option<String>>,
}

fn parse_input(mut object: Map<String, Value>, rules: &SecretRules) -> Result<Input, ServiceError> {
    let password = match object.remove("password") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(p)) if !p.is_empty() => Some(Some(p)),
        Some(_) => return Err(ServiceError::Invalid("password must be a non-empty string or null".into())),
    };
    let settings: MailboxSettings = serde_json::from_value(Value::Object(object))
        .map_err(|e| ServiceError::Invalid(format!("connector: {e}")))?;
    validate(&settings).map_err(ServiceError::Invalid)?;
    check_secrets(&settings, rules).map_err(ServiceError::Invalid)?;
    // Over REST the CA file must be there now: the administrator learns of a wrong path at once.
    if let Some(ca) = &settings.ca_file {
        rules.ca_file(ca).map_err(ServiceError::Invalid)?;
    }
    Ok(Input { settings, password })
}

fn object(body: Value) -> Result<Map<String, Value>, ServiceError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(ServiceError::Invalid("the body must be a JSON object".into())),
    }
}

fn config_json(settings: &MailboxSettings) -> Result<String, ServiceError> {
    serde_json::to_string(settings).map_err(|e| ServiceError::Internal(format!("connector JSON: {e}")))
}

fn needs_password(settings: &MailboxSettings, sealed: Option<&str>) -> Result<(), ServiceError> {
    if sealed.is_none() && settings.password_env.is_none() {
        return Err(ServiceError::Invalid("give password or password_env".into()));
    }
    Ok(())
}

/// `POST /connectors`: a new connector from a JSON body (the settings plus `password`).
pub fn create(
    conn: &mut DbConn,
    key: &SealKey,
    rules: &SecretRules,
    body: Value,
    actor: &str,
    status: &dyn Fn(bool) -> &'static str,
) -> Result<ConnectorRow, ServiceError> {
    let input = parse_input(object(body)?, rules)?;
    let s = &input.settings;
    let sealed = match input.password.flatten() {
        Some(p) => Some(key.seal(&Binding::of(s), &p).map_err(|e| ServiceError::Internal(e.to_string()))?),
        None => None,
    };
    needs_password(s, sealed.as_deref())?;
    let config = config_json(s)?;
    let now = now_micros();
    write_tx(conn, |conn| {
        if store::by_name(conn, &s.name)?.is_some() {
            return Err(ServiceError::Conflict(format!("connector '{}'", s.name)));
        }
        let row = store::insert(
            conn,
            &NewConnector {
                name: &s.name,
                origin: "api",
                protocol: s.protocol.as_str(),
                enabled: s.enabled,
                config: &config,
                password_sealed: sealed.as_deref(),
                created_by: Some(actor),
                created_at: now,
                updated_at: now,
            },
        )?;
        store::set_status(conn, row.id, status(row.enabled))?;
        audit::insert(conn, &AuditEntry::new("connector.create").actor(actor).target(&s.name))?;
        Ok(store::by_id(conn, row.id)?.unwrap_or(row))
    })
}

/// The connector `name` as an administrator may change it (not one from the configuration file).
fn editable(conn: &mut DbConn, name: &str) -> Result<ConnectorRow, ServiceError> {
    let row =
        store::by_name(conn, name)?.ok_or_else(|| ServiceError::NotFound(format!("connector '{name}'")))?;
    if row.origin == "config" {
        return Err(ServiceError::Forbidden(format!(
            "connector '{name}' is defined in the configuration file; change it there"
        )));
    }
    Ok(row)
}

/// `PATCH /connectors/{name}`: the keys given replace the stored ones (null removes an optional
/// one); `password` sets (or with null removes) the sealed password. A stored password belongs
/// to its host and user: changing either without giving the password again is refused, so
/// whoever may edit a connector cannot send its password to a server of their choosing.
pub fn update(
    conn: &mut DbConn,
    key: &SealKey,
    rules: &SecretRules,
    name: &str,
    patch: Value,
    actor: &str,
    status: &dyn Fn(bool) -> &'static str,
) -> Result<ConnectorRow, ServiceError> {
    let patch = object(patch)?;
    write_tx(conn, |conn| {
        let row = editable(conn, name)?;
        let mut merged =
            object(serde_json::from_str(&row.config).map_err(|e| ServiceError::Internal(e.to_string()))?)?;
        for (k, v) in patch.clone() {
            if k == "name" && v.as_str() != Some(name) {
                return Err(ServiceError::Invalid("a connector cannot be renamed".into()));
            }
            if v.is_null() && k != "password" {
                merged.remove(&k);
            } else {
                merged.insert(k, v);
            }
        }
        merged.insert("name".into(), Value::String(name.to_string()));
        let input = parse_input(merged, rules)?;
        let before = config_of(&row)?;
        let moved = !before.host.eq_ignore_ascii_case(&input.settings.host)
            || before.username != input.settings.username;
        let sealed = match input.password {
            None if moved && row.password_sealed.is_some() => {
                return Err(ServiceError::Invalid(
                    "the stored password belongs to the current host and username: give \"password\" \
                     again to change either (or \"password\": null to remove it)"
                        .into(),
                ));
            }
            None => row.password_sealed.clone(),
            Some(None) => None,
            Some(Some(p)) => Some(
                key.seal(&Binding::of(&input.settings), &p)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
            ),
        };
        needs_password(&input.settings, sealed.as_deref())?;
        let config = config_json(&input.settings)?;
        let updated = store::update_config(
            conn,
            row.id,
            &ConfigChange {
                protocol: input.settings.protocol.as_str(),
                enabled: input.settings.enabled,
                config: &config,
                password_sealed: sealed.as_deref(),
                updated_at: now_micros(),
            },
        )?;
        store::set_status(conn, updated.id, status(updated.enabled))?;
        audit::insert(conn, &AuditEntry::new("connector.update").actor(actor).target(name))?;
        Ok(store::by_id(conn, updated.id)?.unwrap_or(updated))
    })
}

/// `DELETE /connectors/{name}`: the connector and what it remembers (its imports stay).
pub fn delete(conn: &mut DbConn, name: &str, actor: &str) -> Result<ConnectorRow, ServiceError> {
    write_tx(conn, |conn| {
        let row = editable(conn, name)?;
        store::delete(conn, row.id)?;
        audit::insert(conn, &AuditEntry::new("connector.delete").actor(actor).target(name))?;
        Ok(row)
    })
}

/// Brings the configuration file's connectors into the database: new ones are created,
/// changed ones updated (their state kept), removed ones deleted. A name already used by a
/// connector made over REST is an error. Returns every connector.
pub fn sync_config(
    conn: &mut DbConn,
    mailboxes: &[MailboxSettings],
    rules: &SecretRules,
    status: &dyn Fn(bool) -> &'static str,
) -> Result<Vec<ConnectorRow>, ServiceError> {
    write_tx(conn, |conn| {
        let names: Vec<String> = mailboxes.iter().map(|m| m.name.clone()).collect();
        for gone in store::delete_config_except(conn, &names)? {
            tracing::info!(connector = %gone, "connector removed from the configuration file");
        }
        for m in mailboxes {
            validate(m)
                .and_then(|()| check_secrets(m, rules))
                .map_err(|e| ServiceError::Invalid(format!("connector '{}': {e}", m.name)))?;
            needs_password(m, None).map_err(|_| {
                ServiceError::Invalid(format!(
                    "connector '{}': the configuration file needs password_env",
                    m.name
                ))
            })?;
            let config = config_json(m)?;
            let now = now_micros();
            match store::by_name(conn, &m.name)? {
                Some(row) if row.origin != "config" => {
                    return Err(ServiceError::Conflict(format!(
                        "connector '{}' (made over REST; the configuration file cannot reuse its name)",
                        m.name
                    )));
                }
                Some(row) if row.config != config || row.enabled != m.enabled => {
                    store::update_config(
                        conn,
                        row.id,
                        &ConfigChange {
                            protocol: m.protocol.as_str(),
                            enabled: m.enabled,
                            config: &config,
                            password_sealed: None,
                            updated_at: now,
                        },
                    )?;
                }
                Some(_) => {}
                None => {
                    store::insert(
                        conn,
                        &NewConnector {
                            name: &m.name,
                            origin: "config",
                            protocol: m.protocol.as_str(),
                            enabled: m.enabled,
                            config: &config,
                            password_sealed: None,
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
