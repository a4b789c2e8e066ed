//! §4.3 Get status: `GET /taxii2/{root}/status/{status-id}/`, and the status resource renderer
//! shared with POST objects. Only the requester (or an admin) sees a status.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::{Caller, TaxiiError, api_root, ok_json};
use crate::db::status::{self, DetailRow, StatusRow};
use crate::db::{Db, now_micros};
use crate::stix::TaxiiTimestamp;

/// The TAXII status resource: counts derived from the detail rows, so they always add up.
pub fn render(row: &StatusRow, details: &[DetailRow]) -> Value {
    let pick = |outcome: &str| -> Vec<Value> {
        details
            .iter()
            .filter(|d| d.outcome == outcome)
            .map(|d| {
                let mut v = json!({ "id": d.stix_id, "version": d.version });
                if let (Some(m), Some(o)) = (&d.message, v.as_object_mut()) {
                    o.insert("message".into(), json!(m));
                }
                v
            })
            .collect()
    };
    let (successes, failures, pendings) = (pick("success"), pick("failure"), pick("pending"));
    json!({
        "id": row.id,
        "status": if pendings.is_empty() { "complete" } else { "pending" },
        "request_timestamp": TaxiiTimestamp::from_micros(row.request_timestamp).map(|t| t.to_string()).unwrap_or_default(),
        "total_count": details.len(),
        "success_count": successes.len(),
        "successes": successes,
        "failure_count": failures.len(),
        "failures": failures,
        "pending_count": pendings.len(),
        "pendings": pendings,
    })
}

pub async fn get(
    path: web::Path<(String, String)>,
    caller: Caller,
    settings: web::Data<crate::settings::Settings>,
    db: web::Data<Db>,
) -> Result<HttpResponse, TaxiiError> {
    let (root, id) = path.into_inner();
    api_root(&settings, &root)?;
    let Some(who) = caller.principal.clone() else {
        return Err(TaxiiError::Unauthorized("authentication required".into()));
    };
    let found = db
        .run(move |conn| {
            let Some((row, details)) = status::get(conn, &id, now_micros())? else {
                return Ok::<_, crate::db::DbError>(None);
            };
            let root_of =
                crate::db::collections::by_id_or_alias(conn, &row.collection_id)?.map(|c| c.api_root);
            Ok(Some((row, details, root_of)))
        })
        .await?;
    match found {
        // Under the API root of the collection it was posted to only, like the collection.
        Some((row, details, root_of))
            if (row.user_id == Some(who.user_id) || who.is_admin())
                && root_of.as_deref() == Some(root.as_str()) =>
        {
            Ok(ok_json(render(&row, &details).to_string()))
        }
        _ => Err(TaxiiError::NotFound("no such status".into())),
    }
}
