//! What every HTTP edge (REST `api/`, `taxii/`, the web UI) shares: the one authentication
//! extractor and the security headers. Edges render errors in their own formats.

pub mod auth;
pub mod browser;

pub use auth::{Authenticated, MaybeAuthenticated, gate};

/// Set when the instance starts stopping: `/readyz` answers 503 so the load balancer sends new
/// requests elsewhere while the ones in flight finish.
#[derive(Debug, Default)]
pub struct Draining(std::sync::atomic::AtomicBool);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// One route of an edge's table: its method and path (relative to the edge's scope). The tables
/// (`api::ROUTES`, `taxii::ROUTES`, `web::ROUTES`) are what the access test walks: a route added
/// to an edge without a line in `docs/security.md` (a decision of who may reach it) fails it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
}

/// Who may reach a route, declared beside it in the edge's table and enforced by the edge's gate
/// (a middleware) before any extractor reads the body: a caller who may not use a route learns
/// nothing from it, not even whether its body would have been valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials needed.
    Public,
    /// Export feeds: the handler's `FeedAuthenticated` checks the credentials, which may come as
    /// a `token` URL parameter (no body is read).
    Feed,
    /// Any authenticated caller whose role and token scope reach the path (`auth::check_reach`).
    User,
    /// Analysts and administrators.
    Analyst,
    /// Administrators.
    Admin,
}

impl Access {
    /// Whether `role` satisfies this level.
    pub fn admits(self, role: crate::service::accounts::Role) -> bool {
        match self {
            Access::Public | Access::Feed | Access::User => true,
            Access::Analyst => role.is_analyst(),
            Access::Admin => role == crate::service::accounts::Role::Admin,
        }
    }

    /// The refusal of a caller below this level.
    pub fn refusal(self) -> &'static str {
        match self {
            Access::Admin => "administrators only",
            _ => "analysts and administrators only",
        }
    }
}

/// Declares an edge's routes once: `$list` lists them (for the access test) and `$register` adds
/// them, in the same order, to a scope, each behind `$gate` with its access level.
#[macro_export]
macro_rules! route_table {
    ($vis:vis const $list:ident; fn $register:ident; gate $gate:path;
     $( $method:ident $path:literal => $handler:path [$access:ident] ),* $(,)?) => {
        $vis const $list: &[$crate::http::RouteSpec] = &[
            $( $crate::http::RouteSpec { method: $crate::route_table!(@upper $method), path: $path } ),*
        ];
        fn $register(scope: actix_web::Scope) -> actix_web::Scope {
            scope $(
                .service(
                    actix_web::web::resource($path)
                        .guard($crate::route_table!(@guard $method))
                        .route(actix_web::web::$method().to($handler))
                        .wrap(actix_web::middleware::from_fn(move |req, next| {
                            $gate($crate::http::Access::$access, req, next)
                        })),
                )
            )*
        }
    };
    (@upper get) => { "GET" };
    (@upper post) => { "POST" };
    (@upper put) => { "PUT" };
    (@upper patch) => { "PATCH" };
    (@upper delete) => { "DELETE" };
    (@guard get) => { actix_web::guard::Get() };
    (@guard post) => { actix_web::guard::Post() };
    (@guard put) => { actix_web::guard::Put() };
    (@guard patch) => { actix_web::guard::Patch() };
    (@guard delete) => { actix_web::guard::Delete() };
}

/// A request's declared `Content-Length`, if any: judged before a body is read.
pub fn declared_length(req: &actix_web::HttpRequest) -> Option<u64> {
    req.headers().get(actix_web::http::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}
