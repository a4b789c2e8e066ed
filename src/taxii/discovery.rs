//! §4.1 Server discovery: `GET /taxii2/`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{Caller, TaxiiError, base_url, ok_json};
use crate::db::{Db, collections};
use crate::settings::Settings;

pub async fn get(
    req: HttpRequest,
    caller: Caller,
    settings: web::Data<Settings>,
    db: web::Data<Db>,
) -> Result<HttpResponse, TaxiiError> {
    if caller.principal.is_none() {
        let roots: Vec<String> = settings.taxii.api_roots.iter().map(|r| r.name.clone()).collect();
        let public = db
            .run(move |conn| {
                for r in &roots {
                    if collections::any_public(conn, r)? {
                        return Ok::<_, crate::db::DbError>(true);
                    }
                }
                Ok(false)
            })
            .await?;
        if !public {
            return Err(TaxiiError::Unauthorized("authentication required".into()));
        }
    }
    let base = base_url(&req, &settings);
    let roots: Vec<String> =
        settings.taxii.api_roots.iter().map(|r| format!("{base}/taxii2/{}/", r.name)).collect();
    let mut body = json!({
        "title": settings.taxii.title,
        "description": settings.taxii.description,
        "default": roots.first(),
        "api_roots": roots,
    });
    if let (false, Some(o)) = (settings.taxii.contact.is_empty(), body.as_object_mut()) {
        o.insert("contact".into(), json!(settings.taxii.contact));
    }
    Ok(ok_json(body.to_string()))
}
