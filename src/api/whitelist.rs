//! `/api/v1/whitelist`: rules (exact, CIDR, domain suffix, regex), a preview of what a rule would
//! whitelist before it is saved, saving (which applies it) and deleting.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::indicators::IndicatorDto;
use super::{ApiError, Caller, micros_to_rfc3339, require_analyst};
use crate::db::Db;
use crate::db::whitelist::RuleRow;
use crate::extract::ObservableKind;
use crate::service::ServiceContext;
use crate::service::whitelist::{self, Rule, RuleSpec};

#[derive(Debug, Serialize)]
pub struct RuleDto {
    pub id: i64,
    pub match_kind: String,
    pub pattern: String,
    pub applies_to: String,
    pub reason: String,
    pub author: String,
    pub builtin: bool,
    pub created_at: String,
}

impl From<&RuleRow> for RuleDto {
    fn from(r: &RuleRow) -> Self {
        Self {
            id: r.id,
            match_kind: r.match_kind.clone(),
            pattern: r.pattern.clone(),
            applies_to: r.applies_to.clone(),
            reason: r.reason.clone(),
            author: r.author.clone(),
            builtin: r.builtin,
            created_at: micros_to_rfc3339(r.created_at),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    match_kind: String,
    pattern: String,
    /// An indicator type; absent or `any` for all types.
    applies_to: Option<String>,
    #[serde(default)]
    reason: String,
}

impl RuleRequest {
    fn spec(self) -> Result<RuleSpec, ApiError> {
        let applies_to = match self.applies_to.as_deref() {
            None | Some("any") => None,
            Some(k) => Some(
                ObservableKind::from_name(k)
                    .ok_or_else(|| ApiError::BadRequest(format!("unknown indicator type '{k}'")))?,
            ),
        };
        Ok(RuleSpec { match_kind: self.match_kind, pattern: self.pattern, applies_to, reason: self.reason })
    }
}

pub async fn list(_caller: Caller, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let rows = db.run(crate::db::whitelist::list).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(RuleDto::from).collect::<Vec<_>>()))
}

/// What a rule would whitelist, without saving it: the count and the first 100 indicators.
pub async fn preview(
    _caller: Caller,
    body: web::Json<RuleRequest>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let spec = body.into_inner().spec()?;
    let rule = Rule::compile(0, &spec)?;
    let (hits, total) = db.run(move |conn| whitelist::preview(conn, &rule, 100)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "total": total,
        "indicators": hits.iter().map(IndicatorDto::summary).collect::<Vec<_>>(),
    })))
}

pub async fn create(
    caller: Caller,
    body: web::Json<RuleRequest>,
    db: web::Data<Db>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let spec = body.into_inner().spec()?;
    let author = caller.username.clone();
    let ctx = ctx.into_inner();
    let (rule, changed) = db.run(move |conn| whitelist::create(conn, &ctx, &spec, &author)).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "rule": RuleDto::from(&rule),
        "whitelisted": changed,
    })))
}

pub async fn delete(
    caller: Caller,
    path: web::Path<i64>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let id = path.into_inner();
    db.run(move |conn| whitelist::delete(conn, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
