//! The one integration-test binary. Each module covers one area; `helpers` holds the `TestApp`
//! harness (its builder and the request helpers), `fixtures` the emails and stand-ins shared by
//! several modules, `oracle` the bridge to the pinned OASIS Python tools.

// A failing test should panic loudly; these lints guard the server, not its tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod access;
mod accounts;
mod backup;
mod campaigns;
mod cli;
mod cluster;
mod connectors;
mod consumers;
mod db;
mod exports;
mod extract_cli;
mod extract_corpus;
mod extract_golden;
mod extract_golden_media;
mod fixtures;
mod fuzz_regressions;
mod helpers;
mod hidden_links;
mod hostile;
mod import_limits;
mod leases;
mod lifecycle;
mod metrics;
mod misp;
mod notify;
mod operations;
mod oracle;
mod pattern_oracle;
mod patterns;
mod schema_oracle;
mod stix_oracle;
mod subscriptions;
mod taxii;
mod taxii_client;
mod taxii_trust;
mod tidy;
mod tlp;
mod tls;
mod triage;
mod ui;
mod ui_browser;
mod ui_qr;
mod url_encoding;
mod verdicts;
