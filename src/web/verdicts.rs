//! The suggested verdict on the QA page (issue 20): the verdict, its score and reasons, the action
//! taken on the draft with its provenance, and the one-click close and the undo.

use actix_web::{HttpResponse, web};

use super::session::{NoFields, Posted};
use super::{WebError, see_other, utc_time};
use crate::service::verdict::actions::{StoredVerdict, Verdicts};
use crate::service::verdict::{Reason, Verdict};

/// What the QA page shows of a verdict.
pub(crate) struct VerdictView {
    pub label: &'static str,
    /// CSS class: `known_phish`…
    pub class: &'static str,
    pub score: i32,
    pub reasons: Vec<Reason>,
    pub closable: bool,
    /// `joined event 3 · automatic: matched indicator 7 (…) · by automatic, 2026-…`.
    pub action: Option<String>,
    pub undoable: bool,
    pub event_id: Option<i64>,
}

impl VerdictView {
    pub(crate) fn of(v: &StoredVerdict, state: &str) -> Self {
        let pending = v.pending_action();
        let action = v.action.as_ref().map(|a| {
            let d = v.action_detail.clone().unwrap_or_default();
            let what = match (a.as_str(), d.event_id) {
                ("joined", Some(e)) => format!("joined event {e}"),
                _ => a.clone(),
            };
            let by = v.action_by.clone().unwrap_or_default();
            let at = v.action_at.map(utc_time).unwrap_or_default();
            let undone = match (v.undone_at, &v.undone_by) {
                (Some(t), Some(u)) => format!(" · undone by {u}, {}", utc_time(t)),
                _ => String::new(),
            };
            format!("{what} · {} · by {by}, {at}{undone}", d.provenance)
        });
        Self {
            label: v.verdict.label(),
            class: v.verdict.as_str(),
            score: v.score,
            reasons: v.reasons.clone(),
            closable: v.verdict == Verdict::LikelyBenign && state == "draft" && pending.is_none(),
            action,
            undoable: pending.is_some(),
            event_id: v.action_detail.as_ref().and_then(|d| d.event_id),
        }
    }
}

/// `POST /ui/drafts/{id}/close`: closes a likely benign draft in one click.
pub async fn close(
    p: Posted<NoFields>,
    path: web::Path<i64>,
    v: web::Data<Verdicts>,
) -> Result<HttpResponse, WebError> {
    p.session.require_analyst()?;
    let id = path.into_inner();
    v.close(id, p.session.principal.username.clone()).await?;
    Ok(see_other(format!("/ui/drafts/{id}")))
}

/// `POST /ui/drafts/{id}/undo`: undoes the action taken on the draft.
pub async fn undo(
    p: Posted<NoFields>,
    path: web::Path<i64>,
    v: web::Data<Verdicts>,
) -> Result<HttpResponse, WebError> {
    p.session.require_analyst()?;
    let id = path.into_inner();
    v.undo(id, p.session.principal.username.clone()).await?;
    Ok(see_other(format!("/ui/drafts/{id}")))
}
