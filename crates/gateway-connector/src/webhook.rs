//! Outbound webhooks, the HTTP half: the signature, the endpoint URL's rules and the signed
//! POST through the outbound guard. What to send and when (the outbox, retries) is
//! `gateway-service`'s.
//!
//! A delivery is `POST <url>` with a JSON body and these headers:
//! - `Gateway-Event-Id`: the event's id (the same on every retry: deduplicate on it);
//! - `Gateway-Signature: t=<unix seconds>,v1=<hex>`: HMAC-SHA256 with the endpoint's secret
//!   over `<t>.<body>`. Receivers recompute it, compare in constant time, and refuse a `t` too
//!   far from their clock (replays).

use std::time::Duration;

use reqwest::Url;

use crate::outbound::{self, OutboundClient, OutboundSettings};
use crate::{ConnectorError, ErrorKind};

/// How long a delivery attempt may take, at most.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The signature header's value for `body` sent at `t` (Unix seconds).
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = aws_lc_rs::hmac::Context::with_key(&key);
    ctx.update(t.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// The guarded client deliveries go through: the guard's rules (`allow_private` is the
/// operator's), the delivery timeout, a 64 KiB answer cap, and no redirects (a POST
/// redirected would be re-sent elsewhere or turned into a GET: a 3xx is a failure).
pub fn client(allow_private: bool) -> Result<OutboundClient, ConnectorError> {
    OutboundClient::new(OutboundSettings {
        allow_private,
        total_timeout: DELIVERY_TIMEOUT,
        max_response_bytes: 64 * 1024,
        follow_redirects: false,
        ..Default::default()
    })
}

/// Checks an endpoint URL before it is stored: http(s), no user or password; https and a
/// public host unless `client` allows private targets. A name that resolves inside is
/// refused; one that does not resolve now is answered as a warning. `Err` says why, to be
/// shown after "the webhook url".
pub async fn check_url(client: &OutboundClient, raw: &str) -> Result<Vec<String>, String> {
    let url = Url::parse(raw).map_err(|_| "is not a URL (e.g. https://hooks.example.com/gateway)".to_owned())?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password (the signature authenticates the gateway)".into());
    }
    let Some(host) = url.host_str() else { return Err("must name a host".into()) };
    // The scheme and, for an address, the address: the guard's own rule.
    client.check(&url).map_err(|e| format!("is refused: {}", e.message))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if client.settings().allow_private || bare.parse::<std::net::IpAddr>().is_ok() {
        return Ok(Vec::new());
    }
    outbound::check_public_name(bare).map_err(|why| format!("is refused: {why}"))?;
    match outbound::resolve_public(host, url.port_or_known_default().unwrap_or(443)).await {
        Ok(_) => Ok(Vec::new()),
        Err(outbound::GuardError::Refused(why)) => Err(format!("is refused: {why}")),
        Err(outbound::GuardError::Unresolvable(why)) => {
            Ok(vec![format!("{why}: deliveries will be retried until it does")])
        }
    }
}

/// What one POST came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// The endpoint answered 2xx.
    pub delivered: bool,
    /// Its HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// What happened, for a person (a status, or why there was none; never a header or body).
    pub message: String,
    /// The guard refused the target: retrying cannot help.
    pub refused: bool,
}

/// POSTs `body`, signed with `secret` now, to `url` through `client`. The answer's body is
/// never read.
pub async fn post(client: &OutboundClient, url: &str, event_id: &str, secret: &str, body: Vec<u8>) -> Posted {
    let failed =
        |message: &str| Posted { delivered: false, status_code: None, message: message.into(), refused: false };
    let Ok(url) = Url::parse(url) else { return failed("the stored url is not a URL") };
    let t = gateway_domain::now_seconds();
    let request = client
        .request(reqwest::Method::POST, url)
        .header("content-type", "application/json")
        .header("user-agent", concat!("connections-gateway/", env!("CARGO_PKG_VERSION")))
        .header("gateway-event-id", event_id)
        .header("gateway-signature", signature(secret, t, &body))
        .body(body)
        .build();
    let Ok(request) = request else { return failed("the request could not be built") };
    match client.send(request).await {
        Ok(resp) => Posted {
            delivered: resp.status().is_success(),
            status_code: Some(resp.status().as_u16()),
            message: format!("answered {}", resp.status()),
            refused: false,
        },
        Err(e) => Posted {
            delivered: false,
            status_code: None,
            message: if e.kind == ErrorKind::Timeout { "no answer in time".into() } else { e.message.clone() },
            refused: e.kind == ErrorKind::WrongSpecification
                || std::error::Error::source(&e).and_then(outbound::guard_error).is_some(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Python: hmac.new(b"whsec_test", b"1700000000.{}", hashlib.sha256).hexdigest()
        let sig = signature("whsec_test", 1_700_000_000, b"{}");
        assert_eq!(sig, "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91");
    }
}
