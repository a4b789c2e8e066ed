//! What every HTTP edge (REST `api/`, `taxii/`, the web UI) shares: the one authentication
//! extractor and the security headers. Edges render errors in their own formats.

pub mod auth;
pub mod browser;

pub use auth::{Authenticated, MaybeAuthenticated};

/// One route of an edge's table: its method and path (relative to the edge's scope). The tables
/// (`api::ROUTES`, `taxii::ROUTES`, `web::ROUTES`) are what the access test walks: a route added
/// to an edge without a line in `docs/security.md` (a decision of who may reach it) fails it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
}

/// Declares an edge's routes once: `$list` lists them (for the access test) and `$register` adds
/// them, in the same order, to a scope.
#[macro_export]
macro_rules! route_table {
    ($vis:vis const $list:ident; fn $register:ident; $( $method:ident $path:literal => $handler:path ),* $(,)?) => {
        $vis const $list: &[$crate::http::RouteSpec] = &[
            $( $crate::http::RouteSpec { method: $crate::route_table!(@upper $method), path: $path } ),*
        ];
        fn $register(scope: actix_web::Scope) -> actix_web::Scope {
            scope $( .route($path, actix_web::web::$method().to($handler)) )*
        }
    };
    (@upper get) => { "GET" };
    (@upper post) => { "POST" };
    (@upper put) => { "PUT" };
    (@upper patch) => { "PATCH" };
    (@upper delete) => { "DELETE" };
}
