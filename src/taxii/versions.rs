//! §5.8 Get object versions: `GET /taxii2/{root}/collections/{id}/objects/{object-id}/versions/`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::collections::{object_id, require_member, visible};
use super::pages::{self, Endpoint};
use super::{Caller, TaxiiError, TaxiiState, filters, media};
use crate::db::Db;
use crate::settings::Settings;
use crate::stix::StixTimestamp;

pub async fn get(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    caller: Caller,
    settings: web::Data<Settings>,
    state: web::Data<TaxiiState>,
    db: web::Data<Db>,
) -> Result<HttpResponse, TaxiiError> {
    let (root, key, object) = path.into_inner();
    let object = object_id(&object)?;
    let query = filters::parse(req.query_string())?;
    let v = visible(&db, &settings, &root, &key, caller.principal.as_ref()).await?;
    v.require_read()?;
    require_member(&db, &v.row.id, &object).await?;
    let page = pages::fetch(
        &db,
        &state,
        &settings,
        &v.row.id,
        caller.principal.as_ref(),
        Endpoint::Versions(object),
        query,
    )
    .await?;
    let mut body = pages::open_envelope(&page, page.rows.len() * 32);
    if !page.rows.is_empty() {
        let versions: Vec<String> = page
            .rows
            .iter()
            .map(|r| StixTimestamp::from_micros(r.version).map(|t| t.to_string()).unwrap_or_default())
            .collect();
        body.push_str(",\"versions\":");
        body.push_str(&serde_json::to_string(&versions).unwrap_or_else(|_| "[]".into()));
    }
    body.push('}');
    let mut resp = HttpResponse::Ok();
    page.headers(&mut resp);
    Ok(resp.content_type(media::TAXII_MEDIA).body(body))
}
