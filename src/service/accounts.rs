//! Accounts and API tokens: creating users, hashing passwords (argon2id), issuing and revoking
//! tokens. Token secrets are shown once and stored only as SHA-256.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use super::ServiceError;
use crate::db::audit::{self, AuditEntry};
use crate::db::tokens::{self, NewToken, TokenRow};
use crate::db::users::{self, UserRow};
use crate::db::{Db, DbConn, DbError, sessions, write_tx};

/// What a user may do. Admins administer; analysts triage; readers only read; partners (another
/// organisation) reach their granted TAXII collections and nothing else (design.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Partner,
    Reader,
    Analyst,
    Admin,
}

impl Role {
    /// Every role, most powerful first (for selectors).
    pub const ALL: &[Role] = &[Role::Admin, Role::Analyst, Role::Reader, Role::Partner];

    pub fn parse(s: &str) -> Result<Self, ServiceError> {
        match s {
            "admin" => Ok(Role::Admin),
            "analyst" => Ok(Role::Analyst),
            "reader" => Ok(Role::Reader),
            "partner" => Ok(Role::Partner),
            other => Err(ServiceError::Invalid(format!(
                "unknown role '{}' (expected admin, analyst, reader or partner)",
                other.escape_debug()
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Reader => "reader",
            Role::Partner => "partner",
        }
    }

    /// Internal users (not partners) reach the REST API beyond `/me` and the web UI.
    pub fn is_internal(self) -> bool {
        self != Role::Partner
    }

    /// Analysts and administrators change intelligence.
    pub fn is_analyst(self) -> bool {
        matches!(self, Role::Admin | Role::Analyst)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The prefix every API token starts with, so a token is recognisable (and scannable in leaks).
pub const TOKEN_PREFIX: &str = "hpt_";

/// A username: 1-64 characters of letters, digits and `._@-`.
pub fn check_username(name: &str) -> Result<(), ServiceError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::Invalid(format!(
            "invalid username '{}': use 1-64 letters, digits or . _ @ -",
            name.escape_debug()
        )))
    }
}

/// Well-known weak passwords (lower case, one a line), refused whatever their length.
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// The password rules, applied on every way a password is set (create, reset, change, the first
/// admin's from `HARPOON_ADMIN_PASSWORD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Characters at least, not counting the user name where it appears in the password.
    pub min_length: usize,
}

pub use crate::settings::MIN_PASSWORD_FLOOR;

impl PasswordPolicy {
    /// The policy the configuration sets.
    pub fn configured(settings: &crate::settings::Settings) -> Self {
        Self { min_length: settings.auth.password_min_length }
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_length: 12 }
    }
}

impl PasswordPolicy {
    /// Checks `password` for the account `username`. The message names the rule, never the
    /// password.
    pub fn check(&self, username: &str, password: &str) -> Result<(), ServiceError> {
        if password.len() > 1024 {
            return Err(ServiceError::Invalid("password too long: at most 1024 bytes".into()));
        }
        let min = self.min_length.max(MIN_PASSWORD_FLOOR);
        let lower = password.to_lowercase();
        let name = username.to_lowercase();
        // "alice2024!!" is a user name plus a short suffix: the name does not count.
        let without_name = if name.is_empty() { lower.clone() } else { lower.replace(&name, "") };
        if without_name.chars().count() < min {
            return Err(ServiceError::Invalid(if without_name.len() < lower.len() {
                format!("password too weak: at least {min} characters besides the user name")
            } else {
                format!("password too short: at least {min} characters")
            }));
        }
        if COMMON_PASSWORDS.lines().any(|common| common == lower) {
            return Err(ServiceError::Invalid(
                "password too common: it is on Harpoon's list of well-known passwords".into(),
            ));
        }
        Ok(())
    }
}

/// Hashes a password with argon2id (the crate's default, OWASP-recommended parameters).
pub fn hash_password(password: &str) -> Result<String, ServiceError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("password hashing failed: {e}")))
}

