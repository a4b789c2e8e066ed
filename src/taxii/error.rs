//! The TAXII edge's one error type. Every failure becomes a TAXII `error` resource (`title`,
//! `description`, `http_status` as a string) with the TAXII media type, 4xx and 5xx alike.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};

use super::media::TAXII_MEDIA;
use crate::db::DbError;
use crate::service::ServiceError;
use crate::service::auth::AuthError;

#[derive(Debug, thiserror::Error)]
pub enum TaxiiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("this server speaks TAXII 2.1 only (application/taxii+json;version=2.1)")]
    NotAcceptable,
    #[error("the request body exceeds max_content_length ({0} bytes)")]
    PayloadTooLarge(u64),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Unavailable(String),
    /// 429 (or 503 when the server is the reason) with `Retry-After` seconds.
    #[error("{message}")]
    RetryLater { message: String, retry_after_secs: u64, busy: bool },
    #[error("internal error")]
    Internal(String),
}

impl TaxiiError {
    fn title(&self) -> &'static str {
        match self {
            TaxiiError::BadRequest(_) => "Bad request",
            TaxiiError::Unauthorized(_) => "Authentication required",
            TaxiiError::Forbidden(_) => "Forbidden",
            TaxiiError::NotFound(_) => "Not found",
            TaxiiError::MethodNotAllowed => "Method not allowed",
            TaxiiError::NotAcceptable => "Not acceptable",
            TaxiiError::PayloadTooLarge(_) => "Request entity too large",
            TaxiiError::UnsupportedMediaType(_) => "Unsupported media type",
            TaxiiError::Unprocessable(_) => "Unprocessable entity",
            TaxiiError::Unavailable(_) | TaxiiError::RetryLater { busy: true, .. } => "Service unavailable",
            TaxiiError::RetryLater { busy: false, .. } => "Too many requests",
            TaxiiError::Internal(_) => "Internal server error",
        }
    }
}

impl From<AuthError> for TaxiiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unavailable(m) => TaxiiError::Unavailable(m),
            e @ AuthError::OutOfScope(_) => TaxiiError::Forbidden(e.to_string()),
            AuthError::Forbidden(m) => TaxiiError::Forbidden(m),
            AuthError::CrossSite(m) => TaxiiError::Forbidden(m),
            AuthError::SimpleBody(m) => TaxiiError::UnsupportedMediaType(m),
            e @ AuthError::Throttled(secs) => {
                TaxiiError::RetryLater { message: e.to_string(), retry_after_secs: secs, busy: false }
            }
            e @ AuthError::Busy => {
                TaxiiError::RetryLater { message: e.to_string(), retry_after_secs: 1, busy: true }
            }
            other => TaxiiError::Unauthorized(other.to_string()),
        }
    }
}

impl From<DbError> for TaxiiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => TaxiiError::NotFound("not found".into()),
            DbError::Refused(m) => TaxiiError::Forbidden(m),
            DbError::Pool(m) | DbError::Connect(m) => TaxiiError::Unavailable(m),
            other => TaxiiError::Internal(other.to_string()),
        }
    }
}

impl From<ServiceError> for TaxiiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(m) => TaxiiError::BadRequest(m),
            ServiceError::NotFound(m) => TaxiiError::NotFound(format!("{m} not found")),
            ServiceError::Conflict(m) => TaxiiError::BadRequest(format!("{m} already exists")),
            ServiceError::Forbidden(m) => TaxiiError::Forbidden(m),
            ServiceError::Busy(m) => TaxiiError::Unavailable(m),
            ServiceError::Db(e) => e.into(),
            e @ ServiceError::Stix(_) => TaxiiError::BadRequest(e.to_string()),
            ServiceError::Json(e) => TaxiiError::Internal(e.to_string()),
            ServiceError::Internal(m) => TaxiiError::Internal(m),
        }
    }
}

impl ResponseError for TaxiiError {
    fn status_code(&self) -> StatusCode {
        match self {
            TaxiiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            TaxiiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            TaxiiError::Forbidden(_) => StatusCode::FORBIDDEN,
            TaxiiError::NotFound(_) => StatusCode::NOT_FOUND,
            TaxiiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            TaxiiError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            TaxiiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            TaxiiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            TaxiiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            TaxiiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            TaxiiError::RetryLater { busy: false, .. } => StatusCode::TOO_MANY_REQUESTS,
            TaxiiError::RetryLater { busy: true, .. } => StatusCode::SERVICE_UNAVAILABLE,
            TaxiiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let description = match self {
            TaxiiError::Internal(m) => {
                tracing::error!("internal error: {m}");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let mut resp = HttpResponse::build(status);
        resp.insert_header((CONTENT_TYPE, TAXII_MEDIA));
        if let TaxiiError::RetryLater { retry_after_secs, .. } = self {
            resp.insert_header((RETRY_AFTER, retry_after_secs.to_string()));
        }
        if status == StatusCode::UNAUTHORIZED {
            for challenge in crate::http::auth::WWW_AUTHENTICATE {
                resp.append_header((WWW_AUTHENTICATE, challenge));
            }
        }
        resp.body(
            serde_json::json!({
                "title": self.title(),
                "description": description,
                "http_status": status.as_u16().to_string(),
            })
            .to_string(),
        )
    }
}
