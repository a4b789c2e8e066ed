//! Verifying credentials: passwords (argon2, behind a short-lived bounded cache), API tokens
//! (SHA-256 of a 256-bit secret, constant-time compare). Failed attempts go to the audit log,
//! never with the secret.
//!
//! Why the cache: TAXII clients send Basic credentials on every request, and an argon2 check
//! costs tens of milliseconds of CPU; without it a server does a few requests per second per core.
//! The cache is keyed by an HMAC (process-local random key) of user and password, so it never
//! holds a password, and an entry lives `password_cache_ttl_secs` at most. Every [`TOKEN_TTL`]
//! a cached password entry is checked against its account row (one indexed read, no argon2): an
//! account disabled, deleted, demoted or given a new password by another instance (or the CLI)
//! stops being accepted here within that time, like a revoked token.
//!
//! Failed password logins are throttled (`throttle.rs`); credentials found in the cache are
//! answered before any throttling or argon2 slot. Unknown credentials wait for one of a few
//! argon2 slots in a bounded queue (full: 503 with `Retry-After`), and (user, address) pairs
//! that logged in before have a slot of their own, so a flood of bad passwords cannot starve them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::accounts::{self, Role, TokenScope};
use crate::db::audit::{self, AuditEntry};
use crate::db::users::UserRow;
use crate::db::{Db, tokens, users};

/// Who is calling, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub method: AuthMethod,
    /// What the credentials allow: passwords everything, a token its scope.
    pub scope: TokenScope,
    /// The exports an `export` token may read (empty otherwise).
    pub exports: Vec<String>,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// What these credentials may issue tokens as.
    pub fn issuer(&self) -> accounts::Issuer {
        accounts::Issuer { username: self.username.clone(), role: self.role, scope: self.scope }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Password,
    Token { token_id: i64 },
}

/// Credentials as presented, parsed from an `Authorization` header by the HTTP edge.
#[derive(Clone)]
pub enum Credentials {
    Basic { username: String, password: String },
    Token(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credentials::Token(_) => f.write_str("Token(***)"),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("authentication required")]
    Missing,
    #[error("malformed Authorization header: {0}")]
    Malformed(String),
    #[error("invalid credentials")]
    Invalid,
    #[error("authentication is unavailable: {0}")]
    Unavailable(String),
    #[error("this token's scope does not allow {0}")]
    OutOfScope(String),
    #[error("{0}")]
    Forbidden(String),
    /// A browser request another site made (CSRF riding cached credentials).
    #[error("{0}")]
    CrossSite(String),
    /// A state-changing body of a type a cross-site form can send.
    #[error("{0}")]
    SimpleBody(String),
    /// Too many failed logins for this user name from this address (or from this address):
    /// retry after this many seconds.
    #[error("too many failed logins: retry in {0} s")]
    Throttled(u64),
    /// Too many password checks are waiting already.
    #[error("too many logins at once: retry in a moment")]
    Busy,
}

/// How long a verified API token is taken on trust (at most the password cache's TTL): a TAXII
/// poller's every request otherwise pays a database round trip (measured: 4,988 against 6,896
/// first pages/s with a cached Basic password, c=32). A revoked token is forgotten at once by the
/// instance that revoked it, and by every other instance within this time.
pub const TOKEN_TTL: Duration = Duration::from_secs(5);

/// Cache settings.
#[derive(Debug, Clone, Copy)]
pub struct CacheOptions {
    pub ttl: Duration,
    pub capacity: usize,
}

struct Cached {
    principal: Principal,
    expires: Instant,
    /// Password entries: the account's `password_changed_at` when verified, and when the row was
    /// last seen unchanged.
    stamp: Option<(i64, Instant)>,
}

/// What a cache lookup found.
enum Hit {
    Fresh(Principal),
    /// A password entry whose account must be looked at again (its password-change stamp).
    Recheck(Principal, i64),
}