/// Verifies a password against a stored PHC hash. Slow on purpose (tens of milliseconds).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A random password for generated accounts: 24 characters from an unambiguous alphabet.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 24];
    OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(ALPHABET.get(usize::from(*b) % ALPHABET.len()).copied().unwrap_or(b'x')))
        .collect()
}

/// Creates a user (blocking: for the CLI and inside `Db::run`).
pub fn create_user(
    conn: &mut DbConn,
    username: &str,
    role: Role,
    password: &str,
    policy: &PasswordPolicy,
    actor: Option<&str>,
) -> Result<UserRow, ServiceError> {
    check_username(username)?;
    policy.check(username, password)?;
    let hash = hash_password(password)?;
    let user = users::insert(conn, username, &hash, role.as_str()).map_err(|e| match e {
        DbError::Conflict(_) => ServiceError::Conflict(format!("user '{username}'")),
        other => other.into(),
    })?;
    let mut entry = AuditEntry::new("user.create").target(username).detail(format!("role={role}"));
    if let Some(a) = actor {
        entry = entry.actor(a);
    }
    audit::insert(conn, &entry)?;
    Ok(user)
}

/// One change to an account by an administrator (or by the CLI, which is one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    /// A new password (a reset: the current one is not asked for).
    pub password: Option<String>,
}

/// What an account change did, for the caller to act on in its process (forget cached
/// credentials of `user_id`; other instances notice within the token TTL on their own).
#[derive(Debug, Clone)]
pub struct Changed {
    pub user: UserRow,
    /// UI sessions ended.
    pub sessions_ended: usize,
}

fn user_named(conn: &mut DbConn, username: &str) -> Result<UserRow, ServiceError> {
    users::by_name(conn, username)?.ok_or_else(|| ServiceError::NotFound(format!("user '{username}'")))
}

fn is_active_admin(role: &str, disabled: bool) -> bool {
    role == Role::Admin.as_str() && !disabled
}

/// Refuses a change that would leave no active administrator: `user` stops being one.
/// The active administrators' rows are locked first (PostgreSQL; SQLite's write transaction is
/// exclusive already), so two administrators disabling each other at once cannot both succeed.
fn keep_an_admin(conn: &mut DbConn, user: &UserRow, what: &str) -> Result<(), ServiceError> {
    if !is_active_admin(&user.role, user.disabled) {
        return Ok(());
    }
    let others = users::lock_active_admins(conn)?.into_iter().filter(|id| *id != user.id).count();
    if others == 0 {
        return Err(ServiceError::Forbidden(format!(
            "'{}' is the last active administrator: cannot {what} it (make another administrator first)",
            user.username
        )));
    }
    Ok(())
}

/// Changes role, disabled state and/or password of `username`; ends its UI sessions everywhere
/// (the rows are deleted) and audits what changed, never the password.
pub fn change_account(
    conn: &mut DbConn,
    username: &str,
    change: &AccountChange,
    policy: &PasswordPolicy,
    actor: &str,
) -> Result<Changed, ServiceError> {
    if change == &AccountChange::default() {
        return Err(ServiceError::Invalid("nothing to change: give role, disabled or password".into()));
    }
    let hash = match &change.password {
        Some(p) => {
            policy.check(username, p)?;
            Some(hash_password(p)?)
        }
        None => None,
    };
    write_tx(conn, |conn| {
        let user = user_named(conn, username)?;
        let new_role = change.role.map_or(user.role.clone(), |r| r.as_str().to_string());
        let new_disabled = change.disabled.unwrap_or(user.disabled);
        if !is_active_admin(&new_role, new_disabled) {
            let what = if new_disabled && !user.disabled { "disable" } else { "demote" };
            keep_an_admin(conn, &user, what)?;
        }
        let mut done = Vec::new();
        if let Some(role) = change.role
            && role.as_str() != user.role
        {
            users::set_role(conn, user.id, role.as_str())?;
            done.push(format!("role {} -> {role}", user.role));
        }
        if let Some(disabled) = change.disabled
            && disabled != user.disabled
        {
            users::set_disabled(conn, user.id, disabled)?;
            done.push(if disabled { "disabled".to_string() } else { "enabled".to_string() });
        }
        if let Some(hash) = &hash {
            users::set_password(conn, user.id, hash)?;
            done.push("password reset".to_string());
        }
        let sessions_ended = sessions::delete_of_user(conn, user.id)?;
        let detail = if done.is_empty() { "no change".to_string() } else { done.join(", ") };
        audit::insert(
            conn,
            &AuditEntry::new("user.update")
                .actor(actor)
                .target(&user.username)
                .detail(format!("{detail}; {sessions_ended} UI session(s) ended")),
        )?;
        let user = users::by_id(conn, user.id)?
            .ok_or_else(|| ServiceError::NotFound(format!("user '{username}'")))?;
        Ok(Changed { user, sessions_ended })
    })
}

