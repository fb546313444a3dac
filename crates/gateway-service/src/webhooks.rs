//! Webhooks: endpoints an organization registers, the signed POST each status change sends
//! them (from the durable outbox, see `gateway_store::webhooks`), and the audit trail's page.
//!
//! A delivery is `POST <url>` with the [`Event`] as JSON and these headers:
//! - `Gateway-Event-Id`: the event's id (the same on every retry: deduplicate on it);
//! - `Gateway-Signature: t=<unix seconds>,v1=<hex>`: HMAC-SHA256 with the endpoint's secret
//!   over `<t>.<body>`. Receivers recompute it, compare in constant time, and refuse a `t` too
//!   far from their clock (replays).
//!
//! A 2xx answer delivers it; anything else (or no answer within the timeout) is retried with
//! exponential backoff, up to [`MAX_ATTEMPTS`] attempts.

use std::time::Duration;

use gateway_connector::{ErrorKind, outbound};
use gateway_domain::{
    Actor, AuditPage, ErrorName, Event, EventName, OrganizationId, Paging, Problem, Webhook, WebhookId, WebhookPut,
    WebhookView, now_seconds, random_id,
};
use gateway_store::{Attempt, Delivery};
use serde_json::Value;

use crate::Gateway;

/// Attempts before a delivery is given up (about 32 hours of backoff).
pub const MAX_ATTEMPTS: i32 = 15;

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

/// Seconds to wait after `attempts` failed attempts: 30 s doubling, at most 6 h.
pub fn backoff_secs(attempts: i32) -> i64 {
    let exp = attempts.clamp(0, 20) as u32;
    (30i64 << exp.min(10)).min(6 * 3600)
}

pub(crate) fn webhook_not_found(id: &WebhookId) -> Problem {
    Problem::new(ErrorName::WebhookNotFound, format!("no webhook '{id}' in this organization")).with("id", id.as_str())
}

/// What one POST to an endpoint came to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryReport {
    /// The event sent.
    pub event_id: String,
    /// The endpoint answered 2xx.
    pub delivered: bool,
    /// Its HTTP status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// What happened, for a person.
    pub message: String,
    /// The outbound guard refused the target: retrying cannot help.
    #[serde(skip)]
    pub refused: bool,
}