/// Verifies credentials. One per server process, shared by every request.
pub struct Authenticator {
    db: Db,
    key: [u8; 32],
    options: CacheOptions,
    cache: Mutex<HashMap<[u8; 32], Cached>>,
    /// When this process last recorded each token's use: "last used" is written at most once a
    /// minute per token, so a polling client does not turn every read into a write.
    touched: Mutex<HashMap<i64, Instant>>,
    /// Password checks running at once (one per core).
    hash_slots: tokio::sync::Semaphore,
    /// The argon2 lane of (user, address) pairs that logged in before.
    known_slots: tokio::sync::Semaphore,
    /// Password checks waiting or running on `hash_slots`; beyond, refused with `Busy`.
    queue: tokio::sync::Semaphore,
    throttle: super::throttle::Throttle,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").field("options", &self.options).finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(db: Db, options: CacheOptions) -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
        Self {
            db,
            key,
            options,
            cache: Mutex::new(HashMap::new()),
            touched: Mutex::new(HashMap::new()),
            hash_slots: tokio::sync::Semaphore::new(cores),
            known_slots: tokio::sync::Semaphore::new(1),
            queue: tokio::sync::Semaphore::new(cores * QUEUE_PER_CORE),
            throttle: super::throttle::Throttle::default(),
        }
    }

    /// Verifies `credentials`; `remote` is the peer address, for the audit log.
    pub async fn authenticate(
        &self,
        credentials: Credentials,
        remote: Option<String>,
    ) -> Result<Principal, AuthError> {
        match credentials {
            Credentials::Token(token) => self.verify_token(token, None, remote).await,
            // Clients that only speak Basic send a token as the password, with any user name.
            Credentials::Basic { username, password } if accounts::split_token(&password).is_some() => {
                self.verify_token(password, Some(username), remote).await
            }
            // Products that only offer "API key as the user name" (with any or no password). No
            // account can be confused with it: user names are at most 64 characters, a token is
            // 81 and shaped `hpt_<12>_<64>`. A failed token is audited but is no password failure
            // for the throttle: a token's 256-bit secret cannot be guessed.
            Credentials::Basic { username, .. } if accounts::split_token(&username).is_some() => {
                self.verify_token(username, None, remote).await
            }
            Credentials::Basic { username, password } => {
                self.verify_password(username, password, remote).await
            }
        }
    }

    async fn verify_password(
        &self,
        username: String,
        password: String,
        remote: Option<String>,
    ) -> Result<Principal, AuthError> {
        let key = self.cache_key(&username, &password);
        match self.cached(&key) {
            Some(Hit::Fresh(p)) => return Ok(p),
            Some(Hit::Recheck(p, changed_at)) => {
                let id = p.user_id;
                let row = self
                    .db
                    .run(move |conn| users::stamp(conn, id))
                    .await
                    .map_err(|e| AuthError::Unavailable(e.to_string()))?;
                if row.is_some_and(|(role, disabled, at)| {
                    !disabled && at == changed_at && role == p.role.as_str()
                }) {
                    self.rechecked(&key);
                    return Ok(p);
                }
                self.forget_user(id);
            }
            None => {}
        }
        let address = super::throttle::address_key(remote.as_deref());
        let known_good = match self.throttle.check(&username, &address) {
            super::throttle::Verdict::Wait(wait) => {
                return Err(AuthError::Throttled(wait.as_secs().max(1)));
            }
            super::throttle::Verdict::Go { delay, known_good } => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                known_good
            }
        };
        // Admitted to the queue before anything slow: a flood is refused, not queued forever.
        let _queued =
            if known_good { None } else { Some(self.queue.try_acquire().map_err(|_| AuthError::Busy)?) };
        let user_for_audit = username.clone();
        let lookup = username.clone();
        let user = self
            .db
            .run(move |conn| users::by_name(conn, &lookup))
            .await
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        // argon2 costs ~19 MiB and tens of ms: at most one check per core at a time, and never
        // while holding a database connection, so a burst of logins cannot exhaust either.
        let slots = if known_good { &self.known_slots } else { &self.hash_slots };
        let _slot = slots.acquire().await.map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let outcome = tokio::task::spawn_blocking(move || match user {
            Some(u) if accounts::verify_password(&password, &u.password_hash) => Ok(u),
            Some(_) => Err("wrong password"),
            None => {
                // Spend the same time as for a real user, so timing does not tell which user
                // names exist.
                accounts::verify_password(&password, DUMMY_HASH);
                Err("unknown user")
            }
        })
        .await
        .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        match outcome {
            Ok(user) if !user.disabled => {
                let principal = principal(&user, AuthMethod::Password, TokenScope::All)?;
                self.throttle.succeeded(&username, &address);
                self.remember(key, principal.clone(), Some(user.password_changed_at));
                Ok(principal)
            }
            Ok(_) => Err(self.failed(user_for_audit, "account disabled", remote).await),
            Err(reason) => {
                self.throttle.failed(&username, &address);
                Err(self.failed(user_for_audit, reason, remote).await)
            }
        }
    }

    async fn verify_token(
        &self,
        token: String,
        claimed_user: Option<String>,
        remote: Option<String>,
    ) -> Result<Principal, AuthError> {
        let Some((public_id, secret)) = accounts::split_token(&token) else {
            return Err(self.failed(claimed_user.unwrap_or_default(), "malformed token", remote).await);
        };
        // NUL cannot start a user name: token entries never collide with password entries.
        let key = self.cache_key("\0token", &token);
        if let Some(Hit::Fresh(p) | Hit::Recheck(p, _)) = self.cached(&key) {
            return Ok(p);
        }
        let public_id = public_id.to_string();
        let presented = accounts::sha256_hex(secret);
        let lookup_id = public_id.clone();
        let now = crate::db::now_micros();
        let found = self
            .db
            .run(move |conn| tokens::live_by_public_id(conn, &lookup_id, now))
            .await
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let Some((row, user)) = found else {
            return Err(self.failed(format!("token {public_id}"), "unknown or revoked token", remote).await);
        };
        if !bool::from(presented.as_bytes().ct_eq(row.secret_sha256.as_bytes())) {
            return Err(self.failed(format!("token {public_id}"), "wrong token secret", remote).await);
        }
        if user.disabled {
            return Err(self.failed(user.username, "account disabled", remote).await);
        }
        let token_id = row.id;
        if self.should_touch(token_id) {
            let now = crate::db::now_micros();
            // Best effort and not awaited: a failed "last used" write must not fail the request,
            // and a poll must not wait for the database's write lock (SQLite: held by an import
            // storing a 50 MB email) to record it.
            let db = self.db.clone();
            tokio::spawn(async move {
                let _ = db.run(move |conn| tokens::touch(conn, token_id, now)).await;
            });
        }
        // An unknown scope (a newer version's) allows nothing rather than everything.
        let scope = TokenScope::parse(&row.scopes).map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let mut p = principal(&user, AuthMethod::Token { token_id }, scope)?;
        p.exports = accounts::token_exports(&row).map_err(|e| AuthError::Unavailable(e.to_string()))?;
        // An expiring token is never trusted past its expiry, whatever the cache's TTL.
        let mut ttl = self.options.ttl.min(TOKEN_TTL);
        if let Some(expires) = row.expires_at {
            let left = u64::try_from(expires.saturating_sub(now)).unwrap_or(0);
            ttl = ttl.min(Duration::from_micros(left));
        }
        self.remember_for(key, p.clone(), ttl, None);
        Ok(p)
    }

    async fn failed(&self, who: String, reason: &'static str, remote: Option<String>) -> AuthError {
        tracing::warn!(user = %who, reason, remote = remote.as_deref().unwrap_or("-"), "authentication failed");
        let entry = AuditEntry::new("auth.failure").target(who).detail(reason).remote(remote);
        if let Err(e) = self.db.run(move |conn| audit::insert(conn, &entry)).await {
            tracing::error!("cannot write the audit log: {e}");
        }
        AuthError::Invalid
    }

    fn should_touch(&self, token_id: i64) -> bool {
        let Ok(mut touched) = self.touched.lock() else { return false };
        let now = Instant::now();
        match touched.get(&token_id) {
            Some(at) if now.duration_since(*at) < Duration::from_secs(60) => false,
            _ => {
                if touched.len() >= 10_000 {
                    touched.retain(|_, at| now.duration_since(*at) < Duration::from_secs(60));
                }
                touched.insert(token_id, now);
                true
            }
        }
    }

    fn cache_key(&self, username: &str, password: &str) -> [u8; 32] {
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.key) {
            Ok(m) => m,
            // HMAC accepts any key length; unreachable, but never panic on the auth path.
            Err(_) => return [0u8; 32],
        };
        mac.update(username.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Hit> {
        if self.options.ttl.is_zero() {
            return None;
        }
        let cache = self.cache.lock().ok()?;
        let now = Instant::now();
        let c = cache.get(key).filter(|c| c.expires > now)?;
        Some(match c.stamp {
            Some((changed_at, checked)) if now.saturating_duration_since(checked) >= TOKEN_TTL => {
                Hit::Recheck(c.principal.clone(), changed_at)
            }
            _ => Hit::Fresh(c.principal.clone()),
        })
    }

    /// The account behind a cached password was found unchanged just now.
    fn rechecked(&self, key: &[u8; 32]) {
        if let Ok(mut cache) = self.cache.lock()
            && let Some(c) = cache.get_mut(key)
            && let Some((_, checked)) = c.stamp.as_mut()
        {
            *checked = Instant::now();
        }
    }

    fn remember(&self, key: [u8; 32], principal: Principal, changed_at: Option<i64>) {
        self.remember_for(key, principal, self.options.ttl, changed_at);
    }

    fn remember_for(&self, key: [u8; 32], principal: Principal, ttl: Duration, changed_at: Option<i64>) {
        if ttl.is_zero() || self.options.capacity == 0 {
            return;
        }
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        let now = Instant::now();
        if cache.len() >= self.options.capacity {
            cache.retain(|_, c| c.expires > now);
        }
        if cache.len() >= self.options.capacity
            && let Some(oldest) = cache.iter().min_by_key(|(_, c)| c.expires).map(|(k, _)| *k)
        {
            cache.remove(&oldest);
        }
        cache.insert(key, Cached { principal, expires: now + ttl, stamp: changed_at.map(|at| (at, now)) });
    }

    /// Forgets a token at once in this process (after its revocation); other instances stop
    /// accepting it within [`TOKEN_TTL`].
    pub fn forget_token(&self, token_id: i64) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, c| c.principal.method != AuthMethod::Token { token_id });
        }
    }

    /// Forgets cached credentials of a user (after a password change or disabling).
    pub fn forget_user(&self, user_id: i64) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, c| c.principal.user_id != user_id);
        }
    }

    /// After an account change made here: its cached credentials (passwords and tokens) are
    /// forgotten at once, and its failed-login counters too (a reset password starts afresh).
    pub fn account_changed(&self, user_id: i64, username: &str) {
        self.forget_user(user_id);
        self.throttle.forget_user(username);
    }

    /// Number of cached credentials (for tests and metrics).
    pub fn cached_len(&self) -> usize {
        self.cache.lock().map(|c| c.len()).unwrap_or(0)
    }
}

fn principal(user: &UserRow, method: AuthMethod, scope: TokenScope) -> Result<Principal, AuthError> {
    let role = Role::parse(&user.role).map_err(|e| AuthError::Unavailable(e.to_string()))?;
    Ok(Principal {
        user_id: user.id,
        username: user.username.clone(),
        role,
        method,
        scope,
        exports: Vec::new(),
    })
}

/// Password checks that may wait for an argon2 slot, per core, before new ones are refused.
const QUEUE_PER_CORE: usize = 8;

/// An argon2id hash of a random string, verified against when the user does not exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3ZJt7mcT4XjN4Sd6q3FRYtKJ8fS7pT4r3CjYbQW7d1M";
