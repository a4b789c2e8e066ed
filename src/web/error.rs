//! `WebError`, the one `ResponseError` of `/ui`: an HTML error page, or a redirect to the login
//! page for a caller without a (live) session. Domain errors map here like they map to `ApiError`
//! under `/api/`.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::db::DbError;
use crate::service::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No live session: the browser goes to the login page, then back to `next`.
    #[error("please log in")]
    LoginRequired { next: String },
    #[error("{0}")]
    BadRequest(String),
    #[error("the form has expired or did not come from this site; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("the service is unavailable: {0}")]
    Unavailable(String),
    /// A bounded queue is full (429): the page says which and to try again later.
    #[error("{0}")]
    Busy(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ServiceError> for WebError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(m) => WebError::BadRequest(m),
            ServiceError::NotFound(m) => WebError::NotFound(format!("{m} not found")),
            ServiceError::Conflict(m) => WebError::Conflict(format!("{m} already exists")),
            ServiceError::Forbidden(m) => WebError::Forbidden(m),
            ServiceError::Busy(m) => WebError::Busy(m),
            ServiceError::Db(e) => e.into(),
            e @ ServiceError::Stix(_) => WebError::BadRequest(e.to_string()),
            ServiceError::Json(e) => WebError::Internal(e.to_string()),
            ServiceError::Internal(m) => WebError::Internal(m),
        }
    }
}

impl From<DbError> for WebError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => WebError::NotFound("not found".into()),
            DbError::Conflict(m) => WebError::Conflict(format!("{m} already exists")),
            DbError::Pool(m) | DbError::Connect(m) => WebError::Unavailable(m),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Internal(format!("template: {e}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: String,
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Csrf | WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Busy(_) => StatusCode::TOO_MANY_REQUESTS,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let WebError::LoginRequired { next } = self {
            let target = format!(
                "/ui/login?next={}",
                form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            return HttpResponse::SeeOther().insert_header((LOCATION, target)).finish();
        }
        if let WebError::Internal(m) = self {
            tracing::error!("web UI: {m}");
        }
        let message = match self {
            // Details of internal failures stay in the log.
            WebError::Internal(_) => "something went wrong on the server; the error is logged".to_string(),
            other => other.to_string(),
        };
        let page = ErrorPage {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error"),
            message,
        };
        let body = page.render().unwrap_or_else(|_| "error".into());
        HttpResponse::build(status).insert_header((CONTENT_TYPE, "text/html; charset=utf-8")).body(body)
    }
}
