//! The TAXII 2.1 edge (spec §4 and §5). One file per endpoint group of the spec:
//! `discovery.rs` (§4.1 server discovery), `api_root.rs` (§4.2), `status.rs` (§4.3),
//! `collections.rs` (§5.1 collections, §5.2 collection), `manifest.rs` (§5.3),
//! `objects.rs` (§5.4 get objects, §5.5 add objects, §5.6 get object, §5.7 delete object),
//! `versions.rs` (§5.8). Shared: `media.rs`, `error.rs`, `filters.rs`, `cursor.rs`, `pages.rs`.

mod api_root;
mod collections;
pub mod cursor;
mod discovery;
pub mod error;
pub mod filters;
mod manifest;
pub mod media;
mod objects;
mod pages;
mod status;
mod versions;

use std::sync::Arc;

use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use futures_util::future::{Either, ready};

pub use error::TaxiiError;

use crate::settings::Settings;
use crate::stix::schema::StixValidator;

/// The caller of a TAXII endpoint: anonymous callers reach public-read collections only.
pub type Caller = crate::http::MaybeAuthenticated<TaxiiError>;

/// What the TAXII handlers share.
pub struct TaxiiState {
    pub validator: Arc<StixValidator>,
    pub cursor_key: cursor::CursorKey,
    /// What the feeds served (counted here, flushed to the database in the background).
    pub served: Arc<crate::service::served::Served>,
}

/// Registers every TAXII route under `/taxii2`. Paths arrive with trailing slashes trimmed and
/// `//` collapsed (`NormalizePath` in `startup.rs`), so `/collections/` and `/collections` match.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let resource = |path: &str| web::resource(path.to_string()).default_service(web::to(method_not_allowed));
    cfg.service(
        web::scope("/taxii2")
            .wrap_fn(|req, srv| {
                let accept = req.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
                if !media::accepts_taxii21(accept) {
                    let resp = req.into_response(TaxiiError::NotAcceptable.error_response());
                    return Either::Left(ready(Ok(resp)));
                }
                let fut = srv.call(req);
                Either::Right(async move {
                    let mut res: ServiceResponse<BoxBody> = fut.await?.map_into_boxed_body();
                    // Every TAXII response carries the TAXII media type, errors and empty 200s too.
                    res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(media::TAXII_MEDIA));
                    Ok(res)
                })
            })
            .service(resource("").route(web::get().to(discovery::get)))
            .service(resource("/{root}").route(web::get().to(api_root::get)))
            .service(resource("/{root}/status/{status_id}").route(web::get().to(status::get)))
            .service(resource("/{root}/collections").route(web::get().to(collections::list)))
            .service(resource("/{root}/collections/{collection}").route(web::get().to(collections::get)))
            .service(
                resource("/{root}/collections/{collection}/manifest").route(web::get().to(manifest::get)),
            )
            .service(
                resource("/{root}/collections/{collection}/objects")
                    .route(web::get().to(objects::get_objects))
                    .route(web::post().to(objects::add_objects)),
            )
            .service(
                resource("/{root}/collections/{collection}/objects/{object}")
                    .route(web::get().to(objects::get_object))
                    .route(web::delete().to(objects::delete_object)),
            )
            .service(
                resource("/{root}/collections/{collection}/objects/{object}/versions")
                    .route(web::get().to(versions::get)),
            )
            .default_service(web::to(not_found)),
    );
}

async fn method_not_allowed() -> Result<HttpResponse, TaxiiError> {
    Err(TaxiiError::MethodNotAllowed)
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, TaxiiError> {
    Err(TaxiiError::NotFound(format!("no TAXII endpoint at {}", req.path())))
}

/// The configured API root named `name`, or 404.
fn api_root<'a>(
    settings: &'a Settings,
    name: &str,
) -> Result<&'a crate::settings::ApiRootSettings, TaxiiError> {
    settings
        .taxii
        .api_roots
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| TaxiiError::NotFound(format!("no API root '{name}'")))
}

/// The base URL links are built from: the configured public URL, else what the client used.
fn base_url(req: &HttpRequest, settings: &Settings) -> String {
    match &settings.server.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

/// A 200 with a JSON body (the TAXII media type is set by the scope).
fn ok_json(body: String) -> HttpResponse {
    HttpResponse::Ok().content_type(media::TAXII_MEDIA).body(body)
}