/// A user changes its own password. `current` must have been verified by the caller through
/// `Authenticator::authenticate` (throttled, on the argon2 slots, never while holding a database
/// connection); it is used here only to refuse an unchanged password. Ends its UI sessions.
pub fn change_own_password(
    conn: &mut DbConn,
    user_id: i64,
    current: &str,
    new: &str,
    policy: &PasswordPolicy,
) -> Result<Changed, ServiceError> {
    let user = users::by_id(conn, user_id)?.ok_or_else(|| ServiceError::NotFound("user".into()))?;
    if current == new {
        return Err(ServiceError::Invalid("the new password must differ from the current one".into()));
    }
    policy.check(&user.username, new)?;
    let hash = hash_password(new)?;
    write_tx(conn, |conn| {
        users::set_password(conn, user.id, &hash)?;
        let sessions_ended = sessions::delete_of_user(conn, user.id)?;
        audit::insert(
            conn,
            &AuditEntry::new("user.password_change")
                .actor(&user.username)
                .target(&user.username)
                .detail(format!("{sessions_ended} UI session(s) ended")),
        )?;
        let user = users::by_id(conn, user.id)?.ok_or_else(|| ServiceError::NotFound("user".into()))?;
        Ok(Changed { user, sessions_ended })
    })
}

/// Deletes an account. Its tokens, collection grants, UI sessions and UI jobs go with it (the
/// foreign keys cascade); imports, events and audit entries keep its name as text.
pub fn delete_user(conn: &mut DbConn, username: &str, actor: &str) -> Result<UserRow, ServiceError> {
    write_tx(conn, |conn| {
        let user = user_named(conn, username)?;
        keep_an_admin(conn, &user, "delete")?;
        let live_tokens =
            tokens::list(conn, Some(user.id))?.iter().filter(|t| t.revoked_at.is_none()).count();
        users::delete(conn, user.id)?;
        audit::insert(
            conn,
            &AuditEntry::new("user.delete")
                .actor(actor)
                .target(&user.username)
                .detail(format!("role={}; {live_tokens} live token(s) deleted", user.role)),
        )?;
        Ok(user)
    })
}

/// The outcome of the first start: the admin account created, with its password if generated.
#[derive(Debug)]
pub enum Bootstrap {
    /// Accounts already existed: nothing was created and nothing secret is printed.
    AlreadySetUp,
    /// The `admin` account was created with this password (from the environment or generated).
    CreatedAdmin { password: String, generated: bool },
}

/// On an empty database, creates the `admin` account. `preset` is `HARPOON_ADMIN_PASSWORD`.
pub fn bootstrap_admin(db: &Db, preset: Option<String>) -> Result<Bootstrap, ServiceError> {
    bootstrap_admin_with(db, preset, &PasswordPolicy::default())
}

