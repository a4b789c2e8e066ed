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
    cfg.service(
        register(web::scope("/taxii2"))
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
            .default_service(web::to(not_found)),
    );
}

/// Declares the TAXII resources once: `ROUTES` lists every (method, path) for the access test,
/// `register` adds each resource with its methods (any other method: 405 as a TAXII error).
macro_rules! taxii_table {
    ($( $path:literal => [ $( $method:ident $handler:path ),+ ] ),* $(,)?) => {
        pub const ROUTES: &[crate::http::RouteSpec] = &[
            $( $( crate::http::RouteSpec { method: crate::route_table!(@upper $method), path: $path } ),+ ),*
        ];
        fn register(scope: actix_web::Scope) -> actix_web::Scope {
            scope $(
                .service(
                    web::resource($path)
                        .default_service(web::to(method_not_allowed))
                        $( .route(web::$method().to($handler)) )+
                )
            )*
        }
    };
}

taxii_table! {
    "" => [get discovery::get],
    "/{root}" => [get api_root::get],
    "/{root}/status/{status_id}" => [get status::get],
    "/{root}/collections" => [get collections::list],
    "/{root}/collections/{collection}" => [get collections::get],
    "/{root}/collections/{collection}/manifest" => [get manifest::get],
    "/{root}/collections/{collection}/objects" => [get objects::get_objects, post objects::add_objects],
    "/{root}/collections/{collection}/objects/{object}" => [get objects::get_object, delete objects::delete_object],
    "/{root}/collections/{collection}/objects/{object}/versions" => [get versions::get],
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
