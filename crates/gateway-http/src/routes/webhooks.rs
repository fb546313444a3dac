//! `/webhooks/...` and `/audit/`: the organization's administration, for root and manager.

use actix_web::{HttpRequest, HttpResponse, web};
use gateway_domain::{Paging, WebhookId, WebhooksList};

use crate::extract::{self, JsonBody};
use crate::{ApiError, AppState, Caller};

fn id(path: &str) -> Result<WebhookId, ApiError> {
    Ok(WebhookId::parse(path)?)
}

pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.administrator()?;
    Ok(HttpResponse::Ok().json(WebhooksList { webhooks: state.gateway.list_webhooks(&caller.org).await? }))
}

pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.administrator()?;
    Ok(HttpResponse::Ok().json(state.gateway.get_webhook(&caller.org, &id(&path)?).await?))
}

pub async fn put(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    caller.administrator()?;
    let view = state.gateway.put_webhook(&caller.org, &caller.actor(), &id(&path)?, body.required()?).await?;
    // The answer may hold the secret: never cached anywhere.
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(view))
}

pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.administrator()?;
    state.gateway.delete_webhook(&caller.org, &caller.actor(), &id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn test(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.administrator()?;
    Ok(HttpResponse::Ok().json(state.gateway.test_webhook(&caller.org, &id(&path)?).await?))
}

pub async fn audit(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    caller.administrator()?;
    let q = extract::query(&req, &["page", "amt"])?;
    let paging = Paging::parse(extract::param(&q, "page"), extract::param(&q, "amt"))?;
    Ok(HttpResponse::Ok().json(state.gateway.audit(&caller.org, paging).await?))
}
