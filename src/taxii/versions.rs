//! §5.8 Get object versions: `GET /taxii2/{root}/collections/{id}/objects/{object-id}/versions/`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::collections::visible;
use super::pages::{self, Endpoint};
use super::{Caller, TaxiiError, TaxiiState, filters, media};
use crate::db::{Db, objects};
use crate::settings::Settings;
use crate::stix::{StixId, StixTimestamp};

pub async fn get(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    caller: Caller,
    settings: web::Data<Settings>,
    state: web::Data<TaxiiState>,
    db: web::Data<Db>,
) -> Result<HttpResponse, TaxiiError> {
    let (root, key, object) = path.into_inner();
    let object = StixId::parse(&object).map_err(|e| TaxiiError::BadRequest(e.to_string()))?.to_string();
    let query = filters::parse(req.query_string())?;
    let v = visible(&db, &settings, &root, &key, caller.principal.as_ref()).await?;
    v.require_read()?;
    let (cid, oid) = (v.row.id.clone(), object.clone());
    if !db.run(move |conn| objects::contains(conn, &cid, &oid)).await? {
        return Err(TaxiiError::NotFound(format!("{object} is not in this collection")));
    }
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
