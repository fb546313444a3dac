//! `PUT /uploads/{token}`: a LOCAL table's file, streamed to `gateway-service`.

use actix_web::{HttpRequest, HttpResponse, http::header, web};

use crate::{ApiError, AppState};

pub async fn put(
    state: web::Data<AppState>,
    token: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    Ok(HttpResponse::Ok().json(state.gateway.receive_upload(&token, declared, payload).await?))
}
