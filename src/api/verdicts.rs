//! A draft's suggested verdict (issue 20): `GET /imports/{id}/verdict` (also inside
//! `GET /imports/{id}`), the one-click close of a `likely benign` draft, and the undo of the
//! action taken on a draft (automatic or not).

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::{ApiError, Caller, micros_to_rfc3339, require_analyst};
use crate::service::verdict::Reason;
use crate::service::verdict::actions::{StoredVerdict, Verdicts};

#[derive(Debug, Serialize)]
pub struct ActionDto {
    /// `joined` (an event) or `closed`.
    pub action: String,
    pub by: Option<String>,
    pub at: Option<String>,
    /// `automatic: matched indicator 7 (domain evil.example)`, or who clicked.
    pub provenance: Option<String>,
    pub event_id: Option<i64>,
    pub undone_at: Option<String>,
    pub undone_by: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct VerdictDto {
    /// `known_phish`, `likely_phish`, `unknown` or `likely_benign`.
    pub verdict: &'static str,
    /// 0-100, higher: more likely phishing.
    pub score: i32,
    pub reasons: Vec<Reason>,
    pub computed_at: String,
    pub inputs_version: i32,
    pub action: Option<ActionDto>,
}

impl From<&StoredVerdict> for VerdictDto {
    fn from(v: &StoredVerdict) -> Self {
        Self {
            verdict: v.verdict.as_str(),
            score: v.score,
            reasons: v.reasons.clone(),
            computed_at: micros_to_rfc3339(v.computed_at),
            inputs_version: v.inputs_version,
            action: v.action.clone().map(|action| ActionDto {
                action,
                by: v.action_by.clone(),
                at: v.action_at.map(micros_to_rfc3339),
                provenance: v.action_detail.as_ref().map(|d| d.provenance.clone()),
                event_id: v.action_detail.as_ref().and_then(|d| d.event_id),
                undone_at: v.undone_at.map(micros_to_rfc3339),
                undone_by: v.undone_by.clone(),
            }),
        }
    }
}

pub async fn get(
    _caller: Caller,
    path: web::Path<i64>,
    v: web::Data<Verdicts>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let v = v.get(id).await?;
    let v = v.ok_or_else(|| ApiError::NotFound(format!("import {id} has no verdict")))?;
    Ok(HttpResponse::Ok().json(VerdictDto::from(&v)))
}

/// `POST /imports/{id}/close`: closes a `likely benign` draft.
pub async fn close(
    caller: Caller,
    path: web::Path<i64>,
    v: web::Data<Verdicts>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let v = v.close(path.into_inner(), caller.username.clone()).await?;
    Ok(HttpResponse::Ok().json(VerdictDto::from(&v)))
}

/// `POST /imports/{id}/undo`: undoes the action taken on the draft (reopens it; a join leaves
/// its event as it was before).
pub async fn undo(
    caller: Caller,
    path: web::Path<i64>,
    v: web::Data<Verdicts>,
) -> Result<HttpResponse, ApiError> {
    require_analyst(&caller)?;
    let v = v.undo(path.into_inner(), caller.username.clone()).await?;
    Ok(HttpResponse::Ok().json(VerdictDto::from(&v)))
}
