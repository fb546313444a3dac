//! opendal's HTTP transport through the guard: every request opendal makes (S3, GCS, any
//! service) is checked as [`OutboundClient::send`] checks its own (scheme, IP literals; names
//! by the client's resolver), and every response body is capped at the same size.
//!
//! Without this, opendal builds URLs from credential fields (an S3 `region` of
//! `x@127.0.0.1:8443/` makes the endpoint's host `127.0.0.1`), and an IP literal reaches no
//! resolver: the request would go out unchecked.

use futures_util::StreamExt;
use opendal::{Buffer, HttpBody, HttpTransport, HttpTransporter};
use opendal_http_transport_reqwest::ReqwestTransport;

use crate::OutboundClient;

#[derive(Debug, Clone)]
struct GuardedTransport {
    outbound: OutboundClient,
    inner: ReqwestTransport,
}

/// The query spelt with every `/` as `%2F`. opendal leaves `/` bare in a listing's `prefix`;
/// SigV4 signs the canonical `%2F` (the query decoded, then encoded), so a server that
/// canonicalizes the query as received (moto) refused every listing with
/// SignatureDoesNotMatch. RFC 3986 lets a query hold either spelling and servers decode both
/// alike, so the request means the same and its signature still holds.
fn slashes_encoded(uri: &http::Uri) -> Option<http::Uri> {
    let query = uri.query().filter(|q| q.contains('/'))?;
    let path = uri.path();
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = format!("{path}?{}", query.replace('/', "%2F")).parse().ok();
    http::Uri::from_parts(parts).ok()
}

impl HttpTransport for GuardedTransport {
    async fn fetch(&self, mut req: http::Request<Buffer>) -> opendal::Result<http::Response<HttpBody>> {
        if let Some(uri) = slashes_encoded(req.uri()) {
            *req.uri_mut() = uri;
        }
        let url = reqwest::Url::parse(&req.uri().to_string())
            .map_err(|_| opendal::Error::new(opendal::ErrorKind::Unexpected, "the request URL is not valid"))?;
        if let Err(refused) = self.outbound.check(&url) {
            return Err(opendal::Error::new(opendal::ErrorKind::PermissionDenied, refused.message.clone())
                .set_source(crate::outbound::GuardError::Refused(refused.message)));
        }
        let response = self.inner.fetch(req).await?;
        let cap = self.outbound.settings().max_response_bytes as u64;
        Ok(response.map(|body| {
            body.map_inner(move |stream| {
                let mut seen = 0u64;
                Box::new(stream.map(move |chunk| {
                    let chunk = chunk?;
                    seen += chunk.len() as u64;
                    if seen > cap {
                        return Err(opendal::Error::new(
                            opendal::ErrorKind::Unexpected,
                            format!("the provider's answer is larger than {cap} bytes"),
                        ));
                    }
                    Ok(chunk)
                }))
            })
        }))
    }
}

/// The transport to give every opendal operator (`OperationContext::with_http_transport`).
pub fn transport(outbound: &OutboundClient) -> HttpTransporter {
    HttpTransporter::new(GuardedTransport {
        outbound: outbound.clone(),
        inner: ReqwestTransport::new(outbound.http().clone()),
    })
}

/// An operator whose every HTTP request goes through the guard.
pub fn operator(op: opendal::Operator, outbound: &OutboundClient) -> opendal::Operator {
    op.with_context(opendal::OperationContext::new().with_http_transport(transport(outbound)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_slashes_are_encoded_and_nothing_else_changes() {
        let uri: http::Uri = "http://h:9/b?list-type=2&prefix=a/.sets/x%20y/".parse().unwrap();
        let fixed = super::slashes_encoded(&uri).unwrap();
        assert_eq!(fixed.to_string(), "http://h:9/b?list-type=2&prefix=a%2F.sets%2Fx%20y%2F");
        let plain: http::Uri = "http://h/b/k/e/y?uploadId=1".parse().unwrap();
        assert!(super::slashes_encoded(&plain).is_none(), "the path keeps its slashes");
    }
}
