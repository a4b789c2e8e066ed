//! Where indicators leave: the exports (their feed URLs with a copy button) and the TAXII
//! collections (their URLs, TLP ceilings, last additions).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Layout, Session, WebError, page, utc_time};
use crate::db::{Db, collections};

fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

#[derive(Template)]
#[template(path = "exports.html")]
struct ExportsPage {
    l: Layout,
    exports: Vec<(String, String, String, String)>,
}

pub async fn exports(s: Session, req: HttpRequest, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    let list = db.run(crate::service::exports::list).await?;
    let base = base_url(&req);
    let exports = list
        .iter()
        .map(|e| {
            (
                e.spec.name.clone(),
                e.spec.format.as_str().to_string(),
                format!("{base}/api/v1/exports/{}/feed", e.spec.name),
                format!("{} · {}", e.created_by, utc_time(e.created_at)),
            )
        })
        .collect();
    page(&ExportsPage { l: Layout::new(&s, "Exports"), exports })
}

pub struct CollectionLine {
    title: String,
    id: String,
    kind: String,
    url: String,
    public_read: bool,
    intake: bool,
    /// Its TLP ceiling, upper case (`AMBER+STRICT`).
    max_tlp: String,
    share_target: bool,
    last_added: String,
}

#[derive(Template)]
#[template(path = "collections.html")]
struct CollectionsPage {
    l: Layout,
    discovery: String,
    collections: Vec<CollectionLine>,
}

pub async fn collections(s: Session, req: HttpRequest, db: web::Data<Db>) -> Result<HttpResponse, WebError> {
    let rows = db.run(collections::list).await?;
    let base = base_url(&req);
    page(&CollectionsPage {
        l: Layout::new(&s, "TAXII collections"),
        discovery: format!("{base}/taxii2/"),
        collections: rows
            .iter()
            .map(|c| CollectionLine {
                title: c.title.clone(),
                id: c.id.clone(),
                kind: c.kind.clone(),
                url: format!("{base}/taxii2/{}/collections/{}/", c.api_root, c.id),
                public_read: c.public_read,
                intake: c.intake,
                max_tlp: crate::service::tlp::ceiling(c).level().to_uppercase(),
                share_target: c.share_target,
                last_added: if c.last_date_added > 0 { utc_time(c.last_date_added) } else { "never".into() },
            })
            .collect(),
    })
}
