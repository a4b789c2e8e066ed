//! Connector passwords at rest: sealed with XChaCha20-Poly1305 under a server-wide key kept in
//! `server_secrets` (so every instance sharing the database can open them), the connector's name
//! as associated data (a sealed password cannot be moved to another connector). Stored as
//! base64 of the 24-byte nonce followed by the ciphertext.

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

    pub fn seal(&self, connector: &str, password: &str) -> Result<String, ConnectorError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = aad(connector);
        let ct = self
            .cipher()?
            .encrypt(&XNonce::from(nonce), Payload { msg: password.as_bytes(), aad: &aad })
            .map_err(|_| ConnectorError::Config("cannot seal the password".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(base64::engine::general_purpose::STANDARD.encode(out))
    }

    pub fn open(&self, connector: &str, sealed: &str) -> Result<String, ConnectorError> {
        let bad =
            || ConnectorError::Config("the stored password cannot be opened (wrong key or corrupt)".into());
        let bytes = base64::engine::general_purpose::STANDARD.decode(sealed.trim()).map_err(|_| bad())?;
        let (nonce, ct) = bytes.split_at_checked(NONCE_LEN).ok_or_else(bad)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| bad())?;
        let aad = aad(connector);
        let clear = self
            .cipher()?
            .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad: &aad })
            .map_err(|_| bad())?;
        String::from_utf8(clear).map_err(|_| bad())
    }
}

fn aad(connector: &str) -> Vec<u8> {
    format!("harpoon connector password\0{connector}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_for_the_same_connector() {
        let key = SealKey([7u8; 32]);
        let sealed = key.seal("reports", "s3cret").expect("seal");
        assert!(!sealed.contains("s3cret"));
        assert_eq!(key.open("reports", &sealed).expect("open"), "s3cret");
        assert!(key.open("other", &sealed).is_err());
        assert!(SealKey([8u8; 32]).open("reports", &sealed).is_err());
        assert_ne!(sealed, key.seal("reports", "s3cret").expect("seal"), "fresh nonce each time");
    }
}
