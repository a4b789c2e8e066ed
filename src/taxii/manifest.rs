//! §5.3 Get object manifests: `GET /taxii2/{root}/collections/{id}/manifest/`, one record per
//! object version.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::pages::{self, Endpoint};
use super::{Caller, TaxiiError, TaxiiState, media};
use crate::db::Db;
use crate::settings::Settings;
use crate::stix::{StixTimestamp, TaxiiTimestamp};

pub async fn get(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    caller: Caller,
    settings: web::Data<Settings>,
    state: web::Data<TaxiiState>,
    db: web::Data<Db>,
) -> Result<HttpResponse, TaxiiError> {
    let (root, key) = path.into_inner();
    let page = pages::read(
        &req,
        &db,
        &state,
        &settings,
        (&root, &key),
        caller.principal.as_ref(),
        Endpoint::Manifest,
    )
    .await?;
    let mut body = pages::open_envelope(&page, page.rows.len() * 160);
    // `objects` even when empty, as on the objects endpoint (consumers read it unchecked).
    {
        let records: Vec<_> = page
            .rows
            .iter()
            .map(|r| {
                json!({
                    "id": r.stix_id,
                    "date_added": TaxiiTimestamp::from_micros(r.date_added).map(|t| t.to_string()).unwrap_or_default(),
                    "version": StixTimestamp::from_micros(r.version).map(|t| t.to_string()).unwrap_or_default(),
                    "media_type": media::STIX_MEDIA,
                })
            })
            .collect();
        body.push_str(",\"objects\":");
        body.push_str(&serde_json::Value::Array(records).to_string());
    }
    body.push('}');
    let mut resp = HttpResponse::Ok();
    page.headers(&mut resp);
    Ok(resp.content_type(media::TAXII_MEDIA).body(body))
}
