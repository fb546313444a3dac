//! The request span every log line of a request carries (and the access log when it closes):
//! method, the path with any credential in it redacted, status, request id. It never records
//! the query string, headers or body.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

/// A path segment as the router reads it: percent escapes decoded.
fn decoded(segment: &str) -> String {
    let b = segment.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex =
            b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (c, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path as logged (and quoted in 404/405 answers): an upload URL's token is a credential
/// (it may write a table's file), however the path is spelled (`//uploads/...`, which the
/// slash-merging router still serves, or `/%75ploads/...`, which it decodes).
pub fn loggable_path(path: &str) -> String {
    let first = path.split('/').map(decoded).find(|s| !s.is_empty() && s != ".");
    match first.as_deref() {
        Some(s) if s.eq_ignore_ascii_case("uploads") => "/uploads/<token>".to_owned(),
        _ => path.to_owned(),
    }
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the last address
/// in `X-Forwarded-For` that is not one (a client can write any header; only a proxy the
/// operator named appends what it saw).
pub fn client_ip(peer: Option<std::net::IpAddr>, forwarded: Option<&str>, trusted: &[std::net::IpAddr]) -> String {
    let Some(peer) = peer else { return String::new() };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    forwarded
        .into_iter()
        .flat_map(|h| h.rsplit(','))
        .map(str::trim)
        .filter_map(|a| a.parse::<std::net::IpAddr>().ok())
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
        .to_string()
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
            http.client_ip = %client_ip(
                request.peer_addr().map(|a| a.ip()),
                request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()),
                request
                    .app_data::<actix_web::web::Data<crate::AppState>>()
                    .map_or(&[][..], |s| s.trusted_proxies.as_slice()),
            ),
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
        assert_eq!(super::loggable_path("/%75ploads/eyJhbGciOi.x.y"), "/uploads/<token>");
        assert_eq!(super::loggable_path("/./%55PLOADS/eyJ"), "/uploads/<token>");
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let proxy = [ip("10.0.0.5")];
        let spoof = Some("203.0.113.66");
        assert_eq!(super::client_ip(Some(ip("198.51.100.7")), spoof, &proxy), "198.51.100.7");
        assert_eq!(super::client_ip(Some(ip("198.51.100.7")), spoof, &[]), "198.51.100.7");
        assert_eq!(super::client_ip(Some(ip("10.0.0.5")), Some("203.0.113.66, 192.0.2.9"), &proxy), "192.0.2.9");
        assert_eq!(super::client_ip(Some(ip("10.0.0.5")), None, &proxy), "10.0.0.5");
    }
}
