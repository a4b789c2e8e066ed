//! Harpoon: reported spear-phish emails in, STIX 2.1 over TAXII 2.1 out.
//!
//! Library first: `main.rs` only parses the command line and calls [`cli::run`]; the same
//! [`startup::build_app`] serves `harpoon serve` and the integration tests.

pub mod api;
pub mod cli;
pub mod connectors;
pub mod db;
pub mod domain;
pub mod extract;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod service;
pub mod settings;
pub mod startup;
pub mod stix;
pub mod subscriptions;
pub mod taxii;
pub mod tls;
pub mod web;
