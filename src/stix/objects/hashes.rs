//! File hashes as STIX writes them: the `hash-algorithm-ov` names and a `hashes` dictionary of
//! checked digests (used by SCOs and by external references alike).

use std::collections::BTreeMap;

use md5::Md5;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::stix::StixError;

/// The hash algorithms Harpoon computes and indicates, ordered by the preference STIX gives
/// them when one hash must identify a file (MD5 > SHA-1 > SHA-256 > SHA-512).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HashAlgorithm {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl HashAlgorithm {
    pub const ALL: [Self; 4] = [Self::Md5, Self::Sha1, Self::Sha256, Self::Sha512];

    /// The name in STIX's `hash-algorithm-ov` (`MD5`, `SHA-1`, `SHA-256`, `SHA-512`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha512 => "SHA-512",
        }
    }

    /// Length of the hex digest.
    pub fn hex_len(self) -> usize {
        match self {
            Self::Md5 => 32,
            Self::Sha1 => 40,
            Self::Sha256 => 64,
            Self::Sha512 => 128,
        }
    }

    /// Recognises a name the way python `stix2` does (`sha256`, `SHA-256`, `Sha256`…).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.replace('-', "").to_ascii_uppercase().as_str() {
            "MD5" => Some(Self::Md5),
            "SHA1" => Some(Self::Sha1),
            "SHA256" => Some(Self::Sha256),
            "SHA512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Checks a hex digest of this algorithm; returns it lowercased (the canonical form, so
    /// that the same file always gets the same SCO id).
    pub fn check(self, value: &str) -> Result<String, StixError> {
        if value.len() == self.hex_len() && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(value.to_ascii_lowercase())
        } else {
            Err(StixError::InvalidHash { algorithm: self.as_str().to_owned(), value: value.to_owned() })
        }
    }
}

impl Serialize for HashAlgorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A `hashes` dictionary of checked, lowercase hex digests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Hashes(BTreeMap<HashAlgorithm, String>);

impl Hashes {
    pub fn new() -> Self {
        Self::default()
    }

    /// MD5, SHA-1 and SHA-256 of `bytes` (design.md: what Harpoon computes for attachments).
    pub fn of_bytes(bytes: &[u8]) -> Self {
        let mut map = BTreeMap::new();
        map.insert(HashAlgorithm::Md5, hex::encode(Md5::digest(bytes)));
        map.insert(HashAlgorithm::Sha1, hex::encode(Sha1::digest(bytes)));
        map.insert(HashAlgorithm::Sha256, hex::encode(Sha256::digest(bytes)));
        Self(map)
    }

    /// Adds (or replaces) a digest.
    pub fn insert(&mut self, algorithm: HashAlgorithm, value: &str) -> Result<(), StixError> {
        self.0.insert(algorithm, algorithm.check(value)?);
        Ok(())
    }

    /// Builder form of [`Hashes::insert`].
    pub fn with(mut self, algorithm: HashAlgorithm, value: &str) -> Result<Self, StixError> {
        self.insert(algorithm, value)?;
        Ok(self)
    }

    pub fn get(&self, algorithm: HashAlgorithm) -> Option<&str> {
        self.0.get(&algorithm).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (HashAlgorithm, &str)> {
        self.0.iter().map(|(a, v)| (*a, v.as_str()))
    }
}

impl<'de> Deserialize<'de> for Hashes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<String, String>::deserialize(deserializer)?;
        let mut hashes = Self::new();
        for (name, value) in raw {
            let algorithm = HashAlgorithm::from_name(&name)
                .ok_or_else(|| serde::de::Error::custom(format!("unsupported hash algorithm {name:?}")))?;
            hashes.insert(algorithm, &value).map_err(serde::de::Error::custom)?;
        }
        Ok(hashes)
    }
}
