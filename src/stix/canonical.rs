//! The content digest of a STIX object: SHA-256 of its RFC 8785 canonical JSON. Two texts of
//! one object that differ only in whitespace, key order or number spelling (two clients
//! re-POSTing the same object) have one digest; any change of content gives another. The store
//! compares digests to tell an exact duplicate from a conflicting object with the same id and
//! version.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::StixError;

/// Lowercase hex SHA-256 of the RFC 8785 canonical form of `object`.
pub fn content_sha256(object: &Value) -> Result<String, StixError> {
    let canonical =
        serde_json_canonicalizer::to_vec(object).map_err(|e| StixError::Canonicalization(e.to_string()))?;
    Ok(hex::encode(Sha256::digest(&canonical)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(text: &str) -> String {
        content_sha256(&serde_json::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn layout_and_number_spelling_do_not_matter() {
        let a = digest(r#"{"type":"url","id":"url--1","value":"https://x.example/","n":1.0}"#);
        let b = digest(
            "{ \"value\" : \"https://x.example/\",\n \"n\": 1, \"id\": \"url--1\", \"type\": \"url\" }",
        );
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn any_change_of_content_does() {
        let a = digest(r#"{"type":"url","value":"https://x.example/"}"#);
        for other in [
            r#"{"type":"url","value":"https://x.example"}"#,
            r#"{"type":"url","value":"https://x.example/","x_extra":true}"#,
            r#"{"type":"url","value":"https://X.example/"}"#,
        ] {
            assert_ne!(a, digest(other), "{other}");
        }
    }
}
