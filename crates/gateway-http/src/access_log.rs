//! The request span every log line of a request carries (and the access log when it closes):
//! method, the path with any credential in it redacted, status, request id. It never records
//! the query string, headers or body.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

/// The path as logged (and quoted in 404/405 answers): an upload URL's token is a credential
/// (it may write a table's file), however the path is spelled (`//uploads/...`, which the
/// slash-merging router still serves).
pub fn loggable_path(path: &str) -> String {
    let merged: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match merged.first() {
        Some(&"uploads") => "/uploads/<token>".to_owned(),
        _ => path.to_owned(),
    }
}

#[derive(Debug)]
pub struct GatewayRootSpan;

impl RootSpanBuilder for GatewayRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request.extensions().get::<RequestId>().map(|id| id.to_string()).unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.target = %loggable_path(request.path()),
            http.client_ip = %request.connection_info().realip_remote_addr().unwrap_or_default(),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
            request_id = %request_id,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn upload_tokens_are_not_logged() {
        assert_eq!(super::loggable_path("/uploads/eyJhbGciOi.x.y"), "/uploads/<token>");
        assert_eq!(super::loggable_path("/connections/S3/"), "/connections/S3/");
        assert_eq!(super::loggable_path("//uploads/eyJhbGciOi.x.y"), "/uploads/<token>");
        assert_eq!(super::loggable_path("/uploads"), "/uploads/<token>");
    }
}
