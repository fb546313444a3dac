//! `/connections/...`: HTTP <-> the connection use cases of `gateway-service`.

use actix_web::{HttpRequest, HttpResponse, web};
use gateway_domain::ConnectionsList;
use serde_json::json;

use crate::extract::{self, JsonBody};
use crate::{ApiError, AppState, Caller};

pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let connections = state.gateway.list_connections(&caller.org, caller.role).await?;
    Ok(HttpResponse::Ok().json(ConnectionsList { connections, warnings: Vec::new() }))
}

pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let kind = extract::kind(&path)?;
    Ok(HttpResponse::Ok().json(state.gateway.get_connection(&caller.org, caller.role, kind).await?))
}

pub async fn put(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let kind = extract::kind(&path)?;
    Ok(HttpResponse::Ok()
        .json(state.gateway.put_connection(&caller.org, &caller.actor(), kind, body.required()?).await?))
}

pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let kind = extract::kind(&path)?;
    let force = extract::flag(&extract::query(&req, &["force"])?, "force")?;
    state.gateway.delete_connection(&caller.org, &caller.actor(), kind, force).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn test(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let kind = extract::kind(&path)?;
    let check = state.gateway.test_credentials(&caller.org, &caller.actor(), kind, body.or_empty()).await?;
    Ok(HttpResponse::Ok().json(json!({"steps": check.steps, "warnings": check.warnings})))
}

pub async fn spec(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let kind = extract::kind(&path)?;
    Ok(HttpResponse::Ok().json(state.gateway.connection_spec(kind)?))
}
