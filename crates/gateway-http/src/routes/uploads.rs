//! `PUT /uploads/{token}` (`?file=<name>` for one file of a set): a LOCAL table's file,
//! streamed to `gateway-service`.

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
    let q = crate::extract::query(&req, &["file"])?;
    let file = crate::extract::param(&q, "file");
    Ok(HttpResponse::Ok().json(state.gateway.receive_upload(&token, file, declared, payload).await?))
}
