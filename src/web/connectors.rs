//! The mailbox connectors page: each connector's health.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::{Layout, Session, WebError, page, utc_time};
use crate::db::{Db, connectors};

pub struct ConnectorLine {
    name: String,
    protocol: String,
    enabled: bool,
    status: String,
    last_success: String,
    last_error: String,
    failures: i64,
    taken: i64,
    failed: i64,
}

#[derive(Template)]
#[template(path = "connectors.html")]
struct ConnectorsPage {
    l: Layout,
    connectors: Vec<ConnectorLine>,
    /// Administrators see the last error of each connector.
    details: bool,
}

/// Health for everyone; the last error (it may name hosts, accounts and server replies) only for
/// administrators.
pub async fn connectors(s: Session, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    let rows = db.run(connectors::list).await?;
    let admin = s.principal.is_admin();
    page(&ConnectorsPage {
        l: Layout::new(&s, "Connectors"),
        details: admin,
        connectors: rows
            .iter()
            .map(|c| ConnectorLine {
                name: c.name.clone(),
                protocol: c.protocol.clone(),
                enabled: c.enabled,
                status: c.status.clone(),
                last_success: c.last_success_at.map(utc_time).unwrap_or_else(|| "never".into()),
                last_error: c
                    .last_error
                    .clone()
                    .filter(|_| admin)
                    .map(|e| format!("{e} ({})", c.last_error_at.map(utc_time).unwrap_or_default()))
                    .unwrap_or_default(),
                failures: c.consecutive_failures,
                taken: c.messages_taken,
                failed: c.messages_failed,
            })
            .collect(),
    })
}
