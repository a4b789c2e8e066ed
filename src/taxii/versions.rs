//! §5.8 Get object versions: `GET /taxii2/{root}/collections/{id}/objects/{object-id}/versions/`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::collections::object_id;
use super::pages::{self, Endpoint};
use super::{Caller, TaxiiError, TaxiiState, media};
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
    let endpoint = Endpoint::Versions(object_id(&object)?);
    let page =
        pages::read(&req, &db, &state, &settings, (&root, &key), caller.principal.as_ref(), endpoint).await?;
    let mut body = pages::open_envelope(&page, page.rows.len() * 32);
    // `versions` even when empty, as `objects` on the objects endpoint.
    {
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
