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
use crate::db::{Db, DbConn, DbError};

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
const MIN_PASSWORD_LEN: usize = 10;

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

pub fn check_password(password: &str) -> Result<(), ServiceError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ServiceError::Invalid(format!(
            "password too short: at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    if password.len() > 1024 {
        return Err(ServiceError::Invalid("password too long: at most 1024 bytes".into()));
    }
    Ok(())
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
    actor: Option<&str>,
) -> Result<UserRow, ServiceError> {
    check_username(username)?;
    check_password(password)?;
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
    let mut conn = db.conn()?;
    if users::count(&mut conn)? > 0 {
        return Ok(Bootstrap::AlreadySetUp);
    }
    let (password, generated) = match preset.filter(|p| !p.is_empty()) {
        Some(p) => (p, false),
        None => (generate_password(), true),
    };
    match create_user(&mut conn, "admin", Role::Admin, &password, Some("bootstrap")) {
        Ok(_) => Ok(Bootstrap::CreatedAdmin { password, generated }),
        // Another instance created it between our count and insert.
        Err(ServiceError::Conflict(_)) => Ok(Bootstrap::AlreadySetUp),
        Err(e) => Err(e),
    }
}

/// Creates the `admin` account with `password` on a connection (tests and tools that set up a
/// database without a running server).
pub fn bootstrap_admin_conn(conn: &mut DbConn, password: &str) -> Result<UserRow, DbError> {
    let hash = hash_password(password).map_err(|e| DbError::Task(e.to_string()))?;
    users::insert(conn, "admin", &hash, Role::Admin.as_str())
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
}

impl TokenScope {
    pub fn parse(text: &str) -> Result<Self, ServiceError> {
        match text {
            "all" => Ok(Self::All),
            "intake" => Ok(Self::Intake),
            "export" => Ok(Self::Export),
            other => Err(ServiceError::Invalid(format!(
                "unknown token scope '{}' (all, intake or export)",
                other.escape_debug()
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Intake => "intake",
            Self::Export => "export",
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
        TokenScope::Export if !owner_role.is_internal() => {
            return Err(ServiceError::Invalid("a partner reaches TAXII only: no export token".into()));
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
            Some(serde_json::to_string(&names).map_err(|e| ServiceError::Internal(e.to_string()))?)
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
        assert!(check_password(&a).is_ok());
    }
}
