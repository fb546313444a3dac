//! The one place that decides status codes and the JSON error body:
//! `{"error_code": <HTTP status>, "error_name": "...", "message": "...", "error_data": {...}}`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use gateway_domain::{ErrorName, Problem};
use serde_json::json;

/// A problem on its way to the caller.
#[derive(Debug)]
pub struct ApiError(pub Problem);

impl ApiError {
    pub fn new(name: ErrorName, message: impl Into<String>) -> Self {
        ApiError(Problem::new(name, message))
    }
}

pub fn status_of(name: ErrorName) -> StatusCode {
    match name {
        ErrorName::WrongDataType => StatusCode::BAD_REQUEST,
        ErrorName::ConnectionNotFound
        | ErrorName::TableNotFound
        | ErrorName::ResourceNotFound
        | ErrorName::WebhookNotFound
        | ErrorName::ValidationNotFound
        | ErrorName::RouteNotFound => StatusCode::NOT_FOUND,
        ErrorName::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorName::Forbidden => StatusCode::FORBIDDEN,
        ErrorName::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorName::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorName::QuotaExceeded => StatusCode::CONFLICT,
        ErrorName::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorName::ConnectorUnavailable => StatusCode::NOT_IMPLEMENTED,
        ErrorName::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorName::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The JSON error body.
pub fn error_body(p: &Problem) -> serde_json::Value {
    json!({
        "error_code": status_of(p.name).as_u16(),
        "error_name": p.name.as_str(),
        "message": p.message,
        "error_data": p.data,
    })
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(self.0.name)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        match self.0.name {
            ErrorName::Unauthorized => {
                res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ErrorName::ServiceUnavailable => {
                res.insert_header((header::RETRY_AFTER, "1"));
            }
            ErrorName::TooManyRequests => {
                let after = self.0.data.get("retry_after").and_then(|v| v.as_u64()).unwrap_or(1);
                res.insert_header((header::RETRY_AFTER, after.to_string()));
            }
            ErrorName::MethodNotAllowed => {
                if let Some(allow) = self.0.data.get("allow").and_then(|v| v.as_str()) {
                    res.insert_header((header::ALLOW, allow));
                }
            }
            _ => {}
        }
        res.json(error_body(&self.0))
    }
}

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        ApiError(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_is_pinned() {
        let p = Problem::wrong_field("resource", "'items' is not a valid resource").with("allowed", vec!["item"]);
        assert_eq!(
            error_body(&p),
            json!({
                "error_code": 400,
                "error_name": "WRONG_DATA_TYPE",
                "message": "'items' is not a valid resource",
                "error_data": {"field": "resource", "allowed": ["item"]}
            })
        );
        let nf = Problem::new(ErrorName::TableNotFound, "no table");
        assert_eq!(error_body(&nf)["error_code"], 404);
        assert_eq!(error_body(&nf)["error_data"], json!({}));
    }

    #[test]
    fn every_name_has_a_client_or_server_status() {
        for n in ErrorName::ALL {
            let s = status_of(*n);
            assert!(s.is_client_error() || s.is_server_error(), "{n}");
        }
    }
}
