//! Liveness and readiness, without authentication.

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
