//! The REST edge's one error type: every failure becomes an RFC 9457 JSON problem
//! (`application/problem+json`). Domain code uses its own `thiserror` enums; this is the only
//! `ResponseError` impl of `/api/`.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::db::DbError;
use crate::service::ServiceError;
use crate::service::auth::AuthError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unavailable(String),
    /// 429 (or 503 when the server, not the caller, is the reason) with `Retry-After` seconds.
    #[error("{message}")]
    RetryLater { message: String, retry_after_secs: u64, busy: bool },
    #[error("internal error")]
    Internal(String),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unavailable(m) => ApiError::Unavailable(m),
            e @ AuthError::OutOfScope(_) => ApiError::Forbidden(e.to_string()),
            AuthError::Forbidden(m) => ApiError::Forbidden(m),
            AuthError::CrossSite(m) => ApiError::Forbidden(m),
            AuthError::SimpleBody(m) => ApiError::UnsupportedMediaType(m),
            e @ AuthError::Throttled(secs) => {
                ApiError::RetryLater { message: e.to_string(), retry_after_secs: secs, busy: false }
            }
            e @ AuthError::Busy => {
                ApiError::RetryLater { message: e.to_string(), retry_after_secs: 1, busy: true }
            }
            other => ApiError::Unauthorized(other.to_string()),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(m) => ApiError::BadRequest(m),
            ServiceError::NotFound(m) => ApiError::NotFound(format!("{m} not found")),
            ServiceError::Conflict(m) => ApiError::Conflict(format!("{m} already exists")),
            ServiceError::Forbidden(m) => ApiError::Forbidden(m),
            ServiceError::Busy(m) => ApiError::RetryLater { message: m, retry_after_secs: 5, busy: false },
            ServiceError::Db(e) => e.into(),
            e @ ServiceError::Stix(_) => ApiError::BadRequest(e.to_string()),
            ServiceError::Json(e) => ApiError::Internal(e.to_string()),
            ServiceError::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => ApiError::NotFound("not found".into()),
            DbError::Conflict(m) => ApiError::Conflict(format!("{m} already exists")),
            DbError::Pool(m) | DbError::Connect(m) => ApiError::Unavailable(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RetryLater { busy: false, .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::RetryLater { busy: true, .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let detail = match self {
            // Internal details go to the log, not to the client.
            ApiError::Internal(m) => {
                tracing::error!("internal error: {m}");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let mut resp = HttpResponse::build(status);
        resp.insert_header((CONTENT_TYPE, "application/problem+json"));
        if let ApiError::RetryLater { retry_after_secs, .. } = self {
            resp.insert_header((RETRY_AFTER, retry_after_secs.to_string()));
        }
        if status == StatusCode::UNAUTHORIZED {
            for challenge in crate::http::auth::WWW_AUTHENTICATE {
                resp.append_header((WWW_AUTHENTICATE, challenge));
            }
        }
        resp.body(
            serde_json::json!({
                "type": "about:blank",
                "title": status.canonical_reason().unwrap_or("error"),
                "status": status.as_u16(),
                "detail": detail,
            })
            .to_string(),
        )
    }
}

/// Malformed or oversized JSON bodies become a 400 problem, not actix's plain-text error.
pub fn json_error(err: actix_web::error::JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest(format!("invalid JSON body: {err}")).into()
}

pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!("no such endpoint: {} {}", req.method(), req.path())))
}
