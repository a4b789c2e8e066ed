//! §4.2 API root information: `GET /taxii2/{root}/`.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{Caller, TaxiiError, api_root, media, ok_json};
use crate::db::{Db, collections};
use crate::settings::Settings;

pub async fn get(
    path: web::Path<String>,
    caller: Caller,
    settings: web::Data<Settings>,
    db: web::Data<Db>,
) -> Result<HttpResponse, TaxiiError> {
    let root = api_root(&settings, &path)?.clone();
    if caller.principal.is_none() {
        let name = root.name.clone();
        if !db.run(move |conn| collections::any_public(conn, &name)).await? {
            return Err(TaxiiError::Unauthorized("authentication required".into()));
        }
    }
    Ok(ok_json(
        json!({
            "title": root.title,
            "description": root.description,
            "versions": [media::TAXII_MEDIA],
            "max_content_length": settings.taxii.max_content_length,
        })
        .to_string(),
    ))
}
