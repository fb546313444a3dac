//! The contract's endpoints. Paths are declared without the trailing slash; `NormalizePath`
//! makes it optional.

mod connections;
mod docs;
mod health;
mod tables;
mod uploads;
mod webhooks;

use actix_web::{HttpResponse, web};
use gateway_domain::ErrorName;

use crate::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Each path answers the methods it serves, and 405 with `Allow` listing them (RFC 9110)
    // for any other.
    let resource = |path: &str, allow: &'static str| {
        web::resource(path.to_owned())
            .default_service(web::to(move |req: actix_web::HttpRequest| method_not_allowed(req, allow)))
    };
    cfg.service(resource("/healthz", "GET").route(web::get().to(health::healthz)))
        .service(
            resource("/openapi.json", "GET")
                .route(web::get().to(|| async { HttpResponse::Ok().json(crate::openapi::document()) })),
        )
        .service(resource("/readyz", "GET").route(web::get().to(health::readyz)))
        .service(resource("/metrics", "GET").route(web::get().to(health::metrics)))
        .service(resource("/docs", "GET").route(web::get().to(docs::page)))
        .service(resource("/docs/init.js", "GET").route(web::get().to(docs::init)))
        .service(resource("/docs/swagger-ui-bundle.js", "GET").route(web::get().to(docs::bundle)))
        .service(resource("/docs/swagger-ui.css", "GET").route(web::get().to(docs::css)))
        .service(resource("/connections", "GET").route(web::get().to(connections::list)))
        .service(
            resource("/connections/{connection}", "GET, PUT, DELETE")
                .route(web::get().to(connections::get))
                .route(web::put().to(connections::put))
                .route(web::delete().to(connections::delete)),
        )
        .service(resource("/connections/{connection}/test", "POST").route(web::post().to(connections::test)))
        .service(resource("/connections/{connection}/spec", "GET").route(web::get().to(connections::spec)))
        .service(resource("/connections/{connection}/tables", "GET").route(web::get().to(tables::list_deprecated)))
        .service(
            resource("/connections/{connection}/tables/{name}", "GET, PATCH, DELETE")
                .route(web::get().to(tables::get))
                .route(web::patch().to(tables::patch))
                .route(web::delete().to(tables::delete)),
        )
        .service(
            resource("/connections/{connection}/tables/{name}/test", "GET, POST")
                .route(web::post().to(tables::preview))
                .route(web::get().to(tables::test_stored)),
        )
        .service(
            resource("/connections/{connection}/tables/{name}/validations", "GET, POST")
                .route(web::post().to(tables::start_validation))
                .route(web::get().to(tables::list_validations)),
        )
        .service(
            resource("/connections/{connection}/tables/{name}/validations/{id}", "GET, DELETE")
                .route(web::get().to(tables::get_validation))
                .route(web::delete().to(tables::cancel_validation)),
        )
        .service(resource("/connections/{connection}/tables/{name}/rows", "GET").route(web::get().to(tables::rows)))
        .service(
            resource("/connections/{connection}/tables/{name}/rows/splits", "GET")
                .route(web::get().to(tables::row_splits)),
        )
        .service(
            resource("/connections/{connection}/tables/{name}/schema", "GET")
                .route(web::get().to(tables::schema_history)),
        )
        .service(
            resource("/connections/{connection}/tables/{name}/files", "GET, DELETE")
                .route(web::get().to(tables::list_files))
                .route(web::delete().to(tables::delete_files)),
        )
        .service(resource("/tables", "GET").route(web::get().to(tables::filter)))
        .service(resource("/uploads/{token}", "PUT").route(web::put().to(uploads::put)))
        .service(resource("/webhooks", "GET").route(web::get().to(webhooks::list)))
        .service(
            resource("/webhooks/{id}", "GET, PUT, DELETE")
                .route(web::get().to(webhooks::get))
                .route(web::put().to(webhooks::put))
                .route(web::delete().to(webhooks::delete)),
        )
        .service(resource("/webhooks/{id}/test", "POST").route(web::post().to(webhooks::test)))
        .service(resource("/audit", "GET").route(web::get().to(webhooks::audit)))
        .default_service(web::to(route_not_found));
}

async fn method_not_allowed(req: actix_web::HttpRequest, allow: &'static str) -> Result<HttpResponse, ApiError> {
    Err(ApiError(
        gateway_domain::Problem::new(
            ErrorName::MethodNotAllowed,
            format!(
                "{} is not allowed on {}; allowed: {allow}",
                req.method(),
                crate::access_log::loggable_path(req.path())
            ),
        )
        .with("allow", allow),
    ))
}

async fn route_not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorName::RouteNotFound,
        format!("no endpoint at {}", crate::access_log::loggable_path(req.path())),
    ))
}
