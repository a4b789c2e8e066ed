//! The one integration-test binary. Each module covers one area; `helpers` holds the `TestApp`
//! harness, `oracle` the bridge to the pinned OASIS Python tools.

mod extract_corpus;
mod extract_golden;
mod oracle;
mod schema_oracle;
mod stix_oracle;