impl Gateway {
    /// Checks an endpoint URL: http(s), no user or password, at most 2,048 characters; https
    /// and a public host unless private targets are allowed (the operator's
    /// `GATEWAY_OUTBOUND_ALLOW_PRIVATE`). A name that resolves inside is refused; one that does
    /// not resolve now is a warning.
    async fn check_webhook_url(&self, raw: &str) -> Result<Vec<String>, Problem> {
        let bad = |why: &str| Problem::wrong_field("url", format!("the webhook url {why}"));
        let url = url::Url::parse(raw).map_err(|_| bad("is not a URL (e.g. https://hooks.example.com/gateway)"))?;
        let allow_private = self.settings().outbound_allow_private;
        match url.scheme() {
            "https" => {}
            "http" if allow_private => {}
            _ => return Err(bad("must use https://")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not carry a user name or password (the signature authenticates the gateway)"));
        }
        let Some(host) = url.host_str() else { return Err(bad("must name a host")) };
        if allow_private {
            return Ok(Vec::new());
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
            if outbound::is_forbidden_ip(ip) {
                return Err(bad(&format!("names {host}, a private, loopback or link-local address")));
            }
            return Ok(Vec::new());
        }
        let lower = bare.trim_end_matches('.').to_ascii_lowercase();
        if !lower.contains('.') || lower == "localhost" || lower.ends_with(".localhost") || lower.ends_with(".internal")
        {
            return Err(bad(&format!("names {host}, which is not a public host name")));
        }
        match outbound::resolve_public(host, url.port_or_known_default().unwrap_or(443)).await {
            Ok(_) => Ok(Vec::new()),
            Err(outbound::GuardError::Refused(why)) => Err(bad(&format!("is refused: {why}"))),
            Err(outbound::GuardError::Unresolvable(why)) => {
                Ok(vec![format!("{why}: deliveries will be retried until it does")])
            }
        }
    }

    /// The organization's webhook endpoints.
    pub async fn list_webhooks(&self, org: &OrganizationId) -> Result<Vec<Webhook>, Problem> {
        let o = org.clone();
        self.db(move |s| s.list_webhooks(&o)).await
    }

    /// One endpoint (never its secret).
    pub async fn get_webhook(&self, org: &OrganizationId, id: &WebhookId) -> Result<Webhook, Problem> {
        let (o, i) = (org.clone(), id.clone());
        self.db(move |s| s.get_webhook(&o, &i)).await?.ok_or_else(|| webhook_not_found(id))
    }

    /// Creates or replaces an endpoint. The answer holds the signing secret when the endpoint
    /// was created or `rotate_secret` was asked: the only time it is shown.
    pub async fn put_webhook(
        &self,
        org: &OrganizationId,
        actor: &Actor,
        id: &WebhookId,
        body: Value,
    ) -> Result<WebhookView, Problem> {
        let put = WebhookPut::from_json(body, id)?;
        let warnings = self.check_webhook_url(&put.url).await?;
        let (o, i, a) = (org.clone(), id.clone(), actor.clone());
        let (webhook, secret) = self.db(move |s| s.put_webhook(&o, &i, &put, &a)).await?;
        tracing::info!(webhook = %id, "webhook stored");
        Ok(WebhookView { webhook, secret, warnings })
    }

    /// Deletes an endpoint; its pending deliveries go with it.
    pub async fn delete_webhook(&self, org: &OrganizationId, actor: &Actor, id: &WebhookId) -> Result<(), Problem> {
        let (o, i, a) = (org.clone(), id.clone(), actor.clone());
        if self.db(move |s| s.delete_webhook(&o, &i, &a)).await? { Ok(()) } else { Err(webhook_not_found(id)) }
    }

    /// Sends a `ping` event to the endpoint now (not through the outbox) and reports what it
    /// answered; a failure is WRONG_DATA_TYPE with the status code or the cause in `error_data`.
    pub async fn test_webhook(&self, org: &OrganizationId, id: &WebhookId) -> Result<DeliveryReport, Problem> {
        let (o, i) = (org.clone(), id.clone());
        let (webhook, secret) =
            self.db(move |s| s.webhook_with_secret(&o, &i)).await?.ok_or_else(|| webhook_not_found(id))?;
        let event = Event {
            id: random_id(),
            event: EventName::Ping,
            connection: None,
            table: None,
            old_status: None,
            new_status: None,
            at: now_seconds(),
        };
        let body = serde_json::to_vec(&event).unwrap_or_default();
        let report = self.post_event(&webhook, &secret, &event.id, body).await;
        if report.delivered {
            return Ok(report);
        }
        let mut p = Problem::wrong_field("url", format!("the endpoint did not accept the ping: {}", report.message))
            .with("event_id", report.event_id.clone());
        if let Some(code) = report.status_code {
            p = p.with("status_code", code);
        }
        Err(p)
    }

    /// POSTs one signed event to an endpoint through the outbound guard.
    async fn post_event(&self, webhook: &Webhook, secret: &str, event_id: &str, body: Vec<u8>) -> DeliveryReport {
        let report = |delivered, status_code, message: String| DeliveryReport {
            event_id: event_id.to_owned(),
            delivered,
            status_code,
            message,
            refused: false,
        };
        let client = &self.inner.webhook_client;
        let url = match reqwest::Url::parse(&webhook.url) {
            Ok(u) => u,
            Err(_) => return report(false, None, "the stored url is not a URL".into()),
        };
        let started = std::time::Instant::now();
        let request = client
            .request(reqwest::Method::POST, url)
            .header("content-type", "application/json")
            .header("user-agent", concat!("connections-gateway/", env!("CARGO_PKG_VERSION")))
            .header("gateway-event-id", event_id)
            .header("gateway-signature", signature(secret, now_seconds(), &body))
            .body(body)
            .build();
        let result = match request {
            Ok(r) => client.send(r).await,
            Err(_) => return report(false, None, "the request could not be built".into()),
        };
        let out = match result {
            Ok(resp) if resp.status().is_success() => {
                report(true, Some(resp.status().as_u16()), format!("answered {}", resp.status()))
            }
            Ok(resp) => report(false, Some(resp.status().as_u16()), format!("answered {}", resp.status())),
            Err(e) => {
                let why = match e.kind {
                    ErrorKind::Timeout => "no answer in time".to_owned(),
                    _ => e.message.clone(),
                };
                let mut r = report(false, None, why);
                r.refused = std::error::Error::source(&e).and_then(outbound::guard_error).is_some()
                    || e.kind == ErrorKind::WrongSpecification;
                r
            }
        };
        self.metrics().webhook_delivery(out.delivered, started.elapsed());
        out
    }

    /// Delivers one claimed outbox row and records the attempt.
    pub(crate) async fn deliver(&self, owner: &str, delivery: Delivery) -> Result<bool, Problem> {
        let (o, i) = (delivery.organization.clone(), delivery.webhook_id.clone());
        let found = self.db(move |s| s.webhook_with_secret(&o, &i)).await?;
        let attempt = match found {
            None => Attempt::GiveUp { error: "the endpoint was deleted".into() },
            Some((webhook, secret)) => {
                let report =
                    self.post_event(&webhook, &secret, &delivery.event_id, delivery.payload.clone().into_bytes()).await;
                if report.delivered {
                    Attempt::Delivered
                } else if report.refused || delivery.attempts + 1 >= MAX_ATTEMPTS {
                    tracing::warn!(webhook = %webhook.id, event = %delivery.event_id, "webhook delivery given up");
                    Attempt::GiveUp { error: report.message }
                } else {
                    Attempt::Retry { at: now_seconds() + backoff_secs(delivery.attempts), error: report.message }
                }
            }
        };
        let delivered = attempt == Attempt::Delivered;
        let owner = owner.to_owned();
        self.db(move |s| s.record_delivery(&owner, &delivery, &attempt)).await?;
        Ok(delivered)
    }

    /// One page of the organization's audit trail, newest first.
    pub async fn audit(&self, org: &OrganizationId, paging: Paging) -> Result<AuditPage, Problem> {
        let o = org.clone();
        let (entries, has_next) = self.db(move |s| s.audit_page(&o, paging)).await?;
        Ok(AuditPage { has_next, next_page: paging.page() + 1, entries })
    }
}

/// How long a delivery attempt may take, at most.
pub(crate) const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Python: hmac.new(b"whsec_test", b"1700000000.{}", hashlib.sha256).hexdigest()
        let sig = signature("whsec_test", 1_700_000_000, b"{}");
        assert_eq!(sig, "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91");
    }

    #[test]
    fn backoff_doubles_then_caps() {
        assert_eq!(backoff_secs(0), 30);
        assert_eq!(backoff_secs(1), 60);
        assert_eq!(backoff_secs(5), 960);
        assert_eq!(backoff_secs(14), 6 * 3600);
    }
}
