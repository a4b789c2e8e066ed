//! The `next` cursor: stateless, HMAC-signed, self-contained. It carries the keyset position
//! (date_added, seq), the filters, the collection, the endpoint and the user, so a follow-up works
//! whether or not the client re-sends the filters (Elastic drops them; OpenCTI re-sends
//! `added_after`), across restarts and across instances that share the database (the key lives
//! in `server_secrets`). A tampered or foreign cursor is a 400.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::TaxiiError;
use super::filters::Filters;

/// What a cursor continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Endpoint: `objects`, `manifest`, `object`, `versions`.
    pub e: String,
    /// Collection id.
    pub c: String,
    /// Object id, for the `object` and `versions` endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub o: Option<String>,
    /// The user it was issued to (None: anonymous).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub u: Option<i64>,
    /// Keyset position: the last (date_added, seq) served.
    pub k: (i64, i64),
    /// The filters of the original query.
    pub f: Filters,
}

/// The signing key, shared by every instance.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(***)")
    }
}

const TAG_LEN: usize = 16;

impl CursorKey {
    pub fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    /// Parses the hex form stored in `server_secrets`.
    pub fn from_hex(hex_key: &str) -> Option<Self> {
        let bytes = hex::decode(hex_key).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    fn tag(&self, payload: &[u8]) -> [u8; TAG_LEN] {
        let mut out = [0u8; TAG_LEN];
        if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            mac.update(b"harpoon-taxii-cursor-v1");
            mac.update(payload);
            let full = mac.finalize().into_bytes();
            for (o, b) in out.iter_mut().zip(full.iter()) {
                *o = *b;
            }
        }
        out
    }

    pub fn seal(&self, cursor: &Cursor) -> String {
        let payload = serde_json::to_vec(cursor).unwrap_or_default();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(self.tag(&payload)))
    }

    pub fn open(&self, token: &str) -> Result<Cursor, TaxiiError> {
        let bad = || TaxiiError::BadRequest("next is not a cursor this server issued".into());
        let (payload, tag) = token.split_once('.').ok_or_else(bad)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        if tag.len() != TAG_LEN || !bool::from(self.tag(&payload).ct_eq(tag.as_slice())) {
            return Err(bad());
        }
        serde_json::from_slice(&payload).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Cursor {
        Cursor {
            e: "objects".into(),
            c: "c1".into(),
            o: None,
            u: Some(7),
            k: (1_700_000_000_000_000, 42),
            f: Filters { added_after: Some(5), types: vec!["indicator".into()], ..Filters::default() },
        }
    }

    #[test]
    fn round_trips_and_rejects_tampering_and_foreign_keys() {
        let key = CursorKey::new([7; 32]);
        let token = key.seal(&sample());
        assert_eq!(key.open(&token).expect("opens"), sample());
        assert!(key.open(&token.replace('.', "x.")).is_err());
        let mut chars: Vec<char> = token.chars().collect();
        if let Some(c) = chars.get_mut(3) {
            *c = if *c == 'A' { 'B' } else { 'A' };
        }
        assert!(key.open(&chars.into_iter().collect::<String>()).is_err(), "tampered payload");
        assert!(CursorKey::new([8; 32]).open(&token).is_err(), "another server's key");
        assert!(key.open("garbage").is_err());
    }
}
