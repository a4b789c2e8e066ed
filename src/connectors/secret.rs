//! Connector passwords at rest: sealed with XChaCha20-Poly1305 under a server-wide key kept in
//! `server_secrets` (so every instance sharing the database can open them), the connector's
//! name, host and user name as associated data: a sealed password cannot be moved to another
//! connector, nor sent to another server or for another account (an administrator changing the
//! host must give the password again). Stored as base64 of the 24-byte nonce followed by the
//! ciphertext. Passwords sealed before the binding (name only) still open until next changed.
//! Subscriptions' secrets are sealed under the same key, bound to the subscription, the origin
//! of its URL and its user name ([`FeedBinding`]).

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use super::ConnectorError;
use crate::db::{DbConn, DbError, secrets};

const KEY_NAME: &str = "connector-credential-key";
const NONCE_LEN: usize = 24;

/// The sealing key; created on first use.
#[derive(Clone)]
pub struct SealKey([u8; 32]);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(***)")
    }
}

impl SealKey {
    pub fn load(conn: &mut DbConn) -> Result<Self, DbError> {
        let hex_key = secrets::get_or_create(conn, KEY_NAME, || {
            let mut key = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut key);
            hex::encode(key)
        })?;
        let bytes =
            hex::decode(hex_key.trim()).map_err(|_| DbError::Task(format!("{KEY_NAME} is corrupt")))?;
        let key: [u8; 32] =
            bytes.try_into().map_err(|_| DbError::Task(format!("{KEY_NAME} is not 32 bytes")))?;
        Ok(Self(key))
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305, ConnectorError> {
        XChaCha20Poly1305::new_from_slice(&self.0).map_err(|e| ConnectorError::Config(format!("key: {e}")))
    }

    pub fn seal(&self, to: &impl Bound, password: &str) -> Result<String, ConnectorError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = to.aad();
        let ct = self
            .cipher()?
            .encrypt(&XNonce::from(nonce), Payload { msg: password.as_bytes(), aad: &aad })
            .map_err(|_| ConnectorError::Config("cannot seal the password".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(base64::engine::general_purpose::STANDARD.encode(out))
    }

    pub fn open(&self, to: &impl Bound, sealed: &str) -> Result<String, ConnectorError> {
        let bad =
            || ConnectorError::Config("the stored password cannot be opened (wrong key or corrupt)".into());
        let bytes = base64::engine::general_purpose::STANDARD.decode(sealed.trim()).map_err(|_| bad())?;
        let (nonce, ct) = bytes.split_at_checked(NONCE_LEN).ok_or_else(bad)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| bad())?;
        let cipher = self.cipher()?;
        let clear = cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad: &to.aad() })
            .or_else(|e| match to.legacy_aad() {
                Some(aad) => cipher.decrypt(&XNonce::from(nonce), Payload { msg: ct, aad: &aad }),
                None => Err(e),
            })
            .map_err(|_| bad())?;
        String::from_utf8(clear).map_err(|_| bad())
    }
}

/// What a sealed secret belongs to: its associated data.
pub trait Bound {
    fn aad(&self) -> Vec<u8>;
    /// An older binding still accepted when opening.
    fn legacy_aad(&self) -> Option<Vec<u8>> {
        None
    }
}

/// What a sealed subscription secret belongs to: the subscription, the scheme, host and port
/// its URL names (lower-case), and the user name (Basic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedBinding<'a> {
    pub subscription: &'a str,
    pub origin: &'a str,
    pub username: &'a str,
}

impl Bound for FeedBinding<'_> {
    fn aad(&self) -> Vec<u8> {
        format!(
            "harpoon subscription secret v1\0{}\0{}:{}\0{}:{}",
            self.subscription,
            self.origin.len(),
            self.origin.to_ascii_lowercase(),
            self.username.len(),
            self.username
        )
        .into_bytes()
    }
}

/// What a sealed password belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    pub connector: &'a str,
    pub host: &'a str,
    pub username: &'a str,
}

impl<'a> Binding<'a> {
    pub fn of(cfg: &'a crate::settings::MailboxSettings) -> Self {
        Self { connector: &cfg.name, host: &cfg.host, username: &cfg.username }
    }
}

impl Bound for Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        // NUL cannot occur in a name, a host or a (one-line) user name given over JSON... and if
        // it did, the lengths make the encoding unambiguous anyway.
        format!(
            "harpoon connector password v2\0{}\0{}:{}\0{}:{}",
            self.connector,
            self.host.len(),
            self.host.to_ascii_lowercase(),
            self.username.len(),
            self.username
        )
        .into_bytes()
    }

    fn legacy_aad(&self) -> Option<Vec<u8>> {
        Some(format!("harpoon connector password\0{}", self.connector).into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_for_the_same_connector() {
        let key = SealKey([7u8; 32]);
        let to = Binding { connector: "reports", host: "mail.example.org", username: "phish" };
        let sealed = key.seal(&to, "s3cret").expect("seal");
        assert!(!sealed.contains("s3cret"));
        assert_eq!(key.open(&to, &sealed).expect("open"), "s3cret");
        assert!(key.open(&Binding { connector: "other", ..to }, &sealed).is_err());
        assert!(key.open(&Binding { host: "evil.example.net", ..to }, &sealed).is_err());
        assert!(key.open(&Binding { username: "admin", ..to }, &sealed).is_err());
        assert!(SealKey([8u8; 32]).open(&to, &sealed).is_err());
        assert_ne!(sealed, key.seal(&to, "s3cret").expect("seal"), "fresh nonce each time");
        // A password sealed before the binding (name only) still opens.
        let cipher = key.cipher().expect("cipher");
        let nonce = [1u8; NONCE_LEN];
        let ct = cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: b"old", aad: &to.legacy_aad().expect("legacy") })
            .expect("seal");
        let legacy = base64::engine::general_purpose::STANDARD.encode([nonce.to_vec(), ct].concat());
        assert_eq!(key.open(&to, &legacy).expect("open"), "old");
    }

    #[test]
    fn a_subscription_secret_opens_only_for_its_subscription_origin_and_user() {
        let key = SealKey([7u8; 32]);
        let to = FeedBinding { subscription: "cert", origin: "https://taxii.example.org:443", username: "" };
        let sealed = key.seal(&to, "tok").expect("seal");
        assert_eq!(key.open(&to, &sealed).expect("open"), "tok");
        assert!(key.open(&FeedBinding { subscription: "other", ..to }, &sealed).is_err());
        assert!(key.open(&FeedBinding { origin: "https://evil.example.net:443", ..to }, &sealed).is_err());
        assert!(key.open(&FeedBinding { username: "u", ..to }, &sealed).is_err());
        // Never a connector's password, nor the other way round.
        let mailbox = Binding { connector: "cert", host: "taxii.example.org", username: "" };
        assert!(key.open(&mailbox, &sealed).is_err());
    }
}