/// [`bootstrap_admin`] under the configured password policy (a preset password is checked like
/// any other; a generated one always passes).
pub fn bootstrap_admin_with(
    db: &Db,
    preset: Option<String>,
    policy: &PasswordPolicy,
) -> Result<Bootstrap, ServiceError> {
    let mut conn = db.conn()?;
    if users::count(&mut conn)? > 0 {
        return Ok(Bootstrap::AlreadySetUp);
    }
    let (password, generated) = match preset.filter(|p| !p.is_empty()) {
        Some(p) => (p, false),
        None => (generate_password(), true),
    };
    match create_user(&mut conn, "admin", Role::Admin, &password, policy, Some("bootstrap")) {
        Ok(_) => Ok(Bootstrap::CreatedAdmin { password, generated }),
        // Another instance created it between our count and insert.
        Err(ServiceError::Conflict(_)) => Ok(Bootstrap::AlreadySetUp),
        Err(ServiceError::Invalid(m)) if !generated => {
            Err(ServiceError::Invalid(format!("HARPOON_ADMIN_PASSWORD: {m}")))
        }
        Err(e) => Err(e),
    }
}

/// Creates the `admin` account with `password` on a connection (tests and tools that set up a
/// database without a running server).
pub fn bootstrap_admin_conn(conn: &mut DbConn, password: &str) -> Result<UserRow, DbError> {
    let hash = hash_password(password).map_err(|e| DbError::Task(e.to_string()))?;
    users::insert(conn, "admin", &hash, Role::Admin.as_str())
}

/// Deletes audit entries older than `retention_days` (0: keeps them all), now and every hour.
pub async fn audit_retention_loop(db: Db, retention_days: u32, leases: super::leases::Leases) {
    if retention_days == 0 {
        return;
    }
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        // One instance prunes (the lease `job:audit-retention`).
        if !leases.hold("job:audit-retention").await {
            continue;
        }
        let before = crate::db::now_micros() - i64::from(retention_days) * 86_400_000_000;
        match db.run(move |conn| audit::delete_before(conn, before)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, retention_days, "audit log pruned"),
            Err(e) => tracing::warn!("cannot prune the audit log: {e}"),
        }
    }
}

/// A freshly issued token: the secret is in `token` and is never stored or shown again.
#[derive(Debug)]
pub struct IssuedToken {
    pub row: TokenRow,
    pub token: String,
}

/// What a token may do: everything its owner's role may (`all`), only push emails (`intake`:
/// `POST /api/v1/imports` and nothing else), for products that report phish automatically, or
/// only read the export feeds it names (`export`: `GET /api/v1/exports/{name}/feed`), for
/// firewalls and IDSs. A token never carries more than its owner's role: the role is read from
/// the user at every verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScope {
    All,
    Intake,
    Export,
    /// Only `GET /metrics` (a Prometheus scraper).
    Metrics,
}

