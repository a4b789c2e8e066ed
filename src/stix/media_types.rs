//! The IANA media types registry (`stix-schemas/iana-media-types.txt`, embedded): STIX says a
//! `mime_type` SHOULD be a registered type, and the OASIS validator enforces it in strict mode.

use std::collections::HashMap;
use std::sync::OnceLock;

const REGISTRY: &str = include_str!("../../stix-schemas/iana-media-types.txt");

fn registry() -> &'static HashMap<String, &'static str> {
    static MAP: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    MAP.get_or_init(|| {
        REGISTRY
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| (l.to_ascii_lowercase(), l))
            .collect()
    })
}

/// The registered spelling of a media type (case-insensitive, parameters ignored), if any.
pub fn registered(media_type: &str) -> Option<&'static str> {
    let essence = media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    registry().get(&essence).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_registered_types_only() {
        assert_eq!(registered("application/PDF; name=x"), Some("application/pdf"));
        assert_eq!(registered("message/rfc822"), Some("message/rfc822"));
        assert_eq!(registered("application/vnd.ms-outlook"), None);
        assert_eq!(registered("application/x-msdownload"), None);
        assert!(registry().len() > 1000);
    }
}
