//! The gateway's HTTP API (actix-web): the routes of the contract, bearer authentication,
//! and the one mapping from problems to status codes and JSON error bodies.
//!
//! It never names a concrete connector: the binary hands it a [`Registry`] at start.

// The OpenAPI document is one large `json!` literal.
#![recursion_limit = "512"]

mod access_log;
mod auth;
mod error;
mod extract;
mod openapi;
mod routes;
mod uploads;
mod view;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::{Server, Service};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{NormalizePath, TrailingSlash};
use actix_web::{App, HttpMessage, HttpServer, web};
use gateway_connector::Registry;
use gateway_store::{Store, StoreError};
use tracing_actix_web::{RequestId, TracingLogger};

pub use auth::{Caller, JwtSecret, issue_token};
pub use error::{ApiError, error_body, status_of};
pub use extract::BODY_LIMIT;
pub use openapi::document as openapi_document;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub registry: Registry,
    pub jwt_secret: JwtSecret,
    /// The longest a connector call (a credential test, an inspection) may take.
    pub connector_timeout: Duration,
    /// The operator's `GATEWAY_OUTBOUND_ALLOW_PRIVATE`: host fields may name private hosts.
    pub outbound_allow_private: bool,
    /// The gateway's address as clients reach it, for LOCAL tables' upload URLs.
    pub public_url: String,
    /// The largest file a LOCAL upload may send.
    pub upload_max_bytes: u64,
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Worker threads; `None` is one per core.
    pub workers: Option<usize>,
    /// How long in-flight requests get to finish on SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings { workers: None, shutdown_timeout: Duration::from_secs(10) }
    }
}

/// The routes, for a server or for `actix_web::test`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    routes::configure(cfg);
}

/// Builds the server on an already bound listener (port 0 in tests). Await it to serve; it
/// stops gracefully on SIGTERM and SIGINT.
pub fn server(state: AppState, listener: TcpListener, settings: &ServerSettings) -> std::io::Result<Server> {
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .configure(configure)
            .wrap(NormalizePath::new(TrailingSlash::Trim))
            .wrap_fn(|req, srv| {
                let id = req.extensions().get::<RequestId>().map(|id| id.to_string());
                let fut = srv.call(req);
                async move {
                    let mut res = fut.await?;
                    if let Some(v) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
                        res.headers_mut().insert(HeaderName::from_static("x-request-id"), v);
                    }
                    Ok(res)
                }
            })
            .wrap(TracingLogger::<access_log::GatewayRootSpan>::new())
    })
    .listen(listener)?
    .shutdown_timeout(settings.shutdown_timeout.as_secs());
    if let Some(w) = settings.workers {
        server = server.workers(w.max(1));
    }
    Ok(server.run())
}

/// Runs a store call on the blocking pool, off the async workers.
pub(crate) async fn db<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    let store = state.store.clone();
    match web::block(move || f(&store)).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(_) => Err(ApiError::from(StoreError::Unavailable("the blocking pool is shut down".into()))),
    }
}