impl TokenScope {
    pub fn parse(text: &str) -> Result<Self, ServiceError> {
        match text {
            "all" => Ok(Self::All),
            "intake" => Ok(Self::Intake),
            "export" => Ok(Self::Export),
            "metrics" => Ok(Self::Metrics),
            other => Err(ServiceError::Invalid(format!(
                "unknown token scope '{}' (all, intake, export or metrics)",
                other.escape_debug()
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Intake => "intake",
            Self::Export => "export",
            Self::Metrics => "metrics",
        }
    }
}

/// Who asks for a token: the authenticated caller (REST, UI) or the CLI (a local administrator).
#[derive(Debug, Clone)]
pub struct Issuer {
    pub username: String,
    pub role: Role,
    /// The scope of the credentials the request came with (`All` for a password or the CLI).
    pub scope: TokenScope,
}

impl Issuer {
    /// The local operator of `harpoon token create`: an administrator.
    pub fn cli() -> Self {
        Self { username: "cli".into(), role: Role::Admin, scope: TokenScope::All }
    }
}

/// What a token is asked for.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub label: String,
    pub scope: TokenScope,
    /// The exports an `export` token may read (required for that scope, refused for others).
    pub exports: Vec<String>,
    /// Microseconds since the epoch; must lie in the future.
    pub expires_at: Option<i64>,
}

/// The longest life a token may be given (ten years): beyond that "expiry" means nothing.
const MAX_TOKEN_LIFETIME_MICROS: i64 = 10 * 366 * 86_400 * 1_000_000;

/// Issues an API token for `owner`, checking that the issuer may (design.md §7): only
/// administrators issue tokens for others or with a scope other than their own credentials'; a
/// partner's token is TAXII-only (`all`); an `intake` token needs an owner who may import, an
/// `export` token names existing exports.
pub fn issue_token(
    conn: &mut DbConn,
    issuer: &Issuer,
    owner: &UserRow,
    request: &TokenRequest,
) -> Result<IssuedToken, ServiceError> {
    let for_other = owner.username != issuer.username;
    if (for_other || request.scope != issuer.scope) && issuer.role != Role::Admin {
        return Err(ServiceError::Forbidden(if for_other {
            "only administrators issue tokens for other users".into()
        } else {
            format!(
                "only administrators issue '{}' tokens: your credentials are '{}'",
                request.scope.as_str(),
                issuer.scope.as_str()
            )
        }));
    }
    let owner_role = Role::parse(&owner.role)?;
    if owner.disabled {
        return Err(ServiceError::Invalid(format!("user '{}' is disabled", owner.username)));
    }
    match request.scope {
        TokenScope::Intake if !owner_role.is_analyst() => {
            return Err(ServiceError::Invalid(format!(
                "an intake token must belong to an analyst or administrator ('{}' is a {owner_role})",
                owner.username
            )));
        }
        TokenScope::Export | TokenScope::Metrics if !owner_role.is_internal() => {
            return Err(ServiceError::Invalid(format!(
                "a partner reaches TAXII only: no {} token",
                request.scope.as_str()
            )));
        }
        _ => {}
    }
    let exports = match request.scope {
        TokenScope::Export => {
            if request.exports.is_empty() {
                return Err(ServiceError::Invalid(
                    "an export token names the exports it may read (`exports`)".into(),
                ));
            }
            let mut names = request.exports.clone();
            names.sort();
            names.dedup();
            for name in &names {
                if crate::db::exports::by_name(conn, name)?.is_none() {
                    return Err(ServiceError::NotFound(format!("export '{}'", name.escape_debug())));
                }
            }
            Some(serde_json::to_string(&names)?)
        }
        _ if !request.exports.is_empty() => {
            return Err(ServiceError::Invalid("only an export token names exports".into()));
        }
        _ => None,
    };
    let now = crate::db::now_micros();
    if let Some(at) = request.expires_at {
        if at <= now {
            return Err(ServiceError::Invalid("a token's expiry must lie in the future".into()));
        }
        if at - now > MAX_TOKEN_LIFETIME_MICROS {
            return Err(ServiceError::Invalid("a token's expiry is at most ten years away".into()));
        }
    }
    let issued = mint_token(conn, owner, request, exports.as_deref(), now)?;
    let mut detail = format!("scope={}", request.scope.as_str());
    if let Some(names) = &exports {
        detail.push_str(&format!(" exports={names}"));
    }
    if let Some(at) = request.expires_at {
        detail.push_str(&format!(" expires_at={at}"));
    }
    audit::insert(
        conn,
        &AuditEntry::new("token.create")
            .actor(&issuer.username)
            .target(format!("token {} of {}", issued.row.id, owner.username))
            .detail(detail),
    )?;
    Ok(issued)
}

fn mint_token(
    conn: &mut DbConn,
    owner: &UserRow,
    request: &TokenRequest,
    exports: Option<&str>,
    now: i64,
) -> Result<IssuedToken, ServiceError> {
    if request.label.chars().count() > 200 {
        return Err(ServiceError::Invalid("token label too long (200 characters at most)".into()));
    }
    let mut public = [0u8; 6];
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut public);
    OsRng.fill_bytes(&mut secret);
    let public_id = hex::encode(public);
    let secret = hex::encode(secret);
    let row = tokens::insert(
        conn,
        &NewToken {
            user_id: owner.id,
            public_id: &public_id,
            secret_sha256: &sha256_hex(&secret),
            label: &request.label,
            scopes: request.scope.as_str(),
            created_at: now,
            expires_at: request.expires_at,
            exports,
        },
    )?;
    Ok(IssuedToken { token: format!("{TOKEN_PREFIX}{public_id}_{secret}"), row })
}

/// The names an `export` token may read, from its stored JSON array.
pub fn token_exports(row: &TokenRow) -> Result<Vec<String>, ServiceError> {
    match &row.exports {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| ServiceError::Internal(format!("token {}: corrupt export list: {e}", row.id))),
    }
}

