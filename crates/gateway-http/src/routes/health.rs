//! Liveness, readiness and metrics, without authentication (none of them says anything a
//! tenant sent: see `gateway_service::metrics`).

use std::time::Duration;

use actix_web::{HttpResponse, web};
use gateway_domain::ErrorName;
use serde_json::json;

use crate::{ApiError, AppState};

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The database answers (within 3 s).
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match actix_web::rt::time::timeout(Duration::from_secs(3), state.gateway.ready()).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(json!({"status": "ready"}))),
        Ok(Err(p)) => Err(ApiError(p)),
        Err(_) => Err(ApiError::new(ErrorName::ServiceUnavailable, "the database did not answer within 3 s")),
    }
}

/// The Prometheus text exposition.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type(gateway_service::metrics::CONTENT_TYPE).body(state.gateway.render_metrics())
}
