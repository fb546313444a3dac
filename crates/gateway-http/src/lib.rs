//! The gateway's HTTP API (actix-web): the routes of the contract, bearer authentication,
//! and the one mapping from problems to status codes and JSON error bodies.
//!
//! It never names a concrete connector: the binary hands it a `Registry` (through the
//! `gateway_service::Gateway`) at start.

// The OpenAPI document is one large `json!` literal.
#![recursion_limit = "512"]

mod access_log;
mod auth;
mod error;
mod extract;
mod openapi;
mod routes;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle, Service};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{NormalizePath, TrailingSlash};
use actix_web::{App, HttpMessage, HttpServer, web};
use gateway_service::Gateway;
use tracing_actix_web::{RequestId, TracingLogger};

pub use auth::{Caller, JwtSecret, MAX_TOKEN_LIFETIME_SECS, issue_token};
pub use error::{ApiError, error_body, status_of};
pub use extract::BODY_LIMIT;
pub use openapi::document as openapi_document;

/// What every handler shares: the use cases and the bearer-token secret.
#[derive(Debug, Clone)]
pub struct AppState {
    pub gateway: Gateway,
    pub jwt_secret: JwtSecret,
    /// Proxies whose `X-Forwarded-For` names the client (the access log's `client_ip`).
    pub trusted_proxies: std::sync::Arc<Vec<std::net::IpAddr>>,
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Worker threads; `None` is one per core.
    pub workers: Option<usize>,
    /// How long in-flight requests get to finish on SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
    /// Blocking threads (database calls) per worker at most. Database calls wait for one of
    /// the pool's connections anyway: threads beyond that only wait, each with its stack and
    /// its allocator arena (tokio's default is 512 per runtime).
    pub max_blocking_threads: usize,
    /// `GATEWAY_TRUSTED_PROXIES`: the load balancers whose `X-Forwarded-For` is believed;
    /// anyone else's is ignored (a client could claim any address).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            workers: None,
            shutdown_timeout: Duration::from_secs(10),
            max_blocking_threads: 16,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The routes, for a server or for `actix_web::test`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    routes::configure(cfg);
}

/// A route template as a metrics label: `/connections/{connection}` becomes
/// `/connections/:connection`, so that simple text parsers, which stop label values at a
/// brace, read it whole.
fn route_label(pattern: &str) -> String {
    pattern.replace('{', ":").replace('}', "")
}

/// The gateway's HTTP server, built on an already bound listener (port 0 in tests): the one
/// way the binary and the test kit start it.
pub struct Application {
    port: u16,
    server: Server,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("port", &self.port).finish_non_exhaustive()
    }
}

impl Application {
    /// Builds the server for `gateway`; it serves once awaited ([`Application::run`]) and
    /// stops gracefully on SIGTERM and SIGINT.
    pub fn build(
        gateway: Gateway,
        jwt_secret: JwtSecret,
        listener: TcpListener,
        settings: &ServerSettings,
    ) -> std::io::Result<Application> {
        let port = listener.local_addr()?.port();
        let metrics = gateway.metrics().clone();
        let trusted_proxies = std::sync::Arc::new(settings.trusted_proxies.clone());
        let data = web::Data::new(AppState { gateway, jwt_secret, trusted_proxies });
        let mut server = HttpServer::new(move || {
            let metrics = metrics.clone();
            App::new()
                .app_data(data.clone())
                .configure(configure)
                .wrap(NormalizePath::new(TrailingSlash::Trim))
                // Requests by route template (the path itself may hold names and tokens).
                .wrap_fn(move |req, srv| {
                    let started = std::time::Instant::now();
                    // A client may send any token as a method: only the standard ones are labels.
                    let method: &'static str = match req.method().as_str() {
                        "GET" => "GET",
                        "HEAD" => "HEAD",
                        "POST" => "POST",
                        "PUT" => "PUT",
                        "PATCH" => "PATCH",
                        "DELETE" => "DELETE",
                        "OPTIONS" => "OPTIONS",
                        _ => "OTHER",
                    };
                    let fut = srv.call(req);
                    let metrics = metrics.clone();
                    async move {
                        let res = fut.await?;
                        let route =
                            res.request().match_pattern().map_or_else(|| "<unmatched>".to_owned(), |p| route_label(&p));
                        metrics.request(method, &route, res.status().as_u16(), started.elapsed());
                        Ok(res)
                    }
                })
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
        // A client that closes its side has gone: its handler and its streamed answer are
        // dropped then (a read of rows stops, its slot is freed), not when a write fails.
        .h1_allow_half_closed(false)
        .listen(listener)?
        .worker_max_blocking_threads(settings.max_blocking_threads.max(1))
        .shutdown_timeout(settings.shutdown_timeout.as_secs());
        if let Some(w) = settings.workers {
            server = server.workers(w.max(1));
        }
        Ok(Application { port, server: server.run() })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop it.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped.
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// What the fuzz targets (`gateway-fuzz`) reach: bearer tokens as they arrive.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Authenticates a fuzzed `Authorization` header.
    pub fn bearer(data: &[u8]) {
        static SECRET: std::sync::OnceLock<crate::JwtSecret> = std::sync::OnceLock::new();
        let secret = SECRET.get_or_init(|| crate::JwtSecret::new(b"fuzzing-secret-fuzzing-secret-0123".to_vec()));
        let header = String::from_utf8_lossy(data);
        let _ = crate::auth::authenticate(secret, Some(&header));
    }
}
