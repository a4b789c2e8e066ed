//! What every HTTP edge (REST `api/`, `taxii/`, the web UI) shares: the one authentication
//! extractor and the security headers. Edges render errors in their own formats.

pub mod auth;

pub use auth::{Authenticated, MaybeAuthenticated};