/// Revokes a token by id.
pub fn revoke_token(conn: &mut DbConn, id: i64, actor: &str) -> Result<(), ServiceError> {
    tokens::revoke(conn, id).map_err(|e| match e {
        DbError::NotFound => ServiceError::NotFound(format!("live token {id}")),
        other => other.into(),
    })?;
    audit::insert(conn, &AuditEntry::new("token.revoke").actor(actor).target(format!("token {id}")))?;
    Ok(())
}

/// Splits `hpt_<public>_<secret>` into its parts.
pub fn split_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (public, secret) = rest.split_once('_')?;
    (public.len() == 12 && secret.len() == 64).then_some((public, secret))
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterx", &h));
        assert!(!verify_password("anything", "not a phc string"));
    }

    #[test]
    fn usernames_are_checked() {
        assert!(check_username("alice.smith@corp").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("a b").is_err());
        assert!(check_username(&"x".repeat(65)).is_err());
        // An API token is accepted as a Basic user name: no account may ever look like one.
        let token_shaped = format!("{TOKEN_PREFIX}{}_{}", "a".repeat(12), "b".repeat(64));
        assert!(split_token(&token_shaped).is_some());
        assert!(check_username(&token_shaped).is_err());
    }

    #[test]
    fn tokens_split_only_when_well_formed() {
        let t = format!("hpt_{}_{}", "a".repeat(12), "b".repeat(64));
        assert_eq!(split_token(&t), Some(("aaaaaaaaaaaa", "b".repeat(64).as_str())));
        assert_eq!(split_token("hpt_short_x"), None);
        assert_eq!(split_token("password123"), None);
    }

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let a = generate_password();
        assert_eq!(a.len(), 24);
        assert_ne!(a, generate_password());
        assert!(PasswordPolicy::default().check("admin", &a).is_ok());
    }

    #[test]
    fn the_password_policy() {
        let p = PasswordPolicy::default();
        assert!(p.check("alice", "correct horse battery").is_ok());
        assert!(p.check("alice", "alice-password-123").is_ok(), "the name does not count, the rest is long");
        let err = |u: &str, pw: &str| p.check(u, pw).expect_err(pw).to_string();
        assert!(err("alice", "short-pw").contains("at least 12"));
        assert!(err("alice", "alice").contains("besides the user name"));
        assert!(err("alice", "Alice2024!!!").contains("besides the user name"));
        assert!(err("alice", "alicealicealice").contains("besides the user name"));
        assert!(err("bob", "Password1234").contains("too common"));
        assert!(err("bob", "qwertyuiop123").contains("too common"));
        assert!(err("bob", "1234567890").contains("at least"));
        assert!(err("bob", &"x".repeat(1025)).contains("too long"));
        // A configured minimum below the floor does not lower it.
        let lax = PasswordPolicy { min_length: 4 };
        assert!(lax.check("bob", "abcdefghi").is_err());
        assert!(lax.check("bob", "zebra-lamp-9").is_ok());
        assert!(COMMON_PASSWORDS.lines().count() > 1000);
    }
}
