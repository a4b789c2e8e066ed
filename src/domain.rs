//! Domain types every layer shares (settings, services, edges): pure data with its serde form,
//! no I/O and nothing from the layers above. Their rules live with the use cases that apply them
//! (`EventMeta::validated` is in `service::imports`).

use serde::{Deserialize, Serialize};

/// Event metadata the analyst sets on a draft (all optional; defaults come from the email).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `spearphish` unless told otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub happened_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adversary: Option<String>,
}
